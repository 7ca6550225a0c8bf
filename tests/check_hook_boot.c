/*
 * check_hook_boot.c - libcoco-hook before it has found the C library's
 * functions.  The library's sources are built into this program, so that
 * the test can put it back in the state it starts in: no function found,
 * and (for the first case) a lookup under way on this thread, as when
 * dlsym() calls an allocator that writes to a descriptor.  Every hooked
 * call must then make the system call itself, with libc's results and
 * errno.
 */
#include "../lib/hook/boot.c"
#include "../lib/hook/io.c"
#include "../lib/hook/sig.c"
#include "../lib/hook/dns.c"

#include "testutil.h"

#include <poll.h>
#include <sys/socket.h>

static void forget_everything(int lookup_under_way)
{
    memset(&hook_real, 0, sizeof hook_real);
    __atomic_store_n(&boot_state, 0, __ATOMIC_RELEASE);
    booting = lookup_under_way;
}

START_TEST(test_calls_during_lookup)
{
    forget_everything(1);
    int p[2];
    ck_assert_int_eq(pipe(p), 0);
    errno = 777;
    ck_assert_int_eq(write(p[1], "ab", 2), 2);
    ck_assert_int_eq(errno, 777); /* untouched on success, as libc */
    char buf[4];
    ck_assert_int_eq(read(p[0], buf, sizeof buf), 2);
    ck_assert_int_eq(memcmp(buf, "ab", 2), 0);
    errno = 0;
    ck_assert_int_eq(read(-1, buf, 1), -1);
    ck_assert_int_eq(errno, EBADF);
    struct pollfd pf = { p[0], POLLIN, 0 };
    ck_assert_int_eq(poll(&pf, 1, 10), 0);
    struct timespec ts = { 0, 1000000L };
    ck_assert_int_eq(nanosleep(&ts, NULL), 0);
    ck_assert_int_eq(usleep(1000), 0);
    ck_assert_int_ge(fcntl(p[0], F_GETFL), 0);
    int s = socket(AF_UNIX, SOCK_STREAM, 0);
    ck_assert_int_ge(s, 0);
    /* What the kernel says to a connect without an address: EINVAL on
     * Linux, EFAULT under qemu-user, which copies the address first. */
    errno = 0;
    ck_assert_int_eq(syscall(SYS_connect, s, NULL, 0), -1);
    int kernel_says = errno;
    ck_assert(kernel_says == EINVAL || kernel_says == EFAULT);
    errno = 0;
    ck_assert_int_eq(connect(s, NULL, 0), -1);
    ck_assert_int_eq(errno, kernel_says);
    ck_assert_int_eq(close(s), 0);
    ck_assert_int_eq(close(p[0]), 0);
    errno = 0;
    ck_assert_int_eq(close(p[0]), -1);
    ck_assert_int_eq(errno, EBADF);
    ck_assert_int_eq(close(p[1]), 0);
    /* None of it looked the functions up again. */
    ck_assert_ptr_null((void *)hook_real.read);
    booting = 0;
}
END_TEST

START_TEST(test_call_before_constructor)
{
    /* A call that comes first (from another library's constructor) looks
     * the functions up itself and goes to the C library. */
    forget_everything(0);
    int p[2];
    ck_assert_int_eq(pipe(p), 0);
    ck_assert_ptr_nonnull((void *)hook_real.read);
    ck_assert_ptr_nonnull((void *)hook_real.getaddrinfo);
    /* libcoco's own code is known, so that its calls bypass the hook. */
    ck_assert(hook_from_coco((const void *)(uintptr_t)&coco_self));
    ck_assert(!hook_from_coco((const void *)(uintptr_t)&forget_everything));
    errno = 555;
    ck_assert_int_eq(write(p[1], "x", 1), 1);
    ck_assert_int_eq(errno, 555);
    close(p[0]);
    close(p[1]);
}
END_TEST

int main(void)
{
    Suite *su = suite_create("hook_boot");
    TCase *tc = tcase_create("boot");
    tcase_add_test(tc, test_calls_during_lookup);
    tcase_add_test(tc, test_call_before_constructor);
    suite_add_tcase(su, tc);
    return coco_test_run(su);
}
