// Package topic validates jetsse topics and matches them against subjects.
//
// A topic is a NATS subject relative to the stream's prefix: dot-separated
// non-empty tokens of printable, non-space UTF-8. Subscriptions may use the
// wildcards "*" (one token) and ">" (one or more tokens, last only);
// publishes may not. Matching uses nats-server's generic sublist.
package topic

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats-server/v2/server/gsl"
)

// Error describes why a topic was rejected. It wraps ErrInvalid.
type Error struct {
	Topic  string
	Reason string
	// Limit names the configured limit the topic broke ("topics": too many
	// topics, "topic_bytes": too long), or is "" for a malformed topic.
	Limit string
}

func (e *Error) Error() string {
	t := e.Topic
	if len(t) > 64 {
		t = t[:64] + "…"
	}
	return fmt.Sprintf("invalid topic %q: %s", t, e.Reason)
}

func (e *Error) Unwrap() error { return ErrInvalid }

// ErrInvalid is wrapped by every topic validation error.
var ErrInvalid = errors.New("invalid topic")

// Validate checks one topic. wildcards says whether "*" and ">" tokens are
// allowed (subscriptions) or not (publishes); maxLen bounds its length in
// bytes (0: no bound).
func Validate(t string, wildcards bool, maxLen int) error {
	bad := func(reason string) error { return &Error{Topic: t, Reason: reason} }
	if t == "" {
		return bad("empty")
	}
	if maxLen > 0 && len(t) > maxLen {
		return &Error{Topic: t, Reason: fmt.Sprintf("longer than %d bytes", maxLen), Limit: "topic_bytes"}
	}
	if !utf8.ValidString(t) {
		return bad("not valid UTF-8")
	}
	// Every publish is validated: ASCII without unicode tables, tokens
	// without splitting.
	for i := 0; i < len(t); {
		if c := t[i]; c < utf8.RuneSelf {
			if c <= ' ' || c == 0x7f { // ASCII white space and controls
				return bad("contains white space, a control or a format character")
			}
			i++
			continue
		}
		r, n := utf8.DecodeRuneInString(t[i:])
		if unicode.IsSpace(r) || unicode.IsControl(r) || r == utf8.RuneError || unicode.Is(unicode.Cf, r) {
			return bad("contains white space, a control or a format character")
		}
		i += n
	}
	for rest := t; ; {
		tok, after, more := strings.Cut(rest, ".")
		switch {
		case tok == "":
			return bad("empty token")
		case tok == "*" || tok == ">":
			if !wildcards {
				return bad("wildcards are not allowed when publishing")
			}
			if tok == ">" && more {
				return bad(`">" must be the last token`)
			}
		case strings.ContainsAny(tok, "*>"):
			return bad(`"*" and ">" must be whole tokens`)
		}
		if !more {
			return nil
		}
		rest = after
	}
}

// Set is a validated, normalised set of subscription topics.
type Set struct {
	topics []string
	sl     *gsl.GenericSublist[struct{}]
	// literals holds the topics when none is a wildcard: Match is then a
	// map lookup (or a comparison), not a walk of the sublist under its
	// lock. A resume filters every cached event through Match.
	literals map[string]struct{}
}

// Limits bound a subscription.
type Limits struct {
	MaxTopics int // 0: no bound
	MaxLen    int // 0: no bound
}

// ErrNoTopic is returned by NewSet for an empty list.
var ErrNoTopic = &Error{Topic: "", Reason: "at least one topic is required"}

// NewSet validates topics and returns them as a Set: duplicates and topics
// covered by a wildcard topic of the same set are dropped, the rest sorted.
func NewSet(topics []string, lim Limits) (*Set, error) {
	if len(topics) == 0 {
		return nil, ErrNoTopic
	}
	if lim.MaxTopics > 0 && len(topics) > lim.MaxTopics {
		return nil, &Error{Topic: topics[0], Reason: fmt.Sprintf("at most %d topics per subscription", lim.MaxTopics), Limit: "topics"}
	}
	for _, t := range topics {
		if err := Validate(t, true, lim.MaxLen); err != nil {
			return nil, err
		}
	}
	uniq := slices.Clone(topics)
	slices.Sort(uniq)
	uniq = slices.Compact(uniq)
	var kept []string
	for _, t := range uniq {
		covered := false
		for _, o := range uniq {
			if o != t && server.SubjectMatchesFilter(t, o) {
				covered = true
				break
			}
		}
		if !covered {
			kept = append(kept, t)
		}
	}
	s := &Set{topics: kept, sl: gsl.NewSublist[struct{}](), literals: map[string]struct{}{}}
	for _, t := range kept {
		if err := s.sl.Insert(t, struct{}{}); err != nil {
			return nil, &Error{Topic: t, Reason: err.Error()}
		}
		if strings.ContainsAny(t, "*>") {
			s.literals = nil
		} else if s.literals != nil {
			s.literals[t] = struct{}{}
		}
	}
	return s, nil
}

// Topics returns the normalised topics. The caller must not modify it.
func (s *Set) Topics() []string { return s.topics }

// Match reports whether topic (a literal topic, without the prefix) is in
// the set.
func (s *Set) Match(topic string) bool {
	switch {
	case s.literals == nil:
		return s.sl.HasInterest(topic)
	case len(s.topics) == 1:
		return topic == s.topics[0]
	}
	_, ok := s.literals[topic]
	return ok
}

// Overlapping reports whether two topics of the set can match the same
// subject (for example "a.*" and "*.b"). JetStream refuses such filter lists
// on one consumer.
func (s *Set) Overlapping() bool {
	for i := range s.topics {
		for j := i + 1; j < len(s.topics); j++ {
			if server.SubjectsCollide(s.topics[i], s.topics[j]) {
				return true
			}
		}
	}
	return false
}

// Equal reports whether two sets hold the same topics.
func (s *Set) Equal(o *Set) bool { return slices.Equal(s.topics, o.topics) }
