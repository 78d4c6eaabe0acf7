package features

// Steps of sessions.feature: session tokens and keys, and the session's
// record and consumer in JetStream.

import (
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/cucumber/godog"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetsse/jetsse/pkg/session"
)

func (w *world) registerSessions(sc *godog.ScenarioContext) {
	sc.Step(`^a jetsse server with session keys "([^"]*)"$`, w.jetsseServerWithKeys)
	sc.Step(`^the server restarts with session keys "([^"]*)"$`, w.serverRestartsWithKeys)

	sc.Step(`^client "(\w+)" subscribes to "([^"]*)" with its session cookie$`, w.clientSubscribesWithItsCookie)
	sc.Step(`^client "(\w+)" subscribes to "([^"]*)" presenting (.+)$`, w.clientSubscribesPresenting)
	sc.Step(`^client "(\w+)" stays connected for (\d+) seconds$`, w.clientStaysConnected)
	sc.Step(`^client "(\w+)" has a different session than before$`, w.clientHasANewSession)
	sc.Step(`^client "(\w+)" has a session different from client "(\w+)"$`, w.clientsHaveDifferentSessions)
	sc.Step(`^client "(\w+)" got a token different from its first one$`, w.clientGotANewToken)

	sc.Step(`^the session consumer of client "(\w+)" exists$`, w.sessionConsumerExists)
	sc.Step(`^the session consumer of client "(\w+)" exists with metadata topics "([^"]*)"$`, w.sessionConsumerHasTopics)
	sc.Step(`^the session consumer of client "(\w+)" has no token in its metadata$`, w.sessionConsumerHasNoToken)
	sc.Step(`^the session record of client "(\w+)" exists$`, w.sessionRecordExists)
	sc.Step(`^the session record of client "(\w+)" has no token in it$`, w.sessionRecordHasNoToken)
	sc.Step(`^the session consumer of client "(\w+)" is removed within (\d+) seconds$`, w.sessionConsumerIsRemovedWithin)
	sc.Step(`^the session of client "(\w+)" is removed within (\d+) seconds$`, w.sessionIsRemovedWithin)
	sc.Step(`^(\d+) detached sessions? (?:is|are) kept without a consumer, and (\d+) with one$`, w.detachedSessionsAreKept)
}

// Session keys.

func (w *world) jetsseServerWithKeys(keys string) error {
	dir := filepath.Join(w.dir, "edge")
	path, err := writeKeyFile(dir, keys)
	if err != nil {
		return err
	}
	_, err = w.startServer("edge", dir, []string{"--session-key-file", path})
	return err
}

func (w *world) serverRestartsWithKeys(keys string) error {
	s, err := w.defaultServer()
	if err != nil {
		return err
	}
	if err := s.stop(); err != nil {
		return err
	}
	path, err := writeKeyFile(s.dataDir, keys)
	if err != nil {
		return err
	}
	_, err = w.startServer(s.name, s.dataDir, []string{"--session-key-file", path})
	return err
}

// Clients and their sessions.

func (w *world) clientSubscribesWithItsCookie(name, topics string) error {
	c, err := w.client(name)
	if err != nil {
		return err
	}
	return w.subscribe(name, topics, "", connectOptions{cookie: c.cookie})
}

func (w *world) clientSubscribesPresenting(name, topics, what string) error {
	tok, err := w.forgedToken(what)
	if err != nil {
		return err
	}
	return w.subscribe(name, topics, "", connectOptions{token: tok})
}

// forgedToken returns a token that must not resume alice's session.
func (w *world) forgedToken(what string) (string, error) {
	alice, err := w.client("alice")
	if err != nil {
		return "", err
	}
	tok := alice.token
	switch what {
	case "alice's token with one character changed":
		b := []byte(tok)
		if b[10] == 'A' {
			b[10] = 'B'
		} else {
			b[10] = 'A'
		}
		return string(b), nil
	case "alice's token truncated":
		return tok[:len(tok)-5], nil
	case "a token signed with another key":
		sum := sha256.Sum256([]byte("some other key"))
		ring, err := session.NewKeyring(sum[:])
		if err != nil {
			return "", err
		}
		s, err := alice.session()
		if err != nil {
			return "", err
		}
		id, err := session.ParseID(s.Session)
		if err != nil {
			return "", err
		}
		return ring.Sign(id), nil
	case "a random string as token":
		return "not-a-token", nil
	case "a 10 kB token":
		return strings.Repeat("A", 10_000), nil
	}
	return "", fmt.Errorf("unknown token kind %q", what)
}

func (w *world) clientStaysConnected(name string, secs int) error {
	c, err := w.client(name)
	if err != nil {
		return err
	}
	time.Sleep(time.Duration(secs) * time.Second) // the duration is what the scenario is about
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.connected {
		return fmt.Errorf("client %q was disconnected: %v", name, c.endErr)
	}
	return nil
}

// clientHasANewSession checks the client's last two session events name
// different sessions.
func (w *world) clientHasANewSession(name string) error {
	c, err := w.client(name)
	if err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	var sessions []string
	for _, r := range c.control {
		if r.Type == "session" {
			var s sessionData
			_ = json.Unmarshal([]byte(r.Data), &s)
			sessions = append(sessions, s.Session)
		}
	}
	if len(sessions) < 2 || sessions[len(sessions)-1] == sessions[len(sessions)-2] {
		return fmt.Errorf("sessions %v", sessions)
	}
	return nil
}

func (w *world) clientsHaveDifferentSessions(a, b string) error {
	sa, err := w.sessionIDOf(a)
	if err != nil {
		return err
	}
	sb, err := w.sessionIDOf(b)
	if err != nil {
		return err
	}
	if sa == sb {
		return fmt.Errorf("both have session %s", sa)
	}
	return nil
}

func (w *world) clientGotANewToken(name string) error {
	c, err := w.client(name)
	if err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.firstToken == "" || c.firstToken == c.token {
		return fmt.Errorf("first token %q, now %q", c.firstToken, c.token)
	}
	return nil
}

// Sessions in JetStream.

func (w *world) sessionConsumerExists(name string) error {
	return eventually(func() error {
		_, err := w.consumerInfo(name)
		return err
	})
}

// sessionConsumerHasTopics waits for the session consumer of client name
// with metadata jetsse.topics (the topics in list) and jetsse.created.
func (w *world) sessionConsumerHasTopics(name, list string) error {
	return eventually(func() error {
		info, err := w.consumerInfo(name)
		if err != nil {
			return err
		}
		var topics []string
		if err := json.Unmarshal([]byte(info.Config.Metadata["jetsse.topics"]), &topics); err != nil {
			return fmt.Errorf("metadata %v: %w", info.Config.Metadata, err)
		}
		if want := splitList(list); !slices.Equal(topics, want) {
			return fmt.Errorf("topics %v, want %v", topics, want)
		}
		if _, err := time.Parse(time.RFC3339Nano, info.Config.Metadata["jetsse.created"]); err != nil {
			return fmt.Errorf("jetsse.created: %w", err)
		}
		return nil
	})
}

func (w *world) sessionConsumerHasNoToken(name string) error {
	info, err := w.consumerInfo(name)
	if err != nil {
		return err
	}
	c, _ := w.client(name)
	b, _ := json.Marshal(info.Config)
	if strings.Contains(string(b), c.token) {
		return errors.New("the consumer config contains the token")
	}
	return nil
}

func (w *world) sessionRecordExists(name string) error {
	_, err := w.sessionRecord(name)
	return err
}

func (w *world) sessionRecordHasNoToken(name string) error {
	v, err := w.sessionRecord(name)
	if err != nil {
		return err
	}
	c, _ := w.client(name)
	if strings.Contains(string(v), c.token) {
		return errors.New("the session record contains the token")
	}
	return nil
}

func (w *world) sessionConsumerIsRemovedWithin(name string, secs int) error {
	return within(time.Duration(secs)*time.Second, func() error {
		return w.consumerGone(name)
	})
}

// sessionIsRemovedWithin waits until both the consumer and the record of
// client name's session are gone.
func (w *world) sessionIsRemovedWithin(name string, secs int) error {
	return within(time.Duration(secs)*time.Second, func() error {
		if err := w.consumerGone(name); err != nil {
			return err
		}
		switch _, err := w.sessionRecord(name); {
		case err == nil:
			return errors.New("the session record still exists")
		case !errors.Is(err, jetstream.ErrKeyNotFound):
			return err
		}
		return nil
	})
}

func (w *world) detachedSessionsAreKept(without, with int) error {
	return eventually(func() error {
		m, err := w.metric(`jetsse_checkpoints_total{result="no_consumer"}`)
		if err != nil {
			m = 0 // not counted yet
		}
		n, err := w.sessionConsumers()
		if err != nil {
			return err
		}
		if m != float64(without) || n != with {
			return fmt.Errorf("%v sessions kept without a consumer and %d session consumers, want %d and %d", m, n, without, with)
		}
		return nil
	})
}
