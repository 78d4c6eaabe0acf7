package features

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"github.com/cucumber/godog"
)

// natsCLI builds the nats CLI (github.com/nats-io/natscli v0.5.0) once per
// test run, from the Go module proxy, outside this module's requirements.
var natsCLI = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "natscli")
	if err != nil {
		return "", err
	}
	cmd := exec.Command("go", "install", "github.com/nats-io/natscli/nats@v0.5.0")
	cmd.Env = append(os.Environ(), "GOBIN="+dir, "GOFLAGS=-mod=mod")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("installing the nats CLI: %v\n%s", err, out)
	}
	return filepath.Join(dir, "nats"), nil
})

// runNATS runs a nats CLI command line ("nats stream info EVENTS") against
// the default server's NATS and keeps its output in w.cliOutput. A token
// "<consumer of NAME>" stands for the session consumer of client NAME.
// Publishes ("nats pub …") are recorded as published events.
func (w *world) runNATS(command string) error {
	args := strings.Fields(command)
	if len(args) < 2 || args[0] != "nats" {
		return fmt.Errorf("not a nats command: %q", command)
	}
	for i, a := range args {
		if a == "<consumer" && i+2 < len(args) {
			id, err := w.sessionIDOf(strings.TrimSuffix(args[i+2], ">"))
			if err != nil {
				return err
			}
			args = append(args[:i], append([]string{"sse-" + id}, args[i+3:]...)...)
			break
		}
	}
	if _, err := w.natsCLIArgs(args[1:]...); err != nil {
		return fmt.Errorf("%s: %w", command, err)
	}
	if args[1] == "pub" {
		// Record the event; its sequence is the stream's last.
		st, err := w.stream()
		if err != nil {
			return err
		}
		w.published = append(w.published, published{Seq: st.CachedInfo().State.LastSeq, Topic: strings.TrimPrefix(args[2], "events."), Data: args[3]})
	}
	return nil
}

// natsCLIArgs runs the nats CLI with args against the default server and
// keeps its combined output in w.cliOutput.
func (w *world) natsCLIArgs(args ...string) (string, error) {
	bin, err := natsCLI()
	if err != nil {
		return "", err
	}
	s, err := w.defaultServer()
	if err != nil {
		return "", err
	}
	cmd := exec.Command(bin, append([]string{"--server", s.ready.NATSURL}, args...)...)
	cmd.Env = append(os.Environ(), "NATS_CONTEXT=", "HOME="+w.dir)
	out, err := cmd.CombinedOutput()
	w.cliOutput = string(out)
	if err != nil {
		return w.cliOutput, fmt.Errorf("%v\n%s", err, out)
	}
	return w.cliOutput, nil
}

func (w *world) registerOperator(sc *godog.ScenarioContext) {
	run := w.runNATS
	sc.Step(`^the operator runs "([^"]*)"$`, func(command string) error { return run(command) })
	sc.Step(`^the output shows the stream on "([^"]*)" keeping at most (\d+) messages$`, func(subject string, max int64) error {
		var info struct {
			Config struct {
				Subjects []string `json:"subjects"`
				MaxMsgs  int64    `json:"max_msgs"`
			} `json:"config"`
		}
		if err := json.Unmarshal([]byte(w.cliOutput), &info); err != nil {
			return fmt.Errorf("stream info output: %v\n%s", err, w.cliOutput)
		}
		if !slices.Contains(info.Config.Subjects, subject) || info.Config.MaxMsgs != max {
			return fmt.Errorf("stream config %+v", info.Config)
		}
		return nil
	})
	listed := func(name string) (bool, error) {
		id, err := w.sessionIDOf(name)
		if err != nil {
			return false, err
		}
		f := strings.Fields(w.cliOutput)
		return slices.Contains(f, "sse-"+id) || slices.Contains(f, id), nil
	}
	sc.Step(`^the output lists the session of client "(\w+)"$`, func(name string) error {
		if ok, err := listed(name); err != nil || !ok {
			return fmt.Errorf("session of %s not in (%v)\n%s", name, err, w.cliOutput)
		}
		return nil
	})
	sc.Step(`^the output does not list the session of client "(\w+)"$`, func(name string) error {
		if ok, err := listed(name); err != nil || ok {
			return fmt.Errorf("session of %s listed (%v)\n%s", name, err, w.cliOutput)
		}
		return nil
	})
	sc.Step(`^the operator waits until "([^"]*)" lists the session of client "(\w+)"$`, func(command, name string) error {
		return eventually(func() error {
			if err := run(command); err != nil {
				return err
			}
			if ok, err := listed(name); err != nil || ok {
				return err
			}
			return fmt.Errorf("session of %s not listed:\n%s", name, w.cliOutput)
		})
	})
	sc.Step(`^the output shows metadata "([^"]*)" with "([^"]*)"$`, func(key, want string) error {
		var info struct {
			Config struct {
				Metadata map[string]string `json:"metadata"`
			} `json:"config"`
		}
		if err := json.Unmarshal([]byte(w.cliOutput), &info); err != nil {
			return fmt.Errorf("consumer info output: %v\n%s", err, w.cliOutput)
		}
		if !strings.Contains(info.Config.Metadata[key], want) {
			return fmt.Errorf("metadata %v", info.Config.Metadata)
		}
		return nil
	})
}

func bgctx() context.Context { return context.Background() }
