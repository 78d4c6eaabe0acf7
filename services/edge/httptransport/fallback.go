package httptransport

import (
	"net/http"
	"strings"
)

// notFoundOrNotAllowed answers the requests no other route of mux takes
// (register it as mux's "/" route): 405 with an Allow header when the path
// has routes for other methods (of GET and POST, the ones the edge's routes
// use), else 404; both as JSON errors, where http.ServeMux would answer in
// plain text.
func notFoundOrNotAllowed(mux *http.ServeMux) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var allow []string
		for _, m := range []string{http.MethodGet, http.MethodPost} {
			if m == r.Method {
				continue
			}
			probe := r.WithContext(r.Context()) // a shallow copy
			probe.Method = m
			if _, pattern := mux.Handler(probe); pattern != "" && pattern != "/" {
				allow = append(allow, m)
			}
		}
		if len(allow) == 0 {
			writeError(w, http.StatusNotFound, "not found")
			return
		}
		methodNotAllowed(allow...).ServeHTTP(w, r)
	})
}

// methodNotAllowed answers 405 with "Allow: <allow>" and a JSON error (no
// body for a HEAD request: net/http drops it).
func methodNotAllowed(allow ...string) http.Handler {
	list := strings.Join(allow, ", ")
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Allow", list)
		writeError(w, http.StatusMethodNotAllowed, "method not allowed; allowed: "+list)
	})
}

// jsonErrors makes next's error answers (status 400 and above) JSON errors
// ({"error": "<status text>"}, as writeError writes them), whatever next
// wrote: http.FileServer and http.ServeContent answer in plain text.
// Other answers pass through unchanged.
func jsonErrors(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		next.ServeHTTP(&errorRewriter{ResponseWriter: w}, r)
	})
}

// errorRewriter replaces an error answer with a JSON error and drops the
// body its writer meant to send.
type errorRewriter struct {
	http.ResponseWriter
	wrote, failed bool
}

func (e *errorRewriter) WriteHeader(code int) {
	if e.wrote {
		return
	}
	e.wrote = true
	if code < http.StatusBadRequest {
		e.ResponseWriter.WriteHeader(code)
		return
	}
	e.failed = true
	h := e.Header()
	h.Del("Content-Length")
	h.Del("Content-Encoding")
	h.Del("Last-Modified")
	h.Del("ETag")
	writeError(e.ResponseWriter, code, strings.ToLower(http.StatusText(code)))
}

func (e *errorRewriter) Write(b []byte) (int, error) {
	if !e.wrote {
		e.WriteHeader(http.StatusOK)
	}
	if e.failed {
		return len(b), nil
	}
	return e.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection's writer.
func (e *errorRewriter) Unwrap() http.ResponseWriter { return e.ResponseWriter }
