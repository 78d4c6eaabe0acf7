package auth_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/jetsse/jetsse/pkg/auth"
	"github.com/jetsse/jetsse/pkg/topic"
)

// source is one way to configure a Verifier, with the matching signer.
type source struct {
	name   string
	cfg    auth.Config
	method jwt.SigningMethod
	key    any    // signing key
	kid    string // kid to put in tokens
	alg    string // what Algorithms() must say
}

// sources writes one key file of each kind into a temporary directory.
func sources(tb testing.TB, k keySet) []source {
	tb.Helper()
	dir := tb.TempDir()
	return []source{
		{name: "HS256 secret file", cfg: auth.Config{KeyFile: writeFile(tb, dir, "hs.key", append(k.secret, '\n'), 0o600)},
			method: jwt.SigningMethodHS256, key: k.secret, alg: "HS256"},
		{name: "RSA PEM", cfg: auth.Config{PublicKeyFile: writeFile(tb, dir, "rsa.pem", pemPublic(tb, &k.rsa.PublicKey), 0o644)},
			method: jwt.SigningMethodRS256, key: k.rsa, alg: "RS256"},
		{name: "ECDSA PEM", cfg: auth.Config{PublicKeyFile: writeFile(tb, dir, "ec.pem", pemPublic(tb, &k.ec.PublicKey), 0o644)},
			method: jwt.SigningMethodES256, key: k.ec, alg: "ES256"},
		{name: "Ed25519 PEM", cfg: auth.Config{PublicKeyFile: writeFile(tb, dir, "ed.pem", pemPublic(tb, k.ed.Public()), 0o644)},
			method: jwt.SigningMethodEdDSA, key: k.ed, alg: "EdDSA"},
		{name: "RSA JWKS", cfg: auth.Config{JWKSFile: writeFile(tb, dir, "rsa.jwks", jwks(tb, jwkMap(tb, &k.rsa.PublicKey, map[string]any{"kid": "r1"})), 0o644)},
			method: jwt.SigningMethodRS256, key: k.rsa, kid: "r1", alg: "RS256"},
		{name: "ECDSA JWKS", cfg: auth.Config{JWKSFile: writeFile(tb, dir, "ec.jwks", jwks(tb, jwkMap(tb, &k.ec.PublicKey, map[string]any{"kid": "e1", "alg": "ES256", "use": "sig"})), 0o644)},
			method: jwt.SigningMethodES256, key: k.ec, kid: "e1", alg: "ES256"},
		{name: "Ed25519 JWKS", cfg: auth.Config{JWKSFile: writeFile(tb, dir, "ed.jwks", jwks(tb, jwkMap(tb, k.ed.Public(), map[string]any{"kid": "d1"})), 0o644)},
			method: jwt.SigningMethodEdDSA, key: k.ed, kid: "d1", alg: "EdDSA"},
	}
}

func TestVerifyKeyKinds(t *testing.T) {
	k, other := newKeys(t), newKeys(t)
	others := sources(t, other)
	for i, s := range sources(t, k) {
		t.Run(s.name, func(t *testing.T) {
			v := verifier(t, s.cfg)
			if got := v.Algorithms(); !slices.Equal(got, []string{s.alg}) {
				t.Errorf("Algorithms = %v, want [%s]", got, s.alg)
			}
			id, err := v.Verify(sign(t, s.method, s.key, s.kid, claims(nil)))
			if err != nil {
				t.Fatalf("valid token: %v", err)
			}
			if id.Subject != "alice" || !id.Expires.Equal(now().Add(time.Hour)) {
				t.Errorf("identity = %+v", id)
			}
			if got := id.Subscribe.Patterns(); !slices.Equal(got, []string{"orders.*", "users.alice.>"}) {
				t.Errorf("subscribe grants = %v", got)
			}
			if got := id.Publish.Patterns(); !slices.Equal(got, []string{"orders.1"}) {
				t.Errorf("publish grants = %v", got)
			}
			if !id.Subscribe.Covers("orders.42") || id.Publish.Covers("orders.2") {
				t.Errorf("grants do not cover as parsed")
			}
			o := others[i]
			_, err = v.Verify(sign(t, o.method, o.key, s.kid, claims(nil)))
			if !errors.Is(err, auth.ErrInvalidToken) {
				t.Errorf("token of another key: err = %v, want ErrInvalidToken", err)
			}
			if err != nil && strings.Contains(err.Error(), string(k.secret)) {
				t.Errorf("error holds the secret")
			}
		})
	}
}

func TestVerifyClaims(t *testing.T) {
	k := newKeys(t)
	dir := t.TempDir()
	base := auth.Config{
		PublicKeyFile: writeFile(t, dir, "rsa.pem", pemPublic(t, &k.rsa.PublicKey), 0o644),
		Issuer:        "https://issuer.example",
		Audience:      "jetsse",
	}
	lenient := base
	lenient.Leeway = 5 * time.Second
	strict := verifier(t, base)
	leeway := verifier(t, lenient)
	unix := func(d time.Duration) int64 { return now().Add(d).Unix() }
	tests := []struct {
		name    string
		v       *auth.Verifier
		changes map[string]any
		want    error // nil: valid
	}{
		{"valid", strict, nil, nil},
		{"no grants", strict, map[string]any{"jetsse": nil}, nil},
		{"empty grants", strict, map[string]any{"jetsse": map[string]any{}}, nil},
		{"expired", strict, map[string]any{"exp": unix(-time.Second)}, auth.ErrExpired},
		{"expires now", strict, map[string]any{"exp": unix(0)}, auth.ErrExpired},
		{"expired within leeway", leeway, map[string]any{"exp": unix(-3 * time.Second)}, nil},
		{"expired beyond leeway", leeway, map[string]any{"exp": unix(-6 * time.Second)}, auth.ErrExpired},
		{"expired and wrong issuer", strict, map[string]any{"exp": unix(-time.Hour), "iss": "evil"}, auth.ErrInvalidToken},
		{"expired and no sub", strict, map[string]any{"exp": unix(-time.Hour), "sub": nil}, auth.ErrInvalidToken},
		{"missing exp", strict, map[string]any{"exp": nil}, auth.ErrInvalidToken},
		{"exp not a number", strict, map[string]any{"exp": "tomorrow"}, auth.ErrInvalidToken},
		{"nbf in the past", strict, map[string]any{"nbf": unix(-time.Minute)}, nil},
		{"nbf in the future", strict, map[string]any{"nbf": unix(time.Minute)}, auth.ErrInvalidToken},
		{"nbf within leeway", leeway, map[string]any{"nbf": unix(3 * time.Second)}, nil},
		{"wrong issuer", strict, map[string]any{"iss": "https://evil.example"}, auth.ErrInvalidToken},
		{"missing issuer", strict, map[string]any{"iss": nil}, auth.ErrInvalidToken},
		{"wrong audience", strict, map[string]any{"aud": "other"}, auth.ErrInvalidToken},
		{"audience list holding it", strict, map[string]any{"aud": []string{"other", "jetsse"}}, nil},
		{"audience list without it", strict, map[string]any{"aud": []string{"other"}}, auth.ErrInvalidToken},
		{"missing audience", strict, map[string]any{"aud": nil}, auth.ErrInvalidToken},
		{"missing sub", strict, map[string]any{"sub": nil}, auth.ErrInvalidToken},
		{"empty sub", strict, map[string]any{"sub": ""}, auth.ErrInvalidToken},
		{"sub with a control character", strict, map[string]any{"sub": "alice\nadmin"}, auth.ErrInvalidToken},
		{"sub too long", strict, map[string]any{"sub": strings.Repeat("a", auth.MaxSubjectLen+1)}, auth.ErrInvalidToken},
		{"invalid subscribe grant", strict, map[string]any{"jetsse": map[string]any{"subscribe": []string{"orders.*", "orders..x"}}}, auth.ErrInvalidToken},
		{"invalid publish grant", strict, map[string]any{"jetsse": map[string]any{"publish": []string{"a.>.b"}}}, auth.ErrInvalidToken},
		{"empty grant", strict, map[string]any{"jetsse": map[string]any{"publish": []string{""}}}, auth.ErrInvalidToken},
		{"grants not a list", strict, map[string]any{"jetsse": map[string]any{"subscribe": "orders.*"}}, auth.ErrInvalidToken},
		{"jetsse claim not an object", strict, map[string]any{"jetsse": []string{"x"}}, auth.ErrInvalidToken},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id, err := tt.v.Verify(sign(t, jwt.SigningMethodRS256, k.rsa, "", claims(tt.changes)))
			if tt.want == nil {
				if err != nil || id.Subject == "" {
					t.Fatalf("Verify = %+v, %v; want valid", id, err)
				}
				return
			}
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
			if tt.want == auth.ErrExpired && errors.Is(err, auth.ErrInvalidToken) {
				t.Errorf("ErrExpired also wraps ErrInvalidToken")
			}
			if id.Subject != "" || !id.Subscribe.Empty() || !id.Publish.Empty() {
				t.Errorf("identity %+v returned with error", id)
			}
		})
	}
	if !errors.Is(func() error {
		_, err := strict.Verify(sign(t, jwt.SigningMethodRS256, k.rsa, "", claims(map[string]any{"jetsse": map[string]any{"subscribe": []string{"a b"}}})))
		return err
	}(), auth.ErrInvalidToken) {
		t.Errorf("a grant with a space accepted")
	}
}

func TestVerifyMalformed(t *testing.T) {
	k := newKeys(t)
	dir := t.TempDir()
	v := verifier(t, auth.Config{KeyFile: writeFile(t, dir, "hs.key", k.secret, 0o600)})
	good := sign(t, jwt.SigningMethodHS256, k.secret, "", claims(nil))
	if _, err := v.Verify(""); !errors.Is(err, auth.ErrNoToken) {
		t.Errorf("empty token: %v, want ErrNoToken", err)
	}
	parts := strings.Split(good, ".")
	crit := jwt.NewWithClaims(jwt.SigningMethodHS256, claims(nil))
	crit.Header["crit"] = []string{"exp"}
	critTok, _ := crit.SignedString(k.secret)
	for name, tok := range map[string]string{
		"one segment":         "abc",
		"two segments":        parts[0] + "." + parts[1],
		"four segments":       good + ".x",
		"bad base64":          "!!!." + parts[1] + "." + parts[2],
		"tampered payload":    parts[0] + "." + parts[1][:len(parts[1])-2] + "AA." + parts[2],
		"truncated signature": good[:len(good)-4],
		"too long":            good + strings.Repeat("A", auth.MaxTokenLen),
		"crit header":         critTok,
		"whitespace":          " " + good,
	} {
		_, err := v.Verify(tok)
		if !errors.Is(err, auth.ErrInvalidToken) {
			t.Errorf("%s: err = %v, want ErrInvalidToken", name, err)
		} else if strings.Contains(err.Error(), parts[2]) {
			t.Errorf("%s: error %q holds the token's signature", name, err)
		}
	}
	if _, err := v.Verify(good + strings.Repeat("A", auth.MaxTokenLen)); !errors.Is(err, auth.ErrTokenTooLong) {
		t.Errorf("long token: %v, want ErrTokenTooLong", err)
	}
}

// TestAlgConfusion: the algorithm comes from the configured key, never from
// the token.
func TestAlgConfusion(t *testing.T) {
	k := newKeys(t)
	dir := t.TempDir()
	rsaPEM := pemPublic(t, &k.rsa.PublicKey)
	der, _ := x509.MarshalPKIXPublicKey(&k.rsa.PublicKey)
	rsaV := verifier(t, auth.Config{PublicKeyFile: writeFile(t, dir, "rsa.pem", rsaPEM, 0o644)})
	hsV := verifier(t, auth.Config{KeyFile: writeFile(t, dir, "hs.key", k.secret, 0o600)})
	jwksV := verifier(t, auth.Config{JWKSFile: writeFile(t, dir, "k.jwks", jwks(t,
		jwkMap(t, &k.rsa.PublicKey, map[string]any{"kid": "r"}),
		jwkMap(t, &k.ec.PublicKey, map[string]any{"kid": "e"})), 0o644)})
	none := sign(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, "", claims(nil))
	noneKid := sign(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, "r", claims(nil))
	tests := []struct {
		name string
		v    *auth.Verifier
		tok  string
	}{
		{"none against RSA", rsaV, none},
		{"none against HS256", hsV, none},
		{"none against JWKS", jwksV, noneKid},
		{"HS256 keyed with the RSA PEM against RSA", rsaV, sign(t, jwt.SigningMethodHS256, rsaPEM, "", claims(nil))},
		{"HS256 keyed with the RSA DER against RSA", rsaV, sign(t, jwt.SigningMethodHS256, der, "", claims(nil))},
		{"HS256 keyed with the RSA PEM against JWKS", jwksV, sign(t, jwt.SigningMethodHS256, rsaPEM, "r", claims(nil))},
		{"RS384 against RS256", rsaV, sign(t, jwt.SigningMethodRS384, k.rsa, "", claims(nil))},
		{"PS256 against RS256", rsaV, sign(t, jwt.SigningMethodPS256, k.rsa, "", claims(nil))},
		{"RS256 against HS256", hsV, sign(t, jwt.SigningMethodRS256, k.rsa, "", claims(nil))},
		{"ES256 with the RSA key's kid", jwksV, sign(t, jwt.SigningMethodES256, k.ec, "r", claims(nil))},
		{"RS256 with the EC key's kid", jwksV, sign(t, jwt.SigningMethodRS256, k.rsa, "e", claims(nil))},
	}
	for _, tt := range tests {
		if _, err := tt.v.Verify(tt.tok); !errors.Is(err, auth.ErrInvalidToken) {
			t.Errorf("%s: err = %v, want ErrInvalidToken", tt.name, err)
		}
	}
}

func TestJWKS(t *testing.T) {
	k, other := newKeys(t), newKeys(t)
	dir := t.TempDir()
	set := jwks(t,
		jwkMap(t, &k.rsa.PublicKey, map[string]any{"kid": "rsa-1", "use": "sig"}),
		jwkMap(t, &other.rsa.PublicKey, map[string]any{"kid": "rsa-2", "alg": "PS256"}),
		jwkMap(t, &k.ec.PublicKey, map[string]any{"kid": "ec-1"}),
		jwkMap(t, k.ed.Public(), map[string]any{"kid": "ed-1", "alg": "EdDSA"}),
		jwkMap(t, &other.ec.PublicKey, map[string]any{"kid": "enc-1", "use": "enc"}),
	)
	v := verifier(t, auth.Config{JWKSFile: writeFile(t, dir, "set.jwks", set, 0o644)})
	if got, want := v.Algorithms(), []string{"ES256", "EdDSA", "PS256", "RS256"}; !slices.Equal(got, want) {
		t.Errorf("Algorithms = %v, want %v", got, want)
	}
	tests := []struct {
		name string
		tok  string
		ok   bool
	}{
		{"rsa-1", sign(t, jwt.SigningMethodRS256, k.rsa, "rsa-1", claims(nil)), true},
		{"rsa-2 with its alg", sign(t, jwt.SigningMethodPS256, other.rsa, "rsa-2", claims(nil)), true},
		{"rsa-2 with RS256", sign(t, jwt.SigningMethodRS256, other.rsa, "rsa-2", claims(nil)), false},
		{"ec-1", sign(t, jwt.SigningMethodES256, k.ec, "ec-1", claims(nil)), true},
		{"ed-1", sign(t, jwt.SigningMethodEdDSA, k.ed, "ed-1", claims(nil)), true},
		{"rsa-1's kid, rsa-2's key", sign(t, jwt.SigningMethodRS256, other.rsa, "rsa-1", claims(nil)), false},
		{"unknown kid", sign(t, jwt.SigningMethodRS256, k.rsa, "rsa-3", claims(nil)), false},
		{"encryption key's kid", sign(t, jwt.SigningMethodES256, other.ec, "enc-1", claims(nil)), false},
		{"no kid", sign(t, jwt.SigningMethodRS256, k.rsa, "", claims(nil)), false},
	}
	for _, tt := range tests {
		_, err := v.Verify(tt.tok)
		if tt.ok && err != nil {
			t.Errorf("%s: %v", tt.name, err)
		}
		if !tt.ok && !errors.Is(err, auth.ErrInvalidToken) {
			t.Errorf("%s: err = %v, want ErrInvalidToken", tt.name, err)
		}
	}
	numericKid := jwt.NewWithClaims(jwt.SigningMethodRS256, claims(nil))
	numericKid.Header["kid"] = 1
	tok, _ := numericKid.SignedString(k.rsa)
	if _, err := v.Verify(tok); !errors.Is(err, auth.ErrInvalidToken) {
		t.Errorf("numeric kid: err = %v, want ErrInvalidToken", err)
	}

	// One key, without a kid: tokens need none, and one naming a kid fails.
	single := verifier(t, auth.Config{JWKSFile: writeFile(t, dir, "single.jwks", jwks(t, jwkMap(t, k.ed.Public(), nil)), 0o644)})
	if _, err := single.Verify(sign(t, jwt.SigningMethodEdDSA, k.ed, "", claims(nil))); err != nil {
		t.Errorf("single key set, token without kid: %v", err)
	}
	if _, err := single.Verify(sign(t, jwt.SigningMethodEdDSA, k.ed, "x", claims(nil))); !errors.Is(err, auth.ErrInvalidToken) {
		t.Errorf("single key set without kid, token with kid: err = %v, want ErrInvalidToken", err)
	}
	// One key with a kid: tokens without kid use it.
	singleKid := verifier(t, auth.Config{JWKSFile: writeFile(t, dir, "single-kid.jwks", jwks(t, jwkMap(t, k.ed.Public(), map[string]any{"kid": "a"})), 0o644)})
	if _, err := singleKid.Verify(sign(t, jwt.SigningMethodEdDSA, k.ed, "", claims(nil))); err != nil {
		t.Errorf("single key set with kid, token without kid: %v", err)
	}
	// A single JWK rather than a set.
	bare, _ := json.Marshal(jwkMap(t, &k.ec.PublicKey, map[string]any{"kid": "bare"}))
	if _, err := auth.NewVerifier(auth.Config{JWKSFile: writeFile(t, dir, "bare.jwk", bare, 0o644)}); err != nil {
		t.Errorf("a single JWK: %v", err)
	}
}

func TestJWKSRefused(t *testing.T) {
	k := newKeys(t)
	dir := t.TempDir()
	small, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	oct := map[string]any{"kty": "oct", "kid": "h", "k": "c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0"}
	tests := []struct {
		name string
		doc  []byte
		weak bool
	}{
		{"oct key", jwks(t, oct), false},
		{"oct key among public keys", jwks(t, jwkMap(t, &k.rsa.PublicKey, map[string]any{"kid": "r"}), oct), false},
		{"RSA private key", jwks(t, jwkMap(t, k.rsa, map[string]any{"kid": "r"})), false},
		{"EC private key", jwks(t, jwkMap(t, k.ec, map[string]any{"kid": "e"})), false},
		{"Ed25519 private key", jwks(t, jwkMap(t, k.ed, map[string]any{"kid": "d"})), false},
		{"RSA 1024", jwks(t, map[string]any{"kty": "RSA", "kid": "r", "e": "AQAB",
			"n": base64.RawURLEncoding.EncodeToString(small.N.Bytes())}), true},
		{"duplicate kid", jwks(t, jwkMap(t, &k.rsa.PublicKey, map[string]any{"kid": "x"}), jwkMap(t, &k.ec.PublicKey, map[string]any{"kid": "x"})), false},
		{"two keys, one without kid", jwks(t, jwkMap(t, &k.rsa.PublicKey, map[string]any{"kid": "x"}), jwkMap(t, &k.ec.PublicKey, nil)), false},
		{"two keys without kid", jwks(t, jwkMap(t, &k.rsa.PublicKey, nil), jwkMap(t, &k.ec.PublicKey, nil)), false},
		{"alg HS256 on an RSA key", jwks(t, jwkMap(t, &k.rsa.PublicKey, map[string]any{"alg": "HS256"})), false},
		{"alg none on an RSA key", jwks(t, jwkMap(t, &k.rsa.PublicKey, map[string]any{"alg": "none"})), false},
		{"alg ES256 on an RSA key", jwks(t, jwkMap(t, &k.rsa.PublicKey, map[string]any{"alg": "ES256"})), false},
		{"alg RS256 on an EC key", jwks(t, jwkMap(t, &k.ec.PublicKey, map[string]any{"alg": "RS256"})), false},
		{"alg ES256 on a P-384 key", jwks(t, jwkMap(t, &p384.PublicKey, map[string]any{"alg": "ES256"})), false},
		{"alg RS256 on an Ed25519 key", jwks(t, jwkMap(t, k.ed.Public(), map[string]any{"alg": "RS256"})), false},
		{"only an encryption key", jwks(t, jwkMap(t, &k.ec.PublicKey, map[string]any{"use": "enc"})), false},
		{"empty set", []byte(`{"keys":[]}`), false},
		{"not JSON", []byte("-----BEGIN PUBLIC KEY-----"), false},
		{"empty file", nil, false},
	}
	for i, tt := range tests {
		path := writeFile(t, dir, "f"+string(rune('a'+i))+".jwks", tt.doc, 0o644)
		_, err := auth.NewVerifier(auth.Config{JWKSFile: path})
		if err == nil {
			t.Errorf("%s: accepted", tt.name)
			continue
		}
		// jwx refuses small RSA keys itself, before this package sees them.
		if tt.weak && !strings.Contains(err.Error(), "rsa modulus too small") {
			t.Errorf("%s: err = %v, want it to say the modulus is too small", tt.name, err)
		}
		if !strings.Contains(err.Error(), path) {
			t.Errorf("%s: error %q does not name the file", tt.name, err)
		}
	}
	// P-384 with a matching or no alg is fine.
	v := verifier(t, auth.Config{JWKSFile: writeFile(t, dir, "p384.jwks", jwks(t, jwkMap(t, &p384.PublicKey, nil)), 0o644)})
	if _, err := v.Verify(sign(t, jwt.SigningMethodES384, p384, "", claims(nil))); err != nil {
		t.Errorf("P-384 JWKS: %v", err)
	}
}

func TestKeyFiles(t *testing.T) {
	k := newKeys(t)
	dir := t.TempDir()
	tok := sign(t, jwt.SigningMethodHS256, k.secret, "", claims(nil))

	for _, content := range [][]byte{k.secret, append(slices.Clone(k.secret), '\n'), append(slices.Clone(k.secret), '\r', '\n')} {
		v := verifier(t, auth.Config{KeyFile: writeFile(t, dir, "ok.key", content, 0o600)})
		if _, err := v.Verify(tok); err != nil {
			t.Errorf("secret %q…: %v", content[len(content)-2:], err)
		}
	}
	// Only one newline is dropped: the second is part of the secret.
	v := verifier(t, auth.Config{KeyFile: writeFile(t, dir, "nl.key", append(slices.Clone(k.secret), '\n', '\n'), 0o600)})
	if _, err := v.Verify(tok); !errors.Is(err, auth.ErrInvalidToken) {
		t.Errorf("secret with two newlines verified as the secret without")
	}
	verifier(t, auth.Config{KeyFile: writeFile(t, dir, "ro.key", k.secret, 0o400)})

	for _, mode := range []os.FileMode{0o644, 0o640, 0o604, 0o660, 0o602} {
		path := writeFile(t, dir, "open.key", k.secret, mode)
		_, err := auth.NewVerifier(auth.Config{KeyFile: path})
		if !errors.Is(err, auth.ErrInsecureKeyFile) {
			t.Errorf("mode %04o: err = %v, want ErrInsecureKeyFile", mode, err)
			continue
		}
		if !strings.Contains(err.Error(), "chmod 600 "+path) {
			t.Errorf("mode %04o: error %q does not give the fix", mode, err)
		}
		if err := auth.CheckSecretFile(path); !errors.Is(err, auth.ErrInsecureKeyFile) {
			t.Errorf("CheckSecretFile, mode %04o: %v", mode, err)
		}
	}
	if err := auth.CheckSecretFile(writeFile(t, dir, "fine.key", k.secret, 0o600)); err != nil {
		t.Errorf("CheckSecretFile 0600: %v", err)
	}
	if err := auth.CheckSecretFile(dir + "/missing"); err == nil || errors.Is(err, auth.ErrInsecureKeyFile) {
		t.Errorf("CheckSecretFile of a missing file: %v", err)
	}
	if err := auth.CheckSecretFile(dir); err == nil {
		t.Errorf("CheckSecretFile of a directory: no error")
	}

	weak := map[string][]byte{
		"empty":                  nil,
		"31 bytes":               k.secret[:31],
		"31 bytes and a newline": append(slices.Clone(k.secret[:31]), '\n'),
		"32 zero bytes":          make([]byte, 32),
		"64 'a's":                []byte(strings.Repeat("a", 64) + "\n"),
	}
	for name, content := range weak {
		_, err := auth.NewVerifier(auth.Config{KeyFile: writeFile(t, dir, "weak.key", content, 0o600)})
		if !errors.Is(err, auth.ErrWeakKey) {
			t.Errorf("%s: err = %v, want ErrWeakKey", name, err)
		}
	}

	small, _ := rsa.GenerateKey(rand.Reader, 1024)
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	privDER, _ := x509.MarshalPKCS8PrivateKey(k.ec)
	pkcs1 := pem.EncodeToMemory(&pem.Block{Type: "RSA PUBLIC KEY", Bytes: x509.MarshalPKCS1PublicKey(&k.rsa.PublicKey)})
	if _, err := auth.NewVerifier(auth.Config{PublicKeyFile: writeFile(t, dir, "pkcs1.pem", pkcs1, 0o644)}); err != nil {
		t.Errorf("PKCS #1 RSA public key: %v", err)
	}
	p384V := verifier(t, auth.Config{PublicKeyFile: writeFile(t, dir, "p384.pem", pemPublic(t, &p384.PublicKey), 0o644)})
	if _, err := p384V.Verify(sign(t, jwt.SigningMethodES384, p384, "", claims(nil))); err != nil {
		t.Errorf("P-384 PEM: %v", err)
	}
	badPEM := []struct {
		name    string
		content []byte
		weak    bool
	}{
		{"RSA 1024", pemPublic(t, &small.PublicKey), true},
		{"private key", pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: privDER}), false},
		{"RSA private key", pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(k.rsa)}), false},
		{"certificate request", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: []byte{1}}), false},
		{"two keys", append(pemPublic(t, &k.rsa.PublicKey), pemPublic(t, &k.ec.PublicKey)...), false},
		{"garbage in the block", pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: []byte("nope")}), false},
		{"not PEM", k.secret, false},
		{"a JWKS", jwks(t, jwkMap(t, &k.rsa.PublicKey, nil)), false},
	}
	for _, tt := range badPEM {
		path := writeFile(t, dir, "bad.pem", tt.content, 0o644)
		_, err := auth.NewVerifier(auth.Config{PublicKeyFile: path})
		if err == nil {
			t.Errorf("%s: accepted", tt.name)
			continue
		}
		if tt.weak != errors.Is(err, auth.ErrWeakKey) {
			t.Errorf("%s: err = %v, ErrWeakKey %v", tt.name, err, tt.weak)
		}
		if !strings.Contains(err.Error(), path) {
			t.Errorf("%s: error %q does not name the file", tt.name, err)
		}
	}

	hs := writeFile(t, dir, "hs.key", k.secret, 0o600)
	pub := writeFile(t, dir, "pub.pem", pemPublic(t, &k.rsa.PublicKey), 0o644)
	for name, cfg := range map[string]auth.Config{
		"no key source":       {},
		"two key sources":     {KeyFile: hs, PublicKeyFile: pub},
		"missing file":        {PublicKeyFile: dir + "/missing.pem"},
		"negative leeway":     {KeyFile: hs, Leeway: -time.Second},
		"leeway over the max": {KeyFile: hs, Leeway: auth.MaxLeeway + time.Second},
		"key file is a dir":   {JWKSFile: dir},
	} {
		if _, err := auth.NewVerifier(cfg); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// TestVerifyConcurrent: one Verifier serves many goroutines (run with -race).
func TestVerifyConcurrent(t *testing.T) {
	k := newKeys(t)
	v := verifier(t, auth.Config{KeyFile: writeFile(t, t.TempDir(), "hs.key", k.secret, 0o600)})
	good := sign(t, jwt.SigningMethodHS256, k.secret, "", claims(nil))
	expired := sign(t, jwt.SigningMethodHS256, k.secret, "", claims(map[string]any{"exp": now().Add(-time.Hour).Unix()}))
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			for range 50 {
				if _, err := v.Verify(good); err != nil {
					t.Errorf("goroutine %d: %v", i, err)
					return
				}
				if _, err := v.Verify(expired); !errors.Is(err, auth.ErrExpired) {
					t.Errorf("goroutine %d: %v", i, err)
					return
				}
			}
		})
	}
	wg.Wait()
}

func TestParseMode(t *testing.T) {
	for s, want := range map[string]auth.Mode{"none": auth.ModeNone, "jwt": auth.ModeJWT} {
		if got, err := auth.ParseMode(s); err != nil || got != want {
			t.Errorf("ParseMode(%q) = %q, %v", s, got, err)
		}
	}
	for _, s := range []string{"", "JWT", "oauth", "none "} {
		if _, err := auth.ParseMode(s); err == nil {
			t.Errorf("ParseMode(%q): no error", s)
		}
	}
}

func TestRedact(t *testing.T) {
	long := "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhIn0.c2lnbmF0dXJl"
	tests := map[string]string{
		"":                    "(empty token)",
		"short":               "…(5 bytes)",
		long:                  "eyJh…(49 bytes)",
		"\x1b[2Jabcdefghijkl": "…(16 bytes)",
	}
	for in, want := range tests {
		if got := auth.Redact(in); got != want {
			t.Errorf("Redact(%q) = %q, want %q", in, got, want)
		}
	}
	if strings.Contains(auth.Redact(long), long[4:8]) {
		t.Errorf("Redact shows more than four characters")
	}
}

// TestGrantErrorsWrapTopic: a grant error says which pattern and why.
func TestGrantErrorsWrapTopic(t *testing.T) {
	_, err := auth.NewGrants([]string{"ok", "a..b"})
	if !errors.Is(err, topic.ErrInvalid) || !strings.Contains(err.Error(), "a..b") {
		t.Errorf("NewGrants error = %v", err)
	}
}

// BenchmarkVerify measures one verification per algorithm: the cost of
// authenticating one (re)connection.
func BenchmarkVerify(b *testing.B) {
	k := newKeys(b)
	for _, s := range sources(b, k) {
		if strings.Contains(s.name, "JWKS") {
			continue
		}
		b.Run(s.alg, func(b *testing.B) {
			v := verifier(b, s.cfg)
			tok := sign(b, s.method, s.key, s.kid, claims(nil))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := v.Verify(tok); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
