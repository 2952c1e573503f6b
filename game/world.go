package game

import (
	"errors"
	"fmt"
	"math"
)

// ErrRoomFull is returned when a player joins a world (or room) that
// already holds MaxPlayers players.
var ErrRoomFull = errors.New("game: room is full")

// PlayerInput is one input for one player, as World.Step takes them.
type PlayerInput struct {
	Player EntityID
	Input  Input
}

// World is the state of one arena and the rules that advance it. It is
// not safe for concurrent use; the Room serialises access to its World.
type World struct {
	params     Params
	maxPlayers int
	tick       uint32
	nextID     EntityID
	rng        rng
	spawnLo    int64 // player positions, in grid steps
	spawnHi    int64
	grid       grid

	// Both sorted by ID: IDs only grow, so appending keeps the order and
	// removals preserve it.
	players     []Player
	projectiles []Projectile

	// Lag compensation (lagcomp.go). rewinds[i] is how far back, in
	// 1/ViewLagScale of a tick, projectiles[i] takes its targets.
	maxRewind  uint32  // in 1/ViewLagScale of a tick; 0: off
	rewindStep float64 // the most a player moves along an axis in a tick
	rewinds    []uint16
	past       rewindRing
	hits       []Hit // of the last Step
}

// NewWorld builds an empty world at tick 0. It panics if cfg is invalid:
// check it with Config.Validate first (NewRoom does).
func NewWorld(cfg Config) *World {
	if err := cfg.Validate(); err != nil {
		panic(fmt.Errorf("%w: %w", errInvalidConfig, err))
	}
	p := cfg.Params()
	maxPlayers := cfg.Capacity()
	lo, hi := p.gridBounds()
	// Each player has at most about lifetime/cooldown shots in flight
	// (plus one for the cooldown's carried remainder); reserving that up
	// front keeps Step from ever growing the slice.
	perPlayer := int(4*p.ProjectileLifetimeTicks/max(p.FireCooldownQuarterTicks, 1)) + 2
	w := &World{
		params:      p,
		maxPlayers:  maxPlayers,
		nextID:      1,
		rng:         newRNG(cfg.Seed),
		spawnLo:     lo,
		spawnHi:     hi,
		grid:        newGrid(p.Size, maxPlayers),
		players:     make([]Player, 0, maxPlayers),
		projectiles: make([]Projectile, 0, maxPlayers*perPlayer),
		rewinds:     make([]uint16, 0, maxPlayers*perPlayer),
		hits:        make([]Hit, 0, maxPlayers),
	}
	if !cfg.NoLagCompensation {
		// A rewound target is looked for near where it is now (see
		// firstHit), which holds only if it cannot have died and
		// respawned elsewhere within the rewind: it stays dead for
		// RespawnTicks, far longer than MaxRewind with the rules of
		// Config.Params, and the bound never reaches it.
		w.maxRewind = min(MaxRewindTicks16(p.TickRate), (p.RespawnTicks-1)*ViewLagScale)
		// The newest tick a rewind reaches back past is the one being
		// simulated; the oldest, maxRewind/ViewLagScale + 1 before it.
		w.past.slots = make([]pastTick, w.maxRewind/ViewLagScale+2)
		stepGrid := p.PlayerSpeed * PositionScale / float64(p.TickRate)
		w.rewindStep = (math.Round(stepGrid) + 1) / PositionScale
	}
	return w
}

// Params are the rules this world runs.
func (w *World) Params() Params { return w.params }

// Tick is the last simulated tick: 0 for a new world, 1 after the first
// Step.
func (w *World) Tick() uint32 { return w.tick }

// NumPlayers is the number of players in the world, dead or alive.
func (w *World) NumPlayers() int { return len(w.players) }

// AddPlayer spawns a new player, alive with full health, at a random
// position on the grid. It fails with ErrRoomFull when the world holds
// MaxPlayers players.
func (w *World) AddPlayer() (EntityID, error) {
	if len(w.players) >= w.maxPlayers {
		return 0, fmt.Errorf("adding a player to a world of %d: %w", w.maxPlayers, ErrRoomFull)
	}
	pl := Player{ID: w.newID()}
	w.spawn(&pl)
	w.players = append(w.players, pl)
	return pl.ID, nil
}

// RemovePlayer removes a player; its projectiles fly on, and score for
// nobody. Unknown IDs are ignored.
func (w *World) RemovePlayer(id EntityID) {
	if i, ok := w.playerIndex(id); ok {
		w.players = append(w.players[:i], w.players[i+1:]...)
	}
}

// Player returns a copy of a player's state.
func (w *World) Player(id EntityID) (Player, bool) {
	if i, ok := w.playerIndex(id); ok {
		return w.players[i], true
	}
	return Player{}, false
}

// Snapshot copies the current state into dst, reusing its slices. Players
// and projectiles are sorted by ID. A slice too small is replaced by one
// with room for twice the count (at most the world's bound), so that a
// ring of snapshots stops allocating once it has seen the usual counts,
// rather than at every new maximum.
func (w *World) Snapshot(dst *Snapshot) {
	dst.Tick = w.tick
	dst.Players = copyGrow(dst.Players, w.players, cap(w.players))
	dst.Projectiles = copyGrow(dst.Projectiles, w.projectiles, cap(w.projectiles))
}

// copyGrow copies src into dst's array, or into a new one with headroom
// (up to bound elements) when it does not fit.
func copyGrow[T any](dst, src []T, bound int) []T {
	if cap(dst) < len(src) {
		dst = make([]T, 0, max(len(src), min(2*len(src), bound)))
	}
	return append(dst[:0], src...)
}

func (w *World) newID() EntityID {
	id := w.nextID
	w.nextID++
	return id
}

// spawn puts pl at a random grid position, alive, with full health.
func (w *World) spawn(pl *Player) {
	n := uint64(w.spawnHi - w.spawnLo + 1)
	pl.X = fromGrid(w.spawnLo + int64(w.rng.below(n)))
	pl.Y = fromGrid(w.spawnLo + int64(w.rng.below(n)))
	pl.Health = w.params.MaxHealth
	pl.Alive = true
	pl.CooldownQuarterTicks = 0
	pl.RespawnTick = 0
	pl.MoveX, pl.MoveY = 0, 0
}

// playerIndex finds a player by binary search (players are sorted by ID).
func (w *World) playerIndex(id EntityID) (int, bool) { return FindPlayer(w.players, id) }

// playerIndexNear is playerIndex, trying hint and hint+1 first.
func (w *World) playerIndexNear(id EntityID, hint int) (int, bool) {
	for i := hint; i < min(hint+2, len(w.players)); i++ {
		if w.players[i].ID == id {
			return i, true
		}
	}
	return w.playerIndex(id)
}

// Step advances the world by exactly one tick, to Tick()+1, in this order:
//
//  1. Inputs, in the order given. Each entry is one movement step for its
//     player (Params.MovePlayer), so a player listed several times (the
//     room's catch-up of late inputs) moves several times. An entry with
//     Fire set fires if the player is alive and less than a tick of its
//     cooldown is left: a projectile leaves from the player's new position
//     along the input's Aim, and FireCooldownQuarterTicks is added to the
//     cooldown (see Player.CooldownQuarterTicks). Entries for
//     unknown players are ignored; for dead players only LastInputTick
//     advances.
//  2. Players that got no input this tick keep still with MoveX and MoveY
//     zero: a missing input is never invented, so a client's prediction
//     of its own inputs is exact.
//  3. Projectiles advance. Each one's path over the tick (PositionAt t-1
//     to t) is swept against every living player but its owner; the first
//     player along the path takes ProjectileDamage, and the projectile
//     vanishes. A player at 0 health dies: the projectile's owner, if
//     still in the world, scores 1, and the player respawns
//     RespawnTicks later. Projectiles that did not hit vanish once outside
//     [0, Size] or after ProjectileLifetimeTicks ticks of flight.
//     Lag compensation: a projectile whose input claimed a view lag
//     (Input.ViewLag, plus the ticks the input was applied after its
//     Tick, at most MaxRewind) is swept against the players where they
//     were that long before t, interpolated between the ends of the two
//     ticks around that time; a player that was not in the world or was
//     dead then is not hit, and one that is dead now neither. The hit
//     applies to the player as it is now. Hits lists the hits.
//  4. Players whose respawn tick has come respawn at a random position.
//  5. Fire cooldowns count down by one (once per tick, however many inputs
//     a player had).
func (w *World) Step(inputs []PlayerInput) {
	w.tick++
	w.hits = w.hits[:0]
	for i := range w.players {
		w.players[i].MoveX, w.players[i].MoveY = 0, 0
	}
	at := 0
	for i := range inputs {
		at = w.applyInput(&inputs[i], at)
	}
	w.grid.build(w.players)
	w.advanceProjectiles()
	w.respawn()
	for i := range w.players {
		CoolDown(&w.players[i])
	}
	if w.maxRewind > 0 {
		w.past.record(w.tick, w.players, w.maxPlayers)
	}
}

// Hits are the projectile hits of the last Step, in the order they
// happened; the slice is reused by the next Step.
func (w *World) Hits() []Hit { return w.hits }

// applyInput applies one input and returns the index of its player, a
// hint for the next: the room lists inputs by player, in ID order, so the
// next input is usually for the same player or the next one.
func (w *World) applyInput(in *PlayerInput, hint int) int {
	i, ok := w.playerIndexNear(in.Player, hint)
	if !ok {
		return hint
	}
	pl := &w.players[i]
	w.params.MovePlayer(pl, in.Input)
	if w.params.Fire(pl, in.Input) {
		shot := ShotFrom(pl, in.Input.Aim, w.tick)
		shot.ID = w.newID()
		w.projectiles = append(w.projectiles, shot)
		w.rewinds = append(w.rewinds, w.rewindFor(&in.Input))
	}
	return i
}

// advanceProjectiles moves, hit-tests and retires the projectiles,
// compacting the slice in place (order, hence sorting, is kept).
func (w *World) advanceProjectiles() {
	step := w.params.ProjectileStep()
	kept := w.projectiles[:0]
	keptRewinds := w.rewinds[:0]
	for i, pr := range w.projectiles {
		rewind := w.rewinds[i]
		age := int64(w.tick) - int64(pr.SpawnTick)
		if age <= 0 { // fired this tick: it starts moving next tick
			kept = append(kept, pr)
			keptRewinds = append(keptRewinds, rewind)
			continue
		}
		sin, cos := AngleSinCos(pr.Angle)
		ax, ay := pr.positionAfter(sin, cos, step, age-1)
		bx, by := pr.positionAfter(sin, cos, step, age)
		if victim := w.firstHit(ax, ay, bx, by, pr.Owner, uint32(rewind)); victim >= 0 {
			w.damage(victim, &pr, rewind)
			continue
		}
		if age >= int64(w.params.ProjectileLifetimeTicks) || !w.params.Inside(bx, by) {
			continue
		}
		kept = append(kept, pr)
		keptRewinds = append(keptRewinds, rewind)
	}
	clear(w.projectiles[len(kept):])
	w.projectiles = kept
	w.rewinds = keptRewinds
}

// firstHit returns the index of the first living player other than owner
// that the segment from a to b touches, or -1. Ties go to the lower ID.
// With a rewind (in 1/ViewLagScale of a tick), each player is tested where
// it was that long ago (World.rewound), and only if it was alive then as
// well as now. The grid holds the players where they are now, so the
// search reaches as far beyond the segment as a player can have moved
// since.
func (w *World) firstHit(ax, ay, bx, by float64, owner EntityID, rewind uint32) int {
	r := w.params.HitRadius()
	reach := r
	if rewind > 0 {
		reach += float64((rewind+ViewLagScale-1)/ViewLagScale) * w.rewindStep
	}
	g := &w.grid
	lox, hix := min(ax, bx)-reach, max(ax, bx)+reach
	loy, hiy := min(ay, by)-reach, max(ay, by)+reach
	x0, x1 := g.axis(lox), g.axis(hix)
	y0, y1 := g.axis(loy), g.axis(hiy)
	best, bestS := -1, math.Inf(1)
	for cy := y0; cy <= y1; cy++ {
		for cx := x0; cx <= x1; cx++ {
			c := cy*g.side + cx
			for _, i := range g.items[g.start[c]:g.start[c+1]] {
				pl := &w.players[i]
				if !pl.Alive || pl.ID == owner {
					continue
				}
				px, py := pl.X, pl.Y
				if rewind > 0 {
					if px < lox || px > hix || py < loy || py > hiy {
						continue // too far now to have been in reach then
					}
					var then bool
					if px, py, then = w.rewound(pl, int(i), rewind); !then {
						continue
					}
				}
				s, hit := SweepCircle(ax, ay, bx, by, px, py, r)
				if hit && (s < bestS || s == bestS && int(i) < best) {
					best, bestS = int(i), s
				}
			}
		}
	}
	return best
}

// SweepCircle reports whether the segment from a to b comes within r of
// c, and where first, as a fraction s in [0, 1] of the segment. It is
// the hit test of World.Step; clients use it to see hits in their view.
func SweepCircle(ax, ay, bx, by, cx, cy, r float64) (s float64, hit bool) {
	fx, fy := ax-cx, ay-cy
	c := float64(fx*fx) + float64(fy*fy) - float64(r*r)
	if c <= 0 {
		return 0, true // starts inside
	}
	dx, dy := bx-ax, by-ay
	halfB := float64(fx*dx) + float64(fy*dy)
	if halfB >= 0 {
		return 0, false // starts outside, moving away
	}
	a := float64(dx*dx) + float64(dy*dy)
	disc := float64(halfB*halfB) - float64(a*c)
	if disc < 0 {
		return 0, false
	}
	s = (-halfB - math.Sqrt(disc)) / a
	return s, s <= 1
}

// damage applies shot's hit to the player at index i, as it is now, and
// handles its death. rewind is how far back the hit was judged.
func (w *World) damage(i int, shot *Projectile, rewind uint16) {
	pl := &w.players[i]
	shooter := shot.Owner
	pl.Health -= w.params.ProjectileDamage
	w.hits = append(w.hits, Hit{Shooter: shooter, Shot: shot.ID, Target: pl.ID, Rewind: rewind, Killed: pl.Health <= 0})
	if pl.Health > 0 {
		return
	}
	pl.Health = 0
	pl.Alive = false
	pl.MoveX, pl.MoveY = 0, 0
	pl.RespawnTick = w.tick + w.params.RespawnTicks
	if k, ok := w.playerIndex(shooter); ok {
		w.players[k].Score++
	}
}

func (w *World) respawn() {
	for i := range w.players {
		if pl := &w.players[i]; !pl.Alive && pl.RespawnTick <= w.tick {
			w.spawn(pl)
		}
	}
}
