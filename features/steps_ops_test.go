package features

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/cucumber/godog"
	"github.com/nats-io/nats.go"
)

func natsConnect(url string) (*nats.Conn, error) { return nats.Connect(url) }

// scrape returns the default server's metrics as name{labels} → value.
func (w *world) scrape() (map[string]float64, error) {
	s, err := w.defaultServer()
	if err != nil {
		return nil, err
	}
	resp, err := http.Get(s.base() + "/metrics")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("/metrics answered %d", resp.StatusCode)
	}
	return parseMetrics(resp.Body)
}

func parseMetrics(r io.Reader) (map[string]float64, error) {
	out := map[string]float64{}
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if i < 0 {
			continue
		}
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			return nil, fmt.Errorf("metric line %q: %w", line, err)
		}
		out[line[:i]] = v
	}
	return out, sc.Err()
}

func (w *world) metric(name string) (float64, error) {
	m, err := w.scrape()
	if err != nil {
		return 0, err
	}
	v, ok := m[name]
	if !ok {
		return 0, fmt.Errorf("no metric %s", name)
	}
	return v, nil
}

func (w *world) registerOps(sc *godog.ScenarioContext) {
	sc.Step(`^the response status is (\d+)$`, func(code int) error {
		if w.status != code {
			return fmt.Errorf("status %d, want %d (body %q)", w.status, code, w.body)
		}
		return nil
	})
	sc.Step(`^the response is a JSON error$`, func() error {
		if ct := w.header.Get("Content-Type"); ct != "application/json" {
			return fmt.Errorf("Content-Type %q", ct)
		}
		var e struct {
			Error string `json:"error"`
		}
		if err := jsonUnmarshal(w.body, &e); err != nil || e.Error == "" {
			return fmt.Errorf("body %q is not {\"error\": …}", w.body)
		}
		return nil
	})
	sc.Step(`^metrics are scraped until "([^"]*)" is (\S+)$`, func(name, value string) error {
		want, err := strconv.ParseFloat(value, 64)
		if err != nil {
			return err
		}
		return eventually(func() error { return w.metricIs(name, want) })
	})
	sc.Step(`^the metrics include$`, func(t *godog.Table) error {
		return eventually(func() error {
			m, err := w.scrape()
			if err != nil {
				return err
			}
			var bad []string
			for _, row := range t.Rows[1:] {
				name, value := row.Cells[0].Value, row.Cells[1].Value
				want, err := strconv.ParseFloat(value, 64)
				if err != nil {
					return err
				}
				if got, ok := m[name]; !ok || got != want {
					bad = append(bad, fmt.Sprintf("%s = %v (present %v), want %v", name, got, ok, want))
				}
			}
			if len(bad) > 0 {
				return errors.New(strings.Join(bad, "; "))
			}
			return nil
		})
	})
	sc.Step(`^every metric family from jetsse is named "jetsse_\*"$`, func() error {
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
	})

	sc.Step(`^a client that never reads subscribes to "([^"]*)"$`, func(topic string) error {
		return w.neverReader("slow", topic)
	})
	sc.Step(`^the client that never reads is disconnected by the server$`, func() error {
		return w.waitMetricAtLeast("jetsse_slow_client_disconnects_total", 1)
	})
	sc.Step(`^the slow client disconnects metric is at least (\d+)$`, func(n int) error {
		return w.waitMetricAtLeast("jetsse_slow_client_disconnects_total", float64(n))
	})
}

func (w *world) waitMetricAtLeast(name string, min float64) error {
	return eventually(func() error {
		v, err := w.metric(name)
		if err == nil && v < min {
			err = fmt.Errorf("%s = %v, want at least %v", name, v, min)
		}
		return err
	})
}

// metricIs fails unless metric name has value want.
func (w *world) metricIs(name string, want float64) error {
	v, err := w.metric(name)
	if err == nil && v != want {
		err = fmt.Errorf("%s = %v, want %v", name, v, want)
	}
	return err
}

func jsonUnmarshal(s string, v any) error { return json.Unmarshal([]byte(s), v) }

func (w *world) registerMemory(sc *godog.ScenarioContext) {
	var before int64
	sc.Step(`^a jetsse process on the cluster with "([^"]*)"$`, func(flags string) error {
		args := append([]string{"--nats-url", strings.Join(w.clusterURLs, ",")}, strings.Fields(flags)...)
		_, err := w.startProcess("edge", filepath.Join(w.dir, "edge"), args)
		return err
	})
	sc.Step(`^(\d+) clients that never read subscribe to "([^"]*)"$`, func(n int, topic string) error {
		s, err := w.defaultServer()
		if err != nil {
			return err
		}
		if before, err = s.rss(); err != nil {
			return err
		}
		for i := range n {
			if err := w.neverReader(fmt.Sprintf("slow%d", i), topic); err != nil {
				return err
			}
		}
		return nil
	})
	sc.Step(`^the jetsse process's resident memory grew by less than (\d+) MiB$`, func(mib int64) error {
		s, err := w.defaultServer()
		if err != nil {
			return err
		}
		after, err := s.rss()
		if err != nil {
			return err
		}
		if after-before >= mib<<20 {
			return fmt.Errorf("RSS grew from %d to %d KiB", before>>10, after>>10)
		}
		return nil
	})
	sc.Step(`^within (\d+) seconds the server has (\d+) connections$`, func(secs int, n float64) error {
		return within(time.Duration(secs)*time.Second, func() error { return w.metricIs("jetsse_connections", n) })
	})
}

// rss returns a child-process server's resident set size in bytes.
func (s *server) rss() (int64, error) {
	if s.proc == nil {
		return 0, errors.New("RSS needs a jetsse process")
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", s.proc.Process.Pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.Fields(rest)[0], 10, 64)
			return kb << 10, err
		}
	}
	return 0, errors.New("no VmRSS")
}

// neverReader opens a stream for a client that never reads it.
func (w *world) neverReader(name, topic string) error {
	c, err := w.newClient(name, "", topic)
	if err != nil {
		return err
	}
	if err := c.connect(connectOptions{noRead: true}); err != nil {
		return err
	}
	if c.status != http.StatusOK {
		return fmt.Errorf("client that never reads got %d", c.status)
	}
	return nil
}
