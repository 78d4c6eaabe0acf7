package bench

import (
	"fmt"
	"time"
)

// SeqMode says which number identifies an event for loss and duplicate
// counting.
type SeqMode int

const (
	// SeqID uses the SSE id field as a decimal sequence (jetsse: the
	// JetStream stream sequence).
	SeqID SeqMode = iota
	// SeqData uses the publisher's counter "n" in the payload, for servers
	// whose ids are not sequences.
	SeqData
)

// ParseSeqMode parses "id" or "data".
func ParseSeqMode(s string) (SeqMode, error) {
	switch s {
	case "id":
		return SeqID, nil
	case "data":
		return SeqData, nil
	}
	return 0, fmt.Errorf("sequence source %q is not id or data", s)
}

func (m SeqMode) String() string {
	if m == SeqData {
		return "data"
	}
	return "id"
}

// Names on the wire (docs/protocol.md).
const (
	SessionHeader = "Jetsse-Session"
	CookieName    = "jetsse_session"
)

// SSEConfig says how subscribers reach the server.
type SSEConfig struct {
	// URL is an http:// URL in which "{topic}" is replaced by the
	// query-escaped topic, e.g. http://127.0.0.1:8080/events?topic={topic}.
	URL string
	// SourceIPs spreads connections over the local addresses 127.0.0.1 ..
	// 127.0.0.<SourceIPs> (loopback targets only), multiplying the
	// ephemeral ports available; 0 or 1 lets the kernel choose.
	SourceIPs int
	// ConnectTimeout bounds dialing and reading the response head.
	ConnectTimeout time.Duration
	// ReadBuffer is the per-connection read buffer (default 4 KiB). The
	// response head must fit in it.
	ReadBuffer int
	// DialConcurrency bounds connections being opened at once (default 64),
	// so a burst does not overflow the server's accept queue.
	DialConcurrency int
	// Seq selects the sequence used for losses and duplicates.
	Seq SeqMode
	// Attach says when a subscriber counts as attached (see AttachMode).
	Attach AttachMode
	// ResumeURL, when set, is the URL of a reconnect that presents the
	// client's position (PresentID) once the client knows every value the
	// URL uses: {topic}, {last_id} (the last SSE id) and {data:KEY} (the
	// last value of the member "KEY" seen in an event's data). Servers that
	// take the position in the URL rather than in Last-Event-ID need it,
	// e.g. Centrifugo's uni_sse connect request with recover, offset and
	// epoch. Placeholders may appear percent-encoded in a query.
	ResumeURL string
}

// AttachMode says which frame makes a subscriber count as attached: the
// scenarios publish only once every subscriber is.
type AttachMode int

const (
	// AttachSession waits for jetsse's "session" event.
	AttachSession AttachMode = iota
	// AttachFirst takes the first event or comment after the response
	// head, for servers that send no session event but answer once the
	// subscription is in place (Centrifugo's connect push, Mercure's
	// opening comment).
	AttachFirst
)

// ParseAttachMode parses "session" or "first".
func ParseAttachMode(s string) (AttachMode, error) {
	switch s {
	case "session":
		return AttachSession, nil
	case "first":
		return AttachFirst, nil
	}
	return 0, fmt.Errorf("attach mode %q is not session or first", s)
}

func (m AttachMode) String() string {
	if m == AttachFirst {
		return "first"
	}
	return "session"
}

// TokenVia says how a client presents its session token.
type TokenVia int

const (
	TokenNone   TokenVia = iota // present no token
	TokenHeader                 // Jetsse-Session request header
	TokenCookie                 // Cookie: jetsse_session=...
)
