//go:build !js

package transport

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"time"

	"github.com/gorilla/websocket"
	"github.com/quic-go/quic-go"
	"github.com/quic-go/webtransport-go"
)

// The types of DialOptions.RootCAs and Header. The browser build gives
// them placeholders (browser_js.go), since a type that a DialOptions
// mentions is linked with all its methods: the package's browser build
// imports neither crypto/x509 nor net/http. (The game's wasm links both
// anyway, through Ebiten's ebitenutil.)
type (
	certPool = x509.CertPool
	header   = http.Header
)

// dialPlatform is Dial with Go's own network stack: quic-go's
// WebTransport, gorilla's WebSocket. (In a browser, browser_js.go.)
func dialPlatform(ctx context.Context, serverURL string, opts DialOptions) (Conn, error) {
	d, err := newDialer(serverURL, opts)
	if err != nil {
		return nil, err
	}
	switch opts.Transport {
	case WebTransport:
		return d.webTransport(ctx)
	case WebSocket:
		return d.webSocket(ctx)
	case "":
	default:
		return nil, fmt.Errorf("netcode: unknown transport %q", opts.Transport)
	}
	timeout := opts.FallbackTimeout
	if timeout <= 0 {
		timeout = 2 * time.Second
	}
	wtCtx, cancel := context.WithTimeout(ctx, timeout)
	c, wtErr := d.webTransport(wtCtx)
	cancel()
	if wtErr == nil {
		return c, nil
	}
	if ctx.Err() != nil {
		return nil, wtErr
	}
	d.log.Info("webtransport unavailable, falling back to websocket", "server", serverURL, "err", wtErr)
	if opts.OnFallback != nil {
		opts.OnFallback(wtErr)
	}
	c, wsErr := d.webSocket(ctx)
	if wsErr != nil {
		return nil, fmt.Errorf("%w (after %v)", wsErr, wtErr)
	}
	return c, nil
}

// DialWebTransport connects over WebTransport to the server at serverURL
// (its base URL, "http(s)://host:port"), then opens the control stream.
func DialWebTransport(ctx context.Context, serverURL string, opts DialOptions) (Conn, error) {
	d, err := newDialer(serverURL, opts)
	if err != nil {
		return nil, err
	}
	return d.webTransport(ctx)
}

// DialWebSocket connects over WebSocket to the server at serverURL (its
// base URL, "http(s)://host:port").
func DialWebSocket(ctx context.Context, serverURL string, opts DialOptions) (Conn, error) {
	d, err := newDialer(serverURL, opts)
	if err != nil {
		return nil, err
	}
	return d.webSocket(ctx)
}

// dialer holds what one Dial call works out once for both transports.
type dialer struct {
	opts    DialOptions
	cfg     ConnConfig
	log     *slog.Logger
	base    *url.URL
	fetched bool
	pins    [][sha256.Size]byte
	pinsErr error
}

func newDialer(serverURL string, opts DialOptions) (*dialer, error) {
	base, err := parseServerURL(serverURL)
	if err != nil {
		return nil, err
	}
	d := &dialer{opts: opts, cfg: opts.Conn.withDefaults(), log: opts.Logger, base: base}
	if d.log == nil {
		d.log = slog.Default()
	}
	return d, nil
}

func (d *dialer) endpointURL(scheme, path string) string {
	return endpointURL(d.base, scheme, path, d.opts.Query)
}

// pinned returns the hashes to pin: the configured ones plus, with
// TrustServerCertHash, those the server lists. It fetches at most once.
func (d *dialer) pinned(ctx context.Context) ([][sha256.Size]byte, error) {
	if d.fetched {
		return d.pins, d.pinsErr
	}
	d.fetched = true
	d.pins = slices.Clone(d.opts.CertHashes)
	if d.opts.TrustServerCertHash {
		hashes, err := d.fetchCertHashes(ctx)
		if err != nil {
			d.pinsErr = err
		}
		d.pins = append(d.pins, hashes...)
	}
	return d.pins, d.pinsErr
}

// FetchCertHashes reads the certificate hashes the server at serverURL
// lists at /cert-hash (its base URL, "http(s)://host:port"), as a dialer
// with TrustServerCertHash does: for a process that dials many sessions to
// one server and pins the hashes once (DialOptions.CertHashes).
func FetchCertHashes(ctx context.Context, serverURL string, opts DialOptions) ([][sha256.Size]byte, error) {
	d, err := newDialer(serverURL, opts)
	if err != nil {
		return nil, err
	}
	return d.fetchCertHashes(ctx)
}

func (d *dialer) fetchCertHashes(ctx context.Context) ([][sha256.Size]byte, error) {
	u := d.endpointURL(d.base.Scheme, PathCertHash)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, fmt.Errorf("netcode: fetching certificate hashes: %w", err)
	}
	// A one-off client: no idle connection (and goroutine) is left behind.
	client := &http.Client{Transport: &http.Transport{
		DisableKeepAlives: true,
		TLSClientConfig:   &tls.Config{RootCAs: d.opts.RootCAs, MinVersion: tls.VersionTLS12},
	}}
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("netcode: fetching certificate hashes: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("netcode: fetching certificate hashes from %s: status %s", u, resp.Status)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		return nil, fmt.Errorf("netcode: reading certificate hashes from %s: %w", u, err)
	}
	hashes, err := ParseCertHashDoc(body)
	if err != nil {
		return nil, fmt.Errorf("%w (from %s)", err, u)
	}
	return hashes, nil
}

// tlsConfig verifies the server by pinned hash when there are pins, and
// by chain (RootCAs or the system's) otherwise. Verification is never
// skipped.
func (d *dialer) tlsConfig(pins [][sha256.Size]byte) *tls.Config {
	cfg := &tls.Config{ServerName: d.base.Hostname(), RootCAs: d.opts.RootCAs, MinVersion: tls.VersionTLS12}
	if len(pins) > 0 {
		// The chain check is replaced by the pin check, which runs on
		// every connection, resumed or not.
		cfg.InsecureSkipVerify = true
		cfg.VerifyConnection = verifyPinned(pins)
	}
	return cfg
}

func verifyPinned(pins [][sha256.Size]byte) func(tls.ConnectionState) error {
	return func(cs tls.ConnectionState) error {
		if len(cs.PeerCertificates) == 0 {
			return errors.New("netcode: server sent no certificate")
		}
		leaf := cs.PeerCertificates[0]
		h := sha256.Sum256(leaf.Raw)
		if !slices.Contains(pins, h) {
			return fmt.Errorf("netcode: server certificate (sha-256 %x) is not one of the %d pinned", h, len(pins))
		}
		if now := time.Now(); now.Before(leaf.NotBefore) || now.After(leaf.NotAfter) {
			return fmt.Errorf("netcode: pinned server certificate is not valid now (valid %s to %s)",
				leaf.NotBefore.Format(time.RFC3339), leaf.NotAfter.Format(time.RFC3339))
		}
		return nil
	}
}

func (d *dialer) webTransport(ctx context.Context) (Conn, error) {
	u := d.endpointURL("https", PathWebTransport)
	pins, err := d.pinned(ctx)
	if err != nil {
		return nil, fmt.Errorf("netcode: webtransport %s: %w", u, err)
	}
	tr := &webtransport.Transport{
		TLSClientConfig: d.tlsConfig(pins),
		QUICConfig: &quic.Config{
			EnableDatagrams:                  true,
			EnableStreamResetPartialDelivery: true,
			MaxIdleTimeout:                   d.cfg.IdleTimeout,
			KeepAlivePeriod:                  d.cfg.IdleTimeout / 3,
		},
	}
	if d.opts.Socket != nil {
		tr.DialAddr = d.opts.Socket.dialQUIC
	}
	rsp, sess, err := tr.Dial(ctx, u, d.opts.Header)
	if err != nil {
		_ = tr.Close()
		if rsp != nil {
			return nil, fmt.Errorf("netcode: webtransport %s: server answered %s: %w", u, rsp.Status, err)
		}
		return nil, fmt.Errorf("netcode: webtransport %s: %w", u, err)
	}
	str, err := openControlStream(ctx, sess, d.cfg.WriteTimeout)
	if err != nil {
		_ = sess.CloseWithError(wtCodeHandshake, "no control stream")
		_ = tr.Close()
		return nil, fmt.Errorf("netcode: webtransport %s: %w", u, err)
	}
	d.log.Debug("connected", "transport", WebTransport, "url", u)
	return newWTConn(sess, str, nil, d.cfg, MaxServerMessageSize, func() { _ = tr.Close() }), nil
}

// openControlStream opens the one bidirectional stream and writes the
// no-op frame, without which the server would not see the stream.
func openControlStream(ctx context.Context, sess *webtransport.Session, timeout time.Duration) (*webtransport.Stream, error) {
	str, err := sess.OpenStreamSync(ctx)
	if err != nil {
		return nil, fmt.Errorf("opening control stream: %w", err)
	}
	deadline := time.Now().Add(timeout)
	if dl, ok := ctx.Deadline(); ok && dl.Before(deadline) {
		deadline = dl
	}
	_ = str.SetWriteDeadline(deadline)
	if _, err := str.Write([]byte{0}); err != nil {
		return nil, fmt.Errorf("opening control stream: %w", err)
	}
	_ = str.SetWriteDeadline(time.Time{})
	return str, nil
}

func (d *dialer) webSocket(ctx context.Context) (Conn, error) {
	scheme := "ws"
	wsd := websocket.Dialer{ReadBufferSize: 4096, WriteBufferSize: 4096}
	if d.base.Scheme == "https" {
		scheme = "wss"
		pins, err := d.pinned(ctx)
		if err != nil && len(pins) == 0 {
			// Without pins the chain is verified; say why pinning failed
			// should that fail too.
			d.log.Debug("no certificate hashes for wss; verifying the chain", "err", err)
		}
		wsd.TLSClientConfig = d.tlsConfig(pins)
	}
	u := d.endpointURL(scheme, PathWebSocket)
	ws, rsp, err := wsd.DialContext(ctx, u, d.opts.Header)
	if err != nil {
		if rsp != nil {
			return nil, fmt.Errorf("netcode: websocket %s: server answered %s: %w", u, rsp.Status, err)
		}
		return nil, fmt.Errorf("netcode: websocket %s: %w", u, err)
	}
	d.log.Debug("connected", "transport", WebSocket, "url", u)
	return newWSConn(ws, d.cfg, MaxServerMessageSize), nil
}
