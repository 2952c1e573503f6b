package transport

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"time"
)

// DialOptions configures a client connection. The zero value tries
// WebTransport, then WebSocket, verifying the server's certificate
// against the system roots.
type DialOptions struct {
	// Transport forces one transport. Empty tries WebTransport first and
	// falls back to WebSocket.
	Transport Kind
	// FallbackTimeout is how long WebTransport may take to come up before
	// Dial falls back to WebSocket (when Transport is empty). Default 2s
	// natively, 5s in a browser.
	FallbackTimeout time.Duration
	// OnFallback, if set, is told why Dial fell back to WebSocket: no
	// WebTransport in this browser (ErrNoWebTransport), or the error of
	// the WebTransport attempt (refused, blocked, or not up in time). A
	// game shows it, for players whose network blocks UDP.
	OnFallback func(reason error)
	// TrustServerCertHash fetches GET /cert-hash from the server's TCP
	// side and pins the hashes it lists, the way a browser page uses
	// serverCertificateHashes. This trusts whoever answers that request:
	// right for a development server on loopback, or when the TCP side is
	// HTTPS with a verified certificate.
	TrustServerCertHash bool
	// CertHashes pins SHA-256 hashes of acceptable server certificates
	// (of the leaf's DER, see ParseCertHash). When any hash is pinned, here
	// or fetched, the server's leaf certificate must match one and be
	// within its validity period; its chain and names are not checked.
	CertHashes [][sha256.Size]byte
	// RootCAs verifies the server's certificate chain when no hash is
	// pinned (and an https /cert-hash). Nil means the system roots. The
	// type is *x509.CertPool (certPool is an alias of it; the browser
	// build, which leaves verification to the browser, has a placeholder).
	RootCAs *certPool
	// Query is added to the /wt and /ws addresses (never to /cert-hash):
	// what the server needs to place the connection, for Tickwire's
	// server the "room" to join. The transport does not read it.
	Query url.Values
	// Header is sent with the WebTransport CONNECT request and the
	// WebSocket upgrade (for instance an Origin). The type is http.Header
	// (header is an alias of it; a browser sets the headers itself, and
	// the browser build has a placeholder).
	Header header
	// Socket, when set, carries a native WebTransport connection on a UDP
	// socket shared with other connections (ListenSocket) instead of a
	// socket of its own. Browsers ignore it.
	Socket *Socket
	// Conn tunes the connection's queues and timeouts.
	Conn ConnConfig
	// Logger receives dialing events. Default slog.Default().
	Logger *slog.Logger
}

// Dial connects to a Tickwire server given its base URL, such as
// "http://localhost:4433" (the endpoint's URL): WebTransport at
// https://host:port/wt first, WebSocket at ws(s)://host:port/ws if
// WebTransport does not come up within FallbackTimeout, unless
// opts.Transport forces one. Natively it dials with quic-go and gorilla
// (dial_native.go); in a browser (js/wasm), where Go's net package cannot
// dial, with the page's own WebTransport and WebSocket (browser_js.go).
func Dial(ctx context.Context, serverURL string, opts DialOptions) (Conn, error) {
	return dialPlatform(ctx, serverURL, opts)
}

// parseServerURL accepts "http(s)://host[:port][/]".
func parseServerURL(s string) (*url.URL, error) {
	u, err := url.Parse(s)
	if err != nil {
		return nil, fmt.Errorf("netcode: server URL: %w", err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") {
		return nil, fmt.Errorf("netcode: server URL %q: want a base URL like http://localhost:4433", s)
	}
	return &url.URL{Scheme: u.Scheme, Host: u.Host}, nil
}

// endpointURL is the address of one of the server's endpoints (path) on
// base's host, carrying query (DialOptions.Query) on /wt and /ws, never
// on /cert-hash.
func endpointURL(base *url.URL, scheme, path string, query url.Values) string {
	u := &url.URL{Scheme: scheme, Host: base.Host, Path: path}
	if len(query) > 0 && path != PathCertHash {
		u.RawQuery = query.Encode()
	}
	return u.String()
}

// ErrNoWebTransport is the fallback reason of a browser without
// WebTransport, or of a page that is not a secure context (plain http
// off localhost), where the browser hides it.
var ErrNoWebTransport = errors.New("this page has no WebTransport (not a secure context, or an old browser)")
