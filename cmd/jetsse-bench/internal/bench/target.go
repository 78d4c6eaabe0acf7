package bench

import (
	"fmt"
	"net"
	"net/url"
	"slices"
	"strings"
)

// endpoint is a parsed SSEConfig.URL (and ResumeURL).
type endpoint struct {
	addr, host     string // dial address; Host header
	live           target // the request target of a first connection
	resume         target // of a reconnect that presents a position; may be empty
	loopbackSource bool
}

// target is a request target split at its placeholders.
type target struct {
	parts []targetPart
	keys  []string // the data keys referenced, in order of first use
}

type targetPart struct {
	lit  string
	kind int // partLiteral, partTopic, partLastID or partData
	key  int // index into keys for partData
}

const (
	partLiteral = iota
	partTopic
	partLastID
	partData
)

func (t target) empty() bool { return len(t.parts) == 0 }

// expand returns the target for topic, with the client's last id and
// captured data values; ok is false when a value it needs is unknown.
func (t target) expand(b []byte, topic string, lastID []byte, data [][]byte) ([]byte, bool) {
	for _, p := range t.parts {
		switch p.kind {
		case partLiteral:
			b = append(b, p.lit...)
		case partTopic:
			b = append(b, url.QueryEscape(topic)...)
		case partLastID:
			if len(lastID) == 0 {
				return b, false
			}
			b = append(b, url.QueryEscape(string(lastID))...)
		case partData:
			if p.key >= len(data) || data[p.key] == nil {
				return b, false
			}
			b = append(b, url.QueryEscape(string(data[p.key]))...)
		}
	}
	return b, true
}

// parseTarget splits a request target at {topic}, {last_id} and
// {data:KEY}, plain or percent-encoded ({ as %7B, } as %7D, : as %3A).
func parseTarget(raw string, allowPosition bool) (target, error) {
	var t target
	lit := func(s string) {
		if s != "" {
			t.parts = append(t.parts, targetPart{lit: s})
		}
	}
	norm := strings.NewReplacer("%7B", "{", "%7b", "{", "%7D", "}", "%7d", "}", "%3A", ":", "%3a", ":")
	for raw != "" {
		i := strings.Index(raw, "{")
		j := strings.Index(raw, "%7B")
		if k := strings.Index(raw, "%7b"); k >= 0 && (j < 0 || k < j) {
			j = k
		}
		openLen := 1
		if i < 0 || (j >= 0 && j < i) {
			i, openLen = j, 3
		}
		if i < 0 {
			lit(raw)
			break
		}
		// The placeholder ends at the first } (or %7D) after i.
		end, endLen := -1, 0
		for k := i + 1; k < len(raw); k++ {
			if raw[k] == '}' {
				end, endLen = k, 1
				break
			}
			if k+3 <= len(raw) && strings.EqualFold(raw[k:k+3], "%7D") {
				end, endLen = k, 3
				break
			}
		}
		if end < 0 {
			lit(raw)
			break
		}
		name := norm.Replace(raw[i : end+endLen])
		name = name[1 : len(name)-1]
		switch {
		case name == "topic":
			lit(raw[:i])
			t.parts = append(t.parts, targetPart{kind: partTopic})
		case name == "last_id" && allowPosition:
			lit(raw[:i])
			t.parts = append(t.parts, targetPart{kind: partLastID})
		case strings.HasPrefix(name, "data:") && len(name) > len("data:") && allowPosition:
			lit(raw[:i])
			key := name[len("data:"):]
			idx := slices.Index(t.keys, key)
			if idx < 0 {
				idx = len(t.keys)
				t.keys = append(t.keys, key)
			}
			t.parts = append(t.parts, targetPart{kind: partData, key: idx})
		default: // not a placeholder: keep the brace, look further
			lit(raw[:i+openLen])
			raw = raw[i+openLen:]
			continue
		}
		raw = raw[end+endLen:]
	}
	return t, nil
}

func parseEndpoint(raw, resume string) (endpoint, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return endpoint{}, fmt.Errorf("SSE URL: %w", err)
	}
	if u.Scheme != "http" {
		return endpoint{}, fmt.Errorf("SSE URL %q: only http:// is supported", raw)
	}
	addr := u.Host
	if u.Port() == "" {
		addr = net.JoinHostPort(u.Hostname(), "80")
	}
	e := endpoint{addr: addr, host: u.Host}
	if e.live, err = parseTarget(u.RequestURI(), false); err != nil {
		return endpoint{}, err
	}
	if resume != "" {
		r, err := url.Parse(resume)
		if err != nil {
			return endpoint{}, fmt.Errorf("resume URL: %w", err)
		}
		if r.Scheme != u.Scheme || r.Host != u.Host {
			return endpoint{}, fmt.Errorf("resume URL %q: must have the SSE URL's scheme and host", resume)
		}
		if e.resume, err = parseTarget(r.RequestURI(), true); err != nil {
			return endpoint{}, err
		}
	}
	if ip := net.ParseIP(u.Hostname()); ip != nil && ip.To4() != nil && ip.IsLoopback() {
		e.loopbackSource = true
	}
	return e, nil
}
