package client

import (
	"testing"

	"github.com/tickwire/tickwire/game"
	"github.com/tickwire/tickwire/netcode/internal/arenatest"
	"github.com/tickwire/tickwire/netcode/snapshot"
	"github.com/tickwire/tickwire/netcode/wire"
)

// sender is a stand-in for the server's side of one client: a world, its
// history, and the snapshot packets a server sends for it (a delta
// against the client's ack when the history still holds it, else a full
// snapshot; one datagram each, so keep the world small). The server's
// own fan-out, fragments and baseline rules are tested against real
// clients in the server package.
type sender struct {
	world   *arenatest.World
	history *game.History
	enc     snapshot.Encoder
	buf     []byte
}

func newSender(players int) *sender {
	s := &sender{world: arenatest.NewWorld(3, players), history: game.NewHistory(game.DefaultHistoryTicks)}
	s.enc.Params = s.world.Params
	s.step()
	return s
}

func (s *sender) step() {
	s.world.Step()
	s.history.Add(s.world.Snapshot())
}

// packet is the current tick's snapshot packet for a client that acked
// ack (0: none) and plays viewer.
func (s *sender) packet(tb testing.TB, ack uint32, viewer game.EntityID) []byte {
	tb.Helper()
	cur := s.history.Latest()
	h := wire.SnapshotHeader{ServerTick: cur.Tick}
	base, ok := s.history.At(ack)
	if !ok || ack == 0 {
		base = nil
	} else {
		h.BaselineTick = ack
	}
	payload, err := s.enc.Encode(nil, cur, base, viewer)
	if err != nil {
		tb.Fatal(err)
	}
	return wire.AppendSnapshotPacket(s.buf[:0], &h, payload)
}

// payloadSeeds are valid snapshot payloads of a small world, the first
// full and the others deltas against it, with the rules they were
// encoded under: what a fuzz target mixes into hostile input so that it
// reaches past the decoder's first checks.
func payloadSeeds(tb testing.TB) (game.Params, [][]byte) {
	tb.Helper()
	world := arenatest.NewWorld(21, 12)
	world.Churn, world.LostInput = 0.2, 0.1
	world.Steps(40)
	enc := snapshot.Encoder{Params: world.Params}
	base := world.Snapshot()
	full, err := enc.Encode(nil, base, nil, 0)
	if err != nil {
		tb.Fatal(err)
	}
	seeds := [][]byte{full}
	for range 3 {
		delta, err := enc.Encode(nil, world.Steps(4), base, 0)
		if err != nil {
			tb.Fatal(err)
		}
		seeds = append(seeds, delta)
	}
	return world.Params, seeds
}
