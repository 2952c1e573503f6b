//go:build !js

package transport

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"reflect"
	"sync"
	"sync/atomic"
	"time"

	"github.com/quic-go/quic-go"
	"github.com/quic-go/webtransport-go"
)

// This file holds the WebTransport Conn; conn.go the machinery it shares
// with the WebSocket Conn.
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
	wake       receiveWake   // wakes a Receive waiting for a datagram
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
	c.wg.Add(2)
	go c.readStream()
	go c.writeDatagrams()
	return c
}

// Receive implements Conn.Receive. Datagrams are taken from the session
// on the caller's goroutine: no reader goroutine and queue stand between
// quic-go and the caller, which at one datagram a tick per connection
// saves a goroutine wake-up and a channel hand-off per datagram. The
// stream reader queues reliable messages (rare: the welcome, rosters, a
// goodbye) and wakes a Receive waiting for a datagram; those are
// returned first. Once teardown begins, Receive returns what the stream
// reader queued, then the end (connCore.Receive).
func (c *wtConn) Receive(ctx context.Context) ([]byte, bool, error) {
	if c.closedLocally() {
		return nil, false, ErrClosed
	}
	for !c.ending.Load() {
		wake := c.wake.get(ctx)
		if c.ending.Load() {
			break // teardown's wake may have come before get
		}
		select {
		case r := <-c.in:
			return r.p, r.reliable, nil
		default:
		}
		p, err := c.sess.ReceiveDatagram(wake)
		if err == nil {
			return p, false, nil
		}
		if ctx.Err() != nil {
			return nil, false, ctx.Err()
		}
		if wake.Err() != nil {
			continue // a message was queued, or teardown began
		}
		c.fail(wtCodeNormal, describeWTError(err))
	}
	return c.connCore.Receive(ctx)
}

// receiveWake is the context a Receive waits for a datagram with: the
// caller's, cancelled also when a reliable message is queued or the
// connection ends. It is made again only after it was cancelled or for
// another caller's context, so a Receive allocates nothing in steady
// state.
type receiveWake struct {
	mu     sync.Mutex
	parent context.Context
	ctx    context.Context
	cancel context.CancelFunc
}

func (w *receiveWake) get(parent context.Context) context.Context {
	w.mu.Lock()
	defer w.mu.Unlock()
	// A context whose dynamic type is not comparable (none of the
	// standard library's) gets a fresh child each time.
	same := w.ctx != nil && reflect.TypeOf(parent).Comparable() && w.parent == parent
	if !same || w.ctx.Err() != nil {
		if w.cancel != nil {
			w.cancel()
		}
		w.ctx, w.cancel = context.WithCancel(parent)
		w.parent = parent
	}
	return w.ctx
}

// wake makes a waiting Receive look again at the message queue and the
// connection's state.
func (w *receiveWake) wake() {
	w.mu.Lock()
	if w.cancel != nil {
		w.cancel()
	}
	w.mu.Unlock()
}

func (c *wtConn) Kind() Kind           { return WebTransport }
func (c *wtConn) RemoteAddr() net.Addr { return c.sess.RemoteAddr() }

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
	c.wake.wake() // Receive switches to connCore.Receive
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
	// Wake the datagram writer if it waits on an empty queue; a full one
	// means it is busy and will see ctx done after its datagram.
	select {
	case c.dgOut <- nil:
	default:
	}
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
		c.wake.wake()
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

// isDatagramTooLarge reports whether quic-go refused a datagram for the
// path's size. (Declared in the writer's loop, the target of errors.As
// escaped to the heap: an allocation per datagram sent.)
func isDatagramTooLarge(err error) bool {
	var tooLarge *quic.DatagramTooLargeError
	return errors.As(err, &tooLarge)
}

// writeDatagrams hands queued datagrams to quic-go until teardown. It
// waits on the queue alone, not in a select with the teardown signal (a
// select locks every channel it waits on, once per datagram): teardown
// wakes it with a nil buffer, or it sees ctx done after a datagram.
func (c *wtConn) writeDatagrams() {
	defer c.wg.Done()
	done := c.ctx.Done()
	for {
		b := <-c.dgOut
		if b == nil {
			return // teardown's wake-up
		}
		err := c.sess.SendDatagram(*b)
		putBuf(b)
		switch {
		case err == nil:
		case isDatagramTooLarge(err):
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
		select {
		case <-done:
			return
		default:
		}
	}
}
