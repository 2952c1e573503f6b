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

// apply predicts one local input at once.
func (p *predictor) apply(in game.Input, now time.Time) {
	if p.count == pendingCap {
		p.first = (p.first + 1) % pendingCap
		p.count--
	}
	p.pending[(p.first+p.count)%pendingCap] = in
	p.count++
	p.inputAt = now
	if p.has {
		p.prev = p.cur
		p.params.MovePlayer(&p.cur, in)
	}
}

// reconcile rewinds to the server's state of the own player, which has
// applied every input up to lastInput, and replays the inputs after it.
// The difference from what was predicted is a correction: small ones fade
// from the display over correctionFade, large ones (and deaths and
// respawns) snap. It returns the correction's size in world units.
func (p *predictor) reconcile(server game.Player, lastInput uint32, now time.Time) float64 {
	for p.count > 0 && p.pending[p.first].Tick <= lastInput {
		p.first = (p.first + 1) % pendingCap
		p.count--
	}
	old, had := p.cur, p.has
	p.cur, p.prev, p.has = server, server, true
	for k := 0; k < p.count; k++ {
		p.prev = p.cur
		p.params.MovePlayer(&p.cur, p.pending[(p.first+k)%pendingCap])
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
	dt := now.Sub(p.offAt)
	if dt >= correctionFade || (p.offX == 0 && p.offY == 0) {
		return 0, 0
	}
	k := math.Exp(-max(0, dt.Seconds()) / correctionTau.Seconds())
	return p.offX * k, p.offY * k
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
	frac := 1.0
	if p.interval > 0 {
		frac = max(0, min(1, now.Sub(p.inputAt).Seconds()/p.interval.Seconds()))
	}
	pl.X = p.prev.X + (p.cur.X-p.prev.X)*frac
	pl.Y = p.prev.Y + (p.cur.Y-p.prev.Y)*frac
	ox, oy := p.offset(now)
	pl.X += ox
	pl.Y += oy
	return pl, true
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
