// Package arenatest is a stand-in for the arena's world that the
// netcode's tests drive: bots that behave as the benchmark's do (a
// direction and aim held 1 to 3 s, firing half of the time at the
// cooldown rate), projectiles that fly, hit and expire, deaths, respawns
// and, optionally, players joining and leaving, all from one seed. The
// snapshot codec's tests and the server's fan-out tests share it. It is
// test support: nothing but tests imports it.
package arenatest

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"

	"github.com/tickwire/tickwire/game"
)

// World is a stand-in for game.World that follows the benchmark's rules
// closely enough to exercise the codec: bots holding a direction and aim for 1–3
// s, firing half of the time at the cooldown rate, projectiles that fly,
// hit and expire, deaths and respawns, and (optionally) players joining
// and leaving. It moves players with float arithmetic and rounds to the
// grid each tick, as the world does, not with the codec's prediction.
type World struct {
	rng         *rand.Rand
	Params      game.Params
	size        float64
	Tick        uint32
	nextID      game.EntityID
	Players     []Bot
	Projectiles []game.Projectile
	Churn       float64 // per-tick probability of a join and of a leave
	LostInput   float64 // per-player, per-tick probability of no input
}

// Bot is one player of a World and the input it holds.
type Bot struct {
	game.Player
	holdTicks    int
	moveX, moveY int8 // the direction held; Player.MoveX/Y is the applied one
	fire         bool
}

// Params are the arena's rules for n players, as the server has them.
func Params(n int) game.Params {
	return game.Config{MaxPlayers: max(n, 1)}.Params()
}

// Steps advances the world n ticks and returns its snapshot then.
func (w *World) Steps(n int) *game.Snapshot {
	for range n {
		w.Step()
	}
	return w.Snapshot()
}

// NewWorld is a world of n bots drawn from seed.
func NewWorld(seed uint64, n int) *World {
	w := &World{
		rng:    rand.New(rand.NewPCG(seed, 0x5eed)),
		Params: Params(n),
		Tick:   1,
		nextID: 1,
	}
	w.size = w.Params.Size
	for range n {
		w.join()
	}
	return w
}

func (w *World) randomPosition() float64 {
	r := w.Params.PlayerRadius
	return game.QuantizePosition(r + w.rng.Float64()*(w.size-2*r))
}

func (w *World) join() {
	p := Bot{Player: game.Player{
		ID: w.nextID, X: w.randomPosition(), Y: w.randomPosition(),
		Health: w.Params.MaxHealth, Alive: true, Score: int32(w.rng.IntN(5)) - 1,
	}}
	w.nextID++
	w.Players = append(w.Players, p)
}

func (w *World) leave() {
	if len(w.Players) > 1 {
		i := w.rng.IntN(len(w.Players))
		w.Players = slices.Delete(w.Players, i, i+1)
	}
}

// Step advances the world one tick.
func (w *World) Step() {
	w.Tick++
	if w.rng.Float64() < w.Churn {
		w.join()
	}
	if w.rng.Float64() < w.Churn {
		w.leave()
	}
	for i := range w.Players {
		w.stepPlayer(&w.Players[i])
	}
	w.stepProjectiles()
}

func (w *World) stepPlayer(p *Bot) {
	if !p.Alive {
		if w.Tick >= p.RespawnTick {
			p.X, p.Y = w.randomPosition(), w.randomPosition()
			p.Health, p.Alive, p.holdTicks = w.Params.MaxHealth, true, 0
		}
		p.MoveX, p.MoveY = 0, 0
		return
	}
	p.holdTicks--
	if p.holdTicks <= 0 {
		dir := w.rng.Float64() * 2 * math.Pi
		in := game.QuantizeInput(w.Tick, math.Cos(dir), math.Sin(dir), w.rng.Float64()*2*math.Pi, false)
		p.moveX, p.moveY, p.Aim = in.MoveX, in.MoveY, in.Aim
		rate := w.Params.TickRate
		p.holdTicks = rate + w.rng.IntN(2*rate+1)
		p.fire = w.rng.IntN(2) == 0
	}
	if w.rng.Float64() < w.LostInput {
		p.MoveX, p.MoveY = 0, 0 // this tick applied no input: keep still
	} else {
		w.Params.MovePlayer(&p.Player, game.Input{Tick: w.Tick, MoveX: p.moveX, MoveY: p.moveY, Aim: p.Aim})
	}
	p.CooldownQuarterTicks = max(0, p.CooldownQuarterTicks-4)
	if p.fire && p.CooldownQuarterTicks < 4 {
		p.CooldownQuarterTicks += int32(w.Params.FireCooldownQuarterTicks)
		w.Projectiles = append(w.Projectiles, game.Projectile{
			ID: w.nextID, Owner: p.ID, OriginX: p.X, OriginY: p.Y, Angle: p.Aim, SpawnTick: w.Tick,
		})
		w.nextID++
	}
}

func (w *World) stepProjectiles() {
	keep := w.Projectiles[:0]
	for _, pr := range w.Projectiles {
		x, y := pr.PositionAt(w.Params, w.Tick)
		if w.Tick-pr.SpawnTick > w.Params.ProjectileLifetimeTicks || x < 0 || y < 0 || x > w.size || y > w.size || w.hit(&pr, x, y) {
			continue
		}
		keep = append(keep, pr)
	}
	w.Projectiles = keep
}

// hit applies a projectile to the first live player it touches.
func (w *World) hit(pr *game.Projectile, x, y float64) bool {
	for i := range w.Players {
		p := &w.Players[i]
		r := w.Params.HitRadius()
		if !p.Alive || p.ID == pr.Owner || (p.X-x)*(p.X-x)+(p.Y-y)*(p.Y-y) > r*r {
			continue
		}
		p.Health -= w.Params.ProjectileDamage
		if p.Health <= 0 {
			p.Health, p.Alive, p.RespawnTick = 0, false, w.Tick+w.Params.RespawnTicks
			w.credit(pr.Owner)
		}
		return true
	}
	return false
}

func (w *World) credit(id game.EntityID) {
	for i := range w.Players {
		if w.Players[i].ID == id {
			w.Players[i].Score++
		}
	}
}

// Snapshot copies the world's state, as the room's history holds it.
func (w *World) Snapshot() *game.Snapshot {
	s := &game.Snapshot{Tick: w.Tick, Projectiles: slices.Clone(w.Projectiles)}
	for _, p := range w.Players {
		s.Players = append(s.Players, p.Player)
	}
	return s
}

// Diff describes the first difference between two snapshots, or
// returns "" when they are equal field for field.
func Diff(got, want *game.Snapshot) string {
	if got.Tick != want.Tick {
		return fmt.Sprintf("tick %d, want %d", got.Tick, want.Tick)
	}
	if len(got.Players) != len(want.Players) {
		return fmt.Sprintf("%d players, want %d", len(got.Players), len(want.Players))
	}
	for i := range got.Players {
		if got.Players[i] != want.Players[i] {
			return fmt.Sprintf("player %d:\n got %+v\nwant %+v", i, got.Players[i], want.Players[i])
		}
	}
	if len(got.Projectiles) != len(want.Projectiles) {
		return fmt.Sprintf("%d projectiles, want %d", len(got.Projectiles), len(want.Projectiles))
	}
	for i := range got.Projectiles {
		if got.Projectiles[i] != want.Projectiles[i] {
			return fmt.Sprintf("projectile %d:\n got %+v\nwant %+v", i, got.Projectiles[i], want.Projectiles[i])
		}
	}
	return ""
}
