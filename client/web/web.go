// Package web serves the browser build of the client: index.html (built
// into the binary) and, from a directory, wasm_exec.js and client.wasm
// (built by scripts/serve.sh and the tests, never committed). The game
// server mounts Handler at "/" on the same origin as /ws and /cert-hash.
package web

import (
	_ "embed"
	"net/http"
	"os"
	"path/filepath"
)

//go:embed index.html
var indexHTML []byte

// Files the directory given to Handler must hold.
const (
	WasmFile     = "client.wasm"
	WasmExecFile = "wasm_exec.js"
)

// Handler serves the web client: "/" is the page, "/client.wasm" and
// "/wasm_exec.js" come from dir. Any other path is not found.
func Handler(dir string) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "no-cache")
		_, _ = w.Write(indexHTML)
	})
	for _, name := range []string{WasmFile, WasmExecFile} {
		path := filepath.Join(dir, name)
		mux.HandleFunc("GET /"+name, func(w http.ResponseWriter, r *http.Request) {
			if name == WasmFile {
				w.Header().Set("Content-Type", "application/wasm")
			}
			w.Header().Set("Cache-Control", "no-cache")
			http.ServeFile(w, r, path)
		})
	}
	return mux
}

// Check reports whether dir holds what Handler serves.
func Check(dir string) error {
	for _, name := range []string{WasmFile, WasmExecFile} {
		if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
			return err
		}
	}
	return nil
}
