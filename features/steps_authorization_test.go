package features

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/cucumber/godog"
	"github.com/golang-jwt/jwt/v5"
)

// authState is what a scenario with --auth jwt keeps: the server's HS256
// secret and the tokens minted with it, by holder.
type authState struct {
	key    []byte
	tokens map[string]string
	// signer signs with the server's key (nil: HS256 with key).
	signer func(jwt.MapClaims) (string, error)
}

func (w *world) registerAuthorization(sc *godog.ScenarioContext) {
	sc.Step(`^a jetsse server with JWT auth$`, func() error { return w.jetsseServerWithJWT("") })
	sc.Step(`^a jetsse server with JWT auth and "([^"]*)"$`, w.jetsseServerWithJWT)
	sc.Step(`^a jetsse server with JWT auth by (an HS256 secret|an ES256 public key|an EdDSA public key|an RS256 JWKS)$`, w.jetsseServerWithKeyKind)
	sc.Step(`^a token for "(\w+)" that may subscribe to "([^"]*)"$`, func(who, topics string) error {
		return w.mintToken(who, splitList(topics), nil, time.Hour)
	})
	sc.Step(`^a token for "(\w+)" that may subscribe to "([^"]*)" and expires in (\d+) seconds$`, func(who, topics string, secs int) error {
		return w.mintToken(who, splitList(topics), nil, time.Duration(secs)*time.Second)
	})
	sc.Step(`^a token for "(\w+)" that may subscribe to "([^"]*)" and expired a minute ago$`, func(who, topics string) error {
		return w.mintToken(who, splitList(topics), nil, -time.Minute)
	})
	sc.Step(`^a token for "(\w+)" that may publish to "([^"]*)"$`, func(who, topics string) error {
		return w.mintToken(who, nil, splitList(topics), time.Hour)
	})
	sc.Step(`^client "(\w+)" subscribes to "([^"]*)" with the token of "(\w+)"$`, func(name, topics, who string) error {
		return w.subscribeWithToken(name, topics, who, "Authorization header", nil)
	})
	sc.Step(`^client "(\w+)" subscribes to "([^"]*)" with the token of "(\w+)" in the (Authorization header|lower-case bearer header|jetsse_auth cookie|access_token query parameter)$`,
		func(name, topics, who, where string) error {
			return w.subscribeWithToken(name, topics, who, where, nil)
		})
	sc.Step(`^client "(\w+)" subscribes to "([^"]*)" with the token of "(\w+)" and Last-Event-ID "(\d+)"$`, func(name, topics, who, id string) error {
		return w.subscribeWithToken(name, topics, who, "Authorization header", strp(id))
	})
	sc.Step(`^a client subscribes to "([^"]*)" with the token of "(\w+)"$`, func(topics, who string) error {
		return w.requestStream(topics, w.auth.tokens[who], nil, "")
	})
	sc.Step(`^a client subscribes to "([^"]*)" with the token of "(\w+)" and Last-Event-ID "(\d+)"$`, func(topics, who, id string) error {
		return w.requestStream(topics, w.auth.tokens[who], strp(id), "")
	})
	sc.Step(`^a client subscribes to "([^"]*)" without a token$`, func(topics string) error { return w.requestStream(topics, "", nil, "") })
	sc.Step(`^a client subscribes to "([^"]*)" with (no token|a malformed token|a token signed with another key|a token with alg none|an expired token|a token that is not valid yet|a token without sub|a token of 9000 bytes)$`,
		w.subscribeWithBadToken)
	sc.Step(`^the response says "([^"]*)" is "(.*)"$`, w.responseHeaderIs)
	sc.Step(`^the response body contains "([^"]*)"$`, w.responseBodyContains)
	sc.Step(`^no session was created$`, w.noSessionWasCreated)
	sc.Step(`^client "(\w+)" presents the session of client "(\w+)" with the token of "(\w+)" for "([^"]*)"$`, w.presentsSessionOf)
	sc.Step(`^client "(\w+)" presents the session of client "(\w+)" without a token for "([^"]*)"$`, func(name, other, topics string) error {
		return w.presentsSessionOf(name, other, "", topics)
	})
	sc.Step(`^client "(\w+)" has a different session than client "(\w+)"$`, w.differentSessions)
	sc.Step(`^client "(\w+)" got no takeover event$`, w.noTakeover)
	sc.Step(`^client "(\w+)" reconnects with its session cookie and the token of "(\w+)"$`, func(name, who string) error {
		return w.reconnect(name, func(c *sseClient) connectOptions {
			return connectOptions{cookie: c.cookie, bearer: w.auth.tokens[who]}
		})
	})
	sc.Step(`^client "(\w+)" reconnects with its Last-Event-ID and the token of "(\w+)"$`, func(name, who string) error {
		return w.reconnect(name, func(c *sseClient) connectOptions {
			return connectOptions{lastEventID: strp(c.lastEventID), cookie: c.cookie, bearer: w.auth.tokens[who]}
		})
	})
	sc.Step(`^client "(\w+)" receives a reauth event saying "([^"]*)" and its connection ends$`, w.clientIsToldToReauth)
	sc.Step(`^an EventSource subscribes to "([^"]*)" with the token of "(\w+)" in the access_token query parameter$`, w.eventSourceWithQueryToken)
	sc.Step(`^the stream says reauth and when to retry, and holds no session$`, w.streamSaysReauth)
	sc.Step(`^I POST /publish to "([^"]*)" with (.+)$`, w.publishWithCredentials)
	sc.Step(`^a JWT secret file "([^"]*)" of (\d+) bytes with mode (0\d+)$`, w.jwtSecretFile)
	sc.Step(`^jetsse does not start with "([^"]*)", saying "([^"]*)"$`, w.jetsseDoesNotStart)
	sc.Step(`^the response is an event ID$`, func() error { return w.responseIs("an event ID") })
}

// jetsseServerWithJWT starts the server with --auth jwt and a fresh HS256
// secret file (mode 0600).
func (w *world) jetsseServerWithJWT(flags string) error {
	w.auth.key = make([]byte, 48)
	if _, err := rand.Read(w.auth.key); err != nil {
		return err
	}
	// The server drops one trailing newline from the key file (docs/protocol.md,
	// "Authorization"): a key ending in one would sign with a byte the
	// server does not have, in 1 of 256 scenarios.
	if w.auth.key[len(w.auth.key)-1] == '\n' {
		w.auth.key[len(w.auth.key)-1] = 'k'
	}
	path := filepath.Join(w.dir, "jwt.key")
	if err := os.WriteFile(path, w.auth.key, 0o600); err != nil {
		return err
	}
	return w.jetsseServerWith("--auth jwt --jwt-key-file " + path + " " + flags)
}

// sign signs claims with the server's key.
func (w *world) sign(claims jwt.MapClaims) (string, error) {
	if w.auth.signer != nil {
		return w.auth.signer(claims)
	}
	return jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString(w.auth.key)
}

// jetsseServerWithKeyKind starts the server with --auth jwt and a fresh key
// of the given kind: the server gets the public half (a PEM file or a
// JWKS), the scenario signs with the private one.
func (w *world) jetsseServerWithKeyKind(kind string) error {
	if kind == "an HS256 secret" {
		return w.jetsseServerWithJWT("")
	}
	var pub any
	var flag, kid string
	var method jwt.SigningMethod
	var priv any
	switch kind {
	case "an ES256 public key":
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return err
		}
		priv, pub, method, flag = k, &k.PublicKey, jwt.SigningMethodES256, "--jwt-public-key-file"
	case "an EdDSA public key":
		p, k, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			return err
		}
		priv, pub, method, flag = k, p, jwt.SigningMethodEdDSA, "--jwt-public-key-file"
	case "an RS256 JWKS":
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			return err
		}
		priv, pub, method, flag, kid = k, &k.PublicKey, jwt.SigningMethodRS256, "--jwt-jwks-file", "key-1"
	default:
		return fmt.Errorf("unknown key kind %q", kind)
	}
	var file []byte
	if kid == "" {
		der, err := x509.MarshalPKIXPublicKey(pub)
		if err != nil {
			return err
		}
		file = pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
	} else {
		rk := pub.(*rsa.PublicKey)
		b64 := base64.RawURLEncoding.EncodeToString
		file, _ = json.Marshal(map[string]any{"keys": []map[string]string{{
			"kty": "RSA", "kid": kid, "alg": "RS256", "use": "sig",
			"n": b64(rk.N.Bytes()), "e": b64(big.NewInt(int64(rk.E)).Bytes()),
		}}})
	}
	path := filepath.Join(w.dir, "jwt.pub")
	if err := os.WriteFile(path, file, 0o644); err != nil {
		return err
	}
	w.auth.signer = func(c jwt.MapClaims) (string, error) {
		t := jwt.NewWithClaims(method, c)
		if kid != "" {
			t.Header["kid"] = kid
		}
		return t.SignedString(priv)
	}
	return w.jetsseServerWith("--auth jwt " + flag + " " + path)
}

func (w *world) mintToken(who string, subscribe, publish []string, validFor time.Duration) error {
	grants := map[string]any{}
	if subscribe != nil {
		grants["subscribe"] = subscribe
	}
	if publish != nil {
		grants["publish"] = publish
	}
	t, err := w.sign(jwt.MapClaims{"sub": who, "exp": time.Now().Add(validFor).Unix(), "jetsse": grants})
	if err != nil {
		return err
	}
	if w.auth.tokens == nil {
		w.auth.tokens = map[string]string{}
	}
	w.auth.tokens[who] = t
	return nil
}

// presented says how a client carries its token.
func presented(token, where string) connectOptions {
	switch where {
	case "lower-case bearer header":
		return connectOptions{bearer: token, authScheme: "bearer"}
	case "jetsse_auth cookie":
		return connectOptions{authCookie: token}
	case "access_token query parameter":
		return connectOptions{accessToken: token}
	}
	return connectOptions{bearer: token}
}

func (w *world) subscribeWithToken(name, topics, who, where string, lastEventID *string) error {
	token, ok := w.auth.tokens[who]
	if !ok {
		return fmt.Errorf("no token for %q", who)
	}
	o := presented(token, where)
	o.lastEventID = lastEventID
	return w.subscribe(name, topics, "", o)
}

// requestStream asks for a stream as a plain HTTP client (no Accept:
// text/event-stream) and keeps the answer: the status, headers, and the
// body of a refusal. An accepted stream is closed at once.
func (w *world) requestStream(topics, token string, lastEventID *string, scheme string) error {
	s, err := w.defaultServer()
	if err != nil {
		return err
	}
	q := url.Values{}
	for _, t := range splitList(topics) {
		q.Add("topic", t)
	}
	req, err := http.NewRequest(http.MethodGet, s.base()+"/events?"+q.Encode(), nil)
	if err != nil {
		return err
	}
	if token != "" {
		if scheme == "" {
			scheme = "Bearer"
		}
		req.Header.Set("Authorization", scheme+" "+token)
	}
	if lastEventID != nil {
		req.Header.Set("Last-Event-ID", *lastEventID)
	}
	return w.doStreamRequest(req, false)
}

// doStreamRequest sends a stream request and records the answer. With
// readAll the body is read until the server ends it; otherwise an accepted
// stream is closed once its headers arrived.
func (w *world) doStreamRequest(req *http.Request, readAll bool) error {
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	resp, err := http.DefaultClient.Do(req.WithContext(ctx))
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	w.status, w.header, w.body = resp.StatusCode, resp.Header, ""
	if resp.StatusCode != http.StatusOK || readAll {
		b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		if err != nil {
			return fmt.Errorf("reading the body: %w", err)
		}
		w.body = string(b)
	}
	return nil
}

func (w *world) subscribeWithBadToken(topics, kind string) error {
	var token string
	var err error
	now := time.Now()
	grants := map[string]any{"subscribe": []string{">"}}
	switch kind {
	case "no token":
	case "a malformed token":
		token = "abc.def.ghi"
	case "a token signed with another key":
		other := make([]byte, 48)
		_, _ = rand.Read(other)
		token, err = jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"sub": "x", "exp": now.Add(time.Hour).Unix(), "jetsse": grants}).SignedString(other)
	case "a token with alg none":
		token, err = jwt.NewWithClaims(jwt.SigningMethodNone, jwt.MapClaims{"sub": "x", "exp": now.Add(time.Hour).Unix(), "jetsse": grants}).SignedString(jwt.UnsafeAllowNoneSignatureType)
	case "an expired token":
		token, err = w.sign(jwt.MapClaims{"sub": "x", "exp": now.Add(-time.Minute).Unix(), "jetsse": grants})
	case "a token that is not valid yet":
		token, err = w.sign(jwt.MapClaims{"sub": "x", "exp": now.Add(2 * time.Hour).Unix(), "nbf": now.Add(time.Hour).Unix(), "jetsse": grants})
	case "a token without sub":
		token, err = w.sign(jwt.MapClaims{"exp": now.Add(time.Hour).Unix(), "jetsse": grants})
	case "a token of 9000 bytes":
		token = strings.Repeat("a", 9000)
	}
	if err != nil {
		return err
	}
	return w.requestStream(topics, token, nil, "")
}

func (w *world) responseHeaderIs(name, want string) error {
	want = strings.ReplaceAll(want, `\"`, `"`)
	if got := w.header.Get(name); got != want {
		return fmt.Errorf("%s: %q, want %q", name, got, want)
	}
	return nil
}

func (w *world) responseBodyContains(s string) error {
	if !strings.Contains(w.body, s) {
		return fmt.Errorf("body %q does not contain %q", w.body, s)
	}
	return nil
}

// noSessionWasCreated checks the node made no session and the session
// bucket holds no record.
func (w *world) noSessionWasCreated() error {
	if err := w.metricIs("jetsse_sessions_created_total", 0); err != nil {
		return err
	}
	js, err := w.js()
	if err != nil {
		return err
	}
	kv, err := js.KeyValue(context.Background(), "jetsse_sessions")
	if err != nil {
		return err
	}
	keys, err := kv.ListKeys(context.Background())
	if err != nil {
		return err
	}
	for k := range keys.Keys() {
		return fmt.Errorf("the session bucket holds %q", k)
	}
	return nil
}

// presentsSessionOf subscribes client name with the session cookie of
// client other (as if stolen), and with who's token ("" for none).
func (w *world) presentsSessionOf(name, other, who, topics string) error {
	o, err := w.client(other)
	if err != nil {
		return err
	}
	o.mu.Lock()
	cookie := o.cookie
	o.mu.Unlock()
	opts := connectOptions{cookie: cookie}
	if who != "" {
		opts.bearer = w.auth.tokens[who]
	}
	return w.subscribe(name, topics, "", opts)
}

func (w *world) differentSessions(a, b string) error {
	ca, err := w.client(a)
	if err != nil {
		return err
	}
	cb, err := w.client(b)
	if err != nil {
		return err
	}
	sa, err := ca.session()
	if err != nil {
		return err
	}
	sb, err := cb.session()
	if err != nil {
		return err
	}
	if sa.Session == sb.Session {
		return fmt.Errorf("both clients are in session %s", sa.Session)
	}
	return nil
}

func (w *world) noTakeover(name string) error {
	c, err := w.client(name)
	if err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if n := countType(c.control, "takeover"); n > 0 {
		return fmt.Errorf("client %q got %d takeover events", name, n)
	}
	return nil
}

// clientIsToldToReauth waits for the reauth event and the end of the
// connection: the event has no id and carries the reason.
func (w *world) clientIsToldToReauth(name, reason string) error {
	c, err := w.client(name)
	if err != nil {
		return err
	}
	if err := c.waitFor(waitTimeout, "a reauth event and the end of the stream", func() bool {
		return countType(c.control, "reauth") > 0 && !c.connected
	}); err != nil {
		return err
	}
	r, err := c.lastControl("reauth")
	if err != nil {
		return err
	}
	var d struct {
		Reason string `json:"reason"`
	}
	if err := json.Unmarshal([]byte(r.Data), &d); err != nil || d.Reason != reason {
		return fmt.Errorf("reauth event %+v (%v), want reason %q", r, err, reason)
	}
	// The frame itself carries no id: (the decoder reports the last one
	// seen, as EventSource does).
	c.mu.Lock()
	raw := string(c.raw)
	c.mu.Unlock()
	i := strings.Index(raw, "event: reauth\n")
	if i < 0 {
		return fmt.Errorf("no reauth frame in %q", raw)
	}
	frame, _, _ := strings.Cut(raw[i:], "\n\n")
	if strings.Contains(frame, "\nid:") || strings.HasPrefix(raw[strings.LastIndex(raw[:i], "\n\n")+2:], "id:") {
		return fmt.Errorf("the reauth frame carries an id: %q", raw[max(0, i-40):])
	}
	return nil
}

func (w *world) eventSourceWithQueryToken(topics, who string) error {
	s, err := w.defaultServer()
	if err != nil {
		return err
	}
	q := url.Values{"access_token": {w.auth.tokens[who]}}
	for _, t := range splitList(topics) {
		q.Add("topic", t)
	}
	req, err := http.NewRequest(http.MethodGet, s.base()+"/events?"+q.Encode(), nil)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "text/event-stream")
	return w.doStreamRequest(req, true)
}

// streamSaysReauth checks an EventSource's refusal for an expired token: a
// text/event-stream with a retry: of at least 5 s, the reauth event, and no
// session.
func (w *world) streamSaysReauth() error {
	if ct := w.header.Get("Content-Type"); ct != "text/event-stream" {
		return fmt.Errorf("Content-Type %q", ct)
	}
	retry := -1
	for _, line := range strings.Split(w.body, "\n") {
		if v, ok := strings.CutPrefix(line, "retry:"); ok {
			retry, _ = strconv.Atoi(strings.TrimSpace(v))
		}
	}
	switch {
	case retry < 5000:
		return fmt.Errorf("retry %d ms in %q", retry, w.body)
	case !strings.Contains(w.body, "event: reauth\ndata: {\"reason\":\"token expired\"}\n"):
		return fmt.Errorf("no reauth event in %q", w.body)
	case strings.Contains(w.body, "event: session"):
		return fmt.Errorf("a session in %q", w.body)
	}
	return nil
}

func (w *world) publishWithCredentials(topic, credentials string) error {
	return w.postPublish(map[string]string{"topic": topic, "data": "x"}, credentials)
}

// postPublish POSTs body (as JSON) to the default server's /publish with
// credentials as the steps name them, and keeps the answer.
func (w *world) postPublish(body any, credentials string) error {
	s, err := w.defaultServer()
	if err != nil {
		return err
	}
	b, err := json.Marshal(body)
	if err != nil {
		return err
	}
	req, err := http.NewRequest(http.MethodPost, s.base()+"/publish", bytes.NewReader(b))
	if err != nil {
		return err
	}
	header, err := w.publishAuthorization(s, credentials)
	if err != nil {
		return err
	}
	if header != "" {
		req.Header.Set("Authorization", header)
	}
	req.Header.Set("Content-Type", "application/json")
	return w.do(req)
}

// publishAuthorization returns the Authorization header of a publish with
// credentials as the steps name them ("" for no token).
func (w *world) publishAuthorization(s *server, credentials string) (string, error) {
	switch {
	case credentials == "the publish token":
		return "Bearer " + s.ready.PublishToken, nil
	case strings.HasPrefix(credentials, "the publish token as "):
		return strings.Trim(strings.TrimPrefix(credentials, "the publish token as "), `"`) + " " + s.ready.PublishToken, nil
	case credentials == "the publish token in a Basic header":
		return "Basic " + s.ready.PublishToken, nil
	case strings.HasPrefix(credentials, "the token of "):
		who := strings.Trim(strings.TrimPrefix(credentials, "the token of "), `"`)
		return "Bearer " + w.auth.tokens[who], nil
	case credentials == "a subscriber's token":
		if err := w.mintToken("reader", []string{">"}, nil, time.Hour); err != nil {
			return "", err
		}
		return "Bearer " + w.auth.tokens["reader"], nil
	case credentials == "a wrong token":
		return "Bearer wrong-token-of-some-length", nil
	case credentials == "no token":
		return "", nil
	}
	return "", fmt.Errorf("unknown credentials %q", credentials)
}

func (w *world) responseIs(what string) error {
	if what == "a JSON error" {
		return w.responseIsJSONError()
	}
	var r struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal([]byte(w.body), &r); err != nil || r.ID == "" {
		return errors.New("no event ID in " + w.body)
	}
	return nil
}

// jwtSecretFile writes a random secret of n bytes into the scenario's
// directory with the given mode.
func (w *world) jwtSecretFile(name string, n int, mode string) error {
	m, err := strconv.ParseUint(mode, 8, 32)
	if err != nil {
		return err
	}
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return err
	}
	path := filepath.Join(w.dir, name)
	if err := os.WriteFile(path, b, 0o600); err != nil {
		return err
	}
	return os.Chmod(path, os.FileMode(m))
}

// jetsseDoesNotStart starts jetsse on a fresh data dir with flags (file
// names in them are the scenario's files) and expects it to refuse, saying
// want.
func (w *world) jetsseDoesNotStart(flags, want string) error {
	args := strings.Fields(flags)
	for i, a := range args {
		if strings.HasSuffix(a, ".key") {
			args[i] = filepath.Join(w.dir, a)
		}
	}
	_, err := w.startServer("refused", filepath.Join(w.dir, "refused"), args)
	if err == nil {
		return errors.New("jetsse started")
	}
	if first, _, _ := strings.Cut(err.Error(), "\n"); !strings.Contains(first, want) {
		return fmt.Errorf("jetsse did not start, but not saying %q: %v", want, err)
	}
	return nil
}
