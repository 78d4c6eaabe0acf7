package validate

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// A small reader of nginx configuration: directives, their arguments and
// blocks, enough to follow which location serves a path and what it
// inherits. It reads the syntax nginx does (comments, quotes, ; { }), not
// the semantics of every module.

type ngxDirective struct {
	name  string
	args  []string
	block []*ngxDirective // nil for a simple directive
	line  int
}

func tokenizeNginx(src string) ([]ngxToken, error) {
	var toks []ngxToken
	line := 1
	for i := 0; i < len(src); {
		c := src[i]
		switch {
		case c == '\n':
			line++
			i++
		case c == ' ' || c == '\t' || c == '\r':
			i++
		case c == '#':
			for i < len(src) && src[i] != '\n' {
				i++
			}
		case c == ';' || c == '{' || c == '}':
			toks = append(toks, ngxToken{text: string(c), punct: true, line: line})
			i++
		case c == '"' || c == '\'':
			j := i + 1
			var b strings.Builder
			for j < len(src) && src[j] != c {
				if src[j] == '\\' && j+1 < len(src) {
					j++
				}
				if src[j] == '\n' {
					line++
				}
				b.WriteByte(src[j])
				j++
			}
			if j >= len(src) {
				return nil, fmt.Errorf("line %d: unterminated quote", line)
			}
			toks = append(toks, ngxToken{text: b.String(), line: line})
			i = j + 1
		default:
			j := i
			for j < len(src) && !strings.ContainsRune(" \t\r\n;{}", rune(src[j])) {
				j++
			}
			toks = append(toks, ngxToken{text: src[i:j], line: line})
			i = j
		}
	}
	return toks, nil
}

type ngxToken struct {
	text  string
	punct bool
	line  int
}

func parseNginx(src string) ([]*ngxDirective, error) {
	toks, err := tokenizeNginx(src)
	if err != nil {
		return nil, err
	}
	pos := 0
	var parse func(depth int) ([]*ngxDirective, error)
	parse = func(depth int) ([]*ngxDirective, error) {
		var out []*ngxDirective
		for pos < len(toks) {
			t := toks[pos]
			if t.punct && t.text == "}" {
				if depth == 0 {
					return nil, fmt.Errorf("line %d: unexpected }", t.line)
				}
				pos++
				return out, nil
			}
			if t.punct {
				return nil, fmt.Errorf("line %d: unexpected %q", t.line, t.text)
			}
			d := &ngxDirective{name: t.text, line: t.line}
			pos++
			for pos < len(toks) && !toks[pos].punct {
				d.args = append(d.args, toks[pos].text)
				pos++
			}
			if pos >= len(toks) {
				return nil, fmt.Errorf("line %d: %s is not terminated", d.line, d.name)
			}
			switch toks[pos].text {
			case ";":
				pos++
			case "{":
				pos++
				block, err := parse(depth + 1)
				if err != nil {
					return nil, err
				}
				d.block = block
				if d.block == nil {
					d.block = []*ngxDirective{}
				}
			default:
				return nil, fmt.Errorf("line %d: unexpected }", toks[pos].line)
			}
			out = append(out, d)
		}
		if depth != 0 {
			return nil, fmt.Errorf("unbalanced braces")
		}
		return out, nil
	}
	return parse(0)
}

func ngxAll(ds []*ngxDirective, name string) []*ngxDirective {
	var out []*ngxDirective
	for _, d := range ds {
		if d.name == name {
			out = append(out, d)
		}
	}
	return out
}

// ngxScopes is a location and what encloses it, innermost first.
type ngxScopes [][]*ngxDirective

// value is the effective single-valued directive: the innermost scope that
// sets it wins.
func (s ngxScopes) value(name string) ([]string, bool) {
	for _, scope := range s {
		if ds := ngxAll(scope, name); len(ds) > 0 {
			return ds[len(ds)-1].args, true
		}
	}
	return nil, false
}

// array is the effective array directive (proxy_set_header and the like):
// a scope that sets any of them replaces everything it would inherit.
func (s ngxScopes) array(name string) [][]string {
	for _, scope := range s {
		if ds := ngxAll(scope, name); len(ds) > 0 {
			var out [][]string
			for _, d := range ds {
				out = append(out, d.args)
			}
			return out
		}
	}
	return nil
}

// locationFor returns the location of server that serves path, following
// nginx's order: an exact match, else the longest prefix. Regular
// expression locations are reported as unsupported.
func locationFor(server *ngxDirective, path string) (*ngxDirective, error) {
	var best *ngxDirective
	bestLen := -1
	for _, loc := range ngxAll(server.block, "location") {
		switch {
		case len(loc.args) == 2 && loc.args[0] == "=":
			if loc.args[1] == path {
				return loc, nil
			}
		case len(loc.args) == 2 && (loc.args[0] == "~" || loc.args[0] == "~*"):
			return nil, fmt.Errorf("line %d: regular expression locations are not evaluated by this test", loc.line)
		case len(loc.args) == 2 && loc.args[0] == "^~", len(loc.args) == 1:
			prefix := loc.args[len(loc.args)-1]
			if strings.HasPrefix(path, prefix) && len(prefix) > bestLen {
				best, bestLen = loc, len(prefix)
			}
		default:
			return nil, fmt.Errorf("line %d: location %v not understood", loc.line, loc.args)
		}
	}
	if best == nil {
		return nil, fmt.Errorf("no location serves %s", path)
	}
	return best, nil
}

// ngxDuration parses an nginx time ("1h", "60s", "500ms", "30": seconds).
func ngxDuration(s string) (time.Duration, error) {
	if n, err := strconv.Atoi(s); err == nil {
		return time.Duration(n) * time.Second, nil
	}
	if strings.HasSuffix(s, "d") {
		n, err := strconv.Atoi(strings.TrimSuffix(s, "d"))
		return time.Duration(n) * 24 * time.Hour, err
	}
	return time.ParseDuration(s)
}
