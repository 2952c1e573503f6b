package transport

import (
	"context"
	"errors"
	"net"
	"time"
)

// Kind names what carries a Conn.
type Kind string

const (
	WebTransport Kind = "webtransport"
	WebSocket    Kind = "websocket"
)

// Paths the endpoint serves.
const (
	PathWebTransport = "/wt"        // HTTP/3 (UDP): WebTransport sessions
	PathWebSocket    = "/ws"        // HTTP/1.1 (TCP): WebSocket upgrades
	PathCertHash     = "/cert-hash" // HTTP (TCP): CertHashDoc as JSON
)

// Size limits every transport enforces.
const (
	// MaxDatagramSize is the largest datagram payload Tickwire sends. The
	// smallest path seen (Chromium over loopback) carried 1215 bytes; 1150
	// leaves room for QUIC and HTTP/3 framing.
	MaxDatagramSize = 1150
	// MaxClientMessageSize bounds any single message a server accepts from
	// a client, on either channel. Client messages are small (the hello is
	// the largest); anything bigger is hostile.
	MaxClientMessageSize = 4 << 10
	// MaxServerMessageSize bounds a message a client accepts from a server
	// (a full snapshot over WebSocket can be tens of kilobytes).
	MaxServerMessageSize = 1 << 20
)

// ErrClosed is returned by a Conn's methods after it has been closed.
var ErrClosed = errors.New("netcode: connection closed")

// Conn is one peer connection: unreliable, unordered datagrams plus one
// reliable, ordered message channel. Packets are self-describing
// (proto/tickwire/v1 Packet), so Receive merges both channels.
//
// Send methods may be called from several goroutines; Receive from one.
type Conn interface {
	// SendDatagram sends p unreliably. It never blocks on the network: when
	// the send queue is full the datagram is dropped and ErrDropped
	// returned. p may be reused as soon as it returns.
	SendDatagram(p []byte) error
	// SendMessage sends p reliably and in order. It may block until the
	// message is queued, but never longer than the transport's write
	// timeout. p may be reused as soon as it returns.
	SendMessage(p []byte) error
	// Receive returns the next packet from either channel, and whether it
	// came on the reliable one (over WebSocket, everything does). The
	// slice is owned by the caller.
	Receive(ctx context.Context) (p []byte, reliable bool, err error)
	// Close closes the connection; pending reliable messages are flushed
	// first, within a short deadline.
	Close() error
	// Kind says which transport carries this connection.
	Kind() Kind
	// RemoteAddr is the peer's address.
	RemoteAddr() net.Addr
}

// ErrDropped is returned by SendDatagram when the datagram was dropped
// because the send queue is full.
var ErrDropped = errors.New("netcode: datagram dropped, send queue full")

// ConnConfig tunes a connection's queues and timeouts. The zero value
// gives the defaults documented per field.
type ConnConfig struct {
	// WriteTimeout bounds how long SendMessage waits for room in the send
	// queue or on the wire; when it passes, the connection is closed.
	// Default 5s.
	WriteTimeout time.Duration
	// IdleTimeout closes a connection that has received nothing for this
	// long (QUIC's idle timeout; the WebSocket read deadline). The session
	// protocol pings every second, so this is only a backstop. Default 30s.
	IdleTimeout time.Duration
	// FlushTimeout bounds Close: sending what is queued and waiting for the
	// peer's goodbye. Default 1s.
	FlushTimeout time.Duration
	// SendQueue is how many outgoing datagrams (WebTransport) or messages
	// (WebSocket) may wait for the writer; beyond it SendDatagram drops.
	// Default 64.
	SendQueue int
	// ReceiveQueue is how many received packets may wait for Receive;
	// beyond it the reliable channel pushes back on the peer. Over native
	// WebTransport only reliable messages wait there: Receive takes
	// datagrams from quic-go's own queues, which drop what a slow reader
	// leaves. Default 256.
	ReceiveQueue int
}

func (c ConnConfig) withDefaults() ConnConfig {
	if c.WriteTimeout <= 0 {
		c.WriteTimeout = 5 * time.Second
	}
	if c.IdleTimeout <= 0 {
		c.IdleTimeout = 30 * time.Second
	}
	if c.FlushTimeout <= 0 {
		c.FlushTimeout = time.Second
	}
	if c.SendQueue <= 0 {
		c.SendQueue = 64
	}
	if c.ReceiveQueue <= 0 {
		c.ReceiveQueue = 256
	}
	return c
}

// received is one packet in the receive queue, with the channel it came
// on.
type received struct {
	p        []byte
	reliable bool
}
