//go:build !js

package transport

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestWebTransportSessionWithoutControlStreamIsClosed(t *testing.T) {
	const timeout = 300 * time.Millisecond
	te := serveTestEndpoint(t, &Endpoint{HandshakeTimeout: timeout})
	start := time.Now()
	sess := hostileWT(t, te, nil)
	wantSessionCode(t, sessionEnd(t, sess), wtCodeHandshake)
	if took := time.Since(start); took < timeout {
		t.Fatalf("session closed after %v, before the %v handshake timeout", took, timeout)
	}
	select {
	case c := <-te.accepted:
		t.Fatalf("a session without a control stream was handed to OnConn: %v", c.RemoteAddr())
	default:
	}
}

func TestLocalhostIsServedOnBothLoopbackAddresses(t *testing.T) {
	te := serveTestEndpoint(t, &Endpoint{Addr: "localhost:0"})
	if n := len(te.Addrs()); n != 2 {
		t.Fatalf("listening on %v, want 127.0.0.1 and ::1", te.Addrs())
	}
	port := strconv.Itoa(te.Port())
	for _, ip := range []string{"127.0.0.1", "::1"} {
		base := "http://" + net.JoinHostPort(ip, port)
		t.Run(ip, func(t *testing.T) {
			if doc := getCertHashDoc(t, base, nil); len(doc.Hashes) == 0 {
				t.Fatal("no hashes")
			}
			for _, kind := range bothKinds {
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				cli, err := Dial(ctx, base, DialOptions{Transport: kind, TrustServerCertHash: true, Logger: transportLog()})
				cancel()
				if err != nil {
					t.Fatalf("%s: %v", kind, err)
				}
				t.Cleanup(func() { cli.Close() })
				srv := te.accept(t)
				if got := srv.RemoteAddr().String(); !strings.Contains(got, ip) {
					t.Errorf("%s: server sees the client at %s, want %s", kind, got, ip)
				}
				exchange(t, cli, srv, ip)
			}
		})
	}
	if got := te.URL(); got != "http://localhost:"+port {
		t.Errorf("URL() = %q", got)
	}
}

func TestDisallowedOriginIsRefusedOnBothTransports(t *testing.T) {
	te := serveTestEndpoint(t, &Endpoint{})
	own := "http://localhost:" + strconv.Itoa(te.Port())
	for _, kind := range bothKinds {
		t.Run(string(kind), func(t *testing.T) {
			for _, origin := range []string{"https://evil.example", "null", "http://localhost:1"} {
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				c, err := Dial(ctx, te.URL(), DialOptions{Transport: kind, TrustServerCertHash: true,
					Header: http.Header{"Origin": {origin}}, Logger: transportLog()})
				cancel()
				if err == nil {
					c.Close()
					t.Fatalf("origin %q was let in", origin)
				}
				if !strings.Contains(err.Error(), "403") {
					t.Fatalf("origin %q: %v, want a 403", origin, err)
				}
			}
			// The server's own origin, and no origin at all, are welcome.
			cli, srv := te.dialWith(t, DialOptions{Transport: kind, TrustServerCertHash: true, Header: http.Header{"Origin": {own}}})
			exchange(t, cli, srv, "own origin")
			cli, srv = te.dial(t, kind)
			exchange(t, cli, srv, "no origin")
		})
	}
}

func TestConfiguredOriginsAddToTheDefault(t *testing.T) {
	te := serveTestEndpoint(t, &Endpoint{AllowedOrigins: []string{"https://Game.Example"}})
	for _, kind := range bothKinds {
		for _, origin := range []string{"https://game.example:443", "http://localhost:" + strconv.Itoa(te.Port())} {
			cli, srv := te.dialWith(t, DialOptions{Transport: kind, TrustServerCertHash: true,
				Header: http.Header{"Origin": {origin}}})
			exchange(t, cli, srv, origin)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		_, err := Dial(ctx, te.URL(), DialOptions{Transport: kind, TrustServerCertHash: true,
			Header: http.Header{"Origin": {"https://other.example"}}})
		cancel()
		if err == nil || !strings.Contains(err.Error(), "403") {
			t.Fatalf("%s: an unlisted origin: %v, want a 403", kind, err)
		}
	}

	for _, bad := range [][]string{{"*"}, {"game.example"}, {"ftp://game.example"}} {
		ep := &Endpoint{Addr: "127.0.0.1:0", AllowedOrigins: bad, OnConn: func(context.Context, Conn, *http.Request) {}, Logger: transportLog()}
		if err := ep.Listen(); err == nil {
			ep.Shutdown(context.Background())
			t.Errorf("AllowedOrigins %q accepted", bad)
		}
	}
}

// TestOriginRules: a page the endpoint served passes at whatever host it
// was reached (a server on 0.0.0.0 reached as 10.1.2.3 or play.example),
// on WebSocket and on WebTransport (whose CONNECT is https, from an http
// page when the certificate is self-signed); a page on another origin,
// or claiming another scheme or port, does not.
func TestOriginRules(t *testing.T) {
	te := serveTestEndpoint(t, &Endpoint{})
	port := strconv.Itoa(te.Port())
	for _, tc := range []struct {
		name, host, origin string
		http3, want        bool
	}{
		{"page reached by address", "10.1.2.3:" + port, "http://10.1.2.3:" + port, false, true},
		{"page reached by name", "Play.Example:" + port, "http://play.example:" + port, false, true},
		{"webtransport from that page", "play.example:" + port, "http://play.example:" + port, true, true},
		{"loopback page, other host asked", "10.1.2.3:" + port, "http://127.0.0.1:" + port, false, true},
		{"another site", "play.example:" + port, "http://evil.example:" + port, false, false},
		{"another port", "play.example:" + port, "http://play.example:1", false, false},
		{"https claimed, http served", "play.example:" + port, "https://play.example:" + port, false, false},
		{"opaque origin", "play.example:" + port, "null", false, false},
		{"no origin (native client)", "play.example:" + port, "", false, true},
	} {
		r := httptest.NewRequest(http.MethodGet, "http://"+tc.host+PathWebSocket, nil)
		if tc.origin != "" {
			r.Header.Set("Origin", tc.origin)
		}
		if tc.http3 {
			r.ProtoMajor, r.ProtoMinor = 3, 0
		}
		if got := te.originAllowed(r); got != tc.want {
			t.Errorf("%s: Origin %q to %s allowed = %v, want %v", tc.name, tc.origin, tc.host, got, tc.want)
		}
	}
}

// TestPageReachedByAnyNameConnects: over a real socket, a WebSocket
// upgrade addressed to a name the endpoint was not told about, from the
// page at that name, is let in; the same upgrade from another site's page
// gets 403.
func TestPageReachedByAnyNameConnects(t *testing.T) {
	te := serveTestEndpoint(t, &Endpoint{})
	host := "play.example:" + strconv.Itoa(te.Port())
	cli, srv := te.dialWith(t, DialOptions{Transport: WebSocket,
		Header: http.Header{"Host": {host}, "Origin": {"http://" + host}}})
	exchange(t, cli, srv, "page at "+host)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := Dial(ctx, te.URL(), DialOptions{Transport: WebSocket,
		Header: http.Header{"Host": {host}, "Origin": {"http://evil.example"}}})
	if err == nil || !strings.Contains(err.Error(), "403") {
		t.Fatalf("another site's page: %v, want a 403", err)
	}
}

// TestCORSAnswersAllowedOriginsOnly: a page hosted elsewhere but listed
// gets its preflight answered and may read the server's routes; an
// unlisted one gets no CORS headers (its page cannot read the answer).
func TestCORSAnswersAllowedOriginsOnly(t *testing.T) {
	te := serveTestEndpoint(t, &Endpoint{AllowedOrigins: []string{"https://mygame.example"},
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("rooms")) })})
	do := func(method, origin string) *http.Response {
		t.Helper()
		req, _ := http.NewRequest(method, te.URL()+"/rooms", nil)
		req.Header.Set("Origin", origin)
		if method == http.MethodOptions {
			req.Header.Set("Access-Control-Request-Method", "POST")
			req.Header.Set("Access-Control-Request-Headers", "content-type")
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	pre := do(http.MethodOptions, "https://mygame.example")
	if pre.StatusCode != http.StatusNoContent || pre.Header.Get("Access-Control-Allow-Origin") != "https://mygame.example" ||
		!strings.Contains(pre.Header.Get("Access-Control-Allow-Methods"), "POST") ||
		!strings.Contains(strings.ToLower(pre.Header.Get("Access-Control-Allow-Headers")), "content-type") {
		t.Errorf("preflight from a listed origin: %s %v", pre.Status, pre.Header)
	}
	if got := do(http.MethodGet, "https://mygame.example"); got.Header.Get("Access-Control-Allow-Origin") != "https://mygame.example" {
		t.Errorf("GET from a listed origin: %v", got.Header)
	}
	for _, m := range []string{http.MethodOptions, http.MethodGet} {
		if got := do(m, "https://evil.example"); got.Header.Get("Access-Control-Allow-Origin") != "" {
			t.Errorf("%s from an unlisted origin got %q", m, got.Header.Get("Access-Control-Allow-Origin"))
		}
	}
}

func TestNormalizeOrigin(t *testing.T) {
	for in, want := range map[string]string{
		"http://localhost:4433":  "http://localhost:4433",
		"HTTPS://Example.COM":    "https://example.com:443",
		"http://example.com":     "http://example.com:80",
		"http://[::1]:8080":      "http://[::1]:8080",
		"https://example.com/":   "https://example.com:443",
		"null":                   "",
		"https://example.com/x":  "",
		"https://u@example.com":  "",
		"file:///home/index.htm": "",
	} {
		got, ok := normalizeOrigin(in)
		if got != want || ok != (want != "") {
			t.Errorf("normalizeOrigin(%q) = %q, %v; want %q", in, got, ok, want)
		}
	}
}

func getCertHashDoc(t *testing.T, base string, hdr http.Header) CertHashDoc {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, base+PathCertHash, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header[k] = v
	}
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 10 * time.Second}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("GET %s: %s, %s", PathCertHash, resp.Status, resp.Header.Get("Content-Type"))
	}
	if hdr.Get("Origin") != "" && resp.Header.Get("Access-Control-Allow-Origin") != hdr.Get("Origin") {
		t.Errorf("Access-Control-Allow-Origin = %q", resp.Header.Get("Access-Control-Allow-Origin"))
	}
	var doc CertHashDoc
	if err := json.NewDecoder(resp.Body).Decode(&doc); err != nil {
		t.Fatal(err)
	}
	return doc
}

func TestCertHashEndpointListsTheServedCertificate(t *testing.T) {
	te := serveTestEndpoint(t, &Endpoint{})
	own := "http://127.0.0.1:" + strconv.Itoa(te.Port())
	doc := getCertHashDoc(t, te.URL(), http.Header{"Origin": {own}})
	if doc.Algorithm != "sha-256" || len(doc.Hashes) != 1 || len(doc.Hex) != 1 {
		t.Fatalf("doc = %+v", doc)
	}
	leaf, _ := te.CertManager().GetCertificate(nil)
	want := sha256.Sum256(leaf.Certificate[0])
	if doc.Hashes[0] != base64.StdEncoding.EncodeToString(want[:]) || doc.Hex[0] != hex.EncodeToString(want[:]) {
		t.Fatalf("doc = %+v, want hash %x", doc, want)
	}
	notAfter, err := time.Parse(time.RFC3339, doc.NotAfter)
	if err != nil || !notAfter.Equal(leaf.Leaf.NotAfter.Truncate(time.Second)) {
		t.Fatalf("not_after = %q (%v), want %v", doc.NotAfter, err, leaf.Leaf.NotAfter)
	}
	for _, s := range append(doc.Hashes, doc.Hex...) {
		if h, err := ParseCertHash(s); err != nil || h != want {
			t.Errorf("ParseCertHash(%q) = %x, %v", s, h, err)
		}
	}
}

func TestShutdownLetsHandlersSayGoodbye(t *testing.T) {
	started := make(chan struct{}, 2)
	te := serveTestEndpoint(t, &Endpoint{OnConn: func(ctx context.Context, c Conn, _ *http.Request) {
		started <- struct{}{}
		<-ctx.Done()
		_ = c.SendMessage([]byte("server shutting down"))
	}})
	var clients []Conn
	for _, kind := range bothKinds {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		c, err := Dial(ctx, te.URL(), DialOptions{Transport: kind, TrustServerCertHash: true, Logger: transportLog()})
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		clients = append(clients, c)
		<-started
	}
	te.stop()
	for _, c := range clients {
		if got := string(mustReceive(t, c)); got != "server shutting down" {
			t.Fatalf("%s: got %q", c.Kind(), got)
		}
		if err := receiveEnd(t, c); !errors.Is(err, ErrClosed) {
			t.Fatalf("%s: end = %v", c.Kind(), err)
		}
	}
}

func TestShutdownClosesConnectionsOfHandlersThatIgnoreIt(t *testing.T) {
	started := make(chan struct{})
	te := serveTestEndpoint(t, &Endpoint{ShutdownTimeout: 100 * time.Millisecond, OnConn: func(ctx context.Context, c Conn, _ *http.Request) {
		close(started)
		for { // ignores ctx; returns only when its connection ends
			if _, _, err := c.Receive(context.Background()); err != nil {
				return
			}
		}
	}})
	cli, err := Dial(context.Background(), te.URL(), DialOptions{Transport: WebSocket, Logger: transportLog()})
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	<-started
	te.stop() // Serve returns nil: closing the connection ended the handler
	if err := receiveEnd(t, cli); !errors.Is(err, ErrClosed) {
		t.Fatalf("end = %v", err)
	}
}

func TestEndpointRefusesConnectionsBeyondMaxConns(t *testing.T) {
	accepted := make(chan Conn, 1)
	te := serveTestEndpoint(t, &Endpoint{MaxConns: 1, OnConn: func(ctx context.Context, c Conn, _ *http.Request) {
		accepted <- c
		for { // until the connection ends
			if _, _, err := c.Receive(ctx); err != nil {
				return
			}
		}
	}})
	te.accepted = accepted
	cli, _ := te.dial(t, WebSocket)
	for _, kind := range bothKinds {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		_, err := Dial(ctx, te.URL(), DialOptions{Transport: kind, TrustServerCertHash: true, Logger: transportLog()})
		cancel()
		if err == nil || !strings.Contains(err.Error(), "503") {
			t.Fatalf("%s: second connection: %v, want a 503", kind, err)
		}
	}
	cli.Close()
	// The slot is freed when the handler returns: poll, nothing signals it.
	pollUntil(t, 5*time.Second, "the slot to be freed", func() bool { return te.nconns.Load() == 0 })
	te.stop()
}

func TestListenRefusesBadConfiguration(t *testing.T) {
	onConn := func(context.Context, Conn, *http.Request) {}
	for name, ep := range map[string]*Endpoint{
		"no OnConn":       {Addr: "127.0.0.1:0"},
		"no port":         {Addr: "127.0.0.1", OnConn: onConn},
		"bad port":        {Addr: "127.0.0.1:http2", OnConn: onConn},
		"cert alone":      {Addr: "127.0.0.1:0", CertFile: "x.pem", OnConn: onConn},
		"missing files":   {Addr: "127.0.0.1:0", CertFile: "/nonexistent.pem", KeyFile: "/nonexistent.key", OnConn: onConn},
		"certs and files": {Addr: "127.0.0.1:0", Certs: &CertManager{}, CertFile: "a", KeyFile: "b", OnConn: onConn},
	} {
		ep.Logger = transportLog()
		if err := ep.Listen(); err == nil {
			ep.Shutdown(context.Background())
			t.Errorf("%s: Listen succeeded", name)
		}
	}
}
