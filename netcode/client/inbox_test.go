package client

import (
	"encoding/binary"
	"testing"

	"github.com/tickwire/tickwire/game"
	"github.com/tickwire/tickwire/netcode/snapshot"
	"github.com/tickwire/tickwire/netcode/wire"
)

// deliver feeds datagrams to a client's inbox as the client session does
// and returns the snapshot the last of them completed, if any.
func deliver(t *testing.T, in *snapshotInbox, newest uint32, datagrams [][]byte) (*game.Snapshot, inboxResult) {
	t.Helper()
	var snap *game.Snapshot
	res := inboxIncomplete
	for _, d := range datagrams {
		kind, body, err := wire.SplitPacket(d)
		if err != nil || kind != wire.KindSnapshot {
			t.Fatalf("not a snapshot packet: %v", err)
		}
		var h wire.SnapshotHeader
		payload, err := wire.DecodeSnapshotPacket(body, &h)
		if err != nil {
			t.Fatal(err)
		}
		if s, r := in.accept(&h, payload, newest); r != inboxIncomplete {
			snap, res = s, r
		}
	}
	return snap, res
}

// FuzzSnapshotInbox feeds a client's inbox a stream of hostile snapshot
// envelopes (fragments, baselines, ticks chosen by the fuzzer) with valid
// payload pieces among them: it never panics and its buffers stay within
// the fragment limit.
func FuzzSnapshotInbox(f *testing.F) {
	params, seeds := payloadSeeds(f)
	f.Add([]byte{0, 0, 0, 3, 1, 0, 2}, uint32(41))
	f.Add([]byte{1, 1, 1, 1, 1, 2, 0, 1, 1, 1, 1, 2, 1, 3, 9, 9, 9, 9, 9, 9}, uint32(0))
	f.Add([]byte{0xFF, 0x40, 0x3F, 0x00, 0x10, 0x01, 0x02, 0x03}, uint32(7))
	f.Fuzz(func(t *testing.T, ops []byte, start uint32) {
		var in snapshotInbox
		in.init(params, nil)
		newest := start % 1000
		for len(ops) >= 6 {
			op := ops[:6]
			ops = ops[6:]
			h := wire.SnapshotHeader{
				ServerTick:    newest + uint32(op[0]%4),
				BaselineTick:  uint32(binary.LittleEndian.Uint16(op[1:3])) % 200,
				FragmentCount: uint32(op[3]) % (wire.MaxFragments + 1),
			}
			if h.FragmentCount > 0 {
				h.FragmentIndex = uint32(op[4]) % h.FragmentCount
			}
			// The payload: a piece of a valid seed, or fuzzer bytes.
			var payload []byte
			if seed := seeds[int(op[5])%len(seeds)]; op[5]&0x80 == 0 {
				payload = seed
			} else {
				n := min(int(op[5]&0x7F), len(ops))
				payload, ops = ops[:n], ops[n:]
			}
			if s, res := in.accept(&h, payload, newest); res == inboxDecoded {
				if len(s.Players) > snapshot.MaxSnapshotPlayers || len(s.Projectiles) > snapshot.MaxSnapshotProjectiles {
					t.Fatalf("%d players, %d projectiles exceed the caps", len(s.Players), len(s.Projectiles))
				}
				newest = s.Tick
			}
			if len(in.whole) > wire.MaxFragments*max(len(seeds[0]), 128) {
				t.Fatalf("reassembly buffer grew to %d bytes", len(in.whole))
			}
		}
	})
}
