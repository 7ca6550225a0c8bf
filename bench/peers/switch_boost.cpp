/*
 * switch_boost.cpp - the Boost.Context peer of bench/bench_switch.
 *
 * Measures, on one pinned CPU, the two things bench_switch compares Coco
 * with:
 *   - one one-way switch: detail::jump_fcontext() between two contexts made
 *     with make_fcontext(), the primitive every Boost.Context API sits on;
 *   - one fiber's whole life with the stack pool warm: construct a
 *     boost::context::fiber on a pooled_fixedsize_stack, resume it until it
 *     finishes, let it go.
 * It prints one "key value" line per figure (nanoseconds per operation,
 * the median of --rounds rounds) so that bench_switch can read them.
 *
 * Usage: switch_boost [--cpu N] [--rounds N] [--jumps N] [--fibers N]
 *
 * SPDX-License-Identifier: MIT
 */
#include <boost/context/detail/fcontext.hpp>
#include <boost/context/fiber.hpp>
#include <boost/context/pooled_fixedsize_stack.hpp>

#include <sched.h>
#include <time.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <utility>
#include <vector>

namespace bctx = boost::context;
namespace bdet = boost::context::detail;

namespace {

// The same stack size as a Coco coroutine gets by default.
const std::size_t stack_size = 64 * 1024;

double now_ns()
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return double(ts.tv_sec) * 1e9 + double(ts.tv_nsec);
}

// The other side of the ping-pong: jumps back to whoever jumped to it,
// forever.  The context is dropped with its stack when the bench is done.
void bouncer(bdet::transfer_t t)
{
    bdet::fcontext_t back = t.fctx;
    for (;;)
        back = bdet::jump_fcontext(back, nullptr).fctx;
}

// ns per one-way jump: each loop turn is two jumps, there and back.
double time_jumps(long turns)
{
    std::unique_ptr<char[]> stack(new char[stack_size]);
    bdet::fcontext_t other =
        bdet::make_fcontext(stack.get() + stack_size, stack_size, bouncer);
    for (long i = 0; i < 1000; i++)
        other = bdet::jump_fcontext(other, nullptr).fctx;
    double t0 = now_ns();
    for (long i = 0; i < turns; i++)
        other = bdet::jump_fcontext(other, nullptr).fctx;
    double t1 = now_ns();
    return (t1 - t0) / (2.0 * double(turns));
}

// ns per fiber created, resumed to its end and destroyed.
double time_fibers(bctx::pooled_fixedsize_stack &pool, long n)
{
    double t0 = now_ns();
    for (long i = 0; i < n; i++) {
        bctx::fiber f{std::allocator_arg, pool,
                      [](bctx::fiber &&caller) { return std::move(caller); }};
        f = std::move(f).resume();
        if (f)
            std::abort(); // the fiber must have finished
    }
    double t1 = now_ns();
    return (t1 - t0) / double(n);
}

double median(std::vector<double> v)
{
    std::sort(v.begin(), v.end());
    std::size_t n = v.size();
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2.0;
}

long arg_long(const char *s, const char *name)
{
    char *end;
    long v = std::strtol(s, &end, 10);
    if (*s == '\0' || *end != '\0' || v < 0) {
        std::fprintf(stderr, "switch_boost: bad value for %s: %s\n", name, s);
        std::exit(2);
    }
    return v;
}

} // namespace

int main(int argc, char **argv)
{
    long cpu = 0, rounds = 7, jumps = 2000000, fibers = 500000;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (i + 1 < argc && std::strcmp(a, "--cpu") == 0)
            cpu = arg_long(argv[++i], a);
        else if (i + 1 < argc && std::strcmp(a, "--rounds") == 0)
            rounds = arg_long(argv[++i], a);
        else if (i + 1 < argc && std::strcmp(a, "--jumps") == 0)
            jumps = arg_long(argv[++i], a);
        else if (i + 1 < argc && std::strcmp(a, "--fibers") == 0)
            fibers = arg_long(argv[++i], a);
        else {
            std::fprintf(stderr, "usage: switch_boost [--cpu N] [--rounds N]"
                                 " [--jumps N] [--fibers N]\n");
            return 2;
        }
    }
    if (rounds < 1 || jumps < 1 || fibers < 1) {
        std::fprintf(stderr, "switch_boost: counts must be positive\n");
        return 2;
    }

    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(int(cpu), &set);
    if (sched_setaffinity(0, sizeof set, &set) != 0)
        std::fprintf(stderr, "switch_boost: cannot pin to CPU %ld\n", cpu);

    bctx::pooled_fixedsize_stack pool(stack_size);
    // Warm up: fault the stacks in, fill the pool, train the predictors.
    time_jumps(jumps / 10 + 1);
    time_fibers(pool, fibers / 10 + 1);

    std::vector<double> j, f;
    for (long r = 0; r < rounds; r++) {
        j.push_back(time_jumps(jumps));
        f.push_back(time_fibers(pool, fibers));
    }
    std::printf("boost_version %d.%d.%d\n", BOOST_VERSION / 100000,
                BOOST_VERSION / 100 % 1000, BOOST_VERSION % 100);
    std::printf("jump_ns %.3f\n", median(j));
    std::printf("fiber_ns %.3f\n", median(f));
    return 0;
}
