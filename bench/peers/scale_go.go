// scale_go.go - the Go side of bench_scale, run with GOMAXPROCS=1.
//
//	scale_go park N K   N goroutines parked at once, half in time.Sleep and
//	                    half receiving from a channel, like bench_scale's
//	                    population; then K of each probe among them.
//	scale_go spawn K    K times: go f(), wait for it to finish.
//
// Prints "name value" lines: rss_per (bytes of RSS per parked goroutine),
// create_rate (goroutines started and parked per second), and the probes
// in ns: wake (send to a parked receiver, which takes it and parks again;
// wake_cold: each receiver of the population in turn),
// yield (runtime.Gosched with one other runnable goroutine), timer (CPU ns
// per 1 ms sleep expiry), io (pipe write -> reader woken -> read), spawn.
//
// SPDX-License-Identifier: MIT
package main

import (
	"bufio"
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

func rssBytes() int64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		l := sc.Text()
		if strings.HasPrefix(l, "VmRSS:") {
			v, _ := strconv.ParseInt(strings.Fields(l)[1], 10, 64)
			return v * 1024
		}
	}
	return 0
}

func cpuNs() int64 {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return ru.Utime.Nano() + ru.Stime.Nano()
}

func park(n, k int) {
	ch := make(chan int)
	base := rssBytes()
	t0 := time.Now()
	var started sync.WaitGroup
	started.Add(n)
	for i := 0; i < n; i++ {
		if i%2 == 1 {
			go func() {
				started.Done()
				time.Sleep(time.Hour)
			}()
		} else {
			go func() {
				started.Done()
				for v := range ch {
					_ = v
				}
			}()
		}
	}
	started.Wait()
	runtime.Gosched() // let the last ones reach their park
	dt := time.Since(t0)
	fmt.Printf("create_rate %.0f\n", float64(n)/dt.Seconds())
	fmt.Printf("rss_per %.1f\n", float64(rssBytes()-base)/float64(n))

	// wake: one receiver takes the value and parks again (hot), then
	// each receiver of the population in turn (cold).
	hot := make(chan int)
	go func() {
		for v := range hot {
			_ = v
		}
	}()
	runtime.Gosched()
	for _, c := range []struct {
		name string
		ch   chan int
	}{{"wake", hot}, {"wake_cold", ch}} {
		t0 = time.Now()
		for i := 0; i < k; i++ {
			c.ch <- i
			runtime.Gosched()
		}
		fmt.Printf("%s %.1f\n", c.name, float64(time.Since(t0).Nanoseconds())/float64(k))
	}

	// yield with one other runnable goroutine.
	stop := make(chan bool)
	go func() {
		for {
			select {
			case <-stop:
				return
			default:
				runtime.Gosched()
			}
		}
	}()
	t0 = time.Now()
	for i := 0; i < k; i++ {
		runtime.Gosched()
	}
	fmt.Printf("yield %.1f\n", float64(time.Since(t0).Nanoseconds())/float64(2*k))
	close(stop)

	// timer: CPU cost of a 1 ms sleep, arm to expiry.
	kt := k / 100
	if kt < 20 {
		kt = 20
	}
	c0 := cpuNs()
	for i := 0; i < kt; i++ {
		time.Sleep(time.Millisecond)
	}
	fmt.Printf("timer %.1f\n", float64(cpuNs()-c0)/float64(kt))

	// io: a reader parked on a pipe wakes for each byte.
	r, w, err := os.Pipe()
	if err == nil {
		done := make(chan bool)
		go func() {
			b := make([]byte, 1)
			for i := 0; i < k; i++ {
				r.Read(b)
				done <- true
			}
		}()
		b := []byte{1}
		t0 = time.Now()
		for i := 0; i < k; i++ {
			w.Write(b)
			<-done
		}
		fmt.Printf("io %.1f\n", float64(time.Since(t0).Nanoseconds())/float64(k))
	}
	runtime.KeepAlive(ch)
}

func spawn(k int) {
	var wg sync.WaitGroup
	f := func() { wg.Done() }
	for i := 0; i < 1000; i++ { // warm the goroutine free list
		wg.Add(1)
		go f()
		wg.Wait()
	}
	t0 := time.Now()
	for i := 0; i < k; i++ {
		wg.Add(1)
		go f()
		wg.Wait()
	}
	fmt.Printf("spawn %.1f\n", float64(time.Since(t0).Nanoseconds())/float64(k))
}

func main() {
	runtime.GOMAXPROCS(1)
	debug.SetGCPercent(400)
	if len(os.Args) < 3 {
		fmt.Fprintln(os.Stderr, "usage: scale_go park N K | spawn K")
		os.Exit(2)
	}
	a, _ := strconv.Atoi(os.Args[2])
	switch os.Args[1] {
	case "park":
		k, _ := strconv.Atoi(os.Args[3])
		park(a, k)
	case "spawn":
		spawn(a)
	default:
		os.Exit(2)
	}
}
