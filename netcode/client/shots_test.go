package client

import (
	"math"
	"testing"
	"time"

	"github.com/tickwire/tickwire/game"
	"github.com/tickwire/tickwire/netcode/wire"
)

// shotRig feeds an offline client the snapshots of a hand-run server:
// the own player (1) standing at (500, 500), a remote player (2) standing
// at target, and whatever own projectiles and hits the test puts in. The
// server applies every input at its tick.
type shotRig struct {
	t     *testing.T
	c     *Client
	clock *game.ManualClock
	tick  uint32
	sent  []game.Input

	target   [2]float64
	shots    []game.Projectile // the server's own projectiles now
	hits     []uint32          // the header's hit_shots
	cooldown uint32            // the header's fire_cooldown
}

func newShotRig(t *testing.T) *shotRig {
	c := newOfflineClient(t)
	r := &shotRig{t: t, c: c, clock: c.clock.(*game.ManualClock), tick: 100, target: [2]float64{600, 500}}
	r.serve()
	return r
}

// serve advances a tick and delivers its snapshot.
func (r *shotRig) serve() {
	r.clock.Advance(time.Second / 30)
	r.tick++
	var last uint32
	for _, in := range r.sent {
		if in.Tick <= r.tick {
			last = max(last, in.Tick)
		}
	}
	snap := &game.Snapshot{Tick: r.tick, Players: []game.Player{
		{ID: 1, X: 500, Y: 500, Alive: true, Health: 100, LastInputTick: last},
		{ID: 2, X: r.target[0], Y: r.target[1], Alive: true, Health: 100},
	}, Projectiles: append([]game.Projectile(nil), r.shots...)}
	h := wire.SnapshotHeader{ServerTick: r.tick, LastInputTick: last, FireCooldown: r.cooldown}
	for _, id := range r.hits {
		h.AddHitShot(id)
	}
	r.c.mu.Lock()
	r.c.noteSnapshot(snap, &h, r.clock.Now())
	r.c.mu.Unlock()
}

// send sends one input aiming along angle (radians).
func (r *shotRig) send(fire bool, angle float64) game.Input {
	in, err := r.c.SendInput(0, 0, angle, fire)
	if err != nil {
		r.t.Fatal(err)
	}
	r.sent = append(r.sent, in)
	return in
}

// frame draws a frame at the rig's clock.
func (r *shotRig) frame() *Frame {
	f := &Frame{}
	r.c.Frame(r.clock.Now(), f)
	return f
}

// ownShots are the own projectiles of f.
func ownShotsOf(f *Frame) []FrameProjectile {
	var out []FrameProjectile
	for _, p := range f.Projectiles {
		if p.Owner == 1 {
			out = append(out, p)
		}
	}
	return out
}

// serverAt is where the server draws pr at fractional tick t.
func serverAt(p game.Params, pr game.Projectile, t float64) (float64, float64) {
	t = max(t, float64(pr.SpawnTick))
	k := math.Floor(t)
	x0, y0 := pr.PositionAt(p, uint32(k))
	x1, y1 := pr.PositionAt(p, uint32(k)+1)
	return x0 + (x1-x0)*(t-k), y0 + (y1-y0)*(t-k)
}

// TestAFiredShotIsDrawnAtOnceAndTakesOverTheServersWithoutAPop: the frame
// right after the fire press holds the own projectile where the player
// is; when the server's copy arrives (here 30 units off the prediction)
// the frame does not jump, one projectile is drawn, not two, and within
// 100 ms it is drawn where the server has it, closer than the projectile
// radius.
func TestAFiredShotIsDrawnAtOnceAndTakesOverTheServersWithoutAPop(t *testing.T) {
	r := newShotRig(t)
	p := r.c.Params()
	// The target stands aside: the shot must fly on unhit until the
	// server's copy arrives, however far ahead the own timeline runs
	// (the first lead follows the welcome's round trip).
	r.target = [2]float64{500, 800}
	for range 15 { // past the interpolation delay: drawn where it stands
		r.serve()
	}
	in := r.send(true, 0)
	f := r.frame()
	shots := ownShotsOf(f)
	if len(shots) != 1 || shots[0].ID != 0 {
		t.Fatalf("frame after the fire press: own projectiles %+v, want one predicted", shots)
	}
	if d := math.Hypot(shots[0].X-f.Own.X, shots[0].Y-f.Own.Y); d > 1e-9 {
		t.Fatalf("predicted shot drawn %.2f from the player", d)
	}
	for r.tick < in.Tick-1 {
		r.serve()
		r.send(false, 0)
	}
	before := ownShotsOf(r.frame())
	server := game.Projectile{ID: 900, Owner: 1, OriginX: 500, OriginY: 530, Angle: in.Aim, SpawnTick: in.Tick}
	r.shots = []game.Projectile{server}
	r.serve()
	matchedAt := r.clock.Now()
	r.clock.Advance(-time.Second / 30) // compare at the same instant as before
	after := ownShotsOf(r.frame())
	r.clock.Advance(time.Second / 30)
	if len(after) != 1 || after[0].ID != 900 {
		t.Fatalf("after the server's copy: own projectiles %+v, want the server's id 900 once", after)
	}
	if d := math.Hypot(after[0].X-before[0].X, after[0].Y-before[0].Y); d > 1e-6 {
		t.Fatalf("the shot jumped %.2f units when the server's copy arrived", d)
	}
	for r.clock.Now().Before(matchedAt.Add(100 * time.Millisecond)) {
		r.send(false, 0)
		r.serve()
	}
	f = r.frame()
	got := ownShotsOf(f)
	if len(got) != 1 {
		t.Fatalf("own projectiles %+v, want one", got)
	}
	sx, sy := serverAt(p, server, f.OwnTick)
	if d := math.Hypot(got[0].X-sx, got[0].Y-sy); d >= p.ProjectileRadius {
		t.Fatalf("100 ms after the server's copy arrived the shot is drawn %.2f from it, want < %.0f", d, p.ProjectileRadius)
	}
	if s := r.c.NetStats().Shots; s.Predicted != 1 || s.Confirmed != 1 || s.Unconfirmed != 0 || s.ServerOnly != 0 {
		t.Fatalf("shot stats %+v, want 1 predicted and confirmed", s)
	}
}

// TestAShotTheServerNeverFiredIsRemoved: once the server has applied the
// input and its snapshot holds no such projectile, the predicted shot
// goes; and a shot the server's cooldown forbids (the header says the
// player fired last tick) is taken back as soon as that is known.
func TestAShotTheServerNeverFiredIsRemoved(t *testing.T) {
	t.Run("not in the snapshot", func(t *testing.T) {
		r := newShotRig(t)
		in := r.send(true, 0)
		for r.tick < in.Tick {
			r.serve()
			r.send(false, 0)
		}
		if got := ownShotsOf(r.frame()); len(got) != 0 {
			t.Fatalf("own projectiles %+v after the server applied the input without firing", got)
		}
		if s := r.c.NetStats().Shots; s.Predicted != 1 || s.Unconfirmed != 1 {
			t.Fatalf("shot stats %+v, want 1 predicted, 1 unconfirmed", s)
		}
	})
	t.Run("cooldown", func(t *testing.T) {
		r := newShotRig(t)
		r.send(true, 0)
		if got := ownShotsOf(r.frame()); len(got) != 1 {
			t.Fatalf("own projectiles %+v, want the predicted one", got)
		}
		r.cooldown = 40 // the server's player fired just now: no shot for 2 more ticks
		r.serve()
		if got := ownShotsOf(r.frame()); len(got) != 0 {
			t.Fatalf("own projectiles %+v, want none: the cooldown forbids the shot", got)
		}
		if s := r.c.NetStats().Shots; s.Unconfirmed != 1 {
			t.Fatalf("shot stats %+v, want 1 unconfirmed", s)
		}
	})
}

// TestHitsSeenAndConfirmed: a shot that meets the remote player as drawn
// counts as seen (and is drawn no more); the server naming it among the
// hits makes it confirmed. A hit the client never saw counts as the
// server's only.
func TestHitsSeenAndConfirmed(t *testing.T) {
	for _, tc := range []struct {
		name   string
		angle  float64 // the target stands east
		want   ShotStats
		server bool // the server scores a hit
	}{
		{"seen and confirmed", 0, ShotStats{Predicted: 1, Confirmed: 1, HitsSeen: 1, HitsConfirmed: 1}, true},
		{"seen only", 0, ShotStats{Predicted: 1, Confirmed: 1, HitsSeen: 1}, false},
		{"server only", math.Pi, ShotStats{Predicted: 1, Confirmed: 1, HitsServerOnly: 1}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newShotRig(t)
			p := r.c.Params()
			in := r.send(true, tc.angle)
			for r.tick < in.Tick-1 {
				r.serve()
				r.send(false, 0)
			}
			server := game.Projectile{ID: 900, Owner: 1, OriginX: 500, OriginY: 500, Angle: in.Aim, SpawnTick: in.Tick}
			r.shots = []game.Projectile{server}
			hitAt := in.Tick + uint32(math.Ceil((100-p.HitRadius())/p.ProjectileStep()))
			for r.tick < hitAt {
				r.serve()
				r.send(false, 0)
			}
			r.shots = nil
			if tc.server {
				r.hits = []uint32{900}
			}
			for range 3 {
				r.serve()
				r.send(false, 0)
			}
			if got := ownShotsOf(r.frame()); len(got) != 0 {
				t.Fatalf("own projectiles %+v after the server's copy is gone", got)
			}
			if s := r.c.NetStats().Shots; s != tc.want {
				t.Fatalf("shot stats %+v, want %+v", s, tc.want)
			}
		})
	}
}

// BenchmarkSendInputFiring100Players is one input of a player who fires
// as often as the cooldown allows, in a room of 100 players: prediction of the shot and the own shots' hit test
// against the remote players as drawn, a snapshot every tick.
func BenchmarkSendInputFiring100Players(b *testing.B) {
	c := newOfflineClient(b)
	clock := c.clock.(*game.ManualClock)
	p := c.Params()
	snaps := make([]*game.Snapshot, 64)
	for i := range snaps {
		snaps[i] = movingSnapshot(p, 101+uint32(i), 100)
	}
	var sent [4]uint32 // the last inputs' ticks: the server applies them 3 inputs later
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		clock.Advance(time.Second / 30)
		s := snaps[i%len(snaps)]
		s.Tick = 101 + uint32(i)
		c.mu.Lock()
		c.noteSnapshot(s, &wire.SnapshotHeader{ServerTick: s.Tick, LastInputTick: sent[i%4]}, clock.Now())
		c.mu.Unlock()
		in, err := c.SendInput(0, 1, 0.5, i%8 == 0) // as often as the cooldown allows
		if err != nil {
			b.Fatal(err)
		}
		sent[i%4] = in.Tick
	}
	b.ReportMetric(float64(c.NetStats().Shots.Predicted)/float64(b.N), "shots/op")
}

// TestOnALossyLinkInputPacketsGoTwiceHalfATickApart: with measured loss
// the last input packet is sent again half a tick after it went, when no
// newer input has gone since, and NextInputAt wakes the caller for it;
// on a clean link nothing is sent twice.
func TestOnALossyLinkInputPacketsGoTwiceHalfATickApart(t *testing.T) {
	for _, tc := range []struct {
		loss    float64
		resends int64
	}{{0, 0}, {0.05, 1}} {
		c := newOfflineClient(t)
		clock := c.clock.(*game.ManualClock)
		c.mu.Lock()
		c.sync.loss = tc.loss
		c.lossAt = clock.Now() // keep the loss as set for this test
		c.mu.Unlock()
		clock.Advance(time.Millisecond)
		if _, err := c.SendInput(1, 0, 0, false); err != nil {
			t.Fatal(err)
		}
		sent := c.Stats().PacketsOut
		half := time.Second / 30 / 2
		if tc.resends > 0 {
			if at := c.NextInputAt(clock.Now()); at.Sub(clock.Now()) != half {
				t.Errorf("loss %v: NextInputAt in %v, want the resend in %v", tc.loss, at.Sub(clock.Now()), half)
			}
		}
		clock.Advance(half - time.Microsecond)
		c.InputsDue(clock.Now())
		if got := c.Stats().PacketsOut - sent; got != 0 {
			t.Fatalf("loss %v: %d packets sent before half a tick", tc.loss, got)
		}
		clock.Advance(time.Microsecond)
		c.InputsDue(clock.Now())
		c.InputsDue(clock.Now())
		if s := c.Stats(); s.InputResends != tc.resends || s.PacketsOut-sent != tc.resends {
			t.Fatalf("loss %v: %d resends, %d packets after half a tick, want %d", tc.loss, s.InputResends, s.PacketsOut-sent, tc.resends)
		}
	}
}
