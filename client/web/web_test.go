package web

import (
	"bytes"
	"compress/gzip"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/andybalholm/brotli"
)

// writeDist fills a directory as the build does, compressed or not.
func writeDist(t *testing.T, compress bool) string {
	t.Helper()
	dir := t.TempDir()
	for name, body := range map[string]string{WasmFile: "\x00asm" + strings.Repeat("wasm", 1000), WasmExecFile: "// go"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if compress {
		if err := Compress(dir); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func get(h http.Handler, path string, hdr ...string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodGet, path, nil)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func TestHandlerServesPageWasmAndLoaderOnly(t *testing.T) {
	if err := Check(t.TempDir()); err == nil {
		t.Fatal("Check passed on an empty directory")
	}
	dir := writeDist(t, false)
	if err := Check(dir); err != nil {
		t.Fatalf("Check: %v", err)
	}
	h := Handler(dir)
	tests := []struct {
		path, wantType, wantBody string
		wantCode                 int
	}{
		{"/", "text/html; charset=utf-8", "wasm_exec.", 200},
		{"/client.wasm", "application/wasm", "\x00asm", 200},
		{"/wasm_exec.js", "text/javascript; charset=utf-8", "// go", 200},
		{"/web.go", "", "", 404},
		{"/dist/client.wasm", "", "", 404},
	}
	for _, tt := range tests {
		rec := get(h, tt.path)
		if rec.Code != tt.wantCode {
			t.Errorf("GET %s: status %d, want %d", tt.path, rec.Code, tt.wantCode)
			continue
		}
		if tt.wantType != "" && rec.Header().Get("Content-Type") != tt.wantType {
			t.Errorf("GET %s: content type %q, want %q", tt.path, rec.Header().Get("Content-Type"), tt.wantType)
		}
		if !strings.Contains(rec.Body.String(), tt.wantBody) {
			t.Errorf("GET %s: body %.60q lacks %q", tt.path, rec.Body.String(), tt.wantBody)
		}
	}
}

// TestPageNamesHashedFilesCachedForeverAndIsRevalidated: the page points
// at content-hashed names, which are cached immutably; the page itself
// is revalidated (a second visit with its ETag gets 304); a rebuilt wasm
// gets another name.
func TestPageNamesHashedFilesCachedForeverAndIsRevalidated(t *testing.T) {
	dir := writeDist(t, false)
	h := Handler(dir)
	page := get(h, "/")
	if cc := page.Header().Get("Cache-Control"); cc != "no-cache" {
		t.Errorf("page Cache-Control %q", cc)
	}
	if got := get(h, "/", "If-None-Match", page.Header().Get("ETag")); got.Code != http.StatusNotModified {
		t.Errorf("revalidating the page: %d, want 304", got.Code)
	}
	names := regexp.MustCompile(`(client\.[0-9a-f]{16}\.wasm)|(wasm_exec\.[0-9a-f]{16}\.js)`).FindAllString(page.Body.String(), -1)
	if len(names) != 2 {
		t.Fatalf("the page names %v, want the hashed wasm and loader", names)
	}
	if !strings.Contains(page.Body.String(), "const wasmSize = 4004;") {
		t.Error("the page does not carry the wasm's size for its progress bar")
	}
	for _, n := range names {
		rec := get(h, "/"+n)
		if rec.Code != 200 || rec.Header().Get("Cache-Control") != "public, max-age=31536000, immutable" {
			t.Errorf("GET /%s: %d, Cache-Control %q", n, rec.Code, rec.Header().Get("Cache-Control"))
		}
	}
	if err := os.WriteFile(filepath.Join(dir, WasmFile), []byte("\x00asm rebuilt"), 0o644); err != nil {
		t.Fatal(err)
	}
	wasmName := regexp.MustCompile(`client\.[0-9a-f]{16}\.wasm`).FindString(page.Body.String())
	if again := get(Handler(dir), "/").Body.String(); strings.Contains(again, wasmName) {
		t.Errorf("a rebuilt wasm kept its name %s", wasmName)
	}
}

// TestFilesAreServedInTheBestEncodingAccepted: brotli when accepted,
// gzip otherwise, plain when neither; each decodes to the file; a
// compressed file older than its source (an earlier build) is not used.
func TestFilesAreServedInTheBestEncodingAccepted(t *testing.T) {
	dir := writeDist(t, true)
	want, _ := os.ReadFile(filepath.Join(dir, WasmFile))
	h := Handler(dir)
	for _, tc := range []struct{ accept, want string }{
		{"gzip, deflate, br, zstd", "br"},
		{"gzip, deflate", "gzip"},
		{"br;q=0, gzip", "gzip"},
		{"", ""},
		{"identity", ""},
	} {
		rec := get(h, "/client.wasm", "Accept-Encoding", tc.accept)
		if got := rec.Header().Get("Content-Encoding"); got != tc.want {
			t.Errorf("Accept-Encoding %q: Content-Encoding %q, want %q", tc.accept, got, tc.want)
			continue
		}
		if !strings.Contains(rec.Header().Get("Vary"), "Accept-Encoding") {
			t.Errorf("Accept-Encoding %q: no Vary", tc.accept)
		}
		var r io.Reader = rec.Body
		switch tc.want {
		case "br":
			r = brotli.NewReader(rec.Body)
		case "gzip":
			zr, err := gzip.NewReader(rec.Body)
			if err != nil {
				t.Fatal(err)
			}
			r = zr
		}
		got, err := io.ReadAll(r)
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("Accept-Encoding %q: body does not decode to the file (%v)", tc.accept, err)
		}
	}
	// A rebuild after compressing: the stale forms are ignored.
	later := time.Now().Add(time.Minute)
	if err := os.Chtimes(filepath.Join(dir, WasmFile), later, later); err != nil {
		t.Fatal(err)
	}
	if got := get(h, "/client.wasm", "Accept-Encoding", "br, gzip").Header().Get("Content-Encoding"); got != "" {
		t.Errorf("a stale %s form was served", got)
	}
}

func TestAcceptsReadsTheHeaderAsBrowsersWriteIt(t *testing.T) {
	for _, tc := range []struct {
		header, coding string
		want           bool
	}{
		{"gzip, deflate, br, zstd", "br", true},
		{"gzip, deflate", "br", false},
		{"GZIP", "gzip", true},
		{"br;q=0", "br", false},
		{"br; q=0.5", "br", true},
		{"brotli", "br", false},
		{"", "gzip", false},
	} {
		if got := accepts(tc.header, tc.coding); got != tc.want {
			t.Errorf("accepts(%q, %q) = %v, want %v", tc.header, tc.coding, got, tc.want)
		}
	}
}
