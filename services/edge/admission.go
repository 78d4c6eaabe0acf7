package edge

import (
	"math"
	"net/netip"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/jetsse/jetsse/internal/defaults"
)

// Admission bounds what clients may hold and make on this node: open
// connections, and new sessions a second, per node and per client. Zero
// fields take the defaults of internal/defaults; a negative field turns its
// limit off. A rate allows a burst of BurstSeconds' worth.
type Admission struct {
	MaxConnections                int
	MaxConnectionsPerClient       int
	NewSessionsPerSecond          float64
	NewSessionsPerClientPerSecond float64
}

// BurstSeconds is how many seconds' worth of new sessions a rate lets
// through at once.
const BurstSeconds = 5

func (a *Admission) setDefaults() {
	if a.MaxConnections == 0 {
		a.MaxConnections = defaults.MaxConnections
	}
	if a.MaxConnectionsPerClient == 0 {
		a.MaxConnectionsPerClient = defaults.MaxConnectionsPerClient
	}
	if a.NewSessionsPerSecond == 0 {
		a.NewSessionsPerSecond = defaults.NewSessionsPerSecond
	}
	if a.NewSessionsPerClientPerSecond == 0 {
		a.NewSessionsPerClientPerSecond = defaults.NewSessionsPerClientPerSecond
	}
}

// The admission limits' names, as LimitError and jetsse_limit_hits_total
// label them.
const (
	LimitConnections          = "connections"
	LimitConnectionsPerClient = "connections_per_client"
	LimitNewSessions          = "new_sessions"
	LimitNewSessionsPerClient = "new_sessions_per_client"
)

// admission keeps the counts and rates Admission bounds. It is safe for
// concurrent use. Per-client state is dropped once a client holds no
// connection and its rate has refilled, so it stays as large as the set of
// clients active in the last BurstSeconds.
type admission struct {
	cfg Admission
	now func() time.Time

	mu          sync.Mutex
	conns       int
	clients     map[string]*clientState
	nodeRate    *rate.Limiter // nil: unlimited
	lastSweep   time.Time
	sweepPeriod time.Duration
}

type clientState struct {
	conns int
	rate  *rate.Limiter // nil until the client makes a session, or unlimited
}

func newAdmission(cfg Admission, now func() time.Time) *admission {
	cfg.setDefaults()
	a := &admission{cfg: cfg, now: now, clients: make(map[string]*clientState), sweepPeriod: time.Minute}
	a.nodeRate = newLimiter(cfg.NewSessionsPerSecond)
	return a
}

func newLimiter(perSecond float64) *rate.Limiter {
	if perSecond < 0 {
		return nil
	}
	return rate.NewLimiter(rate.Limit(perSecond), max(1, int(math.Ceil(perSecond*BurstSeconds))))
}

// connect takes a connection slot for client, or returns the LimitError
// that refuses it. The caller must call leave(client) once the connection
// ends.
func (a *admission) connect(client string) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.cfg.MaxConnections > 0 && a.conns >= a.cfg.MaxConnections {
		return &LimitError{Limit: LimitConnections, RetryAfter: defaults.LimitRetry}
	}
	if client != "" {
		c := a.clients[client]
		if c == nil {
			c = &clientState{}
			a.clients[client] = c
		}
		if a.cfg.MaxConnectionsPerClient > 0 && c.conns >= a.cfg.MaxConnectionsPerClient {
			return &LimitError{Limit: LimitConnectionsPerClient, RetryAfter: defaults.LimitRetry}
		}
		c.conns++
	}
	a.conns++
	return nil
}

// leave gives back a slot connect took.
func (a *admission) leave(client string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.conns--
	if c := a.clients[client]; c != nil {
		c.conns--
	}
	a.sweep()
}

// newSession takes one new session from client's rate and the node's, or
// returns the LimitError that refuses it (taking nothing).
func (a *admission) newSession(client string) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	now := a.now()
	var cr *rate.Limiter
	if c := a.clients[client]; client != "" && a.cfg.NewSessionsPerClientPerSecond > 0 {
		if c == nil {
			c = &clientState{}
			a.clients[client] = c
		}
		if c.rate == nil {
			c.rate = newLimiter(a.cfg.NewSessionsPerClientPerSecond)
		}
		cr = c.rate
	}
	if cr != nil && cr.TokensAt(now) < 1 {
		return &LimitError{Limit: LimitNewSessionsPerClient, RetryAfter: retryAfter(cr, now)}
	}
	if a.nodeRate != nil && a.nodeRate.TokensAt(now) < 1 {
		return &LimitError{Limit: LimitNewSessions, RetryAfter: retryAfter(a.nodeRate, now)}
	}
	if cr != nil {
		cr.AllowN(now, 1)
	}
	if a.nodeRate != nil {
		a.nodeRate.AllowN(now, 1)
	}
	return nil
}

// retryAfter is when l has a token again, at least a second from now.
func retryAfter(l *rate.Limiter, now time.Time) time.Duration {
	missing := 1 - l.TokensAt(now)
	d := time.Duration(missing / float64(l.Limit()) * float64(time.Second))
	return max(d, time.Second)
}

// sweep drops the state of clients that hold no connection and whose rate
// has refilled (they are as if never seen), at most once a sweepPeriod.
// a.mu is held.
func (a *admission) sweep() {
	now := a.now()
	if now.Sub(a.lastSweep) < a.sweepPeriod {
		return
	}
	a.lastSweep = now
	for k, c := range a.clients {
		if c.conns <= 0 && (c.rate == nil || c.rate.TokensAt(now) >= float64(c.rate.Burst())) {
			delete(a.clients, k)
		}
	}
}

// clientCount is how many clients have state (for tests).
func (a *admission) clientCount() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.clients)
}

// ClientKey names a client by its address for the per-client limits: an
// IPv4 address as is, an IPv6 address by its /64 network (one subscriber
// line commonly holds a whole /64). An invalid address gives "".
func ClientKey(addr netip.Addr) string {
	addr = addr.Unmap()
	switch {
	case !addr.IsValid():
		return ""
	case addr.Is4():
		return addr.String()
	}
	p, _ := addr.Prefix(64)
	return p.String()
}
