//go:build !js

package transport

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/gorilla/websocket"
	"github.com/quic-go/quic-go"
	"github.com/quic-go/quic-go/http3"
	"github.com/quic-go/webtransport-go"
)

// Endpoint serves Tickwire on one port number: TCP for HTTP (the caller's
// Handler, plus /ws and /cert-hash) and UDP for HTTP/3 with WebTransport
// at /wt. Each accepted connection is handed to OnConn.
//
//	ep := &transport.Endpoint{Addr: "localhost:4433", OnConn: serve}
//	if err := ep.Listen(); err != nil { ... }
//	log.Println("listening on", ep.URL())
//	err := ep.Serve(ctx) // until ctx is done
//
// With the default self-signed certificate the TCP side speaks plain HTTP
// (http://localhost is a secure context for browsers, and a browser pins
// the WebTransport certificate by the hashes at /cert-hash); with
// CertFile and KeyFile it speaks HTTPS.
type Endpoint struct {
	// Addr is the host:port to listen on, TCP and UDP. Default
	// "localhost:4433". Host "localhost" listens on both 127.0.0.1 and
	// ::1 (Chromium resolves localhost to ::1 only); an empty host
	// (":4433") listens on every interface. Port 0 picks a port that is
	// free for TCP and UDP on every listened address.
	Addr string
	// CertFile and KeyFile name a PEM certificate and key. Empty means a
	// self-signed certificate valid for 13 days, rotated 2 days before it
	// expires.
	CertFile, KeyFile string
	// ACME, when it names domains, obtains the certificate from an ACME
	// CA (see ACME) instead of CertFile and KeyFile.
	ACME ACME
	// Certs, if set, supplies the certificate instead of CertFile and
	// KeyFile (for instance one with a short validity, in tests). The
	// endpoint runs its rotation while serving.
	Certs *CertManager
	// AllowedOrigins lists browser origins ("https://mygame.example",
	// "http://localhost:8080") allowed to open /ws and /wt and to read
	// every other route across origins (CORS), in addition to the
	// endpoint's own: a page it serves, at whatever host it is reached
	// (the request's Origin is its own scheme://host:port), and pages on
	// localhost, 127.0.0.1 and [::1] at the listen port. Requests without
	// an Origin header (native clients) are always allowed; "*" is
	// refused.
	AllowedOrigins []string
	// Handler serves every other path on the TCP side (for example
	// /healthz or the web client). Nil answers 404.
	Handler http.Handler
	// OnConn is called, each time in its own goroutine, with every
	// accepted connection and r, the request that opened it (the
	// WebSocket upgrade or the WebTransport CONNECT), from which the
	// caller reads what it needs (Tickwire's server: the room asked for).
	// ctx is cancelled when the endpoint shuts down; OnConn should then
	// say goodbye and return. The endpoint closes c when OnConn returns.
	// Required.
	OnConn func(ctx context.Context, c Conn, r *http.Request)
	// HandshakeTimeout bounds the WebSocket upgrade and the time a
	// WebTransport client has, once its session is up, to open its control
	// stream. Default 5s.
	HandshakeTimeout time.Duration
	// ShutdownTimeout is how long Serve, when its ctx is done, lets OnConn
	// calls finish before closing their connections. Default 5s.
	ShutdownTimeout time.Duration
	// MaxConns bounds the connections open at once, counting from the
	// handshake until OnConn returns; beyond it /ws and /wt answer 503.
	// Default 4096.
	MaxConns int
	// IPLimits bounds new connections per second and open connections
	// per client address; beyond them /ws and /wt answer 429 before any
	// upgrade. Loopback is exempt unless IPLimits.LimitLoopback is set.
	IPLimits IPLimits
	// DisableWebTransport serves only the TCP side (for a host behind a
	// TCP-only proxy); clients fall back to WebSocket.
	DisableWebTransport bool
	// Conn tunes every accepted connection's queues and timeouts.
	Conn ConnConfig
	// Logger receives the endpoint's logs. Default slog.Default().
	Logger *slog.Logger

	log      *slog.Logger
	host     string // as configured ("" for every interface)
	port     int
	certs    *CertManager
	origins  map[string]bool
	tcpLns   []net.Listener
	udpConns []net.PacketConn
	httpSrv  *http.Server
	wtSrv    *webtransport.Server
	upgrader websocket.Upgrader

	connCtx    context.Context // handed to OnConn; cancelled at shutdown
	connCancel context.CancelFunc
	nconns     atomic.Int64
	perIP      *ipLimiter
	udpServing sync.WaitGroup // wtSrv.Serve calls

	mu           sync.Mutex
	listened     bool
	served       bool
	closing      bool
	conns        map[Conn]struct{}
	handlers     sync.WaitGroup
	shutdownDone chan struct{}
	stopServing  chan struct{} // closed when Shutdown begins
}

type quicConnKey struct{}

// Listen binds the TCP and UDP sockets and prepares the certificate. After
// it returns, Port, URL and CertManager are valid.
func (e *Endpoint) Listen() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.listened {
		return errors.New("netcode: Endpoint.Listen called twice")
	}
	if e.OnConn == nil {
		return errors.New("netcode: Endpoint.OnConn is nil")
	}
	e.applyDefaults()
	host, port, err := splitListenAddr(e.Addr)
	if err != nil {
		return err
	}
	e.host = host
	if err := e.setupCerts(); err != nil {
		return err
	}
	if err := e.bind(host, port); err != nil {
		return err
	}
	if err := e.setupOrigins(); err != nil {
		e.closeSockets()
		return err
	}
	e.setupServers()
	e.listened = true
	e.log.Debug("endpoint listening", "url", e.URL(), "tcp", addrList(e.tcpLns), "webtransport", !e.DisableWebTransport)
	return nil
}

func (e *Endpoint) applyDefaults() {
	e.log = e.Logger
	if e.log == nil {
		e.log = slog.Default()
	}
	if e.Addr == "" {
		e.Addr = "localhost:4433"
	}
	if e.HandshakeTimeout <= 0 {
		e.HandshakeTimeout = 5 * time.Second
	}
	if e.ShutdownTimeout <= 0 {
		e.ShutdownTimeout = 5 * time.Second
	}
	if e.MaxConns <= 0 {
		e.MaxConns = 4096
	}
	e.Conn = e.Conn.withDefaults()
	e.perIP = newIPLimiter(e.IPLimits)
	e.conns = make(map[Conn]struct{})
	e.shutdownDone = make(chan struct{})
	e.stopServing = make(chan struct{})
	e.connCtx, e.connCancel = context.WithCancel(context.Background())
}

func splitListenAddr(addr string) (string, int, error) {
	host, portStr, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, fmt.Errorf("netcode: listen address %q: %w", addr, err)
	}
	port, err := strconv.Atoi(portStr)
	if err != nil || port < 0 || port > 65535 {
		return "", 0, fmt.Errorf("netcode: listen address %q: bad port", addr)
	}
	return host, port, nil
}

func (e *Endpoint) setupCerts() error {
	if e.Certs != nil {
		if e.CertFile != "" || e.KeyFile != "" || len(e.ACME.Domains) > 0 {
			return errors.New("netcode: set either Endpoint.Certs or CertFile/KeyFile or ACME, not two")
		}
		e.certs = e.Certs
		return nil
	}
	m, err := NewCertManager(CertOptions{CertFile: e.CertFile, KeyFile: e.KeyFile, ACME: e.ACME, Hosts: []string{e.host}, Logger: e.log})
	if err != nil {
		return err
	}
	e.certs = m
	return nil
}

// isLocalhost reports whether host means "both loopback addresses".
func isLocalhost(host string) bool { return strings.EqualFold(host, "localhost") }

// bind listens on every address of host, TCP and UDP, at one port number.
// With port 0 the kernel picks the first TCP port; if another address or
// UDP already has it taken, everything is closed and tried again.
func (e *Endpoint) bind(host string, port int) error {
	hosts := []string{host}
	if isLocalhost(host) {
		hosts = []string{"127.0.0.1", "::1"}
	}
	const attempts = 16
	var err error
	for range attempts {
		if err = e.bindOnce(hosts, port); err == nil {
			return nil
		}
		e.closeSockets()
		if port != 0 || !errors.Is(err, syscall.EADDRINUSE) {
			break
		}
	}
	return fmt.Errorf("netcode: listening on %s: %w", e.Addr, err)
}

func (e *Endpoint) bindOnce(hosts []string, port int) error {
	for i, h := range hosts {
		addr := net.JoinHostPort(h, strconv.Itoa(port))
		l, err := net.Listen("tcp", addr)
		if err != nil {
			if i > 0 && h == "::1" && !errors.Is(err, syscall.EADDRINUSE) {
				// No IPv6 loopback on this machine: 127.0.0.1 alone.
				e.log.Warn("cannot listen on ::1; localhost served on 127.0.0.1 only", "err", err)
				continue
			}
			return err
		}
		e.tcpLns = append(e.tcpLns, l)
		if port == 0 {
			port = l.Addr().(*net.TCPAddr).Port
			addr = net.JoinHostPort(h, strconv.Itoa(port))
		}
		if e.DisableWebTransport {
			continue
		}
		pc, err := net.ListenPacket("udp", addr)
		if err != nil {
			return err
		}
		e.udpConns = append(e.udpConns, pc)
	}
	e.port = port
	return nil
}

func (e *Endpoint) closeSockets() {
	for _, l := range e.tcpLns {
		_ = l.Close()
	}
	for _, pc := range e.udpConns {
		_ = pc.Close()
	}
	e.tcpLns, e.udpConns = nil, nil
}

func addrList(ls []net.Listener) []string {
	out := make([]string, len(ls))
	for i, l := range ls {
		out[i] = l.Addr().String()
	}
	return out
}

// setupOrigins builds the allowlist of normalised origins.
func (e *Endpoint) setupOrigins() error {
	e.origins = make(map[string]bool)
	for _, o := range e.AllowedOrigins {
		o = strings.TrimSpace(o)
		if o == "*" {
			return errors.New("netcode: AllowedOrigins may not contain \"*\": list the origins")
		}
		n, ok := normalizeOrigin(o)
		if !ok {
			return fmt.Errorf("netcode: AllowedOrigins: %q is not an origin like https://host:port", o)
		}
		e.origins[n] = true
	}
	for _, scheme := range []string{"http", "https"} {
		for _, h := range []string{"localhost", "127.0.0.1", "::1"} {
			n, _ := normalizeOrigin(scheme + "://" + net.JoinHostPort(h, strconv.Itoa(e.port)))
			e.origins[n] = true
		}
	}
	return nil
}

// normalizeOrigin turns an origin into "scheme://host:port" with a
// lowercase host and an explicit port, so that "https://A.example" and
// "https://a.example:443" compare equal.
func normalizeOrigin(o string) (string, bool) {
	u, err := url.Parse(o)
	if err != nil || u.Host == "" || u.User != nil || (u.Path != "" && u.Path != "/") || u.RawQuery != "" {
		return "", false
	}
	scheme := strings.ToLower(u.Scheme)
	port := u.Port()
	switch {
	case scheme != "http" && scheme != "https":
		return "", false
	case port == "" && scheme == "http":
		port = "80"
	case port == "":
		port = "443"
	}
	return scheme + "://" + net.JoinHostPort(strings.ToLower(u.Hostname()), port), true
}

// originAllowed implements the origin check: no Origin header (a native
// client) passes; a browser's page passes when the endpoint served it (at
// whatever name or address the player reached it: the Origin is the
// origin of the endpoint's own pages at the host the request was
// addressed to, which a page on another site cannot claim) or when it is
// listed.
func (e *Endpoint) originAllowed(r *http.Request) bool {
	o := r.Header.Get("Origin")
	if o == "" {
		return true
	}
	n, ok := normalizeOrigin(o)
	if !ok {
		return false
	}
	if e.origins[n] {
		return true
	}
	own, ok := normalizeOrigin(e.pageScheme() + "://" + r.Host)
	return ok && n == own
}

// pageScheme is the scheme of the pages the endpoint serves on TCP:
// plain http with the self-signed certificate (browsers pin it for
// WebTransport only), https with a certificate they trust. A WebTransport
// session (always https) comes from such a page too.
func (e *Endpoint) pageScheme() string {
	if e.certs.SelfSigned() {
		return "http"
	}
	return "https"
}

func (e *Endpoint) setupServers() {
	errLog := slog.NewLogLogger(e.log.Handler(), slog.LevelDebug)
	mux := http.NewServeMux()
	mux.HandleFunc(PathWebSocket, e.serveWS)
	mux.Handle(PathCertHash, e.withCORS(e.certs.Handler()))
	if e.Handler != nil {
		mux.Handle("/", e.withCORS(e.Handler))
	}
	e.httpSrv = &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: e.HandshakeTimeout,
		ReadTimeout:       30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          errLog, // TLS handshake noise from scanners
	}
	if !e.certs.SelfSigned() {
		e.httpSrv.TLSConfig = e.certs.TLSConfig()
	}
	e.upgrader = websocket.Upgrader{
		HandshakeTimeout: e.HandshakeTimeout,
		ReadBufferSize:   4096,
		WriteBufferSize:  4096,
		CheckOrigin:      e.originAllowed,
	}
	if e.DisableWebTransport {
		return
	}
	h3mux := http.NewServeMux()
	h3mux.HandleFunc(PathWebTransport, e.serveWT)
	e.wtSrv = &webtransport.Server{
		H3: &http3.Server{
			Handler:        h3mux,
			TLSConfig:      http3.ConfigureTLSConfig(&tls.Config{GetCertificate: e.certs.GetCertificate, MinVersion: tls.VersionTLS13}),
			QUICConfig:     e.quicConfig(),
			MaxHeaderBytes: 16 << 10,
			ConnContext: func(ctx context.Context, c *quic.Conn) context.Context {
				return context.WithValue(ctx, quicConnKey{}, c)
			},
			Logger: e.log,
		},
		// webtransport-go advertises SETTINGS_WT_MAX_SESSIONS; Safari
		// (26.4 and later) refuses a server that does not also send the
		// three WT_INITIAL_MAX_* settings (webtransport-go issue 355), and
		// sends them only when these are set. A session here uses one
		// bidirectional stream and no unidirectional one, and carries
		// little on it (the hello, a goodbye): small limits suffice.
		Config: &webtransport.Config{
			MaxIncomingStreams:    4,
			MaxIncomingUniStreams: 1,
			MaxIncomingData:       1 << 20,
		},
		CheckOrigin: e.originAllowed,
	}
}

// quicConfig is sized for Tickwire's clients: one session with one stream
// of small messages per connection, so small flow-control windows and
// stream counts bound what a hostile client can make the server buffer.
func (e *Endpoint) quicConfig() *quic.Config {
	return &quic.Config{
		MaxIdleTimeout:                   e.Conn.IdleTimeout,
		HandshakeIdleTimeout:             e.HandshakeTimeout,
		InitialStreamReceiveWindow:       64 << 10,
		MaxStreamReceiveWindow:           256 << 10,
		InitialConnectionReceiveWindow:   128 << 10,
		MaxConnectionReceiveWindow:       512 << 10,
		MaxIncomingStreams:               8, // the CONNECT stream and the control stream, plus slack
		MaxIncomingUniStreams:            8, // HTTP/3 control and QPACK streams, plus slack
		EnableDatagrams:                  true,
		EnableStreamResetPartialDelivery: true,
	}
}

// withCORS lets pages on allowed origins use h across origins: /cert-hash
// and the server's routes (the lobby) from a game page hosted elsewhere.
// It answers their preflight requests itself; other origins get no CORS
// headers, so their pages cannot read the answers.
func (e *Endpoint) withCORS(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Add("Vary", "Origin")
		o := r.Header.Get("Origin")
		if o == "" || !e.originAllowed(r) {
			h.ServeHTTP(w, r)
			return
		}
		w.Header().Set("Access-Control-Allow-Origin", o)
		if r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != "" {
			w.Header().Set("Access-Control-Allow-Methods", "GET, POST")
			w.Header().Set("Access-Control-Allow-Headers", "Content-Type, Authorization")
			w.Header().Set("Access-Control-Max-Age", "600")
			w.WriteHeader(http.StatusNoContent)
			return
		}
		h.ServeHTTP(w, r)
	})
}

// admit counts a connection from remote in, refusing it during shutdown,
// beyond MaxConns (503) or beyond its address's IPLimits (429). Every
// admitted connection is released exactly once, with the func returned.
func (e *Endpoint) admit(remote string) (release func(), status int, err error) {
	e.mu.Lock()
	closing := e.closing
	e.mu.Unlock()
	if closing {
		return nil, http.StatusServiceUnavailable, errors.New("server shutting down")
	}
	releaseIP, err := e.perIP.admit(remote, time.Now())
	if err != nil {
		return nil, http.StatusTooManyRequests, err
	}
	if e.nconns.Add(1) > int64(e.MaxConns) {
		e.nconns.Add(-1)
		releaseIP()
		return nil, http.StatusServiceUnavailable, errors.New("server busy")
	}
	return func() { e.nconns.Add(-1); releaseIP() }, 0, nil
}

func (e *Endpoint) serveWS(w http.ResponseWriter, r *http.Request) {
	log := e.log.With("transport", WebSocket, "remote", r.RemoteAddr)
	if !e.originAllowed(r) {
		log.Info("refused connection from disallowed origin", "origin", r.Header.Get("Origin"))
		http.Error(w, "origin not allowed", http.StatusForbidden)
		return
	}
	release, status, err := e.admit(r.RemoteAddr)
	if err != nil {
		log.Info("refused connection", "status", status, "err", err)
		http.Error(w, err.Error(), status)
		return
	}
	ws, err := e.upgrader.Upgrade(w, r, nil)
	if err != nil {
		release()
		log.Debug("websocket upgrade failed", "err", err)
		return
	}
	e.handOff(newWSConn(ws, e.Conn, MaxClientMessageSize), release, log, r)
}

func (e *Endpoint) serveWT(w http.ResponseWriter, r *http.Request) {
	log := e.log.With("transport", WebTransport, "remote", r.RemoteAddr)
	if !e.originAllowed(r) {
		log.Info("refused connection from disallowed origin", "origin", r.Header.Get("Origin"))
		w.WriteHeader(http.StatusForbidden)
		return
	}
	release, status, err := e.admit(r.RemoteAddr)
	if err != nil {
		log.Info("refused connection", "status", status, "err", err)
		w.WriteHeader(status)
		return
	}
	sess, err := e.wtSrv.Upgrade(w, r)
	if err != nil {
		release()
		log.Debug("webtransport upgrade failed", "err", err)
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	qconn, _ := r.Context().Value(quicConnKey{}).(*quic.Conn)
	ctx, cancel := context.WithTimeout(e.connCtx, e.HandshakeTimeout)
	str, err := sess.AcceptStream(ctx)
	cancel()
	if err != nil {
		release()
		log.Info("closing webtransport session: no control stream", "err", err, "timeout", e.HandshakeTimeout)
		_ = sess.CloseWithError(wtCodeHandshake, "control stream not opened in time")
		closeQUICAfter(qconn, e.Conn.FlushTimeout, wtCodeHandshake)
		return
	}
	e.handOff(newWTConn(sess, str, qconn, e.Conn, MaxClientMessageSize, nil), release, log, r)
}

// closeQUICAfter closes qconn unless its peer does within grace.
func closeQUICAfter(qconn *quic.Conn, grace time.Duration, code webtransport.SessionErrorCode) {
	if qconn == nil {
		return
	}
	t := time.NewTimer(grace)
	defer t.Stop()
	select {
	case <-qconn.Context().Done():
	case <-t.C:
		_ = qconn.CloseWithError(quic.ApplicationErrorCode(code), "session closed")
	}
}

// handOff runs OnConn for an admitted connection in its own goroutine.
func (e *Endpoint) handOff(c Conn, release func(), log *slog.Logger, r *http.Request) {
	ctx := e.connCtx
	e.mu.Lock()
	if e.closing {
		e.mu.Unlock()
		release()
		_ = c.Close()
		return
	}
	e.conns[c] = struct{}{}
	e.handlers.Add(1)
	e.mu.Unlock()
	log.Debug("connection accepted")
	go func() {
		defer e.handlers.Done()
		defer release()
		defer func() {
			_ = c.Close()
			e.mu.Lock()
			delete(e.conns, c)
			e.mu.Unlock()
			log.Debug("connection closed")
		}()
		e.OnConn(ctx, c, r)
	}()
}

// Serve serves the listened sockets (calling Listen first if needed) until
// ctx is done, then shuts down gracefully, giving OnConn calls
// ShutdownTimeout to finish. It returns nil after a shutdown, or the
// error that stopped a listener.
func (e *Endpoint) Serve(ctx context.Context) error {
	e.mu.Lock()
	listened, served := e.listened, e.served
	e.served = true
	e.mu.Unlock()
	if served {
		return errors.New("netcode: Endpoint.Serve called twice")
	}
	if !listened {
		if err := e.Listen(); err != nil {
			return err
		}
	}
	var wg sync.WaitGroup
	errc := make(chan error, len(e.tcpLns)+len(e.udpConns))
	for _, l := range e.tcpLns {
		wg.Go(func() { errc <- e.servingErr(e.serveHTTP(l)) })
	}
	for _, pc := range e.udpConns {
		e.udpServing.Add(1)
		wg.Go(func() {
			defer e.udpServing.Done()
			errc <- e.servingErr(e.wtSrv.Serve(pc))
		})
	}
	certCtx, stopCerts := context.WithCancel(context.Background())
	wg.Go(func() {
		if err := e.certs.Run(certCtx); err != nil {
			e.log.Debug("certificate rotation not run by this endpoint", "err", err)
		}
	})

	var err error
	select {
	case <-ctx.Done():
	case <-e.stopServing:
	case err = <-errc:
		if err != nil {
			err = fmt.Errorf("netcode: serving: %w", err)
		}
	}
	sctx, cancel := context.WithTimeout(context.Background(), e.ShutdownTimeout)
	defer cancel()
	if serr := e.Shutdown(sctx); err == nil && serr != nil {
		err = serr
	}
	stopCerts()
	wg.Wait()
	return err
}

func (e *Endpoint) serveHTTP(l net.Listener) error {
	// Decided by the certificate, not by httpSrv.TLSConfig: net/http sets
	// that field itself when it configures HTTP/2 in Serve.
	if !e.certs.SelfSigned() {
		return e.httpSrv.ServeTLS(l, "", "")
	}
	return e.httpSrv.Serve(l)
}

// servingErr is nil for a server that stopped because of Shutdown (which
// closes its sockets) and err otherwise.
func (e *Endpoint) servingErr(err error) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closing || errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

// Shutdown stops accepting connections, cancels the context given to
// OnConn, waits for the OnConn calls to return until ctx is done, then
// closes the connections still open and every socket. Calling it again
// waits for the first call to finish.
func (e *Endpoint) Shutdown(ctx context.Context) error {
	e.mu.Lock()
	if !e.listened {
		e.mu.Unlock()
		return nil
	}
	first := !e.closing
	e.closing = true
	e.mu.Unlock()
	if !first {
		select {
		case <-e.shutdownDone:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	defer close(e.shutdownDone)
	close(e.stopServing)

	// New connections: the TCP listeners close now; new WebTransport
	// sessions are refused by admit, since closing the UDP sockets would
	// cut the sessions that are saying goodbye.
	for _, l := range e.tcpLns {
		_ = l.Close()
	}
	e.connCancel()
	err := e.waitHandlers(ctx)
	if err != nil {
		e.closeAll()
		// Closed connections end their OnConn calls in the common case.
		grace, cancel := context.WithTimeout(context.Background(), e.Conn.FlushTimeout+time.Second)
		if e.waitHandlers(grace) == nil {
			err = nil
		} else {
			err = fmt.Errorf("netcode: shutdown: OnConn calls still running: %w", ctx.Err())
		}
		cancel()
	}
	if e.wtSrv != nil {
		// webtransport-go's Close must not run while a Serve call may still
		// be starting (they share a WaitGroup): close the UDP sockets, which
		// ends Serve, and wait for those calls first.
		for _, pc := range e.udpConns {
			_ = pc.Close()
		}
		e.udpServing.Wait()
		_ = e.wtSrv.Close() // closes the QUIC connections and waits for its goroutines
	}
	_ = e.httpSrv.Close()
	e.closeSockets()
	e.log.Debug("endpoint shut down")
	return err
}

func (e *Endpoint) waitHandlers(ctx context.Context) error {
	done := make(chan struct{})
	go func() {
		e.handlers.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// closeAll closes every open connection, in parallel since each Close
// may wait up to FlushTimeout for its peer.
func (e *Endpoint) closeAll() {
	e.mu.Lock()
	conns := make([]Conn, 0, len(e.conns))
	for c := range e.conns {
		conns = append(conns, c)
	}
	e.mu.Unlock()
	var wg sync.WaitGroup
	for _, c := range conns {
		wg.Go(func() { _ = c.Close() })
	}
	wg.Wait()
}

// Port is the port number listened on (valid after Listen).
func (e *Endpoint) Port() int { return e.port }

// Addrs are the TCP addresses listened on (valid after Listen); the UDP
// side uses the same addresses.
func (e *Endpoint) Addrs() []net.Addr {
	out := make([]net.Addr, len(e.tcpLns))
	for i, l := range e.tcpLns {
		out[i] = l.Addr()
	}
	return out
}

// URL is the base URL clients dial (valid after Listen):
// "http://host:port" with the self-signed certificate, "https://..." with
// configured files. A wildcard listen host becomes localhost.
func (e *Endpoint) URL() string {
	if d := e.certs.Domains(); len(d) > 0 {
		return "https://" + net.JoinHostPort(d[0], strconv.Itoa(e.port))
	}
	scheme := e.pageScheme()
	host := e.host
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "localhost"
	}
	return scheme + "://" + net.JoinHostPort(host, strconv.Itoa(e.port))
}

// PlayerURLs are the addresses a player can open the endpoint's pages at:
// with ACME, https at each domain; otherwise its URL, and for a wildcard
// listen host one for every address of the machine's interfaces that are
// up (loopback last), since a player on another machine needs one of
// those.
func (e *Endpoint) PlayerURLs() []string {
	if domains := e.certs.Domains(); len(domains) > 0 {
		var urls []string
		for _, d := range domains {
			urls = append(urls, "https://"+net.JoinHostPort(d, strconv.Itoa(e.port)))
		}
		return urls
	}
	if e.host != "" && e.host != "0.0.0.0" && e.host != "::" {
		return []string{e.URL()}
	}
	var remote, local []string
	ifaces, _ := net.Interfaces()
	for _, ifc := range ifaces {
		if ifc.Flags&net.FlagUp == 0 {
			continue
		}
		addrs, _ := ifc.Addrs()
		for _, a := range addrs {
			ipn, ok := a.(*net.IPNet)
			if !ok || ipn.IP.IsLinkLocalUnicast() || (e.host == "0.0.0.0" && ipn.IP.To4() == nil) {
				continue
			}
			u := e.pageScheme() + "://" + net.JoinHostPort(ipn.IP.String(), strconv.Itoa(e.port))
			if ipn.IP.IsLoopback() {
				local = append(local, u)
			} else {
				remote = append(remote, u)
			}
		}
	}
	return append(append(remote, e.URL()), local...)
}

// CertManager is the certificate the endpoint serves (valid after Listen).
func (e *Endpoint) CertManager() *CertManager { return e.certs }
