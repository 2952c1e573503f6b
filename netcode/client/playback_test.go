package client

import (
	"testing"

	"github.com/tickwire/tickwire/game"
)

// TestPlaybackViewInterpolatesAsTheSession: a frame halfway between two
// recorded ticks shows a moving player halfway, and a frame on a tick
// shows that tick's state, for the ring's whole length.
func TestPlaybackViewInterpolatesAsTheSession(t *testing.T) {
	w := game.NewWorld(game.Config{MaxPlayers: 2})
	id, err := w.AddPlayer()
	if err != nil {
		t.Fatal(err)
	}
	v := NewPlaybackView(w.Params())
	var s game.Snapshot
	var f Frame
	for tick := uint32(1); tick <= 3*playbackRing; tick++ {
		w.Step([]game.PlayerInput{{Player: id, Input: game.Input{Tick: tick, MoveX: 127}}})
		prev := s
		prev.Players = append([]game.Player(nil), s.Players...)
		w.Snapshot(&s)
		v.Add(&s)
		if tick < 2 {
			continue
		}
		v.Frame(float64(tick)-0.5, &f)
		if len(f.Remote) != 1 || f.HasOwn || f.Span != 1 {
			t.Fatalf("tick %d: %d remote players, own %v, span %d", tick, len(f.Remote), f.HasOwn, f.Span)
		}
		if want := (prev.Players[0].X + s.Players[0].X) / 2; f.Remote[0].X != want {
			t.Fatalf("tick %d - 0.5: x %v, want %v", tick, f.Remote[0].X, want)
		}
		v.Frame(float64(tick-interpRing+1), &f)
		if f.RenderTick != float64(tick-interpRing+1) || len(f.Remote) != 1 {
			t.Fatalf("the oldest tick held: %+v", f)
		}
	}
	v.Reset()
	if v.Newest() != 0 {
		t.Fatal("Reset kept snapshots")
	}
}
