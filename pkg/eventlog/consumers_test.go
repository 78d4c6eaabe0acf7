package eventlog

import (
	"testing"

	"github.com/nats-io/nats.go/jetstream"
)

// TestConsumerPosition: a session's consumer holds its position whether
// JetStream reports it as the ack floor or, for a replicated consumer that
// was just made, only as the delivered stream sequence (the infos below are
// what nats-server 2.15.2 answers, made at start sequence 6 or reset to 9).
func TestConsumerPosition(t *testing.T) {
	seq := func(consumer, stream uint64) jetstream.SequenceInfo {
		return jetstream.SequenceInfo{Consumer: consumer, Stream: stream}
	}
	for _, c := range []struct {
		name                string
		delivered, ackFloor jetstream.SequenceInfo
		want                uint64
	}{
		{"made at 6, one replica", seq(0, 5), seq(0, 5), 5},
		{"made at 6, on a cluster (ack floor not set)", seq(0, 5), seq(0, 0), 5},
		{"reset to 9, on a cluster", seq(0, 8), seq(0, 8), 8},
		{"made at 1", seq(0, 0), seq(0, 0), 0},
		{"someone took 3 deliveries and acknowledged 1", seq(3, 8), seq(1, 6), 6},
		{"someone took 3 deliveries and acknowledged them", seq(3, 8), seq(3, 8), 8},
	} {
		info := &jetstream.ConsumerInfo{Delivered: c.delivered, AckFloor: c.ackFloor}
		if got := consumerPosition(info); got != c.want {
			t.Errorf("%s: position %d, want %d", c.name, got, c.want)
		}
		if got := stateFromInfo("x", info).Position; got != c.want {
			t.Errorf("%s: state's position %d, want %d", c.name, got, c.want)
		}
	}
}
