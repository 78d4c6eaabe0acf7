package features

// Steps of gaps.feature: events evicted by the stream's limits while a
// client was away.

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/cucumber/godog"
)

func (w *world) registerGaps(sc *godog.ScenarioContext) {
	sc.Step(`^(\d+) events of (\d+) bytes are published to "([^"]*)" one at a time$`, w.eventsOfSizeArePublishedOneAtATime)
	sc.Step(`^the stream's first sequence passes (\d+)$`, w.streamFirstSeqPasses)
	sc.Step(`^client "(\w+)" is told the session is new, starting after "([^"]*)"$`, w.clientIsToldNewAfter)
	sc.Step(`^client "(\w+)" receives a gap from "(\d+)" to the stream's first sequence before any replayed event$`, w.clientReceivesGapToFirstSeq)
	sc.Step(`^client "(\w+)" has received every event still in the stream after the gap, in order$`, w.clientHasReceivedEveryEventAfterGap)
}

func (w *world) eventsOfSizeArePublishedOneAtATime(n, size int, topic string) error {
	data := strings.Repeat("x", size)
	for range n {
		if _, err := w.publishNATS(topic, "", data); err != nil {
			return err
		}
	}
	return nil
}

// streamFirstSeqPasses waits until the stream has dropped event seq.
func (w *world) streamFirstSeqPasses(seq uint64) error {
	js, err := w.js()
	if err != nil {
		return err
	}
	return eventually(func() error {
		st, err := js.Stream(context.Background(), "EVENTS")
		if err != nil {
			return err
		}
		if first := st.CachedInfo().State.FirstSeq; first <= seq {
			return fmt.Errorf("first sequence still %d", first)
		}
		return nil
	})
}

func (w *world) clientIsToldNewAfter(name, id string) error {
	c, err := w.client(name)
	if err != nil {
		return err
	}
	return expectSession(c, false, id)
}

// clientReceivesGapToFirstSeq expects a gap from last to where the stream
// starts now, and notes that start for the next step.
func (w *world) clientReceivesGapToFirstSeq(name, last string) error {
	first, err := w.streamFirstSeq()
	if err != nil {
		return err
	}
	w.gapFirst = first
	return w.clientReceivesGap(name, last, strconv.FormatUint(first, 10))
}

// clientHasReceivedEveryEventAfterGap expects the two events the client got
// before it went away, then every event from the gap's first_available on.
func (w *world) clientHasReceivedEveryEventAfterGap(name string) error {
	c, err := w.client(name)
	if err != nil {
		return err
	}
	var want []string
	for _, p := range w.published[w.since[name]:] {
		if p.Seq < w.gapFirst && len(want) < 2 {
			want = append(want, strconv.FormatUint(p.Seq, 10)) // before the disconnect
		} else if p.Seq >= w.gapFirst {
			want = append(want, strconv.FormatUint(p.Seq, 10))
		}
	}
	return c.hasIDs(want)
}
