package auth_test

import (
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
	"unicode"

	"github.com/golang-jwt/jwt/v5"
	"github.com/nats-io/nats-server/v2/server/gsl"

	"github.com/jetsse/jetsse/pkg/auth"
	"github.com/jetsse/jetsse/pkg/topic"
)

// FuzzCovers: Covers never panics; for literal topics it agrees with
// nats-server's sublist holding the grant patterns; and a wildcard topic it
// covers has every instance covered.
func FuzzCovers(f *testing.F) {
	seeds := []struct{ grants, topic string }{
		{"orders.*", "orders.1"}, {"orders.*", "orders.>"}, {"orders.>", "orders.*"}, {">", ">"},
		{"*", "*"}, {"*", ">"}, {"*.>", ">"}, {"orders.*,orders.*.>", "orders.>"}, {"a.*,*.b", "a.b"},
		{"a.b.c", "a.b"}, {"a.b", "a.b.c"}, {"*.*.x", "a.b.x"}, {"", "a"}, {"a", ""}, {">", "a..b"},
		{">", "a.>.b"}, {"ünï.*", "ünï.x"}, {"a", "a\x00"}, {"$sys.>", "$sys.*.x"}, {"a.*.c", "a.*.c"},
	}
	for _, s := range seeds {
		f.Add(s.grants, s.topic)
	}
	f.Fuzz(func(t *testing.T, grants, tp string) {
		patterns := strings.Split(grants, ",")
		g, err := auth.NewGrants(patterns)
		if err != nil {
			if !errors.Is(err, topic.ErrInvalid) {
				t.Fatalf("NewGrants error %v does not wrap topic.ErrInvalid", err)
			}
			g = auth.Grants{}
		}
		covered := g.Covers(tp) // never panics, whatever tp is
		if covered && topic.Validate(tp, true, 0) != nil {
			t.Fatalf("invalid topic %q covered", tp)
		}
		if err != nil {
			return
		}
		sl := gsl.NewSublist[struct{}]()
		for _, p := range g.Patterns() {
			if err := sl.Insert(p, struct{}{}); err != nil {
				t.Fatalf("sublist refuses validated grant %q: %v", p, err)
			}
		}
		if topic.Validate(tp, false, 0) == nil {
			if want := sl.HasInterest(tp); covered != want {
				t.Fatalf("grants %q: Covers(%q) = %v, sublist says %v", g.Patterns(), tp, covered, want)
			}
			return
		}
		if !covered {
			return
		}
		// Every instance of a covered wildcard topic is covered: try ones
		// built from a fresh token and from the grants' own tokens.
		fills := []string{"zz9"}
		for _, p := range g.Patterns() {
			for tok := range strings.SplitSeq(p, ".") {
				if tok != "*" && tok != ">" {
					fills = append(fills, tok)
				}
			}
		}
		for _, fill := range fills[:min(len(fills), 8)] {
			for _, tail := range []string{fill, fill + "." + fill, fill + "." + fill + "." + fill} {
				toks := strings.Split(tp, ".")
				for i, tok := range toks {
					switch tok {
					case "*":
						toks[i] = fill
					case ">":
						toks[i] = tail
					}
				}
				inst := strings.Join(toks, ".")
				if !sl.HasInterest(inst) || !g.Covers(inst) {
					t.Fatalf("grants %q cover %q but not its instance %q", g.Patterns(), tp, inst)
				}
			}
		}
	})
}

// FuzzFromRequest: extraction never panics, returns only bounded tokens of
// token characters, classifies every error, and reads the scheme in any
// case.
func FuzzFromRequest(f *testing.F) {
	seeds := []struct{ header, cookie, query string }{
		{"Bearer abc.def.ghi", "", ""}, {"bearer x", "", ""}, {"BEARER  x  ", "", ""}, {"Basic dTpw", "jetsse_auth=c", ""},
		{"", "jetsse_auth=c; other=1", ""}, {"", "", "access_token=q"}, {"", "", "access_token=%zz"},
		{"Bearer", "", ""}, {"Bearer\t\tx", "", ""}, {"Bearer a b", "", ""}, {"", `jetsse_auth="quoted"`, ""},
		{"", "", "access_token=" + strings.Repeat("a", auth.MaxTokenLen+1)}, {"Bearer é", "", ""},
		{"", "", "access_token=a&access_token=b"}, {"  bEaReR y", "jetsse_auth=", "access_token="},
	}
	for _, s := range seeds {
		f.Add(s.header, s.cookie, s.query)
	}
	f.Fuzz(func(t *testing.T, header, cookie, query string) {
		r := &http.Request{Header: http.Header{}, URL: &url.URL{Path: "/events", RawQuery: query}}
		if header != "" {
			r.Header.Set("Authorization", header)
		}
		if cookie != "" {
			r.Header.Set("Cookie", cookie)
		}
		tok, src, err := auth.FromRequest(r)
		switch {
		case err == nil:
			if tok == "" || len(tok) > auth.MaxTokenLen || src == auth.SourceNone {
				t.Fatalf("FromRequest = %q (%d bytes), %q", auth.Redact(tok), len(tok), src)
			}
			for _, c := range tok {
				if unicode.IsSpace(c) || unicode.IsControl(c) || c > unicode.MaxASCII || strings.ContainsRune(`",;\`, c) {
					t.Fatalf("token %q holds %q", tok, c)
				}
			}
		case errors.Is(err, auth.ErrNoToken):
			if tok != "" || src != auth.SourceNone {
				t.Fatalf("ErrNoToken with %q, %q", tok, src)
			}
		case errors.Is(err, auth.ErrInvalidToken):
			if tok != "" || src == auth.SourceNone {
				t.Fatalf("ErrInvalidToken with %q, %q", tok, src)
			}
		default:
			t.Fatalf("unclassified error %v", err)
		}

		// The scheme's case never matters.
		trimmed := strings.TrimLeft(header, " \t")
		if len(trimmed) >= 6 && strings.EqualFold(trimmed[:6], "bearer") {
			t1, e1 := auth.ParseBearer("bearer" + trimmed[6:])
			t2, e2 := auth.ParseBearer("BEARER" + trimmed[6:])
			if t1 != t2 || (e1 == nil) != (e2 == nil) {
				t.Fatalf("scheme case matters for %q: %q, %v vs %q, %v", header, t1, e1, t2, e2)
			}
		}
	})
}

// FuzzVerify: no input panics Verify, every refusal is classified, and only
// tokens signed by the configured key pass.
func FuzzVerify(f *testing.F) {
	secret := []byte("fuzz-secret-fuzz-secret-fuzz-secret!")
	v := verifier(f, auth.Config{KeyFile: writeFile(f, f.TempDir(), "hs.key", secret, 0o600)})
	good := sign(f, jwt.SigningMethodHS256, secret, "", claims(nil))
	f.Add(good)
	f.Add(sign(f, jwt.SigningMethodHS256, secret, "", claims(map[string]any{"exp": now().Add(-time.Hour).Unix()})))
	f.Add(sign(f, jwt.SigningMethodHS256, secret, "k", claims(map[string]any{"jetsse": map[string]any{"subscribe": []string{"a..b"}}})))
	f.Add(sign(f, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, "", claims(nil)))
	f.Add(sign(f, jwt.SigningMethodHS256, []byte("another-secret-another-secret-!!!"), "", claims(nil)))
	f.Add("")
	f.Add("a.b.c")
	f.Add("e30.e30.")
	f.Add(good[:len(good)/2])
	f.Fuzz(func(t *testing.T, tok string) {
		id, err := v.Verify(tok)
		switch {
		case err == nil:
			if id.Subject == "" || id.Expires.IsZero() {
				t.Fatalf("accepted %q with identity %+v", auth.Redact(tok), id)
			}
			// Accepted: so jwt itself, with the secret, must agree.
			if _, err := jwt.Parse(tok, func(*jwt.Token) (any, error) { return secret, nil },
				jwt.WithValidMethods([]string{"HS256"}), jwt.WithTimeFunc(now)); err != nil {
				t.Fatalf("accepted a token jwt refuses: %v", err)
			}
		case errors.Is(err, auth.ErrNoToken), errors.Is(err, auth.ErrInvalidToken), errors.Is(err, auth.ErrExpired):
			if strings.Contains(err.Error(), string(secret)) {
				t.Fatalf("error holds the secret: %v", err)
			}
		default:
			t.Fatalf("unclassified error %v", err)
		}
	})
}
