package replay

import (
	"bytes"
	"fmt"
	"testing"
	"time"

	"github.com/tickwire/tickwire/game"
	"github.com/tickwire/tickwire/netcode/snapshot"
)

// match is a simulated match: n benchmark bots in the default arena
// (game.Bot), with a player leaving and another joining now and then so
// that the roster changes.
type match struct {
	world *game.World
	bots  map[game.EntityID]*game.Bot
	order []game.EntityID
	in    []game.PlayerInput
	snap  game.Snapshot
	seed  uint64
}

func newMatch(t testing.TB, n int, seed uint64) *match {
	t.Helper()
	m := &match{world: game.NewWorld(game.Config{MaxPlayers: max(n, 1), Seed: seed}), bots: map[game.EntityID]*game.Bot{}, seed: seed}
	for range n {
		m.add(t)
	}
	return m
}

func (m *match) add(t testing.TB) game.EntityID {
	id, err := m.world.AddPlayer()
	if err != nil {
		t.Fatal(err)
	}
	m.bots[id] = game.NewBot(m.seed*1000+uint64(id), m.world.Params().TickRate)
	m.order = append(m.order, id)
	return id
}

func (m *match) remove(id game.EntityID) {
	m.world.RemovePlayer(id)
	delete(m.bots, id)
	for i, o := range m.order {
		if o == id {
			m.order = append(m.order[:i], m.order[i+1:]...)
			break
		}
	}
}

// step runs one tick and returns the world's state (reused).
func (m *match) step() *game.Snapshot {
	t := m.world.Tick() + 1
	m.in = m.in[:0]
	for _, id := range m.order {
		m.in = append(m.in, game.PlayerInput{Player: id, Input: m.bots[id].Next(t)})
	}
	m.world.Step(m.in)
	m.world.Snapshot(&m.snap)
	return &m.snap
}

// recorded is a recording and the truth it holds: what a reader must
// give back for every tick.
type recorded struct {
	file   []byte
	header Header
	truth  map[uint32]*game.Snapshot // QuantizeForClient of the world
	ticks  []uint32
	names  map[uint32]map[game.EntityID]string // the roster at each tick
}

// record simulates ticks ticks of n players and records them; every
// 97th tick the oldest player leaves and a new one joins.
func record(t testing.TB, n, ticks int, opts WriterOptions) *recorded {
	t.Helper()
	m := newMatch(t, n, 7)
	var buf bytes.Buffer
	h := Header{Room: "test", Start: time.UnixMilli(1_700_000_000_000), Params: m.world.Params(), Seed: 7}
	w, err := NewWriter(&buf, h, opts)
	if err != nil {
		t.Fatal(err)
	}
	rec := &recorded{header: w.Header(), truth: map[uint32]*game.Snapshot{}, names: map[uint32]map[game.EntityID]string{}}
	roster := map[game.EntityID]string{}
	for _, id := range m.order {
		roster[id] = fmt.Sprintf("bot-%d", id)
		w.Join(1, id, roster[id])
	}
	for i := range ticks {
		if i > 0 && i%97 == 0 && len(m.order) > 1 {
			gone := m.order[0]
			m.remove(gone)
			w.Leave(m.world.Tick()+1, gone)
			delete(roster, gone)
			id := m.add(t)
			roster[id] = fmt.Sprintf("bot-%d", id)
			w.Join(m.world.Tick()+1, id, roster[id])
		}
		s := m.step()
		if err := w.WriteTick(s); err != nil {
			t.Fatal(err)
		}
		q := &game.Snapshot{}
		snapshot.QuantizeForClient(q, s)
		rec.truth[s.Tick] = q
		rec.ticks = append(rec.ticks, s.Tick)
		names := make(map[game.EntityID]string, len(roster))
		for id, n := range roster {
			names[id] = n
		}
		rec.names[s.Tick] = names
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	rec.file = buf.Bytes()
	return rec
}

func open(t testing.TB, b []byte) *Reader {
	t.Helper()
	r, err := Open(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.Close() })
	return r
}

// sameSnapshot reports how got differs from want, or "".
func sameSnapshot(got, want *game.Snapshot) string {
	if got.Tick != want.Tick {
		return fmt.Sprintf("tick %d, want %d", got.Tick, want.Tick)
	}
	if len(got.Players) != len(want.Players) || len(got.Projectiles) != len(want.Projectiles) {
		return fmt.Sprintf("tick %d: %d players and %d projectiles, want %d and %d", got.Tick,
			len(got.Players), len(got.Projectiles), len(want.Players), len(want.Projectiles))
	}
	for i := range got.Players {
		if got.Players[i] != want.Players[i] {
			return fmt.Sprintf("tick %d: player %+v, want %+v", got.Tick, got.Players[i], want.Players[i])
		}
	}
	for i := range got.Projectiles {
		if got.Projectiles[i] != want.Projectiles[i] {
			return fmt.Sprintf("tick %d: projectile %+v, want %+v", got.Tick, got.Projectiles[i], want.Projectiles[i])
		}
	}
	return ""
}
