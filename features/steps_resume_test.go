package features

// Steps of resume.feature: ways a client comes back.

import (
	"github.com/cucumber/godog"
)

func (w *world) registerResume(sc *godog.ScenarioContext) {
	sc.Step(`^client "(\w+)" reconnects with its Last-Event-ID in the query$`, w.clientReconnectsWithLastEventIDQuery)
	sc.Step(`^client "(\w+)" reconnects with its session header and Last-Event-ID "([^"]*)"$`, w.clientReconnectsWithHeaderAndLastEventID)
	sc.Step(`^client "(\w+)" refreshes (\d+) times while events are published to "([^"]*)"$`, w.clientRefreshesWhilePublishing)
}

func (w *world) clientReconnectsWithLastEventIDQuery(name string) error {
	return w.reconnect(name, func(c *sseClient) connectOptions {
		return connectOptions{lastEventIDQuery: strp(c.lastEventID), cookie: c.cookie}
	})
}

func (w *world) clientReconnectsWithHeaderAndLastEventID(name, id string) error {
	return w.reconnect(name, func(c *sseClient) connectOptions { return connectOptions{token: c.token, lastEventID: strp(id)} })
}

// clientRefreshesWhilePublishing refreshes the client's page n times (it
// goes away and comes back with its cookie only) while a publisher keeps
// publishing to topic.
func (w *world) clientRefreshesWhilePublishing(name string, n int, topic string) error {
	c, err := w.client(name)
	if err != nil {
		return err
	}
	p, err := w.startPublisher(topic, "refresh", 0)
	if err != nil {
		return err
	}
	var ferr error
	for range n {
		c.close()
		if ferr = w.open(c, connectOptions{cookie: c.cookie}); ferr != nil {
			break
		}
	}
	if err := p.halt(); err != nil {
		return err
	}
	return ferr
}
