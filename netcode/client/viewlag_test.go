package client

import (
	"testing"
	"time"

	"github.com/tickwire/tickwire/game"
	"github.com/tickwire/tickwire/netcode/wire"
)

// playOffline feeds an offline client a snapshot every tick, as they
// arrive from a server 50 ms away, and draws a frame every 1/60 s, for
// the given time.
func playOffline(t *testing.T, c *Client, d time.Duration) {
	t.Helper()
	clock := c.clock.(*game.ManualClock)
	var f Frame
	next := clock.Now()
	for end := clock.Now().Add(d); clock.Now().Before(end); {
		now := clock.Now()
		if !now.Before(next) {
			tick := 100 + uint32(now.Sub(t0).Seconds()*30) - 1 // sent 50 ms ago, about
			c.mu.Lock()
			c.noteSnapshot(movingSnapshot(c.Params(), tick, 3), &wire.SnapshotHeader{ServerTick: tick}, now)
			c.mu.Unlock()
			next = next.Add(time.Second / 30)
		}
		c.Frame(now, &f)
		clock.Advance(time.Second / 60)
	}
}

// TestFiringInputsCarryTheViewLag: an input that fires says how far
// behind its tick the remote players a frame drawn at that moment show
// (Frame.RenderTick), in 1/16 of a tick; other inputs carry none.
func TestFiringInputsCarryTheViewLag(t *testing.T) {
	c := newOfflineClient(t)
	// Before any frame, from the target delay alone.
	in, err := c.SendInput(0, 0, 0, true)
	if err != nil {
		t.Fatal(err)
	}
	if in.ViewLag < 3*game.ViewLagScale || in.ViewLag > 10*game.ViewLagScale {
		t.Errorf("first shot's view lag %d/16 ticks, want a plausible 3 to 10 ticks", in.ViewLag)
	}
	playOffline(t, c, 2*time.Second)
	clock := c.clock.(*game.ManualClock)
	var f Frame
	shots := 0
	for range 30 {
		clock.Advance(7 * time.Millisecond)
		c.Frame(clock.Now(), &f)
		for range c.InputsDue(clock.Now()) {
			in, err := c.SendInput(1, 0, 0, true)
			if err != nil {
				t.Fatal(err)
			}
			if want := game.ViewLagFromTicks(float64(in.Tick) - f.RenderTick); in.ViewLag != want || want == 0 {
				t.Fatalf("input %d: view lag %d/16, want %d/16 (render tick %.3f)", in.Tick, in.ViewLag, want, f.RenderTick)
			}
			shots++
			in, err = c.SendInput(1, 0, 0, false)
			if err != nil {
				t.Fatal(err)
			}
			if in.ViewLag != 0 {
				t.Fatalf("an input that does not fire carries view lag %d", in.ViewLag)
			}
		}
	}
	if shots < 3 {
		t.Fatalf("%d shots checked", shots)
	}
	// A frame later than the input moves the render clock on, not back:
	// the lag is the one at the moment of the input.
	clock.Advance(20 * time.Millisecond)
	now := clock.Now()
	c.mu.Lock()
	r := c.interp.renderTickAt(c.sync.arrival(now), now)
	c.mu.Unlock()
	c.Frame(now, &f)
	if r != f.RenderTick {
		t.Fatalf("render tick foreseen %v, drawn %v", r, f.RenderTick)
	}
}

// TestSendInputThatFiresAllocatesNothing: the view lag costs no
// allocation on the hot path.
func TestSendInputThatFiresAllocatesNothing(t *testing.T) {
	c := newOfflineClient(t)
	playOffline(t, c, time.Second)
	clock := c.clock.(*game.ManualClock)
	var f Frame
	n := testing.AllocsPerRun(200, func() {
		clock.Advance(time.Second / 30)
		c.Frame(clock.Now(), &f)
		if _, err := c.SendInput(1, 0, 0.5, true); err != nil {
			t.Fatal(err)
		}
	})
	if n != 0 {
		t.Errorf("SendInput with fire allocates %v times", n)
	}
}
