// threads_go.go - the Go side of bench_threads: the same loads on two
// threads (GOMAXPROCS=2 unless said otherwise), run once each; prints
// "name value" lines.
//
// Usage: threads_go PINGPONG_N SKYNET_SIZE FAN_N FAN_WORKERS SCALE_DEPTH SCALE_WORK
//
//	pingpong_ns   ns per round trip between two goroutines (unbuffered)
//	skynet_ms     SKYNET_SIZE goroutines in a 10-ary tree, sums over channels
//	fanout_mps    messages per second, producer -> FAN_WORKERS -> collector
//	scale1_ms     a spawn-heavy CPU-bound tree of goroutines, GOMAXPROCS=1
//	scale2_ms     the same, GOMAXPROCS=2
//
// SPDX-License-Identifier: MIT
package main

import (
	"fmt"
	"os"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

func pingpong(n int) float64 {
	ping := make(chan int)
	pong := make(chan int)
	go func() {
		for i := 0; i < n; i++ {
			v := <-ping
			pong <- v
		}
	}()
	t0 := time.Now()
	for i := 0; i < n; i++ {
		ping <- i
		<-pong
	}
	return float64(time.Since(t0).Nanoseconds()) / float64(n)
}

// One node of the tree: the sum of the numbers num .. num+size-1, each
// leaf sending its own number and each inner node the sum of its ten
// children's answers.
func skynet(out chan<- int64, num int64, size int64) {
	if size == 1 {
		out <- num
		return
	}
	c := make(chan int64, 10)
	step := size / 10
	for i := int64(0); i < 10; i++ {
		go skynet(c, num+i*step, step)
	}
	var sum int64
	for i := 0; i < 10; i++ {
		sum += <-c
	}
	out <- sum
}

func runSkynet(size int64) float64 {
	out := make(chan int64, 1)
	t0 := time.Now()
	go skynet(out, 0, size)
	sum := <-out
	ms := float64(time.Since(t0).Nanoseconds()) / 1e6
	if sum != size*(size-1)/2 {
		panic("skynet: wrong sum")
	}
	return ms
}

func fanout(n int, workers int) float64 {
	jobs := make(chan int, 1024)
	results := make(chan int, 1024)
	t0 := time.Now()
	go func() {
		for i := 0; i < n; i++ {
			jobs <- i
		}
		close(jobs)
	}()
	for w := 0; w < workers; w++ {
		go func() {
			for v := range jobs {
				results <- v * 2
			}
		}()
	}
	var sum int64
	for i := 0; i < n; i++ {
		sum += int64(<-results)
	}
	secs := time.Since(t0).Seconds()
	if sum != int64(n)*int64(n-1) {
		panic("fanout: wrong sum")
	}
	return float64(n) / secs
}

// The CPU work of one task: work rounds of xorshift, so that the compiler
// keeps them.
func burn(seed uint64, work int) uint64 {
	x := seed | 1
	for i := 0; i < work; i++ {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
	}
	return x
}

var scaleSum uint64

func scaleNode(wg *sync.WaitGroup, depth int, id uint64, work int) {
	if depth > 0 {
		wg.Add(2)
		go scaleNode(wg, depth-1, 2*id, work)
		go scaleNode(wg, depth-1, 2*id+1, work)
	}
	atomic.AddUint64(&scaleSum, burn(id, work))
	wg.Done()
}

func scale(procs int, depth int, work int) float64 {
	runtime.GOMAXPROCS(procs)
	var wg sync.WaitGroup
	t0 := time.Now()
	wg.Add(1)
	go scaleNode(&wg, depth, 1, work)
	wg.Wait()
	return float64(time.Since(t0).Nanoseconds()) / 1e6
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: threads_go PINGPONG_N SKYNET_SIZE FAN_N FAN_WORKERS SCALE_DEPTH SCALE_WORK")
	os.Exit(2)
}

func arg(i int) int {
	v, err := strconv.Atoi(os.Args[i])
	if err != nil || v < 1 {
		usage()
	}
	return v
}

func main() {
	if len(os.Args) != 7 {
		usage()
	}
	runtime.GOMAXPROCS(2)
	fmt.Printf("pingpong_ns %.2f\n", pingpong(arg(1)))
	fmt.Printf("skynet_ms %.2f\n", runSkynet(int64(arg(2))))
	fmt.Printf("fanout_mps %.0f\n", fanout(arg(3), arg(4)))
	fmt.Printf("scale1_ms %.2f\n", scale(1, arg(5), arg(6)))
	fmt.Printf("scale2_ms %.2f\n", scale(2, arg(5), arg(6)))
}
