/*
 * check_win32.c - what the Windows port does differently: stack overflow
 * caught through the vectored exception handler (the POSIX suite,
 * check_overflow.c, forks a child per case; Windows cannot fork, so the
 * cases that must crash run in a child process started with
 * CreateProcess), the Win64 callee-saved registers across a switch, and
 * the thread block's stack bounds following the running coroutine.
 *
 * SPDX-License-Identifier: MIT
 */
#include "coco.h"
#include "testutil.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#define WIN32_LEAN_AND_MEAN
#include <windows.h>

/* Recurses until the stack runs out; the work after the call keeps the
 * compiler from turning the recursion into a loop. */
static volatile int depth_limit = 1 << 30;
static int __attribute__((noinline)) dive(int depth)
{
    volatile char frame[512];
    frame[0] = (char)depth;
    if (depth >= depth_limit)
        return frame[0];
    return dive(depth + 1) + frame[0];
}

static void overflows(void *arg)
{
    (void)arg;
    dive(0);
}

static int finished;
static void finishes(void *arg)
{
    (void)arg;
    for (int i = 0; i < 3; i++)
        coco_yield();
    finished++;
}

static int cb_calls;
static int cb_code;
static char cb_msg[160];
static coco_coro_t *cb_coro;
static void on_error(coco_coro_t *coro, int code, const char *msg)
{
    cb_calls++;
    cb_code = code;
    cb_coro = coro;
    snprintf(cb_msg, sizeof cb_msg, "%s", msg);
}

/* ------------------------------------------------------------ overflow */

START_TEST(test_overflow_reported_others_finish)
{
    coco_sched_t *s = coco_sched_create();
    finished = cb_calls = 0;
    coco_create(s, finishes, NULL, 0);
    coco_coro_t *bad = coco_create(s, overflows, NULL, 0);
    coco_set_error_cb(bad, on_error);
    coco_create(s, finishes, NULL, 0);
    ck_assert_int_eq(coco_sched_run(s), COCO_OK);
    ck_assert_int_eq(finished, 2);
    ck_assert_int_eq(cb_calls, 1);
    ck_assert_int_eq(cb_code, COCO_ERROR_STACK_OVERFLOW);
    ck_assert_ptr_eq(cb_coro, bad);
    ck_assert_int_eq(coco_get_state(bad), COCO_STATE_OVERFLOW);
    char id[32];
    snprintf(id, sizeof id, "coroutine %" PRIu64 " ", coco_get_id(bad));
    ck_assert_msg(strstr(cb_msg, id) != NULL, "message '%s' lacks '%s'", cb_msg, id);
    ck_assert_uint_eq(coco_sched_count(s), 0);
    coco_destroy(bad);
    coco_sched_destroy(s);
}
END_TEST

START_TEST(test_overflow_repeated_sizes)
{
    /* Each overflow is caught: the stacks that lost their guard page are
     * not handed out again, and the others are. */
    coco_sched_t *s = coco_sched_create();
    static const size_t sizes[] = { 0, 16 * 1024, 0, 256 * 1024, 0 };
    cb_calls = 0;
    finished = 0;
    for (int i = 0; i < 5; i++) {
        coco_coro_t *bad = coco_create(s, overflows, NULL, sizes[i]);
        coco_set_error_cb(bad, on_error);
        coco_create(s, finishes, NULL, sizes[i]);
        ck_assert_int_eq(coco_sched_run(s), COCO_OK);
        ck_assert_int_eq(cb_calls, i + 1);
        ck_assert_int_eq(finished, i + 1);
        ck_assert_int_eq(coco_get_state(bad), COCO_STATE_OVERFLOW);
        coco_destroy(bad);
    }
    coco_sched_destroy(s);
}
END_TEST

static coco_coro_t *bad_target;
static void *join_result;
static int joined;
static void joins_bad(void *arg)
{
    (void)arg;
    join_result = coco_join(bad_target);
    joined = 1;
}

START_TEST(test_overflow_wakes_joiner)
{
    coco_sched_t *s = coco_sched_create();
    join_result = &joined;
    joined = 0;
    coco_create(s, joins_bad, NULL, 0);
    bad_target = coco_create(s, overflows, NULL, 0);
    coco_set_error_cb(bad_target, on_error);
    ck_assert_int_eq(coco_sched_run(s), COCO_OK);
    ck_assert_int_eq(joined, 1);
    ck_assert_ptr_null(join_result);
    coco_sched_destroy(s);
}
END_TEST

static void destroy_in_cb(coco_coro_t *coro, int code, const char *msg)
{
    (void)code;
    (void)msg;
    cb_calls++;
    coco_destroy(coro);
}

START_TEST(test_overflow_detached_and_destroyed_in_callback)
{
    coco_sched_t *s = coco_sched_create();
    cb_calls = 0;
    coco_coro_t *a = coco_create(s, overflows, NULL, 0);
    coco_set_error_cb(a, on_error);
    coco_detach(a);
    coco_coro_t *b = coco_create(s, overflows, NULL, 0);
    coco_set_error_cb(b, destroy_in_cb);
    ck_assert_int_eq(coco_sched_run(s), COCO_OK);
    ck_assert_int_eq(cb_calls, 2);
    ck_assert_uint_eq(coco_get_id(a), 0);
    ck_assert_uint_eq(coco_get_id(b), 0);
    coco_sched_destroy(s);
}
END_TEST

/* A frame larger than a page makes the compiler probe it page by page
 * (___chkstk_ms); most of the stack is usable without a false alarm. */
static int big_frame_sum;
static void uses_big_frame(void *arg)
{
    size_t n = (size_t)(uintptr_t)arg;
    volatile char buf[40 * 1024];
    for (size_t i = 0; i < n; i += 512)
        buf[i] = (char)(i >> 9);
    int sum = 0;
    for (size_t i = 0; i < n; i += 512)
        sum += buf[i];
    big_frame_sum = sum;
}

START_TEST(test_deep_but_legal_stack)
{
    coco_sched_t *s = coco_sched_create();
    cb_calls = 0;
    big_frame_sum = -1;
    coco_coro_t *c = coco_create(s, uses_big_frame, (void *)(uintptr_t)(40 * 1024), 0);
    coco_set_error_cb(c, on_error);
    ck_assert_int_eq(coco_sched_run(s), COCO_OK);
    ck_assert_int_eq(cb_calls, 0);
    ck_assert_int_eq(coco_get_state(c), COCO_STATE_DEAD);
    ck_assert_int_eq(big_frame_sum, 79 * 80 / 2);
    /* The same 40 KiB frame does not fit a 16 KiB stack. */
    c = coco_create(s, uses_big_frame, (void *)(uintptr_t)(40 * 1024), 16 * 1024);
    coco_set_error_cb(c, on_error);
    ck_assert_int_eq(coco_sched_run(s), COCO_OK);
    ck_assert_int_eq(cb_calls, 1);
    ck_assert_int_eq(coco_get_state(c), COCO_STATE_OVERFLOW);
    coco_sched_destroy(s);
}
END_TEST

/* --------------------------------------------- faults in a child process */

static void writes_null(void *arg)
{
    *(volatile int *)(uintptr_t)arg = 1;
}

static void null_deref_in_coroutine(void)
{
    /* Die at once, without the crash dialog or the just-in-time debugger. */
    SetErrorMode(SEM_FAILCRITICALERRORS | SEM_NOGPFAULTERRORBOX);
    coco_sched_t *s = coco_sched_create();
    coco_create(s, writes_null, NULL, 0);
    coco_sched_run(s);
}

static LONG WINAPI app_filter(EXCEPTION_POINTERS *ep)
{
    ExitProcess(ep->ExceptionRecord->ExceptionCode == EXCEPTION_ACCESS_VIOLATION ? 42 : 43);
}

static void null_deref_with_app_filter(void)
{
    SetUnhandledExceptionFilter(app_filter);
    null_deref_in_coroutine();
}

static void overflow_with_default_report(void)
{
    /* No callback: the report goes to stderr and the process lives on. */
    freopen("NUL", "w", stderr);
    finished = 0;
    coco_sched_t *s = coco_sched_create();
    coco_create(s, overflows, NULL, 0);
    coco_create(s, finishes, NULL, 0);
    int rc = coco_sched_run(s);
    coco_sched_destroy(s);
    ExitProcess(rc == COCO_OK && finished == 1 ? 7 : 1);
}

static const struct child {
    const char *name;
    void (*body)(void);
} children[] = {
    { "crash", null_deref_in_coroutine },
    { "filter", null_deref_with_app_filter },
    { "report", overflow_with_default_report },
};

/* Runs this program again as "--child NAME"; returns its exit code. */
static DWORD in_child(const char *name)
{
    char exe[MAX_PATH], cmd[MAX_PATH + 64];
    ck_assert_uint_gt(GetModuleFileNameA(NULL, exe, sizeof exe), 0);
    snprintf(cmd, sizeof cmd, "\"%s\" --child %s", exe, name);
    STARTUPINFOA si;
    PROCESS_INFORMATION pi;
    memset(&si, 0, sizeof si);
    si.cb = sizeof si;
    fflush(NULL);
    ck_assert_msg(CreateProcessA(exe, cmd, NULL, NULL, FALSE, 0, NULL, NULL, &si, &pi),
                  "CreateProcess failed: %lu", (unsigned long)GetLastError());
    WaitForSingleObject(pi.hProcess, INFINITE);
    DWORD code = 0;
    GetExitCodeProcess(pi.hProcess, &code);
    CloseHandle(pi.hProcess);
    CloseHandle(pi.hThread);
    return code;
}

START_TEST(test_real_crash_still_crashes)
{
    DWORD code = in_child("crash");
    ck_assert_msg(code == (DWORD)EXCEPTION_ACCESS_VIOLATION,
                  "child exit code 0x%lx: expected an access violation", (unsigned long)code);
}
END_TEST

START_TEST(test_application_filter_sees_other_faults)
{
    ck_assert_uint_eq(in_child("filter"), 42);
}
END_TEST

START_TEST(test_overflow_default_report)
{
    ck_assert_uint_eq(in_child("report"), 7);
}
END_TEST

/* ------------------------------------------ registers and thread block */

/* Loads xmm6-xmm15, rsi and rdi (callee-saved in the Win64 ABI) from
 * v[0..11], yields, and stores what they hold afterwards in v[12..23].
 * The call is made from assembly so the compiler cannot save and restore
 * the registers around it itself: only the context switch can. */
static void set_yield_get(uint64_t *v)
{
    __asm__ volatile(
        "movq 0(%%rbx), %%xmm6\n\t"   "movq 8(%%rbx), %%xmm7\n\t"
        "movq 16(%%rbx), %%xmm8\n\t"  "movq 24(%%rbx), %%xmm9\n\t"
        "movq 32(%%rbx), %%xmm10\n\t" "movq 40(%%rbx), %%xmm11\n\t"
        "movq 48(%%rbx), %%xmm12\n\t" "movq 56(%%rbx), %%xmm13\n\t"
        "movq 64(%%rbx), %%xmm14\n\t" "movq 72(%%rbx), %%xmm15\n\t"
        "movq 80(%%rbx), %%rsi\n\t"   "movq 88(%%rbx), %%rdi\n\t"
        /* A Win64 call: 16-byte aligned, 32 bytes of shadow space. */
        "movq %%rsp, %%r15\n\t"
        "andq $-16, %%rsp\n\t"
        "subq $32, %%rsp\n\t"
        "call coco_yield\n\t"
        "movq %%r15, %%rsp\n\t"
        "movq %%xmm6, 96(%%rbx)\n\t"  "movq %%xmm7, 104(%%rbx)\n\t"
        "movq %%xmm8, 112(%%rbx)\n\t" "movq %%xmm9, 120(%%rbx)\n\t"
        "movq %%xmm10, 128(%%rbx)\n\t" "movq %%xmm11, 136(%%rbx)\n\t"
        "movq %%xmm12, 144(%%rbx)\n\t" "movq %%xmm13, 152(%%rbx)\n\t"
        "movq %%xmm14, 160(%%rbx)\n\t" "movq %%xmm15, 168(%%rbx)\n\t"
        "movq %%rsi, 176(%%rbx)\n\t"  "movq %%rdi, 184(%%rbx)\n\t"
        :
        : "b"(v)
        : "rax", "rcx", "rdx", "rsi", "rdi", "r8", "r9", "r10", "r11", "r15",
          "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7",
          "xmm8", "xmm9", "xmm10", "xmm11", "xmm12", "xmm13", "xmm14",
          "xmm15", "memory", "cc");
}

static int regs_ok[2];
static void keeps_registers(void *arg)
{
    uint64_t seed = (uint64_t)(uintptr_t)arg;
    uint64_t v[24];
    for (int i = 0; i < 12; i++)
        v[i] = seed * (uint64_t)(i + 1);
    memset(v + 12, 0, 12 * sizeof *v);
    set_yield_get(v);
    regs_ok[seed == 0x0101010101010101ull ? 0 : 1] = memcmp(v, v + 12, 12 * sizeof *v) == 0;
}

START_TEST(test_callee_saved_registers)
{
    coco_sched_t *s = coco_sched_create();
    regs_ok[0] = regs_ok[1] = 0;
    coco_create(s, keeps_registers, (void *)(uintptr_t)0x0101010101010101ull, 0);
    coco_create(s, keeps_registers, (void *)(uintptr_t)0x7e5a3c1f2d4b6987ull, 0);
    ck_assert_int_eq(coco_sched_run(s), COCO_OK);
    ck_assert_msg(regs_ok[0], "first coroutine lost xmm6-15/rsi/rdi across a yield");
    ck_assert_msg(regs_ok[1], "second coroutine lost xmm6-15/rsi/rdi across a yield");
    coco_sched_destroy(s);
}
END_TEST

/* Each coroutine keeps its own floating-point control state. */
static unsigned csr_seen[2];
static void sets_rounding(void *arg)
{
    (void)arg;
    unsigned csr;
    __asm__ volatile("stmxcsr %0" : "=m"(csr));
    csr = (csr & ~0x6000u) | 0x6000u; /* round toward zero */
    __asm__ volatile("ldmxcsr %0" : : "m"(csr));
    coco_yield();
    __asm__ volatile("stmxcsr %0" : "=m"(csr_seen[0]));
}

static void reads_rounding(void *arg)
{
    (void)arg;
    __asm__ volatile("stmxcsr %0" : "=m"(csr_seen[1]));
}

START_TEST(test_mxcsr_per_coroutine)
{
    coco_sched_t *s = coco_sched_create();
    coco_create(s, sets_rounding, NULL, 0);
    coco_create(s, reads_rounding, NULL, 0);
    ck_assert_int_eq(coco_sched_run(s), COCO_OK);
    ck_assert_uint_eq(csr_seen[0] & 0x6000u, 0x6000u);
    ck_assert_uint_eq(csr_seen[1] & 0x6000u, 0);
    coco_sched_destroy(s);
}
END_TEST

/* The thread block's stack bounds describe the running coroutine's stack
 * while it runs, and the thread's own stack again afterwards. */
static uintptr_t tib_base, tib_limit, tib_local;

/* The thread block, through its self pointer (what NtCurrentTeb() reads). */
static NT_TIB *tib_now(void)
{
    NT_TIB *tib;
    __asm__ volatile("movq %%gs:0x30, %0" : "=r"(tib));
    return tib;
}

static void reads_tib(void *arg)
{
    (void)arg;
    volatile char here = 0;
    NT_TIB *tib = tib_now();
    tib_base = (uintptr_t)tib->StackBase;
    tib_limit = (uintptr_t)tib->StackLimit;
    tib_local = (uintptr_t)&here;
}

START_TEST(test_thread_block_follows_stack)
{
    NT_TIB *tib = tib_now();
    void *base = tib->StackBase, *limit = tib->StackLimit;
    coco_sched_t *s = coco_sched_create();
    coco_create(s, reads_tib, NULL, 0);
    ck_assert_int_eq(coco_sched_run(s), COCO_OK);
    ck_assert_uint_ne(tib_base, (uintptr_t)base);
    ck_assert_msg(tib_local < tib_base && tib_local >= tib_limit,
                  "local %#jx outside [%#jx, %#jx)", (uintmax_t)tib_local,
                  (uintmax_t)tib_limit, (uintmax_t)tib_base);
    ck_assert_uint_ge(tib_base - tib_limit, COCO_DEFAULT_STACK_SIZE);
    ck_assert_ptr_eq(tib->StackBase, base);
    ck_assert_ptr_eq(tib->StackLimit, limit);
    coco_sched_destroy(s);
}
END_TEST

/* coco_create_attr: private stacks work, shared ones are refused (a Win64
 * frame holds the bounds of its own stack, so it cannot be moved). */
static int attr_runs;

static void attr_body(void *arg)
{
    (void)arg;
    attr_runs++;
}

START_TEST(test_create_attr)
{
    coco_sched_t *s = coco_sched_create();
    ck_assert_ptr_nonnull(s);
    coco_attr_t a;
    ck_assert_int_eq(coco_attr_init(NULL), COCO_ERROR_INVALID);
    ck_assert_int_eq(coco_attr_init(&a), COCO_OK);
    a.stack_size = 32 * 1024;
    ck_assert_ptr_nonnull(coco_create_attr(s, attr_body, NULL, &a));
    ck_assert_ptr_nonnull(coco_create_attr(s, attr_body, NULL, NULL));
    a.flags = COCO_ATTR_SHARED_STACK;
    errno = 0;
    ck_assert_ptr_null(coco_create_attr(s, attr_body, NULL, &a));
    ck_assert_int_eq(errno, ENOTSUP);
    a.flags = 0x80;
    errno = 0;
    ck_assert_ptr_null(coco_create_attr(s, attr_body, NULL, &a));
    ck_assert_int_eq(errno, EINVAL);
    ck_assert_int_eq(coco_sched_run(s), COCO_OK);
    ck_assert_int_eq(attr_runs, 2);
    coco_sched_destroy(s);
}
END_TEST

/* coco_sched_dump() writes through the C runtime's descriptors here. */
static coco_channel_t *dump_ch;
static void dump_recv(void *arg)
{
    void *v;
    (void)arg;
    coco_channel_recv(dump_ch, &v);
}

START_TEST(test_sched_dump)
{
    coco_sched_t *s = coco_sched_create();
    dump_ch = coco_channel_create(0);
    coco_coro_t *c = coco_create(s, dump_recv, NULL, 0);
    ck_assert_int_eq(coco_sched_run(s), COCO_ERROR_DEADLOCK);
    FILE *f = tmpfile();
    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq(coco_sched_dump(s, _fileno(f)), COCO_OK);
    char text[1024], want[160];
    rewind(f);
    size_t n = fread(text, 1, sizeof text - 1, f);
    text[n] = '\0';
    fclose(f);
    snprintf(want, sizeof want, "coroutine %" PRIu64 " waiting: channel 0x%" PRIxPTR
             " recv (capacity 0, length 0); created at ", coco_get_id(c), (uintptr_t)dump_ch);
    ck_assert_msg(strstr(text, want) != NULL, "no \"%s\" in:\n%s", want, text);
    coco_stats_t st = { .size = sizeof st };
    ck_assert_int_eq(coco_sched_stats(s, &st), COCO_OK);
    ck_assert_uint_eq(st.parks_sync, 1);
    ck_assert_uint_eq(st.waiting, 1);
    coco_sched_destroy(s);
    coco_channel_destroy(dump_ch);
}
END_TEST

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "--child") == 0) {
        for (size_t i = 0; i < sizeof children / sizeof children[0]; i++) {
            if (strcmp(argv[2], children[i].name) == 0) {
                children[i].body();
                return 0;
            }
        }
        return 2;
    }

    Suite *su = suite_create("win32");
    TCase *tc = tcase_create("overflow");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_overflow_reported_others_finish);
    tcase_add_test(tc, test_overflow_repeated_sizes);
    tcase_add_test(tc, test_overflow_wakes_joiner);
    tcase_add_test(tc, test_overflow_detached_and_destroyed_in_callback);
    tcase_add_test(tc, test_deep_but_legal_stack);
    tcase_add_test(tc, test_overflow_default_report);
    suite_add_tcase(su, tc);

    tc = tcase_create("other_faults");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_real_crash_still_crashes);
    tcase_add_test(tc, test_application_filter_sees_other_faults);
    suite_add_tcase(su, tc);

    tc = tcase_create("switch");
    tcase_add_test(tc, test_callee_saved_registers);
    tcase_add_test(tc, test_mxcsr_per_coroutine);
    tcase_add_test(tc, test_thread_block_follows_stack);
    tcase_add_test(tc, test_create_attr);
    tcase_add_test(tc, test_sched_dump);
    suite_add_tcase(su, tc);
    return coco_test_run(su);
}
