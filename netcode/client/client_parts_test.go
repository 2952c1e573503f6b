package client

import (
	"context"
	"math"
	"net"
	"testing"
	"time"

	"github.com/tickwire/tickwire/game"
	"github.com/tickwire/tickwire/netcode/transport"
	"github.com/tickwire/tickwire/netcode/wire"
	pb "github.com/tickwire/tickwire/proto/tickwire/v1"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// newOfflineClient is a Client that has been welcomed (entity 1, 30 Hz,
// the default arena, server at tick 100, RTT 100 ms) and sends into a
// link nobody reads: for driving its parts directly.
func newOfflineClient(tb testing.TB) *Client {
	tb.Helper()
	clock := game.NewManualClock(t0)
	c := newClient(Config{Name: "offline", Clock: clock})
	c.conn = discardConn{}
	w := wire.MarshalControl(&pb.Packet{Body: &pb.Packet_Welcome{Welcome: &pb.ServerWelcome{
		PlayerEntityId: 1, TickRate: 30, ServerTick: 100, ProtocolVersion: wire.ProtocolVersion,
		Arena: wire.ArenaMessage(game.Config{}.Params(), 0),
	}}})
	if err := c.acceptWelcome(w, t0.Add(-100*time.Millisecond), t0); err != nil {
		tb.Fatal(err)
	}
	return c
}

// movingSnapshot is tick's snapshot of n players all moving +x at full
// speed from x = 100 (player 1 is the own one).
func movingSnapshot(p game.Params, tick uint32, n int) *game.Snapshot {
	s := &game.Snapshot{Tick: tick}
	for i := 0; i < n; i++ {
		pl := game.Player{ID: game.EntityID(i + 1), X: 100, Y: 50 + float64(i)*10, Alive: true, Health: 100, MoveX: 127}
		for k := uint32(0); k < tick; k++ {
			p.MovePlayer(&pl, game.Input{MoveX: 127})
		}
		pl.LastInputTick = 0
		s.Players = append(s.Players, pl)
	}
	return s
}

// leadServer models a server running at exactly 30 Hz that reports, as
// the room does, the smoothed lead of arriving inputs.
type leadServer struct {
	owd    time.Duration // one way
	leadMs float64
	has    bool
}

func (s *leadServer) tickAt(at time.Time) float64 { return 100 + at.Sub(t0).Seconds()*30 }

func (s *leadServer) receive(tick uint32, at time.Time) {
	ms := (float64(tick) - math.Floor(s.tickAt(at))) * 1000 / 30
	if !s.has {
		s.leadMs, s.has = ms, true
	}
	s.leadMs += (ms - s.leadMs) / 8
}

// TestInputClockSteersToTheTargetLeadByBoundedDilation: a client whose
// input clock starts 150 ms off converges by time dilation alone: it
// never sends inputs more than 5 % faster or slower than the server's
// rate, never skips or repeats a tick, and ends within a tick of the
// target lead.
func TestInputClockSteersToTheTargetLeadByBoundedDilation(t *testing.T) {
	for _, off := range []time.Duration{-150 * time.Millisecond, 150 * time.Millisecond} {
		var cs clockSync
		cs.init(30, 100, t0, 100*time.Millisecond)
		cs.inBase += off.Seconds() * 30
		srv := &leadServer{owd: 50 * time.Millisecond}
		type report struct {
			at   time.Time
			lead int32
		}
		var reports []report
		var sentAt []time.Time
		for ms := 0; ms < 30000; ms++ {
			now := t0.Add(time.Duration(ms) * time.Millisecond)
			for n := cs.inputsDue(now); n > 0; n-- {
				tick := cs.stampInput(now)
				if len(sentAt) > 0 && tick != cs.lastSent {
					t.Fatal("stamp disagrees with lastSent")
				}
				sentAt = append(sentAt, now)
				srv.receive(tick, now.Add(srv.owd))
				reports = append(reports, report{now.Add(2 * srv.owd), int32(srv.leadMs)})
			}
			for len(reports) > 0 && !reports[0].at.After(now) {
				cs.observeLead(reports[0].lead, now)
				reports = reports[1:]
			}
			if d := cs.dilation; math.Abs(d) > maxDilation+1e-12 {
				t.Fatalf("dilation %v", d)
			}
		}
		// Over any second, the input rate stays within 5 % (and a
		// millisecond), from the second input on (the first is stamped
		// with the tick already begun).
		for i := 31; i < len(sentAt); i++ {
			span := sentAt[i].Sub(sentAt[i-30]).Seconds()
			if span < 1/1.05-0.002 || span > 1/0.95+0.002 {
				t.Fatalf("offset %v: 30 inputs took %.3f s", off, span)
			}
		}
		if e := cs.targetLead().Seconds()*1000 - srv.leadMs; math.Abs(e) > 34 {
			t.Errorf("offset %v: lead %.1f ms, target %v", off, srv.leadMs, cs.targetLead())
		}
	}
}

func TestInputClockJumpsOnlyForHugeErrors(t *testing.T) {
	var cs clockSync
	cs.init(30, 100, t0, 100*time.Millisecond)
	now := t0.Add(time.Second)
	before := cs.inputTick(now)
	target := int32(cs.targetLead().Milliseconds())
	cs.observeLead(target-200, now) // 200 ms late: slew
	if got := cs.inputTick(now); math.Abs(got-before) > 1e-9 || cs.dilation != maxDilation {
		t.Errorf("200 ms error: clock moved %.2f ticks, dilation %v; want no jump, +5 %%", got-before, cs.dilation)
	}
	cs.observeLead(target-400, now) // 400 ms late: jump 12 ticks
	if got := cs.inputTick(now) - before; math.Abs(got-12) > 0.1 {
		t.Errorf("400 ms error: clock jumped %.2f ticks, want 12", got)
	}
	cs.observeLead(target-400, now.Add(10*time.Millisecond)) // stale report
	if got := cs.inputTick(now.Add(10*time.Millisecond)) - before; got > 13 {
		t.Errorf("a report predating the jump moved the clock again (%.2f ticks)", got)
	}
}

func TestArrivalClockFollowsSnapshotsAndJitterIsMeasured(t *testing.T) {
	var cs clockSync
	cs.init(30, 100, t0, 100*time.Millisecond)
	for i := 1; i <= 300; i++ {
		jit := time.Duration((i%3)-1) * 6 * time.Millisecond // -6, 0, +6 ms
		cs.observeSnapshot(uint32(100+i), t0.Add(time.Duration(i)*time.Second/30+jit))
	}
	now := t0.Add(10 * time.Second)
	if a := cs.arrival(now); math.Abs(a-400) > 0.2 {
		t.Errorf("arrival clock %.2f at the arrival of tick 400", a)
	}
	if j := time.Duration(cs.jitter * float64(time.Second)); j < 4*time.Millisecond || j > 12*time.Millisecond {
		t.Errorf("jitter %v for arrivals ±6 ms off", j)
	}
}

func TestFrameExtrapolatesAtMostOneIntervalThenHolds(t *testing.T) {
	p := game.Config{}.Params()
	var b interpBuffer
	b.init(p, 99)
	for tick := uint32(8); tick <= 10; tick++ {
		b.add(movingSnapshot(p, tick, 2), float64(tick), t0)
	}
	x10 := movingSnapshot(p, 10, 1).Players[0].X
	step := movingSnapshot(p, 11, 1).Players[0].X - x10
	var f Frame
	for _, c := range []struct {
		r     float64
		wantX float64
		kind  string
	}{
		{9.5, x10 - step/2, "interpolated"},
		{10, x10, "interpolated"},
		{10.5, x10 + step/2, "extrapolated"},
		{11, x10 + step, "extrapolated"},
		{12.5, x10 + step, "held"},
	} {
		i, e, h := b.interpolated, b.extrapolated, b.held
		b.frame(c.r, &f)
		kind := map[[3]int64]string{{1, 0, 0}: "interpolated", {0, 1, 0}: "extrapolated", {0, 0, 1}: "held"}[[3]int64{b.interpolated - i, b.extrapolated - e, b.held - h}]
		if kind != c.kind || len(f.Remote) != 2 || math.Abs(f.Remote[0].X-c.wantX) > 1e-9 {
			t.Errorf("render tick %v: %s, x %v; want %s, x %v", c.r, kind, f.Remote[0].X, c.kind, c.wantX)
		}
	}
}

func TestFrameOmitsTheOwnPlayerAndSimulatesProjectiles(t *testing.T) {
	p := game.Config{}.Params()
	var b interpBuffer
	b.init(p, 1)
	s := movingSnapshot(p, 20, 3)
	pr := game.Projectile{ID: 50, Owner: 2, OriginX: 500, OriginY: 500, Angle: 0, SpawnTick: 18}
	s.Projectiles = append(s.Projectiles, pr)
	b.add(s, 20, t0)
	s2 := movingSnapshot(p, 21, 3)
	s2.Projectiles = append(s2.Projectiles, pr)
	b.add(s2, 21, t0)
	var f Frame
	b.frame(20.25, &f)
	if len(f.Remote) != 2 || f.Remote[0].ID != 2 || f.Remote[1].ID != 3 {
		t.Fatalf("remote players %+v, want 2 and 3", f.Remote)
	}
	wantX := 500 + p.ProjectileStep()*2.25
	if len(f.Projectiles) != 1 || math.Abs(f.Projectiles[0].X-wantX) > 1e-9 || f.Projectiles[0].Owner != 2 {
		t.Errorf("projectiles %+v, want one at x %v", f.Projectiles, wantX)
	}
}

// TestDelayGrowsAtOnceOnMissingSnapshotsAndShrinksSlowly: on a perfect
// link the delay settles near one interval; five missing snapshots raise
// it at once past five; then it shrinks by at most 5 ms a second, and the
// render clock changes speed without ever jumping.
func TestDelayGrowsAtOnceOnMissingSnapshotsAndShrinksSlowly(t *testing.T) {
	p := game.Config{}.Params()
	var b interpBuffer
	b.init(p, 99)
	var cs clockSync
	cs.init(30, 0, t0, 50*time.Millisecond)
	s := &game.Snapshot{}
	var f Frame
	lastR := math.Inf(-1)
	var targetAt10, targetAfterGap float64
	for fr := 1; fr <= 60*40; fr++ { // 40 s of 60 Hz frames
		now := t0.Add(time.Duration(fr) * time.Second / 60)
		if fr%2 == 0 {
			tick := uint32(fr / 2)
			if tick < 300 || tick > 305 { // ticks 300..305 are lost
				s.Tick = tick
				b.add(s, cs.arrival(now), now)
				cs.observeSnapshot(tick, now)
			}
		}
		r := b.advance(cs.arrival(now), now)
		b.frame(r, &f)
		if dr := (r - lastR) * 2; fr > 1 && (dr < 1-renderSlow-1e-6 || dr > 1+renderFast+1e-6) {
			t.Fatalf("frame %d: render clock moved %.3f ticks per tick", fr, dr)
		}
		lastR = r
		switch fr {
		case 600:
			targetAt10 = b.target
		case 614:
			targetAfterGap = b.target
		}
	}
	if targetAt10 > 1.5 {
		t.Errorf("delay on a perfect link %.2f ticks, want about 1", targetAt10)
	}
	if targetAfterGap < 6 {
		t.Errorf("after 6 missing snapshots the delay is %.2f ticks, want >= 6 at once", targetAfterGap)
	}
	// 30 s later it may have shrunk by at most 30 × 5 ms = 4.5 ticks.
	if b.target < targetAfterGap-4.5-1e-6 {
		t.Errorf("delay shrank from %.2f to %.2f ticks in 30 s", targetAfterGap, b.target)
	}
	if b.target >= targetAfterGap {
		t.Errorf("delay did not shrink on a clean link: %.2f", b.target)
	}
}

func TestRemotePlayerWhoRespawnsIsNotSlidAcrossTheArena(t *testing.T) {
	a := game.Player{ID: 2, X: 100, Y: 100, Alive: false}
	b := game.Player{ID: 2, X: 1500, Y: 900, Alive: true}
	p := a
	lerpPlayer(&p, &b, 0.3)
	if p.X != 100 || p.Alive {
		t.Errorf("at 0.3 the player is at %v alive=%v, want the dead one at 100", p.X, p.Alive)
	}
	p = a
	lerpPlayer(&p, &b, 0.7)
	if p.X != 1500 || !p.Alive {
		t.Errorf("at 0.7 the player is at %v alive=%v, want the respawned one at 1500", p.X, p.Alive)
	}
}

func TestReconcileReplaysUnacknowledgedInputsExactly(t *testing.T) {
	params := game.Config{}.Params()
	var pr predictor
	pr.init(params)
	start := game.Player{ID: 1, X: 500, Y: 500, Alive: true, Health: 100}
	pr.reconcile(start, 0, 0, t0, nil)
	server := start
	for k := uint32(1); k <= 10; k++ {
		in := game.Input{Tick: k, MoveX: int8(k * 10), MoveY: -50}
		pr.apply(in, t0)
		if k <= 4 {
			params.MovePlayer(&server, in)
		}
	}
	want := pr.cur
	if size := pr.reconcile(server, 4, 4, t0, nil); size != 0 || pr.corrections != 0 {
		t.Errorf("server confirmed the prediction, yet correction of %v", size)
	}
	if pr.cur != want || pr.count != 6 {
		t.Errorf("after replay: %+v with %d pending, want %+v with 6", pr.cur, pr.count, want)
	}
}

func TestMispredictionFadesOutInsteadOfSnapping(t *testing.T) {
	params := game.Config{}.Params()
	var pr predictor
	pr.init(params)
	pr.reconcile(game.Player{ID: 1, X: 500, Y: 500, Alive: true}, 0, 0, t0, nil)
	pr.apply(game.Input{Tick: 1}, t0.Add(-time.Second))
	// The server says the player is 3 units further right than predicted.
	if size := pr.reconcile(game.Player{ID: 1, X: 503, Y: 500, Alive: true}, 1, 1, t0, nil); size != 3 {
		t.Fatalf("correction %v, want 3", size)
	}
	at := func(d time.Duration) float64 { p, _ := pr.own(t0.Add(d)); return p.X }
	if x := at(0); x != 500 {
		t.Errorf("right after the correction the player is shown at %v, want still 500", x)
	}
	if x := at(30 * time.Millisecond); x <= 500.5 || x >= 503 {
		t.Errorf("30 ms later shown at %v, want on the way", x)
	}
	if x := at(100 * time.Millisecond); x != 503 {
		t.Errorf("100 ms later shown at %v, want 503", x)
	}
	if n, p50, mx := pr.correctionStats(); n != 1 || p50 != 3 || mx != 3 {
		t.Errorf("stats %d %v %v", n, p50, mx)
	}
}

func TestDeathAndRespawnSnapWithoutCountingAsCorrections(t *testing.T) {
	params := game.Config{}.Params()
	var pr predictor
	pr.init(params)
	pr.reconcile(game.Player{ID: 1, X: 500, Y: 500, Alive: true}, 0, 0, t0, nil)
	pr.reconcile(game.Player{ID: 1, X: 500, Y: 500, Alive: false}, 0, 0, t0, nil)
	pr.reconcile(game.Player{ID: 1, X: 1500, Y: 200, Alive: true}, 0, 0, t0, nil)
	if p, _ := pr.own(t0); p.X != 1500 || pr.corrections != 0 || pr.snaps != 2 {
		t.Errorf("shown at %v after respawn, %d corrections, %d snaps; want 1500, 0, 2", p.X, pr.corrections, pr.snaps)
	}
}

// BenchmarkFrame100Players is one display frame with 100 remote players
// interpolated (and the own one predicted).
func BenchmarkFrame100Players(b *testing.B) {
	c := newOfflineClient(b)
	p := c.Params()
	now := t0
	for tick := uint32(101); tick <= 110; tick++ {
		now = now.Add(time.Second / 30)
		c.mu.Lock()
		c.noteSnapshot(movingSnapshot(p, tick, 101), &wire.SnapshotHeader{ServerTick: tick}, now)
		c.mu.Unlock()
	}
	var f Frame
	c.Frame(now, &f)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		c.Frame(now.Add(time.Duration(i%8)*time.Millisecond), &f)
	}
	if len(f.Remote) != 100 {
		b.Fatalf("%d remote players", len(f.Remote))
	}
}

// BenchmarkReconcile10Inputs is one snapshot's reconciliation of the own
// player with 10 unacknowledged inputs replayed.
func BenchmarkReconcile10Inputs(b *testing.B) {
	var pr predictor
	pr.init(game.Config{}.Params())
	server := game.Player{ID: 1, X: 500, Y: 500, Alive: true}
	pr.reconcile(server, 0, 0, t0, nil)
	for k := uint32(1); k <= 10; k++ {
		pr.apply(game.Input{Tick: k, MoveX: 100, MoveY: 40}, t0)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		pr.reconcile(server, 0, 0, t0, nil)
	}
	if pr.count != 10 {
		b.Fatal(pr.count)
	}
}

// BenchmarkSnapshotArrival100Players is the client's per-snapshot work
// after decoding: clocks, interpolation buffer (with its delay quantile),
// reconciliation, loss and ack bookkeeping.
func BenchmarkSnapshotArrival100Players(b *testing.B) {
	c := newOfflineClient(b)
	p := c.Params()
	snaps := make([]*game.Snapshot, 64)
	for i := range snaps {
		snaps[i] = movingSnapshot(p, uint32(i+1), 100)
	}
	now := t0
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		tick := uint32(101 + i)
		now = now.Add(time.Second / 30)
		s := snaps[i%len(snaps)]
		s.Tick = tick
		c.mu.Lock()
		c.noteSnapshot(s, &wire.SnapshotHeader{ServerTick: tick, LastInputTick: tick - 3, InputLeadMs: 50}, now)
		c.mu.Unlock()
	}
}

// TestInputClockFollowsAServerThatSkipsTicks: an overloaded server runs
// fewer ticks than real time allows. With no lead report (its inputs are
// refused as too far ahead), the input clock must still stay within
// reach of the server's tick, by the arrival clock.
func TestInputClockFollowsAServerThatSkipsTicks(t *testing.T) {
	var cs clockSync
	cs.init(30, 100, t0, 50*time.Millisecond)
	for ms := 0; ms < 20000; ms++ {
		now := t0.Add(time.Duration(ms) * time.Millisecond)
		serverTick := 100 + float64(ms)/1000*30*0.6 // 60 % of real time
		if ms%33 == 0 {
			cs.observeSnapshot(uint32(serverTick), now)
		}
		for n := cs.inputsDue(now); n > 0; n-- {
			tick := cs.stampInput(now)
			if ahead := float64(tick) - serverTick; ahead > 30 || ahead < 0 {
				t.Fatalf("at %d ms an input for tick %d, server at %.1f", ms, tick, serverTick)
			}
		}
	}
}

// TestOwnPlayerMovesSmoothlyBetweenInputs: the own player is drawn
// between the states before and after the newest input, by the time
// since it was sent.
func TestOwnPlayerMovesSmoothlyBetweenInputs(t *testing.T) {
	c := newOfflineClient(t)
	clock := c.clock.(*game.ManualClock)
	c.mu.Lock()
	c.noteSnapshot(movingSnapshot(c.Params(), 101, 1), &wire.SnapshotHeader{ServerTick: 101}, clock.Now())
	c.mu.Unlock()
	var f Frame
	c.Frame(clock.Now(), &f)
	x0 := f.Own.X
	if _, err := c.SendInput(1, 0, 0, false); err != nil {
		t.Fatal(err)
	}
	step := c.pred.cur.X - x0
	for _, k := range []float64{0, 0.5, 1, 2} {
		c.Frame(clock.Now().Add(time.Duration(k*float64(time.Second/30))), &f)
		if want := x0 + step*min(k, 1); !f.HasOwn || math.Abs(f.Own.X-want) > 1e-3 {
			t.Errorf("%.1f ticks after the input the own player is at %v, want %v", k, f.Own.X, want)
		}
	}
}

// discardConn is a WebTransport Conn that sends nowhere and receives
// nothing.
type discardConn struct{ kind transport.Kind }

func (discardConn) SendDatagram([]byte) error { return nil }
func (discardConn) SendMessage([]byte) error  { return nil }
func (discardConn) Receive(ctx context.Context) ([]byte, bool, error) {
	<-ctx.Done()
	return nil, false, ctx.Err()
}
func (discardConn) Close() error { return nil }
func (c discardConn) Kind() transport.Kind {
	if c.kind == "" {
		return transport.WebTransport
	}
	return c.kind
}
func (discardConn) RemoteAddr() net.Addr { return &net.UDPAddr{} }

// TestTargetLeadIsTheLeastThatKeepsInputsOnTime: the lead is just enough
// that no more than lateBudget of inputs arrive after their tick, given
// the lead's spread and the loss, counting the copies that follow a
// lost packet (half a tick later on a lossy link, a tick later on a
// clean one); a millisecond less would not be.
func TestTargetLeadIsTheLeastThatKeepsInputsOnTime(t *testing.T) {
	tick := time.Second / 30
	for _, tc := range []struct {
		name          string
		leadDev, loss float64 // seconds, share
		min, max      time.Duration
	}{
		{"no jitter, no loss: the scheduling margin", 0, 0, scheduleMargin, scheduleMargin + time.Millisecond},
		{"±15 ms uniform jitter, no loss", 0.0075, 0, 22 * time.Millisecond, 26 * time.Millisecond},
		// The half-tick copy must be on time with the lost share, not
		// with every input: less than the first copy's lead plus half a tick.
		{"±15 ms jitter, 5 % loss", 0.0075, 0.05, 26 * time.Millisecond, 24*time.Millisecond + tick/2},
		{"±15 ms jitter, 20 % loss", 0.0075, 0.20, 40 * time.Millisecond, 55 * time.Millisecond},
		{"2 ms of spread, 5 % loss: the resend must arrive", 0.002, 0.05, tick / 2, tick/2 + 8*time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := clockSync{interval: tick, leadDev: tc.leadDev, hasLeadDev: true, loss: tc.loss}
			lead := c.targetLead()
			if lead < tc.min || lead > tc.max {
				t.Errorf("target lead %v, want %v to %v", lead, tc.min, tc.max)
			}
			if tc.leadDev == 0 {
				return
			}
			spacing := tick
			if c.lossy() {
				spacing = tick / 2
			}
			share := func(d time.Duration) float64 {
				return leadLateShare((d - scheduleMargin).Seconds(), madToSigma*tc.leadDev, tc.loss, spacing.Seconds())
			}
			if s := share(lead); s > lateBudget*1.0001 {
				t.Errorf("at %v, %.3f %% late, above the budget", lead, 100*s)
			}
			if s := share(lead - time.Millisecond); s <= lateBudget {
				t.Errorf("a millisecond less (%v) is still within the budget (%.3f %% late): the lead is not the least", lead-time.Millisecond, 100*s)
			}
		})
	}
}
