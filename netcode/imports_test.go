package netcode_test

import (
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/tickwire/tickwire/"

// deps lists, for every package of the module built for goos/goarch,
// the packages it depends on (transitively, tests left out).
func deps(t *testing.T, goos, goarch string, patterns ...string) map[string][]string {
	t.Helper()
	args := append([]string{"list", "-f", "{{.ImportPath}}{{range .Deps}} {{.}}{{end}}"}, patterns...)
	cmd := exec.Command("go", args...)
	cmd.Env = append(os.Environ(), "GOOS="+goos, "GOARCH="+goarch)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list for %s/%s: %v", goos, goarch, err)
	}
	m := map[string][]string{}
	for line := range strings.Lines(string(out)) {
		f := strings.Fields(line)
		if len(f) > 0 {
			m[strings.TrimPrefix(f[0], module)] = f[1:]
		}
	}
	return m
}

// ours is the module's packages among ps, without the module prefix.
func ours(ps []string) []string {
	var r []string
	for _, p := range ps {
		if rest, ok := strings.CutPrefix(p, module); ok {
			r = append(r, rest)
		}
	}
	return r
}

func under(p string, roots ...string) bool {
	for _, r := range roots {
		if p == r || strings.HasPrefix(p, r+"/") {
			return true
		}
	}
	return false
}

// TestImportRules checks the one direction imports run in (see the
// package comment): each rule names the packages it binds and what they
// may (or must never) depend on, directly or not.
func TestImportRules(t *testing.T) {
	native := deps(t, "linux", "amd64", module+"...")
	rules := []struct {
		name     string
		pkgs     []string // rule applies to these packages (and those beneath)
		mayReach []string // if set: the only Tickwire packages they may depend on
		never    []string // Tickwire packages they must never depend on
	}{
		{"game is pure: it imports nothing of Tickwire", []string{"game"}, []string{}, nil},
		{"wire rests on proto and game only", []string{"netcode/wire"}, []string{"proto/tickwire/v1", "game"}, nil},
		{"snapshot rests on wire and game only", []string{"netcode/snapshot"}, []string{"proto/tickwire/v1", "game", "netcode/wire"}, nil},
		{"transport imports no other Tickwire package", []string{"netcode/transport"}, []string{}, nil},
		{"linksim knows only transport", []string{"netcode/linksim"}, []string{"netcode/transport"}, nil},
		{"replay files rest on the codecs only", []string{"netcode/replay"}, []string{"proto/tickwire/v1", "game", "netcode/wire", "netcode/snapshot"}, nil},
		{"the lobby API rests on wire and game only", []string{"netcode/lobby"}, []string{"proto/tickwire/v1", "game", "netcode/wire"}, nil},
		{"the client session never imports the server", []string{"netcode/client"}, nil, []string{"netcode/server", "netcode/jointoken", "netcode/linksim"}},
		{"the server never imports the client session", []string{"netcode/server"}, nil, []string{"netcode/client", "client", "bots", "netcode/linksim"}},
		{"test support is for tests only", nil, nil, []string{"netcode/internal", "netcode/server/servertest"}},
	}
	for _, r := range rules {
		for pkg, ds := range native {
			applies := under(pkg, r.pkgs...)
			if r.pkgs == nil { // every package but the test support itself
				applies = !under(pkg, r.never...)
			}
			if !applies {
				continue
			}
			for _, d := range ours(ds) {
				if r.mayReach != nil && !slices.Contains(r.mayReach, d) && !under(d, r.pkgs...) {
					t.Errorf("%s: %s depends on %s", r.name, pkg, d)
				}
				if under(d, r.never...) {
					t.Errorf("%s: %s depends on %s", r.name, pkg, d)
				}
			}
		}
	}
}

// TestBrowserBuildLeavesOutServerAndNativeTransports guards the size of
// the wasm players download before they can play (cmd/client for
// js/wasm): no server package, no native socket library, no server-only
// dependency. The boundary is the package layout (the client session
// does not import the server), plus the native transports' files, which
// are the only ones built for !js.
func TestBrowserBuildLeavesOutServerAndNativeTransports(t *testing.T) {
	browser := deps(t, "js", "wasm", module+"cmd/client")["cmd/client"]
	if !slices.Contains(browser, module+"netcode/client") {
		t.Fatalf("the browser build does not list the client session; go list said %v", browser)
	}
	forbidden := []string{
		module + "netcode/server",      // rooms, sessions, lobby, directory, Agones
		module + "netcode/jointoken",   // minted by servers and backends
		"github.com/quic-go/",          // WebTransport server and native dialing
		"github.com/gorilla/websocket", // native WebSocket
		"github.com/prometheus/",       // server metrics
		"golang.org/x/time/rate",       // server rate limits
		"github.com/redis/",            // the Redis directory
	}
	for _, d := range browser {
		for _, f := range forbidden {
			if strings.HasPrefix(d, f) {
				t.Errorf("the browser build links %s", d)
			}
		}
	}
}
