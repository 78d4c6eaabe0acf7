// Package fakecentrifugo is a stand-in for Centrifugo v6.9.1's uni_sse
// transport and HTTP publish API, for channels with history and forced
// recovery, so that the resume probes' Centrifugo path runs in CI without
// Centrifugo. Its frames are the ones the real server wrote with the
// configuration of docs/benchmarks.md ("Configurations used"): a connect
// push (with the recovered publications and recovered:true when the client
// presented recover, the right epoch and an offset), then a push per
// publication, the first one with the epoch. It checks nothing else.
package fakecentrifugo

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sync"
)

// server is the stand-in's state: every channel's history, and the
// streams attached to it.
type server struct {
	key string

	mu   sync.Mutex
	hist map[string][]json.RawMessage        // channel → data by offset - 1
	subs map[string]map[chan []byte]struct{} // channel → live streams
}

// Epoch is the epoch of every channel.
const Epoch = "SmokeEpc"

// New returns the stand-in's handler: POST /api/publish (wanting key in
// X-API-Key) and GET /connection/uni_sse. It is safe for concurrent use.
func New(key string) http.Handler {
	f := &server{key: key, hist: map[string][]json.RawMessage{}, subs: map[string]map[chan []byte]struct{}{}}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /api/publish", f.publish)
	mux.HandleFunc("GET /connection/uni_sse", f.uniSSE)
	return mux
}

func (f *server) publish(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("X-API-Key") != f.key {
		http.Error(w, "unauthorized", http.StatusUnauthorized)
		return
	}
	var req struct {
		Channel string          `json:"channel"`
		Data    json.RawMessage `json:"data"`
	}
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&req); err != nil || req.Channel == "" {
		http.Error(w, "bad request", http.StatusBadRequest)
		return
	}
	f.mu.Lock()
	f.hist[req.Channel] = append(f.hist[req.Channel], req.Data)
	offset := len(f.hist[req.Channel])
	epoch := ""
	if offset == 1 {
		epoch = `,"epoch":"` + Epoch + `"`
	}
	push := fmt.Appendf(nil, "data: {\"channel\":%q,\"pub\":{\"data\":%s,\"offset\":%d%s}}\n\n", req.Channel, req.Data, offset, epoch)
	for ch := range f.subs[req.Channel] {
		select {
		case ch <- push:
		default: // a stream that fell behind misses it, as no test expects
		}
	}
	f.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	fmt.Fprintf(w, `{"result":{"offset":%d,"epoch":%q}}`, offset, Epoch)
}

func (f *server) uniSSE(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Subs map[string]struct {
			Recover bool   `json:"recover"`
			Offset  int    `json:"offset"`
			Epoch   string `json:"epoch"`
		} `json:"subs"`
	}
	if err := json.Unmarshal([]byte(r.URL.Query().Get("cf_connect")), &req); err != nil || len(req.Subs) != 1 {
		http.Error(w, "bad cf_connect", http.StatusBadRequest)
		return
	}
	live := make(chan []byte, 1024)
	subs := map[string]any{}
	f.mu.Lock()
	var channel string
	for name, s := range req.Subs {
		channel = name
		hist := f.hist[name]
		sub := map[string]any{"recoverable": true, "epoch": Epoch, "positioned": true}
		if s.Recover {
			sub["was_recovering"] = true
			if s.Epoch == Epoch && s.Offset <= len(hist) {
				var pubs []map[string]any
				for i := s.Offset; i < len(hist); i++ {
					pubs = append(pubs, map[string]any{"data": hist[i], "offset": i + 1})
				}
				sub["publications"], sub["recovered"], sub["offset"] = pubs, true, s.Offset
			} else {
				sub["offset"] = len(hist)
			}
		} else if len(hist) > 0 {
			sub["offset"] = len(hist)
		}
		subs[name] = sub
	}
	if f.subs[channel] == nil {
		f.subs[channel] = map[chan []byte]struct{}{}
	}
	f.subs[channel][live] = struct{}{}
	f.mu.Unlock()
	defer func() {
		f.mu.Lock()
		delete(f.subs[channel], live)
		f.mu.Unlock()
	}()

	connect, err := json.Marshal(map[string]any{"connect": map[string]any{
		"client": "00000000-0000-0000-0000-000000000000", "version": "6.9.1 OSS", "subs": subs, "ping": 25,
		"session": "00000000-0000-0000-0000-000000000000",
	}})
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "private, no-cache, no-store, must-revalidate, max-age=0")
	w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(w)
	if _, err := fmt.Fprintf(w, "\ndata: %s\n\n", connect); err != nil || rc.Flush() != nil {
		return
	}
	for {
		select {
		case <-r.Context().Done():
			return
		case b := <-live:
			if _, err := w.Write(b); err != nil || rc.Flush() != nil {
				return
			}
		}
	}
}
