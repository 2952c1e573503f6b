//go:build !js

package transport

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"net/url"
	"strings"
	"testing"
	"time"
)

func TestDialPrefersWebTransport(t *testing.T) {
	te := serveTestEndpoint(t, &Endpoint{})
	cli, srv := te.dialWith(t, DialOptions{TrustServerCertHash: true,
		OnFallback: func(reason error) { t.Errorf("fell back (%v) with WebTransport available", reason) }})
	if cli.Kind() != WebTransport {
		t.Fatalf("Dial chose %s with WebTransport available", cli.Kind())
	}
	exchange(t, cli, srv, "auto")
}

func TestDialFallsBackToWebSocketWhenWebTransportIsUnreachable(t *testing.T) {
	te := serveTestEndpoint(t, &Endpoint{DisableWebTransport: true}) // nothing on UDP
	const fallback = 500 * time.Millisecond
	start := time.Now()
	var reasons []error
	cli, srv := te.dialWith(t, DialOptions{TrustServerCertHash: true, FallbackTimeout: fallback,
		OnFallback: func(reason error) { reasons = append(reasons, reason) }})
	took := time.Since(start)
	if cli.Kind() != WebSocket {
		t.Fatalf("Dial returned %s", cli.Kind())
	}
	if len(reasons) != 1 || reasons[0] == nil {
		t.Fatalf("OnFallback was told %v, want the WebTransport attempt's error once", reasons)
	}
	t.Logf("fallback reason: %v", reasons[0])
	if took > fallback+time.Second {
		t.Fatalf("fallback took %v with a %v timeout", took, fallback)
	}
	exchange(t, cli, srv, "fallback")
	t.Logf("fell back in %v", took)

	// Forcing WebTransport fails instead of falling back.
	ctx, cancel := context.WithTimeout(context.Background(), fallback)
	defer cancel()
	if c, err := DialWebTransport(ctx, te.URL(), DialOptions{TrustServerCertHash: true}); err == nil {
		c.Close()
		t.Fatal("WebTransport dial succeeded with no UDP listener")
	}
}

func TestCertificatePinningRefusesAnythingButTheServedCertificate(t *testing.T) {
	te := serveTestEndpoint(t, &Endpoint{})
	dial := func(opts DialOptions) error {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		opts.Logger = transportLog()
		c, err := DialWebTransport(ctx, te.URL(), opts)
		if err == nil {
			c.Close()
			<-te.accepted
		}
		return err
	}
	wrong := sha256.Sum256([]byte("some other certificate"))
	if err := dial(DialOptions{CertHashes: [][sha256.Size]byte{wrong}}); err == nil || !strings.Contains(err.Error(), "pinned") {
		t.Fatalf("wrong pin: %v, want a pinning error", err)
	}
	// No pin, no trust: the self-signed certificate fails chain verification.
	if err := dial(DialOptions{}); err == nil {
		t.Fatal("dialing a self-signed server without pins succeeded")
	}
	if err := dial(DialOptions{CertHashes: te.CertManager().Hashes()}); err != nil {
		t.Fatalf("right pin: %v", err)
	}
	cert, _ := te.CertManager().GetCertificate(nil)
	roots := x509.NewCertPool()
	roots.AddCert(cert.Leaf)
	if err := dial(DialOptions{RootCAs: roots}); err != nil {
		t.Fatalf("RootCAs holding the certificate: %v", err)
	}
}

func TestDialRefusesBadServerURLs(t *testing.T) {
	for _, u := range []string{"localhost:4433", "ws://localhost:4433", "http://localhost:4433/wt", "http://"} {
		if _, err := Dial(context.Background(), u, DialOptions{}); err == nil {
			t.Errorf("Dial(%q) succeeded", u)
		}
	}
	if _, err := Dial(context.Background(), "http://localhost:1", DialOptions{Transport: "carrier-pigeon"}); err == nil {
		t.Error("unknown transport accepted")
	}
}

// TestEndpointURLCarriesTheQuery: the browser and the native dialers build
// their /wt and /ws addresses alike, the caller's query escaped, never
// on /cert-hash.
func TestEndpointURLCarriesTheQuery(t *testing.T) {
	base, err := parseServerURL("http://127.0.0.1:4433")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		scheme, path, room, want string
	}{
		{"https", PathWebTransport, "", "https://127.0.0.1:4433/wt"},
		{"ws", PathWebSocket, "duel 7", "ws://127.0.0.1:4433/ws?room=duel+7"},
		{"https", PathWebTransport, "a&b", "https://127.0.0.1:4433/wt?room=a%26b"},
		{"http", PathCertHash, "duel", "http://127.0.0.1:4433/cert-hash"},
	} {
		var q url.Values
		if tc.room != "" {
			q = url.Values{"room": {tc.room}}
		}
		if got := endpointURL(base, tc.scheme, tc.path, q); got != tc.want {
			t.Errorf("endpointURL(%q, %q, %q) = %q, want %q", tc.scheme, tc.path, tc.room, got, tc.want)
		}
	}
}
