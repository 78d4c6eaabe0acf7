package auth

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/golang-jwt/jwt/v5"
)

// Config configures a Verifier. Exactly one of KeyFile, PublicKeyFile and
// JWKSFile must be set.
type Config struct {
	KeyFile       string // HS256 shared secret (--jwt-key-file); mode 0600 or stricter
	PublicKeyFile string // PEM public key (--jwt-public-key-file)
	JWKSFile      string // JSON Web Key Set (--jwt-jwks-file)

	Issuer   string        // required "iss" value; "" does not check "iss"
	Audience string        // value "aud" must hold; "" does not check "aud"
	Leeway   time.Duration // clock skew tolerated on "exp" and "nbf"; 0 to MaxLeeway

	Now func() time.Time // the clock; nil for time.Now
}

// Verifier verifies tokens against one configured key source. It is
// immutable and safe for concurrent use; to take up a changed key file,
// build a new one.
type Verifier struct {
	parser *jwt.Parser
	algs   []string  // sorted
	key    any       // the one key, for a secret or PEM key source
	keys   []jwksKey // the JWKS keys, for a JWKS key source
}

// NewVerifier reads the configured key file and returns a Verifier for it.
// Errors name the file and what is wrong with it; they wrap ErrWeakKey or
// ErrInsecureKeyFile when those apply.
func NewVerifier(cfg Config) (*Verifier, error) {
	n := 0
	for _, f := range []string{cfg.KeyFile, cfg.PublicKeyFile, cfg.JWKSFile} {
		if f != "" {
			n++
		}
	}
	if n != 1 {
		return nil, fmt.Errorf("auth: jwt mode needs exactly one key source (a secret key file, a public key file or a JWKS file), %d given", n)
	}
	if cfg.Leeway < 0 || cfg.Leeway > MaxLeeway {
		return nil, fmt.Errorf("auth: leeway %v out of range [0, %v]", cfg.Leeway, MaxLeeway)
	}
	v := &Verifier{}
	switch {
	case cfg.KeyFile != "":
		b, err := readKeyFile(cfg.KeyFile, true)
		if err != nil {
			return nil, err
		}
		secret, err := parseSecret(b)
		if err != nil {
			return nil, fmt.Errorf("%w (%s)", err, cfg.KeyFile)
		}
		v.key, v.algs = secret, []string{algHS256}
	case cfg.PublicKeyFile != "":
		b, err := readKeyFile(cfg.PublicKeyFile, false)
		if err != nil {
			return nil, err
		}
		pub, alg, err := parsePublicKeyPEM(b)
		if err != nil {
			return nil, fmt.Errorf("%w (%s)", err, cfg.PublicKeyFile)
		}
		v.key, v.algs = pub, []string{alg}
	default:
		b, err := readKeyFile(cfg.JWKSFile, false)
		if err != nil {
			return nil, err
		}
		keys, err := parseJWKS(b)
		if err != nil {
			return nil, fmt.Errorf("%w (%s)", err, cfg.JWKSFile)
		}
		v.keys = keys
		for _, k := range keys {
			v.algs = append(v.algs, k.alg)
		}
		slices.Sort(v.algs)
		v.algs = slices.Compact(v.algs)
	}
	opts := []jwt.ParserOption{
		jwt.WithValidMethods(v.algs),
		jwt.WithExpirationRequired(),
		jwt.WithLeeway(cfg.Leeway),
		jwt.WithStrictDecoding(),
	}
	if cfg.Now != nil {
		opts = append(opts, jwt.WithTimeFunc(cfg.Now))
	}
	if cfg.Issuer != "" {
		opts = append(opts, jwt.WithIssuer(cfg.Issuer))
	}
	if cfg.Audience != "" {
		opts = append(opts, jwt.WithAudience(cfg.Audience))
	}
	v.parser = jwt.NewParser(opts...)
	return v, nil
}

// Algorithms returns the algorithms the Verifier accepts, sorted.
func (v *Verifier) Algorithms() []string { return slices.Clone(v.algs) }

// claims is the payload of a jetsse token.
type claims struct {
	jwt.RegisteredClaims
	Jetsse *struct {
		Subscribe []string `json:"subscribe"`
		Publish   []string `json:"publish"`
	} `json:"jetsse,omitempty"`
}

// Verify checks a token and returns the identity it carries. The error
// wraps ErrNoToken (empty token), ErrExpired (a token whose only fault is
// its age) or ErrInvalidToken (anything else); see the package doc.
func (v *Verifier) Verify(token string) (Identity, error) {
	if token == "" {
		return Identity{}, ErrNoToken
	}
	if len(token) > MaxTokenLen {
		return Identity{}, ErrTokenTooLong
	}
	var c claims
	_, err := v.parser.ParseWithClaims(token, &c, v.keyFor)
	if err != nil && !onlyExpired(err) {
		return Identity{}, fmt.Errorf("%w: %v", ErrInvalidToken, err)
	}
	id, cerr := identity(&c)
	if cerr != nil {
		return Identity{}, fmt.Errorf("%w: %v", ErrInvalidToken, cerr)
	}
	if err != nil {
		return Identity{}, fmt.Errorf("%w: expired at %s", ErrExpired, id.Expires.UTC().Format(time.RFC3339))
	}
	return id, nil
}

// onlyExpired reports whether a parse error says the token is sound but for
// its "exp" having passed. The signature is checked before the claims, so a
// claims error implies a good signature.
func onlyExpired(err error) bool {
	if !errors.Is(err, jwt.ErrTokenInvalidClaims) || !errors.Is(err, jwt.ErrTokenExpired) {
		return false
	}
	for _, other := range []error{
		jwt.ErrTokenNotValidYet, jwt.ErrTokenInvalidIssuer, jwt.ErrTokenInvalidAudience,
		jwt.ErrTokenRequiredClaimMissing, jwt.ErrTokenUsedBeforeIssued, jwt.ErrTokenInvalidSubject,
		jwt.ErrTokenInvalidId,
	} {
		if errors.Is(err, other) {
			return false
		}
	}
	return true
}

// identity checks the claims jwt does not know and builds the Identity.
func identity(c *claims) (Identity, error) {
	switch {
	case c.Subject == "":
		return Identity{}, errors.New(`missing "sub"`)
	case len(c.Subject) > MaxSubjectLen:
		return Identity{}, fmt.Errorf(`"sub" longer than %d bytes`, MaxSubjectLen)
	case !utf8.ValidString(c.Subject):
		return Identity{}, errors.New(`"sub" is not valid UTF-8`)
	case c.ExpiresAt == nil:
		return Identity{}, errors.New(`missing "exp"`)
	}
	for _, r := range c.Subject {
		if unicode.IsControl(r) {
			return Identity{}, errors.New(`"sub" holds a control character`)
		}
	}
	id := Identity{Subject: c.Subject, Expires: c.ExpiresAt.Time}
	if c.Jetsse != nil {
		var err error
		if id.Subscribe, err = NewGrants(c.Jetsse.Subscribe); err != nil {
			return Identity{}, fmt.Errorf("subscribe grant: %v", err)
		}
		if id.Publish, err = NewGrants(c.Jetsse.Publish); err != nil {
			return Identity{}, fmt.Errorf("publish grant: %v", err)
		}
	}
	return id, nil
}

// keyFor is the jwt.Keyfunc: it picks the key a token names. The parser
// has already refused algorithms outside v.algs.
func (v *Verifier) keyFor(t *jwt.Token) (any, error) {
	if _, ok := t.Header["crit"]; ok {
		return nil, errors.New(`"crit" header not supported`)
	}
	if v.keys == nil {
		return v.key, nil
	}
	kid := ""
	if h, ok := t.Header["kid"]; ok {
		s, isString := h.(string)
		if !isString || s == "" {
			return nil, errors.New(`"kid" header is not a non-empty string`)
		}
		kid = s
	}
	var key *jwksKey
	switch {
	case kid != "":
		for i := range v.keys {
			if v.keys[i].kid == kid {
				key = &v.keys[i]
				break
			}
		}
		if key == nil {
			return nil, fmt.Errorf("unknown kid %s", quoteShort(kid))
		}
	case len(v.keys) == 1:
		key = &v.keys[0]
	default:
		return nil, errors.New(`no "kid" header, and the key set has more than one key`)
	}
	if alg := t.Method.Alg(); alg != key.alg {
		return nil, fmt.Errorf("alg %s not allowed for kid %s", alg, quoteShort(key.kid))
	}
	return key.pub, nil
}

// quoteShort quotes s for an error message, cut to 64 bytes.
func quoteShort(s string) string {
	if len(s) > 64 {
		return strconv.Quote(s[:64]) + "…"
	}
	return strconv.Quote(s)
}
