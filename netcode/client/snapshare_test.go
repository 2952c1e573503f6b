package client

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// TestSharedDecodingGivesEveryClientItsOwnSnapshot runs the server's real
// fan-out to 120 clients for 60 ticks, each client acking what it decoded
// one to three ticks late and, over WebTransport, losing a snapshot now
// and then, so that baselines differ. Every client decodes twice: alone, and through one
// SnapshotShare for all. Both must give exactly the client's view of the
// server's state at every tick; without AOI the share must decode a small
// fraction of the payloads.
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
				share SnapshotShare
				rng   = rand.New(rand.NewPCG(7, 8))
			)
			alone := make([]snapshotInbox, clients)
			shared := make([]snapshotInbox, clients)
			decoded := make([][]uint32, clients) // ticks each client decoded, in order
			for i := range clients {
				alone[i].init(fx.world.params, nil)
				shared[i].init(fx.world.params, &share)
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
					newest := ackAfter(decoded[i], 0)
					own, res := deliver(t, &alone[i], newest, fx.conns[i].datagrams)
					got, sres := deliver(t, &shared[i], newest, fx.conns[i].datagrams)
					if res != sres {
						t.Fatalf("tick %d client %d: %v alone, %v shared", cur.Tick, i, res, sres)
					}
					if res == inboxNoBase && len(decoded[i]) == 0 {
						continue // a delta against the first full snapshot, which was lost
					}
					if res != inboxDecoded {
						t.Fatalf("tick %d client %d: %v", cur.Tick, i, res)
					}
					want := expectedView(fx.world.params, cur, ss.entity, tc.radius)
					if diff := snapshotDiff(own, want); diff != "" {
						t.Fatalf("tick %d client %d alone: %s", cur.Tick, i, diff)
					}
					if diff := snapshotDiff(got, want); diff != "" {
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

// TestInterpolationBufferNeverHoldsARecycledSnapshot: the buffer keeps
// the inbox's snapshots by pointer, and the inbox decodes into the slot of
// a tick baselineRing ticks older. With one snapshot in five arriving, the
// buffer's interpRing snapshots would span more than baselineRing ticks;
// after an outage of exactly baselineRing ticks the next snapshot lands in
// the newest held one's slot. Doing as the client does (forgetRecycled
// before decoding), the buffer has let go of each before its slot is
// reused.
func TestInterpolationBufferNeverHoldsARecycledSnapshot(t *testing.T) {
	fx := newFanoutFixture(t, 20, true)
	var (
		f      snapshotFanout
		in     snapshotInbox
		interp interpBuffer
		newest uint32
	)
	in.init(fx.world.params, nil)
	interp.init(fx.world.params, fx.sessions[0].entity)
	check := func(after uint32) {
		t.Helper()
		for k := range interp.n {
			held := &interp.snaps[(interp.head-k+interpRing)%interpRing]
			if held.Snapshot.Tick != held.tick {
				t.Fatalf("after tick %d the buffer's tick %d points at a snapshot of tick %d", after, held.tick, held.Snapshot.Tick)
			}
		}
	}
	receive := func() {
		t.Helper()
		cur := fx.history.Latest()
		fx.conns[0].datagrams = fx.conns[0].datagrams[:0]
		fx.sessions[0].ackTick.Store(newest)
		f.tick(cur, fx.history, fx.sessions[:1], fx.room, 0)
		interp.forgetRecycled(cur.Tick)
		check(cur.Tick) // decoding must not touch what the buffer holds
		snap, res := deliver(t, &in, newest, fx.conns[0].datagrams)
		check(cur.Tick)
		if res != inboxDecoded {
			t.Fatalf("tick %d: %v", cur.Tick, res)
		}
		newest = snap.Tick
		interp.add(snap, float64(snap.Tick), t0)
		check(cur.Tick)
	}
	for n := range 5 * 3 * baselineRing {
		fx.step()
		if n%5 == 0 {
			receive()
		}
	}
	if interp.n >= interpRing {
		t.Errorf("buffer holds %d snapshots; with one in five ticks it should have let the oldest go", interp.n)
	}
	for fx.history.Latest().Tick < newest+baselineRing { // an outage: the next tick is the newest's slot
		fx.step()
	}
	receive()
	if interp.n != 1 {
		t.Errorf("after the outage the buffer holds %d snapshots, want the new one", interp.n)
	}
}
