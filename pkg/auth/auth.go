// Package auth owns who a client is and what it may do: the authentication
// modes, the verification of the JSON Web Tokens that carry an identity, the
// topic grants such a token holds, the extraction of a token from an HTTP
// request, and the hygiene checks on the key files behind all of it.
//
// # Modes
//
// In mode "none" there is no token: every client is anonymous and the caller
// decides what anonymous clients may do (typically [All] to subscribe). In
// mode "jwt" a [Verifier] checks each client's token against exactly one key
// source, chosen by configuration:
//
//   - a shared secret file: HS256. The secret is the file's bytes as they
//     are (not decoded), less one trailing "\n" or "\r\n". It must be at
//     least [MinSecretLen] bytes and not one byte repeated. The file must not
//     be readable or writable by group or others (see [CheckSecretFile]).
//   - a PEM public key file: RS256 for an RSA key of at least [MinRSABits]
//     bits, ES256, ES384 or ES512 for an ECDSA key on P-256, P-384 or P-521,
//     EdDSA for an Ed25519 key. A file holding a private key is refused.
//   - a JWKS file (a JSON Web Key Set, or a single JSON Web Key): every key
//     with "use" absent or "sig" is a candidate. A token names its key with
//     the "kid" header, which must match one key's "kid" exactly; a token
//     without "kid" is accepted only when the set has exactly one candidate.
//     A key's algorithm is its "alg" member when present (which must suit the
//     key: RS*/PS* for RSA, the curve's ES* for ECDSA, EdDSA for Ed25519),
//     else the one its type implies (RSA: RS256; EC: ES256, ES384, ES512 by
//     curve; OKP Ed25519: EdDSA). Symmetric ("oct") keys, private keys,
//     duplicate kids, and (in sets of more than one candidate) keys without
//     a kid make the whole file invalid.
//
// The algorithm a token may use always comes from the configured key, never
// from the token: a token whose "alg" header differs ("none", HS256 signed
// with a public key as the secret, ...) is invalid. Keys are never taken
// from a token's own headers ("jwk", "jku", "x5u", "x5c"), and a token with
// a "crit" header is refused, since no extension is understood.
//
// # Claims
//
// A valid token is signed by the configured key and carries:
//
//   - "exp": required; the token is refused from that instant on (less the
//     configured leeway; [ErrExpired]).
//   - "nbf": optional; enforced when present (with the same leeway).
//   - "iss" and "aud": enforced when the verifier is configured with an
//     issuer or an audience ("aud" may be a string or a list that holds it).
//   - "sub": required; the identity. At most [MaxSubjectLen] bytes of valid
//     UTF-8 without control characters.
//   - "jetsse": optional, {"subscribe": [patterns...], "publish":
//     [patterns...]}: the topics the holder may subscribe and publish to.
//     Each pattern is a topic as pkg/topic validates it, wildcards allowed.
//     One invalid pattern makes the whole token invalid. Absent lists grant
//     nothing.
//
// "iat" is not checked. The leeway defaults to none; [DefaultLeeway] is the
// value the caller is advised to offer as its flag's default.
//
// # Grants
//
// A [Grants] covers a requested topic, which may hold wildcards itself, when
// one of its patterns matches every subject the topic can match (NATS subset
// matching, as nats-server implements it). For literal topics that is exactly
// "some pattern matches". For wildcard topics it is conservative: a union of
// patterns that only together match every subject does not count, so
// "orders.>" is not covered by "orders.*" plus "orders.*.>".
//
// # Tokens on the wire
//
// [FromRequest] looks for the token in the Authorization header (scheme
// "Bearer", in any case), then in the cookie [CookieName], then in the query
// parameter [QueryParam], and reports which it used. Tokens longer than
// [MaxTokenLen] bytes are refused without being parsed. Tokens must never be
// logged whole: use [Redact].
//
// # Errors
//
// A token is refused with an error that wraps exactly one of [ErrNoToken],
// [ErrInvalidToken] and [ErrExpired]. The error's text names what was wrong
// (bad signature, wrong audience, unknown kid, ...) and holds neither key
// material nor the token, so it may be shown to the client as well as
// logged. Configuration errors wrap [ErrWeakKey] or [ErrInsecureKeyFile]
// when those apply.
//
// The package has no mutable package-level state; a [Verifier] is immutable
// and safe for concurrent use.
package auth

import (
	"errors"
	"fmt"
	"time"
)

// Mode is the authentication mode.
type Mode string

const (
	// ModeNone: no tokens; every client is anonymous.
	ModeNone Mode = "none"
	// ModeJWT: every client presents a JWT that a Verifier accepts.
	ModeJWT Mode = "jwt"
)

// ParseMode parses a mode name ("none" or "jwt").
func ParseMode(s string) (Mode, error) {
	switch m := Mode(s); m {
	case ModeNone, ModeJWT:
		return m, nil
	}
	return "", fmt.Errorf("auth: unknown mode %q (want %q or %q)", s, ModeNone, ModeJWT)
}

const (
	// MaxTokenLen bounds a token in bytes. Longer tokens are refused
	// (ErrTokenTooLong) before any parsing.
	MaxTokenLen = 8 << 10

	// MaxSubjectLen bounds the "sub" claim in bytes.
	MaxSubjectLen = 256

	// DefaultLeeway is the clock skew this package suggests tolerating on
	// "exp" and "nbf". A zero Config.Leeway means no leeway at all.
	DefaultLeeway = 5 * time.Second

	// MaxLeeway is the largest leeway a Verifier accepts.
	MaxLeeway = 5 * time.Minute
)

// ErrNoToken: the request carries no token at all. The client should
// authenticate.
var ErrNoToken = errors.New("auth: no token")

// ErrInvalidToken: the token is malformed, too long, signed with another key
// or algorithm, or carries claims this verifier refuses (wrong issuer or
// audience, not yet valid, missing or bad "exp", "sub" or grants).
var ErrInvalidToken = errors.New("auth: invalid token")

// ErrExpired: the token verified, and its only fault is that its "exp" has
// passed. The client should come back with a fresh token. It does not wrap
// ErrInvalidToken: test for both.
var ErrExpired = errors.New("auth: token expired")

// ErrTokenTooLong is returned for tokens over MaxTokenLen bytes. It wraps
// ErrInvalidToken.
var ErrTokenTooLong = fmt.Errorf("%w: longer than %d bytes", ErrInvalidToken, MaxTokenLen)

// ErrWeakKey is wrapped by the configuration error for key material that is
// too weak: a secret shorter than MinSecretLen or of one repeated byte, an
// RSA public key file under MinRSABits. (An RSA key under 2048 bits in a
// JWKS is refused by the JWK parser itself, with its own error.)
var ErrWeakKey = errors.New("auth: weak key")

// ErrInsecureKeyFile is wrapped by the error for a secret file that group or
// others may read or write.
var ErrInsecureKeyFile = errors.New("auth: key file is accessible by group or others")

// Identity is who a verified token says its holder is, and what it may do.
type Identity struct {
	Subject   string    // the "sub" claim, never empty for a verified token
	Expires   time.Time // the "exp" claim
	Subscribe Grants    // topics the holder may subscribe to
	Publish   Grants    // topics the holder may publish to
}

// Redact returns a form of a token fit for logs: at most its first four
// characters (none for tokens shorter than 16 bytes, or when they are not
// plain token characters), an ellipsis, and its length.
func Redact(token string) string {
	if token == "" {
		return "(empty token)"
	}
	prefix := ""
	if len(token) >= 16 && isTokenChars(token[:4]) {
		prefix = token[:4]
	}
	return fmt.Sprintf("%s…(%d bytes)", prefix, len(token))
}

// isTokenChars reports whether s holds only the characters of the HTTP
// token68 syntax (RFC 9110): letters, digits, "-._~+/" and "=".
func isTokenChars(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case c == '-', c == '.', c == '_', c == '~', c == '+', c == '/', c == '=':
		default:
			return false
		}
	}
	return true
}
