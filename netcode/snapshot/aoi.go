package snapshot

import (
	"math"

	"github.com/tickwire/tickwire/game"
)

// VisibleSet makes dst the part of full that viewer sees: the viewer's own
// player always, the other players within radius of the viewer's
// position, and the projectiles whose position at full.Tick
// (Projectile.PositionAt with params) is within radius. A radius ≤ 0 (or
// NaN) means the whole world; a viewer absent from full sees nothing.
// Order is kept, so a sorted full gives a sorted dst. dst's slices are
// reused: no allocation once they have grown.
//
// The filter is a pure function of its arguments with no hysteresis, so
// the server can recompute what a client saw at any tick of its history;
// an entity moving across the edge is created and removed again by the
// delta, which the codec keeps cheap. Only the server runs it.
func VisibleSet(dst, full *game.Snapshot, viewer game.EntityID, radius float64, params game.Params) {
	dst.Tick = full.Tick
	if !(radius > 0) {
		dst.CopyFrom(full)
		return
	}
	dst.Players = dst.Players[:0]
	dst.Projectiles = dst.Projectiles[:0]
	vi, ok := game.FindPlayer(full.Players, viewer)
	if !ok {
		return
	}
	vx, vy := full.Players[vi].X, full.Players[vi].Y
	r2 := radius * radius
	for i := range full.Players {
		pl := &full.Players[i]
		if pl.ID == viewer || dist2(pl.X-vx, pl.Y-vy) <= r2 {
			dst.Players = append(dst.Players, *pl)
		}
	}
	perTick := params.ProjectileStep()
	for i := range full.Projectiles {
		pr := &full.Projectiles[i]
		if projectileVisible(pr, full.Tick, &params, perTick, vx, vy, radius) {
			dst.Projectiles = append(dst.Projectiles, *pr)
		}
	}
}

func dist2(dx, dy float64) float64 { return dx*dx + dy*dy }

// projectileVisible reports whether pr is within radius of (vx, vy) at
// tick. Most projectiles are decided from the distance to their origin
// alone (it can change by at most the distance flown), which spares the
// trigonometry of the exact position.
func projectileVisible(pr *game.Projectile, tick uint32, params *game.Params, perTick, vx, vy, radius float64) bool {
	if v, ok := projectileShortcut(pr, tick, perTick, vx, vy, radius); ok {
		return v
	}
	x, y := pr.PositionAt(*params, tick)
	return dist2(x-vx, y-vy) <= radius*radius
}

// projectileShortcut decides projectileVisible from the origin alone when
// it can (ok); otherwise the exact position at tick decides.
func projectileShortcut(pr *game.Projectile, tick uint32, perTick, vx, vy, radius float64) (visible, ok bool) {
	flown := math.Abs(perTick * float64(int64(tick)-int64(pr.SpawnTick)))
	d2 := dist2(pr.OriginX-vx, pr.OriginY-vy)
	if far := radius + flown; d2 > far*far {
		return false, true
	}
	if near := radius - flown; near >= 0 && d2 <= near*near {
		return true, true
	}
	return false, false
}
