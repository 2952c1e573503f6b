package client

import (
	"github.com/tickwire/tickwire/game"
	"github.com/tickwire/tickwire/netcode/snapshot"
	"github.com/tickwire/tickwire/netcode/wire"
)

// baselineRing is how many decoded snapshots a client keeps for the server
// to delta against. It must exceed the server's history (64 ticks).
const baselineRing = 128

type inboxResult int

const (
	inboxDecoded    inboxResult = iota
	inboxIncomplete             // a fragment; the snapshot is not whole yet
	inboxLate                   // older than the newest decoded snapshot
	inboxNoBase                 // its baseline is not (or no longer) held
	inboxBad                    // undecodable
)

// snapshotInbox turns snapshot envelopes into decoded snapshots on the
// client: it reassembles fragments, finds the baseline among the
// snapshots already decoded, and keeps the new one as a future baseline.
// Used only from the client's reader goroutine; allocation-free once its
// buffers have grown (unless it decodes through a SnapshotShare).
//
// The snapshots it returns stay unchanged for baselineRing ticks: ring
// holds pointers to them, either into own (decoded here, a slot reused
// baselineRing ticks later) or to a share's immutable snapshots.
type snapshotInbox struct {
	dec   snapshot.Decoder
	share *SnapshotShare
	ring  [baselineRing]*game.Snapshot // nil: not held
	own   [baselineRing]game.Snapshot

	// Reassembly of the one snapshot in flight: fragments of an older tick
	// are dropped when a newer tick starts (a lost fragment loses that
	// snapshot; the next one deltas against the last acked baseline).
	fragTick         uint32
	fragCount        uint32
	fragHave         uint64 // bitmask of received fragment indexes
	frags            [wire.MaxFragments][]byte
	whole            []byte
	fragmentsDropped int64
}

func (in *snapshotInbox) init(p game.Params, share *SnapshotShare) {
	in.dec = newDecoder(p)
	in.share = share
}

// accept takes one envelope; when it completes a snapshot newer than
// newest, it decodes it and returns it.
func (in *snapshotInbox) accept(h *wire.SnapshotHeader, payload []byte, newest uint32) (*game.Snapshot, inboxResult) {
	if h.ServerTick <= newest {
		return nil, inboxLate
	}
	if h.FragmentCount > 1 {
		var done bool
		if payload, done = in.reassemble(h, payload); !done {
			return nil, inboxIncomplete
		}
	}
	var base *game.Snapshot
	if h.BaselineTick != 0 {
		if h.BaselineTick >= h.ServerTick || h.ServerTick-h.BaselineTick >= baselineRing {
			return nil, inboxBad
		}
		base = in.ring[h.BaselineTick%baselineRing]
		if base == nil || base.Tick != h.BaselineTick {
			return nil, inboxNoBase
		}
	}
	i := h.ServerTick % baselineRing
	in.ring[i] = nil
	snap, err := in.decode(h.ServerTick, payload, base)
	if err != nil || snap.Tick != h.ServerTick {
		return nil, inboxBad
	}
	in.ring[i] = snap
	return snap, inboxDecoded
}

func (in *snapshotInbox) decode(tick uint32, payload []byte, base *game.Snapshot) (*game.Snapshot, error) {
	if in.share != nil {
		return in.share.decode(&in.dec, tick, payload, base)
	}
	dst := &in.own[tick%baselineRing]
	return dst, in.dec.Decode(dst, payload, base)
}

func (in *snapshotInbox) reassemble(h *wire.SnapshotHeader, payload []byte) ([]byte, bool) {
	if h.ServerTick != in.fragTick || h.FragmentCount != in.fragCount {
		if h.ServerTick < in.fragTick {
			in.fragmentsDropped++
			return nil, false
		}
		if in.fragHave != 0 {
			in.fragmentsDropped++
		}
		in.fragTick, in.fragCount, in.fragHave = h.ServerTick, h.FragmentCount, 0
	}
	bit := uint64(1) << h.FragmentIndex
	if in.fragHave&bit != 0 {
		return nil, false // duplicate
	}
	in.fragHave |= bit
	in.frags[h.FragmentIndex] = append(in.frags[h.FragmentIndex][:0], payload...)
	if in.fragHave != allFragments(in.fragCount) {
		return nil, false
	}
	in.whole = in.whole[:0]
	for i := uint32(0); i < in.fragCount; i++ {
		in.whole = append(in.whole, in.frags[i]...)
	}
	in.fragHave = 0
	return in.whole, true
}

// allFragments is the bitmask of a snapshot in n ≤ wire.MaxFragments pieces.
func allFragments(n uint32) uint64 {
	if n >= 64 {
		return ^uint64(0)
	}
	return 1<<n - 1
}

func newDecoder(p game.Params) snapshot.Decoder { return snapshot.Decoder{Params: p} }
