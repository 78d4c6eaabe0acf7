package features

// Steps of operations.feature: health, metrics and draining.

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/cucumber/godog"
)

func (w *world) registerOperations(sc *godog.ScenarioContext) {
	sc.Step(`^every metric family from jetsse is named "jetsse_\*"$`, w.everyMetricIsNamedJetsse)
	sc.Step(`^client "(\w+)" gets a new retry value and its connection ends$`, w.clientGetsNewRetryAndEnds)
	sc.Step(`^the server stops$`, w.serverStops)
}

func (w *world) everyMetricIsNamedJetsse() error {
	m, err := w.scrape()
	if err != nil {
		return err
	}
	for name := range m {
		if !strings.HasPrefix(name, "jetsse_") {
			return fmt.Errorf("metric %s is not named jetsse_*", name)
		}
	}
	return nil
}

func (w *world) clientGetsNewRetryAndEnds(name string) error {
	c, err := w.client(name)
	if err != nil {
		return err
	}
	return c.waitFor(waitTimeout, "a second retry and the end", func() bool { return len(c.retries) >= 2 && c.endErr != nil })
}

func (w *world) serverStops() error {
	s, err := w.defaultServer()
	if err != nil {
		return err
	}
	select {
	case err := <-s.done:
		s.done <- err
		return err
	case <-time.After(waitTimeout):
		return errors.New("the server did not stop")
	}
}
