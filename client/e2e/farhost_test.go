package e2e

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/tickwire/tickwire/client/web"
	"github.com/tickwire/tickwire/netcode/server"
	"github.com/tickwire/tickwire/netcode/server/servertest"
	"github.com/tickwire/tickwire/netcode/transport"
)

// Two hosts on one machine: network namespaces that the test makes, a
// "server host" and a "player host" joined by a veth pair, with private
// addresses that nothing outside the pair uses.
const (
	serverHostIP = "10.77.0.1"
	playerHostIP = "10.77.0.2"
	// hostRoleEnv tells a re-executed test binary which host it is on.
	hostRoleEnv = "TICKWIRE_E2E_HOST"
)

// TestBrowserOnAnotherHostPlaysWithDefaultSettings: a server with
// default settings but for listening on every interface, on one host; a
// browser on another host opens the page at the server's address and
// plays (over WebSocket: the page is plain http, not a secure context off
// localhost), its session comes from the player host's address, and its
// player walks. A page of another site is refused (403) at that address.
//
// The test makes the two namespaces, then runs itself again inside the
// server host (so that the server it starts in-process listens there),
// and that run starts Chromium inside the player host. It needs root,
// iproute2 and Chromium.
func TestBrowserOnAnotherHostPlaysWithDefaultSettings(t *testing.T) {
	if os.Getenv(hostRoleEnv) == "server" {
		playFromPlayerHost(t)
		return
	}
	srvNS, cliNS := twoHosts(t)
	runOnServerHost(t, srvNS, "TICKWIRE_E2E_WEB="+webDist(t), "TICKWIRE_E2E_PLAYER_NS="+cliNS)
}

// needHosts skips (or, under CI, fails) a test that makes network
// namespaces where it cannot: it needs root, iproute2 and Chromium.
func needHosts(t *testing.T) {
	t.Helper()
	need(t, "ip")
	if _, err := exec.LookPath(chromiumPath()); err != nil {
		need(t, "chromium")
	}
	if os.Geteuid() != 0 {
		if os.Getenv("CI") == "true" {
			t.Fatal("network namespaces need root under CI")
		}
		t.Skip("network namespaces need root")
	}
}

// runOnServerHost runs the test again inside the server namespace, with
// env added, and fails if that run does.
func runOnServerHost(t *testing.T, srvNS string, env ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "ip", "netns", "exec", srvNS, os.Args[0],
		"-test.run", "^"+t.Name()+"$", "-test.v", "-test.timeout", "3m")
	cmd.Env = append(append(os.Environ(), hostRoleEnv+"=server"), env...)
	out, err := cmd.CombinedOutput()
	t.Logf("on the server host:\n%s", out)
	if err != nil {
		t.Fatalf("on the server host: %v", err)
	}
	if !strings.Contains(string(out), "--- PASS: "+t.Name()) {
		t.Fatal("the run on the server host did not pass")
	}
}

// twoHosts makes the server and player namespaces, joined by a veth pair,
// and removes them when the test ends.
func twoHosts(t *testing.T) (srvNS, cliNS string) {
	t.Helper()
	needHosts(t)
	id := strconv.Itoa(os.Getpid())
	srvNS, cliNS = "tw-srv-"+id, "tw-cli-"+id
	vs, vc := "tws"+id, "twc"+id // interface names: at most 15 bytes
	run := func(args ...string) {
		t.Helper()
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			t.Fatalf("ip %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	run("netns", "add", srvNS)
	t.Cleanup(func() { _ = exec.Command("ip", "netns", "del", srvNS).Run() })
	run("netns", "add", cliNS)
	t.Cleanup(func() { _ = exec.Command("ip", "netns", "del", cliNS).Run() })
	run("link", "add", vs, "type", "veth", "peer", "name", vc)
	run("link", "set", vs, "netns", srvNS)
	run("link", "set", vc, "netns", cliNS)
	run("-n", srvNS, "addr", "add", serverHostIP+"/24", "dev", vs)
	run("-n", cliNS, "addr", "add", playerHostIP+"/24", "dev", vc)
	for _, ns := range []string{srvNS, cliNS} {
		run("-n", ns, "link", "set", "lo", "up")
	}
	run("-n", srvNS, "link", "set", vs, "up")
	run("-n", cliNS, "link", "set", vc, "up")
	return srvNS, cliNS
}

// playFromPlayerHost is the test's run on the server host.
func playFromPlayerHost(t *testing.T) {
	srv := servertest.Start(t, &server.Server{
		Addr:    "0.0.0.0:0",
		Handler: web.Handler(os.Getenv("TICKWIRE_E2E_WEB")),
	})
	base := "http://" + serverHostIP + ":" + strconv.Itoa(srv.Endpoint().Port())
	if urls := srv.Endpoint().PlayerURLs(); !slices.Contains(urls, base) {
		t.Errorf("the URLs for players %v do not include %s", urls, base)
	}

	// A page of another site, at the server's address: refused.
	dctx, dcancel := context.WithTimeout(context.Background(), 10*time.Second)
	_, err := transport.Dial(dctx, base, transport.DialOptions{Transport: transport.WebSocket,
		Header: http.Header{"Origin": {"http://evil.example"}}})
	dcancel()
	if err == nil || !strings.Contains(err.Error(), "403") {
		t.Fatalf("a page of another site: %v, want 403", err)
	}

	// Chromium runs on the player host: the wrapper enters its namespace;
	// chromedp talks to it through inherited pipes, not the network.
	browserCtx := startBrowser(t, chromiumOnPlayerHost(t, ""))
	ctx, cancel := context.WithTimeout(browserCtx, 2*time.Minute)
	defer cancel()
	page := base + "/?name=far&room=default" // through the lobby's join, which names the process "localhost"
	if err := chromedp.Do(ctx, chromedp.Navigate(page)); err != nil {
		t.Fatalf("opening %s: %v", page, err)
	}
	logStartTime(t, ctx)
	note, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.getElementById("transport-note").textContent`))
	if err != nil || !strings.Contains(note, "plain http") || !strings.Contains(note, "-domain") {
		t.Errorf("the page does not say why it plays over WebSocket and how to get WebTransport: %q (%v)", note, err)
	}
	sess := waitSession(t, srv, "far", 60*time.Second)
	if host, _, _ := strings.Cut(sess.Remote, ":"); host != playerHostIP {
		t.Errorf("the session comes from %s, want the player host %s", sess.Remote, playerHostIP)
	}
	if sess.Transport != transport.WebSocket {
		t.Errorf("the page on plain http joined over %s; off localhost it is not a secure context, so WebSocket", sess.Transport)
	}
	walk(t, ctx, srv, sess)

	// ?room= picks the room: one made through the server's API, as the
	// lobby makes them.
	if _, err := srv.CreateRoom(server.RoomOptions{ID: "far-room"}); err != nil {
		t.Fatal(err)
	}
	tabCtx, cancelTab := chromedp.NewContext(browserCtx)
	defer cancelTab()
	if err := chromedp.Do(tabCtx, chromedp.Navigate(base+"/?name=roomie&room=far-room")); err != nil {
		t.Fatal(err)
	}
	if s := waitSession(t, srv, "roomie", 60*time.Second); s.Room != "far-room" {
		t.Errorf("the page joined room %q, want the one its URL names, far-room", s.Room)
	}
}

// chromiumOnPlayerHost writes a wrapper that runs Chromium in the player
// namespace (with HOME set to home, for its certificate store, when not
// empty) and returns its path. chromedp talks to the browser through
// inherited pipes, which cross namespaces, not through the network.
func chromiumOnPlayerHost(t *testing.T, home string) string {
	t.Helper()
	env := ""
	if home != "" {
		env = "env HOME=" + home + " "
	}
	wrapper := filepath.Join(t.TempDir(), "chromium-on-player-host")
	script := fmt.Sprintf("#!/bin/sh\nexec ip netns exec %s %s%s \"$@\"\n", os.Getenv("TICKWIRE_E2E_PLAYER_NS"), env, chromiumPath())
	if err := os.WriteFile(wrapper, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return wrapper
}
