//go:build !js

package transport

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"golang.org/x/crypto/acme"
	"golang.org/x/crypto/acme/autocert"
)

// acmeALPN is the ALPN protocol of the CA's TLS-ALPN-01 check.
const acmeALPN = acme.ALPNProto

// ACME configures certificates from an ACME CA. The CA checks that the
// server answers for the domains: on TCP port 443 (TLS-ALPN-01, which
// the endpoint's TLS listener answers) or on port 80 (HTTP-01, answered
// by CertManager.HTTPHandler on a plain listener). Certificates are
// cached and renewed before they expire.
type ACME struct {
	// Domains are the DNS names the certificate covers. None: no ACME.
	Domains []string
	// Directory is the CA's directory URL. Default Let's Encrypt's.
	Directory string
	// Cache is the directory certificates and the account key are kept
	// in. Default "tickwire/acme" in the user's cache directory.
	Cache string
	// Email is the contact the CA is given for the account (optional).
	Email string
}

// acmeCerts obtains and renews certificates from an ACME CA
// (golang.org/x/crypto/acme/autocert does the protocol, the cache and
// the renewals).
type acmeCerts struct {
	m       *autocert.Manager
	domains []string
}

func newACMEManager(opts CertOptions) (*CertManager, error) {
	cache := opts.ACME.Cache
	if cache == "" {
		dir, err := os.UserCacheDir()
		if err != nil {
			return nil, fmt.Errorf("netcode: certificate: no cache directory for ACME (set ACME.Cache): %w", err)
		}
		cache = filepath.Join(dir, "tickwire", "acme")
	}
	var domains []string
	for _, d := range opts.ACME.Domains {
		if d = strings.ToLower(strings.TrimSpace(d)); d != "" {
			domains = append(domains, d)
		}
	}
	if len(domains) == 0 {
		return nil, errors.New("netcode: certificate: no domain for ACME")
	}
	am := &autocert.Manager{
		Prompt:     autocert.AcceptTOS,
		Cache:      autocert.DirCache(cache),
		HostPolicy: autocert.HostWhitelist(domains...),
		Email:      opts.ACME.Email,
	}
	if opts.ACME.Directory != "" {
		am.Client = &acme.Client{DirectoryURL: opts.ACME.Directory}
	}
	m := &CertManager{opts: opts, log: opts.Logger, acme: &acmeCerts{m: am, domains: domains}}
	if m.log == nil {
		m.log = slog.Default()
	}
	return m, nil
}

// getCertificate answers a handshake with the domain's certificate (or
// the CA's challenge). A client that names no server (an IP address)
// gets the first domain's.
func (a *acmeCerts) getCertificate(m *CertManager, hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
	if ecdsa13 := tls13ECDSA(hello); hello.ServerName == "" || ecdsa13 {
		h := *hello
		if h.ServerName == "" {
			h.ServerName = a.domains[0]
		}
		if ecdsa13 {
			// autocert decides a client takes ECDSA from its TLS 1.2
			// cipher suites; a TLS 1.3-only hello (QUIC: WebTransport)
			// lists none and would have it order an RSA certificate
			// too, delaying that first handshake by an issuance. TLS
			// 1.3 clients sign with ECDSA P-256 (RFC 8446, 9.1).
			h.CipherSuites = append(slices.Clone(h.CipherSuites), tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256)
		}
		hello = &h
	}
	c, err := a.m.GetCertificate(hello)
	if err != nil {
		return nil, err
	}
	if !slices.Contains(hello.SupportedProtos, acmeALPN) { // not the CA's check
		m.noteServed(c)
	}
	return c, nil
}

// tls13ECDSA reports whether a hello offers TLS 1.3 and an ECDSA P-256
// signature.
func tls13ECDSA(hello *tls.ClientHelloInfo) bool {
	return slices.Contains(hello.SupportedVersions, tls.VersionTLS13) &&
		slices.Contains(hello.SignatureSchemes, tls.ECDSAWithP256AndSHA256)
}

// obtain asks for every domain's certificate until the CA has issued
// them all or ctx is done, backing off between failures.
func (a *acmeCerts) obtain(ctx context.Context, m *CertManager) {
	wait := 2 * time.Second
	for _, d := range a.domains {
		for {
			// A hello as a browser's: the ECDSA certificate it will get.
			c, err := a.m.GetCertificate(&tls.ClientHelloInfo{
				ServerName:        d,
				CipherSuites:      []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256},
				SupportedCurves:   []tls.CurveID{tls.CurveP256},
				SignatureSchemes:  []tls.SignatureScheme{tls.ECDSAWithP256AndSHA256},
				SupportedVersions: []uint16{tls.VersionTLS13, tls.VersionTLS12},
			})
			if err == nil {
				m.noteServed(c)
				m.log.Info("ACME certificate ready", "domain", d, "not_after", m.NotAfter().Format(time.RFC3339))
				break
			}
			m.log.Warn("ACME certificate not obtained yet; retrying", "domain", d, "err", err, "in", wait)
			select {
			case <-ctx.Done():
				return
			case <-time.After(wait):
			}
			wait = min(2*wait, 5*time.Minute)
		}
	}
}

// noteServed records the certificate handshakes get, for Hashes and
// NotAfter.
func (m *CertManager) noteServed(c *tls.Certificate) {
	old := m.state.Load()
	if old != nil && old.cur.cert == c || len(c.Certificate) == 0 {
		return // every handshake but the first after a renewal ends here
	}
	e := &certEntry{cert: c, hash: sha256.Sum256(c.Certificate[0])}
	if c.Leaf != nil {
		e.notAfter = c.Leaf.NotAfter
	} else if leaf, err := x509.ParseCertificate(c.Certificate[0]); err == nil {
		e.notAfter = leaf.NotAfter
	}
	var prev *certEntry
	if old != nil {
		prev = old.cur
	}
	m.state.Store(&certState{cur: e, prev: prev})
}

// Domains are the names of the ACME certificate (normalized), or nil.
func (m *CertManager) Domains() []string {
	if m.acme == nil {
		return nil
	}
	return m.acme.domains
}

// HTTPHandler answers the CA's HTTP-01 checks (with ACME) and hands
// every other request to fallback. Serve it on port 80.
func (m *CertManager) HTTPHandler(fallback http.Handler) http.Handler {
	if m.acme == nil {
		return fallback
	}
	return m.acme.m.HTTPHandler(fallback)
}
