package auth_test

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"maps"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/lestrrat-go/jwx/v3/jwk"

	"github.com/jetsse/jetsse/pkg/auth"
)

// now is the verifiers' clock in these tests.
func now() time.Time { return time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC) }

// keySet holds one freshly generated key of each kind.
type keySet struct {
	secret []byte
	rsa    *rsa.PrivateKey
	ec     *ecdsa.PrivateKey
	ed     ed25519.PrivateKey
}

func newKeys(tb testing.TB) keySet {
	tb.Helper()
	// The secret is text, as `openssl rand -base64 48` makes it: raw
	// random bytes end in '\r' one time in 256, and a key file then loses
	// that byte with the newline after it (TestKeyFiles failed so in CI).
	raw := make([]byte, 48)
	if _, err := rand.Read(raw); err != nil {
		tb.Fatal(err)
	}
	k := keySet{secret: []byte(base64.StdEncoding.EncodeToString(raw))}
	var err error
	if k.rsa, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
		tb.Fatal(err)
	}
	if k.ec, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
		tb.Fatal(err)
	}
	if _, k.ed, err = ed25519.GenerateKey(rand.Reader); err != nil {
		tb.Fatal(err)
	}
	return k
}

// writeFile writes b to a new file in dir and returns its path.
func writeFile(tb testing.TB, dir, name string, b []byte, mode os.FileMode) string {
	tb.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, b, mode); err != nil {
		tb.Fatal(err)
	}
	if err := os.Chmod(p, mode); err != nil { // not subject to the umask
		tb.Fatal(err)
	}
	return p
}

// pemPublic returns the PKIX PEM form of a public key.
func pemPublic(tb testing.TB, pub any) []byte {
	tb.Helper()
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		tb.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
}

// jwkMap returns the JWK of a raw key as a map, with extra members set
// (a nil value deletes the member).
func jwkMap(tb testing.TB, raw any, extra map[string]any) map[string]any {
	tb.Helper()
	k, err := jwk.Import(raw)
	if err != nil {
		tb.Fatal(err)
	}
	b, err := json.Marshal(k)
	if err != nil {
		tb.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		tb.Fatal(err)
	}
	maps.Copy(m, extra)
	maps.DeleteFunc(m, func(_ string, v any) bool { return v == nil })
	return m
}

// jwks returns a JWKS document holding keys.
func jwks(tb testing.TB, keys ...map[string]any) []byte {
	tb.Helper()
	b, err := json.Marshal(map[string]any{"keys": keys})
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// claims returns valid claims for now(), with changes applied (a nil value
// deletes the claim).
func claims(changes map[string]any) jwt.MapClaims {
	c := jwt.MapClaims{
		"sub":    "alice",
		"iss":    "https://issuer.example",
		"aud":    "jetsse",
		"exp":    now().Add(time.Hour).Unix(),
		"iat":    now().Add(-time.Minute).Unix(),
		"jetsse": map[string]any{"subscribe": []string{"orders.*", "users.alice.>"}, "publish": []string{"orders.1"}},
	}
	maps.Copy(c, changes)
	maps.DeleteFunc(c, func(_ string, v any) bool { return v == nil })
	return c
}

// sign returns a token over c; kid is set when not empty.
func sign(tb testing.TB, m jwt.SigningMethod, key any, kid string, c jwt.Claims) string {
	tb.Helper()
	t := jwt.NewWithClaims(m, c)
	if kid != "" {
		t.Header["kid"] = kid
	}
	s, err := t.SignedString(key)
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

// verifier returns a Verifier over cfg with the test clock, failing the
// test on error.
func verifier(tb testing.TB, cfg auth.Config) *auth.Verifier {
	tb.Helper()
	if cfg.Now == nil {
		cfg.Now = now
	}
	v, err := auth.NewVerifier(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	return v
}
