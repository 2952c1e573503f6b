package client

import (
	"testing"
)

// TestInterpolationBufferNeverHoldsARecycledSnapshot: the buffer keeps
// the inbox's snapshots by pointer, and the inbox decodes into the slot of
// a tick baselineRing ticks older. With one snapshot in five arriving, the
// buffer's interpRing snapshots would span more than baselineRing ticks;
// after an outage of exactly baselineRing ticks the next snapshot lands in
// the newest held one's slot. Doing as the client does (forgetRecycled
// before decoding), the buffer has let go of each before its slot is
// reused.
func TestInterpolationBufferNeverHoldsARecycledSnapshot(t *testing.T) {
	src := newSender(20)
	viewer := src.world.Snapshot().Players[0].ID
	var (
		in     snapshotInbox
		interp interpBuffer
		newest uint32
	)
	in.init(src.world.Params, nil)
	interp.init(src.world.Params, viewer)
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
		cur := src.history.Latest()
		pkt := src.packet(t, newest, viewer)
		interp.forgetRecycled(cur.Tick)
		check(cur.Tick) // decoding must not touch what the buffer holds
		snap, res := deliver(t, &in, newest, [][]byte{pkt})
		check(cur.Tick)
		if res != inboxDecoded {
			t.Fatalf("tick %d: %v", cur.Tick, res)
		}
		newest = snap.Tick
		interp.add(snap, float64(snap.Tick), t0)
		check(cur.Tick)
	}
	for n := range 5 * 3 * baselineRing {
		src.step()
		if n%5 == 0 {
			receive()
		}
	}
	if interp.n >= interpRing {
		t.Errorf("buffer holds %d snapshots; with one in five ticks it should have let the oldest go", interp.n)
	}
	for src.history.Latest().Tick < newest+baselineRing { // an outage: the next tick is the newest's slot
		src.step()
	}
	receive()
	if interp.n != 1 {
		t.Errorf("after the outage the buffer holds %d snapshots, want the new one", interp.n)
	}
}
