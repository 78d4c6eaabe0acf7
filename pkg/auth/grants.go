package auth

import (
	"slices"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/jetsse/jetsse/pkg/topic"
)

// Grants is a validated set of topic patterns: what an identity may
// subscribe or publish to. The zero Grants grants nothing. A Grants is
// immutable and safe for concurrent use.
type Grants struct {
	patterns []string // valid, sorted, without duplicates
}

// NewGrants validates patterns (topics as topic.Validate accepts them with
// wildcards) and returns them as Grants. An empty list grants nothing. The
// error for an invalid pattern wraps topic.ErrInvalid.
func NewGrants(patterns []string) (Grants, error) {
	for _, p := range patterns {
		if err := topic.Validate(p, true, 0); err != nil {
			return Grants{}, err
		}
	}
	if len(patterns) == 0 {
		return Grants{}, nil
	}
	ps := slices.Clone(patterns)
	slices.Sort(ps)
	return Grants{patterns: slices.Compact(ps)}, nil
}

// All returns the Grants that cover every topic: the single pattern ">".
func All() Grants { return Grants{patterns: []string{">"}} }

// Patterns returns a copy of the patterns, sorted.
func (g Grants) Patterns() []string { return slices.Clone(g.patterns) }

// Empty reports whether g grants nothing.
func (g Grants) Empty() bool { return len(g.patterns) == 0 }

// Covers reports whether some pattern of g matches every subject that t can
// match. t is a topic and may hold wildcards: "orders.1" is covered by
// "orders.*"; "orders.*" by "orders.*", "orders.>" or ">"; "orders.>" by
// "orders.>" or ">", but not by "orders.*". A t that topic.Validate refuses
// is never covered. See the package doc for why the check is per pattern.
func (g Grants) Covers(t string) bool {
	if len(g.patterns) == 0 || topic.Validate(t, true, 0) != nil {
		return false
	}
	for _, p := range g.patterns {
		if server.SubjectMatchesFilter(t, p) {
			return true
		}
	}
	return false
}

// CoversAll reports whether g covers every topic of ts; if not, it returns
// the first topic it does not cover. An empty ts is covered.
func (g Grants) CoversAll(ts []string) (uncovered string, ok bool) {
	for _, t := range ts {
		if !g.Covers(t) {
			return t, false
		}
	}
	return "", true
}
