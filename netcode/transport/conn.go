//go:build !js

package transport

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/quic-go/webtransport-go"
)

// The machinery both native transports share: the merged receive queue,
// the terminal error, the teardown bookkeeping and the send buffers.
// (ConnConfig, which the browser's transports use too, is in transport.go.)

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
	// receive queue was full (the application did not keep up). A native
	// WebTransport Conn hands datagrams straight from quic-go's queues to
	// Receive; those queues (32 datagrams per session in http3) drop
	// uncounted, so it stays 0 there.
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
	in       chan received
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
		in:       make(chan received, cfg.ReceiveQueue),
		dead:     make(chan struct{}),
		finished: make(chan struct{}),
		stopRead: make(chan struct{}),
	}
}

// Receive implements Conn.Receive for both native Conns.
func (c *connCore) Receive(ctx context.Context) ([]byte, bool, error) {
	if c.closedLocally() {
		return nil, false, ErrClosed
	}
	select {
	case r := <-c.in:
		return r.p, r.reliable, nil
	default:
	}
	select {
	case r := <-c.in:
		return r.p, r.reliable, nil
	case <-c.dead:
		// Packets queued before the end come first.
		select {
		case r := <-c.in:
			if c.reason.local {
				return nil, false, ErrClosed
			}
			return r.p, r.reliable, nil
		default:
			return nil, false, c.terminalErr()
		}
	case <-ctx.Done():
		return nil, false, ctx.Err()
	}
}

// pushMessage queues a reliable packet, waiting for room (which pushes
// back on the peer through flow control) unless reading has been stopped.
func (c *connCore) pushMessage(p []byte) {
	select {
	case c.in <- received{p, true}:
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

// Stats returns the connection's drop counters (see StatsOf).
func (c *connCore) Stats() ConnStats {
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
