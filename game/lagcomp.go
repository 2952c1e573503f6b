package game

import (
	"math"
	"sync/atomic"
	"time"
)

// Lag compensation (server-side rewind).
//
// A client draws remote players an interpolation delay in the past, and
// its input reaches the server later still, so the players a shooter aimed
// at had moved on by the time its shot is simulated. The input that fires
// says how far behind its own tick the client's drawing was
// (Input.ViewLag); the projectile keeps that lag, and each tick it is
// tested against the players where they were that long ago, interpolated
// between the positions of the last few ticks, which the World keeps for
// this. Damage and score apply to the players as they are now.
const (
	// MaxRewind bounds how far back a shot's targets are taken, whatever
	// its input claims. The lag to cover is the round trip, the input's
	// lead at the server and the interpolation delay, which loss and
	// jitter lengthen: at 150 ms of round trip with ±15 ms of jitter and
	// 5 % loss each way, shots claim 280 to 370 ms (5th to 95th
	// percentile). 400 ms covers that in full, and players further away
	// in part, while bounding how long after reaching cover a player can
	// still be hit, and what a client that lies about its lag can gain.
	MaxRewind = 400 * time.Millisecond
	// ViewLagScale is how many units of Input.ViewLag make one tick.
	ViewLagScale = 16
)

// MaxRewindTicks16 is MaxRewind in 1/ViewLagScale of a tick at a tick
// rate: 6.4 per hertz, whole at the rates a room runs at (128 at 20 Hz,
// 192 at 30 Hz, 384 at 60 Hz).
func MaxRewindTicks16(tickRate int) uint32 {
	return uint32(int64(MaxRewind) * int64(max(tickRate, 0)) * ViewLagScale / int64(time.Second))
}

// ViewLagFromTicks converts a lag in ticks to Input.ViewLag: rounded to
// 1/ViewLagScale of a tick, 0 for a lag that is not positive (or NaN),
// at most the field's maximum.
func ViewLagFromTicks(ticks float64) uint16 {
	v := math.Round(ticks * ViewLagScale)
	if !(v > 0) {
		return 0
	}
	return uint16(min(v, math.MaxUint16))
}

// RewindDuration converts a rewind in 1/ViewLagScale of a tick (as in
// Hit.Rewind) to time at a tick rate.
func RewindDuration(rewind16 uint32, tickRate int) time.Duration {
	if tickRate <= 0 {
		return 0
	}
	return time.Duration(int64(rewind16) * int64(time.Second) / (int64(tickRate) * ViewLagScale))
}

// Hit is one projectile hit, as World.Hits reports those of a step.
type Hit struct {
	Shooter, Target EntityID
	// Shot is the projectile that hit (gone from the world after it).
	Shot EntityID
	// Rewind is how far in the past the target was taken, in
	// 1/ViewLagScale of a tick: 0 when it was tested where it is now.
	Rewind uint16
	// Killed says the hit killed the target.
	Killed bool
}

// rewindFor is the rewind a shot fired by in at tick gets, in
// 1/ViewLagScale of a tick: the view lag its input claims, plus the ticks
// the input came late (the room applies a late input at a later tick, when
// the targets have moved on further), clamped to the world's bound. An
// input that claims no lag (an old client) gets none; one stamped for a
// future tick gets no more than its claim; none gets more than the bound.
func (w *World) rewindFor(in *Input) uint16 {
	if w.maxRewind == 0 || in.ViewLag == 0 {
		return 0
	}
	lag := uint64(in.ViewLag)
	if in.Tick < w.tick {
		lag += uint64(w.tick-in.Tick) * ViewLagScale
	}
	return uint16(min(lag, uint64(w.maxRewind)))
}

// pastPlayer is one player's state at the end of a past tick, as the
// snapshot of that tick showed it.
type pastPlayer struct {
	ID EntityID
	// X and Y are on the position grid, at most MaxArenaSize: exact in a
	// float32.
	X, Y  float32
	Alive bool
}

// pastTick is the players of one past tick, sorted by ID.
type pastTick struct {
	tick    uint32
	held    bool
	players []pastPlayer
}

// rewindRing keeps the players' positions at the end of the last few
// ticks, one slot per tick. A slot reuses its array; one too small is
// replaced by one with room for twice the count (at most the world's
// capacity), so the ring stops allocating once it has seen the usual
// player counts.
type rewindRing struct {
	slots []pastTick
}

// record stores the players' state at the end of tick.
func (r *rewindRing) record(tick uint32, players []Player, bound int) {
	s := &r.slots[tick%uint32(len(r.slots))]
	if cap(s.players) < len(players) {
		s.players = make([]pastPlayer, 0, max(len(players), min(2*len(players), bound)))
	}
	s.players = s.players[:len(players)]
	for i := range players {
		p := &players[i]
		s.players[i] = pastPlayer{ID: p.ID, X: float32(p.X), Y: float32(p.Y), Alive: p.Alive}
	}
	s.tick, s.held = tick, true
}

// at returns the players of tick, nil if the ring does not hold it.
func (r *rewindRing) at(tick uint32) *pastTick {
	if len(r.slots) == 0 {
		return nil
	}
	s := &r.slots[tick%uint32(len(r.slots))]
	if !s.held || s.tick != tick {
		return nil
	}
	return s
}

// find returns the past state of player id, false if it was not in the
// world then. hint is the player's index now: players only leave and
// join at the end, so it is at that index then, or a little after.
func (s *pastTick) find(id EntityID, hint int) (*pastPlayer, bool) {
	for i := hint; i < min(hint+2, len(s.players)); i++ {
		if s.players[i].ID == id {
			return &s.players[i], true
		}
	}
	lo, hi := 0, len(s.players)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if s.players[m].ID < id {
			lo = m + 1
		} else {
			hi = m
		}
	}
	if lo < len(s.players) && s.players[lo].ID == id {
		return &s.players[lo], true
	}
	return nil, false
}

// stateAt is where player pl, at index i of the world's players, was at
// the end of tick k (or now, for the tick being simulated), and whether
// it was in the world and alive then.
func (w *World) stateAt(pl *Player, i int, k uint32) (x, y float64, alive bool) {
	if k == w.tick {
		return pl.X, pl.Y, pl.Alive
	}
	s := w.past.at(k)
	if s == nil {
		return 0, 0, false
	}
	p, ok := s.find(pl.ID, i)
	if !ok {
		return 0, 0, false
	}
	return float64(p.X), float64(p.Y), p.Alive
}

// rewound is where player pl (at index i) was rewind/ViewLagScale ticks before the
// tick being simulated, as a client interpolating between the snapshots
// of the two ticks around that time drew it, and false when it was not
// there to be hit: absent (it joined later) or dead. A player alive at
// only one of the two ticks is taken at the nearer one, as a client
// switches a player who died or respawned halfway between snapshots.
func (w *World) rewound(pl *Player, i int, rewind uint32) (x, y float64, ok bool) {
	back, frac := rewind/ViewLagScale, rewind%ViewLagScale
	if back > w.tick {
		return 0, 0, false
	}
	newer := w.tick - back
	bx, by, bok := w.stateAt(pl, i, newer)
	if frac == 0 {
		return bx, by, bok
	}
	if newer == 0 {
		return 0, 0, false
	}
	ax, ay, aok := w.stateAt(pl, i, newer-1)
	switch f := float64(frac) / ViewLagScale; {
	case aok && bok:
		return bx + float64((ax-bx)*f), by + float64((ay-by)*f), true
	case 2*frac <= ViewLagScale:
		return bx, by, bok
	default:
		return ax, ay, aok
	}
}

// LagCompStats count a room's projectile hits and the rewinds lag
// compensation applied to them.
type LagCompStats struct {
	// Hits counts projectile hits; HitsRewound those of them judged
	// against targets rewound into the past (the others, against targets
	// where they were: shots of clients that send no view lag, or every
	// shot with compensation off).
	Hits, HitsRewound uint64
	// MaxRewind is the largest rewind applied to a hit: never more than
	// MaxRewind.
	MaxRewind time.Duration
}

// HitObserver is implemented by a SnapshotSink that wants every
// projectile hit and its rewind as a duration (0 when the target was not
// rewound), for instance to feed a histogram or to tell shooters which of
// their shots hit. It is called on the room's goroutine after the tick's
// step, before OnTick; it must not block.
type HitObserver interface {
	ObserveHit(h Hit, rewind time.Duration)
}

// lagCompCounters are a room's LagCompStats, updated on its goroutine
// and read from any.
type lagCompCounters struct {
	hits, rewound atomic.Uint64
	maxRewind     atomic.Int64 // ns
}

func (c *lagCompCounters) reset() {
	c.hits.Store(0)
	c.rewound.Store(0)
	c.maxRewind.Store(0)
}

// noteHits counts the hits of the tick just stepped and hands their
// rewinds to the observer. Room goroutine only.
func (r *Room) noteHits(hits []Hit) {
	if len(hits) == 0 {
		return
	}
	var rewound uint64
	for i := range hits {
		d := RewindDuration(uint32(hits[i].Rewind), r.params.TickRate)
		if d > 0 {
			rewound++
			if int64(d) > r.lagComp.maxRewind.Load() {
				r.lagComp.maxRewind.Store(int64(d))
			}
		}
		if r.hitObserver != nil {
			r.hitObserver.ObserveHit(hits[i], d)
		}
	}
	r.lagComp.hits.Add(uint64(len(hits)))
	r.lagComp.rewound.Add(rewound)
}

// LagCompStats returns the room's hit counts since it started (or since
// ResetStats).
func (r *Room) LagCompStats() LagCompStats {
	return LagCompStats{
		Hits:        r.lagComp.hits.Load(),
		HitsRewound: r.lagComp.rewound.Load(),
		MaxRewind:   time.Duration(r.lagComp.maxRewind.Load()),
	}
}
