package edge

import (
	"errors"
	"net/netip"
	"testing"
	"time"
)

func limitOf(err error) string {
	var lim *LimitError
	if errors.As(err, &lim) {
		return lim.Limit
	}
	return ""
}

func TestAdmissionConnections(t *testing.T) {
	now := time.Unix(1000, 0)
	a := newAdmission(Admission{MaxConnections: 3, MaxConnectionsPerClient: 2, NewSessionsPerSecond: -1, NewSessionsPerClientPerSecond: -1},
		func() time.Time { return now })
	for i := 0; i < 2; i++ {
		if err := a.connect("a"); err != nil {
			t.Fatal(err)
		}
	}
	if got := limitOf(a.connect("a")); got != LimitConnectionsPerClient {
		t.Fatalf("third connection of a: %q", got)
	}
	if err := a.connect("b"); err != nil {
		t.Fatal(err)
	}
	if got := limitOf(a.connect("c")); got != LimitConnections {
		t.Fatalf("fourth connection on the node: %q", got)
	}
	a.leave("a")
	if err := a.connect("c"); err != nil {
		t.Fatalf("a slot was given back: %v", err)
	}
	// Unnamed clients count only against the node.
	a.leave("c")
	if err := a.connect(""); err != nil {
		t.Fatal(err)
	}
}

func TestAdmissionNewSessionRates(t *testing.T) {
	now := time.Unix(1000, 0)
	a := newAdmission(Admission{MaxConnections: -1, MaxConnectionsPerClient: -1, NewSessionsPerSecond: 4, NewSessionsPerClientPerSecond: 1},
		func() time.Time { return now })
	// A client gets its burst (5 s worth), then one a second.
	for i := 0; i < BurstSeconds; i++ {
		if err := a.newSession("a"); err != nil {
			t.Fatalf("session %d: %v", i, err)
		}
	}
	err := a.newSession("a")
	var lim *LimitError
	if !errors.As(err, &lim) || lim.Limit != LimitNewSessionsPerClient || lim.RetryAfter != time.Second {
		t.Fatalf("over the burst: %v", err)
	}
	// The node's burst is 20: other clients fill it.
	for i := 0; i < 15; i++ {
		if err := a.newSession(string(rune('b' + i))); err != nil {
			t.Fatalf("client %d: %v", i, err)
		}
	}
	if got := limitOf(a.newSession("z")); got != LimitNewSessions {
		t.Fatalf("node over its burst: %q", got)
	}
	// A refusal by the node took nothing from the client.
	now = now.Add(250 * time.Millisecond)
	if err := a.newSession("z"); err != nil {
		t.Fatalf("after a quarter second the node has one more: %v", err)
	}
	now = now.Add(time.Second)
	if err := a.newSession("a"); err != nil {
		t.Fatalf("a second later a has one more: %v", err)
	}
}

func TestAdmissionForgetsIdleClients(t *testing.T) {
	now := time.Unix(1000, 0)
	a := newAdmission(Admission{NewSessionsPerClientPerSecond: 1}, func() time.Time { return now })
	for i := 0; i < 100; i++ {
		c := netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)}).String()
		if err := a.connect(c); err != nil {
			t.Fatal(err)
		}
		if err := a.newSession(c); err != nil {
			t.Fatal(err)
		}
		a.leave(c)
	}
	if n := a.clientCount(); n != 100 {
		t.Fatalf("%d clients tracked", n)
	}
	now = now.Add(2 * time.Minute) // rates refilled, past a sweep period
	a.connect("x")
	a.leave("x")
	if n := a.clientCount(); n != 0 {
		t.Fatalf("%d idle clients still tracked", n)
	}
}

func TestClientKey(t *testing.T) {
	for in, want := range map[string]string{
		"198.51.100.7":         "198.51.100.7",
		"::ffff:198.51.100.7":  "198.51.100.7",
		"2001:db8:1:2:3:4:5:6": "2001:db8:1:2::/64",
		"2001:db8:1:2::9":      "2001:db8:1:2::/64",
	} {
		if got := ClientKey(netip.MustParseAddr(in)); got != want {
			t.Errorf("%s: %s, want %s", in, got, want)
		}
	}
	if ClientKey(netip.Addr{}) != "" {
		t.Error("an invalid address has a key")
	}
}
