package server

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"testing"
	"time"

	"github.com/tickwire/tickwire/game"
	"github.com/tickwire/tickwire/netcode/internal/arenatest"
	"github.com/tickwire/tickwire/netcode/snapshot"
	"github.com/tickwire/tickwire/netcode/transport"
	"github.com/tickwire/tickwire/netcode/wire"
)

// sinkConn is a Conn that keeps (or only counts) what is sent on it.
type sinkConn struct {
	kind      transport.Kind
	keep      bool
	full      bool // the send queue is full: datagrams are dropped
	datagrams [][]byte
	sent      int
	bytes     int
}

func (c *sinkConn) SendDatagram(p []byte) error {
	if c.full {
		return transport.ErrDropped
	}
	c.sent++
	c.bytes += len(p)
	if c.keep {
		c.datagrams = append(c.datagrams, bytes.Clone(p))
	}
	return nil
}
func (c *sinkConn) SendMessage([]byte) error { return nil }
func (c *sinkConn) Receive(context.Context) ([]byte, bool, error) {
	return nil, false, transport.ErrClosed
}
func (c *sinkConn) Close() error         { return nil }
func (c *sinkConn) Kind() transport.Kind { return c.kind }
func (c *sinkConn) RemoteAddr() net.Addr { return &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)} }

// fakeRoom is the fan-out's view of a room: its rules and input leads.
type fakeRoom struct{ params game.Params }

func (r fakeRoom) Params() game.Params { return r.params }
func (r fakeRoom) InputLead(id game.EntityID) (game.InputLead, bool) {
	return game.InputLead{Mean: time.Duration(id%50) * time.Millisecond, Dev: time.Duration(id%5) * time.Millisecond, Backlog: int(id % 3)}, id%7 != 0
}

// fanoutFixture is a warm world in a game.History and one session per
// player, each acknowledging a tick a few ticks back (some none, some
// beyond the history), alternating transports.
type fanoutFixture struct {
	world    *arenatest.World
	history  *game.History
	sessions []*session
	conns    []*sinkConn
	room     *fakeRoom
}

func newFanoutFixture(tb testing.TB, players int, keep bool) *fanoutFixture {
	tb.Helper()
	fx := &fanoutFixture{world: arenatest.NewWorld(3, players), history: game.NewHistory(game.DefaultHistoryTicks)}
	fx.world.Churn = 0.02
	for range 100 {
		fx.step()
	}
	fx.room = &fakeRoom{fx.world.Params}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	for i, pl := range fx.world.Snapshot().Players {
		kind := transport.WebTransport
		if i%4 == 3 {
			kind = transport.WebSocket
		}
		c := &sinkConn{kind: kind, keep: keep}
		ss := &session{id: uint64(i + 1), entity: pl.ID, conn: c, log: log}
		ss.out.init(nil, kind)
		fx.sessions, fx.conns = append(fx.sessions, ss), append(fx.conns, c)
	}
	return fx
}

func (fx *fanoutFixture) step() {
	fx.world.Step()
	fx.history.Add(fx.world.Snapshot())
}

// tickOne steps the world and runs the fan-out for session i alone, with
// its ack set to ack; it returns the tick and the header of the snapshot
// sent (sent false: nothing was).
func (fx *fanoutFixture) tickOne(t *testing.T, f *snapshotFanout, i int, ack uint32) (tick uint32, h wire.SnapshotHeader, sent bool) {
	t.Helper()
	fx.step()
	cur := fx.history.Latest()
	conn := fx.conns[i]
	conn.datagrams = conn.datagrams[:0]
	fx.sessions[i].ackTick.Store(ack)
	f.tick(cur, fx.history, fx.sessions[i:i+1], fx.room, 0)
	if len(conn.datagrams) == 0 {
		return cur.Tick, h, false
	}
	_, body, err := wire.SplitPacket(conn.datagrams[0])
	if err != nil {
		t.Fatal(err)
	}
	if _, err := wire.DecodeSnapshotPacket(body, &h); err != nil {
		t.Fatal(err)
	}
	return cur.Tick, h, true
}

// ack sets each session's acknowledged tick the way a 30 Hz client with
// a ~60-100 ms round trip has it: 2 to 4 ticks back; every 10th has not
// acknowledged anything (joining) and every 25th fell behind the history.
func (fx *fanoutFixture) ack(cur uint32, spread bool) {
	for i, ss := range fx.sessions {
		ack := cur - 2 - uint32(i%3)
		switch {
		case !spread:
		case i%10 == 9:
			ack = 0
		case i%25 == 12:
			ack = cur - game.DefaultHistoryTicks - 5
		case i%5 == 1:
			ack = cur - 1 - uint32(i%40) // anywhere in the history
		}
		ss.ackTick.Store(ack)
	}
}

// referenceSend is the fan-out as it was, one client at a time: encode
// with the session's own encoder (AOI applied by Encode), envelope,
// fragments. The fan-out must send exactly these bytes.
func referenceSend(t *testing.T, ss *session, enc *snapshot.Encoder, cur, base *game.Snapshot, room fanoutRoom) [][]byte {
	t.Helper()
	hdr := wire.SnapshotHeader{ServerTick: cur.Tick}
	ownState(&hdr, cur, ss.entity)
	if base != nil {
		hdr.BaselineTick = base.Tick
	}
	if lead, ok := room.InputLead(ss.entity); ok {
		setLead(&hdr, lead)
	}
	payload, err := enc.Encode(nil, cur, base, ss.entity)
	if err != nil {
		t.Fatal(err)
	}
	if ss.out.reliable || len(payload) <= fragmentPayloadSize {
		return [][]byte{wire.AppendSnapshotPacket(nil, &hdr, payload)}
	}
	var out [][]byte
	count := (len(payload) + fragmentPayloadSize - 1) / fragmentPayloadSize
	hdr.FragmentCount = uint32(count)
	for i := range count {
		hdr.FragmentIndex = uint32(i)
		out = append(out, wire.AppendSnapshotPacket(nil, &hdr, payload[i*fragmentPayloadSize:min(len(payload), (i+1)*fragmentPayloadSize)]))
	}
	return out
}

func TestFanoutSendsWhatEachClientsOwnEncodingWould(t *testing.T) {
	for _, tc := range []struct {
		players int
		aoi     float64
	}{{60, 0}, {250, 0}, {250, 300}, {120, 40}} {
		t.Run(fmt.Sprintf("players=%d/aoi=%v", tc.players, tc.aoi), func(t *testing.T) {
			fx := newFanoutFixture(t, tc.players, true)
			var f snapshotFanout
			ref := snapshot.Encoder{Params: fx.world.Params, AOIRadius: tc.aoi}
			for range 40 {
				fx.step()
				cur := fx.history.Latest()
				fx.ack(cur.Tick, true)
				bases := make([]*game.Snapshot, len(fx.sessions))
				for i, ss := range fx.sessions {
					fx.conns[i].datagrams = fx.conns[i].datagrams[:0]
					bases[i] = ss.out.baseline(ss.ackTick.Load(), ss.staleAcks.Load(), cur, fx.history, rulesFor(fx.world.Params.TickRate))
				}
				f.tick(cur, fx.history, fx.sessions, fx.room, tc.aoi)
				for i, ss := range fx.sessions {
					want := referenceSend(t, ss, &ref, cur, bases[i], fx.room)
					got := fx.conns[i].datagrams
					if len(got) != len(want) {
						t.Fatalf("tick %d session %d: %d datagrams, want %d", cur.Tick, i, len(got), len(want))
					}
					for k := range want {
						if !bytes.Equal(got[k], want[k]) {
							t.Fatalf("tick %d session %d (ack %d): datagram %d differs", cur.Tick, i, ss.ackTick.Load(), k)
						}
					}
				}
			}
		})
	}
}

func TestFanoutEncodesOncePerBaselineWithoutAOI(t *testing.T) {
	fx := newFanoutFixture(t, 90, false)
	var f snapshotFanout
	fx.step()
	cur := fx.history.Latest()
	fx.ack(cur.Tick, false) // three distinct baselines
	f.tick(cur, fx.history, fx.sessions, fx.room, 0)
	if f.nShared != 3 {
		t.Fatalf("%d encodings for 90 clients acking 3 distinct ticks, want 3", f.nShared)
	}
}

func TestFanoutAllocatesNothingOnceWarm(t *testing.T) {
	for _, aoi := range []float64{0, 350} {
		fx := newFanoutFixture(t, 200, false)
		var f snapshotFanout
		ticks := make([]*game.Snapshot, 0, 30)
		for range 30 {
			fx.step()
			ticks = append(ticks, fx.history.Latest())
		}
		warm := func(cur *game.Snapshot) {
			fx.ack(cur.Tick, true)
			f.tick(cur, fx.history, fx.sessions, fx.room, aoi)
		}
		for _, cur := range ticks[10:] {
			warm(cur)
		}
		i := 10
		allocs := testing.AllocsPerRun(20, func() {
			warm(ticks[i%len(ticks[10:])+10])
			i++
		})
		if allocs != 0 {
			t.Fatalf("aoi %v: %v allocations per tick", aoi, allocs)
		}
	}
}

// perClientTick is the fan-out as it was before it was shared: every
// client encoded on its own with Encode (and its whole-world interest
// scan), for comparison in the same benchmark run.
func perClientTick(f *snapshotFanout, enc *snapshot.Encoder, cur *game.Snapshot, h *game.History, sessions []*session, room fanoutRoom) {
	if !f.ready {
		f.setup(room.Params(), enc.AOIRadius)
	}
	for _, ss := range sessions {
		hdr := wire.SnapshotHeader{ServerTick: cur.Tick}
		ownState(&hdr, cur, ss.entity)
		base := ss.out.baseline(ss.ackTick.Load(), ss.staleAcks.Load(), cur, h, f.rules)
		ss.out.chose(base, cur)
		if base != nil {
			hdr.BaselineTick = base.Tick
		}
		if lead, ok := room.InputLead(ss.entity); ok {
			setLead(&hdr, lead)
		}
		payload, err := enc.Encode(f.payload[:0], cur, base, ss.entity)
		if err != nil {
			panic(err)
		}
		f.payload = payload
		f.send(ss, &hdr, payload)
	}
}

// BenchmarkTickFanout is the room's whole per-tick snapshot work for N
// clients, less the transport's send (the connections only count bytes):
// baseline choice, interest filter, encoding, envelopes and fragments.
// Clients ack 2 to 4 ticks back, except that one in five acks anywhere in
// the last 40 ticks, one in ten has no baseline (full snapshots) and one
// in 25 fell behind the history. The per_client cases are the same work
// done the old way, one Encode per client.
func BenchmarkTickFanout(b *testing.B) {
	for _, bc := range []struct {
		name      string
		players   int
		aoi       float64
		perClient bool
		watchers  bool // one session in ten a spectator, one in a hundred with a free camera
	}{
		{"clients=100", 100, 0, false, false},
		{"clients=1000", 1000, 0, false, false},
		{"clients=1000_aoi=400", 1000, 400, false, false},
		{"clients=1000_aoi=400_spectators=100", 1000, 400, false, true},
		{"clients=1000_spectators=100", 1000, 0, false, true},
		{"clients=100/per_client", 100, 0, true, false},
		{"clients=1000/per_client", 1000, 0, true, false},
		{"clients=1000_aoi=400/per_client", 1000, 400, true, false},
	} {
		b.Run(bc.name, func(b *testing.B) {
			fx := newFanoutFixture(b, bc.players, false)
			if bc.watchers {
				for i, ss := range fx.sessions {
					if i%10 == 5 {
						ss.spectator, ss.entity = true, 0
						if i%100 != 5 {
							ss.follow.Store(uint32(fx.sessions[i-1].entity))
						}
					}
				}
			}
			ticks := make([]*game.Snapshot, 0, 40)
			for range 40 {
				fx.step()
				ticks = append(ticks, fx.history.Latest())
			}
			ticks = ticks[8:]
			var f snapshotFanout
			enc := snapshot.Encoder{Params: fx.world.Params, AOIRadius: bc.aoi}
			run := func(cur *game.Snapshot) {
				fx.ack(cur.Tick, true)
				if bc.perClient {
					perClientTick(&f, &enc, cur, fx.history, fx.sessions, fx.room)
					return
				}
				f.tick(cur, fx.history, fx.sessions, fx.room, bc.aoi)
			}
			for _, cur := range ticks {
				run(cur)
			}
			for _, c := range fx.conns {
				c.sent, c.bytes = 0, 0
			}
			b.ReportAllocs()
			n := 0
			for b.Loop() {
				run(ticks[n%len(ticks)])
				n++
			}
			var sent, bytes int
			for _, c := range fx.conns {
				sent += c.sent
				bytes += c.bytes
			}
			b.ReportMetric(float64(bytes)/float64(n*len(fx.conns)), "bytes/client")
			b.ReportMetric(float64(sent)/float64(n*len(fx.conns)), "datagrams/client")
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(n*len(fx.conns)), "ns/client")
		})
	}
}

// TestBaselineIsTheNewestAckStillInHistory: a client's payload is a
// delta against the tick it acknowledged while the history holds it, and
// a full snapshot when it acknowledged nothing or a tick the history has
// dropped (older than 64 ticks).
func TestBaselineIsTheNewestAckStillInHistory(t *testing.T) {
	fx := newFanoutFixture(t, 20, true)
	var f snapshotFanout
	fx.step()
	cur := fx.history.Latest()
	for _, tc := range []struct {
		ack, want uint32
	}{
		{cur.Tick - 1, cur.Tick - 1},
		{cur.Tick - game.DefaultHistoryTicks + 1, cur.Tick - game.DefaultHistoryTicks + 1},
		{cur.Tick - game.DefaultHistoryTicks, 0},
		{cur.Tick - 70, 0},
		{0, 0},
		{cur.Tick, 0}, // not before the tick: no delta possible
	} {
		ss, conn := fx.sessions[0], fx.conns[0]
		conn.datagrams = conn.datagrams[:0]
		ss.ackTick.Store(tc.ack)
		f.tick(cur, fx.history, fx.sessions[:1], fx.room, 0)
		kind, body, err := wire.SplitPacket(conn.datagrams[0])
		if err != nil || kind != wire.KindSnapshot {
			t.Fatalf("ack %d: not a snapshot: %v", tc.ack, err)
		}
		var h wire.SnapshotHeader
		if _, err := wire.DecodeSnapshotPacket(body, &h); err != nil {
			t.Fatal(err)
		}
		if h.BaselineTick != tc.want || h.ServerTick != cur.Tick {
			t.Errorf("ack %d at tick %d: baseline %d, want %d", tc.ack, cur.Tick, h.BaselineTick, tc.want)
		}
	}
}

// TestClientWithoutBaselineGetsAFullSnapshotThenDeltasAgainstIt: a client
// whose acks do not reach a tick in history (it just joined, or it lags
// by seconds) gets a full snapshot, then deltas against that one until
// fullRetry passes without its ack, then another full one: a few full
// snapshots a second, not one a tick. Once it acks, its ack is the
// baseline again.
func TestClientWithoutBaselineGetsAFullSnapshotThenDeltasAgainstIt(t *testing.T) {
	fx := newFanoutFixture(t, 20, true)
	var f snapshotFanout
	retry := rulesFor(fx.world.Params.TickRate).fullRetry
	baselineAt := func(ack uint32) (cur, baseline uint32) {
		t.Helper()
		cur, h, _ := fx.tickOne(t, &f, 0, ack)
		return cur, h.BaselineTick
	}
	for _, lag := range []uint32{0, game.DefaultHistoryTicks + 10} {
		fulls, ticks := 0, 3*fx.world.Params.TickRate
		var full uint32
		for range ticks {
			ack := uint32(0)
			if lag > 0 {
				ack = fx.history.Latest().Tick + 1 - lag
			}
			cur, base := baselineAt(ack)
			switch {
			case base == 0:
				if full != 0 && cur-full < retry {
					t.Fatalf("lag %d: full snapshot at tick %d, %d ticks after the last", lag, cur, cur-full)
				}
				full = cur
				fulls++
			case base != full:
				t.Fatalf("lag %d tick %d: baseline %d, want the last full snapshot %d", lag, cur, base, full)
			}
		}
		if want := ticks/int(retry) + 1; fulls > want {
			t.Errorf("lag %d: %d full snapshots in %d ticks, want at most %d", lag, fulls, ticks, want)
		}
		if cur, base := baselineAt(full); base != full {
			t.Errorf("lag %d: after the ack of %d, tick %d deltas against %d", lag, full, cur, base)
		}
	}
}

// TestWebSocketClientDeltasAgainstTheLastSnapshotQueued: over a reliable
// transport the payload deltas against the newest snapshot queued,
// however far the client's ack lags, even through seconds without a
// packet from it (a frozen client); against the one before when a send
// was dropped; and by the ack rule (the ack has left the history by then:
// a full snapshot) once ackStall's worth of input packets carried the
// same ack, until it moves again.
func TestWebSocketClientDeltasAgainstTheLastSnapshotQueued(t *testing.T) {
	fx := newFanoutFixture(t, 20, true)
	var f snapshotFanout
	ss, conn := fx.sessions[3], fx.conns[3]
	if ss.conn.Kind() != transport.WebSocket {
		t.Fatal("fixture: session 3 is not a WebSocket session")
	}
	// baselineAt runs one tick; input (the client's input packet of the
	// tick, with its ack) says whether one arrived.
	var ack uint32
	baselineAt := func(input bool) (cur, baseline uint32) {
		t.Helper()
		if input {
			ss.noteAck(ack, fx.history.Latest().Tick)
		}
		cur, h, _ := fx.tickOne(t, &f, 3, ss.ackTick.Load())
		return cur, h.BaselineTick
	}
	first, base := baselineAt(true)
	if base != 0 {
		t.Fatalf("first snapshot deltas against %d, want a full one", base)
	}
	ack = first
	prev := first
	for range 10 { // the client acks its first snapshot only
		cur, base := baselineAt(true)
		if base != cur-1 {
			t.Fatalf("tick %d deltas against %d, want the previous tick", cur, base)
		}
		prev = cur
	}
	conn.full = true
	dropped, _ := baselineAt(true)
	conn.full = false
	if cur, base := baselineAt(true); base != prev {
		t.Fatalf("after tick %d was dropped, tick %d deltas against %d, want %d", dropped, cur, base, prev)
	}
	stall := rulesFor(fx.world.Params.TickRate).ackStall
	ack = prev
	for range 2 * stall { // frozen: no packet at all
		if cur, base := baselineAt(false); base != cur-1 {
			t.Fatalf("a client silent since tick %d: tick %d deltas against %d, want the previous tick", prev, cur, base)
		}
	}
	var cur uint32
	for n := uint32(0); n < 2*stall; n++ { // packets, with the ack standing still
		if cur, base = baselineAt(true); base != cur-1 {
			if n+1 < stall {
				t.Fatalf("fell back after %d packets with a still ack, want %d", n+1, stall)
			}
			break
		}
	}
	if base == cur-1 {
		t.Fatalf("%d packets acking %d: tick %d still deltas against the previous tick", 2*stall, prev, cur)
	}
	if base != 0 { // ackStall is longer than the history: the ack has left it
		t.Fatalf("ack standing still at %d: tick %d deltas against %d, want a full snapshot", prev, cur, base)
	}
	ack = cur
	if cur2, base := baselineAt(true); base != cur {
		t.Fatalf("after the ack moved to %d, tick %d deltas against %d, want %d", cur, cur2, base, cur)
	}
	if cur3, base := baselineAt(true); base != cur3-1 {
		t.Fatalf("ack moving again: tick %d deltas against %d, want the previous tick", cur3, base)
	}
}

// TestStaleAcksCountInputPacketsSinceTheAckLastAdvanced: every input
// packet whose ack is not newer (older, repeated, none, or from the
// future) counts; a newer one resets the count.
func TestStaleAcksCountInputPacketsSinceTheAckLastAdvanced(t *testing.T) {
	var s session
	for i, tc := range []struct {
		ack, now, wantAck, wantStale uint32
	}{
		{0, 10, 0, 1},
		{5, 10, 5, 0},
		{5, 11, 5, 1},
		{4, 12, 5, 2},
		{99, 13, 5, 3}, // from the future: a lie
		{8, 14, 8, 0},
	} {
		s.noteAck(tc.ack, tc.now)
		if got, stale := s.ackTick.Load(), s.staleAcks.Load(); got != tc.wantAck || stale != tc.wantStale {
			t.Errorf("packet %d (ack %d): ack %d, stale %d; want %d, %d", i, tc.ack, got, stale, tc.wantAck, tc.wantStale)
		}
	}
}
