//go:build !js

package transport

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"

	"github.com/quic-go/quic-go"
)

// Socket is one UDP socket shared by many native WebTransport
// connections (DialOptions.Socket). A process that runs a crowd of client
// sessions, such as the bot swarm, then reads every connection's packets
// with one goroutine, several packets per system call, instead of a
// socket, a reader goroutine and a system call per packet for each
// connection. The server sees the same connections (QUIC tells them apart
// by connection ID), all from one address.
type Socket struct {
	pc net.PacketConn
	qt *quic.Transport
}

// ListenSocket opens a Socket on addr ("127.0.0.1:0", or ":0" for any
// address and port).
func ListenSocket(addr string) (*Socket, error) {
	pc, err := net.ListenPacket("udp", addr)
	if err != nil {
		return nil, fmt.Errorf("netcode: shared udp socket: %w", err)
	}
	return &Socket{pc: pc, qt: &quic.Transport{Conn: pc}}, nil
}

// Close closes the socket and every connection still using it.
func (s *Socket) Close() error {
	err := s.qt.Close()
	if cerr := s.pc.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("netcode: closing shared udp socket: %w", err)
	}
	return nil
}

// dialQUIC dials a QUIC connection to addr from the socket (the
// webtransport.Transport.DialAddr hook).
func (s *Socket) dialQUIC(ctx context.Context, addr string, tlsCfg *tls.Config, cfg *quic.Config) (*quic.Conn, error) {
	ua, err := net.ResolveUDPAddr("udp", addr)
	if err != nil {
		return nil, fmt.Errorf("resolving %s: %w", addr, err)
	}
	return s.qt.DialEarly(ctx, ua, tlsCfg, cfg)
}
