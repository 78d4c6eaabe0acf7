package auth

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
)

const (
	// CookieName is the cookie FromRequest reads a token from. The caller
	// that sets it should make it HttpOnly, Secure and SameSite.
	CookieName = "jetsse_auth"

	// QueryParam is the query parameter FromRequest reads a token from, for
	// clients such as EventSource that can set neither headers nor cookies.
	// URLs end up in logs: the caller must not log this parameter.
	QueryParam = "access_token"
)

// Source says where FromRequest found a token.
type Source string

const (
	SourceNone   Source = ""              // no token
	SourceHeader Source = "authorization" // Authorization: Bearer <token>
	SourceCookie Source = "cookie"        // the CookieName cookie
	SourceQuery  Source = "query"         // the QueryParam query parameter
)

// FromRequest returns the token a request carries and where it was found,
// looking in order at:
//
//  1. the Authorization header with the scheme "Bearer" in any case (a
//     header with another scheme is ignored, more than one Bearer header is
//     an error),
//  2. the cookie CookieName (if not empty),
//  3. the query parameter QueryParam (if not empty).
//
// The first source present is the one used: a malformed token there is an
// error, not a reason to look further. The error wraps ErrNoToken when no
// source holds a token, else ErrInvalidToken (ErrTokenTooLong past
// MaxTokenLen, or characters outside the HTTP token68 syntax). A token
// returned is never empty nor longer than MaxTokenLen.
func FromRequest(r *http.Request) (token string, src Source, err error) {
	bearers := 0
	for _, h := range r.Header.Values("Authorization") {
		t, err := ParseBearer(h)
		if errors.Is(err, ErrNoToken) {
			continue // empty, or another scheme
		}
		if bearers++; bearers > 1 {
			return "", SourceHeader, fmt.Errorf("%w: more than one Bearer Authorization header", ErrInvalidToken)
		}
		if err != nil {
			return "", SourceHeader, err
		}
		token = t
	}
	if bearers > 0 {
		return token, SourceHeader, nil
	}
	if c, err := r.Cookie(CookieName); err == nil && c.Value != "" {
		if err := checkToken(c.Value); err != nil {
			return "", SourceCookie, err
		}
		return c.Value, SourceCookie, nil
	}
	if r.URL != nil {
		if t := r.URL.Query().Get(QueryParam); t != "" {
			if err := checkToken(t); err != nil {
				return "", SourceQuery, err
			}
			return t, SourceQuery, nil
		}
	}
	return "", SourceNone, ErrNoToken
}

// ParseBearer returns the token of an Authorization header value of the form
// "Bearer <token>": the scheme in any case, spaces and tabs around the
// token trimmed. The error wraps ErrNoToken for an empty header or another
// scheme, and ErrInvalidToken for an empty, too long (ErrTokenTooLong) or
// malformed token.
func ParseBearer(header string) (string, error) {
	h := strings.Trim(header, " \t")
	if h == "" {
		return "", ErrNoToken
	}
	scheme, rest := h, ""
	if i := strings.IndexAny(h, " \t"); i >= 0 {
		scheme, rest = h[:i], h[i+1:]
	}
	if !strings.EqualFold(scheme, "Bearer") {
		return "", fmt.Errorf("%w: the Authorization scheme is not Bearer", ErrNoToken)
	}
	t := strings.Trim(rest, " \t")
	if t == "" {
		return "", fmt.Errorf("%w: empty Bearer token", ErrInvalidToken)
	}
	if err := checkToken(t); err != nil {
		return "", err
	}
	return t, nil
}

// checkToken bounds a token's length and characters.
func checkToken(t string) error {
	if len(t) > MaxTokenLen {
		return ErrTokenTooLong
	}
	if !isTokenChars(t) {
		return fmt.Errorf("%w: characters outside the token syntax", ErrInvalidToken)
	}
	return nil
}
