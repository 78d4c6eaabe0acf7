package bench

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"
)

// TargetInfo records what a run measured.
type TargetInfo struct {
	SSEURL    string `json:"sse_url"`
	ResumeURL string `json:"resume_url,omitempty"`
	Attach    string `json:"attach"`    // session or first
	Publisher string `json:"publisher"` // nats or http
	PublishTo string `json:"publish_to"`
	PIDs      []int  `json:"pids,omitempty"`
	Seq       string `json:"seq"` // id or data
}

// Header starts every result object.
type Header struct {
	Scenario string     `json:"scenario"`
	Label    string     `json:"label"`
	Started  time.Time  `json:"started"`
	ElapsedS float64    `json:"elapsed_s"`
	Target   TargetInfo `json:"target"`
	// Complete is false when the run ended on its timeout or its drain
	// timeout rather than on its condition.
	Complete bool           `json:"complete"`
	Errors   map[string]int `json:"errors,omitempty"`
}

func (h *Header) finish(complete bool) {
	h.Complete = complete
	h.ElapsedS = round3(time.Since(h.Started).Seconds())
}

func (h *Header) addErrors(m map[string]int) {
	if len(m) == 0 {
		return
	}
	if h.Errors == nil {
		h.Errors = map[string]int{}
	}
	for k, v := range m {
		h.Errors[k] += v
	}
}

// WriteResults writes results as an indented JSON array to path. With
// appendTo, the runs already in the file are kept before the new ones.
func WriteResults(path string, results []any, appendTo bool) error {
	var all []json.RawMessage
	if appendTo {
		b, err := os.ReadFile(path)
		switch {
		case errors.Is(err, fs.ErrNotExist):
		case err != nil:
			return err
		case len(bytes.TrimSpace(b)) > 0:
			if err := json.Unmarshal(b, &all); err != nil {
				return fmt.Errorf("%s: not a JSON array of results: %w", path, err)
			}
		}
	}
	for _, r := range results {
		b, err := json.Marshal(r)
		if err != nil {
			return err
		}
		all = append(all, b)
	}
	out, err := json.MarshalIndent(all, "", "  ")
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".results-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(append(out, '\n')); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// ChartPoint is what the chart reads from any result object.
type ChartPoint struct {
	Scenario string `json:"scenario"`
	Label    string `json:"label"`
	Params   struct {
		N    int     `json:"n"`
		Rate float64 `json:"rate"`
	} `json:"params"`
	CPUUsPerDelivery *float64 `json:"server_cpu_us_per_delivery"`
	KiBPerSession    *float64 `json:"kib_per_session"`
	Latency          *Latency `json:"latency"`
}

// ReadChartPoints reads the result files written by WriteResults.
func ReadChartPoints(paths ...string) ([]ChartPoint, error) {
	var pts []ChartPoint
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			return nil, err
		}
		var some []ChartPoint
		if err := json.Unmarshal(b, &some); err != nil {
			return nil, fmt.Errorf("%s: %w", p, err)
		}
		pts = append(pts, some...)
	}
	return pts, nil
}
