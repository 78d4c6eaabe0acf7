//go:build !linux

package edge

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"time"
)

// Lite multiplexes live connections on Linux only; elsewhere every
// connection keeps its own goroutine.
type Lite struct{}

// LiteConfig configures Lite.
type LiteConfig struct {
	Heartbeat    time.Duration
	WriteTimeout time.Duration
	Retry        time.Duration
	Workers      int
	Logger       *slog.Logger
}

// NewLite reports that Lite is not available on this system.
func NewLite(LiteConfig) (*Lite, error) { return nil, errors.New("edge: lite connections need Linux") }

// Run waits for ctx to end.
func (l *Lite) Run(ctx context.Context) error { <-ctx.Done(); return nil }

// Connections returns 0.
func (l *Lite) Connections() int { return 0 }

func (l *Lite) add(net.Conn, *Stream) error { return errors.New("edge: lite connections need Linux") }
