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

func (w *world) registerOperator(sc *godog.ScenarioContext) {
	var output string
	var run func(command string) error
	run = func(command string) error {
		bin, err := natsCLI()
		if err != nil {
			return err
		}
		s, err := w.defaultServer()
		if err != nil {
			return err
		}
		args := strings.Fields(command)
		if args[0] != "nats" {
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
		cmd := exec.Command(bin, append([]string{"--server", s.ready.NATSURL}, args[1:]...)...)
		cmd.Env = append(os.Environ(), "NATS_CONTEXT=", "HOME="+w.dir)
		out, err := cmd.CombinedOutput()
		output = string(out)
		if err != nil {
			return fmt.Errorf("%s: %v\n%s", command, err, out)
		}
		if strings.HasPrefix(args[1], "pub") {
			// Record the event; its sequence is the stream's last.
			js, err := w.js()
			if err != nil {
				return err
			}
			st, err := js.Stream(bgctx(), "EVENTS")
			if err != nil {
				return err
			}
			w.published = append(w.published, published{Seq: st.CachedInfo().State.LastSeq, Topic: strings.TrimPrefix(args[2], "events."), Data: args[3]})
		}
		return nil
	}
	sc.Step(`^the operator runs "([^"]*)"$`, func(command string) error { return run(command) })
	sc.Step(`^the output shows the stream on "([^"]*)" keeping at most (\d+) messages$`, func(subject string, max int64) error {
		var info struct {
			Config struct {
				Subjects []string `json:"subjects"`
				MaxMsgs  int64    `json:"max_msgs"`
			} `json:"config"`
		}
		if err := json.Unmarshal([]byte(output), &info); err != nil {
			return fmt.Errorf("stream info output: %v\n%s", err, output)
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
		f := strings.Fields(output)
		return slices.Contains(f, "sse-"+id) || slices.Contains(f, id), nil
	}
	sc.Step(`^the output lists the session of client "(\w+)"$`, func(name string) error {
		if ok, err := listed(name); err != nil || !ok {
			return fmt.Errorf("session of %s not in (%v)\n%s", name, err, output)
		}
		return nil
	})
	sc.Step(`^the output does not list the session of client "(\w+)"$`, func(name string) error {
		if ok, err := listed(name); err != nil || ok {
			return fmt.Errorf("session of %s listed (%v)\n%s", name, err, output)
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
			return fmt.Errorf("session of %s not listed:\n%s", name, output)
		})
	})
	sc.Step(`^the output shows metadata "([^"]*)" with "([^"]*)"$`, func(key, want string) error {
		var info struct {
			Config struct {
				Metadata map[string]string `json:"metadata"`
			} `json:"config"`
		}
		if err := json.Unmarshal([]byte(output), &info); err != nil {
			return fmt.Errorf("consumer info output: %v\n%s", err, output)
		}
		if !strings.Contains(info.Config.Metadata[key], want) {
			return fmt.Errorf("metadata %v", info.Config.Metadata)
		}
		return nil
	})
}

func bgctx() context.Context { return context.Background() }
