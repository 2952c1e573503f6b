package client

import (
	"encoding/binary"
	"math/rand/v2"
	"testing"

	"github.com/tickwire/tickwire/game"
	"github.com/tickwire/tickwire/netcode/wire"
)

// deliver feeds datagrams to a client's inbox as the client session does
// and returns the snapshot the last of them completed, if any.
func deliver(t *testing.T, in *snapshotInbox, newest uint32, datagrams [][]byte) (*game.Snapshot, inboxResult) {
	t.Helper()
	var snap *game.Snapshot
	res := inboxIncomplete
	for _, d := range datagrams {
		kind, body, err := SplitPacket(d)
		if err != nil || kind != KindSnapshot {
			t.Fatalf("not a snapshot packet: %v", err)
		}
		var h SnapshotHeader
		payload, err := DecodeSnapshotPacket(body, &h)
		if err != nil {
			t.Fatal(err)
		}
		if s, r := in.accept(&h, payload, newest); r != inboxIncomplete {
			snap, res = s, r
		}
	}
	return snap, res
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
		if len(d) > MaxDatagramSize {
			t.Fatalf("datagram of %d bytes exceeds the budget of %d", len(d), MaxDatagramSize)
		}
	}
	rng := rand.New(rand.NewPCG(1, 2))
	pieces := append(conn.datagrams, conn.datagrams[rng.IntN(len(conn.datagrams))])
	rng.Shuffle(len(pieces), func(i, j int) { pieces[i], pieces[j] = pieces[j], pieces[i] })
	var in snapshotInbox
	in.init(fx.world.params, nil)
	got, res := deliver(t, &in, 0, pieces)
	if res != inboxDecoded {
		t.Fatalf("result %v after every fragment, want decoded", res)
	}
	if diff := snapshotDiff(got, expectedView(fx.world.params, cur, ss.entity, 0)); diff != "" {
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
	var in snapshotInbox
	in.init(fx.world.params, nil)
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
	if _, res := deliver(t, &in, 0, pieces[1:]); res != inboxIncomplete {
		t.Fatalf("snapshot missing a fragment: %v, want incomplete", res)
	}
	for range rulesFor(fx.world.params.TickRate).fullRetry - 1 {
		_, pieces = send(0)
		if _, res := deliver(t, &in, 0, pieces); res != inboxNoBase {
			t.Fatalf("delta against the lost snapshot: %v, want no baseline", res)
		}
	}
	base, pieces := send(0)
	got, res := deliver(t, &in, 0, pieces)
	if res != inboxDecoded {
		t.Fatalf("second full snapshot: %v", res)
	}
	if diff := snapshotDiff(got, expectedView(fx.world.params, base, ss.entity, 0)); diff != "" {
		t.Fatal(diff)
	}
	cur, pieces := send(base.Tick)
	got, res = deliver(t, &in, base.Tick, pieces)
	if res != inboxDecoded {
		t.Fatalf("delta after the lost snapshot: %v", res)
	}
	if diff := snapshotDiff(got, expectedView(fx.world.params, cur, ss.entity, 0)); diff != "" {
		t.Fatal(diff)
	}
}

// FuzzSnapshotInbox feeds a client's inbox a stream of hostile snapshot
// envelopes (fragments, baselines, ticks chosen by the fuzzer) with valid
// payload pieces among them: it never panics and its buffers stay within
// the fragment limit.
func FuzzSnapshotInbox(f *testing.F) {
	fx := newFuzzFixture(f)
	f.Add([]byte{0, 0, 0, 3, 1, 0, 2}, uint32(41))
	f.Add([]byte{1, 1, 1, 1, 1, 2, 0, 1, 1, 1, 1, 2, 1, 3, 9, 9, 9, 9, 9, 9}, uint32(0))
	f.Add([]byte{0xFF, 0x40, 0x3F, 0x00, 0x10, 0x01, 0x02, 0x03}, uint32(7))
	f.Fuzz(func(t *testing.T, ops []byte, start uint32) {
		var in snapshotInbox
		in.init(fx.params, nil)
		newest := start % 1000
		for len(ops) >= 6 {
			op := ops[:6]
			ops = ops[6:]
			h := SnapshotHeader{
				ServerTick:    newest + uint32(op[0]%4),
				BaselineTick:  uint32(binary.LittleEndian.Uint16(op[1:3])) % 200,
				FragmentCount: uint32(op[3]) % (wire.MaxFragments + 1),
			}
			if h.FragmentCount > 0 {
				h.FragmentIndex = uint32(op[4]) % h.FragmentCount
			}
			// The payload: a piece of a valid seed, or fuzzer bytes.
			var payload []byte
			if seed := fx.seeds[int(op[5])%len(fx.seeds)]; op[5]&0x80 == 0 {
				payload = seed
			} else {
				n := min(int(op[5]&0x7F), len(ops))
				payload, ops = ops[:n], ops[n:]
			}
			if s, res := in.accept(&h, payload, newest); res == inboxDecoded {
				checkDecodedBounds(t, s)
				newest = s.Tick
			}
			if len(in.whole) > wire.MaxFragments*max(len(fx.seeds[0]), 128) {
				t.Fatalf("reassembly buffer grew to %d bytes", len(in.whole))
			}
		}
	})
}
