package snapshot

import (
	"math"
	"slices"

	"github.com/tickwire/tickwire/game"
)

// aoiMaxSide bounds the cells per axis of an AOIIndex, so that an index
// never holds more than aoiMaxSide² cells (16 KB per bucket array).
const aoiMaxSide = 64

// AOIIndex is a spatial grid over one snapshot, built once per tick and
// shared by every client of the room, so that finding what a client sees
// costs what it sees rather than a scan of the whole world.
//
// Its VisibleSet returns exactly what the package's VisibleSet returns
// for the same snapshot, radius and parameters (same entities, same
// order): the grid only narrows the candidates, and each candidate then
// passes the very same test. The zero value is empty; Build fills it,
// reusing its arrays, so rebuilding every tick allocates nothing once the
// arrays have grown to the world's size.
type AOIIndex struct {
	snap   *game.Snapshot
	tick   uint32
	radius float64
	params game.Params

	width float64 // side of a cell
	side  int     // cells per axis

	// Entities of cell c are items[start[c]:start[c+1]], indexes into the
	// snapshot's slices, ascending within a cell (counting sort).
	playerStart, playerItems []int32
	shotStart, shotItems     []int32
	shotX, shotY             []float64 // each projectile's PositionAt(tick)
	cellOf                   []int32   // scratch of Build
	accepted                 []int32   // scratch of VisibleSet
}

// Build indexes s for views of the given radius under params. s must stay
// unchanged while the index is used. A radius ≤ 0 (or NaN) makes an index
// whose VisibleSet is the whole world.
func (ix *AOIIndex) Build(s *game.Snapshot, radius float64, params game.Params) {
	ix.snap, ix.tick, ix.radius, ix.params = s, s.Tick, radius, params
	if !(radius > 0) {
		return
	}
	ix.width = max(radius/2, params.Size/aoiMaxSide, 1)
	ix.side = max(1, min(aoiMaxSide, int(math.Ceil(params.Size/ix.width))))
	cells := ix.side * ix.side
	ix.playerStart, ix.playerItems = ix.bucket(ix.playerStart, ix.playerItems, cells, len(s.Players),
		func(i int) (float64, float64) { return s.Players[i].X, s.Players[i].Y })
	n := len(s.Projectiles)
	ix.shotX = slices.Grow(ix.shotX[:0], n)[:n]
	ix.shotY = slices.Grow(ix.shotY[:0], n)[:n]
	for i := range s.Projectiles {
		ix.shotX[i], ix.shotY[i] = s.Projectiles[i].PositionAt(params, s.Tick)
	}
	ix.shotStart, ix.shotItems = ix.bucket(ix.shotStart, ix.shotItems, cells, n,
		func(i int) (float64, float64) { return ix.shotX[i], ix.shotY[i] })
}

// bucket sorts n entities into cells by the position pos gives, by
// counting sort into start and items (reused): the entities of cell c are
// items[start[c]:start[c+1]], ascending.
func (ix *AOIIndex) bucket(start, items []int32, cells, n int, pos func(int) (float64, float64)) ([]int32, []int32) {
	start = slices.Grow(start[:0], cells+1)[:cells+1]
	clear(start)
	ix.cellOf = slices.Grow(ix.cellOf[:0], n)[:n]
	for i := range n {
		x, y := pos(i)
		c := int32(ix.axis(y)*ix.side + ix.axis(x))
		ix.cellOf[i] = c
		start[c+1]++
	}
	for c := 1; c <= cells; c++ {
		start[c] += start[c-1]
	}
	items = slices.Grow(items[:0], n)[:n]
	for i, c := range ix.cellOf { // start[c] is the cursor of cell c
		items[start[c]] = int32(i)
		start[c]++
	}
	// Each cursor ended at the next cell's beginning: shift them back.
	copy(start[1:], start[:cells])
	start[0] = 0
	return start, items
}

// axis is the cell coordinate of v, clamped to the grid (NaN to 0), for
// any v and width, infinities included.
func (ix *AOIIndex) axis(v float64) int {
	c := v / ix.width
	switch {
	case !(c >= 0):
		return 0
	case c >= float64(ix.side):
		return ix.side - 1
	}
	return int(c)
}

// Snapshot is the snapshot the index was built over.
func (ix *AOIIndex) Snapshot() *game.Snapshot { return ix.snap }

// BuiltFor reports whether the index was last built over s (the same
// snapshot, still at its tick) with this radius and these rules, so a
// caller that keeps indexes in a ring can reuse it instead of building
// it again.
func (ix *AOIIndex) BuiltFor(s *game.Snapshot, radius float64, params game.Params) bool {
	return ix.snap == s && ix.tick == s.Tick && ix.radius == radius && ix.params == params
}

// VisibleSet makes dst what viewer sees of the indexed snapshot; it
// equals VisibleSet(dst, snapshot, viewer, radius, params).
func (ix *AOIIndex) VisibleSet(dst *game.Snapshot, viewer game.EntityID) {
	s := ix.snap
	if !(ix.radius > 0) {
		VisibleSet(dst, s, viewer, ix.radius, ix.params)
		return
	}
	dst.Tick = s.Tick
	dst.Players = dst.Players[:0]
	dst.Projectiles = dst.Projectiles[:0]
	vi, ok := game.FindPlayer(s.Players, viewer)
	if !ok {
		return
	}
	vx, vy := s.Players[vi].X, s.Players[vi].Y
	// The cells searched cover the radius plus a margin far above any
	// rounding of the exact test, so every entity it accepts is among the
	// candidates.
	reach := ix.radius + 1 + ix.radius*1e-9
	x0, x1 := ix.axis(vx-reach), ix.axis(vx+reach)
	y0, y1 := ix.axis(vy-reach), ix.axis(vy+reach)

	// Test the entities of those cells with VisibleSet's own tests, then
	// put the few that pass back in ID (index) order.
	r2 := ix.radius * ix.radius
	acc := append(ix.accepted[:0], int32(vi))
	for cy := y0; cy <= y1; cy++ {
		row := cy * ix.side
		for _, i := range ix.playerItems[ix.playerStart[row+x0]:ix.playerStart[row+x1+1]] {
			if pl := &s.Players[i]; int(i) != vi && dist2(pl.X-vx, pl.Y-vy) <= r2 {
				acc = append(acc, i)
			}
		}
	}
	slices.Sort(acc)
	for _, i := range acc {
		dst.Players = append(dst.Players, s.Players[i])
	}
	perTick := ix.params.ProjectileStep()
	acc = acc[:0]
	for cy := y0; cy <= y1; cy++ {
		row := cy * ix.side
		for _, i := range ix.shotItems[ix.shotStart[row+x0]:ix.shotStart[row+x1+1]] {
			// projectileVisible, with the position computed at Build.
			v, ok := projectileShortcut(&s.Projectiles[i], s.Tick, perTick, vx, vy, ix.radius)
			if !ok {
				v = dist2(ix.shotX[i]-vx, ix.shotY[i]-vy) <= r2
			}
			if v {
				acc = append(acc, i)
			}
		}
	}
	slices.Sort(acc)
	for _, i := range acc {
		dst.Projectiles = append(dst.Projectiles, s.Projectiles[i])
	}
	ix.accepted = acc
}
