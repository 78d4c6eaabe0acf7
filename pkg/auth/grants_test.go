package auth_test

import (
	"errors"
	"slices"
	"testing"

	"github.com/jetsse/jetsse/pkg/auth"
	"github.com/jetsse/jetsse/pkg/topic"
)

func TestCovers(t *testing.T) {
	tests := []struct {
		grants []string
		topic  string
		want   bool
	}{
		// Literal topics.
		{[]string{"orders.*"}, "orders.1", true},
		{[]string{"orders.*"}, "orders.1.2", false},
		{[]string{"orders.*"}, "orders", false},
		{[]string{"orders.*"}, "users.1", false},
		{[]string{"orders.>"}, "orders.1", true},
		{[]string{"orders.>"}, "orders.1.2.3", true},
		{[]string{"orders.>"}, "orders", false},
		{[]string{"orders.1"}, "orders.1", true},
		{[]string{"orders.1"}, "orders.10", false},
		{[]string{"*"}, "orders", true},
		{[]string{"*"}, "orders.1", false},
		{[]string{">"}, "orders", true},
		{[]string{">"}, "a.b.c.d.e.f", true},
		{[]string{"*.1"}, "orders.1", true},
		{[]string{"*.*.x"}, "a.b.x", true},
		{[]string{"*.*.x"}, "a.b.y", false},
		// Wildcard topics: every subject they match must be granted.
		{[]string{"orders.*"}, "orders.>", false},
		{[]string{"orders.*"}, "orders.*", true},
		{[]string{"orders.>"}, "orders.*", true},
		{[]string{"orders.>"}, "orders.>", true},
		{[]string{"orders.>"}, "orders.*.x", true},
		{[]string{">"}, "orders.*", true},
		{[]string{">"}, ">", true},
		{[]string{">"}, "*", true},
		{[]string{"*"}, "*", true},
		{[]string{"*"}, ">", false},
		{[]string{"*.>"}, ">", false}, // ">" matches no fewer than one token, "*.>" no fewer than two
		{[]string{"*"}, "orders.*", false},
		{[]string{"orders.1"}, "orders.*", false},
		{[]string{"orders.*.x"}, "orders.*.*", false},
		{[]string{"*.*"}, "orders.*", true},
		{[]string{"orders.*"}, "*.1", false},
		{[]string{"a.*", "*.b"}, "*.b", true},
		// Per pattern: a union that covers only together does not count.
		{[]string{"orders.*", "orders.*.>"}, "orders.>", false},
		{[]string{"orders.1", "orders.*"}, "orders.*", true},
		// Nothing granted, invalid topics.
		{nil, "orders.1", false},
		{nil, ">", false},
		{[]string{">"}, "", false},
		{[]string{">"}, "a..b", false},
		{[]string{">"}, ".a", false},
		{[]string{">"}, "a.", false},
		{[]string{">"}, "a b", false},
		{[]string{">"}, "a.>.b", false},
		{[]string{">"}, "a*", false},
		{[]string{">"}, "a\x00", false},
	}
	for _, tt := range tests {
		g, err := auth.NewGrants(tt.grants)
		if err != nil {
			t.Fatalf("NewGrants(%q): %v", tt.grants, err)
		}
		if got := g.Covers(tt.topic); got != tt.want {
			t.Errorf("%q covers %q = %v, want %v", tt.grants, tt.topic, got, tt.want)
		}
	}
	if !auth.All().Covers("a.b.*.>") || !auth.All().Covers(">") {
		t.Errorf("All does not cover everything")
	}
	if (auth.Grants{}).Covers("a") || !(auth.Grants{}).Empty() {
		t.Errorf("the zero Grants grants something")
	}
}

func TestCoversAll(t *testing.T) {
	g, _ := auth.NewGrants([]string{"orders.*", "users.>"})
	tests := []struct {
		topics    []string
		uncovered string
		ok        bool
	}{
		{nil, "", true},
		{[]string{"orders.1", "users.a.b", "users.*"}, "", true},
		{[]string{"orders.1", "orders.>", "users.a"}, "orders.>", false},
		{[]string{"x", "orders.>"}, "x", false},
	}
	for _, tt := range tests {
		u, ok := g.CoversAll(tt.topics)
		if u != tt.uncovered || ok != tt.ok {
			t.Errorf("CoversAll(%q) = %q, %v; want %q, %v", tt.topics, u, ok, tt.uncovered, tt.ok)
		}
	}
}

func TestNewGrants(t *testing.T) {
	g, err := auth.NewGrants([]string{"b.*", "a", "b.*", ">"})
	if err != nil {
		t.Fatal(err)
	}
	if got := g.Patterns(); !slices.Equal(got, []string{">", "a", "b.*"}) {
		t.Errorf("Patterns = %q", got)
	}
	g.Patterns()[0] = "x"
	if g.Patterns()[0] != ">" {
		t.Errorf("Patterns returns the Grants' own slice")
	}
	if g, err := auth.NewGrants([]string{}); err != nil || !g.Empty() {
		t.Errorf("empty list: %v, %v", g, err)
	}
	for _, bad := range [][]string{{""}, {"a..b"}, {"a."}, {".a"}, {"a.>.b"}, {"a*"}, {"a b"}, {"ok", "\x7f"}, {"a.b>"}, {"\xff"}} {
		if _, err := auth.NewGrants(bad); !errors.Is(err, topic.ErrInvalid) {
			t.Errorf("NewGrants(%q) = %v, want topic.ErrInvalid", bad, err)
		}
	}
}
