package game

import (
	"errors"
	"math"
	"testing"
)

func TestNewWorldStartsAtTickZeroAndEachStepAdvancesOne(t *testing.T) {
	w := NewWorld(Config{})
	if w.Tick() != 0 {
		t.Fatalf("new world at tick %d", w.Tick())
	}
	for want := uint32(1); want <= 3; want++ {
		w.Step(nil)
		if w.Tick() != want {
			t.Fatalf("after %d steps, tick %d", want, w.Tick())
		}
	}
}

func TestAddPlayerSpawnsAliveWithFullHealthOnTheGridInside(t *testing.T) {
	w, ids := newTestWorld(t, Config{Seed: 7}, 100)
	p := w.Params()
	seen := map[[2]float64]bool{}
	for i, id := range ids {
		if i > 0 && id <= ids[i-1] {
			t.Fatalf("IDs not increasing: %v", ids)
		}
		pl := mustPlayer(t, w, id)
		if !pl.Alive || pl.Health != p.MaxHealth || pl.Score != 0 {
			t.Errorf("player %d spawned as %+v", id, pl)
		}
		if pl.X < p.PlayerRadius || pl.X > p.Size-p.PlayerRadius || pl.Y < p.PlayerRadius || pl.Y > p.Size-p.PlayerRadius {
			t.Errorf("player %d spawned outside the arena at (%v, %v)", id, pl.X, pl.Y)
		}
		if pl.X != QuantizePosition(pl.X) || pl.Y != QuantizePosition(pl.Y) {
			t.Errorf("player %d spawned off the grid at (%v, %v)", id, pl.X, pl.Y)
		}
		seen[[2]float64{pl.X, pl.Y}] = true
	}
	if len(seen) < 95 {
		t.Errorf("only %d distinct spawn positions for 100 players", len(seen))
	}
}

func TestAddPlayerFailsWhenFull(t *testing.T) {
	w, _ := newTestWorld(t, Config{MaxPlayers: 3}, 3)
	if _, err := w.AddPlayer(); !errors.Is(err, ErrRoomFull) {
		t.Fatalf("fourth player: %v, want ErrRoomFull", err)
	}
}

func TestRemovedPlayerIsGoneAndItsIDNeverReused(t *testing.T) {
	w, ids := newTestWorld(t, Config{MaxPlayers: 2}, 2)
	w.RemovePlayer(ids[0])
	w.RemovePlayer(999) // unknown: ignored
	if _, ok := w.Player(ids[0]); ok {
		t.Fatal("removed player still there")
	}
	id, err := w.AddPlayer()
	if err != nil {
		t.Fatal(err)
	}
	if id <= ids[1] {
		t.Fatalf("new player got ID %d, not above %d", id, ids[1])
	}
}

func TestMissingInputMeansNoMove(t *testing.T) {
	w, ids := newTestWorld(t, Config{}, 2)
	id := ids[0]
	w.Step(one(id, Input{Tick: 1, MoveX: 127}))
	moved := mustPlayer(t, w, id)
	if moved.MoveX != 127 {
		t.Fatalf("MoveX %d after a move", moved.MoveX)
	}
	w.Step(nil)
	still := mustPlayer(t, w, id)
	if still.X != moved.X || still.Y != moved.Y {
		t.Errorf("moved without input: (%v, %v) -> (%v, %v)", moved.X, moved.Y, still.X, still.Y)
	}
	if still.MoveX != 0 || still.MoveY != 0 {
		t.Errorf("move vector (%d, %d) kept without input", still.MoveX, still.MoveY)
	}
	if still.LastInputTick != 1 {
		t.Errorf("LastInputTick %d, want 1", still.LastInputTick)
	}
}

func TestEachInputInAStepIsOneMove(t *testing.T) {
	w, ids := newTestWorld(t, Config{}, 1)
	id := ids[0]
	place(t, w, id, 1000, 1000)
	right := Input{MoveX: 127}
	a, b, c := right, right, right
	a.Tick, b.Tick, c.Tick = 1, 2, 3
	w.Step([]PlayerInput{{id, a}, {id, b}, {id, c}})
	pl := mustPlayer(t, w, id)
	// Each step is rounded to the grid: up to half a grid step each.
	if want := 1000 + 3*w.Params().PlayerStep(); math.Abs(pl.X-want) > 3*0.5/PositionScale {
		t.Errorf("three inputs moved to x=%v, want %v", pl.X, want)
	}
	if pl.LastInputTick != 3 {
		t.Errorf("LastInputTick %d, want 3", pl.LastInputTick)
	}
}

func TestStepMovesExactlyAsMovePlayerPredicts(t *testing.T) {
	w, ids := newTestWorld(t, Config{Seed: 3}, 1)
	id := ids[0]
	predicted := mustPlayer(t, w, id)
	for tick := uint32(1); tick <= 300; tick++ {
		in := QuantizeInput(tick, math.Cos(float64(tick)/7), math.Sin(float64(tick)/11), float64(tick), false)
		w.Step(one(id, in))
		w.Params().MovePlayer(&predicted, in)
		if got := mustPlayer(t, w, id); got != predicted {
			t.Fatalf("tick %d: world %+v, prediction %+v", tick, got, predicted)
		}
	}
}

func TestInputsForUnknownPlayersAreIgnored(t *testing.T) {
	w, ids := newTestWorld(t, Config{}, 1)
	before := mustPlayer(t, w, ids[0])
	w.Step(one(ids[0]+100, Input{Tick: 1, MoveX: 127, Fire: true}))
	if got := mustPlayer(t, w, ids[0]); got != before {
		t.Errorf("player changed: %+v -> %+v", before, got)
	}
	if len(w.projectiles) != 0 {
		t.Errorf("%d projectiles from an unknown player", len(w.projectiles))
	}
}

func TestFireCooldownLimitsRate(t *testing.T) {
	forEachRate(t, func(t *testing.T, rate int) {
		w, ids := newTestWorld(t, Config{TickRate: rate}, 1)
		id := ids[0]
		var shots []uint32
		const seconds = 10
		for tick := uint32(1); tick <= seconds*uint32(rate); tick++ {
			// Held fire, and two extra inputs a tick: catch-up must not
			// fire faster either.
			w.Step([]PlayerInput{{id, fire(tick, 0)}, {id, fire(tick, 0)}, {id, fire(tick, 0)}})
			for _, pr := range projectilesOf(w, id) {
				if pr.SpawnTick == tick {
					shots = append(shots, tick)
				}
			}
		}
		// 4 a second exactly, even where 0.25 s is not a whole number of
		// ticks (7.5 at 30 Hz: gaps of 7 and 8 ticks alternate).
		if len(shots) != 4*seconds {
			t.Errorf("%d shots in %d s, want 4 a second", len(shots), seconds)
		}
		lo, hi := uint32(rate/4), uint32((rate+3)/4)
		for i := 1; i < len(shots); i++ {
			if gap := shots[i] - shots[i-1]; gap < lo || gap > hi {
				t.Fatalf("shots at ticks %d and %d: %d ticks apart, want %d to %d", shots[i-1], shots[i], gap, lo, hi)
			}
		}
	})
}

func TestProjectileLeavesFromTheNewPositionAlongTheAim(t *testing.T) {
	w, ids := newTestWorld(t, Config{}, 1)
	id := ids[0]
	place(t, w, id, 1000, 1000)
	w.Step(one(id, Input{Tick: 1, MoveX: 127, Aim: 1234, Fire: true}))
	pl := mustPlayer(t, w, id)
	prs := projectilesOf(w, id)
	if len(prs) != 1 {
		t.Fatalf("%d projectiles", len(prs))
	}
	pr := prs[0]
	if pr.OriginX != pl.X || pr.OriginY != pl.Y || pr.Angle != 1234 || pr.SpawnTick != 1 || pr.ID <= id {
		t.Errorf("projectile %+v from player at (%v, %v)", pr, pl.X, pl.Y)
	}
	if pl.CooldownQuarterTicks != int32(w.Params().FireCooldownQuarterTicks)-4 {
		t.Errorf("cooldown %d after the tick of the shot", pl.CooldownQuarterTicks)
	}
}

func TestProjectileHitDamagesAndVanishes(t *testing.T) {
	forEachRate(t, func(t *testing.T, rate int) {
		w, ids := newTestWorld(t, Config{TickRate: rate}, 2)
		shooter, target := ids[0], ids[1]
		place(t, w, shooter, 500, 500)
		place(t, w, target, 600, 500)
		p := w.Params()
		w.Step(one(shooter, fire(1, 0))) // along +x
		// The projectile touches the target once within the hit radius:
		// 100 - 20 = 80 units of flight.
		hitTick := 1 + uint32(math.Ceil(80/p.ProjectileStep()))
		for w.Tick() < hitTick-1 {
			w.Step(nil)
			if got := mustPlayer(t, w, target).Health; got != p.MaxHealth {
				t.Fatalf("tick %d: target health %d before the projectile reached it", w.Tick(), got)
			}
		}
		w.Step(nil)
		if got := mustPlayer(t, w, target).Health; got != p.MaxHealth-p.ProjectileDamage {
			t.Fatalf("tick %d: target health %d, want %d", w.Tick(), got, p.MaxHealth-p.ProjectileDamage)
		}
		if n := len(projectilesOf(w, shooter)); n != 0 {
			t.Errorf("projectile still in flight after the hit")
		}
		if got := mustPlayer(t, w, shooter).Health; got != p.MaxHealth {
			t.Errorf("shooter hurt: health %d", got)
		}
	})
}

func TestProjectileHitsTheFirstPlayerAlongItsPath(t *testing.T) {
	w, ids := newTestWorld(t, Config{TickRate: 20}, 3) // 30 units a tick
	shooter, near, far := ids[0], ids[2], ids[1]       // the far one has the lower ID
	place(t, w, shooter, 500, 500)
	place(t, w, far, 548, 500)
	place(t, w, near, 530, 500)
	w.Step(one(shooter, fire(1, 0)))
	w.Step(nil)
	if h := mustPlayer(t, w, near).Health; h != 90 {
		t.Errorf("near player health %d, want 90", h)
	}
	if h := mustPlayer(t, w, far).Health; h != 100 {
		t.Errorf("far player health %d, want 100", h)
	}
}

func TestProjectileNeverHitsItsOwner(t *testing.T) {
	w, ids := newTestWorld(t, Config{}, 1)
	id := ids[0]
	place(t, w, id, 1000, 1000)
	w.Step(one(id, fire(1, 0)))
	// Run after it: the owner overtakes nothing, but stays on its path.
	for tick := uint32(2); tick < 30; tick++ {
		w.Step(one(id, Input{Tick: tick, MoveX: 127}))
	}
	if h := mustPlayer(t, w, id).Health; h != 100 {
		t.Errorf("owner health %d", h)
	}
}

func TestKillScoresAndRespawnsAfterTwoSeconds(t *testing.T) {
	forEachRate(t, func(t *testing.T, rate int) {
		w, ids := newTestWorld(t, Config{TickRate: rate, Seed: 5}, 2)
		shooter, target := ids[0], ids[1]
		place(t, w, shooter, 500, 500)
		place(t, w, target, 530, 500)
		p := w.Params()
		edit(t, w, target, func(pl *Player) { pl.Health = p.ProjectileDamage })
		w.Step(one(shooter, fire(1, 0)))
		w.Step(nil) // the projectile starts inside the hit radius: hit now
		deathTick := w.Tick()
		dead := mustPlayer(t, w, target)
		if dead.Alive || dead.Health != 0 || dead.RespawnTick != deathTick+uint32(2*rate) {
			t.Fatalf("target after the killing hit: %+v", dead)
		}
		if s := mustPlayer(t, w, shooter).Score; s != 1 {
			t.Errorf("shooter score %d, want 1", s)
		}
		// Dead players neither move nor fire, but their inputs count as seen.
		for w.Tick() < dead.RespawnTick-1 {
			tick := w.Tick() + 1
			w.Step(one(target, Input{Tick: tick, MoveX: 127, Fire: true}))
			pl := mustPlayer(t, w, target)
			if pl.Alive || pl.X != dead.X || pl.LastInputTick != tick {
				t.Fatalf("tick %d: dead player %+v", tick, pl)
			}
		}
		if n := len(projectilesOf(w, target)); n != 0 {
			t.Errorf("dead player fired %d projectiles", n)
		}
		w.Step(nil)
		back := mustPlayer(t, w, target)
		if !back.Alive || back.Health != p.MaxHealth || w.Tick() != deathTick+uint32(2*rate) {
			t.Fatalf("tick %d: %+v, want alive with full health at tick %d", w.Tick(), back, deathTick+uint32(2*rate))
		}
		if back.X < p.PlayerRadius || back.X > p.Size-p.PlayerRadius || back.Y < p.PlayerRadius || back.Y > p.Size-p.PlayerRadius {
			t.Errorf("respawned outside the arena at (%v, %v)", back.X, back.Y)
		}
	})
}

func TestKillByADepartedPlayerScoresNobody(t *testing.T) {
	w, ids := newTestWorld(t, Config{}, 2)
	shooter, target := ids[0], ids[1]
	place(t, w, shooter, 500, 500)
	place(t, w, target, 600, 500)
	edit(t, w, target, func(pl *Player) { pl.Health = 10 })
	w.Step(one(shooter, fire(1, 0)))
	w.RemovePlayer(shooter)
	for i := 0; i < 10; i++ {
		w.Step(nil)
	}
	if pl := mustPlayer(t, w, target); pl.Alive {
		t.Fatalf("the departed player's projectile did not kill: %+v", pl)
	}
}

func TestProjectileVanishesAtWallAndAfterLifetime(t *testing.T) {
	forEachRate(t, func(t *testing.T, rate int) {
		tests := []struct {
			name     string
			x, y     float64
			aim      uint16
			lastTick uint32 // last tick it is in flight
		}{
			// 1960 units from the wall at x = 2000 ... only 1 s of flight
			// (600 units), so the lifetime ends it.
			{"lifetime", 40, 1000, 0, 1 + uint32(rate) - 1},
			// 100 units to the wall at x = 2000: on the wall is still
			// inside; out once past it.
			{"right wall", 1900, 1000, 0, 1 + uint32(100/(600/rate))},
			// 100 units to the wall at y = 0.
			{"bottom wall", 1000, 100, 3 * AngleSteps / 4, 1 + uint32(100/(600/rate))},
		}
		for _, tt := range tests {
			w, ids := newTestWorld(t, Config{TickRate: rate}, 1)
			id := ids[0]
			place(t, w, id, tt.x, tt.y)
			w.Step(one(id, fire(1, tt.aim)))
			for w.Tick() < tt.lastTick {
				w.Step(nil)
			}
			if len(projectilesOf(w, id)) != 1 {
				t.Fatalf("%s: projectile gone before tick %d", tt.name, tt.lastTick)
			}
			w.Step(nil)
			if len(projectilesOf(w, id)) != 0 {
				t.Fatalf("%s: projectile still there at tick %d", tt.name, w.Tick())
			}
		}
	})
}

func TestSnapshotIsSortedAndReusesItsSlices(t *testing.T) {
	w, ids := newTestWorld(t, Config{}, 10)
	for tick := uint32(1); tick <= 20; tick++ {
		var ins []PlayerInput
		for _, id := range ids {
			ins = append(ins, PlayerInput{id, fire(tick, uint16(id)*5000)})
		}
		w.Step(ins)
	}
	var s Snapshot
	w.Snapshot(&s)
	if s.Tick != 20 || len(s.Players) != 10 || len(s.Projectiles) == 0 {
		t.Fatalf("snapshot: tick %d, %d players, %d projectiles", s.Tick, len(s.Players), len(s.Projectiles))
	}
	for i := 1; i < len(s.Players); i++ {
		if s.Players[i].ID <= s.Players[i-1].ID {
			t.Fatal("players not sorted by ID")
		}
	}
	for i := 1; i < len(s.Projectiles); i++ {
		if s.Projectiles[i].ID <= s.Projectiles[i-1].ID {
			t.Fatal("projectiles not sorted by ID")
		}
	}
	if n := testing.AllocsPerRun(100, func() { w.Snapshot(&s) }); n != 0 {
		t.Errorf("Snapshot into a used snapshot allocates %v times", n)
	}
}

func TestStepAllocatesNothing(t *testing.T) {
	w, ids := newTestWorld(t, Config{}, 100)
	ins := make([]PlayerInput, len(ids))
	tick := uint32(0)
	step := func() {
		tick++
		for i, id := range ids {
			ins[i] = PlayerInput{id, Input{Tick: tick, MoveX: int8(i%255 - 127), MoveY: 60, Aim: uint16(i * 655), Fire: i%2 == 0}}
		}
		w.Step(ins)
	}
	for i := 0; i < 100; i++ {
		step()
	}
	if n := testing.AllocsPerRun(200, step); n != 0 {
		t.Errorf("Step allocates %v times", n)
	}
}
