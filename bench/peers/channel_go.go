// channel_go.go - the Go side of bench_channel: the same unbuffered
// ping-pong, buffered producer->consumer and select over four channels,
// run with GOMAXPROCS=1.  Prints "name median" lines.
//
// Usage: channel_go ROUNDS PINGPONG_N BUFFERED_N SELECT_N
//
// SPDX-License-Identifier: MIT
package main

import (
	"fmt"
	"os"
	"runtime"
	"sort"
	"strconv"
	"time"
)

func pingpong(n int) float64 {
	ping := make(chan int)
	pong := make(chan int)
	done := make(chan bool)
	go func() {
		for i := 0; i < n; i++ {
			v := <-ping
			pong <- v
		}
		done <- true
	}()
	t0 := time.Now()
	for i := 0; i < n; i++ {
		ping <- i
		<-pong
	}
	<-done
	return float64(time.Since(t0).Nanoseconds()) / float64(2*n)
}

func buffered(n int) float64 {
	ch := make(chan int, 1024)
	done := make(chan int)
	go func() {
		count := 0
		for range ch {
			count++
		}
		done <- count
	}()
	t0 := time.Now()
	for i := 0; i < n; i++ {
		ch <- i
	}
	close(ch)
	if <-done != n {
		panic("lost messages")
	}
	return float64(n) / time.Since(t0).Seconds()
}

func selectFour(n int) float64 {
	var chs [4]chan int
	per := n / 4
	for i := range chs {
		chs[i] = make(chan int)
		go func(c chan int) {
			for j := 0; j < per; j++ {
				c <- j
			}
		}(chs[i])
	}
	t0 := time.Now()
	for i := 0; i < per*4; i++ {
		select {
		case <-chs[0]:
		case <-chs[1]:
		case <-chs[2]:
		case <-chs[3]:
		}
	}
	return float64(time.Since(t0).Nanoseconds()) / float64(per*4)
}

func median(v []float64) float64 {
	sort.Float64s(v)
	return v[len(v)/2]
}

func arg(i int, def int) int {
	if len(os.Args) > i {
		if v, err := strconv.Atoi(os.Args[i]); err == nil {
			return v
		}
	}
	return def
}

func main() {
	runtime.GOMAXPROCS(1)
	rounds := arg(1, 7)
	pp, bf, sl := make([]float64, rounds), make([]float64, rounds), make([]float64, rounds)
	for r := 0; r < rounds; r++ {
		pp[r] = pingpong(arg(2, 1000000))
		bf[r] = buffered(arg(3, 10000000))
		sl[r] = selectFour(arg(4, 1000000))
	}
	fmt.Printf("pingpong_ns %.2f\n", median(pp))
	fmt.Printf("buffered_mps %.0f\n", median(bf))
	fmt.Printf("select_ns %.2f\n", median(sl))
}
