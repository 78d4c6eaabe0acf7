package topic_test

import (
	"errors"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/jetsse/jetsse/pkg/topic"
	"github.com/nats-io/nats-server/v2/server"
)

// FuzzValidate: Validate never panics, and a topic it accepts is valid
// UTF-8 without white space, control or format characters, made of
// non-empty tokens with wildcards only as whole tokens (">" last), and none
// at all when wildcards are not allowed.
func FuzzValidate(f *testing.F) {
	for _, s := range []string{"orders", "orders.*", "orders.>", ">", "*", "a..b", ".a", "a.", "a b", "a\tb",
		"a\x00", "a\u200bb", "a\u0085b", "\xff", "a.>.b", "a*", "ünïcødé.主题", "$sys.x", "a.b>", ""} {
		f.Add(s, true)
		f.Add(s, false)
	}
	f.Fuzz(func(t *testing.T, s string, wildcards bool) {
		err := topic.Validate(s, wildcards, 256)
		if err != nil {
			if !errors.Is(err, topic.ErrInvalid) {
				t.Fatalf("error %v does not wrap ErrInvalid", err)
			}
			_ = err.Error()
			return
		}
		if s == "" || len(s) > 256 || !utf8.ValidString(s) {
			t.Fatalf("accepted %q", s)
		}
		for _, r := range s {
			if unicode.IsSpace(r) || unicode.IsControl(r) || unicode.Is(unicode.Cf, r) || r == utf8.RuneError {
				t.Fatalf("accepted %q holding %U", s, r)
			}
		}
		toks := strings.Split(s, ".")
		for i, tok := range toks {
			if tok == "" {
				t.Fatalf("accepted %q with an empty token", s)
			}
			wc := tok == "*" || tok == ">"
			if wc && !wildcards {
				t.Fatalf("accepted wildcard %q for a publish", s)
			}
			if !wc && strings.ContainsAny(tok, "*>") {
				t.Fatalf("accepted %q with a partial wildcard", s)
			}
			if tok == ">" && i != len(toks)-1 {
				t.Fatalf("accepted %q with > before the end", s)
			}
		}
	})
}

// FuzzNewSet: NewSet never panics; an accepted set holds only valid topics,
// matches every literal topic it was given, and normalises to itself.
func FuzzNewSet(f *testing.F) {
	for _, s := range []string{"orders.1,orders.*,users.>", "a,a", "a.*,*.b", ">,a", "", ",", "a..b,c", "x.>,x.*.y"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, list string) {
		topics := strings.Split(list, ",")
		s, err := topic.NewSet(topics, topic.Limits{MaxTopics: 32, MaxLen: 256})
		if err != nil {
			if !errors.Is(err, topic.ErrInvalid) {
				t.Fatalf("error %v does not wrap ErrInvalid", err)
			}
			return
		}
		for _, tp := range s.Topics() {
			if err := topic.Validate(tp, true, 256); err != nil {
				t.Fatalf("set holds invalid %q: %v", tp, err)
			}
		}
		for _, tp := range topics {
			if topic.Validate(tp, false, 0) == nil && !s.Match(tp) {
				t.Fatalf("set %q does not match its own %q", s.Topics(), tp)
			}
			// Match agrees with NATS subject matching on literal topics
			// near the set's (longer, shorter, other), wildcard or not.
			for _, probe := range []string{tp, tp + ".x", "x." + tp, tp[:len(tp)/2], "x"} {
				if topic.Validate(probe, false, 0) != nil {
					continue
				}
				want := false
				for _, ft := range s.Topics() {
					want = want || server.SubjectMatchesFilter(probe, ft)
				}
				if got := s.Match(probe); got != want {
					t.Fatalf("set %q: Match(%q) = %v, want %v", s.Topics(), probe, got, want)
				}
			}
		}
		again, err := topic.NewSet(s.Topics(), topic.Limits{})
		if err != nil || !again.Equal(s) {
			t.Fatalf("set %q does not normalise to itself: %v", s.Topics(), err)
		}
		_ = s.Overlapping()
	})
}
