package game

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"math"
	"sync"
	"testing"
	"time"
)

// The scenes of these tests: a shooter at (500, 1000) fires along +x
// (aim 0) at tick fireTick; the target stands, or walks along +y at full
// speed, on the line x = targetX. The projectile's centre passes
// targetX arrive ticks after the shot (10.5 at 30 Hz).
const (
	fireTick = 40
	shooterX = 500
	lineY    = 1000
	targetX  = 710
)

// arriveTicks is how many ticks after its spawn a projectile fired from
// shooterX reaches targetX.
func arriveTicks(p Params) float64 { return (targetX - shooterX) / p.ProjectileStep() }

// walkStep is how far a player moving along one axis at full speed goes
// in a tick.
func walkStep(p Params) float64 {
	pl := Player{X: 100, Y: 100, Alive: true}
	p.MovePlayer(&pl, Input{MoveY: MoveSteps})
	return pl.Y - 100
}

// scene is one shot at one target.
type scene struct {
	cfg Config
	// shot is the shooter's input at fireTick; its Tick is fireTick
	// unless set, and Fire and Aim 0 are forced.
	shot Input
	// The target is at (targetX, y0) before tick 1 and walks +y at full
	// speed from tick walkFrom on (never, when 0).
	y0       float64
	walkFrom uint32
	// joinAt, when set, adds the target only after that tick's step.
	joinAt uint32
	// deadFrom..deadTo: the target is (made) dead at the end of these
	// ticks, alive again after.
	deadFrom, deadTo uint32
}

// run plays the scene through the projectile's lifetime and returns the
// hits on the target and the target's final state.
func (sc scene) run(t *testing.T) (hits []Hit, target Player) {
	t.Helper()
	w := NewWorld(sc.cfg)
	p := w.Params()
	shooter, err := w.AddPlayer()
	if err != nil {
		t.Fatal(err)
	}
	place(t, w, shooter, shooterX, lineY)
	var id EntityID
	join := func() {
		if id, err = w.AddPlayer(); err != nil {
			t.Fatal(err)
		}
		place(t, w, id, targetX, QuantizePosition(sc.y0))
	}
	if sc.joinAt == 0 {
		join()
	}
	for tick := uint32(1); tick <= fireTick+p.ProjectileLifetimeTicks+1; tick++ {
		var ins []PlayerInput
		if tick == fireTick {
			in := sc.shot
			if in.Tick == 0 {
				in.Tick = tick
			}
			in.Fire, in.Aim = true, 0
			ins = append(ins, PlayerInput{shooter, in})
		}
		if id != 0 && sc.walkFrom != 0 && tick >= sc.walkFrom {
			ins = append(ins, PlayerInput{id, Input{Tick: tick, MoveY: MoveSteps}})
		}
		w.Step(ins)
		for _, h := range w.Hits() {
			if h.Shooter != shooter {
				t.Fatalf("tick %d: hit by %d, not the shooter", tick, h.Shooter)
			}
			hits = append(hits, h)
		}
		if id == 0 && tick == sc.joinAt {
			join()
		}
		if id != 0 && sc.deadFrom != 0 && tick+1 == sc.deadFrom {
			edit(t, w, id, func(pl *Player) { pl.Alive, pl.RespawnTick = false, math.MaxUint32 })
		}
		if id != 0 && sc.deadTo != 0 && tick == sc.deadTo {
			edit(t, w, id, func(pl *Player) { pl.Alive = true })
		}
	}
	if id != 0 {
		target = mustPlayer(t, w, id)
	}
	return hits, target
}

// crossing is a target that walks across the line of fire and is on it
// (centre on y = lineY) lag ticks before the projectile passes: where a
// client lag ticks behind saw it when the projectile would reach it.
func crossing(p Params, lag float64) scene {
	return scene{
		y0:       lineY - walkStep(p)*(fireTick+arriveTicks(p)-lag),
		walkFrom: 1,
	}
}

// TestLagCompensationHitsWhereTheShooterSawTheTarget: a target crossing
// the line of fire is hit by a shooter who fired when, lag ticks in the
// past as its client drew the world, the target was about to meet the
// projectile; without compensation (or without the lag in the input) the
// same shot misses behind it, by about lag × 6.7 units.
func TestLagCompensationHitsWhereTheShooterSawTheTarget(t *testing.T) {
	p := Config{}.Params()
	tests := []struct {
		name       string
		cfg        Config
		viewLag    uint16  // sent with the shot
		late       uint32  // ticks the shot's input is late
		seenAt     float64 // ticks behind the server the target was seen on the line
		hit        bool
		wantRewind uint16
	}{
		{name: "compensated at the view lag", viewLag: 6 * 16, seenAt: 6, hit: true, wantRewind: 96},
		{name: "fractional view lag", viewLag: 88, seenAt: 5.5, hit: true, wantRewind: 88},
		{name: "short view lag", viewLag: 2 * 16, seenAt: 2, hit: true, wantRewind: 32},
		{name: "a late input adds its lateness", viewLag: 4 * 16, late: 2, seenAt: 6, hit: true, wantRewind: 96},
		{name: "compensation off", cfg: Config{NoLagCompensation: true}, viewLag: 6 * 16, seenAt: 6},
		{name: "old client: no view lag, no rewind", seenAt: 6},
		{name: "no lag at all: hit as before", seenAt: 0, hit: true},
		{name: "uncompensated shooter leading the target misses", viewLag: 6 * 16, seenAt: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sc := crossing(p, tt.seenAt)
			sc.cfg = tt.cfg
			sc.shot = Input{ViewLag: tt.viewLag, Tick: fireTick - tt.late}
			hits, target := sc.run(t)
			if !tt.hit {
				if len(hits) != 0 {
					t.Fatalf("hit %+v, want a miss", hits)
				}
				if target.Health != p.MaxHealth {
					t.Fatalf("target health %d after a miss", target.Health)
				}
				return
			}
			if len(hits) != 1 {
				t.Fatalf("%d hits, want 1", len(hits))
			}
			if h := hits[0]; h.Rewind != tt.wantRewind || h.Killed {
				t.Fatalf("hit %+v, want rewind %d", h, tt.wantRewind)
			}
			// The damage is the target's now, wherever it has walked to.
			if target.Health != p.MaxHealth-p.ProjectileDamage || !target.Alive {
				t.Fatalf("target after the hit: %+v", target)
			}
		})
	}
}

// TestRewoundTargetIsInterpolatedBetweenPastTicks: a player walking in a
// straight line is found, rewind/16 ticks back, on that line where it was
// then, between the positions of whole ticks.
func TestRewoundTargetIsInterpolatedBetweenPastTicks(t *testing.T) {
	forEachRate(t, func(t *testing.T, rate int) {
		w, ids := newTestWorld(t, Config{TickRate: rate}, 1)
		place(t, w, ids[0], 100, 100)
		step := walkStep(w.Params())
		for tick := uint32(1); tick <= 40; tick++ {
			w.Step(one(ids[0], Input{Tick: tick, MoveX: MoveSteps}))
		}
		pl := &w.players[0]
		for r := uint32(0); r <= w.maxRewind; r++ {
			x, y, ok := w.rewound(pl, 0, r)
			want := 100 + step*(40-float64(r)/16)
			if !ok || math.Abs(x-want) > 1e-9 || y != 100 {
				t.Fatalf("rewind %d/16: (%v, %v, %v), want (%v, 100)", r, x, y, ok, want)
			}
		}
	})
}

// TestRewindIsBoundedWhateverTheInputClaims is the cheat test: however
// large a view lag an input claims, and however early or late its tick,
// the rewind applied is at most MaxRewind, at every rate.
func TestRewindIsBoundedWhateverTheInputClaims(t *testing.T) {
	forEachRate(t, func(t *testing.T, rate int) {
		p := Config{TickRate: rate}.Params()
		bound := MaxRewindTicks16(rate)
		if RewindDuration(bound, rate) != MaxRewind || bound != uint32(32*rate/5) {
			t.Fatalf("bound %d/16 ticks is %v", bound, RewindDuration(bound, rate))
		}
		tenSeconds := uint16(10 * rate * ViewLagScale)
		tests := []struct {
			name string
			shot Input
			want uint32
		}{
			{"10 s of view lag", Input{ViewLag: tenSeconds}, bound},
			{"the largest view lag", Input{ViewLag: math.MaxUint16}, bound},
			{"just over the bound", Input{ViewLag: uint16(bound + 1)}, bound},
			{"the bound", Input{ViewLag: uint16(bound)}, bound},
			{"the largest lag, stamped far in the future", Input{ViewLag: math.MaxUint16, Tick: fireTick + 1000}, bound},
			{"a little lag, stamped far in the future", Input{ViewLag: 3, Tick: fireTick + 1000}, 3},
			{"a little lag, stamped at tick 1", Input{ViewLag: 1, Tick: 1}, bound},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				sc := scene{y0: lineY, shot: tt.shot} // a target standing on the line
				sc.cfg.TickRate = rate
				hits, _ := sc.run(t)
				if len(hits) != 1 || uint32(hits[0].Rewind) != tt.want {
					t.Fatalf("hits %+v, want one rewound %d/16 ticks", hits, tt.want)
				}
				if d := RewindDuration(uint32(hits[0].Rewind), rate); d > MaxRewind {
					t.Fatalf("rewound %v, beyond %v", d, MaxRewind)
				}
			})
		}
		// What the bound buys: a target that left the line of fire more
		// than MaxRewind before the projectile passed is safe from a
		// client claiming 10 s of lag...
		arrive := arriveTicks(p)
		left := uint32(math.Floor(fireTick + arrive - float64(bound)/16 - 60/walkStep(p)))
		sc := scene{y0: lineY, walkFrom: left, shot: Input{ViewLag: math.MaxUint16}}
		sc.cfg.TickRate = rate
		if hits, _ := sc.run(t); len(hits) != 0 {
			t.Errorf("a target that left the line at tick %d was hit: %+v", left, hits)
		}
		// ... while one that was still on it MaxRewind before is hit,
		// although it is far from the line by the time of the hit: the
		// trade-off, a target can be hit just after reaching cover.
		left = uint32(math.Ceil(fireTick + arrive - float64(bound)/16))
		sc = scene{y0: lineY, walkFrom: left, shot: Input{ViewLag: uint16(bound)}}
		sc.cfg.TickRate = rate
		hits, target := sc.run(t)
		if len(hits) != 1 {
			t.Fatalf("a target on the line %v ago was not hit", MaxRewind)
		}
		if d := target.Y - lineY; d < 2*p.HitRadius() {
			t.Errorf("the target was only %v units from the line at the end", d)
		}
	})
}

// TestRewindSkipsTargetsThatWereNotThere: a rewound shot does not hit a
// player who had not joined yet or was dead at the rewound time (the
// shooter's client could not have drawn it there), nor one dead now;
// without compensation the first two are hit.
func TestRewindSkipsTargetsThatWereNotThere(t *testing.T) {
	p := Config{}.Params()
	bound := uint16(MaxRewindTicks16(p.TickRate))
	hitAt := uint32(fireTick + math.Ceil(arriveTicks(p)-1)) // the sweep that reaches the target
	rewound := hitAt - uint32(bound/ViewLagScale)           // where the bound takes that sweep's targets
	tests := []struct {
		name        string
		sc          scene
		uncompHit   bool // hit without compensation
		compensated bool // hit with it
	}{
		{"joined after the rewound time", scene{y0: lineY, joinAt: fireTick + 5}, true, false},
		{"dead at the rewound time", scene{y0: lineY, deadFrom: rewound - 2, deadTo: hitAt - 3}, true, false},
		{"dead now, alive then", scene{y0: lineY, deadFrom: hitAt - 1, deadTo: fireTick + 40}, false, false},
		{"alive then and now", scene{y0: lineY}, true, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, comp := range []bool{false, true} {
				sc := tt.sc
				sc.cfg.NoLagCompensation = !comp
				sc.shot = Input{ViewLag: bound}
				hits, _ := sc.run(t)
				want := tt.uncompHit
				if comp {
					want = tt.compensated
				}
				if got := len(hits) > 0; got != want {
					t.Errorf("compensation %v: hit %v (%+v), want %v", comp, got, hits, want)
				}
			}
		})
	}
}

// TestViewLagFromTicksRoundsAndClamps: the client's conversion.
func TestViewLagFromTicksRoundsAndClamps(t *testing.T) {
	for ticks, want := range map[float64]uint16{
		-3: 0, 0: 0, 0.01: 0, 1.0 / 32: 1, 1: 16, 7.5: 120, 4095.9: 65534, 4096: math.MaxUint16, 1e9: math.MaxUint16,
		math.NaN(): 0, math.Inf(1): math.MaxUint16, math.Inf(-1): 0,
	} {
		if got := ViewLagFromTicks(ticks); got != want {
			t.Errorf("ViewLagFromTicks(%v) = %d, want %d", ticks, got, want)
		}
	}
}

// TestStepWithRewindAllocatesNothing: shots that rewind, in a full room,
// cost no allocation once the rewind ring has grown.
func TestStepWithRewindAllocatesNothing(t *testing.T) {
	w, ids := newTestWorld(t, Config{Size: 600}, 100)
	ins := make([]PlayerInput, len(ids))
	tick := uint32(0)
	step := func() {
		tick++
		for i, id := range ids {
			ins[i] = PlayerInput{id, Input{Tick: tick, MoveX: int8(i%255 - 127), MoveY: 60, Aim: uint16(i * 655),
				Fire: i%2 == 0, ViewLag: uint16(i % 200)}}
		}
		w.Step(ins)
	}
	rewound := 0
	for range 300 {
		step()
		for _, h := range w.Hits() {
			if h.Rewind > 0 {
				rewound++
			}
		}
	}
	if rewound == 0 {
		t.Fatal("no rewound hit: the test proves nothing")
	}
	if n := testing.AllocsPerRun(200, step); n != 0 {
		t.Errorf("Step allocates %v times", n)
	}
}

// TestRewoundWorldsAreDeterministic: the busy scenario of
// determinism_test.go with every shot claiming a random view lag (some
// beyond the bound) gives bit-identical worlds, with many rewound hits.
func TestRewoundWorldsAreDeterministic(t *testing.T) {
	sc := newScenario(t, 7, 2)
	sc.viewLags = newTestRand(7, 3)
	var a, b Snapshot
	hits, rewound := 0, 0
	for range 2000 {
		sc.step(t)
		sc.worlds[0].Snapshot(&a)
		sc.worlds[1].Snapshot(&b)
		if fmt.Sprint(a) != fmt.Sprint(b) {
			t.Fatalf("tick %d: worlds differ", a.Tick)
		}
		h0, h1 := sc.worlds[0].Hits(), sc.worlds[1].Hits()
		if fmt.Sprint(h0) != fmt.Sprint(h1) {
			t.Fatalf("tick %d: hits differ", a.Tick)
		}
		for _, h := range h0 {
			hits++
			if h.Rewind > 0 {
				rewound++
			}
			if uint32(h.Rewind) > MaxRewindTicks16(30) {
				t.Fatalf("tick %d: rewound %d/16 ticks", a.Tick, h.Rewind)
			}
		}
	}
	if rewound < 100 {
		t.Errorf("only %d of %d hits rewound: the scenario proves little", rewound, hits)
	}
	t.Logf("%d hits, %d rewound", hits, rewound)
}

// goldenRewindHash pins the rewound simulation across platforms, as
// goldenHash does the rest.
const goldenRewindHash = 0x07d50275263ca809

func TestRewoundSimulationMatchesGoldenHash(t *testing.T) {
	sc := newScenario(t, 2024, 1)
	sc.viewLags = newTestRand(2024, 3)
	h := fnv.New64a()
	var s Snapshot
	for range 2000 {
		sc.step(t)
		sc.worlds[0].Snapshot(&s)
		hashSnapshot(h, &s)
	}
	if got := h.Sum64(); got != goldenRewindHash {
		t.Errorf("simulation hash %#x, want %#x", got, uint64(goldenRewindHash))
	}
}

// hitSink is a room's sink that observes hits.
type hitSink struct {
	mu      sync.Mutex
	rewinds []time.Duration
}

func (s *hitSink) OnTick(*Snapshot, *History) {}

func (s *hitSink) ObserveHit(_ Hit, d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rewinds = append(s.rewinds, d)
}

// TestRoomReportsHitsAndTheirRewind: the room counts hits, rewound or
// not, and hands each hit's rewind to a sink that observes hits, bounded
// by MaxRewind whatever the input claims.
func TestRoomReportsHitsAndTheirRewind(t *testing.T) {
	sink := &hitSink{}
	clock := NewManualClock(time.Unix(1000, 0))
	room, err := NewRoom(RoomConfig{Clock: clock, Sink: sink, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	shooter, _ := room.AddPlayer()
	target, _ := room.AddPlayer()
	room.mu.Lock()
	place(t, room.world, shooter, shooterX, lineY)
	place(t, room.world, target, targetX, lineY)
	room.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	done := make(chan error, 1)
	go func() { done <- room.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Errorf("Run returned %v", err)
		}
	}()
	if !clock.WaitTickers(1, ctx.Done()) {
		t.Fatal("room never started its ticker")
	}
	// Two shots: one claiming a huge lag, one from an old client; each
	// hits the target standing on the line.
	for tick, lag := range map[uint32]uint16{3: math.MaxUint16, 30: 0} {
		room.QueueInputs(shooter, []Input{{Tick: tick, Fire: true, ViewLag: lag}})
	}
	for tick := uint32(1); tick <= 60; tick++ {
		clock.Advance(room.Period())
		if err := room.WaitTick(ctx, tick); err != nil {
			t.Fatal(err)
		}
	}
	st := room.LagCompStats()
	if st.Hits != 2 || st.HitsRewound != 1 || st.MaxRewind != MaxRewind {
		t.Fatalf("stats %+v, want 2 hits, 1 rewound by %v", st, MaxRewind)
	}
	sink.mu.Lock()
	defer sink.mu.Unlock()
	if len(sink.rewinds) != 2 || sink.rewinds[0] != MaxRewind || sink.rewinds[1] != 0 {
		t.Fatalf("observed rewinds %v, want [%v 0s]", sink.rewinds, MaxRewind)
	}
	room.ResetStats()
	if st := room.LagCompStats(); st != (LagCompStats{}) {
		t.Fatalf("after ResetStats: %+v", st)
	}
}

// BenchmarkWorldStepRewind is BenchmarkWorldStep with every shot
// claiming a view lag of 5 ticks (167 ms), so that every projectile is
// tested against rewound players; compare the two for the cost of lag
// compensation.
func BenchmarkWorldStepRewind(b *testing.B) {
	for _, n := range benchPlayers {
		b.Run(fmt.Sprintf("players=%d", n), func(b *testing.B) {
			w, ids := newTestWorld(b, Config{MaxPlayers: n, Seed: 1}, n)
			swarm := newBotSwarm(1, w.Params().TickRate)
			for _, id := range ids {
				swarm.add(id)
			}
			ins := make([]PlayerInput, 0, n)
			step := func() {
				ins = swarm.inputs(w.Tick()+1, ins[:0])
				for i := range ins {
					if ins[i].Input.Fire {
						ins[i].Input.ViewLag = 5 * ViewLagScale
					}
				}
				w.Step(ins)
			}
			for range warmupTicks {
				step()
			}
			hits, rewound := 0, 0
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				step()
				for _, h := range w.Hits() {
					hits++
					if h.Rewind > 0 {
						rewound++
					}
				}
			}
			b.ReportMetric(float64(hits)/float64(b.N), "hits")
			b.ReportMetric(float64(rewound)/float64(b.N), "rewound")
		})
	}
}
