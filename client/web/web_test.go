package web

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestHandlerServesPageWasmAndLoaderOnly(t *testing.T) {
	dir := t.TempDir()
	if err := Check(dir); err == nil {
		t.Fatal("Check passed on an empty directory")
	}
	for name, body := range map[string]string{WasmFile: "\x00asm", WasmExecFile: "// go"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := Check(dir); err != nil {
		t.Fatalf("Check: %v", err)
	}
	h := Handler(dir)
	tests := []struct {
		path, wantType, wantBody string
		wantCode                 int
	}{
		{"/", "text/html; charset=utf-8", "wasm_exec.js", 200},
		{"/client.wasm", "application/wasm", "\x00asm", 200},
		{"/wasm_exec.js", "", "// go", 200},
		{"/web.go", "", "", 404},
		{"/dist/client.wasm", "", "", 404},
	}
	for _, tt := range tests {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, tt.path, nil))
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
