//go:build !js

package netcode

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/quic-go/quic-go"
	"github.com/quic-go/webtransport-go"
)

// This file holds the WebTransport Conn and the machinery both native
// transports share: the receive queue and the teardown bookkeeping.
// (ConnConfig, which the browser's transports use too, is in transport.go.)
//
// WebTransport wire format (see also docs/PROTOCOL.md):
//   - datagrams carry one packet each, at most MaxDatagramSize bytes;
//   - the client opens ONE bidirectional stream right after the session is
//     up; each reliable message on it is a uvarint length followed by that
//     many bytes. A zero-length frame is a no-op: the client sends one
//     first, because webtransport-go (and browsers) only make a stream
//     visible to the peer once something is written on it;
//   - a frame longer than the receiver's limit is a protocol violation and
//     closes the session;
//   - Close finishes the stream (FIN) after the last message, waits a
//     moment for the peer's FIN, then closes the session. A peer that reads
//     FIN answers with its own FIN and closes too. This handshake is what
//     makes a last message (a Disconnect) arrive: closing the session
//     alone would reset streams whose data is still in flight.
//
// Session close codes (webtransport SessionErrorCode, visible to browsers
// as WebTransportCloseInfo.closeCode):
const (
	wtCodeNormal    webtransport.SessionErrorCode = 0 // Close, or the peer's goodbye
	wtCodeProtocol  webtransport.SessionErrorCode = 1 // oversized or malformed frame
	wtCodeHandshake webtransport.SessionErrorCode = 2 // no control stream in time
	wtCodeWrite     webtransport.SessionErrorCode = 3 // a reliable write timed out or failed
)

// ErrTooLarge is returned by a send method when the packet exceeds what the
// channel carries: MaxDatagramSize for a WebTransport datagram,
// MaxServerMessageSize for anything else. (The receiver enforces its own,
// usually smaller, limit: MaxClientMessageSize on the server.)
var ErrTooLarge = errors.New("netcode: packet too large")

// ConnStats are a connection's drop counters. Both transports' Conns have
// a Stats method; reach it with StatsOf.
type ConnStats struct {
	// DatagramsDroppedOut counts SendDatagram calls refused with ErrDropped.
	DatagramsDroppedOut int64
	// DatagramsDroppedIn counts received datagrams dropped because the
	// receive queue was full (the application did not keep up).
	DatagramsDroppedIn int64
	// DatagramsTooLarge counts queued datagrams QUIC refused because they
	// exceeded the current path's datagram size (WebTransport only).
	DatagramsTooLarge int64
}

// StatsOf returns c's counters if its transport keeps them.
func StatsOf(c Conn) (ConnStats, bool) {
	s, ok := c.(interface{ Stats() ConnStats })
	if !ok {
		return ConnStats{}, false
	}
	return s.Stats(), true
}

// endReason says why a connection is being torn down. Exactly one is
// recorded per connection: the first to call begin wins.
type endReason struct {
	local    bool  // Close was called
	graceful bool  // flush and say goodbye (local Close, or the peer's goodbye)
	err      error // what Receive reports after a remote end; wraps ErrClosed
	wtCode   webtransport.SessionErrorCode
	wsCode   int
	msg      string
}

// connCore is the state both transports share: the merged receive queue,
// the terminal error and the teardown handshake.
//
// Receive order guarantee: after the peer goes away, Receive still returns
// every packet the reliable reader had queued, then the error. This is
// why dead is closed only after the reader has stopped pushing.
type connCore struct {
	in       chan []byte
	dead     chan struct{} // closed once err is final
	deadOnce sync.Once
	errMu    sync.Mutex
	err      error

	ending   atomic.Bool // teardown has begun: sends fail
	reason   endReason   // written by begin's winner before teardown runs
	finished chan struct{}

	// stopRead makes the reliable reader discard instead of blocking on a
	// full queue (nobody will read it any more).
	stopRead     chan struct{}
	stopReadOnce sync.Once

	wg sync.WaitGroup // reader and writer goroutines

	droppedOut, droppedIn, tooLarge atomic.Int64
}

func newConnCore(cfg ConnConfig) connCore {
	return connCore{
		in:       make(chan []byte, cfg.ReceiveQueue),
		dead:     make(chan struct{}),
		finished: make(chan struct{}),
		stopRead: make(chan struct{}),
	}
}

// receive implements Conn.Receive.
func (c *connCore) receive(ctx context.Context) ([]byte, error) {
	if c.closedLocally() {
		return nil, ErrClosed
	}
	select {
	case p := <-c.in:
		return p, nil
	default:
	}
	select {
	case p := <-c.in:
		return p, nil
	case <-c.dead:
		// Packets queued before the end come first.
		select {
		case p := <-c.in:
			if c.reason.local {
				return nil, ErrClosed
			}
			return p, nil
		default:
			return nil, c.terminalErr()
		}
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// pushDatagram queues an unreliable packet, dropping it when the queue is
// full: a reader that stalls must not stall the network.
func (c *connCore) pushDatagram(p []byte) {
	select {
	case c.in <- p:
	default:
		c.droppedIn.Add(1)
	}
}

// pushMessage queues a reliable packet, waiting for room (which pushes
// back on the peer through flow control) unless reading has been stopped.
func (c *connCore) pushMessage(p []byte) {
	select {
	case c.in <- p:
	case <-c.stopRead:
	}
}

// closedLocally reports whether Close has been called.
func (c *connCore) closedLocally() bool { return c.ending.Load() && c.reason.local }

func (c *connCore) stopReading() { c.stopReadOnce.Do(func() { close(c.stopRead) }) }

// begin records why the connection ends. It returns true for the first
// caller only, which must then run the teardown.
func (c *connCore) begin(r endReason) bool {
	c.errMu.Lock()
	defer c.errMu.Unlock()
	if c.ending.Load() {
		return false
	}
	c.reason = r
	c.ending.Store(true)
	return true
}

// markDead makes err final and wakes Receive.
func (c *connCore) markDead(err error) {
	c.errMu.Lock()
	if c.err == nil {
		c.err = err
	}
	c.errMu.Unlock()
	c.deadOnce.Do(func() { close(c.dead) })
}

func (c *connCore) terminalErr() error {
	c.errMu.Lock()
	defer c.errMu.Unlock()
	if c.err == nil {
		return ErrClosed
	}
	return c.err
}

// sendErr is what a send method returns once teardown has begun.
func (c *connCore) sendErr() error {
	c.errMu.Lock()
	defer c.errMu.Unlock()
	if c.reason.local || c.reason.err == nil {
		return ErrClosed
	}
	return c.reason.err
}

// waitReaderThenKill gives the reliable reader up to grace to hand over
// what it has already read, then makes it discard the rest.
func (c *connCore) waitReaderThenKill(readerDone <-chan struct{}, grace time.Duration) {
	t := time.NewTimer(grace)
	defer t.Stop()
	select {
	case <-readerDone:
	case <-t.C:
	}
	c.stopReading()
}

func (c *connCore) stats() ConnStats {
	return ConnStats{
		DatagramsDroppedOut: c.droppedOut.Load(),
		DatagramsDroppedIn:  c.droppedIn.Load(),
		DatagramsTooLarge:   c.tooLarge.Load(),
	}
}

// datagramPool recycles send-queue buffers so that queueing a datagram,
// the per-tick path, does not allocate in steady state.
var datagramPool = sync.Pool{New: func() any {
	b := make([]byte, 0, MaxDatagramSize)
	return &b
}}

func getBuf(p []byte) *[]byte {
	b := datagramPool.Get().(*[]byte)
	*b = append((*b)[:0], p...)
	return b
}

func putBuf(b *[]byte) {
	// Huge WebSocket snapshots are not worth keeping around.
	if cap(*b) <= 64<<10 {
		datagramPool.Put(b)
	}
}

// errFrameTooLarge is a peer's frame exceeding our read limit.
type errFrameTooLarge struct{ claimed, limit uint64 }

func (e *errFrameTooLarge) Error() string {
	return fmt.Sprintf("frame of %d bytes exceeds the limit of %d", e.claimed, e.limit)
}

// readFrame reads one uvarint-length-prefixed frame. The claimed length is
// checked against limit before anything is allocated, so a hostile peer
// cannot make us allocate more than limit bytes. A clean end of stream
// between frames is io.EOF; inside a frame, io.ErrUnexpectedEOF.
func readFrame(r *bufio.Reader, limit int) ([]byte, error) {
	n, err := binary.ReadUvarint(r)
	if err != nil {
		return nil, err
	}
	if n > uint64(limit) {
		return nil, &errFrameTooLarge{claimed: n, limit: uint64(limit)}
	}
	p := make([]byte, n)
	if _, err := io.ReadFull(r, p); err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return nil, err
	}
	return p, nil
}

// appendFrame appends p framed as uvarint length + bytes.
func appendFrame(dst, p []byte) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(p)))
	return append(dst, p...)
}

// wtConn is a Conn over a WebTransport session: datagrams plus one
// bidirectional stream.
type wtConn struct {
	connCore
	sess      *webtransport.Session
	str       *webtransport.Stream
	qconn     *quic.Conn // server side: closed if the peer lingers; nil on the client
	onClosed  func()     // client side: releases the dialer
	cfg       ConnConfig
	readLimit int

	dgOut chan *[]byte // datagram send queue, served by writeDatagrams

	// sendSem serialises stream writes. It is a channel, not a mutex, so
	// that waiting for it can time out.
	sendSem chan struct{}
	wbuf    []byte // frame buffer, owned by the sendSem holder

	closing    chan struct{}   // closed when teardown begins: waiting senders give up
	ctx        context.Context // cancelled last in teardown: stops datagram goroutines
	cancel     context.CancelFunc
	readerDone chan struct{} // the stream reader has exited
	peerFIN    chan struct{} // the peer finished its side of the stream
}

var _ Conn = (*wtConn)(nil)

// newWTConn starts the goroutines of a connection over sess and its
// control stream. readLimit bounds a received stream frame.
func newWTConn(sess *webtransport.Session, str *webtransport.Stream, qconn *quic.Conn, cfg ConnConfig, readLimit int, onClosed func()) *wtConn {
	cfg = cfg.withDefaults()
	c := &wtConn{
		connCore:   newConnCore(cfg),
		sess:       sess,
		str:        str,
		qconn:      qconn,
		onClosed:   onClosed,
		cfg:        cfg,
		readLimit:  readLimit,
		dgOut:      make(chan *[]byte, cfg.SendQueue),
		sendSem:    make(chan struct{}, 1),
		closing:    make(chan struct{}),
		readerDone: make(chan struct{}),
		peerFIN:    make(chan struct{}),
	}
	c.ctx, c.cancel = context.WithCancel(context.Background())
	c.wg.Add(3)
	go c.readStream()
	go c.readDatagrams()
	go c.writeDatagrams()
	return c
}

func (c *wtConn) Kind() TransportKind                         { return WebTransport }
func (c *wtConn) RemoteAddr() net.Addr                        { return c.sess.RemoteAddr() }
func (c *wtConn) Stats() ConnStats                            { return c.stats() }
func (c *wtConn) Receive(ctx context.Context) ([]byte, error) { return c.receive(ctx) }

// SendDatagram queues p for the datagram writer. quic-go's own
// SendDatagram blocks while its 32-datagram queue is full (v0.64.1,
// datagramQueue.Add), so it is called only from writeDatagrams, never
// from the caller's goroutine.
func (c *wtConn) SendDatagram(p []byte) error {
	if len(p) == 0 {
		return errors.New("netcode: empty datagram")
	}
	if len(p) > MaxDatagramSize {
		return fmt.Errorf("%w: datagram of %d bytes, limit %d", ErrTooLarge, len(p), MaxDatagramSize)
	}
	if c.ending.Load() {
		return c.sendErr()
	}
	return enqueueOrDrop(c.dgOut, p, &c.droppedOut)
}

// enqueueOrDrop copies p onto a send queue without waiting; when the
// queue is full the datagram is dropped and counted. Both transports'
// SendDatagram use it so neither can ever block the tick loop.
func enqueueOrDrop(q chan<- *[]byte, p []byte, dropped *atomic.Int64) error {
	b := getBuf(p)
	select {
	case q <- b:
		return nil
	default:
		putBuf(b)
		dropped.Add(1)
		return ErrDropped
	}
}

// SendMessage writes p as one frame on the control stream. It waits at
// most WriteTimeout in all (for other writers, then for flow control);
// after a timeout the stream may hold half a frame, so the connection is
// closed.
func (c *wtConn) SendMessage(p []byte) error {
	if len(p) == 0 {
		return errors.New("netcode: empty message")
	}
	if len(p) > MaxServerMessageSize {
		return fmt.Errorf("%w: message of %d bytes, limit %d", ErrTooLarge, len(p), MaxServerMessageSize)
	}
	if c.ending.Load() {
		return c.sendErr()
	}
	deadline := time.Now().Add(c.cfg.WriteTimeout)
	if !c.acquireSend(deadline, c.closing) {
		if c.ending.Load() {
			return c.sendErr()
		}
		err := fmt.Errorf("netcode: webtransport: message not sent within %v", c.cfg.WriteTimeout)
		c.fail(wtCodeWrite, err)
		return fmt.Errorf("%w: %w", ErrClosed, err)
	}
	defer c.releaseSend()
	if c.ending.Load() {
		return c.sendErr()
	}
	c.wbuf = appendFrame(c.wbuf[:0], p)
	if cap(c.wbuf) > 64<<10 {
		defer func() { c.wbuf = nil }() // do not pin a rare huge message
	}
	_ = c.str.SetWriteDeadline(deadline)
	if _, err := c.str.Write(c.wbuf); err != nil {
		err = fmt.Errorf("netcode: webtransport: writing message: %w", err)
		c.fail(wtCodeWrite, err)
		return fmt.Errorf("%w: %w", ErrClosed, err)
	}
	return nil
}

// acquireSend takes the right to write on the stream, giving up at
// deadline or when abort is closed (nil: never).
func (c *wtConn) acquireSend(deadline time.Time, abort <-chan struct{}) bool {
	select {
	case c.sendSem <- struct{}{}:
		return true
	default:
	}
	t := time.NewTimer(time.Until(deadline))
	defer t.Stop()
	select {
	case c.sendSem <- struct{}{}:
		return true
	case <-t.C:
		return false
	case <-abort:
		return false
	}
}

func (c *wtConn) releaseSend() { <-c.sendSem }

// Close flushes the stream, says goodbye and closes the session with code
// 0. It waits at most about FlushTimeout plus a short grace, and returns
// once every goroutine of the connection has exited.
func (c *wtConn) Close() error {
	if c.begin(endReason{local: true, graceful: true, wtCode: wtCodeNormal, msg: "closed"}) {
		c.teardown()
	}
	<-c.finished
	return nil
}

// fail ends the connection because of a local or remote error, in the
// background (the caller may be one of the connection's goroutines).
func (c *wtConn) fail(code webtransport.SessionErrorCode, err error) {
	r := endReason{wtCode: code, msg: err.Error(), err: fmt.Errorf("%w: %w", ErrClosed, err)}
	if c.begin(r) {
		go c.teardown()
	}
}

// peerFinished handles the peer's FIN: it is closing gracefully.
func (c *wtConn) peerFinished() {
	r := endReason{graceful: true, wtCode: wtCodeNormal, msg: "goodbye", err: fmt.Errorf("%w by peer", ErrClosed)}
	if c.begin(r) {
		go c.teardown()
	}
}

func (c *wtConn) teardown() {
	r := c.reason
	close(c.closing)
	if r.local {
		c.markDead(ErrClosed)
		c.stopReading()
	}
	if r.graceful {
		c.finishStream(r.local)
	}
	_ = c.sess.CloseWithError(r.wtCode, r.msg)
	if !r.local {
		c.waitReaderThenKill(c.readerDone, c.cfg.FlushTimeout)
	}
	c.cancel()
	c.releaseQUIC()
	c.wg.Wait()
	if !r.local {
		c.markDead(r.err)
	}
	if c.onClosed != nil {
		c.onClosed()
	}
	close(c.finished)
}

// finishStream sends FIN after any write in progress and, when we are the
// one closing, waits for the peer's FIN (meaning it has read everything),
// all within FlushTimeout.
func (c *wtConn) finishStream(waitPeer bool) {
	deadline := time.Now().Add(c.cfg.FlushTimeout)
	if !c.acquireSend(deadline, nil) {
		return // a writer is stuck; closing the session will reset it
	}
	// The semaphore is kept: nothing may be written after FIN.
	_ = c.str.SetWriteDeadline(deadline)
	if err := c.str.Close(); err != nil || !waitPeer {
		return
	}
	t := time.NewTimer(time.Until(deadline))
	defer t.Stop()
	select {
	case <-c.peerFIN:
	case <-c.readerDone:
	case <-c.sess.Context().Done():
	case <-t.C:
	}
}

// releaseQUIC makes sure the QUIC connection goes away with the session.
// A webtransport-go client closes its QUIC connection when its session
// ends, and so do browsers; a peer that does not is cut off after a short
// grace. (The endpoint allows one session per QUIC connection, so closing
// it affects no one else.) Closing it also unblocks a datagram writer stuck
// in quic-go's SendDatagram.
func (c *wtConn) releaseQUIC() {
	if c.qconn == nil {
		return
	}
	t := time.NewTimer(c.cfg.FlushTimeout)
	defer t.Stop()
	select {
	case <-c.qconn.Context().Done():
	case <-t.C:
		_ = c.qconn.CloseWithError(quic.ApplicationErrorCode(c.reason.wtCode), "session closed")
	}
}

// readStream delivers the control stream's frames until the stream ends.
func (c *wtConn) readStream() {
	defer c.wg.Done()
	defer close(c.readerDone)
	br := bufio.NewReaderSize(c.str, 4096)
	for {
		p, err := readFrame(br, c.readLimit)
		if err != nil {
			c.streamEnded(err)
			return
		}
		if len(p) == 0 {
			continue // no-op frame (the client's opener)
		}
		if c.closedLocally() {
			continue // we are closing: read on only to see the peer's FIN
		}
		c.pushMessage(p)
	}
}

func (c *wtConn) streamEnded(err error) {
	var tooLarge *errFrameTooLarge
	switch {
	case errors.Is(err, io.EOF):
		close(c.peerFIN)
		c.peerFinished()
	case errors.As(err, &tooLarge):
		c.fail(wtCodeProtocol, fmt.Errorf("netcode: webtransport: protocol violation: %w", err))
	case errors.Is(err, io.ErrUnexpectedEOF):
		c.fail(wtCodeProtocol, fmt.Errorf("netcode: webtransport: protocol violation: stream ended inside a frame"))
	default:
		c.fail(wtCodeNormal, describeWTError(err))
	}
}

// describeWTError turns a session or stream error into what the
// application sees after the connection is lost.
func describeWTError(err error) error {
	var se *webtransport.SessionError
	if errors.As(err, &se) && se.Remote {
		return fmt.Errorf("netcode: webtransport: session closed by peer (code %d: %q)", se.ErrorCode, se.Message)
	}
	return fmt.Errorf("netcode: webtransport: connection lost: %w", err)
}

func (c *wtConn) readDatagrams() {
	defer c.wg.Done()
	for {
		p, err := c.sess.ReceiveDatagram(c.ctx)
		if err != nil {
			if c.ctx.Err() == nil {
				c.fail(wtCodeNormal, describeWTError(err))
			}
			return
		}
		if c.ending.Load() {
			continue
		}
		c.pushDatagram(p)
	}
}

func (c *wtConn) writeDatagrams() {
	defer c.wg.Done()
	for {
		select {
		case b := <-c.dgOut:
			err := c.sess.SendDatagram(*b)
			putBuf(b)
			var tooLarge *quic.DatagramTooLargeError
			switch {
			case err == nil:
			case errors.As(err, &tooLarge):
				// The path's datagram size is below our budget for now
				// (before path MTU discovery, or a small-MTU link). The
				// datagram is lost, as it would be on the network.
				c.tooLarge.Add(1)
			default:
				if c.ctx.Err() == nil {
					c.fail(wtCodeNormal, describeWTError(err))
				}
				return
			}
		case <-c.ctx.Done():
			return
		}
	}
}
