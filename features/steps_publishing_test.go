package features

// Steps of publishing.feature: publishing over NATS and POST /publish.

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"

	"github.com/cucumber/godog"
)

func (w *world) registerPublishing(sc *godog.ScenarioContext) {
	sc.Step(`^I POST /publish with token "([^"]*)" and body `+quoted+`$`, w.postPublishWithToken)
	sc.Step(`^the response JSON has the event's id$`, w.responseHasTheEventsID)
	sc.Step(`^client "(\w+)" receives that event with its stream sequence as id, type "([^"]*)" and data `+quoted+`$`, w.clientReceivesThatEvent)
}

func (w *world) postPublishWithToken(token, body string) error {
	b, err := unquote(body)
	if err != nil {
		return err
	}
	return w.publishHTTP([]byte(b), token)
}

func (w *world) responseHasTheEventsID() error {
	var r struct{ ID string }
	if err := json.Unmarshal([]byte(w.body), &r); err != nil {
		return fmt.Errorf("response %q: %w", w.body, err)
	}
	if len(w.published) == 0 || r.ID != strconv.FormatUint(w.published[len(w.published)-1].Seq, 10) {
		return fmt.Errorf("response id %q, published %v", r.ID, w.published)
	}
	return nil
}

// clientReceivesThatEvent waits until the client's current connection got
// the last published event with its sequence as id, type typ and data.
func (w *world) clientReceivesThatEvent(name, typ, data string) error {
	c, err := w.client(name)
	if err != nil {
		return err
	}
	data, err = unquote(data)
	if err != nil {
		return err
	}
	p := w.published[len(w.published)-1]
	id := strconv.FormatUint(p.Seq, 10)
	return c.waitFor(waitTimeout, "event "+id, func() bool {
		return slices.Contains(c.events, received{ID: id, Type: typ, Data: data, Conn: c.connections})
	})
}
