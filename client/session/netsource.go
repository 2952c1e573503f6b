package session

// This file is the client's one adapter to the netcode client session.
// Frame, FrameProjectile and NetStats mirror the contract that
// netcode.Client will implement (Client.Frame, Client.InputsDue,
// Client.NetStats); until then NetSource builds them from what netcode
// offers today (Connect, SendInput, ClientConfig.OnSnapshot, Stats, RTT).
// At merge: make these types aliases of netcode's and let NetSource's
// methods delegate to the *netcode.Client; nothing else in client/ changes.

import (
	"context"
	"math"
	"sync"
	"time"

	"github.com/tickwire/tickwire/game"
	"github.com/tickwire/tickwire/netcode"
)

// Frame is what the client draws at one display frame (netcode.Frame).
type Frame struct {
	RenderTick  float64
	Own         game.Player
	HasOwn      bool
	Remote      []game.Player
	Projectiles []FrameProjectile
}

// FrameProjectile is a projectile's position at RenderTick.
type FrameProjectile struct {
	ID, Owner game.EntityID
	X, Y      float64
}

// NetStats are the net graph's figures (netcode.NetStats).
type NetStats struct {
	Transport                                          netcode.TransportKind
	RTT, Jitter                                        time.Duration
	LossDown, LossUp                                   float64
	BytesInPerSec, BytesOutPerSec                      float64
	SnapshotsPerSec                                    float64
	InterpDelay                                        time.Duration
	FramesInterpolated, FramesExtrapolated, FramesHeld int64
	Corrections                                        int64
	CorrectionP50, CorrectionMax                       float64
	Redundancy                                         int
	InputAckP50, InputAckP99                           time.Duration
}

// Interpolation settings of the stand-in Frame.
const (
	interpTicks    = 3  // remote entities are drawn this many ticks in the past
	maxExtrapolate = 3  // ticks of extrapolation before holding
	snapRing       = 16 // snapshots kept for interpolation
	maxPending     = 64 // unacknowledged inputs kept for prediction
)

// NetSource is one connected session as the game sees it.
type NetSource struct {
	c      *netcode.Client
	params game.Params
	own    game.EntityID
	period time.Duration
	start  time.Time

	mu          sync.Mutex
	ring        [snapRing]game.Snapshot
	n           int // snapshots stored so far (ring index = n % snapRing)
	offset      float64
	offsetSet   bool
	firstTick   uint32
	pending     []game.Input
	lastSent    time.Time
	nextInput   time.Time
	corrections int64
	interp      int64
	extrap      int64
	held        int64
	rate        rateWindow
	names       map[game.EntityID]string
	rosterRev   uint64
}

// Connect dials the server and joins; cfg.OnSnapshot is the adapter's.
func Connect(ctx context.Context, cfg netcode.ClientConfig) (*NetSource, error) {
	s := &NetSource{start: time.Now(), pending: make([]game.Input, 0, maxPending)}
	ready := make(chan struct{})
	cfg.OnSnapshot = func(snap *game.Snapshot, h *netcode.SnapshotHeader) {
		<-ready
		s.onSnapshot(snap, h, time.Now())
	}
	cfg.OnRoster = s.onRoster
	c, err := netcode.Connect(ctx, cfg)
	if err != nil {
		close(ready)
		return nil, err
	}
	s.c, s.params, s.own = c, c.Params(), c.Entity()
	s.period = time.Second / time.Duration(s.params.TickRate)
	close(ready)
	return s, nil
}

// Client is the underlying session.
func (s *NetSource) Client() *netcode.Client { return s.c }

// Params are the server's arena rules.
func (s *NetSource) Params() game.Params { return s.params }

// Entity is the own player's entity.
func (s *NetSource) Entity() game.EntityID { return s.own }

// ResumeToken is the token to send when reconnecting.
func (s *NetSource) ResumeToken() []byte { return s.c.Welcome().GetResumeToken() }

// Done, Err and Close pass through to the session.
func (s *NetSource) Done() <-chan struct{} { return s.c.Done() }
func (s *NetSource) Err() error            { return s.c.Err() }
func (s *NetSource) Close() error          { return s.c.Close() }

// tickAt is the server tick estimated to be simulated at local time t.
func (s *NetSource) tickAt(t time.Time) float64 {
	return s.offset + t.Sub(s.start).Seconds()*float64(s.params.TickRate)
}

func (s *NetSource) onSnapshot(snap *game.Snapshot, h *netcode.SnapshotHeader, now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	before, hadOwn := s.predictLocked(len(s.pending))
	s.ring[s.n%snapRing].CopyFrom(snap)
	if s.n == 0 {
		s.firstTick = snap.Tick
	}
	s.n++
	// The tick clock follows the newest arrivals: it moves up at once and
	// drifts down slowly, so late packets do not drag it back.
	sample := float64(snap.Tick) - now.Sub(s.start).Seconds()*float64(s.params.TickRate)
	switch {
	case !s.offsetSet:
		s.offset, s.offsetSet = sample, true
	case sample > s.offset:
		s.offset += (sample - s.offset) / 2
	default:
		s.offset += (sample - s.offset) / 32
	}
	// Inputs the server has applied leave the prediction.
	k := 0
	for k < len(s.pending) && s.pending[k].Tick <= h.LastInputTick {
		k++
	}
	s.pending = append(s.pending[:0], s.pending[k:]...)
	after, hasOwn := s.predictLocked(len(s.pending))
	if hadOwn && hasOwn && math.Hypot(after.X-before.X, after.Y-before.Y) > 1.0/game.PositionScale {
		s.corrections++
	}
	s.rate.snapshots++
}

// onRoster keeps the newest roster's names.
func (s *NetSource) onRoster(r *netcode.Roster) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if r.Revision <= s.rosterRev && s.names != nil {
		return
	}
	s.rosterRev = r.Revision
	s.names = make(map[game.EntityID]string, len(r.Players))
	for _, p := range r.Players {
		s.names[p.Entity] = p.Name
	}
}

// Name is a player's name from the server's roster.
func (s *NetSource) Name(id game.EntityID) (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n, ok := s.names[id]
	return n, ok
}

// newest returns the newest stored snapshot (nil before the first).
func (s *NetSource) newest() *game.Snapshot {
	if s.n == 0 {
		return nil
	}
	return &s.ring[(s.n-1)%snapRing]
}

// predictLocked is the own player from the newest snapshot with the first
// k pending inputs replayed.
func (s *NetSource) predictLocked(k int) (game.Player, bool) {
	snap := s.newest()
	if snap == nil {
		return game.Player{}, false
	}
	pl, ok := findPlayer(snap.Players, s.own)
	if !ok {
		return pl, false
	}
	for _, in := range s.pending[:k] {
		if in.Tick > pl.LastInputTick {
			s.params.MovePlayer(&pl, in)
		}
	}
	return pl, true
}

func findPlayer(ps []game.Player, id game.EntityID) (game.Player, bool) {
	for i := range ps {
		if ps[i].ID == id {
			return ps[i], true
		}
	}
	return game.Player{}, false
}

// Frame fills f for display time now, reusing f's slices.
func (s *NetSource) Frame(now time.Time, f *Frame) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f.Remote, f.Projectiles, f.HasOwn = f.Remote[:0], f.Projectiles[:0], false
	newest := s.newest()
	if newest == nil {
		return
	}
	// Own player: predicted, eased from the state before the newest input
	// to the state after it over one tick, so it moves at display rate.
	if cur, ok := s.predictLocked(len(s.pending)); ok {
		f.Own, f.HasOwn = cur, true
		if len(s.pending) > 0 {
			prev, _ := s.predictLocked(len(s.pending) - 1)
			a := min(1, max(0, float64(now.Sub(s.lastSent))/float64(s.period)))
			f.Own.X = prev.X + (cur.X-prev.X)*a
			f.Own.Y = prev.Y + (cur.Y-prev.Y)*a
		}
	}
	rt := s.tickAt(now) - interpTicks
	oldest := s.n - snapRing
	if oldest < 0 {
		oldest = 0
	}
	// Find the pair of snapshots around rt.
	var from, to *game.Snapshot
	for i := s.n - 1; i >= oldest; i-- {
		sn := &s.ring[i%snapRing]
		if float64(sn.Tick) <= rt {
			from = sn
			if i < s.n-1 {
				to = &s.ring[(i+1)%snapRing]
			}
			break
		}
	}
	switch {
	case from == nil: // rt is older than anything kept: show the oldest
		from = &s.ring[oldest%snapRing]
		rt = float64(from.Tick)
		s.held++
	case to == nil && rt-float64(from.Tick) > maxExtrapolate:
		rt = float64(from.Tick) + maxExtrapolate
		s.held++
	case to == nil:
		s.extrap++
	default:
		s.interp++
	}
	f.RenderTick = rt
	a := 0.0
	if to != nil && to.Tick != from.Tick {
		a = (rt - float64(from.Tick)) / float64(to.Tick-from.Tick)
	}
	step := s.params.PlayerStep() / game.MoveSteps
	j := 0 // cursor in to.Players: both are sorted by ID
	for _, p := range from.Players {
		if p.ID == s.own {
			continue
		}
		if to != nil {
			for j < len(to.Players) && to.Players[j].ID < p.ID {
				j++
			}
			if j < len(to.Players) && to.Players[j].ID == p.ID && to.Players[j].Alive == p.Alive {
				q := to.Players[j]
				p.X += (q.X - p.X) * a
				p.Y += (q.Y - p.Y) * a
				p.Health, p.Score = q.Health, q.Score
			}
		} else if p.Alive {
			d := rt - float64(from.Tick)
			p.X = clamp(p.X+float64(p.MoveX)*step*d, s.params.PlayerRadius, s.params.Size-s.params.PlayerRadius)
			p.Y = clamp(p.Y+float64(p.MoveY)*step*d, s.params.PlayerRadius, s.params.Size-s.params.PlayerRadius)
		}
		f.Remote = append(f.Remote, p)
	}
	// Projectiles fly straight: position from their spawn data.
	src := newest
	if to != nil {
		src = to
	}
	lo, hi := 0.0, s.params.Size
	for _, pr := range src.Projectiles {
		age := rt - float64(pr.SpawnTick)
		if age < 0 || age > float64(s.params.ProjectileLifetimeTicks) {
			continue
		}
		t0 := uint32(math.Floor(rt))
		x0, y0 := pr.PositionAt(s.params, t0)
		x1, y1 := pr.PositionAt(s.params, t0+1)
		fr := rt - math.Floor(rt)
		x, y := x0+(x1-x0)*fr, y0+(y1-y0)*fr
		if x < lo || y < lo || x > hi || y > hi {
			continue
		}
		f.Projectiles = append(f.Projectiles, FrameProjectile{ID: pr.ID, Owner: pr.Owner, X: x, Y: y})
	}
}

func clamp(v, lo, hi float64) float64 { return min(max(v, lo), hi) }

// maxInputsDue bounds the catch-up after a slow frame: a few inputs
// (the server applies up to three late ones per tick); after a longer
// stall (a hidden tab) the old intent is not worth replaying.
const maxInputsDue = 3

// InputsDue says how many inputs to send now so that, over time, one goes
// per tick period even when frames come slower than ticks.
func (s *NetSource) InputsDue(now time.Time) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.nextInput.IsZero() {
		s.nextInput = now
	}
	n := 0
	for !now.Before(s.nextInput) && n < maxInputsDue {
		s.nextInput = s.nextInput.Add(s.period)
		n++
	}
	if !now.Before(s.nextInput) { // a stall: restart the schedule, no burst
		s.nextInput = now.Add(s.period)
	}
	return n
}

// SendInput sends one input and keeps it for prediction.
func (s *NetSource) SendInput(moveX, moveY, aimRad float64, fire bool) (game.Input, error) {
	in, err := s.c.SendInput(moveX, moveY, aimRad, fire)
	s.mu.Lock()
	if len(s.pending) == maxPending {
		s.pending = append(s.pending[:0], s.pending[1:]...)
	}
	s.pending = append(s.pending, in)
	s.lastSent = time.Now()
	s.mu.Unlock()
	return in, err
}

// rateWindow turns counters into per-second rates over about a second.
type rateWindow struct {
	at                      time.Time
	snapshots               int64
	lastSnaps               int64
	lastIn, lastOut         int64
	inPS, outPS, snapsPS    float64
	lastReceived, lastTicks int64
	lossDown                float64
}

// NetStats returns the net graph's figures.
func (s *NetSource) NetStats() NetStats {
	st := s.c.Stats()
	now := time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	r := &s.rate
	var ticks int64
	if nw := s.newest(); nw != nil {
		ticks = int64(nw.Tick-s.firstTick) + 1
	}
	if r.at.IsZero() {
		r.at = now
		r.lastIn, r.lastOut = st.BytesIn, st.BytesOut
	} else if dt := now.Sub(r.at).Seconds(); dt >= 1 {
		r.inPS = float64(st.BytesIn-r.lastIn) / dt
		r.outPS = float64(st.BytesOut-r.lastOut) / dt
		r.snapsPS = float64(r.snapshots-r.lastSnaps) / dt
		if dticks := ticks - r.lastTicks; dticks > 0 {
			r.lossDown = max(0, 1-float64(st.SnapshotsReceived-r.lastReceived)/float64(dticks))
		}
		r.at, r.lastIn, r.lastOut, r.lastSnaps = now, st.BytesIn, st.BytesOut, r.snapshots
		r.lastReceived, r.lastTicks = st.SnapshotsReceived, ticks
	}
	return NetStats{
		Transport:          s.c.Transport(),
		RTT:                s.c.RTT(),
		LossDown:           r.lossDown,
		BytesInPerSec:      r.inPS,
		BytesOutPerSec:     r.outPS,
		SnapshotsPerSec:    r.snapsPS,
		InterpDelay:        interpTicks * s.period,
		FramesInterpolated: s.interp,
		FramesExtrapolated: s.extrap,
		FramesHeld:         s.held,
		Corrections:        s.corrections,
	}
}
