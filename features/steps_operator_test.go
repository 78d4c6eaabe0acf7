package features

// Steps of operator.feature: what the nats CLI shows of the stream and the
// sessions.

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/cucumber/godog"
)

func (w *world) registerOperator(sc *godog.ScenarioContext) {
	sc.Step(`^the output lists the session of client "(\w+)"$`, w.outputListsSession)
	sc.Step(`^the output does not list the session of client "(\w+)"$`, w.outputDoesNotListSession)
	sc.Step(`^the output shows metadata "([^"]*)" with "([^"]*)"$`, w.outputShowsMetadata)
}

func (w *world) outputListsSession(name string) error {
	if ok, err := w.cliListsSession(name); err != nil || !ok {
		return fmt.Errorf("session of %s not in (%v)\n%s", name, err, w.cliOutput)
	}
	return nil
}

func (w *world) outputDoesNotListSession(name string) error {
	if ok, err := w.cliListsSession(name); err != nil || ok {
		return fmt.Errorf("session of %s listed (%v)\n%s", name, err, w.cliOutput)
	}
	return nil
}

// outputShowsMetadata checks the consumer info (JSON) has metadata key
// containing want.
func (w *world) outputShowsMetadata(key, want string) error {
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
}
