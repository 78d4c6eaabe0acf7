package httptransport

import (
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"strings"
	"sync/atomic"
)

// Proxies are the peers trusted to say who the client is and how it
// connected: the forwarding headers (Forwarded, else X-Forwarded-For and
// X-Forwarded-Proto) are believed only from them. A nil *Proxies trusts no
// one. It is safe for concurrent use.
type Proxies struct {
	nets   []netip.Prefix
	logger *slog.Logger
	warned atomic.Bool
}

// ParseProxies parses a comma-separated list of CIDRs or addresses
// (--trusted-proxy). logger is told, once, when forwarding headers come
// from an untrusted peer (a proxy that --trusted-proxy should name).
func ParseProxies(list string, logger *slog.Logger) (*Proxies, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	p := &Proxies{logger: logger}
	for _, s := range strings.Split(list, ",") {
		if s = strings.TrimSpace(s); s == "" {
			continue
		}
		if !strings.Contains(s, "/") {
			a, err := netip.ParseAddr(s)
			if err != nil {
				return nil, fmt.Errorf("trusted proxy %q: not an address or a CIDR", s)
			}
			a = a.Unmap()
			s = netip.PrefixFrom(a, a.BitLen()).String()
		}
		pre, err := netip.ParsePrefix(s)
		if err != nil {
			return nil, fmt.Errorf("trusted proxy %q: %v", s, err)
		}
		p.nets = append(p.nets, pre.Masked())
	}
	return p, nil
}

func (p *Proxies) trusted(a netip.Addr) bool {
	if p == nil || !a.IsValid() {
		return false
	}
	a = a.Unmap()
	for _, n := range p.nets {
		if n.Contains(a) {
			return true
		}
	}
	return false
}

// client returns the address of the client a request comes from and
// whether it reached the edge over TLS. From a trusted peer the forwarding
// headers say so: the client is the nearest address in the chain of hops
// that is not itself a trusted proxy, and TLS is what the nearest proxy
// recorded as the protocol. From anyone else they are ignored.
func (p *Proxies) client(r *http.Request) (netip.Addr, bool) {
	tls := r.TLS != nil
	peer := remoteAddr(r)
	fwd := r.Header.Values("Forwarded")
	xff := r.Header.Values("X-Forwarded-For")
	if !p.trusted(peer) {
		if p != nil && (len(fwd) > 0 || len(xff) > 0) && p.warned.CompareAndSwap(false, true) {
			p.logger.Info("forwarding headers from an untrusted peer are ignored: if it is your proxy, name it with --trusted-proxy",
				"peer", peer.String())
		}
		return peer, tls
	}
	var hops []string
	var proto string
	if len(fwd) > 0 {
		hops, proto = parseForwarded(fwd)
	} else {
		for _, h := range xff {
			for _, a := range strings.Split(h, ",") {
				hops = append(hops, strings.TrimSpace(a))
			}
		}
		if v := r.Header.Values("X-Forwarded-Proto"); len(v) > 0 {
			parts := strings.Split(v[len(v)-1], ",")
			proto = strings.TrimSpace(parts[len(parts)-1])
		}
	}
	client := peer
	for i := len(hops) - 1; i >= 0; i-- {
		a, ok := parseHop(hops[i])
		if !ok {
			break // obfuscated or malformed: the proxy after it is as far as is known
		}
		client = a
		if !p.trusted(a) {
			break
		}
	}
	if proto != "" {
		tls = strings.EqualFold(proto, "https")
	}
	return client, tls
}

// remoteAddr is the request's peer address (invalid if unknown).
func remoteAddr(r *http.Request) netip.Addr {
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		a, _ := netip.ParseAddr(r.RemoteAddr)
		return a.Unmap()
	}
	return ap.Addr().Unmap()
}

// parseForwarded reads Forwarded headers (RFC 7239): the for= of each
// element in order, and the proto= of the last element that has one.
func parseForwarded(values []string) (hops []string, proto string) {
	for _, v := range values {
		for _, elem := range strings.Split(v, ",") {
			for _, pair := range strings.Split(elem, ";") {
				k, val, ok := strings.Cut(strings.TrimSpace(pair), "=")
				if !ok {
					continue
				}
				val = strings.Trim(strings.TrimSpace(val), `"`)
				switch strings.ToLower(strings.TrimSpace(k)) {
				case "for":
					hops = append(hops, val)
				case "proto":
					proto = val
				}
			}
		}
	}
	return hops, proto
}

// parseHop parses one hop's address: an IP, an IP with a port, or a
// bracketed IPv6 address with or without a port.
func parseHop(s string) (netip.Addr, bool) {
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().Unmap(), true
	}
	s = strings.TrimSuffix(strings.TrimPrefix(s, "["), "]")
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Addr{}, false
	}
	return a.Unmap(), true
}
