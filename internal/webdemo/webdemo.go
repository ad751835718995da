// Package webdemo serves the Converse.js page of tools/webclients (the page
// and Converse's own files from node_modules, no CDN) for `make demo` and the
// browser test.
package webdemo

import (
	"net/http"
	"path/filepath"
)

// Handler serves dir/converse.html at / and Converse's dist files at /dist/.
func Handler(dir string) http.Handler {
	mux := http.NewServeMux()
	dist := filepath.Join(dir, "node_modules", "converse.js", "dist")
	mux.Handle("/dist/", http.StripPrefix("/dist/", http.FileServer(http.Dir(dist))))
	mux.HandleFunc("/{$}", func(w http.ResponseWriter, r *http.Request) {
		http.ServeFile(w, r, filepath.Join(dir, "converse.html"))
	})
	return mux
}
