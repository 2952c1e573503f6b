package server

import (
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/tickwire/tickwire/game"
	"github.com/tickwire/tickwire/netcode/client"
	"github.com/tickwire/tickwire/netcode/internal/arenatest"
	"github.com/tickwire/tickwire/netcode/internal/snapshottest"
	"github.com/tickwire/tickwire/netcode/transport"
	"github.com/tickwire/tickwire/netcode/wire"
	pb "github.com/tickwire/tickwire/proto/tickwire/v1"
)

// The tests here feed what the server's real fan-out sends to real
// clients (client.Lockstep, the client session driven packet by packet),
// to check that every client reconstructs exactly its view of the
// server's state, whatever arrives, in what order, through one shared
// decoder or alone.

// receiver is one real client fed the fan-out's packets for one session.
type receiver struct {
	c   *client.Lockstep
	got *game.Snapshot // the snapshot the last delivery completed
}

var epoch = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// newReceiver is a client welcomed into a room with params as entity,
// decoding through share when it is not nil.
func newReceiver(t *testing.T, params game.Params, entity game.EntityID, share *client.SnapshotShare) *receiver {
	t.Helper()
	r := &receiver{}
	cfg := client.Config{
		Name: "receiver", Share: share, Clock: game.NewManualClock(epoch),
		Logger:     slog.New(slog.NewTextHandler(io.Discard, nil)),
		OnSnapshot: func(s *game.Snapshot, _ *wire.SnapshotHeader) { r.got = s },
	}
	r.c = client.NewLockstep(cfg, &sinkConn{kind: transport.WebTransport})
	welcome := wire.MarshalControl(&pb.Packet{Body: &pb.Packet_Welcome{Welcome: &pb.ServerWelcome{
		PlayerEntityId: uint32(entity), TickRate: uint32(params.TickRate), ServerTick: 1,
		ProtocolVersion: wire.ProtocolVersion, Arena: wire.ArenaMessage(params, 0),
	}}})
	if err := r.c.SendHello(epoch); err != nil {
		t.Fatal(err)
	}
	if err := r.c.Deliver(welcome, epoch); err != nil {
		t.Fatal(err)
	}
	return r
}

// deliver hands the client datagrams and returns the snapshot the last of
// them completed (nil if none did) and what its counters say happened.
func (r *receiver) deliver(t *testing.T, datagrams [][]byte) (*game.Snapshot, client.Stats) {
	t.Helper()
	before := r.c.Stats()
	r.got = nil
	var got *game.Snapshot
	for _, d := range datagrams {
		if err := r.c.Deliver(d, epoch); err != nil {
			t.Fatal(err)
		}
		if r.got != nil {
			got = r.got
		}
	}
	after := r.c.Stats()
	return got, client.Stats{
		SnapshotsReceived: after.SnapshotsReceived - before.SnapshotsReceived,
		SnapshotsLate:     after.SnapshotsLate - before.SnapshotsLate,
		SnapshotsNoBase:   after.SnapshotsNoBase - before.SnapshotsNoBase,
		SnapshotsBad:      after.SnapshotsBad - before.SnapshotsBad,
	}
}

// TestThousandPlayerFullSnapshotTravelsInFragments sends the full
// snapshot of a 1000-player room without interest management (about
// 16 KB) over WebTransport: it fits the fragment limit, and the client
// reassembles it whatever the order and duplicates of its pieces.
func TestThousandPlayerFullSnapshotTravelsInFragments(t *testing.T) {
	fx := newFanoutFixture(t, 1000, true)
	var f snapshotFanout
	fx.step()
	cur := fx.history.Latest()
	ss, conn := fx.sessions[0], fx.conns[0]
	ss.ackTick.Store(0)
	f.tick(cur, fx.history, fx.sessions[:1], fx.room, 0)
	if n := len(conn.datagrams); n < 2 || n > wire.MaxFragments {
		t.Fatalf("%d datagrams, want 2 to %d", n, wire.MaxFragments)
	}
	for _, d := range conn.datagrams {
		if len(d) > transport.MaxDatagramSize {
			t.Fatalf("datagram of %d bytes exceeds the budget of %d", len(d), transport.MaxDatagramSize)
		}
	}
	rng := rand.New(rand.NewPCG(1, 2))
	pieces := append(conn.datagrams, conn.datagrams[rng.IntN(len(conn.datagrams))])
	rng.Shuffle(len(pieces), func(i, j int) { pieces[i], pieces[j] = pieces[j], pieces[i] })
	r := newReceiver(t, fx.world.Params, ss.entity, nil)
	got, st := r.deliver(t, pieces)
	if got == nil || st.SnapshotsReceived != 1 || st.SnapshotsBad != 0 {
		t.Fatalf("after every fragment: %+v, want one snapshot decoded", st)
	}
	if diff := arenatest.Diff(got, snapshottest.ExpectedView(fx.world.Params, cur, ss.entity, 0)); diff != "" {
		t.Fatal(diff)
	}
}

// TestLostFragmentLosesOnlyThatSnapshot: a full snapshot missing one
// piece is never decoded; the deltas against it that follow (the server
// bets it arrived) cannot be decoded either, until the server, seeing no
// ack, sends another full snapshot, which decodes, and so does the delta
// against it once acknowledged.
func TestLostFragmentLosesOnlyThatSnapshot(t *testing.T) {
	fx := newFanoutFixture(t, 200, true)
	var f snapshotFanout
	ss, conn := fx.sessions[0], fx.conns[0]
	r := newReceiver(t, fx.world.Params, ss.entity, nil)
	send := func(ack uint32) (*game.Snapshot, [][]byte) {
		fx.step()
		conn.datagrams = conn.datagrams[:0]
		ss.ackTick.Store(ack)
		f.tick(fx.history.Latest(), fx.history, fx.sessions[:1], fx.room, 0)
		return fx.history.Latest(), conn.datagrams
	}
	_, pieces := send(0)
	if len(pieces) < 2 {
		t.Fatalf("full snapshot in %d datagram(s); the test needs fragments", len(pieces))
	}
	if got, st := r.deliver(t, pieces[1:]); got != nil || st.SnapshotsReceived != 0 {
		t.Fatalf("snapshot missing a fragment decoded: %+v", st)
	}
	for range rulesFor(fx.world.Params.TickRate).fullRetry - 1 {
		_, pieces = send(0)
		if _, st := r.deliver(t, pieces); st.SnapshotsNoBase != 1 {
			t.Fatalf("delta against the lost snapshot: %+v, want no baseline", st)
		}
	}
	base, pieces := send(0)
	got, st := r.deliver(t, pieces)
	if got == nil || st.SnapshotsReceived != 1 {
		t.Fatalf("second full snapshot: %+v", st)
	}
	if diff := arenatest.Diff(got, snapshottest.ExpectedView(fx.world.Params, base, ss.entity, 0)); diff != "" {
		t.Fatal(diff)
	}
	cur, pieces := send(base.Tick)
	got, st = r.deliver(t, pieces)
	if got == nil || st.SnapshotsReceived != 1 {
		t.Fatalf("delta after the lost snapshot: %+v", st)
	}
	if diff := arenatest.Diff(got, snapshottest.ExpectedView(fx.world.Params, cur, ss.entity, 0)); diff != "" {
		t.Fatal(diff)
	}
}

// TestSharedDecodingGivesEveryClientItsOwnSnapshot runs the server's real
// fan-out to 120 clients for 60 ticks, each client acking what it decoded
// one to three ticks late and, over WebTransport, losing a snapshot now
// and then, so that baselines differ. Every client is there twice:
// decoding alone, and through one SnapshotShare for all. Both must give
// exactly the client's view of the server's state at every tick; without
// AOI the share must decode a small fraction of the payloads.
func TestSharedDecodingGivesEveryClientItsOwnSnapshot(t *testing.T) {
	for _, tc := range []struct {
		radius         float64
		maxDecodeShare float64
	}{
		{radius: 0, maxDecodeShare: 0.1},
		{radius: 400, maxDecodeShare: 1},
	} {
		t.Run(fmt.Sprintf("aoi=%v", tc.radius), func(t *testing.T) {
			const clients, ticks = 120, 60
			fx := newFanoutFixture(t, clients, true)
			var (
				f     snapshotFanout
				share client.SnapshotShare
				rng   = rand.New(rand.NewPCG(7, 8))
			)
			alone := make([]*receiver, clients)
			shared := make([]*receiver, clients)
			decoded := make([][]uint32, clients) // ticks each client decoded, in order
			for i, ss := range fx.sessions[:clients] {
				alone[i] = newReceiver(t, fx.world.Params, ss.entity, nil)
				shared[i] = newReceiver(t, fx.world.Params, ss.entity, &share)
			}
			received := 0
			for range ticks {
				fx.step()
				cur := fx.history.Latest()
				for i, ss := range fx.sessions[:clients] {
					fx.conns[i].datagrams = fx.conns[i].datagrams[:0]
					ss.ackTick.Store(ackAfter(decoded[i], 1+i%3))
				}
				f.tick(cur, fx.history, fx.sessions[:clients], fx.room, tc.radius)
				for i, ss := range fx.sessions[:clients] {
					if rng.IntN(10) == 0 && !ss.out.reliable {
						continue // a lost datagram (WebSocket loses nothing)
					}
					own, st := alone[i].deliver(t, fx.conns[i].datagrams)
					got, sst := shared[i].deliver(t, fx.conns[i].datagrams)
					if st != sst {
						t.Fatalf("tick %d client %d: %+v alone, %+v shared", cur.Tick, i, st, sst)
					}
					if st.SnapshotsNoBase == 1 && len(decoded[i]) == 0 {
						continue // a delta against the first full snapshot, which was lost
					}
					if own == nil || st.SnapshotsReceived != 1 {
						t.Fatalf("tick %d client %d: %+v", cur.Tick, i, st)
					}
					want := snapshottest.ExpectedView(fx.world.Params, cur, ss.entity, tc.radius)
					if diff := arenatest.Diff(own, want); diff != "" {
						t.Fatalf("tick %d client %d alone: %s", cur.Tick, i, diff)
					}
					if diff := arenatest.Diff(got, want); diff != "" {
						t.Fatalf("tick %d client %d shared: %s", cur.Tick, i, diff)
					}
					decoded[i] = append(decoded[i], cur.Tick)
					received++
				}
			}
			st := share.Stats()
			if st.Decodes+st.Hits != int64(received) {
				t.Errorf("share counted %d decodes + %d hits, want %d snapshots", st.Decodes, st.Hits, received)
			}
			if got := float64(st.Decodes) / float64(received); got > tc.maxDecodeShare {
				t.Errorf("share decoded %d of %d snapshots (%.2f), want at most %.2f", st.Decodes, received, got, tc.maxDecodeShare)
			}
			t.Logf("%d snapshots, %d decoded by the share", received, st.Decodes)
		})
	}
}

// ackAfter is what a client that decoded ticks (in order) acks when its
// acks reach the server lag snapshots late: 0 before it has any.
func ackAfter(ticks []uint32, lag int) uint32 {
	if len(ticks) <= lag {
		return 0
	}
	return ticks[len(ticks)-1-lag]
}

// TestSpectatorSwitchingViewsDecodesEveryTickExactly runs the real
// fan-out with interest management to a spectator over each transport
// that changes whom it follows every 10 ticks (a player, another, the
// free camera, a third), acking what it decoded two ticks late and, over
// WebTransport, losing two deltas of every ten. Every snapshot it gets
// decodes, and is exactly the view it asked for at that tick: the
// followed player's, or the whole arena.
func TestSpectatorSwitchingViewsDecodesEveryTickExactly(t *testing.T) {
	const radius = 400
	for _, kind := range []transport.Kind{transport.WebTransport, transport.WebSocket} {
		t.Run(string(kind), func(t *testing.T) {
			fx := newFanoutFixture(t, 200, true)
			log := slog.New(slog.NewTextHandler(io.Discard, nil))
			conn := &sinkConn{kind: kind, keep: true}
			ss := &session{id: 999, conn: conn, log: log, spectator: true}
			ss.out.init(nil, kind)
			sessions := append(fx.sessions[:3:3], ss)
			follows := []game.EntityID{fx.sessions[0].entity, fx.sessions[1].entity, 0, fx.sessions[2].entity}
			r := newReceiver(t, fx.world.Params, 0, nil)
			var (
				f       snapshotFanout
				decoded []uint32
			)
			for n := range 10 * len(follows) {
				follow := follows[n/10]
				ss.follow.Store(uint32(follow))
				fx.step()
				cur := fx.history.Latest()
				conn.datagrams = conn.datagrams[:0]
				ss.ackTick.Store(ackAfter(decoded, 2))
				f.tick(cur, fx.history, sessions, fx.room, radius)
				if kind == transport.WebTransport && (n%10 == 4 || n%10 == 7) {
					continue // lost (a lost full snapshot is TestLostFragmentLosesOnlyThatSnapshot's)
				}
				got, st := r.deliver(t, conn.datagrams)
				if got == nil || st.SnapshotsReceived != 1 {
					t.Fatalf("tick %d following %d: %+v", cur.Tick, follow, st)
				}
				rad := float64(radius)
				if follow == 0 {
					rad = 0
				}
				if diff := arenatest.Diff(got, snapshottest.ExpectedView(fx.world.Params, cur, follow, rad)); diff != "" {
					t.Fatalf("tick %d following %d: %s", cur.Tick, follow, diff)
				}
				decoded = append(decoded, cur.Tick)
			}
		})
	}
}

// TestSpectatorFlippingItsTargetGetsFewFullSnapshots: a spectator that
// names another player in every packet, with interest management, gets
// a full snapshot at most once per fullRetry ticks (a view change costs
// one), not every tick; what it decodes is still exactly the view it was
// sent.
func TestSpectatorFlippingItsTargetGetsFewFullSnapshots(t *testing.T) {
	const radius, ticks = 400, 60
	fx := newFanoutFixture(t, 200, true)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	conn := &sinkConn{kind: transport.WebTransport, keep: true}
	ss := &session{id: 999, conn: conn, log: log, spectator: true}
	ss.out.init(nil, transport.WebTransport)
	r := newReceiver(t, fx.world.Params, 0, nil)
	var (
		f       snapshotFanout
		decoded []uint32
		full    int
	)
	for n := range ticks {
		ss.follow.Store(uint32(fx.sessions[n%5].entity))
		fx.step()
		cur := fx.history.Latest()
		conn.datagrams = conn.datagrams[:0]
		ss.ackTick.Store(ackAfter(decoded, 1))
		f.tick(cur, fx.history, []*session{ss}, fx.room, radius)
		got, st := r.deliver(t, conn.datagrams)
		if got == nil || st.SnapshotsReceived != 1 {
			t.Fatalf("tick %d: %+v", cur.Tick, st)
		}
		var h wire.SnapshotHeader
		_, body, _ := wire.SplitPacket(conn.datagrams[0])
		if _, err := wire.DecodeSnapshotPacket(body, &h); err != nil {
			t.Fatal(err)
		}
		if h.BaselineTick == 0 {
			full++
		}
		if diff := arenatest.Diff(got, snapshottest.ExpectedView(fx.world.Params, cur, ss.out.viewer, radius)); diff != "" {
			t.Fatalf("tick %d: %s", cur.Tick, diff)
		}
		decoded = append(decoded, cur.Tick)
	}
	most := ticks/int(rulesFor(fx.world.Params.TickRate).fullRetry) + 1
	if full > most {
		t.Errorf("%d full snapshots in %d ticks, want at most %d", full, ticks, most)
	}
	t.Logf("%d full snapshots in %d ticks", full, ticks)
}
