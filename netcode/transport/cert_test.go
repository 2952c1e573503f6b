//go:build !js

package transport

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestSelfSignedCertificateSuitsBrowserPinning(t *testing.T) {
	m, err := NewCertManager(CertOptions{Hosts: []string{"game.example", "10.1.2.3", "localhost"}, Logger: transportLog()})
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := m.GetCertificate(nil)
	leaf := cert.Leaf
	key, ok := leaf.PublicKey.(*ecdsa.PublicKey)
	if !ok || key.Curve != elliptic.P256() {
		t.Fatalf("key is %T, want ECDSA P-256", leaf.PublicKey)
	}
	if v := leaf.NotAfter.Sub(leaf.NotBefore); v > 14*24*time.Hour {
		t.Fatalf("valid for %v; browsers refuse more than 14 days", v)
	}
	if !slices.Equal(leaf.DNSNames, []string{"localhost", "game.example"}) {
		t.Errorf("DNS names %v", leaf.DNSNames)
	}
	for _, ip := range []string{"127.0.0.1", "::1", "10.1.2.3"} {
		if !slices.ContainsFunc(leaf.IPAddresses, func(a net.IP) bool { return a.Equal(net.ParseIP(ip)) }) {
			t.Errorf("IP addresses %v lack %s", leaf.IPAddresses, ip)
		}
	}
	if !m.SelfSigned() || len(m.Hashes()) != 1 {
		t.Errorf("SelfSigned %v, %d hashes", m.SelfSigned(), len(m.Hashes()))
	}
	if _, err := NewCertManager(CertOptions{Validity: 15 * 24 * time.Hour}); err == nil {
		t.Error("a 15-day validity was accepted")
	}
	if _, err := NewCertManager(CertOptions{Validity: time.Hour, RenewBefore: 2 * time.Hour}); err == nil {
		t.Error("RenewBefore beyond Validity was accepted")
	}
}

func TestCertManagerRotatesBeforeExpiry(t *testing.T) {
	m, err := NewCertManager(CertOptions{
		// Certificate times have whole seconds: expiry falls 2 to 3 s
		// from now, rotation 0.5 to 1.5 s from now.
		Validity:      3 * time.Second,
		RenewBefore:   1500 * time.Millisecond,
		CheckInterval: 50 * time.Millisecond,
		Logger:        transportLog(),
	})
	if err != nil {
		t.Fatal(err)
	}
	first := m.Hashes()[0]
	firstExpiry := m.NotAfter()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	// Rotation runs on a timer; nothing signals it.
	pollUntil(t, 5*time.Second, "a rotation", func() bool { return m.Hashes()[0] != first })
	if hs := m.Hashes(); len(hs) != 2 || hs[1] != first {
		t.Fatalf("after rotation Hashes() = %x, want the new one then %x", hs, first)
	}
	if !m.NotAfter().After(firstExpiry) {
		t.Fatalf("new certificate expires %v, not after the old %v", m.NotAfter(), firstExpiry)
	}
	if err := m.Run(ctx); err == nil {
		t.Error("a second concurrent Run was allowed")
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	// Once the previous certificate expires it is no longer listed.
	pollUntil(t, 5*time.Second, "the old certificate to expire", func() bool {
		return !slices.Contains(m.Hashes(), first)
	})
}

func TestRotationKeepsSessionsAndNewDialsPinTheNewCertificate(t *testing.T) {
	te := serveTestEndpoint(t, &Endpoint{})
	cli, srv := te.dial(t, WebTransport)
	old := te.CertManager().Hashes()[0]
	if err := te.CertManager().Rotate(); err != nil {
		t.Fatal(err)
	}
	hs := te.CertManager().Hashes()
	if len(hs) != 2 || hs[0] == old || hs[1] != old {
		t.Fatalf("Hashes() after rotation = %x", hs)
	}
	exchange(t, cli, srv, "after rotation")
	exchange(t, srv, cli, "after rotation")

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if c, err := DialWebTransport(ctx, te.URL(), DialOptions{CertHashes: [][32]byte{old}, Logger: transportLog()}); err == nil {
		c.Close()
		t.Fatal("a dial pinning only the old certificate succeeded: the new one is not served")
	}
	cli2, srv2 := te.dial(t, WebTransport)
	exchange(t, cli2, srv2, "new session")
}

// writeCertFiles saves a fresh certificate as PEM files, as an operator's
// would be.
func writeCertFiles(t *testing.T) (certFile, keyFile string, leaf *x509.Certificate) {
	t.Helper()
	e, err := selfSigned([]string{"localhost", "127.0.0.1"}, 30*24*time.Hour) // CA-issued certs may live long
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(e.cert.PrivateKey.(*ecdsa.PrivateKey))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: e.cert.Certificate[0]}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile, e.cert.Leaf
}

func TestConfiguredCertificateIsServedOverHTTPSAndHTTP3(t *testing.T) {
	certFile, keyFile, leaf := writeCertFiles(t)
	te := serveTestEndpoint(t, &Endpoint{CertFile: certFile, KeyFile: keyFile})
	if !strings.HasPrefix(te.URL(), "https://") || te.CertManager().SelfSigned() {
		t.Fatalf("URL %s with configured files", te.URL())
	}
	if hs := te.CertManager().Hashes(); len(hs) != 1 || hs[0] != sha256.Sum256(leaf.Raw) {
		t.Fatalf("Hashes() = %x", hs)
	}
	if err := te.CertManager().Rotate(); err != nil || len(te.CertManager().Hashes()) != 1 || te.CertManager().Hashes()[0] != sha256.Sum256(leaf.Raw) {
		t.Fatalf("Rotate of unchanged files changed the certificate (%v)", err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(leaf)
	for _, kind := range bothKinds {
		// Chain verification against RootCAs, over wss and WebTransport.
		cli, srv := te.dialWith(t, DialOptions{Transport: kind, RootCAs: roots})
		exchange(t, cli, srv, "verified")
		// And pinning through an HTTPS /cert-hash.
		cli, srv = te.dialWith(t, DialOptions{Transport: kind, RootCAs: roots, TrustServerCertHash: true})
		exchange(t, cli, srv, "pinned")
	}
}

// TestReplacedCertificateFilesServeNewConnectionsAndKeepSessions: an
// operator replaces the certificate files under a running endpoint (as a
// renewal does: new files renamed over the old). New connections on both
// transports get the new certificate without a restart; sessions opened
// before keep playing; a certificate written without its key yet is not
// taken, and the previous one stays.
func TestReplacedCertificateFilesServeNewConnectionsAndKeepSessions(t *testing.T) {
	certFile, keyFile, oldLeaf := writeCertFiles(t)
	certs, err := NewCertManager(CertOptions{CertFile: certFile, KeyFile: keyFile,
		FileCheckInterval: 10 * time.Millisecond, Logger: transportLog()})
	if err != nil {
		t.Fatal(err)
	}
	te := serveTestEndpoint(t, &Endpoint{Certs: certs})
	oldRoots := x509.NewCertPool()
	oldRoots.AddCert(oldLeaf)
	type session struct{ cli, srv Conn }
	var open []session
	for _, kind := range bothKinds {
		cli, srv := te.dialWith(t, DialOptions{Transport: kind, RootCAs: oldRoots})
		open = append(open, session{cli, srv})
	}

	// Half a renewal first: the new certificate without its key.
	newCert, newKey, newLeaf := writeCertFiles(t)
	replace := func(from, to string) {
		t.Helper()
		b, err := os.ReadFile(from)
		if err != nil {
			t.Fatal(err)
		}
		tmp := to + ".new"
		if err := os.WriteFile(tmp, b, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, to); err != nil {
			t.Fatal(err)
		}
	}
	replace(newCert, certFile)
	if err := certs.Rotate(); err == nil {
		t.Fatal("a certificate without its key was loaded")
	}
	if h := certs.Hashes()[0]; h != sha256.Sum256(oldLeaf.Raw) {
		t.Fatal("a failed reload replaced the certificate")
	}
	replace(newKey, keyFile)
	// The endpoint's watcher notices; nothing to wait on but the result.
	deadline := time.Now().Add(10 * time.Second)
	for certs.Hashes()[0] != sha256.Sum256(newLeaf.Raw) {
		if time.Now().After(deadline) {
			t.Fatal("the replaced files were not reloaded within 10 s")
		}
		time.Sleep(10 * time.Millisecond)
	}

	for _, s := range open {
		exchange(t, s.cli, s.srv, "after the reload")
		exchange(t, s.srv, s.cli, "after the reload")
	}
	newRoots := x509.NewCertPool()
	newRoots.AddCert(newLeaf)
	for _, kind := range bothKinds {
		cli, srv := te.dialWith(t, DialOptions{Transport: kind, RootCAs: newRoots})
		exchange(t, cli, srv, "new certificate")
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		c, err := Dial(ctx, te.URL(), DialOptions{Transport: kind, RootCAs: oldRoots, Logger: transportLog()})
		cancel()
		if err == nil {
			c.Close()
			t.Fatalf("%s: a new connection still got the old certificate", kind)
		}
	}
}

// FuzzParseCertHashDoc: whatever a server (or a man in the middle of its
// plain-HTTP side) answers at /cert-hash, the client either pins only
// well-formed SHA-256 hashes or refuses with an error; it never panics.
func FuzzParseCertHashDoc(f *testing.F) {
	h := sha256.Sum256([]byte("cert"))
	good, _ := json.Marshal(CertHashDoc{Algorithm: "sha-256", Hashes: []string{base64.StdEncoding.EncodeToString(h[:])}})
	f.Add(good)
	f.Add([]byte(`{"algorithm":"sha-1","hashes":["AAAA"]}`))
	f.Add([]byte(`{"algorithm":"sha-256","hashes":[]}`))
	f.Add([]byte(`{"algorithm":"sha-256","hashes":["!!"]}`))
	f.Add([]byte(`[`))
	f.Fuzz(func(t *testing.T, b []byte) {
		hashes, err := ParseCertHashDoc(b)
		if err == nil && len(hashes) == 0 {
			t.Fatal("accepted a document without hashes")
		}
	})
}

func TestParseCertHashDocRefusesWhatItCannotPin(t *testing.T) {
	h := sha256.Sum256([]byte("cert"))
	b64 := base64.StdEncoding.EncodeToString(h[:])
	tests := []struct {
		name, doc string
		ok        bool
	}{
		{"one hash", `{"algorithm":"sha-256","hashes":["` + b64 + `"]}`, true},
		{"other algorithm", `{"algorithm":"sha-1","hashes":["` + b64 + `"]}`, false},
		{"no hash", `{"algorithm":"sha-256","hashes":[]}`, false},
		{"short hash", `{"algorithm":"sha-256","hashes":["AAAA"]}`, false},
		{"not JSON", `sha-256`, false},
	}
	for _, tt := range tests {
		got, err := ParseCertHashDoc([]byte(tt.doc))
		if (err == nil) != tt.ok {
			t.Errorf("%s: err %v, want ok=%v", tt.name, err, tt.ok)
		}
		if tt.ok && (len(got) != 1 || got[0] != h) {
			t.Errorf("%s: hashes %x", tt.name, got)
		}
	}
}
