package auth_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/jetsse/jetsse/pkg/auth"
)

func TestParseBearer(t *testing.T) {
	long := strings.Repeat("a", auth.MaxTokenLen)
	tests := []struct {
		header string
		token  string
		want   error // nil: token
	}{
		{"Bearer abc.def.ghi", "abc.def.ghi", nil},
		{"bearer abc", "abc", nil},
		{"BEARER abc", "abc", nil},
		{"BeArEr abc", "abc", nil},
		{"Bearer    abc   ", "abc", nil},
		{"  Bearer abc", "abc", nil},
		{"Bearer\tabc", "abc", nil},
		{"Bearer \t abc \t", "abc", nil},
		{"Bearer a-b_c~d+e/f==", "a-b_c~d+e/f==", nil},
		{"Bearer " + long, long, nil},
		{"", "", auth.ErrNoToken},
		{"   ", "", auth.ErrNoToken},
		{"Basic dXNlcjpwYXNz", "", auth.ErrNoToken},
		{"Bearerabc", "", auth.ErrNoToken},
		{"Token abc", "", auth.ErrNoToken},
		{"Bearer", "", auth.ErrInvalidToken},
		{"Bearer   ", "", auth.ErrInvalidToken},
		{"Bearer a b", "", auth.ErrInvalidToken},
		{"Bearer a,b", "", auth.ErrInvalidToken},
		{"Bearer a\x00", "", auth.ErrInvalidToken},
		{"Bearer ä", "", auth.ErrInvalidToken},
		{"Bearer " + long + "a", "", auth.ErrTokenTooLong},
	}
	for _, tt := range tests {
		tok, err := auth.ParseBearer(tt.header)
		if tt.want == nil {
			if err != nil || tok != tt.token {
				t.Errorf("ParseBearer(%.40q) = %.20q, %v; want %.20q", tt.header, tok, err, tt.token)
			}
			continue
		}
		if !errors.Is(err, tt.want) || tok != "" {
			t.Errorf("ParseBearer(%.40q) = %.20q, %v; want %v", tt.header, tok, err, tt.want)
		}
	}
}

func TestFromRequest(t *testing.T) {
	type req struct {
		auth   []string
		cookie string // a Cookie header
		query  string
	}
	tests := []struct {
		name  string
		req   req
		token string
		src   auth.Source
		want  error
	}{
		{"header", req{auth: []string{"Bearer h"}}, "h", auth.SourceHeader, nil},
		{"header, lower-case scheme", req{auth: []string{"bearer h"}}, "h", auth.SourceHeader, nil},
		{"cookie", req{cookie: "jetsse_auth=c"}, "c", auth.SourceCookie, nil},
		{"cookie among others", req{cookie: "a=1; jetsse_auth=c; b=2"}, "c", auth.SourceCookie, nil},
		{"query", req{query: "topic=a&access_token=q"}, "q", auth.SourceQuery, nil},
		{"query, escaped", req{query: "access_token=a%2Bb%3D"}, "a+b=", auth.SourceQuery, nil},
		{"header before cookie and query", req{auth: []string{"Bearer h"}, cookie: "jetsse_auth=c", query: "access_token=q"}, "h", auth.SourceHeader, nil},
		{"cookie before query", req{cookie: "jetsse_auth=c", query: "access_token=q"}, "c", auth.SourceCookie, nil},
		{"another scheme falls through", req{auth: []string{"Basic dTpw"}, cookie: "jetsse_auth=c"}, "c", auth.SourceCookie, nil},
		{"another scheme beside Bearer", req{auth: []string{"Basic dTpw", "Bearer h"}}, "h", auth.SourceHeader, nil},
		{"empty cookie falls through", req{cookie: "jetsse_auth=", query: "access_token=q"}, "q", auth.SourceQuery, nil},
		{"other cookie", req{cookie: "jetsse_auth2=c"}, "", auth.SourceNone, auth.ErrNoToken},
		{"nothing", req{}, "", auth.SourceNone, auth.ErrNoToken},
		{"empty query", req{query: "access_token="}, "", auth.SourceNone, auth.ErrNoToken},
		{"two Bearer headers", req{auth: []string{"Bearer a", "Bearer b"}}, "", auth.SourceHeader, auth.ErrInvalidToken},
		{"bad Bearer does not fall through", req{auth: []string{"Bearer"}, cookie: "jetsse_auth=c"}, "", auth.SourceHeader, auth.ErrInvalidToken},
		{"bad cookie does not fall through", req{cookie: "jetsse_auth=a!b", query: "access_token=q"}, "", auth.SourceCookie, auth.ErrInvalidToken},
		{"cookie net/http cannot parse is absent", req{cookie: `jetsse_auth=a"b`, query: "access_token=q"}, "q", auth.SourceQuery, nil},
		{"bad query", req{query: "access_token=a%20b"}, "", auth.SourceQuery, auth.ErrInvalidToken},
		{"long query", req{query: "access_token=" + strings.Repeat("x", auth.MaxTokenLen+1)}, "", auth.SourceQuery, auth.ErrTokenTooLong},
		{"long cookie", req{cookie: "jetsse_auth=" + strings.Repeat("x", auth.MaxTokenLen+1)}, "", auth.SourceCookie, auth.ErrTokenTooLong},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, "/events?"+tt.req.query, nil)
			for _, a := range tt.req.auth {
				r.Header.Add("Authorization", a)
			}
			if tt.req.cookie != "" {
				r.Header.Set("Cookie", tt.req.cookie)
			}
			tok, src, err := auth.FromRequest(r)
			if tok != tt.token || src != tt.src || !errors.Is(err, tt.want) {
				t.Errorf("FromRequest = %.20q, %q, %v; want %.20q, %q, %v", tok, src, err, tt.token, tt.src, tt.want)
			}
		})
	}
}
