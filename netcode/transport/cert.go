//go:build !js

package transport

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Browsers accept a certificate pinned through WebTransport's
// serverCertificateHashes only if it is ECDSA (P-256 here) and valid for
// at most 14 days in all (Chromium: 336 h passed, 337 h failed).
const (
	maxPinnedValidity = 14 * 24 * time.Hour
	// certBackdate starts a certificate's validity a little in the past,
	// for peers whose clocks run slightly behind.
	certBackdate = time.Minute
)

// CertOptions configures a CertManager. The zero value generates and
// rotates a self-signed certificate for localhost.
type CertOptions struct {
	// CertFile and KeyFile name a PEM certificate (chain) and key. Both
	// empty means a self-signed certificate, generated in memory and
	// rotated before it expires. Files are read again when they change
	// (Run looks every FileCheckInterval) and on Rotate (the server binary
	// calls it on SIGHUP): renewing a certificate on disk needs no
	// restart, and open sessions keep the one they started with.
	CertFile, KeyFile string
	// FileCheckInterval is how often Run looks at CertFile and KeyFile
	// for a change. Default 5 seconds.
	FileCheckInterval time.Duration
	// ACME, when it names domains, obtains the certificate from an ACME
	// CA instead of the files or the self-signed one.
	ACME ACME
	// Hosts are extra names or IP addresses the self-signed certificate
	// covers, besides localhost, 127.0.0.1 and ::1.
	Hosts []string
	// Validity is how long a self-signed certificate is valid. Default
	// 13 days; at most 14 days less a minute (the browsers' limit).
	Validity time.Duration
	// RenewBefore is how long before expiry the certificate is replaced.
	// Default 2 days; must be at least a second less than Validity.
	RenewBefore time.Duration
	// CheckInterval caps the time between two expiry checks, so that a
	// machine that slept through the renewal time renews soon after it
	// wakes (timers follow the monotonic clock, which stops in sleep).
	// Default 1 hour.
	CheckInterval time.Duration
	// Logger receives rotation events. Default slog.Default().
	Logger *slog.Logger
}

// CertManager serves a TLS certificate that can be replaced while the
// server runs. Handshakes read the current certificate through
// GetCertificate, so a rotation affects only new connections; QUIC
// connections and sessions already established are unaffected.
type CertManager struct {
	opts  CertOptions
	log   *slog.Logger
	hosts []string
	files bool

	state   atomic.Pointer[certState]
	rotMu   sync.Mutex // one rotation at a time
	running atomic.Bool

	filesSeen fileStamp // of CertFile and KeyFile when last read; Run's

	acme *acmeCerts // with Domains; then state holds the last certificate served
}

// fileStamp identifies the contents of the certificate files cheaply:
// replacing or rewriting a file changes its size or modification time.
type fileStamp struct {
	certMod, keyMod   time.Time
	certSize, keySize int64
}

type certState struct {
	cur  *certEntry
	prev *certEntry // the certificate before the last rotation, or nil
}

type certEntry struct {
	cert     *tls.Certificate
	hash     [sha256.Size]byte
	notAfter time.Time
}

// NewCertManager loads the configured certificate or generates the first
// self-signed one.
func NewCertManager(opts CertOptions) (*CertManager, error) {
	if (opts.CertFile == "") != (opts.KeyFile == "") {
		return nil, errors.New("netcode: certificate: CertFile and KeyFile go together")
	}
	if len(opts.ACME.Domains) > 0 {
		if opts.CertFile != "" {
			return nil, errors.New("netcode: certificate: Domains (ACME) and CertFile/KeyFile are alternatives")
		}
		return newACMEManager(opts)
	}
	if opts.Validity == 0 {
		opts.Validity = 13 * 24 * time.Hour
	}
	if opts.RenewBefore == 0 {
		opts.RenewBefore = 2 * 24 * time.Hour
	}
	if opts.CheckInterval <= 0 {
		opts.CheckInterval = time.Hour
	}
	if opts.FileCheckInterval <= 0 {
		opts.FileCheckInterval = 5 * time.Second
	}
	if opts.Validity+certBackdate > maxPinnedValidity {
		return nil, fmt.Errorf("netcode: certificate: validity %v exceeds the browsers' limit of %v", opts.Validity, maxPinnedValidity-certBackdate)
	}
	// Certificate times have a resolution of one second: a smaller margin
	// could make a fresh certificate due at once, and rotation spin.
	if opts.RenewBefore <= 0 || opts.Validity-opts.RenewBefore < time.Second {
		return nil, fmt.Errorf("netcode: certificate: RenewBefore (%v) must be positive and at least a second less than Validity (%v)", opts.RenewBefore, opts.Validity)
	}
	m := &CertManager{opts: opts, log: opts.Logger, files: opts.CertFile != ""}
	if m.log == nil {
		m.log = slog.Default()
	}
	m.hosts = certHosts(opts.Hosts)
	if m.files {
		m.filesSeen = m.statFiles()
		e, err := loadCert(opts.CertFile, opts.KeyFile)
		if err != nil {
			return nil, err
		}
		m.state.Store(&certState{cur: e})
		return m, nil
	}
	e, err := selfSigned(m.hosts, opts.Validity)
	if err != nil {
		return nil, err
	}
	m.state.Store(&certState{cur: e})
	return m, nil
}

// certHosts is localhost's names plus extra, without duplicates or
// wildcard listen hosts.
func certHosts(extra []string) []string {
	hosts := []string{"localhost", "127.0.0.1", "::1"}
	for _, h := range extra {
		h = strings.Trim(h, "[]")
		if h == "" || h == "0.0.0.0" || h == "::" {
			continue
		}
		dup := false
		for _, o := range hosts {
			dup = dup || strings.EqualFold(o, h)
		}
		if !dup {
			hosts = append(hosts, h)
		}
	}
	return hosts
}

func loadCert(certFile, keyFile string) (*certEntry, error) {
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("netcode: loading certificate: %w", err)
	}
	return newCertEntry(&cert)
}

func newCertEntry(cert *tls.Certificate) (*certEntry, error) {
	if cert.Leaf == nil {
		leaf, err := x509.ParseCertificate(cert.Certificate[0])
		if err != nil {
			return nil, fmt.Errorf("netcode: parsing certificate: %w", err)
		}
		cert.Leaf = leaf
	}
	return &certEntry{cert: cert, hash: sha256.Sum256(cert.Certificate[0]), notAfter: cert.Leaf.NotAfter}, nil
}

// selfSigned makes an ECDSA P-256 certificate for hosts, valid from a
// minute ago for validity.
func selfSigned(hosts []string, validity time.Duration) (*certEntry, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("netcode: generating key: %w", err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128))
	if err != nil {
		return nil, fmt.Errorf("netcode: generating serial number: %w", err)
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "tickwire self-signed"},
		NotBefore:             now.Add(-certBackdate),
		NotAfter:              now.Add(validity),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
	}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, fmt.Errorf("netcode: creating certificate: %w", err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("netcode: parsing certificate: %w", err)
	}
	return newCertEntry(&tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf})
}

// SelfSigned reports whether the certificate is generated (and rotated)
// rather than loaded from files.
func (m *CertManager) SelfSigned() bool { return !m.files && m.acme == nil }

// GetCertificate returns the current certificate; use it as
// tls.Config.GetCertificate.
func (m *CertManager) GetCertificate(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
	if m.acme != nil {
		return m.acme.getCertificate(m, hello)
	}
	return m.state.Load().cur.cert, nil
}

// TLSConfig returns a server TLS configuration that always presents the
// current certificate.
func (m *CertManager) TLSConfig() *tls.Config {
	c := &tls.Config{GetCertificate: m.GetCertificate, MinVersion: tls.VersionTLS12}
	if m.acme != nil {
		// The CA's TLS-ALPN-01 check comes in on this listener.
		c.NextProtos = []string{"h2", "http/1.1", acmeALPN}
	}
	return c
}

// Hashes returns the SHA-256 of the current certificate's DER and, after
// a rotation, of the previous one while it is still valid: a client that
// fetched the list just before a rotation may still be handed either.
// The current certificate comes first.
func (m *CertManager) Hashes() [][sha256.Size]byte {
	s := m.state.Load()
	if s == nil {
		return nil // ACME: nothing issued yet
	}
	out := [][sha256.Size]byte{s.cur.hash}
	if s.prev != nil && time.Now().Before(s.prev.notAfter) {
		out = append(out, s.prev.hash)
	}
	return out
}

// NotAfter is when the current certificate expires.
func (m *CertManager) NotAfter() time.Time {
	if s := m.state.Load(); s != nil {
		return s.cur.notAfter
	}
	return time.Time{}
}

// Rotate replaces a self-signed certificate with a fresh one now, or
// reads the configured files again. New connections get the new
// certificate; open ones keep theirs. A file that cannot be read or does
// not hold a certificate and its key is an error, and the current
// certificate stays.
func (m *CertManager) Rotate() error {
	if m.acme != nil {
		return nil // the ACME client renews on its own schedule
	}
	m.rotMu.Lock()
	defer m.rotMu.Unlock()
	if m.files {
		return m.reloadFiles()
	}
	e, err := selfSigned(m.hosts, m.opts.Validity)
	if err != nil {
		return err
	}
	old := m.state.Load()
	m.state.Store(&certState{cur: e, prev: old.cur})
	m.log.Info("rotated self-signed certificate",
		"sha256", hex.EncodeToString(e.hash[:]), "not_after", e.notAfter.Format(time.RFC3339))
	return nil
}

// reloadFiles reads the configured files; rotMu is held.
func (m *CertManager) reloadFiles() error {
	e, err := loadCert(m.opts.CertFile, m.opts.KeyFile)
	if err != nil {
		return fmt.Errorf("netcode: reloading certificate: %w", err)
	}
	old := m.state.Load()
	if e.hash == old.cur.hash {
		return nil
	}
	m.state.Store(&certState{cur: e, prev: old.cur})
	m.log.Info("reloaded certificate files", "cert", m.opts.CertFile,
		"sha256", hex.EncodeToString(e.hash[:]), "not_after", e.notAfter.Format(time.RFC3339))
	return nil
}

func (m *CertManager) statFiles() fileStamp {
	var st fileStamp
	if fi, err := os.Stat(m.opts.CertFile); err == nil {
		st.certMod, st.certSize = fi.ModTime(), fi.Size()
	}
	if fi, err := os.Stat(m.opts.KeyFile); err == nil {
		st.keyMod, st.keySize = fi.ModTime(), fi.Size()
	}
	return st
}

// watchFiles reloads the configured files whenever they change, until
// ctx is done. A change that does not load (a certificate written before
// its key, say) is tried again at the next change.
func (m *CertManager) watchFiles(ctx context.Context) {
	t := time.NewTicker(m.opts.FileCheckInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		st := m.statFiles()
		if st == m.filesSeen {
			continue
		}
		m.filesSeen = st
		if err := m.Rotate(); err != nil {
			m.log.Warn("certificate files changed but do not load; still serving the previous certificate", "err", err)
		}
	}
}

// Run keeps the certificate current until ctx is done: it rotates a
// self-signed certificate RenewBefore its expiry, reloads configured
// files when they change, or obtains the ACME certificates at once
// (rather than at a player's first handshake) and retries until the CA
// issues them. It refuses to run twice at the same time.
func (m *CertManager) Run(ctx context.Context) error {
	if !m.running.CompareAndSwap(false, true) {
		return errors.New("netcode: CertManager.Run is already running")
	}
	defer m.running.Store(false)
	if m.files {
		m.watchFiles(ctx)
		return nil
	}
	if m.acme != nil {
		m.acme.obtain(ctx, m)
		return nil
	}
	retry := time.Minute
	for {
		due := m.NotAfter().Add(-m.opts.RenewBefore)
		wait := min(max(time.Until(due), 0), m.opts.CheckInterval)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
		if time.Now().Before(due) {
			continue
		}
		if err := m.Rotate(); err != nil {
			m.log.Error("rotating certificate", "err", err)
			// Retry soon, but do not spin on a persistent failure.
			t := time.NewTimer(min(retry, m.opts.RenewBefore/4))
			select {
			case <-ctx.Done():
				t.Stop()
				return nil
			case <-t.C:
			}
		}
	}
}

// Doc returns the current CertHashDoc.
func (m *CertManager) Doc() CertHashDoc {
	d := CertHashDoc{Algorithm: "sha-256", NotAfter: m.NotAfter().UTC().Format(time.RFC3339)}
	for _, h := range m.Hashes() {
		d.Hashes = append(d.Hashes, base64.StdEncoding.EncodeToString(h[:]))
		d.Hex = append(d.Hex, hex.EncodeToString(h[:]))
	}
	return d
}

// Handler serves the CertHashDoc as JSON (GET and HEAD only), never
// cached since it changes at rotation.
func (m *CertManager) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		_ = json.NewEncoder(w).Encode(m.Doc())
	})
}
