package auth

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jwk"
)

const (
	// MinSecretLen is the shortest HS256 secret accepted, in bytes.
	MinSecretLen = 32

	// MinRSABits is the smallest RSA modulus accepted, in bits.
	MinRSABits = 2048

	// maxKeyFileLen bounds every key file read.
	maxKeyFileLen = 1 << 20
)

// Algorithm names, as in a token's "alg" header.
const (
	algHS256 = "HS256"
	algRS256 = "RS256"
	algES256 = "ES256"
	algES384 = "ES384"
	algES512 = "ES512"
	algEdDSA = "EdDSA"
)

// CheckSecretFile refuses a secret file (a key, a token) that group or
// others may read or write: its permission bits must be within 0700. The
// error wraps ErrInsecureKeyFile, names the file and says how to fix it.
// Symbolic links are followed: the target's mode counts.
func CheckSecretFile(path string) error {
	st, err := os.Stat(path)
	if err != nil {
		return fmt.Errorf("auth: %w", err)
	}
	return checkSecretMode(path, st)
}

func checkSecretMode(path string, st os.FileInfo) error {
	if !st.Mode().IsRegular() {
		return fmt.Errorf("auth: key file %s is not a regular file", path)
	}
	if perm := st.Mode().Perm(); perm&0o077 != 0 {
		return fmt.Errorf("%w: %s has mode %04o; run: chmod 600 %s", ErrInsecureKeyFile, path, perm, path)
	}
	return nil
}

// readKeyFile reads a key file of at most maxKeyFileLen bytes. With secret
// set, it first checks the open file's mode (CheckSecretFile's rule).
func readKeyFile(path string, secret bool) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("auth: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("auth: %w", err)
	}
	if secret {
		if err := checkSecretMode(path, st); err != nil {
			return nil, err
		}
	} else if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("auth: key file %s is not a regular file", path)
	}
	b, err := io.ReadAll(io.LimitReader(f, maxKeyFileLen+1))
	if err != nil {
		return nil, fmt.Errorf("auth: reading %s: %w", path, err)
	}
	if len(b) > maxKeyFileLen {
		return nil, fmt.Errorf("auth: key file %s is larger than %d bytes", path, maxKeyFileLen)
	}
	return b, nil
}

// parseSecret turns a secret file's content into an HS256 key.
func parseSecret(b []byte) ([]byte, error) {
	if bytes.HasSuffix(b, []byte("\r\n")) {
		b = b[:len(b)-2]
	} else {
		b = bytes.TrimSuffix(b, []byte("\n"))
	}
	if len(b) < MinSecretLen {
		return nil, fmt.Errorf("%w: the secret is %d bytes, at least %d are needed (e.g. openssl rand -base64 48)", ErrWeakKey, len(b), MinSecretLen)
	}
	if bytes.Count(b, b[:1]) == len(b) {
		return nil, fmt.Errorf("%w: the secret is one byte repeated", ErrWeakKey)
	}
	return bytes.Clone(b), nil
}

// algFor returns the one algorithm a public key verifies, refusing weak and
// unsupported keys.
func algFor(pub crypto.PublicKey) (string, error) {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		if n := k.N.BitLen(); n < MinRSABits {
			return "", fmt.Errorf("%w: RSA key of %d bits, at least %d are needed", ErrWeakKey, n, MinRSABits)
		}
		return algRS256, nil
	case *ecdsa.PublicKey:
		switch k.Curve {
		case elliptic.P256():
			return algES256, nil
		case elliptic.P384():
			return algES384, nil
		case elliptic.P521():
			return algES512, nil
		}
		return "", fmt.Errorf("auth: unsupported ECDSA curve %s (want P-256, P-384 or P-521)", k.Curve.Params().Name)
	case ed25519.PublicKey:
		return algEdDSA, nil
	case *rsa.PrivateKey, *ecdsa.PrivateKey, ed25519.PrivateKey:
		return "", errors.New("auth: a private key where a public key is expected; give only the public key")
	}
	return "", fmt.Errorf("auth: unsupported key type %T (want RSA, ECDSA or Ed25519)", pub)
}

// parsePublicKeyPEM parses a PEM file holding one public key ("PUBLIC KEY"
// in PKIX form, or "RSA PUBLIC KEY" in PKCS #1 form).
func parsePublicKeyPEM(b []byte) (crypto.PublicKey, string, error) {
	block, rest := pem.Decode(b)
	if block == nil {
		return nil, "", errors.New("auth: no PEM block found")
	}
	if next, _ := pem.Decode(rest); next != nil {
		return nil, "", errors.New("auth: more than one PEM block; give exactly one public key")
	}
	var pub crypto.PublicKey
	var err error
	switch block.Type {
	case "PUBLIC KEY":
		pub, err = x509.ParsePKIXPublicKey(block.Bytes)
	case "RSA PUBLIC KEY":
		pub, err = x509.ParsePKCS1PublicKey(block.Bytes)
	default:
		if strings.Contains(block.Type, "PRIVATE") {
			return nil, "", fmt.Errorf("auth: the PEM block is a %s; give the public key only (openssl pkey -pubout)", block.Type)
		}
		return nil, "", fmt.Errorf("auth: PEM block %q, want \"PUBLIC KEY\"", block.Type)
	}
	if err != nil {
		return nil, "", fmt.Errorf("auth: parsing the public key: %w", err)
	}
	alg, err := algFor(pub)
	if err != nil {
		return nil, "", err
	}
	return pub, alg, nil
}

// jwksKey is one verification key of a JWKS.
type jwksKey struct {
	kid string
	alg string
	pub crypto.PublicKey
}

// isRSAAlg reports whether a JWK's "alg" may name alg for an RSA key.
func isRSAAlg(alg string) bool {
	switch alg {
	case "RS256", "RS384", "RS512", "PS256", "PS384", "PS512":
		return true
	}
	return false
}

// parseJWKS parses a JWKS (or a single JWK) into its verification keys.
func parseJWKS(b []byte) ([]jwksKey, error) {
	set, err := jwk.Parse(b)
	if err != nil {
		return nil, fmt.Errorf("auth: parsing the JWKS: %w", err)
	}
	var keys []jwksKey
	for i := range set.Len() {
		k, _ := set.Key(i)
		kid, _ := k.KeyID()
		name := fmt.Sprintf("key %d", i)
		if kid != "" {
			name = fmt.Sprintf("key %d (kid %q)", i, kid)
		}
		if k.KeyType() == jwa.OctetSeq() {
			return nil, fmt.Errorf("auth: JWKS %s is symmetric (kty oct); a JWKS may only hold public keys", name)
		}
		if use, ok := k.KeyUsage(); ok && use != "sig" {
			continue // an encryption key: never used to verify
		}
		var raw any
		if err := jwk.Export(k, &raw); err != nil {
			return nil, fmt.Errorf("auth: JWKS %s: %w", name, err)
		}
		typeAlg, err := algFor(raw)
		if err != nil {
			return nil, fmt.Errorf("auth: JWKS %s: %w", name, err)
		}
		alg := typeAlg
		if a, ok := k.Algorithm(); ok && a.String() != "" {
			alg = a.String()
			_, isRSA := raw.(*rsa.PublicKey)
			if alg != typeAlg && !(isRSA && isRSAAlg(alg)) {
				return nil, fmt.Errorf("auth: JWKS %s: alg %q does not suit its key (want %s)", name, alg, typeAlg)
			}
		}
		if slices.ContainsFunc(keys, func(o jwksKey) bool { return o.kid == kid }) {
			if kid == "" {
				return nil, fmt.Errorf("auth: JWKS %s has no kid, like another key; with more than one key each needs a distinct kid", name)
			}
			return nil, fmt.Errorf("auth: JWKS %s: duplicate kid", name)
		}
		keys = append(keys, jwksKey{kid: kid, alg: alg, pub: raw})
	}
	if len(keys) == 0 {
		return nil, errors.New("auth: the JWKS holds no signature verification key")
	}
	if len(keys) > 1 {
		for _, k := range keys {
			if k.kid == "" {
				return nil, errors.New("auth: a JWKS key has no kid; with more than one key each needs a distinct kid")
			}
		}
	}
	return keys, nil
}
