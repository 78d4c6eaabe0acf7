package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/jetsse/jetsse/cmd/jetsse-bench/internal/bench"
)

// floorServerCmd is the floor-server subcommand: the cheapest HTTP publish
// endpoint Go's net/http makes, for the publish scenario's floor. It reads
// each POST's body and answers {"id":"<n>"} at once, storing nothing, so
// publishing to it measures what HTTP alone costs the machine and the tool.
// It serves until ctx ends; ready, if set, is told the address.
func floorServerCmd(ctx context.Context, args []string, stderr io.Writer, ready func(addr string)) error {
	fs := flag.NewFlagSet("jetsse-bench floor-server", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", "127.0.0.1:8090", "listen address (loopback)")
	allowRemote := fs.Bool("allow-remote", false, "allow a non-loopback listen address")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if !*allowRemote {
		if err := bench.CheckLoopback(ctx, *addr); err != nil {
			return err
		}
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	var n atomic.Uint64
	srv := &http.Server{
		ReadHeaderTimeout: 10 * time.Second,
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method != http.MethodPost {
				http.Error(w, `{"error":"POST only"}`, http.StatusMethodNotAllowed)
				return
			}
			_, _ = io.Copy(io.Discard, io.LimitReader(r.Body, 1<<20))
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write(strconv.AppendUint([]byte(`{"id":"`), n.Add(1), 10))
			_, _ = w.Write([]byte("\"}\n"))
		}),
	}
	fmt.Fprintf(stderr, "floor-server: answering POSTs on http://%s\n", ln.Addr())
	if ready != nil {
		ready(ln.Addr().String())
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		err := srv.Shutdown(sctx)
		if serr := <-done; !errors.Is(serr, http.ErrServerClosed) {
			err = errors.Join(err, serr)
		}
		return err
	}
}
