package features

// Steps of nats_security.feature: who may use the embedded NATS server.

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/cucumber/godog"
)

func (w *world) registerNATSSecurity(sc *godog.ScenarioContext) {
	sc.Step(`^the operator tries "([^"]*)" without credentials$`, w.operatorTriesWithout)
	sc.Step(`^the operator tries "([^"]*)" as user "([^"]*)" with password "([^"]*)"$`, w.operatorTriesAs)
	sc.Step(`^the operator runs "([^"]*)" as user "([^"]*)" with password "([^"]*)"$`, w.operatorRunsAs)
	sc.Step(`^the operator runs "([^"]*)" with the generated credentials$`, w.operatorRunsWithGenerated)
	sc.Step(`^the nats CLI is refused for lack of authorization$`, w.cliRefusedForAuthorization)
	sc.Step(`^the output lists the stream "([^"]*)"$`, w.outputListsStream)
	sc.Step(`^the NATS password file has mode (0[0-7]+)$`, w.natsPasswordFileHasMode)
	sc.Step(`^the data dir holds no NATS password file$`, w.noNATSPasswordFile)
	sc.Step(`^the log shows the generated NATS password once, as a nats CLI context that works$`, w.logShowsContextOnce)
	sc.Step(`^the NATS password file still holds the password of the first start$`, w.passwordOfFirstStart)
	sc.Step(`^the log names the NATS password file but not the password$`, w.logNamesFileNotPassword)
	sc.Step(`^the log says the server requires credentials, without "([^"]*)"$`, w.logRequiresCredentialsWithout)
	sc.Step(`^the server is stopped and its NATS password file is made readable by group and others$`, w.passwordFileMadeReadable)
	sc.Step(`^a jetsse server with "([^"]*)" does not start, saying "([^"]*)"$`, w.serverDoesNotStart)
}

// natsPasswordPath is the generated password's file in the default
// server's data dir.
func (w *world) natsPasswordPath() (string, error) {
	s, err := w.defaultServer()
	if err != nil {
		return "", err
	}
	return filepath.Join(s.dataDir, "nats.password"), nil
}

// generatedPassword reads the password file as the operator would.
func (w *world) generatedPassword() (string, error) {
	path, err := w.natsPasswordPath()
	if err != nil {
		return "", err
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	pw := strings.TrimSpace(string(b))
	if len(pw) < 32 {
		return "", fmt.Errorf("%s holds %d characters", path, len(pw))
	}
	return pw, nil
}

func (w *world) operatorTriesWithout(command string) error {
	w.cliErr = w.runNATS(command)
	return nil
}

func (w *world) operatorTriesAs(command, user, password string) error {
	w.cliErr = w.runNATSWith([]string{"--user", user, "--password", password}, command)
	return nil
}

func (w *world) operatorRunsAs(command, user, password string) error {
	return w.runNATSWith([]string{"--user", user, "--password", password}, command)
}

func (w *world) operatorRunsWithGenerated(command string) error {
	pw, err := w.generatedPassword()
	if err != nil {
		return err
	}
	return w.runNATSWith([]string{"--user", "jetsse", "--password", pw}, command)
}

func (w *world) cliRefusedForAuthorization() error {
	if w.cliErr == nil {
		return fmt.Errorf("the nats CLI succeeded:\n%s", w.cliOutput)
	}
	if !strings.Contains(w.cliOutput, "Authorization Violation") {
		return fmt.Errorf("the nats CLI failed, but not for authorization: %v", w.cliErr)
	}
	return nil
}

func (w *world) outputListsStream(name string) error {
	if !slices.Contains(strings.Fields(w.cliOutput), name) {
		return fmt.Errorf("stream %s not listed:\n%s", name, w.cliOutput)
	}
	return nil
}

func (w *world) natsPasswordFileHasMode(mode string) error {
	want, err := strconv.ParseUint(mode, 8, 32)
	if err != nil {
		return err
	}
	path, err := w.natsPasswordPath()
	if err != nil {
		return err
	}
	st, err := os.Stat(path)
	if err != nil {
		return err
	}
	if got := st.Mode().Perm(); got != os.FileMode(want) {
		return fmt.Errorf("%s has mode %04o, want %04o", path, got, want)
	}
	return nil
}

func (w *world) noNATSPasswordFile() error {
	path, err := w.natsPasswordPath()
	if err != nil {
		return err
	}
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("%s exists (%v)", path, err)
	}
	return nil
}

// logShowsContextOnce checks that the default server's log holds the
// generated password on exactly one line, a nats CLI context command for
// user jetsse on the server's port; saves that context (pointed at the
// loopback URL the test reaches) and uses it. It remembers the password.
func (w *world) logShowsContextOnce() error {
	s, err := w.defaultServer()
	if err != nil {
		return err
	}
	pw, err := w.generatedPassword()
	if err != nil {
		return err
	}
	logs := s.logs.String()
	if lines := logLines(logs, pw); len(lines) != 1 {
		return fmt.Errorf("the password is on %d log lines, want 1:\n%s", len(lines), logs)
	}
	line := logLines(logs, pw)[0]
	_, rest, ok := strings.Cut(line, "nats_context=")
	if !ok {
		return fmt.Errorf("the password is logged outside a nats context: %s", line)
	}
	quoted, err := strconv.QuotedPrefix(rest)
	if err != nil {
		return fmt.Errorf("nats_context value in %s: %v", line, err)
	}
	command, err := strconv.Unquote(quoted)
	if err != nil {
		return fmt.Errorf("nats_context value in %s: %v", line, err)
	}
	args := strings.Fields(command)
	if len(args) < 4 || strings.Join(args[:4], " ") != "nats context save jetsse" {
		return fmt.Errorf("not a nats context command: %q", command)
	}
	flags := map[string]string{}
	for i := 4; i+1 < len(args); i++ {
		if strings.HasPrefix(args[i], "--") && !strings.HasPrefix(args[i+1], "--") {
			flags[args[i]] = args[i+1]
		}
	}
	if flags["--user"] != "jetsse" || flags["--password"] != pw {
		return fmt.Errorf("context %q: want user jetsse and the password of the file", command)
	}
	logged, err := url.Parse(flags["--server"])
	if err != nil {
		return err
	}
	local, err := url.Parse(s.ready.NATSURL)
	if err != nil {
		return err
	}
	if logged.Scheme != "nats" || logged.Port() != local.Port() {
		return fmt.Errorf("context server %q, the server listens on %s", flags["--server"], s.ready.NATSURL)
	}
	// Save the logged context as it is, but for the host (the test reaches
	// the server on loopback), in a directory of its own: it selects
	// itself, and the other steps use no context.
	for i, a := range args {
		if a == "--server" {
			args[i+1] = s.ready.NATSURL
		}
	}
	xdg := filepath.Join(w.dir, "xdg-logged-context")
	if _, err := w.natsCLIIn(xdg, args[1:]...); err != nil {
		return fmt.Errorf("saving the logged context: %w", err)
	}
	if _, err := w.natsCLIIn(xdg, "stream", "ls", "--names"); err != nil {
		return fmt.Errorf("using the logged context: %w", err)
	}
	if err := w.outputListsStream("EVENTS"); err != nil {
		return err
	}
	w.natsPassword = pw
	return nil
}

func (w *world) passwordOfFirstStart() error {
	if w.natsPassword == "" {
		return errors.New("the scenario did not read the first start's password")
	}
	pw, err := w.generatedPassword()
	if err != nil {
		return err
	}
	if pw != w.natsPassword {
		return errors.New("the password file holds a new password")
	}
	return nil
}

func (w *world) logNamesFileNotPassword() error {
	s, err := w.defaultServer()
	if err != nil {
		return err
	}
	path, err := w.natsPasswordPath()
	if err != nil {
		return err
	}
	logs := s.logs.String()
	if len(logLines(logs, "requires credentials", "password_file="+path)) != 1 {
		return fmt.Errorf("no log line names %s:\n%s", path, logs)
	}
	if strings.Contains(logs, w.natsPassword) || strings.Contains(logs, "nats_context") {
		return fmt.Errorf("the log shows the password again:\n%s", logs)
	}
	return nil
}

func (w *world) logRequiresCredentialsWithout(secret string) error {
	s, err := w.defaultServer()
	if err != nil {
		return err
	}
	if lines := logLines(s.logs.String(), secret); len(lines) > 0 {
		return fmt.Errorf("logged: %s", strings.Join(lines, "\n"))
	}
	if len(logLines(s.logs.String(), "requires credentials")) == 0 {
		return fmt.Errorf("the log does not say the server requires credentials:\n%s", s.logs.String())
	}
	return nil
}

func (w *world) passwordFileMadeReadable() error {
	s, err := w.defaultServer()
	if err != nil {
		return err
	}
	if err := s.stop(); err != nil {
		return err
	}
	path, err := w.natsPasswordPath()
	if err != nil {
		return err
	}
	return os.Chmod(path, 0o644)
}

// serverDoesNotStart starts a server on the scenario's data dir and expects
// it to fail, the first line of its error containing want.
func (w *world) serverDoesNotStart(flags, want string) error {
	_, err := w.startServer("edge", filepath.Join(w.dir, "edge"), strings.Fields(flags))
	if err == nil {
		return errors.New("the server started")
	}
	if first, _, _ := strings.Cut(err.Error(), "\n"); !strings.Contains(first, want) {
		return fmt.Errorf("the server did not start, but not saying %q: %v", want, err)
	}
	return nil
}
