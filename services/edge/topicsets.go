package edge

import (
	"strings"
	"sync"

	"github.com/go-kit/kit/metrics"

	"github.com/jetsse/jetsse/pkg/topic"
)

// topicSets shares validated topic sets between the connections that ask
// for the same topics (a Set holds a sublist: sharing keeps an idle
// connection small). A set is made only for a request that was valid in
// full, and dropped when its last connection closes, so what it holds is
// bounded by the connections open. It is safe for concurrent use.
type topicSets struct {
	limits topic.Limits
	gauge  metrics.Gauge

	mu   sync.Mutex
	sets map[string]*sharedSet
}

type sharedSet struct {
	set  *topic.Set
	refs int
}

func newTopicSets(limits topic.Limits, gauge metrics.Gauge) *topicSets {
	gauge.Set(0)
	return &topicSets{limits: limits, gauge: gauge, sets: make(map[string]*sharedSet)}
}

// acquire validates topics and returns their set, and the function that
// gives it back (call it once, when the connection closes).
func (t *topicSets) acquire(topics []string) (*topic.Set, func(), error) {
	key := strings.Join(topics, "\x00")
	t.mu.Lock()
	if s := t.sets[key]; s != nil {
		s.refs++
		t.mu.Unlock()
		return s.set, t.releaser(key, s), nil
	}
	t.mu.Unlock()
	set, err := topic.NewSet(topics, t.limits)
	if err != nil {
		return nil, nil, err
	}
	t.mu.Lock()
	s := t.sets[key]
	if s == nil {
		s = &sharedSet{set: set}
		t.sets[key] = s
		t.gauge.Set(float64(len(t.sets)))
	}
	s.refs++
	t.mu.Unlock()
	return s.set, t.releaser(key, s), nil
}

func (t *topicSets) releaser(key string, s *sharedSet) func() {
	var once sync.Once
	return func() {
		once.Do(func() {
			t.mu.Lock()
			defer t.mu.Unlock()
			if s.refs--; s.refs == 0 && t.sets[key] == s {
				delete(t.sets, key)
				t.gauge.Set(float64(len(t.sets)))
			}
		})
	}
}
