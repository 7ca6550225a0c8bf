// tls_go.go - the Go peer of bench_tls.sh: a goroutine-per-connection TLS
// echo server on crypto/tls, the standard library only.  Run with
// GOMAXPROCS=1 to compare with the single-threaded examples/tls_echo.
//
//   tls_go CERT KEY PORT      (PORT 0 picks a free one)
//
// SPDX-License-Identifier: MIT
package main

import (
	"crypto/tls"
	"fmt"
	"net"
	"os"
)

func echo(c net.Conn) {
	defer c.Close()
	buf := make([]byte, 16384)
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

func main() {
	if len(os.Args) != 4 {
		fmt.Fprintln(os.Stderr, "usage: tls_go CERT KEY PORT")
		os.Exit(2)
	}
	cert, err := tls.LoadX509KeyPair(os.Args[1], os.Args[2])
	if err != nil {
		fmt.Fprintln(os.Stderr, "tls_go:", err)
		os.Exit(1)
	}
	cfg := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	ln, err := tls.Listen("tcp", "127.0.0.1:"+os.Args[3], cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, "tls_go:", err)
		os.Exit(1)
	}
	fmt.Printf("Listening on port %d\n", ln.Addr().(*net.TCPAddr).Port)
	for {
		c, err := ln.Accept()
		if err != nil {
			continue
		}
		go echo(c)
	}
}
