package game

import (
	"math"
	"testing"
)

func TestZeroConfigIsTheBenchmarkArena(t *testing.T) {
	p := Config{}.Params()
	want := Params{
		TickRate: 30, Size: 2000, PlayerRadius: 16, PlayerSpeed: 200,
		ProjectileSpeed: 600, ProjectileRadius: 4, ProjectileLifetimeTicks: 30,
		FireCooldownQuarterTicks: 30, MaxHealth: 100, ProjectileDamage: 10, RespawnTicks: 60,
	}
	if p != want {
		t.Fatalf("Config{}.Params() = %+v, want %+v", p, want)
	}
	if err := (Config{}).Validate(); err != nil {
		t.Fatal(err)
	}
}

func TestDurationsInTicksFollowTheTickRate(t *testing.T) {
	tests := []struct {
		rate                         int
		lifetime, cooldown, respawns uint32
	}{
		{20, 20, 20, 40}, // cooldown in quarter ticks: 0.25 s = 5 ticks
		{30, 30, 30, 60}, // 7.5 ticks
		{60, 60, 60, 120},
	}
	for _, tt := range tests {
		p := Config{TickRate: tt.rate}.Params()
		if p.ProjectileLifetimeTicks != tt.lifetime || p.FireCooldownQuarterTicks != tt.cooldown || p.RespawnTicks != tt.respawns {
			t.Errorf("%d Hz: lifetime %d, cooldown %d/4, respawn %d ticks; want %d, %d, %d", tt.rate,
				p.ProjectileLifetimeTicks, p.FireCooldownQuarterTicks, p.RespawnTicks, tt.lifetime, tt.cooldown, tt.respawns)
		}
		if p.Dt() != 1/float64(tt.rate) {
			t.Errorf("%d Hz: Dt %v", tt.rate, p.Dt())
		}
	}
}

func TestArenaGrowsWithPlayersBeyondAHundred(t *testing.T) {
	tests := []struct {
		players int
		size    float64
	}{
		{0, 2000}, {1, 2000}, {100, 2000}, {400, 4000}, {1000, QuantizePosition(200 * math.Sqrt(1000))},
	}
	for _, tt := range tests {
		if got := (Config{MaxPlayers: tt.players}).Params().Size; got != tt.size {
			t.Errorf("%d players: size %v, want %v", tt.players, got, tt.size)
		}
	}
}

func TestParamsTravelExactlyAsFloat32(t *testing.T) {
	for _, n := range []int{100, 137, 1000, 5000, MaxPlayersLimit} {
		p := Config{MaxPlayers: n}.Params()
		for _, v := range []float64{p.Size, p.PlayerRadius, p.PlayerSpeed, p.ProjectileSpeed, p.ProjectileRadius} {
			if float64(float32(v)) != v {
				t.Errorf("%d players: %v changes through float32", n, v)
			}
		}
	}
}

func TestInvalidConfigRejected(t *testing.T) {
	tests := map[string]Config{
		"tick rate 45":          {TickRate: 45},
		"negative tick rate":    {TickRate: -30},
		"negative max players":  {MaxPlayers: -1},
		"too many players":      {MaxPlayers: MaxPlayersLimit + 1},
		"negative size":         {Size: -10},
		"size smaller than one": {Size: 20},
		"size too large":        {Size: 2 * MaxArenaSize},
		"NaN size":              {Size: math.NaN()},
		"infinite size":         {Size: math.Inf(1)},
	}
	for name, cfg := range tests {
		if err := cfg.Validate(); err == nil {
			t.Errorf("%s: %+v accepted", name, cfg)
		}
	}
}

func TestInvalidParamsRejected(t *testing.T) {
	good := Config{}.Params()
	tests := map[string]func(*Params){
		"zero tick rate":      func(p *Params) { p.TickRate = 0 },
		"NaN speed":           func(p *Params) { p.PlayerSpeed = math.NaN() },
		"negative speed":      func(p *Params) { p.ProjectileSpeed = -1 },
		"radius fills arena":  func(p *Params) { p.PlayerRadius = p.Size / 2 },
		"zero lifetime":       func(p *Params) { p.ProjectileLifetimeTicks = 0 },
		"huge cooldown":       func(p *Params) { p.FireCooldownQuarterTicks = math.MaxUint32 },
		"zero health":         func(p *Params) { p.MaxHealth = 0 },
		"negative damage":     func(p *Params) { p.ProjectileDamage = -1 },
		"zero respawn":        func(p *Params) { p.RespawnTicks = 0 },
		"NaN projectile size": func(p *Params) { p.ProjectileRadius = math.NaN() },
	}
	for name, mutate := range tests {
		p := good
		mutate(&p)
		if err := p.Validate(); err == nil {
			t.Errorf("%s: %+v accepted", name, p)
		}
	}
	if err := good.Validate(); err != nil {
		t.Errorf("defaults rejected: %v", err)
	}
}

func TestNewWorldPanicsOnInvalidConfig(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("no panic")
		}
	}()
	NewWorld(Config{TickRate: 45})
}

func TestMoveLengthClampedToOne(t *testing.T) {
	tests := []struct {
		name   string
		mx, my int8
		// want is the displacement as a fraction of a full step per axis.
		wantX, wantY float64
	}{
		{"full right", 127, 0, 1, 0},
		{"full left", -127, 0, -1, 0},
		{"half up", 0, 64, 0, 64.0 / 127},
		{"diagonal corner normalised", 127, 127, 1 / math.Sqrt2, 1 / math.Sqrt2},
		{"hostile -128 normalised", -128, -128, -1 / math.Sqrt2, -1 / math.Sqrt2},
		{"short diagonal kept", 50, 50, 50.0 / 127, 50.0 / 127},
		{"still", 0, 0, 0, 0},
	}
	forEachRate(t, func(t *testing.T, rate int) {
		p := Config{TickRate: rate}.Params()
		for _, tt := range tests {
			pl := Player{X: 1000, Y: 1000, Alive: true}
			p.MovePlayer(&pl, Input{Tick: 1, MoveX: tt.mx, MoveY: tt.my})
			dx, dy := pl.X-1000, pl.Y-1000
			// Positions are on the 1/16 grid: half a step of rounding.
			const tol = 0.5 / PositionScale
			if math.Abs(dx-tt.wantX*p.PlayerStep()) > tol || math.Abs(dy-tt.wantY*p.PlayerStep()) > tol {
				t.Errorf("%s: moved (%v, %v), want (%v, %v)", tt.name, dx, dy, tt.wantX*p.PlayerStep(), tt.wantY*p.PlayerStep())
			}
			if math.Hypot(dx, dy) > p.PlayerStep()+tol {
				t.Errorf("%s: moved %v, more than a step of %v", tt.name, math.Hypot(dx, dy), p.PlayerStep())
			}
			if pl.X != QuantizePosition(pl.X) || pl.Y != QuantizePosition(pl.Y) {
				t.Errorf("%s: (%v, %v) off the position grid", tt.name, pl.X, pl.Y)
			}
			if pl.MoveX != tt.mx || pl.MoveY != tt.my || pl.LastInputTick != 1 {
				t.Errorf("%s: player records move (%d, %d) tick %d", tt.name, pl.MoveX, pl.MoveY, pl.LastInputTick)
			}
		}
	})
}

func TestPlayerStaysInsideArena(t *testing.T) {
	moves := map[string][2]int8{
		"right": {127, 0}, "left": {-127, 0}, "up": {0, 127}, "down": {0, -127},
		"corner": {127, 127}, "other corner": {-128, -128},
	}
	forEachRate(t, func(t *testing.T, rate int) {
		p := Config{TickRate: rate}.Params()
		lo, hi := p.PlayerRadius, p.Size-p.PlayerRadius
		for name, mv := range moves {
			pl := Player{X: 1000, Y: 1000, Alive: true}
			for tick := uint32(1); tick <= uint32(15*rate); tick++ { // 3000 units: wall to wall
				p.MovePlayer(&pl, Input{Tick: tick, MoveX: mv[0], MoveY: mv[1]})
				if pl.X < lo || pl.X > hi || pl.Y < lo || pl.Y > hi {
					t.Fatalf("%s: at (%v, %v), outside [%v, %v]", name, pl.X, pl.Y, lo, hi)
				}
			}
			// It ends pressed against the walls it ran into.
			for axis, m := range mv {
				v := []float64{pl.X, pl.Y}[axis]
				if (m > 0 && v != hi) || (m < 0 && v != lo) {
					t.Errorf("%s: axis %d stopped at %v, not at the wall", name, axis, v)
				}
			}
		}
	})
}

func TestDeadPlayerInputOnlyAdvancesLastInputTick(t *testing.T) {
	p := Config{}.Params()
	pl := Player{X: 500, Y: 500, Aim: 7}
	p.MovePlayer(&pl, Input{Tick: 9, MoveX: 127, Aim: 100})
	want := Player{X: 500, Y: 500, Aim: 7, LastInputTick: 9}
	if pl != want {
		t.Fatalf("dead player became %+v, want %+v", pl, want)
	}
}

func TestAngleSinCosMatchesMathWithinAnUlpOrTwo(t *testing.T) {
	for u := 0; u < AngleSteps; u++ {
		s, c := AngleSinCos(uint16(u))
		ws, wc := math.Sincos(UnitsToAngle(uint16(u)))
		// math.Sincos first rounds the angle to float64 (up to 4.4e-16
		// off near 2π), hence the looser bound against it.
		if math.Abs(s-ws) > 1e-15 || math.Abs(c-wc) > 1e-15 {
			t.Fatalf("units %d: (%v, %v), math says (%v, %v)", u, s, c, ws, wc)
		}
	}
	// Against the exact value (40 digits, mpmath), it is within an ulp.
	s, c := AngleSinCos(40998)
	if math.Abs(s - -0.7096782173168084923) > 1.2e-16 || math.Abs(c - -0.7045259596821374324) > 1.2e-16 {
		t.Errorf("units 40998: (%v, %v), want (-0.70967821731680849, -0.70452595968213743)", s, c)
	}
	for u, want := range map[uint16][2]float64{0: {0, 1}, 16384: {1, 0}, 32768: {0, -1}, 49152: {-1, 0}} {
		if s, c := AngleSinCos(u); s != want[0] || c != want[1] {
			t.Errorf("units %d: (%v, %v), want exactly %v", u, s, c, want)
		}
	}
}

func TestProjectilePositionIsAPureFunctionOfItsFields(t *testing.T) {
	forEachRate(t, func(t *testing.T, rate int) {
		p := Config{TickRate: rate}.Params()
		pr := Projectile{OriginX: 100, OriginY: 200, Angle: AngleSteps / 4, SpawnTick: 10}
		if x, y := pr.PositionAt(p, 10); x != 100 || y != 200 {
			t.Errorf("at spawn: (%v, %v)", x, y)
		}
		// A quarter turn flies along +y; one second is ProjectileSpeed.
		if x, y := pr.PositionAt(p, 10+uint32(rate)); x != 100 || math.Abs(y-800) > 1e-9 {
			t.Errorf("after 1 s: (%v, %v), want (100, 800)", x, y)
		}
		if x, y := pr.PositionAt(p, 9); x != 100 || y != 200-p.ProjectileStep() {
			t.Errorf("a tick before spawn: (%v, %v)", x, y)
		}
	})
}
