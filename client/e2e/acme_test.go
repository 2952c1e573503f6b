package e2e

import (
	"context"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/tickwire/tickwire/client/web"
	"github.com/tickwire/tickwire/netcode/server"
	"github.com/tickwire/tickwire/netcode/server/servertest"
	"github.com/tickwire/tickwire/netcode/transport"
)

// Pebble is Let's Encrypt's test CA; the test builds it from the module
// proxy and runs it on the server host.
const (
	pebbleModule  = "github.com/letsencrypt/pebble/v2"
	pebbleVersion = "v2.10.3"
	// testDomain is the server's name; only the test's hosts resolve it.
	testDomain = "play.test"
	// pebbleTLSPort is where Pebble checks TLS-ALPN-01 (its config): the
	// server listens there, as a public server listens on 443.
	pebbleTLSPort = "5001"
)

// TestBrowserOnAnotherHostPlaysOverWebTransportWithAnACMECertificate:
// the server, started with only a domain and the CA's directory, gets
// its certificate from a real ACME CA (Pebble, proving the domain by
// TLS-ALPN-01 on the server's own TLS port); a browser on another host
// that trusts the CA opens https://play.test:PORT/ and plays over
// WebTransport, with no certificate pinning, from the player host's
// address, and its player walks. With the player host's UDP dropped
// the same page falls back to WebSocket and plays. The desktop client
// on the player host, under Xvfb, joins over WebTransport too.
func TestBrowserOnAnotherHostPlaysOverWebTransportWithAnACMECertificate(t *testing.T) {
	if os.Getenv(hostRoleEnv) == "server" {
		playWithACMECertificate(t)
		return
	}
	need(t, "certutil", "nft", "Xvfb")
	srvNS, cliNS := twoHosts(t)
	pebble, pebbleDir := buildPebble(t)

	// Both hosts resolve the domain to the server host: Pebble, for its
	// check; the desktop client (Chromium is told with
	// --host-resolver-rules).
	resolveOn(t, srvNS, testDomain, serverHostIP)
	resolveOn(t, cliNS, testDomain, serverHostIP)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ca := exec.CommandContext(ctx, "ip", "netns", "exec", srvNS, pebble, "-config", "test/config/pebble-config.json")
	ca.Dir = pebbleDir
	ca.Env = append(os.Environ(), "PEBBLE_VA_NOSLEEP=1")
	var caLog strings.Builder
	ca.Stdout, ca.Stderr = &caLog, &caLog
	if err := ca.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		_ = ca.Wait()
		t.Logf("pebble:\n%s", caLog.String())
	})
	// Both builds happen here, outside the server host's run and its
	// 3-minute limit: a cold cgo build of the desktop client alone can
	// take two minutes on a busy 2-core machine.
	runOnServerHost(t, srvNS, "TICKWIRE_E2E_WEB="+webDist(t), "TICKWIRE_E2E_CLIENT="+clientBinary(t), "TICKWIRE_E2E_PLAYER_NS="+cliNS,
		// The ACME client trusts Pebble's own HTTPS certificate.
		"SSL_CERT_FILE="+filepath.Join(pebbleDir, "test", "certs", "pebble.minica.pem"))
}

// resolveOn makes name resolve to ip on the host of namespace ns (ip
// netns exec mounts /etc/netns/NS/hosts over /etc/hosts).
func resolveOn(t *testing.T, ns, name, ip string) {
	t.Helper()
	dir := filepath.Join("/etc/netns", ns)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.WriteFile(filepath.Join(dir, "hosts"), []byte("127.0.0.1 localhost\n"+ip+" "+name+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
}

// buildPebble installs Pebble into a temporary directory and returns the
// binary and the module's directory (its config and certificates).
func buildPebble(t *testing.T) (bin, dir string) {
	t.Helper()
	gobin := t.TempDir()
	cmd := exec.Command("go", "install", pebbleModule+"/cmd/pebble@"+pebbleVersion)
	cmd.Env = append(os.Environ(), "GOBIN="+gobin, "GOFLAGS=")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building pebble: %v\n%s", err, out)
	}
	modcache, err := exec.Command("go", "env", "GOMODCACHE").Output()
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Join(gobin, "pebble"), filepath.Join(strings.TrimSpace(string(modcache)), pebbleModule+"@"+pebbleVersion)
}

// playWithACMECertificate is the test's run on the server host.
func playWithACMECertificate(t *testing.T) {
	const directory = "https://localhost:14000/dir"
	waitHTTPS(t, directory)
	srv := servertest.Start(t, &server.Server{
		Addr:    "0.0.0.0:" + pebbleTLSPort,
		ACME:    transport.ACME{Domains: []string{testDomain}, Directory: directory, Cache: t.TempDir()},
		Handler: web.Handler(os.Getenv("TICKWIRE_E2E_WEB")),
	})
	base := "https://" + testDomain + ":" + pebbleTLSPort
	if got := srv.URL(); got != base {
		t.Errorf("URL() = %s, want %s", got, base)
	}
	certs := srv.Endpoint().CertManager()
	deadline := time.Now().Add(90 * time.Second)
	for len(certs.Hashes()) == 0 { // issued by Run, in the background
		if time.Now().After(deadline) {
			t.Fatal("no certificate from the CA within 90 s")
		}
		time.Sleep(100 * time.Millisecond)
	}

	// The player host trusts the CA's root (which Pebble makes at start).
	home := t.TempDir()
	root := filepath.Join(home, "pebble-root.pem")
	if err := os.WriteFile(root, fetch(t, "https://localhost:15000/roots/0", "").body, 0o644); err != nil {
		t.Fatal(err)
	}
	nssdb := "sql:" + filepath.Join(home, ".pki", "nssdb")
	if err := os.MkdirAll(filepath.Join(home, ".pki", "nssdb"), 0o700); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"-d", nssdb, "-N", "--empty-password"},
		{"-d", nssdb, "-A", "-t", "C,,", "-n", "pebble-root", "-i", root},
	} {
		if out, err := exec.Command("certutil", args...).CombinedOutput(); err != nil {
			t.Fatalf("certutil %v: %v\n%s", args, err, out)
		}
	}
	browserCtx := startBrowser(t, chromiumOnPlayerHost(t, home),
		chromedp.Flag("host-resolver-rules", "MAP "+testDomain+" "+serverHostIP),
		// WebTransport to a root that is not a public one needs this
		// (TCP TLS takes the NSS store alone).
		chromedp.Flag("webtransport-developer-mode", true),
	)
	ctx, cancel := context.WithTimeout(browserCtx, 2*time.Minute)
	defer cancel()
	page := base + "/?name=acme&room=default"
	if err := chromedp.Do(ctx, chromedp.Navigate(page)); err != nil {
		t.Fatalf("opening %s: %v", page, err)
	}
	logStartTime(t, ctx)
	if note, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.getElementById("transport-note").textContent`)); err != nil || note != "" {
		t.Errorf("an https page with WebTransport shows a transport note: %q (%v)", note, err)
	}
	sess := waitSession(t, srv, "acme", 60*time.Second)
	if host, _, _ := strings.Cut(sess.Remote, ":"); host != playerHostIP {
		t.Errorf("the session comes from %s, want the player host %s", sess.Remote, playerHostIP)
	}
	if sess.Transport != transport.WebTransport {
		t.Errorf("the page on https with a trusted certificate joined over %s, want WebTransport", sess.Transport)
	}
	walk(t, ctx, srv, sess)

	// The same page from the player host with its UDP dropped (a network
	// that blocks QUIC): WebTransport cannot come up, the page falls back
	// to WebSocket and plays.
	ns := os.Getenv("TICKWIRE_E2E_PLAYER_NS")
	for _, rule := range [][]string{
		{"add", "table", "inet", "tickwire_e2e"},
		{"add", "chain", "inet", "tickwire_e2e", "out", "{ type filter hook output priority 0 ; }"},
		{"add", "rule", "inet", "tickwire_e2e", "out", "meta l4proto udp drop"},
	} {
		if out, err := exec.Command("ip", append([]string{"netns", "exec", ns, "nft"}, rule...)...).CombinedOutput(); err != nil {
			t.Fatalf("nft %v: %v\n%s", rule, err, out)
		}
	}
	tabCtx, cancelTab := chromedp.NewContext(browserCtx)
	defer cancelTab()
	ctx2, cancel2 := context.WithTimeout(tabCtx, 2*time.Minute)
	defer cancel2()
	if err := chromedp.Do(ctx2, chromedp.Navigate(base+"/?name=noudp&room=default")); err != nil {
		t.Fatalf("opening the page without UDP: %v", err)
	}
	sess = waitSession(t, srv, "noudp", 60*time.Second)
	if sess.Transport != transport.WebSocket {
		t.Errorf("with UDP dropped the page joined over %s, want WebSocket", sess.Transport)
	}
	walk(t, ctx2, srv, sess)
	if out, err := exec.Command("ip", "netns", "exec", ns, "nft", "delete", "table", "inet", "tickwire_e2e").CombinedOutput(); err != nil {
		t.Fatalf("nft: %v\n%s", err, out)
	}

	// The desktop client on the player host, under Xvfb, verifying the
	// certificate by its chain (the CA's root as the system's, no
	// pinning), joins over WebTransport.
	bin := os.Getenv("TICKWIRE_E2E_CLIENT")
	display := startXvfb(t)
	if _, err := srv.CreateRoom(server.RoomOptions{ID: "desk-room"}); err != nil {
		t.Fatal(err)
	}
	dctx, dcancel := context.WithCancel(context.Background())
	desk := exec.CommandContext(dctx, "ip", "netns", "exec", ns, "env", "SSL_CERT_FILE="+root, "DISPLAY="+display,
		bin, "-server", base, "-name", "desk", "-transport", "wt", "-room", "desk-room")
	var deskLog strings.Builder
	desk.Stdout, desk.Stderr = &deskLog, &deskLog
	if err := desk.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		dcancel()
		_ = desk.Wait()
		if t.Failed() {
			t.Logf("desktop client:\n%s", deskLog.String())
		}
	}()
	sess = waitSession(t, srv, "desk", 60*time.Second)
	if host, _, _ := strings.Cut(sess.Remote, ":"); host != playerHostIP || sess.Transport != transport.WebTransport || sess.Room != "desk-room" {
		t.Errorf("the desktop client joined room %q from %s over %s, want desk-room from %s over WebTransport", sess.Room, sess.Remote, sess.Transport, playerHostIP)
	}
}

// waitHTTPS waits for url to answer 200 (the CA starting; it says
// nothing when ready).
func waitHTTPS(t *testing.T, url string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not answering within 30 s: %v", url, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
