// Package web serves the browser build of the client: index.html (built
// into the binary) and, from a directory, wasm_exec.js and client.wasm
// (built by scripts/serve.sh and the tests, never committed), with their
// brotli and gzip forms made by Compress. The game server mounts Handler
// at "/" on the same origin as /ws and /cert-hash.
//
// The page is small and revalidated on every visit; the two big files
// are served under names that carry a hash of their contents, cached
// for a year, compressed as the browser accepts: a returning player
// downloads nothing but the page, a new one about a fifth of the wasm.
package web

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/andybalholm/brotli"
)

//go:embed index.html
var indexHTML string

// Files the directory given to Handler must hold.
const (
	WasmFile     = "client.wasm"
	WasmExecFile = "wasm_exec.js"
)

// The compressed forms Compress writes beside each file, in the order
// Handler prefers them.
var encodings = []struct{ name, ext string }{{"br", ".br"}, {"gzip", ".gz"}}

// Handler serves the web client from dir: "/" is the page; the wasm and
// its loader under content-hashed names (and, uncached, their plain
// names). The files are read when Handler is called: restart the server
// after rebuilding them. Any other path is not found.
func Handler(dir string) http.Handler {
	mux := http.NewServeMux()
	names := map[string]string{}
	wasmSize := int64(0)
	for _, name := range []string{WasmFile, WasmExecFile} {
		path := filepath.Join(dir, name)
		hashed, size, err := hashedName(path)
		if err != nil {
			// Check reports it; serve what there is so the page says so.
			hashed = name
		}
		names[name] = hashed
		if name == WasmFile {
			wasmSize = size
		}
		mux.HandleFunc("GET /"+name, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Cache-Control", "no-cache")
			serveFile(w, r, path)
		})
		if hashed != name {
			mux.HandleFunc("GET /"+hashed, func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
				serveFile(w, r, path)
			})
		}
	}
	page := []byte(strings.NewReplacer(
		"{{wasm}}", names[WasmFile],
		"{{wasm_exec}}", names[WasmExecFile],
		"{{wasm_size}}", strconv.FormatInt(wasmSize, 10),
	).Replace(indexHTML))
	sum := sha256.Sum256(page)
	etag := `"` + hex.EncodeToString(sum[:8]) + `"`
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "no-cache")
		w.Header().Set("ETag", etag)
		if r.Header.Get("If-None-Match") == etag {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		_, _ = w.Write(page)
	})
	return mux
}

// hashedName is name.HASH.ext for the file at path, and its size.
func hashedName(path string) (string, int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", 0, err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return "", 0, err
	}
	base := filepath.Base(path)
	ext := filepath.Ext(base)
	return strings.TrimSuffix(base, ext) + "." + hex.EncodeToString(h.Sum(nil)[:8]) + ext, n, nil
}

// serveFile serves path in the best encoding the request accepts that
// Compress wrote and that is not older than path itself.
func serveFile(w http.ResponseWriter, r *http.Request, path string) {
	w.Header().Add("Vary", "Accept-Encoding")
	if strings.HasSuffix(path, ".wasm") {
		w.Header().Set("Content-Type", "application/wasm")
	} else {
		w.Header().Set("Content-Type", "text/javascript; charset=utf-8")
	}
	src, err := os.Stat(path)
	if err != nil {
		http.NotFound(w, r)
		return
	}
	for _, enc := range encodings {
		if !accepts(r.Header.Get("Accept-Encoding"), enc.name) {
			continue
		}
		f, err := os.Open(path + enc.ext)
		if err != nil {
			continue
		}
		defer f.Close()
		fi, err := f.Stat()
		if err != nil || fi.ModTime().Before(src.ModTime()) {
			continue // stale: made from an earlier build
		}
		w.Header().Set("Content-Encoding", enc.name)
		http.ServeContent(w, r, "", fi.ModTime(), f)
		return
	}
	f, err := os.Open(path)
	if err != nil {
		http.NotFound(w, r)
		return
	}
	defer f.Close()
	http.ServeContent(w, r, "", src.ModTime(), f)
}

// accepts reports whether an Accept-Encoding header allows coding (a
// listed coding with q=0 does not).
func accepts(header, coding string) bool {
	for part := range strings.SplitSeq(header, ",") {
		name, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		if !strings.EqualFold(strings.TrimSpace(name), coding) {
			continue
		}
		q := strings.ReplaceAll(strings.TrimSpace(params), " ", "")
		return q != "q=0" && q != "q=0.0" && q != "q=0.00" && q != "q=0.000"
	}
	return false
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

// Compress writes the brotli (quality 11) and gzip (best) forms of the
// files in dir beside them (client.wasm.br, client.wasm.gz, ...), unless
// they are already newer than their file. Brotli at its best takes most
// of a minute for the wasm, once per build.
func Compress(dir string) error {
	for _, name := range []string{WasmFile, WasmExecFile} {
		path := filepath.Join(dir, name)
		src, err := os.Stat(path)
		if err != nil {
			return fmt.Errorf("web: compress: %w", err)
		}
		var data []byte
		for _, enc := range encodings {
			if fi, err := os.Stat(path + enc.ext); err == nil && !fi.ModTime().Before(src.ModTime()) {
				continue
			}
			if data == nil {
				if data, err = os.ReadFile(path); err != nil {
					return fmt.Errorf("web: compress: %w", err)
				}
			}
			if err := writeCompressed(path+enc.ext, enc.name, data); err != nil {
				return fmt.Errorf("web: compress %s: %w", name, err)
			}
		}
	}
	return nil
}

func writeCompressed(path, encoding string, data []byte) error {
	var buf bytes.Buffer
	var w io.WriteCloser
	switch encoding {
	case "br":
		w = brotli.NewWriterLevel(&buf, brotli.BestCompression)
	default:
		w, _ = gzip.NewWriterLevel(&buf, gzip.BestCompression)
	}
	if _, err := w.Write(data); err != nil {
		return err
	}
	if err := w.Close(); err != nil {
		return err
	}
	// Written whole, then renamed: a server never serves half a file.
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, buf.Bytes(), 0o644); err != nil {
		return err
	}
	now := time.Now()
	_ = os.Chtimes(tmp, now, now)
	return os.Rename(tmp, path)
}
