//go:build linux

package platform_test

import (
	"bytes"
	"errors"
	"io"
	"net"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/jetsse/jetsse/pkg/platform"
)

// TestWriteFDNeverWaits: WriteFD writes what the socket takes and returns
// 0, not an error and not a wait, once it is full; the reader then gets
// exactly the bytes reported written, in order.
func TestWriteFDNeverWaits(t *testing.T) {
	client, fd := socketPair(t)
	chunk := bytes.Repeat([]byte("0123456789abcdef"), 4096) // 64 KiB
	var sent bytes.Buffer
	full := false
	for range 10_000 { // far more than any socket buffer holds
		n, err := platform.WriteFD(fd, chunk)
		if err != nil {
			t.Fatalf("WriteFD: %v", err)
		}
		sent.Write(chunk[:n])
		if n == 0 {
			full = true
			break
		}
	}
	if !full {
		t.Fatal("the socket never filled up")
	}
	got := make([]byte, sent.Len())
	if _, err := io.ReadFull(client, got); err != nil {
		t.Fatalf("read %v", err)
	}
	if !bytes.Equal(got, sent.Bytes()) {
		t.Fatal("the reader got other bytes than WriteFD reported written")
	}
}

// TestWriteFDPeerGone: writing to a socket whose peer closed ends in an
// error (the peer's reset), never a signal that stops the process; an
// empty write is nothing at all.
func TestWriteFDPeerGone(t *testing.T) {
	client, fd := socketPair(t)
	if n, err := platform.WriteFD(fd, nil); n != 0 || err != nil {
		t.Fatalf("empty write: %d, %v", n, err)
	}
	client.Close()
	deadline := time.Now().Add(10 * time.Second)
	for {
		// The first write after the close draws the peer's reset; a later
		// one fails.
		_, err := platform.WriteFD(fd, []byte("data: x\n\n"))
		if err != nil {
			if !errors.Is(err, syscall.EPIPE) && !errors.Is(err, syscall.ECONNRESET) {
				t.Fatalf("error %v, want EPIPE or ECONNRESET", err)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("writes to a closed peer kept succeeding")
		}
		runtime.Gosched()
	}
}

// socketPair returns a connected loopback client and the descriptor of its
// server side; both are closed when the test ends.
func socketPair(t *testing.T) (client net.Conn, serverFD int) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, _ := ln.Accept()
		accepted <- c
	}()
	client, err = net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	server := <-accepted
	if server == nil {
		t.Fatal("accept failed")
	}
	t.Cleanup(func() { server.Close() })
	raw, err := server.(syscall.Conn).SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	fd, err := platform.FD(raw)
	if err != nil || fd < 0 {
		t.Fatalf("FD: %d, %v", fd, err)
	}
	return client, fd
}
