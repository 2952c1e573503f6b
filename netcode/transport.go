package netcode

import (
	"context"
	"errors"
	"net"
)

// TransportKind names what carries a Conn.
type TransportKind string

const (
	WebTransport TransportKind = "webtransport"
	WebSocket    TransportKind = "websocket"
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
	// Receive returns the next packet from either channel. The slice is
	// owned by the caller.
	Receive(ctx context.Context) ([]byte, error)
	// Close closes the connection; pending reliable messages are flushed
	// first, within a short deadline.
	Close() error
	// Kind says which transport carries this connection.
	Kind() TransportKind
	// RemoteAddr is the peer's address.
	RemoteAddr() net.Addr
}

// ErrDropped is returned by SendDatagram when the datagram was dropped
// because the send queue is full.
var ErrDropped = errors.New("netcode: datagram dropped, send queue full")
