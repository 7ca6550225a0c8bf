// channel_fiber.cpp - the Boost.Fiber side of bench_channel: unbuffered
// ping-pong and buffered producer->consumer on one thread with the default
// round-robin scheduler.  Boost.Fiber has no select, so that figure is not
// printed.  Prints "name median" lines.
//
// Usage: channel_fiber ROUNDS PINGPONG_N BUFFERED_N SELECT_N
//
// SPDX-License-Identifier: MIT
#include <boost/fiber/all.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <vector>

namespace fibers = boost::fibers;
using clk = std::chrono::steady_clock;

static double seconds_since(clk::time_point t0)
{
    return std::chrono::duration<double>(clk::now() - t0).count();
}

static double pingpong(long n)
{
    fibers::unbuffered_channel<long> ping, pong;
    auto t0 = clk::now();
    fibers::fiber a([&] {
        long v;
        for (long i = 0; i < n; i++) {
            ping.push(i);
            pong.pop(v);
        }
    });
    fibers::fiber b([&] {
        long v;
        for (long i = 0; i < n; i++) {
            ping.pop(v);
            pong.push(v);
        }
    });
    a.join();
    b.join();
    return seconds_since(t0) * 1e9 / (2.0 * n);
}

static double buffered(long n)
{
    fibers::buffered_channel<long> ch(1024);
    long count = 0;
    auto t0 = clk::now();
    fibers::fiber prod([&] {
        for (long i = 0; i < n; i++)
            ch.push(i);
        ch.close();
    });
    fibers::fiber cons([&] {
        long v;
        while (ch.pop(v) == fibers::channel_op_status::success)
            count++;
    });
    prod.join();
    cons.join();
    if (count != n) {
        std::fprintf(stderr, "lost messages\n");
        std::exit(1);
    }
    return n / seconds_since(t0);
}

static double median(std::vector<double> v)
{
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
}

int main(int argc, char **argv)
{
    int rounds = argc > 1 ? std::atoi(argv[1]) : 7;
    long pn = argc > 2 ? std::atol(argv[2]) : 1000000;
    long bn = argc > 3 ? std::atol(argv[3]) : 10000000;
    std::vector<double> pp, bf;
    for (int r = 0; r < rounds; r++) {
        pp.push_back(pingpong(pn));
        bf.push_back(buffered(bn));
    }
    std::printf("pingpong_ns %.2f\n", median(pp));
    std::printf("buffered_mps %.0f\n", median(bf));
    return 0;
}
