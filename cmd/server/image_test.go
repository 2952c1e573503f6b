package main

import (
	"context"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tickwire/tickwire/game"
	"github.com/tickwire/tickwire/netcode/client"
	"github.com/tickwire/tickwire/netcode/transport"
	"github.com/tickwire/tickwire/netcode/wire"
)

// TestContainerImageServesPlayersOnBothTransports builds the server's
// image as scripts/image.sh does (podman, FROM scratch), runs it as a
// player would host it (configured by TICKWIRE_* variables only, as user
// 65532) and joins it over WebTransport and WebSocket: each player gets
// snapshots; the image also serves the browser client.
func TestContainerImageServesPlayersOnBothTransports(t *testing.T) {
	if testing.Short() {
		t.Skip("builds an image")
	}
	if _, err := exec.LookPath("podman"); err != nil && os.Getenv("CI") != "true" {
		t.Skip("podman not installed (scripts/image.sh installs it)")
	}
	const tag = "localhost/tickwire/server:test"
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	build := exec.Command(filepath.Join(root, "scripts", "image.sh"), tag)
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("scripts/image.sh: %v\n%s", err, out)
	}
	user, err := exec.Command("podman", "inspect", "--format", "{{.Config.User}}", tag).Output()
	if err != nil || strings.TrimSpace(string(user)) != "65532:65532" {
		t.Errorf("image user %q (%v), want 65532:65532", user, err)
	}

	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	name := "tickwire-test-" + strconv.Itoa(os.Getpid())
	run := exec.Command("podman", "--runtime", "runc", "run", "-d", "--rm", "--name", name, "--network", "host",
		"-e", "TICKWIRE_ADDR="+addr, "-e", "TICKWIRE_MAX_PLAYERS=10", "-e", "TICKWIRE_DRAIN_TIMEOUT=0s", tag)
	if out, err := run.CombinedOutput(); err != nil {
		t.Fatalf("podman run: %v\n%s", err, out)
	}
	t.Cleanup(func() {
		if t.Failed() {
			logs, _ := exec.Command("podman", "logs", name).CombinedOutput()
			t.Logf("container logs:\n%s", logs)
		}
		_ = exec.Command("podman", "stop", "-t", "5", name).Run()
	})
	base := "http://" + addr
	deadline := time.Now().Add(30 * time.Second)
	for { // the container says nothing to us when it is up
		resp, err := http.Get(base + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("the container's server not ready within 30 s: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	resp, err := http.Get(base + "/")
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(page), ".wasm") {
		t.Errorf("the container serves no web client page:\n%.300s", page)
	}
	for _, kind := range []transport.Kind{transport.WebTransport, transport.WebSocket} {
		got := make(chan uint32, 1)
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		c, err := client.Connect(ctx, client.Config{
			Server: base, Name: "boxed-" + string(kind), Logger: quietLogger(),
			Dial: transport.DialOptions{Transport: kind, TrustServerCertHash: true},
			OnSnapshot: func(s *game.Snapshot, _ *wire.SnapshotHeader) {
				select {
				case got <- s.Tick:
				default:
				}
			},
		})
		if err != nil {
			cancel()
			t.Fatalf("%s: joining the container's server: %v", kind, err)
		}
		select {
		case tick := <-got:
			t.Logf("%s: snapshot of tick %d from the container", kind, tick)
		case <-ctx.Done():
			t.Errorf("%s: no snapshot from the container within 20 s", kind)
		}
		c.Close()
		cancel()
	}
}
