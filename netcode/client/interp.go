package client

import (
	"math"
	"slices"
	"time"

	"github.com/tickwire/tickwire/game"
)

// Frame is what a client draws (or a bot checks) at one display frame.
type Frame struct {
	// RenderTick is the server time shown for remote entities, in
	// (fractional) ticks.
	RenderTick float64
	// Delay is the interpolation delay behind the newest server time.
	Delay time.Duration
	// Span is how many ticks apart the two snapshots interpolated
	// between are (1 when none was missed); 0 when the frame
	// extrapolated or held.
	Span uint32
	// Own is the own player from prediction; valid when HasOwn. OwnTick
	// is the (fractional) tick it is drawn at, ahead of RenderTick: own
	// projectiles are drawn at the same tick, from the moment they are
	// fired (predicted, with ID 0 until the server's copy arrives).
	Own     game.Player
	HasOwn  bool
	OwnTick float64
	// Remote are the other players, interpolated. The slices are reused
	// between calls.
	Remote      []game.Player
	Projectiles []FrameProjectile
}

// FrameProjectile is a projectile where a Frame shows it.
type FrameProjectile struct {
	ID, Owner game.EntityID
	X, Y      float64
}

// Interpolation tuning.
const (
	// interpRing is how many snapshots the buffer keeps: far more than the
	// delay ever spans.
	interpRing = 32
	// lateWindow is how many arrivals the delay is chosen from.
	lateWindow = 256
	// lateShare is the share of those arrivals allowed to come too late
	// for the delay: the delay is their (1-lateShare) quantile.
	lateShare = 0.005
	// delayMargin is added to that quantile, in ticks: the tail beyond
	// it is thin but long, and a frame late by a little is still late.
	delayMargin = 0.15
	// delayShrink is how fast the delay may shrink on a clean link.
	delayShrink = 5 * time.Millisecond // per second
	// renderHorizon is the time over which the render clock closes the gap
	// to its target; renderSlow and renderFast bound its rate change.
	renderHorizon = 300 * time.Millisecond
	renderSlow    = 0.25
	renderFast    = 0.10
)

// interpSnap is a snapshot the buffer holds: the client's inbox keeps it
// unchanged for baselineRing ticks, and the buffer forgets it after
// interpSpan, so it is never copied.
type interpSnap struct {
	tick uint32
	*game.Snapshot
}

// interpSpan is how many ticks back the buffer keeps snapshots: well
// inside the inbox's baselineRing, beyond which a snapshot it returned
// may be overwritten.
const interpSpan = baselineRing / 2

// interpBuffer renders remote entities a little in the past, between two
// received snapshots. Not safe for concurrent use; the Client locks.
//
// The render clock R(now) runs at the server's rate, at a delay behind the
// arrival clock (clockSync.arrival). The delay is chosen from the last
// lateWindow arrivals: for each, the delay it needed not to have been
// late is A(arrival) - (the newest tick held before it), since until it
// came nothing past that tick could be interpolated. The target delay
// settles at the smallest that would have kept all but lateShare of them
// on time (plus delayMargin); an arrival later than the current delay
// raises it at once, and it shrinks at most delayShrink per second. The render
// clock never jumps (unless 250 ms off): it runs up to renderSlow slower
// or renderFast faster to follow the target.
type interpBuffer struct {
	params game.Params
	rate   float64
	own    game.EntityID

	snaps [interpRing]interpSnap
	n     int // snapshots held
	head  int // index of the newest

	need   [lateWindow]float32 // needed delays, ticks, in arrival order (ring)
	needN  int
	needAt int
	sorted [lateWindow]float32 // need[:needN], kept in ascending order

	target     float64 // target delay, ticks
	targetAt   time.Time
	hasRender  bool
	render     float64 // R at renderAt, ticks
	renderAt   time.Time
	delayTicks float64 // A - R at the last frame
	lastGap    uint32  // ticks between the two snapshots of the last frame; 0 if it did not interpolate

	interpolated, extrapolated, held int64
}

func (b *interpBuffer) init(p game.Params, own game.EntityID) {
	b.params, b.rate, b.own = p, float64(p.TickRate), own
	b.target = 2
}

// add stores a decoded snapshot that arrived at arrival clock value a.
func (b *interpBuffer) add(s *game.Snapshot, a float64, now time.Time) {
	if b.n > 0 {
		newest := b.snaps[b.head].tick
		if s.Tick <= newest {
			return
		}
		b.noteNeed(a-float64(newest), now)
		b.head = (b.head + 1) % interpRing
	}
	b.n = min(b.n+1, interpRing)
	b.snaps[b.head] = interpSnap{tick: s.Tick, Snapshot: s}
	for b.n > 1 && s.Tick-b.snaps[b.oldest()].tick >= interpSpan {
		b.snaps[b.oldest()] = interpSnap{}
		b.n--
	}
}

func (b *interpBuffer) oldest() int { return (b.head - b.n + 1 + interpRing) % interpRing }

// forgetRecycled lets go of the snapshots baselineRing or more ticks older
// than tick: the client's inbox decodes tick into the slot one of them
// may occupy. The client calls it before decoding (after an outage of
// over baselineRing ticks the buffer is then empty until the new
// snapshot is added).
func (b *interpBuffer) forgetRecycled(tick uint32) {
	for b.n > 0 && b.snaps[b.oldest()].tick+baselineRing <= tick {
		b.snaps[b.oldest()] = interpSnap{}
		b.n--
	}
}

// noteNeed records one arrival's needed delay and updates the target.
func (b *interpBuffer) noteNeed(need float64, now time.Time) {
	// The window stays sorted by one removal and one insertion (two
	// memmoves) instead of a sort per snapshot.
	if math.IsNaN(need) {
		return
	}
	// An arrival later than clockJump is an outage or a stall of the
	// client's reader (the backlog drains at once), not a delay worth
	// keeping: kept, it would put the render clock seconds back, behind
	// every snapshot held, and every frame would show as held until it
	// shrank back, minutes later. Past that bound frames extrapolate, then
	// hold, only for the outage itself.
	need = min(need, clockJump.Seconds()*b.rate)
	v := float32(need)
	if b.needN == lateWindow {
		old := b.need[b.needAt]
		i, _ := slices.BinarySearch(b.sorted[:b.needN], old)
		copy(b.sorted[i:b.needN-1], b.sorted[i+1:b.needN])
		b.needN--
	}
	i, _ := slices.BinarySearch(b.sorted[:b.needN], v)
	copy(b.sorted[i+1:b.needN+1], b.sorted[i:b.needN])
	b.sorted[i] = v
	b.needN++
	b.need[b.needAt] = v
	b.needAt = (b.needAt + 1) % lateWindow
	w := b.sorted[:b.needN]
	k := int(math.Ceil((1-lateShare)*float64(len(w)))) - 1
	want := float64(w[max(k, 0)]) + delayMargin
	if b.needN < lateWindow/4 {
		want = max(want, 2) // too few samples yet: start at two intervals
	}
	if !b.targetAt.IsZero() {
		shrink := now.Sub(b.targetAt).Seconds() * delayShrink.Seconds() * b.rate
		b.target = max(want, b.target-shrink)
	}
	// A snapshot later than the delay allows grows it at once, even
	// before it counts in the quantile; it then shrinks slowly back.
	b.target = max(want, b.target, need+delayMargin)
	b.targetAt = now
}

// advance moves the render clock to now, given the arrival clock a(now).
func (b *interpBuffer) advance(a float64, now time.Time) float64 {
	r := b.renderTickAt(a, now)
	if !b.hasRender || now.After(b.renderAt) {
		b.renderAt = now
	}
	b.render, b.hasRender = r, true
	b.delayTicks = a - r
	return r
}

// renderTickAt is the render tick R a frame drawn at now would show, given
// the arrival clock a(now): where advance would move the render clock,
// without moving it.
func (b *interpBuffer) renderTickAt(a float64, now time.Time) float64 {
	want := a - b.target
	if !b.hasRender {
		return want
	}
	dt := max(0, now.Sub(b.renderAt).Seconds())
	gap := want - (b.render + dt*b.rate) // ticks, at the nominal rate
	if math.Abs(gap) > clockJump.Seconds()*b.rate {
		return want
	}
	adj := max(-renderSlow, min(renderFast, gap/b.rate/renderHorizon.Seconds()))
	return b.render + dt*b.rate*(1+adj)
}

// delay is the interpolation delay at the last frame.
func (b *interpBuffer) delay() time.Duration {
	if b.rate == 0 {
		return 0
	}
	return time.Duration(b.delayTicks / b.rate * float64(time.Second))
}

// frame fills f's remote players and projectiles at render tick r and
// counts the frame; with f nil it only counts it.
func (b *interpBuffer) frame(r float64, f *Frame) {
	a, nb, frac, pt, how := b.locate(r)
	switch how {
	case placedInterpolated:
		b.interpolated++
	case placedExtrapolated:
		b.extrapolated++
	default:
		b.held++
	}
	b.lastGap = 0
	if nb != nil {
		b.lastGap = nb.tick - a.tick
	}
	b.placeFrom(f, r, a, nb, frac, pt)
}

// place fills f as frame does, without counting a frame: for a look at
// the view between frames (the own shots' hit test).
func (b *interpBuffer) place(r float64, f *Frame) {
	a, nb, frac, pt, _ := b.locate(r)
	b.placeFrom(f, r, a, nb, frac, pt)
}

func (b *interpBuffer) placeFrom(f *Frame, r float64, a, nb *interpSnap, frac, pt float64) {
	if f == nil {
		return
	}
	f.RenderTick = r
	f.Remote = f.Remote[:0]
	f.Projectiles = f.Projectiles[:0]
	if a != nil {
		b.fill(f, a, nb, frac, pt)
	}
}

// placement is how a frame places remote entities.
type placement int

const (
	placedInterpolated placement = iota // between two snapshots (or on one)
	placedExtrapolated                  // past the newest, by up to a tick
	placedHeld                          // frozen: nothing held, or too far past or before
)

// locate finds what render tick r is drawn from: snapshot a, moved toward
// nb by frac (without nb, extrapolated frac ticks), projectiles at tick
// pt; a is nil when nothing is held.
func (b *interpBuffer) locate(r float64) (a, nb *interpSnap, frac, pt float64, how placement) {
	if b.n == 0 {
		return nil, nil, 0, 0, placedHeld
	}
	// a: newest snapshot at or before r; nb: the one after it.
	ai := -1
	for k := 0; k < b.n; k++ {
		i := (b.head - k + interpRing) % interpRing
		if float64(b.snaps[i].tick) <= r {
			ai = i
			break
		}
	}
	if ai < 0 {
		// r is older than everything held: show the oldest as it is.
		a = &b.snaps[b.oldest()]
		return a, nil, 0, float64(a.tick), placedHeld
	}
	a = &b.snaps[ai]
	if ai != b.head {
		nb = &b.snaps[(ai+1)%interpRing]
		return a, nb, (r - float64(a.tick)) / float64(nb.tick-a.tick), r, placedInterpolated
	}
	// Past the newest: extrapolate at most one interval, then hold.
	e := r - float64(a.tick)
	switch {
	case e == 0:
		how = placedInterpolated
	case e <= 1:
		how = placedExtrapolated
	default:
		how, e = placedHeld, 1
	}
	return a, nil, e, float64(a.tick) + e, how
}

// fill writes the players of a, moved toward nb by frac (or, without nb,
// extrapolated frac ticks along their last move), and a's projectiles
// at tick pt.
func (b *interpBuffer) fill(f *Frame, a, nb *interpSnap, frac, pt float64) {
	if f == nil {
		return
	}
	j := 0
	for i := range a.Players {
		p := a.Players[i]
		if p.ID == b.own {
			continue
		}
		if nb != nil {
			for j < len(nb.Players) && nb.Players[j].ID < p.ID {
				j++
			}
			if j < len(nb.Players) && nb.Players[j].ID == p.ID {
				lerpPlayer(&p, &nb.Players[j], frac)
			}
		} else if frac > 0 && p.Alive {
			q := p
			b.params.MovePlayer(&q, game.Input{MoveX: p.MoveX, MoveY: p.MoveY, Aim: p.Aim})
			q.Aim = p.Aim
			lerpPlayer(&p, &q, frac)
		}
		f.Remote = append(f.Remote, p)
	}
	t := math.Floor(pt)
	u := pt - t
	for i := range a.Projectiles {
		pr := &a.Projectiles[i]
		if pr.Owner == b.own && b.own != 0 {
			continue // drawn from the prediction (ownShots)
		}
		x0, y0 := pr.PositionAt(b.params, uint32(t))
		x1, y1 := pr.PositionAt(b.params, uint32(t)+1)
		f.Projectiles = append(f.Projectiles, FrameProjectile{
			ID: pr.ID, Owner: pr.Owner, X: x0 + (x1-x0)*u, Y: y0 + (y1-y0)*u,
		})
	}
}

// lerpPlayer moves p a fraction of the way to q. A player who died or
// respawned in between is not slid across the arena: it keeps p's state
// until the second half, then takes q's.
func lerpPlayer(p, q *game.Player, frac float64) {
	if p.Alive != q.Alive {
		if frac >= 0.5 {
			*p = *q
		}
		return
	}
	p.X += (q.X - p.X) * frac
	p.Y += (q.Y - p.Y) * frac
	d := int32(q.Aim - p.Aim) // wraps: the shorter way round
	if d > game.AngleSteps/2 {
		d -= game.AngleSteps
	}
	p.Aim = uint16(int32(p.Aim) + int32(math.Round(float64(d)*frac)))
}
