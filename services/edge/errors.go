package edge

import (
	"errors"
	"fmt"
)

// Domain errors. A transport maps them to its own answers in one place (the
// HTTP transport: errorStatus); logs and metrics classify them by Outcome.
var (
	// ErrUnauthorized: a publish without the right token.
	ErrUnauthorized = errors.New("missing or invalid publish token")
	// ErrTooLarge: a body or event over the configured limit.
	ErrTooLarge = errors.New("request body too large")
	// ErrUnavailable: JetStream cannot be reached right now.
	ErrUnavailable = errors.New("event store unavailable")
	// ErrDraining: the node is shutting down; try another or retry later.
	ErrDraining = errors.New("server is draining")
	// ErrNotReady: the node has not finished starting.
	ErrNotReady = errors.New("not ready")
)

// Reasons a Stream ends, returned by Stream.Next.
var (
	// ErrTakenOver: a newer connection attached to the same session.
	ErrTakenOver = errors.New("session taken over by a newer connection")
	// ErrSlowClient: the client fell behind its queue.
	ErrSlowClient = errors.New("client fell behind")
	// ErrStreamReset: the event stream was recreated under the connection.
	ErrStreamReset = errors.New("event stream was reset")
)

// InputError is a client error in a request field (HTTP 400).
type InputError struct {
	Field string
	Err   error
}

func (e *InputError) Error() string { return fmt.Sprintf("%s: %v", e.Field, e.Err) }
func (e *InputError) Unwrap() error { return e.Err }

func inputError(field string, err error) error { return &InputError{Field: field, Err: err} }

// Outcome names what an error means for the request: "bad_request",
// "unauthorized", "too_large", "draining", "unavailable", or "error" (a
// fault of the edge). Logs and metrics use it; nil is "ok".
func Outcome(err error) string {
	var in *InputError
	switch {
	case err == nil:
		return "ok"
	case errors.As(err, &in):
		return "bad_request"
	case errors.Is(err, ErrUnauthorized):
		return "unauthorized"
	case errors.Is(err, ErrTooLarge):
		return "too_large"
	case errors.Is(err, ErrDraining):
		return "draining"
	case errors.Is(err, ErrUnavailable), errors.Is(err, ErrNotReady):
		return "unavailable"
	}
	return "error"
}

// serverSide reports whether an outcome is the edge's trouble rather than
// the client's (worth a warning in the log).
func serverSide(outcome string) bool { return outcome == "unavailable" || outcome == "error" }
