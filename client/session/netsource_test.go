package session

import (
	"math"
	"testing"
	"time"

	"github.com/tickwire/tickwire/game"
	"github.com/tickwire/tickwire/netcode"
)

const (
	ownID   game.EntityID = 1
	otherID game.EntityID = 2
)

func testSource(t0 time.Time) *NetSource {
	p := game.Config{}.Params()
	return &NetSource{
		params: p, own: ownID, start: t0,
		period:  time.Second / time.Duration(p.TickRate),
		pending: make([]game.Input, 0, maxPending),
	}
}

// feed delivers snapshot tick at its ideal arrival time, the other player
// at x = 100 + 2·tick moving right, the own player at ownX.
func feed(s *NetSource, t0 time.Time, tick uint32, ownX float64, lastInput uint32) {
	snap := game.Snapshot{Tick: tick, Players: []game.Player{
		{ID: ownID, X: ownX, Y: 100, Alive: true, Health: 100, LastInputTick: lastInput},
		{ID: otherID, X: 100 + 2*float64(tick), Y: 200, MoveX: 127, Alive: true, Health: 100},
	}}
	s.onSnapshot(&snap, &netcode.SnapshotHeader{ServerTick: tick, LastInputTick: lastInput}, t0.Add(time.Duration(tick)*s.period))
}

func TestRemotePlayerIsInterpolatedBetweenSnapshots(t *testing.T) {
	t0 := time.Unix(1000, 0)
	s := testSource(t0)
	for tick := uint32(10); tick <= 20; tick++ {
		feed(s, t0, tick, 100, 0)
	}
	var f Frame
	// Half a tick after snapshot 20 arrived: remote shown interpTicks
	// behind, at 17.5, halfway between snapshots 17 and 18.
	s.Frame(t0.Add(20*s.period+s.period/2), &f)
	if math.Abs(f.RenderTick-17.5) > 1e-6 {
		t.Fatalf("render tick %v, want 17.5", f.RenderTick)
	}
	if len(f.Remote) != 1 || f.Remote[0].ID != otherID {
		t.Fatalf("remote players %+v, want only entity %d", f.Remote, otherID)
	}
	if want := 100 + 2*17.5; math.Abs(f.Remote[0].X-want) > 1e-6 {
		t.Errorf("remote x %v, want %v (interpolated)", f.Remote[0].X, want)
	}
	if s.interp != 1 || s.extrap != 0 || s.held != 0 {
		t.Errorf("frames interp/extrap/held = %d/%d/%d, want 1/0/0", s.interp, s.extrap, s.held)
	}
}

func TestRemotePlayerExtrapolatesBrieflyThenHolds(t *testing.T) {
	t0 := time.Unix(1000, 0)
	s := testSource(t0)
	for tick := uint32(10); tick <= 20; tick++ {
		feed(s, t0, tick, 100, 0)
	}
	step := s.params.PlayerStep()
	var f Frame
	// Snapshots stop: 1 tick past the newest is extrapolated from the
	// player's last move vector.
	s.Frame(t0.Add(24*s.period), &f)
	if want := 140 + step; math.Abs(f.Remote[0].X-want) > 1e-6 {
		t.Errorf("extrapolated x %v, want %v", f.Remote[0].X, want)
	}
	// Far past it, the player holds at the extrapolation limit.
	s.Frame(t0.Add(60*s.period), &f)
	if want := 140 + maxExtrapolate*step; math.Abs(f.Remote[0].X-want) > 1e-6 {
		t.Errorf("held x %v, want %v", f.Remote[0].X, want)
	}
	if s.extrap != 1 || s.held != 1 {
		t.Errorf("frames extrap/held = %d/%d, want 1/1", s.extrap, s.held)
	}
}

func TestOwnPlayerIsPredictedFromUnacknowledgedInputs(t *testing.T) {
	t0 := time.Unix(1000, 0)
	s := testSource(t0)
	feed(s, t0, 10, 100, 5)
	right := func(tick uint32) game.Input { return game.QuantizeInput(tick, 1, 0, 0, false) }
	s.pending = append(s.pending, right(6), right(7))
	want := game.Player{ID: ownID, X: 100, Y: 100, Alive: true, Health: 100, LastInputTick: 5}
	s.params.MovePlayer(&want, right(6))
	after6 := want.X
	s.params.MovePlayer(&want, right(7))

	var f Frame
	s.lastSent = t0.Add(10 * s.period)
	s.Frame(s.lastSent.Add(s.period), &f)
	if !f.HasOwn || f.Own.X != want.X {
		t.Fatalf("own x %v (has %v), want %v: the snapshot's 100 plus two predicted steps", f.Own.X, f.HasOwn, want.X)
	}
	// The server applies input 6 exactly as predicted: no correction, and
	// input 6 leaves the pending list.
	feed(s, t0, 11, after6, 6)
	if s.corrections != 0 || len(s.pending) != 1 {
		t.Fatalf("after a matching snapshot: %d corrections, %d pending; want 0, 1", s.corrections, len(s.pending))
	}
	// The server put the player elsewhere (a collision the client did not
	// predict): one correction, and the frame follows the server.
	feed(s, t0, 12, after6-10, 6)
	if s.corrections != 1 {
		t.Fatalf("corrections %d after a mismatching snapshot, want 1", s.corrections)
	}
	s.Frame(s.lastSent.Add(s.period), &f)
	if f.Own.X >= want.X {
		t.Errorf("own x %v did not follow the server's correction", f.Own.X)
	}
}

func TestInputsAreDueOncePerTickAtAnyFrameRateWithoutBurstsAfterAStall(t *testing.T) {
	for _, frame := range []time.Duration{5 * time.Millisecond, 16 * time.Millisecond, 50 * time.Millisecond, 100 * time.Millisecond} {
		t0 := time.Unix(1000, 0)
		s := testSource(t0)
		due := 0
		for at := time.Duration(0); at < 3*time.Second; at += frame {
			due += s.InputsDue(t0.Add(at))
		}
		if due < 88 || due > 91 {
			t.Errorf("frames every %v: %d inputs due in 3 s at 30 Hz, want 90", frame, due)
		}
	}
	t0 := time.Unix(1000, 0)
	s := testSource(t0)
	s.InputsDue(t0)
	// A 2 s stall (a hidden tab) yields a few inputs, not sixty.
	if n := s.InputsDue(t0.Add(2 * time.Second)); n != maxInputsDue {
		t.Errorf("after a stall %d inputs due, want %d", n, maxInputsDue)
	}
	if n := s.InputsDue(t0.Add(2*time.Second + time.Millisecond)); n != 0 {
		t.Errorf("right after: %d inputs due, want 0", n)
	}
}

func TestNamesComeFromTheNewestRoster(t *testing.T) {
	s := testSource(time.Unix(1000, 0))
	s.onRoster(&netcode.Roster{Revision: 2, Players: []netcode.RosterEntry{{Entity: otherID, Name: "bob"}}})
	s.onRoster(&netcode.Roster{Revision: 1, Players: []netcode.RosterEntry{{Entity: otherID, Name: "stale"}}})
	if n, ok := s.Name(otherID); !ok || n != "bob" {
		t.Errorf("name %q, %v; want bob from revision 2", n, ok)
	}
	s.onRoster(&netcode.Roster{Revision: 3})
	if _, ok := s.Name(otherID); ok {
		t.Error("a player who left still has a name")
	}
}

// BenchmarkFrame is one display frame of a 100-player room with
// projectiles: 0 allocs/op in steady state.
func BenchmarkFrame(b *testing.B) {
	t0 := time.Unix(1000, 0)
	s := testSource(t0)
	snap := game.Snapshot{}
	for i := range 100 {
		snap.Players = append(snap.Players, game.Player{ID: game.EntityID(i + 1), X: float64(10 * i), Y: 500, MoveX: 127, Alive: true, Health: 100})
	}
	for i := range 50 {
		snap.Projectiles = append(snap.Projectiles, game.Projectile{ID: game.EntityID(1000 + i), Owner: 2, OriginX: 500, OriginY: 500, Angle: uint16(i * 1000)})
	}
	for tick := uint32(1); tick <= 20; tick++ {
		snap.Tick = tick
		for i := range snap.Projectiles {
			snap.Projectiles[i].SpawnTick = tick - 1
		}
		s.onSnapshot(&snap, &netcode.SnapshotHeader{ServerTick: tick}, t0.Add(time.Duration(tick)*s.period))
	}
	var f Frame
	now := t0.Add(20*s.period + s.period/2)
	s.Frame(now, &f)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		s.Frame(now, &f)
	}
}

// BenchmarkOnSnapshot is storing one snapshot of a 100-player room: 0
// allocs/op in steady state.
func BenchmarkOnSnapshot(b *testing.B) {
	t0 := time.Unix(1000, 0)
	s := testSource(t0)
	snap := game.Snapshot{}
	for i := range 100 {
		snap.Players = append(snap.Players, game.Player{ID: game.EntityID(i + 1), X: float64(10 * i), Y: 500, Alive: true})
	}
	h := netcode.SnapshotHeader{}
	tick := uint32(0)
	for range 2 * snapRing {
		tick++
		snap.Tick, h.ServerTick = tick, tick
		s.onSnapshot(&snap, &h, t0.Add(time.Duration(tick)*s.period))
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		tick++
		snap.Tick, h.ServerTick = tick, tick
		s.onSnapshot(&snap, &h, t0.Add(time.Duration(tick)*s.period))
	}
}
