package edge

import (
	"errors"
	"fmt"
	"time"
)

// Domain errors. A transport maps them to its own answers in one place (the
// HTTP transport: errorStatus); logs and metrics classify them by Outcome.
var (
	// ErrUnauthorized: a request without valid credentials (a publish
	// without the publish token or a valid JWT; with --auth jwt, a
	// subscription without a valid token where anonymous clients may not
	// subscribe). The transport authenticates; the text after the colon
	// says what was wrong and is safe to show.
	ErrUnauthorized = errors.New("missing or invalid token")
	// ErrForbidden: the credentials are valid but do not grant what was
	// asked (a topic outside the token's subscribe or publish grants).
	ErrForbidden = errors.New("forbidden")
	// ErrTooLarge: a body or event over the configured limit.
	ErrTooLarge = errors.New("request body too large")
	// ErrUnavailable: JetStream cannot be reached right now.
	ErrUnavailable = errors.New("event store unavailable")
	// ErrDraining: the node is shutting down; try another or retry later.
	ErrDraining = errors.New("server is draining")
	// ErrNotReady: the node has not finished starting.
	ErrNotReady = errors.New("not ready")
	// ErrSessionEnded: the session token names a session an operator
	// ended; the client should stop (HTTP: 204 No Content).
	ErrSessionEnded = errors.New("the session was ended by an operator")
	// ErrSessionNotFound: no such session (the admin API).
	ErrSessionNotFound = errors.New("no such session")
)

// Reasons a Stream ends, returned by Stream.Next.
var (
	// ErrTakenOver: a newer connection attached to the same session.
	ErrTakenOver = errors.New("session taken over by a newer connection")
	// ErrSlowClient: the client fell behind its queue.
	ErrSlowClient = errors.New("client fell behind")
	// ErrStreamReset: the event stream was recreated under the connection.
	ErrStreamReset = errors.New("event stream was reset")
	// ErrReauth: the token the connection was opened with expired; the
	// client must come back with a fresh one.
	ErrReauth = errors.New("token expired")
	// ErrEnded: an operator ended the session (DELETE /v1/sessions/{id}).
	ErrEnded = errors.New("session ended by an operator")
)

// LimitError is a request refused by one of the node's admission limits
// (connections, or new sessions, per node or per client). The client may
// come back after RetryAfter.
type LimitError struct {
	Limit      string // the limit's name, as the metric labels it
	RetryAfter time.Duration
}

func (e *LimitError) Error() string {
	return fmt.Sprintf("limit reached (%s): retry in %s", e.Limit, e.RetryAfter.Round(time.Second))
}

// BatchError is a batch of which some events were not stored after it was
// published (the others were). Failed lists them in order; it unwraps to
// the first one's error, so the batch is answered as that event would be
// alone.
type BatchError struct {
	Failed []BatchFailure
	Events int // events in the batch
}

// BatchFailure is why one event of a batch was not stored: ErrTooLarge
// (the stream refused it), or ErrUnavailable (JetStream did not answer in
// time: it may still have stored it; publishing it again with the same
// message ID stores it once).
type BatchFailure struct {
	Index int
	Err   error
}

func (e *BatchError) Error() string {
	return fmt.Sprintf("%d of %d events not stored (the first: events[%d]: %v)", len(e.Failed), e.Events, e.Failed[0].Index, e.Failed[0].Err)
}

func (e *BatchError) Unwrap() error { return e.Failed[0].Err }

// InputError is a client error in a request field (HTTP 400).
type InputError struct {
	Field string
	Err   error
}

func (e *InputError) Error() string { return fmt.Sprintf("%s: %v", e.Field, e.Err) }
func (e *InputError) Unwrap() error { return e.Err }

func inputError(field string, err error) error { return &InputError{Field: field, Err: err} }

// Outcome names what an error means for the request: "bad_request",
// "unauthorized", "forbidden", "limited", "too_large", "draining",
// "unavailable", or "error" (a fault of the edge). Logs and metrics use it;
// nil is "ok".
func Outcome(err error) string {
	var in *InputError
	var lim *LimitError
	switch {
	case err == nil:
		return "ok"
	case errors.As(err, &in):
		return "bad_request"
	case errors.Is(err, ErrUnauthorized):
		return "unauthorized"
	case errors.Is(err, ErrForbidden):
		return "forbidden"
	case errors.Is(err, ErrSessionEnded):
		return "ended"
	case errors.Is(err, ErrSessionNotFound):
		return "not_found"
	case errors.As(err, &lim):
		return "limited"
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
