package features

// Steps of batch_publish.feature: POST /publish with {"events": [...]}.
// The batch a step sent is kept in w.batch; the events the answer says were
// stored are added to w.published, which client checks compare against.

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/cucumber/godog"
)

// batchEvent is one event of a batch as sent.
type batchEvent struct {
	Topic string `json:"topic"`
	Event string `json:"event,omitempty"`
	Data  string `json:"data"`
	MsgID string `json:"msg_id,omitempty"`
}

// batchAnswer is the answer to a batch: the IDs, and after a partial
// failure the error and the failed events.
type batchAnswer struct {
	IDs    []string `json:"ids"`
	Error  string   `json:"error"`
	Failed []struct {
		Index int    `json:"index"`
		Error string `json:"error"`
	} `json:"failed"`
}

func (w *world) registerBatchPublish(sc *godog.ScenarioContext) {
	sc.Step(`^I POST /publish with the token and a batch of$`, w.postBatchTable)
	sc.Step(`^I POST /publish with the token and a batch of (\d+) events to "([^"]*)"$`, func(n int, topic string) error {
		return w.postBatchOf(n, 1, topic)
	})
	sc.Step(`^I POST /publish with the token and a batch of (\d+) events of (\d+) bytes to "([^"]*)"$`, func(n, size int, topic string) error {
		return w.postBatchOf(n, size, topic)
	})
	sc.Step(`^I POST /publish a batch to "([^"]*)" with (.+)$`, w.postBatchWithCredentials)
	sc.Step(`^the response lists the batch's (\d+) IDs, one after the other$`, w.responseListsConsecutiveIDs)
	sc.Step(`^events (\d+) and (\d+) of the batch have the same ID$`, w.batchEventsShareID)
	sc.Step(`^the stream holds exactly the batch's (?:stored )?events, in its order$`, w.streamHoldsTheBatch)
	sc.Step(`^the response lists IDs for events (\d+) and (\d+) only, and says event (\d+) failed$`, w.responseListsPartial)
	sc.Step(`^the response is a JSON error saying "([^"]*)"$`, w.responseIsJSONErrorSaying)
}

// sizedData is a data cell "<n> bytes": n bytes of x; any other cell is
// the data itself.
var sizedData = regexp.MustCompile(`^(\d+) bytes$`)

func (w *world) postBatchTable(t *godog.Table) error {
	col := map[string]int{}
	for i, c := range t.Rows[0].Cells {
		col[c.Value] = i
	}
	var events []batchEvent
	for _, r := range t.Rows[1:] {
		cell := func(name string) string {
			if i, ok := col[name]; ok {
				return r.Cells[i].Value
			}
			return ""
		}
		e := batchEvent{Topic: cell("topic"), Event: cell("event"), Data: cell("data"), MsgID: cell("msg_id")}
		if m := sizedData.FindStringSubmatch(e.Data); m != nil {
			n, _ := strconv.Atoi(m[1])
			e.Data = strings.Repeat("x", n)
		}
		events = append(events, e)
	}
	return w.postBatch(events, "the publish token")
}

func (w *world) postBatchOf(n, size int, topic string) error {
	events := make([]batchEvent, n)
	for i := range events {
		events[i] = batchEvent{Topic: topic, Data: strings.Repeat("x", size)}
	}
	return w.postBatch(events, "the publish token")
}

func (w *world) postBatchWithCredentials(topics, credentials string) error {
	var events []batchEvent
	for _, t := range splitList(topics) {
		events = append(events, batchEvent{Topic: t, Data: "to " + t})
	}
	return w.postBatch(events, credentials)
}

// postBatch POSTs events as a batch with credentials (as the authorization
// steps name them), keeps the answer, and records the events it says were
// stored.
func (w *world) postBatch(events []batchEvent, credentials string) error {
	if err := w.postPublish(map[string]any{"events": events}, credentials); err != nil {
		return err
	}
	w.batch, w.batchAnswer = events, batchAnswer{}
	if !strings.HasPrefix(w.header.Get("Content-Type"), "application/json") {
		return nil
	}
	if err := json.Unmarshal([]byte(w.body), &w.batchAnswer); err != nil {
		return fmt.Errorf("answer %q: %w", w.body, err)
	}
	for i, id := range w.batchAnswer.IDs {
		if id == "" || i >= len(events) {
			continue
		}
		seq, err := strconv.ParseUint(id, 10, 64)
		if err != nil {
			return fmt.Errorf("answer %q: id %q: %w", w.body, id, err)
		}
		e := events[i]
		if w.isStored(seq) {
			continue // a repeated message ID: the stored event's ID
		}
		w.published = append(w.published, published{Seq: seq, Topic: e.Topic, Type: e.Event, Data: e.Data})
	}
	return nil
}

func (w *world) isStored(seq uint64) bool {
	for _, p := range w.published {
		if p.Seq == seq {
			return true
		}
	}
	return false
}

// batchSeqs returns the answer's IDs as sequences (0 for "").
func (w *world) batchSeqs() ([]uint64, error) {
	if len(w.batchAnswer.IDs) != len(w.batch) {
		return nil, fmt.Errorf("%d ids for %d events: %s", len(w.batchAnswer.IDs), len(w.batch), w.body)
	}
	seqs := make([]uint64, len(w.batchAnswer.IDs))
	for i, id := range w.batchAnswer.IDs {
		if id == "" {
			continue
		}
		seq, err := strconv.ParseUint(id, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("id %q: %w", id, err)
		}
		seqs[i] = seq
	}
	return seqs, nil
}

func (w *world) responseListsConsecutiveIDs(n int) error {
	seqs, err := w.batchSeqs()
	if err != nil {
		return err
	}
	if len(seqs) != n {
		return fmt.Errorf("%d ids, want %d: %s", len(seqs), n, w.body)
	}
	for i := 1; i < n; i++ {
		if seqs[i] != seqs[i-1]+1 {
			return fmt.Errorf("ids %v are not one after the other", seqs)
		}
	}
	if w.batchAnswer.Error != "" || len(w.batchAnswer.Failed) > 0 || strings.Contains(w.body, `"error"`) {
		return fmt.Errorf("answer %s carries an error", w.body)
	}
	return nil
}

func (w *world) batchEventsShareID(a, b int) error {
	seqs, err := w.batchSeqs()
	if err != nil {
		return err
	}
	if seqs[a-1] == 0 || seqs[a-1] != seqs[b-1] {
		return fmt.Errorf("ids %v: events %d and %d differ", seqs, a, b)
	}
	return nil
}

// streamHoldsTheBatch reads the stream and checks that the events the
// answer gave an ID are there under that ID, with their subject, type and
// data, and that nothing else is.
func (w *world) streamHoldsTheBatch() error {
	seqs, err := w.batchSeqs()
	if err != nil {
		return err
	}
	st, err := w.stream()
	if err != nil {
		return err
	}
	stored := 0
	for i, seq := range seqs {
		if seq == 0 {
			continue
		}
		stored++
		m, err := st.GetMsg(context.Background(), seq)
		if err != nil {
			return fmt.Errorf("event %d (id %d): %w", i+1, seq, err)
		}
		e := w.batch[i]
		if m.Subject != "events."+e.Topic || m.Header.Get("Sse-Event") != e.Event || string(m.Data) != e.Data {
			return fmt.Errorf("id %d holds %s %q %.40q, event %d was %s %q %.40q",
				seq, m.Subject, m.Header.Get("Sse-Event"), m.Data, i+1, e.Topic, e.Event, e.Data)
		}
	}
	info, err := st.Info(context.Background())
	if err != nil {
		return err
	}
	if info.State.Msgs != uint64(stored) {
		return fmt.Errorf("stream holds %d events, the answer lists %d", info.State.Msgs, stored)
	}
	return nil
}

func (w *world) responseListsPartial(a, b, failed int) error {
	seqs, err := w.batchSeqs()
	if err != nil {
		return err
	}
	if seqs[a-1] == 0 || seqs[b-1] != seqs[a-1]+1 || seqs[failed-1] != 0 {
		return fmt.Errorf("ids %v, want events %d and %d stored one after the other, %d not", seqs, a, b, failed)
	}
	f := w.batchAnswer.Failed
	if len(f) != 1 || f[0].Index != failed-1 || f[0].Error == "" || w.batchAnswer.Error == "" {
		return fmt.Errorf("answer %s: want event index %d alone in failed, and an error", w.body, failed-1)
	}
	return nil
}

func (w *world) responseIsJSONErrorSaying(text string) error {
	if err := w.responseIsJSONError(); err != nil {
		return err
	}
	if !strings.Contains(w.body, text) {
		return fmt.Errorf("error %s does not say %q", w.body, text)
	}
	return nil
}
