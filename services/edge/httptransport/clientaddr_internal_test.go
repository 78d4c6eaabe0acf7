package httptransport

import (
	"crypto/tls"
	"net/http"
	"net/netip"
	"testing"
)

func TestClientAddress(t *testing.T) {
	proxies, err := ParseProxies("10.0.0.0/8, 192.0.2.1, 2001:db8::/32", nil)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name    string
		peer    string
		tls     bool
		headers map[string][]string
		want    string
		secure  bool
	}{
		{"untrusted peer: headers ignored", "203.0.113.9:1234", false,
			map[string][]string{"X-Forwarded-For": {"198.51.100.1"}, "X-Forwarded-Proto": {"https"}}, "203.0.113.9", false},
		{"untrusted peer over TLS", "203.0.113.9:1234", true, nil, "203.0.113.9", true},
		{"trusted peer without headers is the client", "10.1.2.3:80", false, nil, "10.1.2.3", false},
		{"X-Forwarded-For: nearest untrusted hop", "10.1.2.3:80", false,
			map[string][]string{"X-Forwarded-For": {"1.1.1.1, 198.51.100.1, 10.9.9.9"}, "X-Forwarded-Proto": {"https"}}, "198.51.100.1", true},
		{"a client cannot spoof by prepending", "192.0.2.1:80", false,
			map[string][]string{"X-Forwarded-For": {"10.0.0.1", "198.51.100.2"}}, "198.51.100.2", false},
		{"all hops trusted: the farthest", "10.1.2.3:80", false,
			map[string][]string{"X-Forwarded-For": {"10.0.0.7, 10.0.0.8"}}, "10.0.0.7", false},
		{"garbage hop stops the walk", "10.1.2.3:80", false,
			map[string][]string{"X-Forwarded-For": {"198.51.100.1, unknown"}}, "10.1.2.3", false},
		{"X-Forwarded-Proto: the nearest proxy's", "10.1.2.3:80", false,
			map[string][]string{"X-Forwarded-Proto": {"https, http"}}, "10.1.2.3", false},
		{"Forwarded wins over X-Forwarded-For", "10.1.2.3:80", false,
			map[string][]string{"Forwarded": {`for=198.51.100.3;proto=https, for="[2001:db8:cafe::17]:4711"`}, "X-Forwarded-For": {"1.2.3.4"}},
			"198.51.100.3", true},
		{"Forwarded IPv6 client", "10.1.2.3:80", false,
			map[string][]string{"Forwarded": {`for="[2a00:1450::1]:443";proto=http`}}, "2a00:1450::1", false},
		{"IPv4-mapped peer", "[::ffff:10.1.2.3]:80", false,
			map[string][]string{"X-Forwarded-For": {"198.51.100.4"}}, "198.51.100.4", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := &http.Request{RemoteAddr: c.peer, Header: http.Header(c.headers)}
			if c.tls {
				r.TLS = &tls.ConnectionState{}
			}
			got, secure := proxies.client(r)
			if got.String() != c.want || secure != c.secure {
				t.Fatalf("client %v secure %v; want %s %v", got, secure, c.want, c.secure)
			}
		})
	}
	var none *Proxies
	r := &http.Request{RemoteAddr: "10.1.2.3:80", Header: http.Header{"X-Forwarded-For": {"198.51.100.1"}}}
	if got, _ := none.client(r); got.String() != "10.1.2.3" {
		t.Fatalf("nil Proxies believed a header: %v", got)
	}
}

func TestParseProxiesRefusesGarbage(t *testing.T) {
	for _, s := range []string{"nope", "10.0.0.0/33", "1.2.3.4/x"} {
		if _, err := ParseProxies(s, nil); err == nil {
			t.Errorf("%q accepted", s)
		}
	}
}

// FuzzClientAddress: any forwarding headers from a trusted peer give a
// valid address, never a panic; from an untrusted one, the peer.
func FuzzClientAddress(f *testing.F) {
	f.Add("1.1.1.1, 10.0.0.1", `for=1.2.3.4;proto=https`, "https")
	f.Add("[::1]:8", `for="[2001:db8::1]:1", for=unknown`, "")
	proxies, _ := ParseProxies("10.0.0.0/8", nil)
	f.Fuzz(func(t *testing.T, xff, fwd, proto string) {
		h := http.Header{"X-Forwarded-For": {xff}, "X-Forwarded-Proto": {proto}}
		if fwd != "" {
			h["Forwarded"] = []string{fwd}
		}
		got, _ := proxies.client(&http.Request{RemoteAddr: "10.0.0.1:5", Header: h})
		if !got.IsValid() {
			t.Fatalf("invalid client address from %q %q", xff, fwd)
		}
		got, _ = proxies.client(&http.Request{RemoteAddr: "203.0.113.1:5", Header: h})
		if got != netip.MustParseAddr("203.0.113.1") {
			t.Fatalf("untrusted peer's headers believed: %v", got)
		}
	})
}
