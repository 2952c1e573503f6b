package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/tickwire/tickwire/netcode/client"
	"github.com/tickwire/tickwire/netcode/server"
	"github.com/tickwire/tickwire/netcode/server/servertest"
	"github.com/tickwire/tickwire/netcode/transport"
	pb "github.com/tickwire/tickwire/proto/tickwire/v1"
)

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
	binDir    string
)

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// serverBinary builds the real binary once for every test that runs it.
func serverBinary(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds the binary")
	}
	buildOnce.Do(func() {
		binDir, buildErr = os.MkdirTemp("", "tickwire-server-test")
		if buildErr != nil {
			return
		}
		binPath = filepath.Join(binDir, "server")
		if out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

// proc is a running server binary.
type proc struct {
	cmd    *exec.Cmd
	url    string
	exited chan error
}

// startProc runs the binary with args (and env), waits for its URL, and
// kills it when the test ends if it is still running.
func startProc(t *testing.T, env []string, args ...string) *proc {
	t.Helper()
	cmd := exec.Command(serverBinary(t), append([]string{"-addr", "127.0.0.1:0"}, args...)...)
	cmd.Env = append(os.Environ(), env...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &proc{cmd: cmd, exited: make(chan error, 1)}
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			if testing.Verbose() {
				t.Log(sc.Text())
			}
			if m := urlRE.FindStringSubmatch(sc.Text()); m != nil {
				found <- m[1]
			}
		}
		p.exited <- cmd.Wait()
	}()
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	select {
	case p.url = <-found:
	case err := <-p.exited:
		t.Fatalf("server exited before listening: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("server printed no URL")
	}
	return p
}

func (p *proc) waitExit(t *testing.T, within time.Duration) error {
	t.Helper()
	select {
	case err := <-p.exited:
		return err
	case <-time.After(within):
		t.Fatalf("server still running %v after the signal", within)
		return nil
	}
}

// TestServerBinaryServesHealthAndCertHashAndStopsOnSIGTERM runs the real
// binary, as a newcomer would, and checks what it prints and serves.
func TestServerBinaryServesHealthAndCertHashAndStopsOnSIGTERM(t *testing.T) {
	p := startProc(t, nil)
	if body := get(t, p.url+"/healthz"); strings.TrimSpace(body) != "ok" {
		t.Errorf("/healthz = %q", body)
	}
	if body := get(t, p.url+"/readyz"); strings.TrimSpace(body) != "ready" {
		t.Errorf("/readyz = %q", body)
	}
	var hashes struct {
		Algorithm string   `json:"algorithm"`
		Hashes    []string `json:"hashes"`
	}
	if err := json.Unmarshal([]byte(get(t, p.url+"/cert-hash")), &hashes); err != nil {
		t.Fatalf("/cert-hash: %v", err)
	}
	if hashes.Algorithm != "sha-256" || len(hashes.Hashes) == 0 {
		t.Errorf("/cert-hash = %+v", hashes)
	}
	if !strings.Contains(get(t, p.url+"/metrics"), "tickwire_ticks_total{room=\"default\"}") {
		t.Error("/metrics lacks tickwire_ticks_total of the default room")
	}
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := p.waitExit(t, 10*time.Second); err != nil {
		t.Fatalf("exit after SIGTERM: %v", err)
	}
}

// TestSIGTERMDrainsPlayersOnBothTransportsThenExitsZero: with players
// connected over WebTransport and WebSocket, SIGTERM turns /readyz 503 at
// once while the players keep playing; at the drain deadline they get
// SERVER_SHUTDOWN with a text and the process exits 0.
func TestSIGTERMDrainsPlayersOnBothTransportsThenExitsZero(t *testing.T) {
	const drain = 3 * time.Second
	p := startProc(t, nil, "-drain-timeout", drain.String())
	var clients []*client.Client
	for _, kind := range []transport.Kind{transport.WebTransport, transport.WebSocket} {
		c, err := client.Connect(context.Background(), client.Config{
			Server: p.url, Name: string(kind), Logger: quietLogger(),
			Dial: transport.DialOptions{Transport: kind, TrustServerCertHash: true},
		})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		clients = append(clients, c)
	}
	signalled := time.Now()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	// Not ready at once (bounded generously for a loaded machine).
	deadline := time.Now().Add(drain / 2)
	for status(t, p.url+"/readyz") != http.StatusServiceUnavailable {
		if time.Now().After(deadline) {
			t.Fatal("/readyz still ready after SIGTERM")
		}
		time.Sleep(10 * time.Millisecond)
	}
	for _, c := range clients {
		select {
		case <-c.Done():
			t.Fatalf("%s: ended before the drain deadline: %v", c.Transport(), c.Err())
		default:
		}
		if _, err := c.SendInput(1, 0, 0, false); err != nil {
			t.Errorf("%s: playing during the drain: %v", c.Transport(), err)
		}
	}
	for _, c := range clients {
		select {
		case <-c.Done():
		case <-time.After(drain + 10*time.Second):
			t.Fatalf("%s: no goodbye", c.Transport())
		}
		var de *client.DisconnectError
		if !errors.As(c.Err(), &de) || de.Reason != pb.DisconnectReason_DISCONNECT_REASON_SERVER_SHUTDOWN || de.Text == "" {
			t.Errorf("%s: ended with %v, want SERVER_SHUTDOWN with a text", c.Transport(), c.Err())
		}
	}
	if err := p.waitExit(t, drain+10*time.Second); err != nil {
		t.Fatalf("exit after drain: %v", err)
	}
	if took := time.Since(signalled); took < drain-500*time.Millisecond {
		t.Errorf("exited %v after SIGTERM, before the %v drain", took, drain)
	}
}

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

var urlRE = regexp.MustCompile(`tickwire server listening"? url=(\S+)`)

func status(t *testing.T, url string) int {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func get(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %v", url, resp.StatusCode, err)
	}
	return string(b)
}

// TestHTTPAddrRedirectsToHTTPSOnTheGamePort: the plain listener sends a
// browser to the same host and path over https on the game's port.
func TestHTTPAddrRedirectsToHTTPSOnTheGamePort(t *testing.T) {
	srv := servertest.Start(t, &server.Server{})
	addr, stop, err := serveRedirect("127.0.0.1:0", srv.Endpoint(), quietLogger())
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	req, _ := http.NewRequest(http.MethodGet, "http://"+addr.String()+"/rooms?x=1", nil)
	req.Host = "play.example"
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	want := "https://play.example:" + strconv.Itoa(srv.Endpoint().Port()) + "/rooms?x=1"
	if resp.StatusCode != http.StatusMovedPermanently || resp.Header.Get("Location") != want {
		t.Fatalf("%s, Location %q; want 301 to %s", resp.Status, resp.Header.Get("Location"), want)
	}
}
