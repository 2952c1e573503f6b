//go:build js && wasm

package transport

// In a browser Go's net package cannot dial, so Dial uses the page's own
// WebTransport and WebSocket objects through syscall/js. Both implement
// Conn exactly as the native transports do: over WebTransport datagrams
// plus one bidirectional stream carrying uvarint-length-framed messages
// (a zero-length frame opens it); over WebSocket one binary message per
// packet.

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"sync"
	"syscall/js"
	"time"
)

// DialOptions.RootCAs and Header have no use here: the browser verifies
// the server and sets the headers itself. Placeholder types keep this
// package's browser build from importing crypto/x509 and net/http (see
// dial_native.go). The game's wasm links both anyway, through Ebiten's
// ebitenutil; what the browser build does keep out is quic-go,
// gorilla/websocket, prometheus and the server packages
// (TestBrowserBuildLeavesOutServerAndNativeTransports).
type (
	certPool = struct{}
	header   = map[string][]string
)

// Socket is DialOptions.Socket's type; a page's connections have the
// browser's sockets, so there is nothing to share (socket.go is native).
type Socket struct{}

// dialPlatform is Dial in a browser. (Elsewhere, dial_native.go.)
func dialPlatform(ctx context.Context, serverURL string, opts DialOptions) (Conn, error) {
	base, err := parseServerURL(serverURL)
	if err != nil {
		return nil, err
	}
	cfg := opts.Conn.withDefaults()
	switch opts.Transport {
	case WebTransport:
		return dialBrowserWT(ctx, base, opts, cfg)
	case WebSocket:
		return dialBrowserWS(ctx, base, opts.Query, cfg)
	case "":
	default:
		return nil, fmt.Errorf("netcode: unknown transport %q", opts.Transport)
	}
	if js.Global().Get("WebTransport").IsUndefined() {
		if opts.OnFallback != nil {
			opts.OnFallback(ErrNoWebTransport)
		}
		return dialBrowserWS(ctx, base, opts.Query, cfg)
	}
	// A browser reports a refused WebTransport at once ("Opening
	// handshake failed"), so waiting longer than natively costs little
	// and spares a slow machine a needless fallback.
	timeout := opts.FallbackTimeout
	if timeout <= 0 {
		timeout = 5 * time.Second
	}
	wtCtx, cancel := context.WithTimeout(ctx, timeout)
	c, wtErr := dialBrowserWT(wtCtx, base, opts, cfg)
	cancel()
	if wtErr == nil {
		return c, nil
	}
	if ctx.Err() != nil {
		return nil, wtErr
	}
	logger(opts).Info("webtransport unavailable, falling back to websocket", "server", serverURL, "err", wtErr)
	if opts.OnFallback != nil {
		opts.OnFallback(wtErr)
	}
	c, wsErr := dialBrowserWS(ctx, base, opts.Query, cfg)
	if wsErr != nil {
		return nil, fmt.Errorf("%w (after %v)", wsErr, wtErr)
	}
	return c, nil
}

func logger(opts DialOptions) *slog.Logger {
	if opts.Logger != nil {
		return opts.Logger
	}
	return slog.Default()
}

// await waits for a JS promise. On ctx's end the promise is abandoned
// (its callbacks stay registered, as a released js.Func must not be
// called).
func await(ctx context.Context, p js.Value) (js.Value, error) {
	type result struct {
		v   js.Value
		err error
	}
	ch := make(chan result, 1)
	var onOK, onErr js.Func
	onOK = js.FuncOf(func(_ js.Value, args []js.Value) any {
		v := js.Undefined()
		if len(args) > 0 {
			v = args[0]
		}
		ch <- result{v: v}
		return nil
	})
	onErr = js.FuncOf(func(_ js.Value, args []js.Value) any {
		ch <- result{err: jsError(args)}
		return nil
	})
	p.Call("then", onOK, onErr)
	select {
	case r := <-ch:
		onOK.Release()
		onErr.Release()
		return r.v, r.err
	case <-ctx.Done():
		return js.Undefined(), ctx.Err()
	}
}

func jsError(args []js.Value) error {
	if len(args) == 0 {
		return errors.New("javascript error")
	}
	v := args[0]
	if v.Type() == js.TypeObject && !v.Get("message").IsUndefined() {
		return errors.New(v.Get("message").String())
	}
	return errors.New(v.String())
}

// jsCall calls a method that may throw synchronously (constructors and
// the like), turning the exception into an error.
func jsCall(f func() js.Value) (v js.Value, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("javascript: %v", r)
		}
	}()
	return f(), nil
}

func toJSBytes(p []byte) js.Value {
	u := js.Global().Get("Uint8Array").New(len(p))
	js.CopyBytesToJS(u, p)
	return u
}

func fromJSBytes(v js.Value) []byte {
	if v.Get("byteLength").IsUndefined() {
		return nil
	}
	if v.Get("BYTES_PER_ELEMENT").IsUndefined() { // an ArrayBuffer
		v = js.Global().Get("Uint8Array").New(v)
	}
	b := make([]byte, v.Get("byteLength").Int())
	js.CopyBytesToGo(b, v)
	return b
}

// FetchCertHashes reads the certificate hashes the server at serverURL
// lists at /cert-hash, with the browser's fetch. (Natively, dial_native.go.)
func FetchCertHashes(ctx context.Context, serverURL string, _ DialOptions) ([][sha256.Size]byte, error) {
	base, err := parseServerURL(serverURL)
	if err != nil {
		return nil, err
	}
	return fetchCertHashes(ctx, base)
}

// browserCertHashes are the server's certificate hashes as WebTransport's
// serverCertificateHashes option wants them.
func browserCertHashes(ctx context.Context, base *url.URL) ([]js.Value, error) {
	hashes, err := fetchCertHashes(ctx, base)
	if err != nil {
		return nil, err
	}
	out := make([]js.Value, len(hashes))
	for i, h := range hashes {
		out[i] = js.ValueOf(map[string]any{"algorithm": "sha-256", "value": toJSBytes(h[:])})
	}
	return out, nil
}

func fetchCertHashes(ctx context.Context, base *url.URL) ([][sha256.Size]byte, error) {
	u := (&url.URL{Scheme: base.Scheme, Host: base.Host, Path: PathCertHash}).String()
	resp, err := await(ctx, js.Global().Call("fetch", u))
	if err != nil {
		return nil, fmt.Errorf("fetching %s: %w", u, err)
	}
	if !resp.Get("ok").Bool() {
		return nil, fmt.Errorf("fetching %s: status %d", u, resp.Get("status").Int())
	}
	text, err := await(ctx, resp.Call("text"))
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", u, err)
	}
	hashes, err := ParseCertHashDoc([]byte(text.String()))
	if err != nil {
		return nil, fmt.Errorf("%w (from %s)", err, u)
	}
	return hashes, nil
}

// browserConn is what both browser transports share: the receive queue
// (filled from JS callbacks, which must never block) and closing.
type browserConn struct {
	kind   Kind
	remote browserAddr
	maxMsg int

	mu      sync.Mutex
	queue   []received
	notify  chan struct{}
	closed  chan struct{}
	once    sync.Once
	err     error
	maxWait int
}

func (c *browserConn) init(kind Kind, host string, cfg ConnConfig) {
	c.kind = kind
	c.remote = browserAddr{kind: kind, host: host}
	c.maxMsg = MaxServerMessageSize
	c.notify = make(chan struct{}, 1)
	c.closed = make(chan struct{})
	c.maxWait = max(cfg.ReceiveQueue, 16) * 16
}

// push queues a received packet. Unreliable packets are dropped when the
// queue is full; a reliable one that finds it that full ends the
// connection (the reader is not keeping up with the server at all).
func (c *browserConn) push(p []byte, reliable bool) {
	c.mu.Lock()
	if len(c.queue) >= c.maxWait {
		c.mu.Unlock()
		if reliable {
			c.fail(errors.New("netcode: receive queue overflow"))
		}
		return
	}
	c.queue = append(c.queue, received{p, reliable})
	c.mu.Unlock()
	select {
	case c.notify <- struct{}{}:
	default:
	}
}

func (c *browserConn) fail(err error) {
	c.once.Do(func() {
		c.mu.Lock()
		c.err = err
		c.mu.Unlock()
		close(c.closed)
	})
}

func (c *browserConn) Receive(ctx context.Context) ([]byte, bool, error) {
	for {
		c.mu.Lock()
		if len(c.queue) > 0 {
			p := c.queue[0]
			c.queue[0] = received{}
			c.queue = c.queue[1:]
			c.mu.Unlock()
			return p.p, p.reliable, nil
		}
		err := c.err
		c.mu.Unlock()
		if err != nil {
			return nil, false, err
		}
		select {
		case <-ctx.Done():
			return nil, false, ctx.Err()
		case <-c.notify:
		case <-c.closed:
		}
	}
}

func (c *browserConn) isClosed() bool {
	select {
	case <-c.closed:
		return true
	default:
		return false
	}
}

func (c *browserConn) Kind() Kind           { return c.kind }
func (c *browserConn) RemoteAddr() net.Addr { return c.remote }

type browserAddr struct {
	kind Kind
	host string
}

func (a browserAddr) Network() string { return string(a.kind) }
func (a browserAddr) String() string  { return a.host }

// browserWT is a Conn over the browser's WebTransport.
type browserWT struct {
	browserConn
	wt       js.Value
	dgWriter js.Value
	stWriter js.Value
	sendMu   sync.Mutex
	frame    []byte
	ignore   js.Func // catches rejections of fire-and-forget writes
}

func dialBrowserWT(ctx context.Context, base *url.URL, opts DialOptions, cfg ConnConfig) (Conn, error) {
	ctor := js.Global().Get("WebTransport")
	if ctor.IsUndefined() {
		return nil, errors.New("netcode: this browser has no WebTransport")
	}
	u := endpointURL(base, "https", PathWebTransport, opts.Query)
	options := map[string]any{}
	if opts.TrustServerCertHash {
		hashes, err := browserCertHashes(ctx, base)
		if err != nil {
			return nil, fmt.Errorf("netcode: webtransport %s: %w", u, err)
		}
		list := make([]any, len(hashes))
		for i, h := range hashes {
			list[i] = h
		}
		options["serverCertificateHashes"] = list
	}
	wt, err := jsCall(func() js.Value { return ctor.New(u, options) })
	if err != nil {
		return nil, fmt.Errorf("netcode: webtransport %s: %w", u, err)
	}
	if _, err := await(ctx, wt.Get("ready")); err != nil {
		wt.Call("close")
		return nil, fmt.Errorf("netcode: webtransport %s: %w", u, err)
	}
	stream, err := await(ctx, wt.Call("createBidirectionalStream"))
	if err != nil {
		wt.Call("close")
		return nil, fmt.Errorf("netcode: webtransport %s: opening control stream: %w", u, err)
	}
	c := &browserWT{wt: wt}
	c.init(WebTransport, base.Host, cfg)
	c.ignore = js.FuncOf(func(js.Value, []js.Value) any { return nil })
	c.stWriter = stream.Get("writable").Call("getWriter")
	c.dgWriter = wt.Get("datagrams").Get("writable").Call("getWriter")
	// The opener: a zero-length frame, without which the server would not
	// see the stream.
	if _, err := await(ctx, c.stWriter.Call("write", toJSBytes([]byte{0}))); err != nil {
		wt.Call("close")
		return nil, fmt.Errorf("netcode: webtransport %s: opening control stream: %w", u, err)
	}
	go c.readDatagrams(wt.Get("datagrams").Get("readable").Call("getReader"))
	go c.readStream(stream.Get("readable").Call("getReader"))
	go func() {
		_, err := await(context.Background(), wt.Get("closed"))
		if err == nil {
			err = ErrClosed
		}
		c.fail(fmt.Errorf("netcode: webtransport closed: %w", err))
	}()
	return c, nil
}

func (c *browserWT) readDatagrams(r js.Value) {
	for {
		res, err := await(context.Background(), r.Call("read"))
		if err != nil || res.Get("done").Bool() {
			return
		}
		c.push(fromJSBytes(res.Get("value")), false)
	}
}

func (c *browserWT) readStream(r js.Value) {
	var buf []byte
	for {
		res, err := await(context.Background(), r.Call("read"))
		if err != nil {
			c.fail(fmt.Errorf("netcode: webtransport control stream: %w", err))
			return
		}
		if res.Get("done").Bool() {
			c.fail(fmt.Errorf("netcode: webtransport control stream ended: %w", ErrClosed))
			return
		}
		buf = append(buf, fromJSBytes(res.Get("value"))...)
		for {
			frame, rest, ok, err := splitFrame(buf, c.maxMsg)
			if err != nil {
				c.fail(fmt.Errorf("netcode: webtransport control stream: %w", err))
				return
			}
			if !ok {
				break
			}
			if len(frame) > 0 {
				c.push(append([]byte(nil), frame...), true)
			}
			buf = rest
		}
	}
}

func (c *browserWT) SendDatagram(p []byte) error {
	if c.isClosed() {
		return ErrClosed
	}
	if len(p) > MaxDatagramSize {
		return fmt.Errorf("netcode: datagram of %d bytes exceeds %d", len(p), MaxDatagramSize)
	}
	if ds := c.dgWriter.Get("desiredSize"); ds.Type() == js.TypeNumber && ds.Float() <= 0 {
		return ErrDropped
	}
	c.dgWriter.Call("write", toJSBytes(p)).Call("catch", c.ignore)
	return nil
}

func (c *browserWT) SendMessage(p []byte) error {
	if c.isClosed() {
		return ErrClosed
	}
	c.sendMu.Lock()
	defer c.sendMu.Unlock()
	c.frame = binary.AppendUvarint(c.frame[:0], uint64(len(p)))
	c.frame = append(c.frame, p...)
	// The writer queues in order; not waiting keeps SendMessage from
	// blocking on the event loop.
	c.stWriter.Call("write", toJSBytes(c.frame)).Call("catch", c.ignore)
	return nil
}

func (c *browserWT) Close() error {
	if c.isClosed() {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	_, _ = await(ctx, c.stWriter.Call("close")) // flushes queued messages
	_, _ = jsCall(func() js.Value { return c.wt.Call("close") })
	c.fail(ErrClosed)
	return nil
}

// browserWS is a Conn over the browser's WebSocket.
type browserWS struct {
	browserConn
	ws    js.Value
	funcs []js.Func
}

// wsMaxBuffered is how many bytes may wait in the WebSocket's send buffer
// before SendDatagram drops.
const wsMaxBuffered = 256 << 10

func dialBrowserWS(ctx context.Context, base *url.URL, query url.Values, cfg ConnConfig) (Conn, error) {
	scheme := "ws"
	if base.Scheme == "https" {
		scheme = "wss"
	}
	u := endpointURL(base, scheme, PathWebSocket, query)
	ws, err := jsCall(func() js.Value { return js.Global().Get("WebSocket").New(u) })
	if err != nil {
		return nil, fmt.Errorf("netcode: websocket %s: %w", u, err)
	}
	ws.Set("binaryType", "arraybuffer")
	c := &browserWS{ws: ws}
	c.init(WebSocket, base.Host, cfg)
	opened := make(chan struct{})
	var openOnce sync.Once
	on := func(event string, f func(js.Value)) {
		fn := js.FuncOf(func(_ js.Value, args []js.Value) any {
			f(args[0])
			return nil
		})
		c.funcs = append(c.funcs, fn)
		ws.Set(event, fn)
	}
	on("onopen", func(js.Value) { openOnce.Do(func() { close(opened) }) })
	on("onmessage", func(ev js.Value) { c.push(fromJSBytes(ev.Get("data")), true) })
	on("onerror", func(js.Value) { c.fail(fmt.Errorf("netcode: websocket %s: error", u)) })
	on("onclose", func(ev js.Value) {
		c.fail(fmt.Errorf("netcode: websocket closed (code %d %s): %w", ev.Get("code").Int(), ev.Get("reason").String(), ErrClosed))
	})
	select {
	case <-opened:
		return c, nil
	case <-c.closed:
		c.release()
		return nil, c.err
	case <-ctx.Done():
		ws.Call("close")
		c.release()
		return nil, fmt.Errorf("netcode: websocket %s: %w", u, ctx.Err())
	}
}

func (c *browserWS) release() {
	for _, ev := range []string{"onopen", "onmessage", "onerror", "onclose"} {
		c.ws.Set(ev, js.Null())
	}
	for _, f := range c.funcs {
		f.Release()
	}
	c.funcs = nil
}

func (c *browserWS) SendDatagram(p []byte) error {
	if c.isClosed() {
		return ErrClosed
	}
	if c.ws.Get("bufferedAmount").Int() > wsMaxBuffered {
		return ErrDropped
	}
	c.ws.Call("send", toJSBytes(p))
	return nil
}

func (c *browserWS) SendMessage(p []byte) error {
	if c.isClosed() {
		return ErrClosed
	}
	c.ws.Call("send", toJSBytes(p))
	return nil
}

func (c *browserWS) Close() error {
	if c.isClosed() {
		return nil
	}
	c.ws.Call("close", 1000, "")
	c.fail(ErrClosed)
	return nil
}
