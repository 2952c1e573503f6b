package client

import (
	"math"
	"slices"
	"time"

	"github.com/tickwire/tickwire/game"
)

// Prediction tuning.
const (
	// pendingCap is how many unacknowledged inputs prediction keeps (8.5 s
	// at 30 Hz); older ones are forgotten.
	pendingCap = 256
	// correctionTau is the time constant with which a correction's error
	// fades from the display; after correctionFade it is gone.
	correctionTau  = 25 * time.Millisecond
	correctionFade = 100 * time.Millisecond
	// snapDistance is an error too large to hide: the display jumps.
	snapDistance = 100.0
	// correctionSamples is how many recent correction sizes the median
	// is taken over.
	correctionSamples = 1024
)

// predictor predicts the own player with the game's own rules
// (game.Params.MovePlayer), from the newest state the server sent and the
// inputs the server has not applied yet. Not safe for concurrent use; the
// Client locks.
type predictor struct {
	params   game.Params
	interval time.Duration

	pending [pendingCap]game.Input // ring, oldest at first
	first   int
	count   int

	has       bool
	cur, prev game.Player // after the newest input, and before it
	tick      uint32      // the server tick cur stands for
	inputAt   time.Time   // when the newest input was applied

	offX, offY float64 // display error being faded out
	offAt      time.Time

	corrections, snaps int64
	sizes              [correctionSamples]float64
	sizesN, sizesAt    int
	maxCorrection      float64
}

func (p *predictor) init(params game.Params) {
	p.params = params
	p.interval = time.Second / time.Duration(params.TickRate)
}

// apply predicts one local input at once. It reports the projectile the
// input fires, if the game's rules let it fire.
func (p *predictor) apply(in game.Input, now time.Time) (shot game.Projectile, fired bool) {
	if p.count == pendingCap {
		p.first = (p.first + 1) % pendingCap
		p.count--
	}
	p.pending[(p.first+p.count)%pendingCap] = in
	p.count++
	p.inputAt = now
	if !p.has {
		return game.Projectile{}, false
	}
	p.prev = p.cur
	if p.step(in) {
		return game.ShotFrom(&p.cur, in.Aim, p.tick), true
	}
	return game.Projectile{}, false
}

// step applies one input to cur as World.Step would: at the input's tick,
// or at the next tick if the server is past it (a late input), after the
// cooldown of the ticks in between; then the move, the trigger and the
// tick's cooldown. It reports whether the input fires.
func (p *predictor) step(in game.Input) bool {
	at := max(in.Tick, p.tick+1)
	for t := p.tick + 1; t < at; t++ {
		game.CoolDown(&p.cur)
	}
	p.tick = at
	p.params.MovePlayer(&p.cur, in)
	fired := p.params.Fire(&p.cur, in)
	game.CoolDown(&p.cur)
	return fired
}

// reconcile rewinds to the server's state of the own player after tick
// (its fire cooldown from the snapshot header), which has applied every
// input up to lastInput, and replays the inputs after it. A replayed
// input that no longer fires is refuted in shots, when given. The
// difference from what was predicted is a correction: small ones fade
// from the display over correctionFade, large ones (and deaths and
// respawns) snap. It returns the correction's size in world units.
func (p *predictor) reconcile(server game.Player, tick, lastInput uint32, now time.Time, shots *ownShots) float64 {
	for p.count > 0 && p.pending[p.first].Tick <= lastInput {
		p.first = (p.first + 1) % pendingCap
		p.count--
	}
	old, had := p.cur, p.has
	p.cur, p.prev, p.has, p.tick = server, server, true, tick
	for k := 0; k < p.count; k++ {
		p.prev = p.cur
		in := p.pending[(p.first+k)%pendingCap]
		if !p.step(in) && in.Fire && shots != nil {
			shots.refute(in.Tick)
		}
	}
	if !had {
		return 0
	}
	if old.Alive != p.cur.Alive || !p.cur.Alive {
		if old.Alive != p.cur.Alive {
			p.snaps++
		}
		p.offX, p.offY = 0, 0
		return 0
	}
	ex, ey := old.X-p.cur.X, old.Y-p.cur.Y
	size := math.Hypot(ex, ey)
	if size == 0 {
		return 0
	}
	p.corrections++
	p.sizes[p.sizesAt] = size
	p.sizesAt = (p.sizesAt + 1) % correctionSamples
	p.sizesN = min(p.sizesN+1, correctionSamples)
	p.maxCorrection = max(p.maxCorrection, size)
	if size > snapDistance {
		p.offX, p.offY = 0, 0
		return size
	}
	ox, oy := p.offset(now)
	p.offX, p.offY, p.offAt = ox+ex, oy+ey, now
	return size
}

// offset is the part of past corrections still shown at now.
func (p *predictor) offset(now time.Time) (float64, float64) {
	return fade(p.offX, p.offY, now.Sub(p.offAt))
}

// own is the own player as displayed at now: between the states before
// and after the newest input (so that movement is smooth at any frame
// rate, one input interval behind the prediction), plus the fading
// correction.
func (p *predictor) own(now time.Time) (game.Player, bool) {
	if !p.has {
		return game.Player{}, false
	}
	pl := p.cur
	frac := p.frac(now)
	pl.X = p.prev.X + (p.cur.X-p.prev.X)*frac
	pl.Y = p.prev.Y + (p.cur.Y-p.prev.Y)*frac
	ox, oy := p.offset(now)
	pl.X += ox
	pl.Y += oy
	return pl, true
}

// frac is how far the display has come from prev to cur at now.
func (p *predictor) frac(now time.Time) float64 {
	if p.interval <= 0 {
		return 1
	}
	return max(0, min(1, now.Sub(p.inputAt).Seconds()/p.interval.Seconds()))
}

// displayTick is the server tick the own player is drawn at, at now: one
// input interval behind the prediction (see own). Own shots are drawn on
// the same timeline, so that they leave the player where it is drawn.
func (p *predictor) displayTick(now time.Time) float64 {
	return float64(p.tick) - 1 + p.frac(now)
}

// correctionStats are the count, median and largest correction.
func (p *predictor) correctionStats() (n int64, p50, maxSize float64) {
	if p.sizesN == 0 {
		return p.corrections, 0, 0
	}
	s := slices.Clone(p.sizes[:p.sizesN])
	slices.Sort(s)
	return p.corrections, s[len(s)/2], p.maxCorrection
}
