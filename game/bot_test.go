package game

import (
	"math"
	"testing"
)

func TestBotSameSeedSameDecisions(t *testing.T) {
	a, b, c := NewBot(7, 30), NewBot(7, 30), NewBot(8, 30)
	differ := false
	for tick := uint32(1); tick <= 3000; tick++ {
		x, y, z := a.Next(tick), b.Next(tick), c.Next(tick)
		if x != y {
			t.Fatalf("tick %d: same seed gave %+v and %+v", tick, x, y)
		}
		differ = differ || x != z
	}
	if !differ {
		t.Fatal("seeds 7 and 8 gave the same 3000 inputs")
	}
}

// TestBotHoldsDirectionOneToThreeSeconds checks the benchmark bot's
// behaviour (docs/GAME.md) over many changes: each decision lasts 1 to
// 3 s, the move is a unit vector, the aim changes with it, and fire is
// held about half of the time.
func TestBotHoldsDirectionOneToThreeSeconds(t *testing.T) {
	const rate = 30
	bot := NewBot(1, rate)
	var (
		runs, fireRuns, ticks int
		run                   int
		prev                  Input
		minRun, maxRun        = math.MaxInt, 0
		sumRun                int
	)
	flush := func() {
		if run == 0 {
			return
		}
		runs++
		sumRun += run
		minRun, maxRun = min(minRun, run), max(maxRun, run)
		if prev.Fire {
			fireRuns++
		}
	}
	for tick := uint32(1); tick <= 200_000; tick++ {
		in := bot.Next(tick)
		ticks++
		if in.Tick != tick {
			t.Fatalf("input stamped %d, want %d", in.Tick, tick)
		}
		if n := math.Hypot(float64(in.MoveX), float64(in.MoveY)) / MoveSteps; math.Abs(n-1) > 0.02 {
			t.Fatalf("move (%d,%d) is not a unit vector (%.3f)", in.MoveX, in.MoveY, n)
		}
		if h := bot.HoldTicks(); h < 0 || h >= 3*rate {
			t.Fatalf("%d inputs left on a decision, want 0 to %d", h, 3*rate-1)
		}
		cur, p := in, prev
		cur.Tick, p.Tick = 0, 0
		if run > 0 && cur != p {
			flush()
			run = 0
		}
		run++
		prev = in
	}
	// The last run may be cut short; ignore it.
	if minRun < rate || maxRun > 3*rate {
		t.Errorf("direction held %d to %d ticks, want %d to %d", minRun, maxRun, rate, 3*rate)
	}
	if mean := float64(sumRun) / float64(runs) / rate; math.Abs(mean-2) > 0.1 {
		t.Errorf("mean hold %.2f s, want about 2 s", mean)
	}
	if share := float64(fireRuns) / float64(runs); math.Abs(share-0.5) > 0.05 {
		t.Errorf("fire held in %.2f of the changes, want about 1/2", share)
	}
}

func TestInputControlsQuantizeBackExactly(t *testing.T) {
	bot := NewBot(3, 60)
	for tick := uint32(1); tick <= 20_000; tick++ {
		in := bot.Next(tick)
		mx, my, aim, fire := in.Controls()
		if got := QuantizeInput(tick, mx, my, aim, fire); got != in {
			t.Fatalf("QuantizeInput(Controls(%+v)) = %+v", in, got)
		}
	}
}

func BenchmarkBotNext(b *testing.B) {
	bot := NewBot(1, 30)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		_ = bot.Next(uint32(i))
	}
}
