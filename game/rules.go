package game

import "math"

// The pure rules shared by the server's World and the client's prediction.
// Every product that meets an addition is wrapped in float64(), which the
// Go spec says forces rounding, so no platform may fuse it into a
// multiply-add: amd64, arm64 and wasm compute the same bits.

// MovePlayer applies one input's movement to pl exactly as World.Step
// does: the move vector (MoveX, MoveY)/MoveSteps, its length clamped to 1,
// times PlayerStep, with the position kept on the position grid inside
// [PlayerRadius, Size-PlayerRadius]; then Aim, MoveX, MoveY and
// LastInputTick. A dead player only records LastInputTick. Firing is
// Fire's, after the move; CoolDown ends each tick.
//
// The displacement is rounded to the grid before it is added, so a player
// moving freely advances by the same whole number of grid steps every tick,
// which is also what the snapshot codec predicts.
func (p Params) MovePlayer(pl *Player, in Input) {
	pl.LastInputTick = in.Tick
	if !pl.Alive {
		pl.MoveX, pl.MoveY = 0, 0
		return
	}
	pl.Aim, pl.MoveX, pl.MoveY = in.Aim, in.MoveX, in.MoveY
	dx, dy := p.moveStep(in.MoveX, in.MoveY)
	if dx == 0 && dy == 0 {
		return
	}
	lo, hi := p.gridBounds()
	pl.X = fromGrid(min(max(toGrid(pl.X)+dx, lo), hi))
	pl.Y = fromGrid(min(max(toGrid(pl.Y)+dy, lo), hi))
}

// Fire applies one input's trigger to pl exactly as World.Step does,
// after MovePlayer: the input fires if it holds Fire, the player is alive
// and less than a tick (4 quarters) of cooldown is left, and firing adds
// FireCooldownQuarterTicks to the cooldown. It reports whether a
// projectile leaves (ShotFrom). The client predicts its own shots with
// it, so that a shot the server will refuse is not drawn.
func (p Params) Fire(pl *Player, in Input) bool {
	if !in.Fire || !pl.Alive || pl.CooldownQuarterTicks >= 4 {
		return false
	}
	pl.CooldownQuarterTicks += int32(p.FireCooldownQuarterTicks)
	return true
}

// CoolDown counts pl's fire cooldown down by one tick, as World.Step does
// at the end of every tick, whatever number of inputs the player had.
func CoolDown(pl *Player) {
	pl.CooldownQuarterTicks = max(0, pl.CooldownQuarterTicks-4)
}

// ShotFrom is the projectile that pl, having just fired at tick, launches
// along aim: from its position, without an ID (World.Step gives one).
func ShotFrom(pl *Player, aim uint16, tick uint32) Projectile {
	return Projectile{Owner: pl.ID, OriginX: pl.X, OriginY: pl.Y, Angle: aim, SpawnTick: tick}
}

// Inside reports whether (x, y) is in the arena; a projectile that leaves
// it vanishes.
func (p Params) Inside(x, y float64) bool {
	return x >= 0 && x <= p.Size && y >= 0 && y <= p.Size
}

// EndTick is the tick at which World.Step retires pr if it hits nothing:
// the first tick at which its age reaches ProjectileLifetimeTicks or it
// is outside the arena. A projectile gone from a snapshot before EndTick
// hit someone.
func (pr Projectile) EndTick(params Params) uint32 {
	sin, cos := AngleSinCos(pr.Angle)
	step := params.ProjectileStep()
	life := int64(params.ProjectileLifetimeTicks)
	for age := int64(1); age < life; age++ {
		if x, y := pr.positionAfter(sin, cos, step, age); !params.Inside(x, y) {
			return pr.SpawnTick + uint32(age)
		}
	}
	return pr.SpawnTick + uint32(max(life, 1))
}

// moveStep is one tick of moving along (mx, my), in grid steps. Each line
// is single IEEE operations with nothing to fuse.
func (p Params) moveStep(mx, my int8) (dx, dy int64) {
	if mx == 0 && my == 0 {
		return 0, 0
	}
	// The length is at least MoveSteps: shorter vectors are scaled by
	// 1/MoveSteps, longer ones normalised to length 1.
	l := max(math.Sqrt(float64(int(mx)*int(mx)+int(my)*int(my))), MoveSteps)
	stepGrid := p.PlayerSpeed * PositionScale / float64(p.TickRate)
	dx = int64(math.Round(stepGrid * float64(mx) / l))
	dy = int64(math.Round(stepGrid * float64(my) / l))
	return dx, dy
}

// toGrid converts a coordinate to position-grid steps.
func toGrid(v float64) int64 { return int64(math.Round(v * PositionScale)) }

// fromGrid converts position-grid steps to a coordinate (exact).
func fromGrid(v int64) float64 { return float64(v) / PositionScale }

// PositionAt is where p is at tick t: its origin plus (cos, sin)(Angle)
// times ProjectileStep·(t-SpawnTick). It is a pure function of the
// projectile's fields, so server and clients agree on it bit for bit.
func (p Projectile) PositionAt(params Params, t uint32) (x, y float64) {
	sin, cos := AngleSinCos(p.Angle)
	return p.positionAfter(sin, cos, params.ProjectileStep(), int64(t)-int64(p.SpawnTick))
}

// positionAfter is PositionAt with the trigonometry done once by the
// caller: the one expression both use.
func (p Projectile) positionAfter(sin, cos, step float64, ticks int64) (x, y float64) {
	dist := float64(step * float64(ticks))
	return p.OriginX + float64(cos*dist), p.OriginY + float64(sin*dist)
}

// AngleSinCos returns the sine and cosine of an angle in 1/AngleSteps of a
// turn. Unlike math.Sincos, whose polynomial the compiler may fuse into
// multiply-adds on some platforms, it uses only correctly rounded IEEE
// operations, so every platform gets the same bits. The error is within
// a couple of ulps of the exact value.
func AngleSinCos(u uint16) (sin, cos float64) {
	const quarter = AngleSteps / 4
	q := u / quarter
	r := u % quarter
	swap := r > quarter/2
	if swap {
		r = quarter - r
	}
	// The outer conversion keeps this product out of the polynomial's
	// first multiply-add.
	x := float64(float64(r) * (2 * math.Pi / AngleSteps)) // in [0, π/4]
	s, c := sinPoly(x), cosPoly(x)
	if swap {
		s, c = c, s
	}
	switch q {
	case 0:
		return s, c
	case 1:
		return c, -s
	case 2:
		return -s, -c
	default:
		return -c, s
	}
}

// sinPoly is the Taylor series of sin to x^17, accurate to well below an
// ulp on [0, π/4].
func sinPoly(x float64) float64 {
	z := float64(x * x)
	p := 1.0 / 355687428096000
	p = float64(p*z) - 1.0/1307674368000
	p = float64(p*z) + 1.0/6227020800
	p = float64(p*z) - 1.0/39916800
	p = float64(p*z) + 1.0/362880
	p = float64(p*z) - 1.0/5040
	p = float64(p*z) + 1.0/120
	p = float64(p*z) - 1.0/6
	return x + float64(float64(x*z)*p)
}

// cosPoly is the Taylor series of cos to x^18 on [0, π/4].
func cosPoly(x float64) float64 {
	z := float64(x * x)
	p := -1.0 / 6402373705728000
	p = float64(p*z) + 1.0/20922789888000
	p = float64(p*z) - 1.0/87178291200
	p = float64(p*z) + 1.0/479001600
	p = float64(p*z) - 1.0/3628800
	p = float64(p*z) + 1.0/40320
	p = float64(p*z) - 1.0/720
	p = float64(p*z) + 1.0/24
	p = float64(p*z) - 1.0/2
	return 1 + float64(z*p)
}
