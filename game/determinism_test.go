package game

import (
	"encoding/binary"
	"hash/fnv"
	"math"
	"reflect"
	"testing"
)

// scenario is a busy, seeded game: 50 bots in a small arena (so that they
// hit, kill and respawn a lot), players joining and leaving, and now and
// then a player with several inputs in one tick (the room's catch-up) or
// none at all (a lost packet).
type scenario struct {
	worlds []*World
	swarm  *botSwarm
	events testRand
	ins    []PlayerInput
	// viewLags, when set, gives every shot a random view lag (lag
	// compensation), some beyond the bound; unset, shots claim none.
	viewLags testRand
}

func newScenario(t testing.TB, seed uint64, copies int) *scenario {
	t.Helper()
	cfg := Config{MaxPlayers: 60, Size: 700, Seed: seed}
	sc := &scenario{swarm: newBotSwarm(seed, 30), events: newTestRand(seed, 2)}
	for range copies {
		sc.worlds = append(sc.worlds, NewWorld(cfg))
	}
	for range 50 {
		sc.join(t)
	}
	return sc
}

func (sc *scenario) join(t testing.TB) {
	t.Helper()
	var id EntityID
	for i, w := range sc.worlds {
		got, err := w.AddPlayer()
		if err != nil {
			t.Fatal(err)
		}
		if i > 0 && got != id {
			t.Fatalf("worlds gave a new player IDs %d and %d", id, got)
		}
		id = got
	}
	sc.swarm.add(id)
}

// step advances every world one tick with the same inputs.
func (sc *scenario) step(t testing.TB) {
	t.Helper()
	switch r := sc.events.intN(100); {
	case r < 2 && len(sc.swarm.bots) < 60:
		sc.join(t)
	case r < 4 && len(sc.swarm.bots) > 30:
		id := sc.swarm.remove(sc.events.intN(len(sc.swarm.bots)))
		for _, w := range sc.worlds {
			w.RemovePlayer(id)
		}
	}
	tick := sc.worlds[0].Tick() + 1
	sc.ins = sc.swarm.inputs(tick, sc.ins[:0])
	for i := 0; i < len(sc.ins); i++ {
		switch r := sc.events.intN(50); r {
		case 0: // lost: no input this tick
			sc.ins = append(sc.ins[:i], sc.ins[i+1:]...)
		case 1: // catch-up: an extra, turned input
			extra := sc.ins[i]
			extra.Input.MoveX, extra.Input.MoveY = extra.Input.MoveY, -extra.Input.MoveX
			sc.ins = append(sc.ins, extra)
		}
	}
	if sc.viewLags.pcg != nil {
		for i := range sc.ins {
			if in := &sc.ins[i].Input; in.Fire {
				in.ViewLag = uint16(sc.viewLags.intN(200))
			}
		}
	}
	for _, w := range sc.worlds {
		w.Step(sc.ins)
	}
}

func TestSameSeedAndInputsGiveBitIdenticalWorlds(t *testing.T) {
	sc := newScenario(t, 99, 2)
	var a, b Snapshot
	alive := map[EntityID]bool{}
	var deaths, respawns, maxProjectiles int
	for range 3000 {
		sc.step(t)
		sc.worlds[0].Snapshot(&a)
		sc.worlds[1].Snapshot(&b)
		if !reflect.DeepEqual(a, b) {
			t.Fatalf("tick %d: worlds differ", a.Tick)
		}
		for _, pl := range a.Players {
			if was, ok := alive[pl.ID]; ok && was && !pl.Alive {
				deaths++
			} else if ok && !was && pl.Alive {
				respawns++
			}
			alive[pl.ID] = pl.Alive
		}
		maxProjectiles = max(maxProjectiles, len(a.Projectiles))
	}
	if deaths < 20 || respawns < 20 {
		t.Errorf("scenario too quiet to prove much: %d deaths, %d respawns", deaths, respawns)
	}
	t.Logf("3000 ticks: %d deaths, %d respawns, up to %d projectiles", deaths, respawns, maxProjectiles)
}

func TestDifferentSeedsSpawnDifferently(t *testing.T) {
	a, _ := newTestWorld(t, Config{Seed: 1}, 10)
	b, _ := newTestWorld(t, Config{Seed: 2}, 10)
	var sa, sb Snapshot
	a.Snapshot(&sa)
	b.Snapshot(&sb)
	if reflect.DeepEqual(sa, sb) {
		t.Error("seeds 1 and 2 spawned the same players")
	}
}

// goldenHash is the hash of every snapshot of the golden scenario. It
// pins the simulation across platforms (amd64 with and without FMA,
// arm64, wasm) and Go versions: a change of rules changes it on purpose;
// a change anywhere else is a determinism bug.
const goldenHash = 0x4bf034945db03d77

func TestSimulationMatchesGoldenHash(t *testing.T) {
	sc := newScenario(t, 2024, 1)
	h := fnv.New64a()
	var s Snapshot
	for range 2000 {
		sc.step(t)
		sc.worlds[0].Snapshot(&s)
		hashSnapshot(h, &s)
	}
	if got := h.Sum64(); got != goldenHash {
		t.Errorf("simulation hash %#x, want %#x", got, uint64(goldenHash))
	}
}

func hashSnapshot(h interface{ Write([]byte) (int, error) }, s *Snapshot) {
	b := binary.LittleEndian.AppendUint32(nil, s.Tick)
	for _, p := range s.Players {
		b = binary.LittleEndian.AppendUint32(b, uint32(p.ID))
		b = binary.LittleEndian.AppendUint64(b, math.Float64bits(p.X))
		b = binary.LittleEndian.AppendUint64(b, math.Float64bits(p.Y))
		b = append(b, byte(p.Aim), byte(p.Aim>>8), byte(p.MoveX), byte(p.MoveY))
		b = binary.LittleEndian.AppendUint32(b, uint32(p.Health))
		b = binary.LittleEndian.AppendUint32(b, uint32(p.Score))
		b = binary.LittleEndian.AppendUint32(b, uint32(p.CooldownQuarterTicks))
		b = binary.LittleEndian.AppendUint32(b, p.RespawnTick)
		b = binary.LittleEndian.AppendUint32(b, p.LastInputTick)
		if p.Alive {
			b = append(b, 1)
		} else {
			b = append(b, 0)
		}
	}
	for _, p := range s.Projectiles {
		b = binary.LittleEndian.AppendUint32(b, uint32(p.ID))
		b = binary.LittleEndian.AppendUint32(b, uint32(p.Owner))
		b = binary.LittleEndian.AppendUint64(b, math.Float64bits(p.OriginX))
		b = binary.LittleEndian.AppendUint64(b, math.Float64bits(p.OriginY))
		b = append(b, byte(p.Angle), byte(p.Angle>>8))
		b = binary.LittleEndian.AppendUint32(b, p.SpawnTick)
		// The flight too: PositionAt is part of what must not drift.
		x, y := p.PositionAt(Config{Size: 700}.Params(), s.Tick)
		b = binary.LittleEndian.AppendUint64(b, math.Float64bits(x))
		b = binary.LittleEndian.AppendUint64(b, math.Float64bits(y))
	}
	h.Write(b)
}
