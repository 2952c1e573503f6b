// Package e2e runs the real client against a real server: the desktop
// binary under Xvfb and the browser build in headless Chromium. The tests
// skip when Xvfb, xwd or Chromium is missing, unless CI=true (then they
// fail): scripts/test.sh installs them.
package e2e

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"image"
	"image/png"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/chromedp"

	"github.com/tickwire/tickwire/client/palette"
	"github.com/tickwire/tickwire/client/web"
	"github.com/tickwire/tickwire/game"
	"github.com/tickwire/tickwire/netcode/client"
	"github.com/tickwire/tickwire/netcode/server"
	"github.com/tickwire/tickwire/netcode/server/servertest"
	"github.com/tickwire/tickwire/netcode/transport"
)

// arenaSize is small enough that the whole arena is on a 1024x768 screen
// at zoom 1 wherever the own player stands, so every player is visible.
const arenaSize = 360

var (
	buildDir  string
	buildOnce sync.Map // name -> *buildResult
)

type buildResult struct {
	once sync.Once
	path string
	err  error
}

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "tickwire-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	buildDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// need skips the test when a tool is missing, or fails it under CI.
func need(t *testing.T, tools ...string) {
	t.Helper()
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			if os.Getenv("CI") == "true" {
				t.Fatalf("%s is required under CI (scripts/test.sh installs it): %v", tool, err)
			}
			t.Skipf("%s not installed (scripts/test.sh installs it)", tool)
		}
	}
}

func repoRoot(t *testing.T) string {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

// build runs one build once per test binary.
func build(t *testing.T, name string, f func() (string, error)) string {
	t.Helper()
	v, _ := buildOnce.LoadOrStore(name, &buildResult{})
	r := v.(*buildResult)
	r.once.Do(func() { r.path, r.err = f() })
	if r.err != nil {
		t.Fatalf("building %s: %v", name, r.err)
	}
	return r.path
}

func goBuild(t *testing.T, env []string, out, pkg string) error {
	cmd := exec.Command("go", "build", "-trimpath", "-ldflags=-s -w", "-o", out, pkg)
	cmd.Dir = repoRoot(t)
	cmd.Env = append(os.Environ(), env...)
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build %s: %v\n%s", pkg, err, b)
	}
	return nil
}

// clientBinary builds cmd/client for this machine.
func clientBinary(t *testing.T) string {
	return build(t, "client", func() (string, error) {
		out := filepath.Join(buildDir, "client")
		return out, goBuild(t, nil, out, "./cmd/client")
	})
}

// webDist builds the browser client and copies wasm_exec.js next to it.
func webDist(t *testing.T) string {
	return build(t, "web", func() (string, error) {
		dir := filepath.Join(buildDir, "web")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return "", err
		}
		if err := goBuild(t, []string{"GOOS=js", "GOARCH=wasm"}, filepath.Join(dir, web.WasmFile), "./cmd/client"); err != nil {
			return "", err
		}
		goroot, err := exec.Command("go", "env", "GOROOT").Output()
		if err != nil {
			return "", fmt.Errorf("go env GOROOT: %w", err)
		}
		src, err := os.ReadFile(filepath.Join(strings.TrimSpace(string(goroot)), "lib", "wasm", web.WasmExecFile))
		if err != nil {
			return "", err
		}
		if err := os.WriteFile(filepath.Join(dir, web.WasmExecFile), src, 0o644); err != nil {
			return "", err
		}
		// As scripts/serve.sh does: brotli and gzip forms beside them
		// (in a process of its own: under the race detector it would
		// take many minutes).
		cmd := exec.Command("go", "run", "./cmd/webcompress", dir)
		cmd.Dir = repoRoot(t)
		if b, err := cmd.CombinedOutput(); err != nil {
			return "", fmt.Errorf("webcompress: %v\n%s", err, b)
		}
		return dir, nil
	})
}

// startServer runs a real server on a free loopback port for the test.
func startServer(t *testing.T, handler bool) *server.Server {
	t.Helper()
	srv := &server.Server{Game: game.Config{MaxPlayers: 8, Size: arenaSize, Seed: 7}}
	if handler {
		srv.Handler = web.Handler(webDist(t))
	}
	return servertest.Start(t, srv)
}

// startBots connects n plain netcode sessions that send inputs every tick
// (walking back and forth), standing in for other players.
func startBots(t *testing.T, srv *server.Server, n int) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	t.Cleanup(func() { cancel(); wg.Wait() })
	for i := range n {
		c, err := client.Connect(ctx, client.Config{
			Server: srv.URL(),
			Name:   fmt.Sprintf("bot%d", i),
			Dial:   transport.DialOptions{Transport: transport.WebSocket},
			Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		})
		if err != nil {
			t.Fatalf("bot %d: %v", i, err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer c.Close()
			tk := time.NewTicker(time.Second / 30)
			defer tk.Stop()
			for k := 0; ; k++ {
				select {
				case <-ctx.Done():
					return
				case <-c.Done():
					return
				case <-tk.C:
					dir := 1.0
					if (k/30)%2 == 1 {
						dir = -1
					}
					_, _ = c.SendInput(0.3*dir, 0, 0, false)
				}
			}
		}()
	}
}

// waitSession waits until the server has a session for a player name.
func waitSession(t *testing.T, srv *server.Server, name string, timeout time.Duration) server.SessionInfo {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		for _, s := range srv.Sessions() {
			if s.Name == name {
				return s
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no session named %q after %v (sessions: %+v)", name, timeout, srv.Sessions())
		}
		time.Sleep(100 * time.Millisecond) // polling an external process; no signal to await
	}
}

type pixelCounts struct{ border, own, other int }

func count(img image.Image) pixelCounts {
	return pixelCounts{
		border: countColour(img, palette.Border, 3),
		own:    countColour(img, palette.Own, 3),
		other:  countColour(img, palette.Other, 3),
	}
}

// A player is a disc of radius 16 at zoom 1 (about 800 pixels), partly
// covered by its name and aim line; the border a 6-pixel frame around 360.
const (
	minBorderPixels = 4000
	minPlayerPixels = 400
)

func TestDesktopClientUnderXvfbShowsArenaAndPlayers(t *testing.T) {
	need(t, "Xvfb", "xwd")
	bin := clientBinary(t)
	srv := startServer(t, false)
	startBots(t, srv, 2)
	display := startXvfb(t)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var logs bytes.Buffer
	// WebTransport forced (no fallback on a slow machine): joining over it
	// shows the default -trust-cert-hash pinned the loopback server's
	// self-signed certificate. -room skips the lobby screen.
	cmd := exec.CommandContext(ctx, bin, "-server", srv.URL(), "-name", "desk", "-debug", "-transport", "wt", "-room", "default")
	cmd.Env = append(os.Environ(), "DISPLAY="+display)
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	defer func() {
		cancel()
		<-exited
		if t.Failed() {
			t.Logf("client output:\n%s", logs.String())
		}
	}()

	sess := waitSession(t, srv, "desk", 60*time.Second)
	t.Logf("desktop client joined over %s as entity %d", sess.Transport, sess.Entity)
	if sess.Transport != transport.WebTransport {
		t.Errorf("desktop client on loopback joined over %s, want webtransport (with the pinned hash)", sess.Transport)
	}
	// The window appears and draws asynchronously: take screenshots until
	// one shows the arena and the players, within a bound.
	var last pixelCounts
	deadline := time.Now().Add(30 * time.Second)
	for {
		select {
		case err := <-exited:
			t.Fatalf("client exited: %v", err)
		default:
		}
		out, err := exec.Command("xwd", "-root", "-silent", "-display", display).Output()
		if err == nil {
			img, err := decodeXWD(out)
			if err != nil {
				t.Fatal(err)
			}
			last = count(img)
			if last.border >= minBorderPixels && last.own >= minPlayerPixels && last.other >= 2*minPlayerPixels {
				t.Logf("screenshot: %d border, %d own, %d other pixels", last.border, last.own, last.other)
				saveArtefact(t, "desktop.png", img)
				return
			}
			if time.Now().After(deadline) {
				saveArtefact(t, "desktop.png", img)
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("screenshot never showed the arena and three players: %d border (want %d), %d own (want %d), %d other (want %d) pixels",
				last.border, minBorderPixels, last.own, minPlayerPixels, last.other, 2*minPlayerPixels)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// saveArtefact writes a screenshot where TICKWIRE_E2E_ARTEFACTS points
// (for a human to look at); without it nothing is written.
func saveArtefact(t *testing.T, name string, img image.Image) {
	dir := os.Getenv("TICKWIRE_E2E_ARTEFACTS")
	if dir == "" {
		return
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err == nil {
		_ = os.WriteFile(filepath.Join(dir, name), buf.Bytes(), 0o644)
	}
}

// startXvfb starts a private X server and returns its DISPLAY.
func startXvfb(t *testing.T) string {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("Xvfb", "-displayfd", "3", "-screen", "0", "1024x768x24", "-nolisten", "tcp")
	cmd.ExtraFiles = []*os.File{w}
	var xlog bytes.Buffer
	cmd.Stdout, cmd.Stderr = &xlog, &xlog
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	w.Close()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("Xvfb output:\n%s", xlog.String())
		}
	})
	got := make(chan string, 1)
	// Xvfb writes the number and a newline, possibly in two writes: read
	// the whole line, and keep the pipe open while it runs (a write to a
	// closed pipe is fatal to it).
	t.Cleanup(func() { r.Close() })
	go func() {
		line, _ := bufio.NewReader(r).ReadString('\n')
		got <- strings.TrimSpace(line)
	}()
	select {
	case d := <-got:
		if _, err := strconv.Atoi(d); err != nil {
			t.Fatalf("Xvfb reported display %q", d)
		}
		return ":" + d
	case <-time.After(20 * time.Second):
		t.Fatal("Xvfb did not report its display within 20s")
	}
	return ""
}

func chromiumPath() string {
	for _, p := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if path, err := exec.LookPath(p); err == nil {
			return path
		}
	}
	return "chromium"
}

func TestBrowserClientPlaysOverWebTransportAndWebSocket(t *testing.T) {
	if _, err := exec.LookPath(chromiumPath()); err != nil {
		need(t, "chromium")
	}
	srv := startServer(t, true)
	startBots(t, srv, 1)

	browserCtx := startBrowser(t, chromiumPath())

	for _, tc := range []struct {
		name, player, query string
		want                transport.Kind
	}{
		// WebTransport is forced: under a loaded machine the automatic
		// choice may fall back to WebSocket, which would make this flaky.
		{"webtransport", "web-wt", "&transport=wt", transport.WebTransport},
		{"websocket", "web-ws", "&transport=ws", transport.WebSocket},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tabCtx, cancelTab := chromedp.NewContext(browserCtx)
			defer cancelTab()
			ctx, cancel := context.WithTimeout(tabCtx, 120*time.Second)
			defer cancel()
			name := tc.player
			page := srv.URL() + "/?name=" + name + "&room=default" + tc.query // room: skip the lobby screen
			if err := chromedp.Do(ctx, chromedp.Navigate(page)); err != nil {
				t.Fatalf("opening %s: %v", page, err)
			}
			logStartTime(t, ctx)
			sess := waitSession(t, srv, name, 60*time.Second)
			if sess.Transport != tc.want {
				t.Fatalf("browser joined over %s, want %s", sess.Transport, tc.want)
			}
			walk(t, ctx, srv, sess)

			var last pixelCounts
			deadline := time.Now().Add(20 * time.Second)
			for {
				shot, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
				if err != nil {
					t.Fatalf("screenshot: %v", err)
				}
				img, err := png.Decode(bytes.NewReader(shot))
				if err != nil {
					t.Fatalf("decoding screenshot: %v", err)
				}
				last = count(img)
				if last.border >= minBorderPixels && last.own >= minPlayerPixels && last.other >= minPlayerPixels {
					t.Logf("screenshot: %d border, %d own, %d other pixels", last.border, last.own, last.other)
					saveArtefact(t, "browser-"+tc.name+".png", img)
					break
				}
				if time.Now().After(deadline) {
					saveArtefact(t, "browser-"+tc.name+".png", img)
					t.Fatalf("page screenshot never showed the arena and two players: %+v", last)
				}
				time.Sleep(250 * time.Millisecond)
			}
		})
	}
}

// startBrowser starts headless Chromium (exec: the binary, or a wrapper
// that runs it elsewhere) for the test's life and returns its context.
func startBrowser(t *testing.T, exec string, extra ...chromedp.ExecAllocatorOption) context.Context {
	t.Helper()
	opts := append(extra,
		chromedp.ExecPath(exec),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1024, 768),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("enable-unsafe-swiftshader", true),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancelAlloc)
	browserCtx, cancelBrowser := chromedp.NewContext(allocCtx)
	t.Cleanup(cancelBrowser)
	if err := chromedp.Do(browserCtx); err != nil {
		t.Fatalf("starting chromium: %v", err)
	}
	return browserCtx
}

// walk holds a movement key in the page until the server sees the
// browser's player walk at least 40 units (bounded), toward the middle of
// the arena.
func walk(t *testing.T, ctx context.Context, srv *server.Server, sess server.SessionInfo) {
	t.Helper()
	before, ok := srv.Room().Player(sess.Entity)
	if !ok {
		t.Fatal("the browser's player is not in the world")
	}
	key, code, vk, sign := "d", "KeyD", int64(68), 1.0
	if before.X > srv.Room().Params().Size/2 {
		key, code, vk, sign = "a", "KeyA", 65, -1
	}
	// Focus the canvas, then hold the key until the server sees the
	// player walk (bounded).
	if err := chromedp.Do(ctx, chromedp.MouseClickXY(5, 5)); err != nil {
		t.Fatalf("clicking the page: %v", err)
	}
	if err := chromedp.Do(ctx, keyEvent(input.DispatchKeyEventTypeKeyDown, key, code, vk)); err != nil {
		t.Fatalf("pressing %s: %v", key, err)
	}
	moved := 0.0
	deadline := time.Now().Add(20 * time.Second)
	for moved < 40 && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond) // polling the world; the key stays held
		now, _ := srv.Room().Player(sess.Entity)
		moved = (now.X - before.X) * sign
	}
	_ = chromedp.Do(ctx, keyEvent(input.DispatchKeyEventTypeKeyUp, key, code, vk))
	if moved < 40 {
		t.Fatalf("holding %q moved the player %.1f units (want 40 or more)", key, moved)
	}
	t.Logf("holding %q moved the player %.1f units over %s", key, moved, sess.Transport)
}

// logStartTime logs how long the page took from navigation to running
// the wasm (downloaded, compiled, started): window.tickwireStarted.
func logStartTime(t *testing.T, ctx context.Context) {
	t.Helper()
	ms, err := chromedp.Run(ctx, chromedp.Poll[float64]("window.tickwireStarted"))
	if err != nil {
		t.Fatalf("the page never started the wasm: %v", err)
	}
	t.Logf("page to running wasm: %.0f ms", ms)
}

// keyEvent presses or releases one key as a keyboard would (held keys
// stay down until the matching keyUp).
func keyEvent(typ input.DispatchKeyEventType, key, code string, vk int64) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := cdp.Call(ctx, t, input.DispatchKeyEvent, input.DispatchKeyEventParams{
			Type: typ, Key: key, Code: code, WindowsVirtualKeyCode: vk, NativeVirtualKeyCode: vk,
		})
		return err
	})
}
