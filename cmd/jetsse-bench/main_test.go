package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"strings"
	"testing"
)

func TestRefusesRemoteTargets(t *testing.T) {
	var stderr bytes.Buffer
	err := run(context.Background(), []string{"fanout", "--addr", "192.0.2.1:8080", "--nats", "nats://127.0.0.1:4222"}, &stderr, &stderr)
	if err == nil || !strings.Contains(err.Error(), "not a loopback address") {
		t.Fatalf("err = %v, want a loopback refusal", err)
	}
	err = run(context.Background(), []string{"fanout", "--nats", "nats://10.1.2.3:4222"}, &stderr, &stderr)
	if err == nil || !strings.Contains(err.Error(), "not a loopback address") {
		t.Fatalf("err = %v, want a loopback refusal", err)
	}
}

func TestFlags(t *testing.T) {
	var stderr bytes.Buffer
	for _, args := range [][]string{
		{"fanout", "--n", "0"},
		{"fanout", "--n", "200000"},
		{"fanout", "--rate", "-1"},
		{"bogus"},
		{"chart"},
	} {
		if err := run(context.Background(), args, &stderr, &stderr); err == nil {
			t.Errorf("%v: no error", args)
		}
	}
	if err := run(context.Background(), []string{"-h"}, &stderr, &stderr); !errors.Is(err, flag.ErrHelp) {
		t.Errorf("-h: %v", err)
	}
	if !strings.Contains(stderr.String(), "ulimit -n") {
		t.Error("help does not mention ulimit -n")
	}
}
