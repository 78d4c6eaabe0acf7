package topic_test

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/jetsse/jetsse/pkg/topic"
)

func TestValidate(t *testing.T) {
	good := []struct {
		t  string
		wc bool
	}{
		{"orders", false}, {"orders.42", false}, {"orders.*", true}, {"orders.>", true}, {">", true},
		{"*.*.x", true}, {"ünïcødé.主题", false}, {"a-b_c:d", false}, {"$sys.x", false},
	}
	for _, g := range good {
		if err := topic.Validate(g.t, g.wc, 256); err != nil {
			t.Errorf("Validate(%q, %v) = %v", g.t, g.wc, err)
		}
	}
	bad := []struct {
		t  string
		wc bool
	}{
		{"", true}, {"a b", true}, {"a\tb", true}, {"a..b", true}, {".a", true}, {"a.", true},
		{"a.>.b", true}, {"a*", true}, {"a.b>", true}, {"orders.*", false}, {"orders.>", false},
		{"a\x00b", true}, {"a\x7fb", true}, {"a\u200bb", true}, {"a\u202eb", true}, {"\xff", true},
		{"a\u0085b", true}, {strings.Repeat("a", 257), true},
	}
	for _, b := range bad {
		err := topic.Validate(b.t, b.wc, 256)
		if !errors.Is(err, topic.ErrInvalid) {
			t.Errorf("Validate(%q, %v) = %v, want ErrInvalid", b.t, b.wc, err)
		}
	}
}

func TestSet(t *testing.T) {
	s, err := topic.NewSet([]string{"orders.1", "orders.*", "orders.*", "users.>", "users.a.b", "x"}, topic.Limits{MaxTopics: 32})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"orders.*", "users.>", "x"}; !slices.Equal(s.Topics(), want) {
		t.Fatalf("Topics = %v, want %v", s.Topics(), want)
	}
	for subj, want := range map[string]bool{"orders.1": true, "orders.1.2": false, "users.a": true, "users.a.b.c": true, "x": true, "x.y": false, "y": false} {
		if got := s.Match(subj); got != want {
			t.Errorf("Match(%q) = %v, want %v", subj, got, want)
		}
	}
	if s.Overlapping() {
		t.Errorf("normalised set reported as overlapping")
	}
	// Sets without wildcards: one topic, and several.
	for _, c := range []struct {
		topics []string
		match  map[string]bool
	}{
		{[]string{"a.b"}, map[string]bool{"a.b": true, "a": false, "a.b.c": false, "a.bb": false, "b": false}},
		{[]string{"x", "a.b", "c"}, map[string]bool{"a.b": true, "x": true, "c": true, "a": false, "x.y": false, "cc": false}},
	} {
		ls, err := topic.NewSet(c.topics, topic.Limits{})
		if err != nil {
			t.Fatal(err)
		}
		for subj, want := range c.match {
			if got := ls.Match(subj); got != want {
				t.Errorf("%v: Match(%q) = %v, want %v", c.topics, subj, got, want)
			}
		}
	}
	o, _ := topic.NewSet([]string{"a.*", "*.b"}, topic.Limits{})
	if !o.Overlapping() {
		t.Errorf("a.* and *.b not reported as overlapping")
	}
	if _, err := topic.NewSet(nil, topic.Limits{}); !errors.Is(err, topic.ErrInvalid) {
		t.Errorf("empty set: %v", err)
	}
	many := make([]string, 33)
	for i := range many {
		many[i] = "t" + strings.Repeat("x", i)
	}
	if _, err := topic.NewSet(many, topic.Limits{MaxTopics: 32}); !errors.Is(err, topic.ErrInvalid) {
		t.Errorf("33 topics: %v", err)
	}
}
