package client

import (
	"math"
	"time"

	"github.com/tickwire/tickwire/game"
	"github.com/tickwire/tickwire/netcode/wire"
)

// Own-shot tuning.
const (
	// ownShotCap bounds the own projectiles followed at once: a player
	// fires at most 4 a second and a projectile flies for 2 s.
	ownShotCap = 32
	// matchSlack is how many ticks after its input's tick the server may
	// have fired a shot (an input applied late) and still be the
	// predicted one.
	matchSlack = 8
	// retiredCap is how many retired shot ids are remembered, so that a
	// server copy still in flight is not taken for a new shot.
	retiredCap = 16
)

// ShotStats count the own player's shots and hits: what the client
// predicted and saw, and what the server confirmed.
type ShotStats struct {
	// Predicted shots were drawn the moment their input fired; Confirmed
	// ones were then matched to the server's projectile, Unconfirmed ones
	// removed because the server never fired them. ServerOnly shots came
	// from the server without a prediction.
	Predicted, Confirmed, Unconfirmed, ServerOnly int64
	// HitsSeen counts own shots the server fired that met a remote player
	// as this client drew them (interpolated, at the render tick), once
	// the server's copy is gone; HitsConfirmed those of them the server
	// scored as hits; HitsServerOnly the server's hits on own shots this
	// client did not see hit. HitsConfirmed/HitsSeen is how well what the
	// shooter saw agrees with the server.
	HitsSeen, HitsConfirmed, HitsServerOnly int64
	// HitsSeenNotFired counts the hits seen of predicted shots the
	// server never fired (the shooter was dead by then, unknown to its
	// client): not among HitsSeen, which judges the server's hits.
	HitsSeenNotFired int64
}

// Add returns the sum of s and o, field by field (for totals over
// sessions).
func (s ShotStats) Add(o ShotStats) ShotStats {
	return ShotStats{
		Predicted: s.Predicted + o.Predicted, Confirmed: s.Confirmed + o.Confirmed,
		Unconfirmed: s.Unconfirmed + o.Unconfirmed, ServerOnly: s.ServerOnly + o.ServerOnly,
		HitsSeen: s.HitsSeen + o.HitsSeen, HitsConfirmed: s.HitsConfirmed + o.HitsConfirmed,
		HitsServerOnly: s.HitsServerOnly + o.HitsServerOnly, HitsSeenNotFired: s.HitsSeenNotFired + o.HitsSeenNotFired,
	}
}

// Sub returns s minus an earlier reading o (for a window's counts).
func (s ShotStats) Sub(o ShotStats) ShotStats {
	return s.Add(ShotStats{
		Predicted: -o.Predicted, Confirmed: -o.Confirmed, Unconfirmed: -o.Unconfirmed, ServerOnly: -o.ServerOnly,
		HitsSeen: -o.HitsSeen, HitsConfirmed: -o.HitsConfirmed, HitsServerOnly: -o.HitsServerOnly, HitsSeenNotFired: -o.HitsSeenNotFired,
	})
}

// ownShot is one projectile of the own player as the client shows it:
// predicted from its input, then the server's copy once that arrives.
type ownShot struct {
	pr        game.Projectile // predicted (ID 0) or the server's
	inputTick uint32          // the input that fired it; 0 if known only from the server
	end       uint32          // the tick it retires at if it hits nothing
	checked   uint32          // tick up to which its path was tested against the view
	seen      uint32          // newest snapshot tick that held the server's copy
	matched   bool
	seenHit   bool // met a remote player in this client's view: not drawn from then
	serverHit bool // the server named it among the hits

	offX, offY float64 // predicted minus server position at the match, fading
	offAt      time.Time
}

// ownShots predicts the own player's projectiles and reconciles them with
// the server's, as the predictor does the own player: a shot appears the
// frame its input fires, takes over the server's projectile when that
// arrives (the difference fading like a movement correction, over
// correctionFade), and goes when the server never fired it. Not safe for
// concurrent use; the Client locks.
type ownShots struct {
	params game.Params
	own    game.EntityID

	shots [ownShotCap]ownShot // in firing order
	n     int

	retired   [retiredCap]game.EntityID // ring
	retiredAt int

	stats ShotStats
}

func (s *ownShots) init(params game.Params, own game.EntityID) {
	s.params, s.own = params, own
}

// predict adds a shot that the input of inputTick fired.
func (s *ownShots) predict(pr game.Projectile, inputTick uint32) {
	if s.n == ownShotCap {
		s.remove(0)
	}
	s.shots[s.n] = ownShot{pr: pr, inputTick: inputTick, end: pr.EndTick(s.params), checked: pr.SpawnTick}
	s.n++
	s.stats.Predicted++
}

// refute removes the unmatched predicted shot of inputTick: replaying the
// inputs on the server's state found that input does not fire.
func (s *ownShots) refute(inputTick uint32) {
	for i := 0; i < s.n; i++ {
		if sh := &s.shots[i]; !sh.matched && sh.inputTick == inputTick {
			s.unfired(i)
			return
		}
	}
}

// observe reconciles the shots with an in-order snapshot arriving at now:
// the shots the header names as hits, the own projectiles it holds
// (matched to predictions or adopted), the predictions the server has
// passed without firing, and the server's copies that are gone.
func (s *ownShots) observe(snap *game.Snapshot, h *wire.SnapshotHeader, now time.Time) {
	for _, id := range h.HitShots[:h.NumHitShots] {
		for i := 0; i < s.n; i++ {
			if sh := &s.shots[i]; sh.matched && uint32(sh.pr.ID) == id {
				sh.serverHit = true
			}
		}
	}
	for i := range snap.Projectiles {
		if pr := &snap.Projectiles[i]; pr.Owner == s.own {
			s.follow(pr, snap.Tick, now)
		}
	}
	for i := 0; i < s.n; {
		sh := &s.shots[i]
		switch {
		case !sh.matched && sh.inputTick <= h.LastInputTick:
			s.unfired(i) // its input was applied and fired nothing
		case sh.matched && sh.seen < snap.Tick:
			s.retire(i) // gone from the server: it hit, expired or left the view
		default:
			i++
		}
	}
}

// follow takes one own projectile of the snapshot of tick.
func (s *ownShots) follow(pr *game.Projectile, tick uint32, now time.Time) {
	best := -1
	for i := 0; i < s.n; i++ {
		sh := &s.shots[i]
		if sh.matched {
			if sh.pr.ID == pr.ID {
				sh.seen = tick
				return
			}
			continue
		}
		if best < 0 && sh.pr.Angle == pr.Angle && pr.SpawnTick >= sh.inputTick && pr.SpawnTick <= sh.inputTick+matchSlack {
			best = i // the oldest prediction that fits
		}
	}
	if best >= 0 {
		sh := &s.shots[best]
		at := max(sh.pr.SpawnTick, pr.SpawnTick)
		px, py := sh.pr.PositionAt(s.params, at)
		qx, qy := pr.PositionAt(s.params, at)
		sh.offX, sh.offY, sh.offAt = px-qx, py-qy, now
		sh.pr, sh.matched, sh.seen = *pr, true, tick
		sh.end = pr.EndTick(s.params)
		sh.checked = max(sh.checked, pr.SpawnTick)
		s.stats.Confirmed++
		return
	}
	for _, id := range s.retired {
		if id == pr.ID {
			return
		}
	}
	if s.n == ownShotCap {
		s.remove(0)
	}
	s.shots[s.n] = ownShot{pr: *pr, end: pr.EndTick(s.params), checked: max(pr.SpawnTick, tick), seen: tick, matched: true}
	s.n++
	s.stats.ServerOnly++
}

// unfired removes a predicted shot the server did not fire.
func (s *ownShots) unfired(i int) {
	s.stats.Unconfirmed++
	if s.shots[i].seenHit {
		s.stats.HitsSeenNotFired++
	}
	s.remove(i)
}

// retire ends a shot whose server copy is gone, counting its hit.
func (s *ownShots) retire(i int) {
	sh := &s.shots[i]
	if sh.seenHit {
		s.stats.HitsSeen++
	}
	switch {
	case sh.serverHit && sh.seenHit:
		s.stats.HitsConfirmed++
	case sh.serverHit:
		s.stats.HitsServerOnly++
	}
	s.retired[s.retiredAt] = sh.pr.ID
	s.retiredAt = (s.retiredAt + 1) % retiredCap
	s.remove(i)
}

func (s *ownShots) remove(i int) {
	copy(s.shots[i:s.n-1], s.shots[i+1:s.n])
	s.n--
	s.shots[s.n] = ownShot{}
}

// live reports whether any shot may still meet a player in the view.
func (s *ownShots) live() bool {
	for i := 0; i < s.n; i++ {
		if !s.shots[i].seenHit {
			return true
		}
	}
	return false
}

// see tests each shot's path up to tick (of the own timeline) against
// the remote players as this client draws them: a shot that meets one is
// a hit the shooter saw, and is drawn no more.
func (s *ownShots) see(tick uint32, view []game.Player) {
	r := s.params.HitRadius()
	for i := 0; i < s.n; i++ {
		sh := &s.shots[i]
		to := min(tick, sh.end)
		if sh.seenHit || to <= sh.checked {
			continue
		}
		ax, ay := sh.pr.PositionAt(s.params, sh.checked)
		bx, by := sh.pr.PositionAt(s.params, to)
		sh.checked = to
		for j := range view {
			if pl := &view[j]; pl.Alive && pl.ID != s.own {
				if _, hit := game.SweepCircle(ax, ay, bx, by, pl.X, pl.Y, r); hit {
					sh.seenHit = true // counted when the server's copy is gone
					break
				}
			}
		}
	}
}

// draw appends the shots to f at tick t of the own timeline (where the
// own player is drawn): each from its origin until it flies, plus what
// is left of its correction at now.
func (s *ownShots) draw(f *Frame, t float64, now time.Time) {
	for i := 0; i < s.n; i++ {
		sh := &s.shots[i]
		if sh.seenHit || t >= float64(sh.end) {
			continue
		}
		pt := max(t, float64(sh.pr.SpawnTick))
		k := math.Floor(pt)
		x0, y0 := sh.pr.PositionAt(s.params, uint32(k))
		x1, y1 := sh.pr.PositionAt(s.params, uint32(k)+1)
		u := pt - k
		ox, oy := fade(sh.offX, sh.offY, now.Sub(sh.offAt))
		f.Projectiles = append(f.Projectiles, FrameProjectile{
			ID: sh.pr.ID, Owner: s.own, X: x0 + (x1-x0)*u + ox, Y: y0 + (y1-y0)*u + oy,
		})
	}
}

// fade is what is left after dt of a display error (x, y): it decays
// with time constant correctionTau and is gone after correctionFade.
func fade(x, y float64, dt time.Duration) (float64, float64) {
	if dt >= correctionFade || (x == 0 && y == 0) {
		return 0, 0
	}
	k := math.Exp(-max(0, dt.Seconds()) / correctionTau.Seconds())
	return x * k, y * k
}
