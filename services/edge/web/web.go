// Package web holds the browser assets the edge serves, embedded in the
// binary: the demo page at / and the client helper at /jetsse.js.
package web

import (
	"embed"
	"io"
	"io/fs"
	"net/http"
	"strings"
)

//go:embed static
var static embed.FS

// Handler serves the embedded assets: GET / is the demo page, GET
// /jetsse.js the client helper, GET /assets/… anything else under static.
// It serves regular files only: a directory (no listing), a path with a
// "." or ".." element or an empty one (however it was encoded), or a
// missing file is a 404 (written by http.NotFound: the caller that wants
// another shape for errors rewrites them). It is safe for concurrent use.
func Handler() http.Handler {
	sub, err := fs.Sub(static, "static")
	if err != nil {
		panic(err) // the embed directive guarantees the directory
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-cache")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		name := strings.TrimPrefix(r.URL.Path, "/")
		if name == "" {
			name = "index.html"
		}
		// fs.ValidPath refuses "..", "." and empty elements and a
		// trailing slash; r.URL.Path is already percent-decoded.
		if !fs.ValidPath(name) {
			http.NotFound(w, r)
			return
		}
		f, err := sub.Open(name)
		if err != nil {
			http.NotFound(w, r)
			return
		}
		defer f.Close()
		st, err := f.Stat()
		rs, ok := f.(io.ReadSeeker)
		if err != nil || !st.Mode().IsRegular() || !ok {
			http.NotFound(w, r)
			return
		}
		http.ServeContent(w, r, name, st.ModTime(), rs)
	})
}
