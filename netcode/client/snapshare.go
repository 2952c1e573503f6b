package client

import (
	"bytes"
	"hash/maphash"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/tickwire/tickwire/game"
	"github.com/tickwire/tickwire/netcode/snapshot"
)

// SnapshotShare lets the clients of one process (a bot swarm) decode each
// distinct snapshot once instead of once per client.
//
// The server's fan-out sends byte-identical payloads to every client that
// acked the same baseline, and decoding is a pure function of the payload
// and the baseline, so clients that hold the same baseline and receive the
// same bytes reconstruct the same snapshot. The share remembers, per tick,
// each (baseline, payload) it has decoded and hands later clients the same
// immutable *game.Snapshot. Decoded snapshots are also merged by content:
// two clients that reached the same state at a tick through different
// baselines end up holding one pointer, so their next deltas share again.
//
// A shared snapshot is read-only: the clients never write to a snapshot
// they hold as a baseline or in their interpolation buffer. The zero
// value is ready to use; it is safe for concurrent use. Its memory is
// bounded by the snapshots of the last baselineRing ticks.
type SnapshotShare struct {
	mu        sync.Mutex
	seed      maphash.Seed
	params    game.Params // of the first client: the share's
	byPayload map[payloadKey]*sharedDecode
	byContent map[contentKey]*game.Snapshot
	ticks     [baselineRing]shareBucket

	decodes, hits atomic.Int64
}

type payloadKey struct {
	tick uint32
	base *game.Snapshot // the baseline's shared pointer; nil for a full payload
	sum  uint64         // of the payload bytes
}

type contentKey struct {
	tick uint32
	sum  uint64 // of the decoded entities
}

type sharedDecode struct {
	payload []byte // compared in full: a hash match alone proves nothing
	snap    *game.Snapshot
}

// shareBucket is what the share holds for one tick, to forget it when the
// tick leaves the window.
type shareBucket struct {
	tick     uint32
	payloads []payloadKey
	contents []contentKey
}

// SnapshotShareStats counts what the share saved.
type SnapshotShareStats struct {
	// Decodes is how many payloads were decoded; Hits how many were
	// answered with a snapshot decoded before.
	Decodes, Hits int64
}

// Stats returns the share's counters.
func (s *SnapshotShare) Stats() SnapshotShareStats {
	return SnapshotShareStats{Decodes: s.decodes.Load(), Hits: s.hits.Load()}
}

// decode returns the snapshot that payload describes for tick against
// base, decoding it with dec only when no client has yet.
func (s *SnapshotShare) decode(dec *snapshot.Decoder, tick uint32, payload []byte, base *game.Snapshot) (*game.Snapshot, error) {
	s.mu.Lock()
	if s.byPayload == nil {
		s.seed, s.params = maphash.MakeSeed(), dec.Params
		s.byPayload = make(map[payloadKey]*sharedDecode)
		s.byContent = make(map[contentKey]*game.Snapshot)
	}
	// Clients of another game's rules decode alone.
	shared := s.params == dec.Params
	key := payloadKey{tick: tick, base: base, sum: maphash.Bytes(s.seed, payload)}
	if e, ok := s.byPayload[key]; shared && ok && bytes.Equal(e.payload, payload) {
		s.mu.Unlock()
		s.hits.Add(1)
		return e.snap, nil
	}
	s.mu.Unlock()

	snap := new(game.Snapshot)
	if err := dec.Decode(snap, payload, base); err != nil {
		return nil, err
	}
	s.decodes.Add(1)
	if !shared || snap.Tick != tick {
		return snap, nil
	}
	ckey := contentKey{tick: tick, sum: s.contentSum(snap)}

	s.mu.Lock()
	defer s.mu.Unlock()
	b := &s.ticks[tick%baselineRing]
	if b.tick != tick {
		if b.tick > tick {
			return snap, nil // older than the window: not worth keeping
		}
		s.forget(b)
		b.tick = tick
	}
	if c, ok := s.byContent[ckey]; ok && sameSnapshot(c, snap) {
		snap = c
	} else if !ok {
		s.byContent[ckey] = snap
		b.contents = append(b.contents, ckey)
	}
	if _, ok := s.byPayload[key]; !ok {
		s.byPayload[key] = &sharedDecode{payload: bytes.Clone(payload), snap: snap}
		b.payloads = append(b.payloads, key)
	}
	return snap, nil
}

// forget drops what the share holds for b's tick. The caller holds mu.
func (s *SnapshotShare) forget(b *shareBucket) {
	for _, k := range b.payloads {
		delete(s.byPayload, k)
	}
	for _, k := range b.contents {
		delete(s.byContent, k)
	}
	b.payloads, b.contents = b.payloads[:0], b.contents[:0]
}

// contentSum hashes a decoded snapshot's entities.
func (s *SnapshotShare) contentSum(snap *game.Snapshot) uint64 {
	var h maphash.Hash
	h.SetSeed(s.seed)
	for i := range snap.Players {
		maphash.WriteComparable(&h, snap.Players[i])
	}
	for i := range snap.Projectiles {
		maphash.WriteComparable(&h, snap.Projectiles[i])
	}
	return h.Sum64()
}

func sameSnapshot(a, b *game.Snapshot) bool {
	return a.Tick == b.Tick && slices.Equal(a.Players, b.Players) && slices.Equal(a.Projectiles, b.Projectiles)
}
