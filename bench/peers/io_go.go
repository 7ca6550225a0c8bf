// io_go.go - the Go peer of bench_io: a goroutine-per-connection server
// on the standard library only.  Run with GOMAXPROCS=1.
//
//   io_go echo|http PORT      (PORT 0 picks a free one)
//
// echo writes back whatever it reads; http answers every complete request
// in a read with a fixed "Hello, World!" response (a raw TCP responder).
//
// SPDX-License-Identifier: MIT
package main

import (
	"bytes"
	"fmt"
	"net"
	"os"
)

var response = []byte("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 13\r\n\r\nHello, World!")
var endOfHeaders = []byte("\r\n\r\n")

func echo(c net.Conn) {
	defer c.Close()
	buf := make([]byte, 65536)
	for {
		n, err := c.Read(buf)
		if n > 0 {
			if _, werr := c.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

func hello(c net.Conn) {
	defer c.Close()
	buf := make([]byte, 65536)
	out := make([]byte, 0, 65536)
	have := 0
	for {
		n, err := c.Read(buf[have:])
		if n <= 0 || err != nil {
			return
		}
		have += n
		used := 0
		out = out[:0]
		for {
			i := bytes.Index(buf[used:have], endOfHeaders)
			if i < 0 {
				break
			}
			used += i + 4
			out = append(out, response...)
		}
		copy(buf, buf[used:have])
		have -= used
		if len(out) > 0 {
			if _, werr := c.Write(out); werr != nil {
				return
			}
		}
	}
}

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: io_go echo|http PORT")
		os.Exit(2)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:"+os.Args[2])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Printf("Listening on port %d\n", ln.Addr().(*net.TCPAddr).Port)
	handler := echo
	if os.Args[1] == "http" {
		handler = hello
	}
	for {
		c, err := ln.Accept()
		if err != nil {
			continue
		}
		go handler(c)
	}
}
