package server

import (
	"context"
	"log/slog"
	"net"
	"testing"
	"time"

	"github.com/tickwire/tickwire/game"
	"github.com/tickwire/tickwire/netcode/transport"
)

// discardConn is a Conn that accepts and forgets everything.
type discardConn struct{ kind transport.Kind }

func (discardConn) SendDatagram([]byte) error { return nil }
func (discardConn) SendMessage([]byte) error  { return nil }
func (discardConn) Receive(context.Context) ([]byte, bool, error) {
	return nil, false, transport.ErrClosed
}
func (discardConn) Close() error           { return nil }
func (c discardConn) Kind() transport.Kind { return c.kind }
func (discardConn) RemoteAddr() net.Addr   { return &net.UDPAddr{} }

// BenchmarkRoomOnTick is the room's per-tick work after the step: every
// one of 32 sessions gets its snapshot through a metered conn, and the
// tick's duration goes to the histogram. 0 allocs/op in steady state.
func BenchmarkRoomOnTick(b *testing.B) {
	srv := &Server{Logger: slog.New(slog.DiscardHandler)}
	if err := srv.init(); err != nil {
		b.Fatal(err)
	}
	r, err := srv.newRoom(RoomOptions{ID: "bench"})
	if err != nil {
		b.Fatal(err)
	}
	world := game.NewWorld(game.Config{})
	for i := 0; i < 32; i++ {
		kind := []transport.Kind{transport.WebTransport, transport.WebSocket}[i%2]
		e, err := world.AddPlayer()
		if err != nil {
			b.Fatal(err)
		}
		ss := &session{id: uint64(i), entity: e, room: r, log: srv.log,
			conn: &meteredConn{Conn: discardConn{kind}, m: srv.metrics.transports[kind]}}
		ss.out.init(srv, kind)
		r.addSession(ss)
	}
	hist := game.NewHistory(game.DefaultHistoryTicks)
	var snap game.Snapshot
	tick := func() {
		world.Step(nil)
		world.Snapshot(&snap)
		hist.Add(&snap)
		cur := hist.Latest()
		for _, ss := range r.currentSessions() {
			ss.ackTick.Store(cur.Tick - 2) // clients ack two ticks back
		}
		r.OnTick(cur, hist)
		r.ObserveTick(time.Millisecond)
	}
	for range 200 { // grow every buffer
		tick()
	}
	b.ReportAllocs()
	for b.Loop() {
		tick()
	}
}
