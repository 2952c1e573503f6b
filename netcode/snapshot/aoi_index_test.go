package snapshot

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/tickwire/tickwire/game"
	"github.com/tickwire/tickwire/netcode/internal/arenatest"
)

// TestAOIIndexSeesExactlyWhatVisibleSetSees compares the grid's answer
// with the brute-force filter for random worlds, viewers and radii,
// including players placed exactly on the radius and projectiles in
// flight near it.
func TestAOIIndexSeesExactlyWhatVisibleSetSees(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	var ix AOIIndex
	var got, want game.Snapshot
	for _, n := range []int{1, 30, 400} {
		world := arenatest.NewWorld(uint64(n), n)
		for step := range 60 {
			world.Step()
			full := world.Snapshot()
			if n > 1 && step%3 == 0 {
				// Put a player exactly on the edge of some radius.
				a, b := &full.Players[0], &full.Players[1]
				b.X, b.Y = a.X+300, a.Y
				if b.X > world.Params.Size {
					b.X = a.X - 300
				}
			}
			for _, radius := range []float64{300, 1 + rng.Float64()*100, 50 + rng.Float64()*900, 1e7, 0, math.Inf(1), math.NaN()} {
				ix.Build(full, radius, world.Params)
				for range 8 {
					viewer := full.Players[rng.IntN(len(full.Players))].ID
					if rng.IntN(10) == 0 {
						viewer = 1 << 30 // absent
					}
					ix.VisibleSet(&got, viewer)
					VisibleSet(&want, full, viewer, radius, world.Params)
					if diff := arenatest.Diff(&got, &want); diff != "" {
						t.Fatalf("n %d tick %d radius %v viewer %d: %s", n, full.Tick, radius, viewer, diff)
					}
				}
			}
		}
	}
}

func TestAOIIndexAllocatesNothingOnceWarm(t *testing.T) {
	world := arenatest.NewWorld(6, 400)
	full := world.Steps(40)
	var ix AOIIndex
	var vis game.Snapshot
	ix.Build(full, 400, world.Params)
	ix.VisibleSet(&vis, full.Players[0].ID)
	i := 0
	allocs := testing.AllocsPerRun(50, func() {
		ix.Build(full, 400, world.Params)
		ix.VisibleSet(&vis, full.Players[i%len(full.Players)].ID)
		i++
	})
	if allocs != 0 {
		t.Fatalf("%v allocations per build and query", allocs)
	}
}

// BenchmarkAOIIndex is one client's interest filter at N = 1000 with a
// radius of 400, through the shared grid, against BenchmarkVisibleSet's
// scan of the whole world; and the grid's build, once per tick.
func BenchmarkAOIIndex(b *testing.B) {
	world := arenatest.NewWorld(1, 1000)
	full := world.Steps(60)
	var ix AOIIndex
	var vis game.Snapshot
	ix.Build(full, 400, world.Params)
	b.Run("query", func(b *testing.B) {
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			ix.VisibleSet(&vis, full.Players[i%len(full.Players)].ID)
			i++
		}
	})
	b.Run("build", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			ix.Build(full, 400, world.Params)
		}
		b.ReportMetric(float64(len(full.Projectiles)), "projectiles")
	})
	_ = fmt.Sprint()
}
