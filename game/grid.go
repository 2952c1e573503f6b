package game

import "math"

// Cells of the spatial grid are gridCell units wide: more than the hit
// radius and a projectile's flight per tick, so a swept hit test looks at
// a handful of cells. Huge, sparse arenas get wider cells, so that the
// grid never has more than gridMaxSide² cells (8 MB of buckets).
const (
	gridCell    = 64
	gridMaxSide = 1024
)

// grid buckets the living players by cell, rebuilt every tick by a
// counting sort into arrays sized once, so it allocates nothing. Within a
// cell players are in index (hence ID) order, which keeps hit tests
// deterministic.
type grid struct {
	width  float64 // side of a cell
	side   int     // cells per axis
	start  []int32 // players of cell c are items[start[c]:start[c+1]]
	cursor []int32 // fill position per cell while building
	items  []int32 // player indexes
	cellOf []int32 // cell of each player, -1 if not in the grid
}

func newGrid(size float64, maxPlayers int) grid {
	width := max(gridCell, size/gridMaxSide)
	side := max(1, int(math.Ceil(size/width)))
	return grid{
		width:  width,
		side:   side,
		start:  make([]int32, side*side+1),
		cursor: make([]int32, side*side),
		items:  make([]int32, 0, maxPlayers),
		cellOf: make([]int32, 0, maxPlayers),
	}
}

// build buckets the living players.
func (g *grid) build(players []Player) {
	clear(g.start)
	g.cellOf = g.cellOf[:0]
	for i := range players {
		c := int32(-1)
		if pl := &players[i]; pl.Alive {
			c = int32(g.cell(pl.X, pl.Y))
			g.start[c+1]++
		}
		g.cellOf = append(g.cellOf, c)
	}
	for c := 1; c < len(g.start); c++ {
		g.start[c] += g.start[c-1]
	}
	copy(g.cursor, g.start)
	g.items = g.items[:g.start[len(g.start)-1]]
	for i, c := range g.cellOf {
		if c >= 0 {
			g.items[g.cursor[c]] = int32(i)
			g.cursor[c]++
		}
	}
}

// cell is the index of the cell holding (x, y), clamped to the grid.
func (g *grid) cell(x, y float64) int {
	cx, cy := g.axis(x), g.axis(y)
	return cy*g.side + cx
}

// axis is the cell coordinate of v, clamped to the grid (points outside
// the arena belong to the border cells).
func (g *grid) axis(v float64) int {
	if !(v >= 0) { // also NaN
		return 0
	}
	return min(int(v/g.width), g.side-1)
}
