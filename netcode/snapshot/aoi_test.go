package snapshot

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/tickwire/tickwire/game"
	"github.com/tickwire/tickwire/netcode/internal/arenatest"
)

func ids[T any](items []T, id func(*T) game.EntityID) []game.EntityID {
	var out []game.EntityID
	for i := range items {
		out = append(out, id(&items[i]))
	}
	return out
}

func playerIDs(s *game.Snapshot) []game.EntityID {
	return ids(s.Players, func(p *game.Player) game.EntityID { return p.ID })
}

func projectileIDs(s *game.Snapshot) []game.EntityID {
	return ids(s.Projectiles, func(p *game.Projectile) game.EntityID { return p.ID })
}

func TestVisibleSetKeepsPlayersWithinRadiusAndTheViewer(t *testing.T) {
	full := &game.Snapshot{Tick: 1, Players: []game.Player{
		{ID: 1, X: 1000, Y: 1000},      // the viewer
		{ID: 2, X: 1100, Y: 1000},      // exactly at the radius
		{ID: 3, X: 1100.0625, Y: 1000}, // one grid step beyond
		{ID: 4, X: 1060, Y: 1080},      // at the radius, diagonally
		{ID: 5, X: 900, Y: 900},        // beyond, diagonally
	}}
	p := arenatest.Params(100)
	var vis game.Snapshot
	VisibleSet(&vis, full, 1, 100, p)
	if got, want := playerIDs(&vis), []game.EntityID{1, 2, 4}; !slices.Equal(got, want) {
		t.Fatalf("visible players %v, want %v", got, want)
	}
	VisibleSet(&vis, full, 5, 1, p)
	if got, want := playerIDs(&vis), []game.EntityID{5}; !slices.Equal(got, want) {
		t.Fatalf("a lone viewer sees %v, want only itself", got)
	}
}

func TestVisibleSetOfAnAbsentViewerIsEmpty(t *testing.T) {
	full := &game.Snapshot{Tick: 9, Players: []game.Player{{ID: 1}},
		Projectiles: []game.Projectile{{ID: 2, SpawnTick: 9}}}
	vis := game.Snapshot{Players: make([]game.Player, 3)}
	VisibleSet(&vis, full, 7, 500, arenatest.Params(100))
	if vis.Tick != 9 || len(vis.Players) != 0 || len(vis.Projectiles) != 0 {
		t.Fatalf("absent viewer sees %+v", vis)
	}
}

func TestVisibleSetWithoutRadiusIsTheWholeWorld(t *testing.T) {
	world := arenatest.NewWorld(2, 50)
	full := world.Steps(40)
	for _, r := range []float64{0, -1, math.NaN()} {
		var vis game.Snapshot
		VisibleSet(&vis, full, 12345, r, world.Params)
		if diff := arenatest.Diff(&vis, full); diff != "" {
			t.Fatalf("radius %v: %s", r, diff)
		}
	}
}

func TestProjectilesAreSeenWhereTheyAreNotWhereTheyStarted(t *testing.T) {
	// 600 units/s at 30 Hz: 20 units per tick; 10 ticks of flight = 200.
	full := &game.Snapshot{Tick: 110, Players: []game.Player{{ID: 1, X: 1000, Y: 1000}},
		Projectiles: []game.Projectile{
			{ID: 2, OriginX: 700, OriginY: 1000, Angle: 0, SpawnTick: 100},          // now at 900: in
			{ID: 3, OriginX: 1000, OriginY: 1050, Angle: 16384, SpawnTick: 100},     // now at y 1250: out
			{ID: 4, OriginX: 1000, OriginY: 1000, Angle: 32768, SpawnTick: 110},     // just fired: in
			{ID: 5, OriginX: 1400, OriginY: 1000, Angle: 32768, SpawnTick: 100},     // now at 1200: out
			{ID: 6, OriginX: 1000, OriginY: 1300, Angle: 3 * 16384, SpawnTick: 100}, // now at y 1100: in
		}}
	var vis game.Snapshot
	VisibleSet(&vis, full, 1, 150, arenatest.Params(100))
	if got, want := projectileIDs(&vis), []game.EntityID{2, 4, 6}; !slices.Equal(got, want) {
		t.Fatalf("visible projectiles %v, want %v", got, want)
	}
}

// TestVisibleSetMatchesBruteForce checks the distance shortcuts against
// the exact position of every projectile.
func TestVisibleSetMatchesBruteForce(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	world := arenatest.NewWorld(8, 300)
	p := world.Params
	p.TickRate, p.ProjectileSpeed = 60, 450
	var vis game.Snapshot
	for range 100 {
		world.Step()
		full := world.Snapshot()
		viewer := full.Players[rng.IntN(len(full.Players))]
		radius := 50 + rng.Float64()*600
		VisibleSet(&vis, full, viewer.ID, radius, p)
		var want []game.EntityID
		for _, pr := range full.Projectiles {
			x, y := pr.PositionAt(p, full.Tick)
			if math.Hypot(x-viewer.X, y-viewer.Y) <= radius {
				want = append(want, pr.ID)
			}
		}
		if got := projectileIDs(&vis); !slices.Equal(got, want) {
			t.Fatalf("tick %d radius %v: visible %v, want %v", full.Tick, radius, got, want)
		}
	}
}

func TestVisibleSetAllocatesNothingOnceWarm(t *testing.T) {
	world := arenatest.NewWorld(6, 400)
	full := world.Steps(40)
	var vis game.Snapshot
	VisibleSet(&vis, full, full.Players[0].ID, 1e9, world.Params)
	allocs := testing.AllocsPerRun(50, func() {
		VisibleSet(&vis, full, full.Players[1].ID, 400, world.Params)
	})
	if allocs != 0 {
		t.Fatalf("%v allocations per call", allocs)
	}
}

func BenchmarkVisibleSet(b *testing.B) {
	world := arenatest.NewWorld(1, 1000)
	full := world.Steps(60)
	var vis game.Snapshot
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		VisibleSet(&vis, full, full.Players[i%len(full.Players)].ID, 400, world.Params)
		i++
	}
}
