package httptransport

import (
	"net/http"
	"slices"
	"strings"
)

// corsMiddleware lets pages on the listed origins use the edge with
// credentials (cookies): it echoes an allowed Origin (never "*"), exposes
// the Jetsse-Session response header, and answers preflights for the
// headers jetsse clients send. Requests from other origins get no CORS
// headers, so browsers keep them from reading the response.
func corsMiddleware(origins []string, next http.Handler) http.Handler {
	if len(origins) == 0 {
		return next
	}
	allowed := slices.Clone(origins)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		origin := r.Header.Get("Origin")
		if origin == "" || !slices.Contains(allowed, origin) {
			if origin != "" {
				w.Header().Add("Vary", "Origin")
			}
			next.ServeHTTP(w, r)
			return
		}
		h := w.Header()
		h.Add("Vary", "Origin")
		h.Set("Access-Control-Allow-Origin", origin)
		h.Set("Access-Control-Allow-Credentials", "true")
		h.Set("Access-Control-Expose-Headers", SessionHeader)
		if r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != "" {
			h.Set("Access-Control-Allow-Methods", "GET, POST")
			h.Set("Access-Control-Allow-Headers", strings.Join([]string{"Last-Event-ID", SessionHeader, "Content-Type", "Authorization"}, ", "))
			h.Set("Access-Control-Max-Age", "600")
			w.WriteHeader(http.StatusNoContent)
			return
		}
		next.ServeHTTP(w, r)
	})
}
