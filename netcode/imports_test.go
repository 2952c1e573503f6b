//go:build !js

package netcode_test

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// TestBrowserBuildLeavesOutServerAndNativeTransports guards the size of
// the wasm players download before they can play (cmd/client for
// js/wasm). Build constraints keep
// netcode's server and its native transports out of the js/wasm build;
// one import of them from a file the browser build compiles would add
// megabytes back. (net/http and crypto/x509 still come in through
// Ebiten's ebitenutil, so for those only netcode's own imports are
// checked.)
func TestBrowserBuildLeavesOutServerAndNativeTransports(t *testing.T) {
	cmd := exec.Command("go", "list", "-deps", "-f", "{{.ImportPath}} {{join .Imports \" \"}}",
		"github.com/tickwire/tickwire/cmd/client")
	cmd.Env = append(os.Environ(), "GOOS=js", "GOARCH=wasm")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list for js/wasm: %v", err)
	}
	serverOnly := []string{
		"github.com/quic-go/",          // WebTransport server, native WebTransport dialing
		"github.com/gorilla/websocket", // native WebSocket
		"github.com/prometheus/",       // server metrics
		"golang.org/x/time/rate",       // server rate limits
		"github.com/tickwire/tickwire/netcode/server/directory",
	}
	nativeOnly := []string{"net/http", "crypto/tls", "crypto/x509"}
	sawNetcode := false
	for line := range strings.Lines(string(out)) {
		pkg, imports, _ := strings.Cut(strings.TrimSpace(line), " ")
		for _, p := range serverOnly {
			if strings.HasPrefix(pkg, p) {
				t.Errorf("the browser build links %s", pkg)
			}
		}
		if pkg != "github.com/tickwire/tickwire/netcode" {
			continue
		}
		sawNetcode = true
		for imp := range strings.FieldsSeq(imports) {
			for _, p := range nativeOnly {
				if imp == p {
					t.Errorf("netcode's browser build imports %s", imp)
				}
			}
		}
	}
	if !sawNetcode {
		t.Fatalf("the browser build does not list netcode; go list said:\n%s", out)
	}
}
