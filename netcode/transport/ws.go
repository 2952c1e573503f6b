//go:build !js

package transport

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"time"

	"github.com/gorilla/websocket"
)

// WebSocket wire format: every packet is one binary WebSocket message,
// whichever method sent it; a text message is a protocol violation.
// Everything is reliable and ordered (TCP), so "datagrams" are never lost
// in transit, only dropped at the sender when its queue is full.
//
// Close drains the send queue, sends a close frame (1000) and waits a
// moment for the peer's close frame before closing the TCP connection, so
// that a last message (a Disconnect) is read before the socket goes away.

// maxCloseText is the most text a close frame carries (125 bytes of
// payload less the 2-byte code).
const maxCloseText = 123

// wsConn is a Conn over a gorilla WebSocket connection. One reader
// goroutine feeds the receive queue; one writer goroutine serves the send
// queue, so a slow peer never blocks a sender for longer than it agreed to.
type wsConn struct {
	connCore
	ws  *websocket.Conn
	cfg ConnConfig

	out           chan *[]byte  // send queue (datagrams and messages alike)
	closing       chan struct{} // teardown has begun: the writer finishes, waiting senders give up
	flushDeadline time.Time     // set before closing is closed
	writerDone    chan struct{}
	readerDone    chan struct{}
}

var _ Conn = (*wsConn)(nil)

// newWSConn starts the goroutines of a connection over ws. A received
// message longer than readLimit closes the connection (gorilla checks the
// frame header before reading the payload, and sends close code 1009).
func newWSConn(ws *websocket.Conn, cfg ConnConfig, readLimit int) *wsConn {
	cfg = cfg.withDefaults()
	ws.SetReadLimit(int64(readLimit))
	c := &wsConn{
		connCore:   newConnCore(cfg),
		ws:         ws,
		cfg:        cfg,
		out:        make(chan *[]byte, cfg.SendQueue),
		closing:    make(chan struct{}),
		writerDone: make(chan struct{}),
		readerDone: make(chan struct{}),
	}
	c.wg.Add(2)
	go c.readLoop()
	go c.writeLoop()
	return c
}

func (c *wsConn) Kind() Kind           { return WebSocket }
func (c *wsConn) RemoteAddr() net.Addr { return c.ws.RemoteAddr() }

// SendDatagram queues p without waiting; ErrDropped when the queue is
// full (the peer or the network is not keeping up).
func (c *wsConn) SendDatagram(p []byte) error {
	if err := c.checkSend(p); err != nil {
		return err
	}
	return enqueueOrDrop(c.out, p, &c.droppedOut)
}

// SendMessage queues p, waiting up to WriteTimeout for room. If the queue
// stays full that long the peer is not reading: the connection is closed.
//
// A send that races with Close may be accepted and then not delivered;
// callers that need a last message delivered send it before Close.
func (c *wsConn) SendMessage(p []byte) error {
	if err := c.checkSend(p); err != nil {
		return err
	}
	b := getBuf(p)
	select {
	case c.out <- b:
		return nil
	default:
	}
	t := time.NewTimer(c.cfg.WriteTimeout)
	defer t.Stop()
	select {
	case c.out <- b:
		return nil
	case <-c.closing:
		putBuf(b)
		return c.sendErr()
	case <-t.C:
		putBuf(b)
		err := fmt.Errorf("netcode: websocket: send queue full for %v", c.cfg.WriteTimeout)
		c.fail(endReason{err: fmt.Errorf("%w: %w", ErrClosed, err)})
		return fmt.Errorf("%w: %w", ErrClosed, err)
	}
}

func (c *wsConn) checkSend(p []byte) error {
	if len(p) == 0 {
		return errors.New("netcode: empty message")
	}
	if len(p) > MaxServerMessageSize {
		return fmt.Errorf("%w: message of %d bytes, limit %d", ErrTooLarge, len(p), MaxServerMessageSize)
	}
	if c.ending.Load() {
		return c.sendErr()
	}
	return nil
}

// Close sends what is queued and a close frame, waits up to FlushTimeout
// for the peer's close frame, closes the socket and returns once every
// goroutine of the connection has exited.
func (c *wsConn) Close() error {
	if c.begin(endReason{local: true, graceful: true, wsCode: websocket.CloseNormalClosure, msg: "closed"}) {
		c.teardown()
	}
	<-c.finished
	return nil
}

// fail ends the connection in the background (the caller may be one of
// its goroutines).
func (c *wsConn) fail(r endReason) {
	if c.begin(r) {
		go c.teardown()
	}
}

func (c *wsConn) teardown() {
	r := c.reason
	if r.local {
		c.markDead(ErrClosed)
		c.stopReading()
	}
	c.flushDeadline = time.Now().Add(c.cfg.FlushTimeout)
	close(c.closing)
	// Wake the writer if it waits on an empty queue; with a full one it is
	// busy and sees closing after its message.
	select {
	case c.out <- nil:
	default:
	}
	if r.local {
		// The writer flushes and sends the close frame; the reader ends
		// when the peer's close frame arrives.
		t := time.NewTimer(time.Until(c.flushDeadline))
		select {
		case <-c.readerDone:
		case <-t.C:
		}
		t.Stop()
	} else if r.wsCode != 0 {
		// WriteControl may run alongside the writer's WriteMessage.
		_ = c.ws.WriteControl(websocket.CloseMessage, closeMessage(r), c.flushDeadline)
	}
	_ = c.ws.Close() // the TCP connection: unblocks the reader and writer
	if !r.local {
		c.waitReaderThenKill(c.readerDone, c.cfg.FlushTimeout)
	}
	c.wg.Wait()
	if !r.local {
		c.markDead(r.err)
	}
	close(c.finished)
}

func (c *wsConn) readLoop() {
	defer c.wg.Done()
	defer close(c.readerDone)
	var (
		idle    deadline
		scratch []byte
	)
	for {
		if d, renew := idle.next(time.Now(), c.cfg.IdleTimeout); renew {
			_ = c.ws.SetReadDeadline(d)
		}
		typ, r, err := c.ws.NextReader()
		if err == nil {
			scratch, err = readMessage(r, scratch[:0])
		}
		if err != nil {
			c.readEnded(err)
			return
		}
		if typ != websocket.BinaryMessage {
			err := errors.New("netcode: websocket: protocol violation: text message")
			c.fail(endReason{wsCode: websocket.CloseUnsupportedData, msg: "binary messages only", err: fmt.Errorf("%w: %w", ErrClosed, err)})
			return
		}
		if c.closedLocally() {
			continue // we are closing: read on only to see the peer's close frame
		}
		c.pushMessage(bytes.Clone(scratch)) // every WebSocket packet is reliable
	}
}

func (c *wsConn) readEnded(err error) {
	var ce *websocket.CloseError
	var ne net.Error
	switch {
	case errors.As(err, &ce) && (ce.Code == websocket.CloseNormalClosure || ce.Code == websocket.CloseGoingAway):
		// gorilla has already answered with a close frame.
		c.fail(endReason{graceful: true, err: fmt.Errorf("%w by peer", ErrClosed)})
	case errors.As(err, &ce):
		c.fail(endReason{err: fmt.Errorf("%w: netcode: websocket: closed by peer (code %d: %q)", ErrClosed, ce.Code, ce.Text)})
	case errors.Is(err, websocket.ErrReadLimit):
		// gorilla has already sent close code 1009.
		c.fail(endReason{err: fmt.Errorf("%w: netcode: websocket: protocol violation: %w", ErrClosed, err)})
	case errors.As(err, &ne) && ne.Timeout():
		c.fail(endReason{err: fmt.Errorf("%w: netcode: websocket: nothing received for %v", ErrClosed, c.cfg.IdleTimeout)})
	default:
		c.fail(endReason{err: fmt.Errorf("%w: netcode: websocket: connection lost: %w", ErrClosed, err)})
	}
}

func (c *wsConn) writeLoop() {
	defer c.wg.Done()
	defer close(c.writerDone)
	var stuck deadline
	for {
		// The queue alone, not a select with closing (a select locks
		// every channel it waits on, once per message): teardown wakes
		// an idle writer with a nil buffer, a busy one sees closing after
		// its message.
		b := <-c.out
		if b == nil {
			c.finish()
			return
		}
		if d, renew := stuck.next(time.Now(), c.cfg.WriteTimeout); renew {
			_ = c.ws.SetWriteDeadline(d)
		}
		err := c.write(*b)
		putBuf(b)
		if err != nil {
			c.fail(endReason{err: fmt.Errorf("%w: netcode: websocket: writing: %w", ErrClosed, err)})
			return
		}
		select {
		case <-c.closing:
			c.finish()
			return
		default:
		}
	}
}

// finish runs on the writer when teardown begins. On a local Close it
// drains the queue and sends the close frame; otherwise the peer is gone
// or hostile and what is queued is dropped.
func (c *wsConn) finish() {
	r := c.reason
	if !r.local {
		return
	}
	_ = c.ws.SetWriteDeadline(c.flushDeadline)
	for {
		select {
		case b := <-c.out:
			if b == nil {
				continue // teardown's wake-up
			}
			err := c.write(*b)
			putBuf(b)
			if err != nil {
				return
			}
		default:
			_ = c.ws.WriteControl(websocket.CloseMessage, closeMessage(r), c.flushDeadline)
			return
		}
	}
}

func closeMessage(r endReason) []byte {
	msg := r.msg
	if len(msg) > maxCloseText {
		msg = msg[:maxCloseText]
	}
	return websocket.FormatCloseMessage(r.wsCode, msg)
}

func (c *wsConn) write(p []byte) error {
	return c.ws.WriteMessage(websocket.BinaryMessage, p)
}

// readMessage appends the rest of a message to buf. gorilla bounds its
// length by the connection's read limit.
func readMessage(r io.Reader, buf []byte) ([]byte, error) {
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return buf, err
		}
	}
}

// deadline is a socket deadline renewed only when less than 7/8 of its
// timeout is left, instead of before every read or write: a deadline
// change is a timer update, which at a packet per tick per connection
// costs more than the packet's own system call. A connection is then
// ended after 7/8 to 8/8 of the timeout.
type deadline struct{ at time.Time }

func (d *deadline) next(now time.Time, timeout time.Duration) (time.Time, bool) {
	if d.at.Sub(now) >= timeout-timeout/8 {
		return d.at, false
	}
	d.at = now.Add(timeout)
	return d.at, true
}
