package features

// Steps of http_hygiene.feature: the admin listener, raw requests (Go's
// client would clean their paths), what /readyz says, and the secrets'
// files.

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/cucumber/godog"
	natsserver "github.com/nats-io/nats-server/v2/server"

	"github.com/jetsse/jetsse/pkg/natsembed"
)

// hygieneWorld is the scenario's state of these steps.
type hygieneWorld struct {
	w *world
	// files are the files the scenario wrote, by the name its steps use.
	files map[string]string
	// natsAddr and natsStore let the scenario's NATS server start again
	// where it was (w.cluster[0] is the running one).
	natsAddr, natsStore string
	refused             int // servers that did not start, for their data dirs
}

func (w *world) registerHTTPHygiene(sc *godog.ScenarioContext) {
	h := &hygieneWorld{w: w, files: map[string]string{}}

	sc.Step(`^the admin listener is asked for "([^"]*)"$`, h.adminAskedFor)
	sc.Step(`^the admin listener is asked for "([^"]*)" with Authorization "([^"]*)"$`, h.adminAskedWithAuthorization)
	sc.Step(`^the admin listener is asked for "([^"]*)" with the admin token as "(\w+)"$`, h.adminAskedWithTheToken)
	sc.Step(`^the response holds "([^"]*)"$`, h.responseHolds)
	sc.Step(`^the response does not hold "([^"]*)"$`, h.responseDoesNotHold)
	sc.Step(`^the response header "([^"]*)" is "(.*)"$`, h.responseHeaderIs)
	sc.Step(`^a client sends "(\S+) (\S+)"$`, h.clientSends)
	sc.Step(`^the response is a redirect to "([^"]*)"$`, h.responseIsRedirectTo)
	sc.Step(`^no Set-Cookie or Jetsse-Session header was sent$`, h.noSessionHeaders)
	sc.Step(`^the metric "([^"]*)" is (\S+)$`, h.metricIs)
	sc.Step(`^the session bucket holds (\d+) session records?$`, h.sessionBucketHolds)

	sc.Step(`^a NATS server that can be restarted$`, h.restartableNATS)
	sc.Step(`^a jetsse server on that NATS server$`, h.jetsseOnThatNATS)
	sc.Step(`^the NATS server stops$`, h.natsStops)
	sc.Step(`^the NATS server starts again$`, h.natsStartsAgain)
	sc.Step(`^the public "/readyz" body is exactly \{"error":"not ready"\} with a Retry-After$`, h.publicReadyzSaysOnlyNotReady)
	sc.Step(`^the admin "/readyz" tells the admin token's holder more than "not ready"$`, h.adminReadyzTellsWhy)

	sc.Step(`^a jetsse server with "([^"]*)" does not start, saying "([^"]*)"$`, h.serverDoesNotStart)
	sc.Step(`^the server is stopped and its file "([^"]*)" is made mode (0\d+)$`, h.serverStoppedAndFileChmod)
	sc.Step(`^the server's file "([^"]*)" is made mode (0\d+)$`, h.serverFileChmod)
	sc.Step(`^a session key file "([^"]*)" with a good key and mode (0\d+)$`, h.goodKeyFile)
	sc.Step(`^a session key file "([^"]*)" of (\d+) bytes 0x([0-9a-f]{2}) and mode (0\d+)$`, h.repeatedByteKeyFile)
	sc.Step(`^the data dir holds "([^"]*)" of mode (0\d+)$`, h.dataDirHoldsFileOfMode)
	sc.Step(`^the server's log names "([^"]*)" but not the token in it$`, h.logNamesFileButNotToken)
}

// The admin listener.

func (h *hygieneWorld) adminRequest(path, authorization string) error {
	s, err := h.w.defaultServer()
	if err != nil {
		return err
	}
	if s.ready.AdminAddr == "" {
		return errors.New("the server has no admin listener")
	}
	req, err := http.NewRequest(http.MethodGet, s.admin()+path, nil)
	if err != nil {
		return err
	}
	if authorization != "" {
		req.Header.Set("Authorization", authorization)
	}
	return h.w.do(req)
}

func (h *hygieneWorld) adminAskedFor(path string) error { return h.adminRequest(path, "") }

func (h *hygieneWorld) adminAskedWithAuthorization(path, authorization string) error {
	return h.adminRequest(path, authorization)
}

func (h *hygieneWorld) adminAskedWithTheToken(path, scheme string) error {
	s, err := h.w.defaultServer()
	if err != nil {
		return err
	}
	if s.ready.AdminToken == "" {
		return errors.New("the server reported no admin token")
	}
	return h.adminRequest(path, scheme+" "+s.ready.AdminToken)
}

// Plain answers.

func (h *hygieneWorld) responseHolds(want string) error {
	if !strings.Contains(h.w.body, want) {
		return fmt.Errorf("the response (%d) does not hold %q: %.300q", h.w.status, want, h.w.body)
	}
	return nil
}

func (h *hygieneWorld) responseDoesNotHold(unwanted string) error {
	if strings.Contains(h.w.body, unwanted) {
		return fmt.Errorf("the response (%d) holds %q: %.300q", h.w.status, unwanted, h.w.body)
	}
	return nil
}

func (h *hygieneWorld) responseHeaderIs(name, want string) error {
	if got := h.w.header.Get(name); got != want {
		return fmt.Errorf("%s: %q, want %q", name, got, want)
	}
	return nil
}

// clientSends writes the request line with target exactly as given (Go's
// client would clean or re-encode it) and keeps the response.
func (h *hygieneWorld) clientSends(method, target string) error {
	s, err := h.w.defaultServer()
	if err != nil {
		return err
	}
	c, err := net.Dial("tcp", s.ready.HTTPAddr)
	if err != nil {
		return err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(waitTimeout))
	if _, err := fmt.Fprintf(c, "%s %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n", method, target, s.ready.HTTPAddr); err != nil {
		return err
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), &http.Request{Method: method})
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	h.w.status, h.w.header, h.w.body = resp.StatusCode, resp.Header, readAllLimited(resp, 1<<16)
	return nil
}

func (h *hygieneWorld) responseIsRedirectTo(want string) error {
	if h.w.status/100 != 3 || h.w.header.Get("Location") != want {
		return fmt.Errorf("%d Location %q, want a redirect to %q (body %.200q)", h.w.status, h.w.header.Get("Location"), want, h.w.body)
	}
	return nil
}

func (h *hygieneWorld) noSessionHeaders() error {
	if v := h.w.header.Values("Set-Cookie"); len(v) > 0 {
		return fmt.Errorf("Set-Cookie: %q", v)
	}
	if v := h.w.header.Get("Jetsse-Session"); v != "" {
		return fmt.Errorf("Jetsse-Session: %q", v)
	}
	return nil
}

func (h *hygieneWorld) metricIs(name, value string) error {
	want, err := strconv.ParseFloat(value, 64)
	if err != nil {
		return err
	}
	return h.w.metricIs(name, want)
}

func (h *hygieneWorld) sessionBucketHolds(n int) error {
	got, err := h.w.sessionRecords()
	if err != nil {
		return err
	}
	if got != n {
		return fmt.Errorf("%d session records, want %d", got, n)
	}
	return nil
}

// Readiness while NATS is away.

// restartableNATS starts a NATS server on a port it can have again.
func (h *hygieneWorld) restartableNATS() error {
	port, err := freePort()
	if err != nil {
		return err
	}
	h.natsAddr = fmt.Sprintf("127.0.0.1:%d", port)
	h.natsStore = filepath.Join(h.w.dir, "nats-restartable")
	return h.startNATS()
}

func (h *hygieneWorld) startNATS() error {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	ns, err := natsembed.Start(ctx, natsembed.Config{ClientAddr: h.natsAddr, StoreDir: h.natsStore})
	if err != nil {
		return err
	}
	// w.close shuts it down after the edges.
	h.w.cluster = []*natsserver.Server{ns}
	h.w.clusterURLs = []string{ns.ClientURL()}
	return nil
}

func (h *hygieneWorld) jetsseOnThatNATS() error {
	if len(h.w.clusterURLs) == 0 {
		return errors.New("no NATS server")
	}
	_, err := h.w.startServer("edge", filepath.Join(h.w.dir, "edge"), []string{"--nats-url", h.w.clusterURLs[0]})
	return err
}

func (h *hygieneWorld) natsStops() error {
	if len(h.w.cluster) == 0 {
		return errors.New("no NATS server")
	}
	ns := h.w.cluster[0]
	h.w.cluster = nil
	ns.Shutdown()
	ns.WaitForShutdown()
	return nil
}

func (h *hygieneWorld) natsStartsAgain() error { return h.startNATS() }

func (h *hygieneWorld) publicReadyzSaysOnlyNotReady() error {
	s, err := h.w.defaultServer()
	if err != nil {
		return err
	}
	req, _ := http.NewRequest(http.MethodGet, s.base()+"/readyz", nil)
	if err := h.w.do(req); err != nil {
		return err
	}
	if h.w.status != http.StatusServiceUnavailable || h.w.body != `{"error":"not ready"}`+"\n" ||
		h.w.header.Get("Retry-After") == "" || h.w.header.Get("Content-Type") != "application/json" {
		return fmt.Errorf("public /readyz: %d %q %v", h.w.status, h.w.body, h.w.header)
	}
	return nil
}

// adminReadyzTellsWhy: the admin /readyz answers 503 with a reason that
// says more than the public answer.
func (h *hygieneWorld) adminReadyzTellsWhy() error {
	if err := h.adminAskedWithTheToken("/readyz", "Bearer"); err != nil {
		return err
	}
	var e struct {
		Error string `json:"error"`
	}
	if h.w.status != http.StatusServiceUnavailable || json.Unmarshal([]byte(h.w.body), &e) != nil ||
		len(e.Error) <= len("not ready") {
		return fmt.Errorf("admin /readyz: %d %q, want 503 with the reason", h.w.status, h.w.body)
	}
	return nil
}

// Secrets' files.

// args resolves the names of files the scenario wrote in flags.
func (h *hygieneWorld) args(flags string) []string {
	args := strings.Fields(flags)
	for i, a := range args {
		if p, ok := h.files[a]; ok {
			args[i] = p
		}
	}
	return args
}

func (h *hygieneWorld) serverDoesNotStart(flags, want string) error {
	h.refused++
	dir := filepath.Join(h.w.dir, fmt.Sprintf("refused-%d", h.refused))
	s, err := h.w.startServer(fmt.Sprintf("refused-%d", h.refused), dir, h.args(flags))
	if err == nil {
		_ = s.stop()
		return fmt.Errorf("the server started with %q", flags)
	}
	if first, _, _ := strings.Cut(err.Error(), "\n"); !strings.Contains(first, want) {
		return fmt.Errorf("the server did not start, but not saying %q: %v", want, err)
	}
	return nil
}

func parseMode(s string) (os.FileMode, error) {
	m, err := strconv.ParseUint(s, 8, 32)
	return os.FileMode(m), err
}

func (h *hygieneWorld) serverFileChmod(name, mode string) error {
	s, err := h.w.defaultServer()
	if err != nil {
		return err
	}
	m, err := parseMode(mode)
	if err != nil {
		return err
	}
	return os.Chmod(filepath.Join(s.dataDir, name), m)
}

func (h *hygieneWorld) serverStoppedAndFileChmod(name, mode string) error {
	s, err := h.w.defaultServer()
	if err != nil {
		return err
	}
	if err := s.stop(); err != nil {
		return err
	}
	return h.serverFileChmod(name, mode)
}

func (h *hygieneWorld) writeKeyFile(name string, key []byte, mode string) error {
	m, err := parseMode(mode)
	if err != nil {
		return err
	}
	path := filepath.Join(h.w.dir, name)
	if err := os.WriteFile(path, []byte(base64.StdEncoding.EncodeToString(key)+"\n"), 0o600); err != nil {
		return err
	}
	h.files[name] = path
	return os.Chmod(path, m) // WriteFile's mode is masked by the umask
}

func (h *hygieneWorld) goodKeyFile(name, mode string) error {
	sum := sha256.Sum256([]byte("hygiene key " + name))
	return h.writeKeyFile(name, sum[:], mode)
}

func (h *hygieneWorld) repeatedByteKeyFile(name string, n int, hexByte, mode string) error {
	b, err := strconv.ParseUint(hexByte, 16, 8)
	if err != nil {
		return err
	}
	return h.writeKeyFile(name, bytes.Repeat([]byte{byte(b)}, n), mode)
}

func (h *hygieneWorld) dataDirHoldsFileOfMode(name, mode string) error {
	s, err := h.w.defaultServer()
	if err != nil {
		return err
	}
	want, err := parseMode(mode)
	if err != nil {
		return err
	}
	st, err := os.Stat(filepath.Join(s.dataDir, name))
	if err != nil {
		return err
	}
	if got := st.Mode().Perm(); got != want {
		return fmt.Errorf("%s has mode %04o, want %04o", name, got, want)
	}
	return nil
}

func (h *hygieneWorld) logNamesFileButNotToken(name string) error {
	s, err := h.w.defaultServer()
	if err != nil {
		return err
	}
	b, err := os.ReadFile(filepath.Join(s.dataDir, name))
	if err != nil {
		return err
	}
	token := strings.TrimSpace(string(b))
	logs := s.logs.String()
	if len(token) < 16 {
		return fmt.Errorf("%s holds a %d-byte token", name, len(token))
	}
	if len(logLines(logs, name)) == 0 {
		return fmt.Errorf("the log does not name %s:\n%s", name, logs)
	}
	if strings.Contains(logs, token) || strings.Contains(logs, token[len(token)/2:]) {
		return fmt.Errorf("the log holds the token of %s:\n%s", name, logs)
	}
	return nil
}
