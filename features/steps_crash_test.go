package features

// Steps of crash.feature: the jetsse binary killed with SIGKILL and started
// again on its data dir.

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"time"

	"github.com/cucumber/godog"
)

func (w *world) registerCrash(sc *godog.ScenarioContext) {
	sc.Step(`^a jetsse process$`, w.jetsseProcess)
	sc.Step(`^the jetsse process is started again on the same data dir$`, w.processIsStartedAgain)
	sc.Step(`^client "(\w+)" notices its connection ended$`, w.clientNoticesConnectionEnded)
	sc.Step(`^(\d+) events are published to "([^"]*)" while the jetsse process is killed with SIGKILL partway$`, w.publishWhileKilled)
	sc.Step(`^the stream holds every event whose publish was acknowledged$`, w.streamHoldsEveryAcknowledgedEvent)
}

func (w *world) jetsseProcess() error {
	_, err := w.startProcess("edge", filepath.Join(w.dir, "edge"), nil)
	return err
}

func (w *world) processIsStartedAgain() error {
	s, err := w.defaultServer()
	if err != nil {
		return err
	}
	_, err = w.startProcess(s.name, s.dataDir, nil)
	return err
}

func (w *world) clientNoticesConnectionEnded(name string) error {
	c, err := w.client(name)
	if err != nil {
		return err
	}
	return c.waitFor(waitTimeout, "the connection to end", func() bool { return c.endErr != nil })
}

// publishWhileKilled publishes n events one at a time and SIGKILLs the
// server process once half were acknowledged; it records only acknowledged
// publishes.
func (w *world) publishWhileKilled(n int, topic string) error {
	s, err := w.defaultServer()
	if err != nil {
		return err
	}
	js, err := w.js()
	if err != nil {
		return err
	}
	var once sync.Once
	var killErr error
	for i := range n {
		if i == n/2 {
			go once.Do(func() { killErr = s.kill() })
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		data := fmt.Sprintf("burst %d", i)
		ack, err := js.Publish(ctx, "events."+topic, []byte(data))
		cancel()
		if err != nil {
			break // the server is gone: the rest were never acknowledged
		}
		w.published = append(w.published, published{Seq: ack.Sequence, Topic: topic, Data: data})
	}
	once.Do(func() { killErr = s.kill() }) // kill waits for the process to exit
	return killErr
}

func (w *world) streamHoldsEveryAcknowledgedEvent() error {
	st, err := w.stream()
	if err != nil {
		return err
	}
	if len(w.published) == 0 {
		return errors.New("no publish was acknowledged before the kill")
	}
	for _, p := range w.published {
		m, err := st.GetMsg(context.Background(), p.Seq)
		if err != nil {
			return fmt.Errorf("acknowledged event %d is gone: %w", p.Seq, err)
		}
		if string(m.Data) != p.Data {
			return fmt.Errorf("event %d holds %q, published %q", p.Seq, m.Data, p.Data)
		}
	}
	return nil
}
