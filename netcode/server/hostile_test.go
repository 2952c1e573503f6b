package server_test

import (
	"bytes"
	"context"
	"errors"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/tickwire/tickwire/netcode/server"
	"github.com/tickwire/tickwire/netcode/server/servertest"
	"github.com/tickwire/tickwire/netcode/transport"
	"github.com/tickwire/tickwire/netcode/wire"
	pb "github.com/tickwire/tickwire/proto/tickwire/v1"
)

func dialRaw(t *testing.T, srv *server.Server, kind transport.Kind) transport.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := transport.Dial(ctx, srv.URL(), transport.DialOptions{Transport: kind, TrustServerCertHash: true})
	if err != nil {
		t.Fatalf("dial %s: %v", kind, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func sendHello(t *testing.T, c transport.Conn, version uint32) {
	t.Helper()
	hello := wire.MarshalControl(&pb.Packet{Body: &pb.Packet_Hello{Hello: &pb.ClientHello{ProtocolVersion: version, PlayerName: "hostile"}}})
	if err := c.SendMessage(hello); err != nil {
		t.Fatal(err)
	}
}

// expectDisconnect reads until the server's Disconnect arrives and checks
// its reason; the connection must then end.
func expectDisconnect(t *testing.T, c transport.Conn, want pb.DisconnectReason) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	raw, err := receiveKind(ctx, c, wire.KindDisconnect)
	if err != nil {
		t.Fatalf("connection ended without a disconnect %v: %v", want, err)
	}
	p, err := wire.UnmarshalControl(raw)
	if err != nil {
		t.Fatal(err)
	}
	if got := p.GetDisconnect().GetReason(); got != want {
		t.Fatalf("disconnect reason = %v (%q), want %v", got, p.GetDisconnect().GetText(), want)
	}
	t.Logf("server said: %v: %s", want, p.GetDisconnect().GetText())
	if _, _, err := c.Receive(ctx); err == nil {
		// Late snapshots may still be in flight; the conn must end soon.
		for err == nil {
			_, _, err = c.Receive(ctx)
		}
	}
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		t.Fatal("connection stayed open after the disconnect")
	}
}

// expectClosed checks that the server ends the connection.
func expectClosed(t *testing.T, c transport.Conn) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for {
		if _, _, err := c.Receive(ctx); err != nil {
			if ctx.Err() != nil {
				t.Fatal("server did not close the connection")
			}
			return
		}
	}
}

// TestHostileClientsAreRefusedWithoutDisturbingOthers runs every kind of
// bad client against one server while honest clients play, and checks
// that each bad client is refused with the right reason and that the
// honest clients' snapshots arrive without a gap.
func TestHostileClientsAreRefusedWithoutDisturbingOthers(t *testing.T) {
	srv := servertest.Start(t, &server.Server{HandshakeTimeout: 500 * time.Millisecond})
	honest := []*player{
		connectPlayer(t, srv, "honest-wt", transport.WebTransport),
		connectPlayer(t, srv, "honest-ws", transport.WebSocket),
	}
	for _, p := range honest {
		p.waitSeen(t)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	randomBytes := func() []byte {
		b := make([]byte, 1+rng.IntN(600))
		for i := range b {
			b[i] = byte(rng.UintN(256))
		}
		return b
	}

	for _, kind := range []transport.Kind{transport.WebTransport, transport.WebSocket} {
		t.Run(string(kind), func(t *testing.T) {
			t.Run("WrongProtocolVersion", func(t *testing.T) {
				c := dialRaw(t, srv, kind)
				sendHello(t, c, wire.ProtocolVersion+1)
				expectDisconnect(t, c, pb.DisconnectReason_DISCONNECT_REASON_VERSION_MISMATCH)
			})
			t.Run("RandomBytesInsteadOfHello", func(t *testing.T) {
				c := dialRaw(t, srv, kind)
				if err := c.SendMessage(append([]byte{0xff}, randomBytes()...)); err != nil {
					t.Fatal(err)
				}
				expectDisconnect(t, c, pb.DisconnectReason_DISCONNECT_REASON_PROTOCOL_VIOLATION)
			})
			t.Run("RandomDatagramsAndMessagesAfterHello", func(t *testing.T) {
				c := dialRaw(t, srv, kind)
				sendHello(t, c, wire.ProtocolVersion)
				for i := 0; i < 200; i++ {
					// A leading 0xff is never a valid packet tag, so each
					// of these is malformed for sure.
					b := append([]byte{0xff}, randomBytes()...)
					if i%2 == 0 {
						_ = c.SendDatagram(b[:min(len(b), transport.MaxDatagramSize)])
					} else if err := c.SendMessage(b); err != nil {
						break // the server may already have closed us
					}
				}
				expectDisconnect(t, c, pb.DisconnectReason_DISCONNECT_REASON_PROTOCOL_VIOLATION)
			})
			t.Run("OversizedMessage", func(t *testing.T) {
				c := dialRaw(t, srv, kind)
				sendHello(t, c, wire.ProtocolVersion)
				_ = c.SendMessage(bytes.Repeat([]byte{0x1a}, transport.MaxClientMessageSize+1))
				expectClosed(t, c)
			})
			t.Run("NeverCompletesHandshake", func(t *testing.T) {
				c := dialRaw(t, srv, kind)
				expectClosed(t, c)
			})
		})
	}

	if srv.MalformedPackets() == 0 || srv.RefusedHandshakes() < 4 {
		t.Errorf("server counted %d malformed packets and %d refused handshakes", srv.MalformedPackets(), srv.RefusedHandshakes())
	}
	for _, p := range honest {
		p.mu.Lock()
		ticks := append([]uint32(nil), p.ticks...)
		p.mu.Unlock()
		if len(ticks) < 10 {
			t.Fatalf("%s received only %d snapshots", p.Transport(), len(ticks))
		}
		for i := 1; i < len(ticks); i++ {
			if ticks[i] != ticks[i-1]+1 {
				t.Errorf("%s: snapshot gap between ticks %d and %d", p.Transport(), ticks[i-1], ticks[i])
			}
		}
		if err := p.Err(); err != nil {
			t.Errorf("%s honest client was disconnected: %v", p.Transport(), err)
		}
	}
}
