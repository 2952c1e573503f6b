package game

import (
	"errors"
	"fmt"
	"math"
)

// Limits on configuration, so that every position fits the wire (2^20
// units are 2^24 grid steps, exact in a float32) and a hostile or mistyped
// value cannot make the world allocate without bound.
const (
	// MaxArenaSize is the largest arena side in world units.
	MaxArenaSize = 1 << 20
	// MaxPlayersLimit is the largest Config.MaxPlayers.
	MaxPlayersLimit = 1 << 16
	// maxTicks bounds the tick counts of Params (about 18 minutes at
	// 60 Hz), far above any sensible rule.
	maxTicks = 1 << 16
)

// Config configures a World. The zero value is the benchmark arena of
// docs/GAME.md: 30 Hz, 100 players, 2000 units, seed 0.
type Config struct {
	// TickRate is the simulation rate in Hz: 20, 30 or 60. Zero means 30.
	// Validate rejects any other value.
	TickRate int
	// MaxPlayers is the most players the world holds at once. Zero means
	// 100. At most MaxPlayersLimit.
	MaxPlayers int
	// Size is the side of the square arena in world units. Zero means
	// ArenaSize(MaxPlayers). It is rounded to the position grid.
	Size float64
	// Seed seeds the world's random generator (spawn positions).
	Seed uint64
	// NoLagCompensation turns lag compensation off: every shot is judged
	// against where its targets are now, whatever view lag its input
	// claims (for benchmarks comparing the two). The default rewinds
	// shots by up to MaxRewind (see World.Step).
	NoLagCompensation bool
}

// ArenaSize is the arena side for n players (docs/GAME.md): 2000 units up
// to 100 players, then 200·√n so that the density of players stays the
// same.
func ArenaSize(n int) float64 {
	if n <= 100 {
		return 2000
	}
	return 200 * math.Sqrt(float64(n))
}

// Validate reports whether c describes a world NewWorld can build.
func (c Config) Validate() error {
	switch c.TickRate {
	case 0, 20, 30, 60:
	default:
		return fmt.Errorf("game config: tick rate %d Hz not supported (20, 30 or 60)", c.TickRate)
	}
	if c.MaxPlayers < 0 || c.MaxPlayers > MaxPlayersLimit {
		return fmt.Errorf("game config: max players %d out of [0, %d]", c.MaxPlayers, MaxPlayersLimit)
	}
	if err := c.Params().Validate(); err != nil {
		return fmt.Errorf("game config: %w", err)
	}
	return nil
}

func (c Config) tickRate() int {
	if c.TickRate == 0 {
		return 30
	}
	return c.TickRate
}

// Capacity is the most players a world of c admits: MaxPlayers, 100 by
// default.
func (c Config) Capacity() int {
	if c.MaxPlayers == 0 {
		return 100
	}
	return c.MaxPlayers
}

// Params derives the rules of the arena from c, defaults filled in. The
// result is meaningful only for a valid Config (see Validate).
func (c Config) Params() Params {
	rate := c.tickRate()
	size := c.Size
	if size == 0 {
		size = ArenaSize(c.Capacity())
	}
	return Params{
		TickRate:                 rate,
		Size:                     QuantizePosition(size),
		PlayerRadius:             16,
		PlayerSpeed:              200,
		ProjectileSpeed:          600,
		ProjectileRadius:         4,
		ProjectileLifetimeTicks:  uint32(rate), // 1.0 s
		FireCooldownQuarterTicks: uint32(rate), // 0.25 s = rate/4 ticks
		MaxHealth:                100,
		ProjectileDamage:         10,
		RespawnTicks:             uint32(2 * rate), // 2 s
	}
}

// Params are the rules of the arena, in the units the simulation uses:
// distances in world units, speeds in units per second, durations in
// ticks. The server derives them from its Config (Config.Params) and sends
// them to clients, which fill a Params from the message and check it with
// Validate, so that no client hard-codes a rule. Params is a plain value:
// per-tick quantities (Dt, PlayerStep, ProjectileStep) are methods, so
// they can never disagree with the fields.
//
// Every float field of a Params built by Config.Params is exactly
// representable as a float32, the precision of the wire, so a client's
// Params equals the server's bit for bit.
type Params struct {
	// TickRate is the simulation rate in Hz.
	TickRate int
	// Size is the side of the square arena; the origin is a corner.
	Size float64
	// PlayerRadius: players stay inside [PlayerRadius, Size-PlayerRadius].
	PlayerRadius float64
	// PlayerSpeed in units per second.
	PlayerSpeed float64
	// ProjectileSpeed in units per second.
	ProjectileSpeed float64
	// ProjectileRadius adds to PlayerRadius for hits.
	ProjectileRadius float64
	// ProjectileLifetimeTicks is how many ticks a projectile flies.
	ProjectileLifetimeTicks uint32
	// FireCooldownQuarterTicks is the time between two shots in quarters
	// of a tick (see Player.CooldownQuarterTicks): whole ticks could not
	// say 0.25 s at 30 Hz.
	FireCooldownQuarterTicks uint32
	// MaxHealth is a player's health at spawn.
	MaxHealth int32
	// ProjectileDamage is the health one hit takes.
	ProjectileDamage int32
	// RespawnTicks is the time from death to respawn.
	RespawnTicks uint32
}

// Validate reports whether p is safe to simulate with: finite, positive
// where it must be, and within the bounds of the wire. Clients call it on
// the Params they rebuild from the server's message, which they must treat
// as hostile.
func (p Params) Validate() error {
	if err := p.validateGeometry(); err != nil {
		return err
	}
	return p.validateCounts()
}

func (p Params) validateGeometry() error {
	switch {
	case !(p.Size > 0 && p.Size <= MaxArenaSize):
		return fmt.Errorf("arena size %v out of (0, %d]", p.Size, MaxArenaSize)
	case !(p.PlayerRadius >= 0 && 2*p.PlayerRadius < p.Size):
		return fmt.Errorf("player radius %v out of [0, size/2)", p.PlayerRadius)
	case !(p.ProjectileRadius >= 0 && p.ProjectileRadius <= p.Size):
		return fmt.Errorf("projectile radius %v out of [0, size]", p.ProjectileRadius)
	case !(p.PlayerSpeed >= 0 && p.PlayerSpeed <= MaxArenaSize):
		return fmt.Errorf("player speed %v out of [0, %d]", p.PlayerSpeed, MaxArenaSize)
	case !(p.ProjectileSpeed >= 0 && p.ProjectileSpeed <= MaxArenaSize):
		return fmt.Errorf("projectile speed %v out of [0, %d]", p.ProjectileSpeed, MaxArenaSize)
	}
	return nil
}

func (p Params) validateCounts() error {
	switch {
	case p.TickRate < 1 || p.TickRate > 1000:
		return fmt.Errorf("tick rate %d out of [1, 1000]", p.TickRate)
	case p.ProjectileLifetimeTicks < 1 || p.ProjectileLifetimeTicks > maxTicks:
		return fmt.Errorf("projectile lifetime %d ticks out of [1, %d]", p.ProjectileLifetimeTicks, maxTicks)
	case p.FireCooldownQuarterTicks > 4*maxTicks:
		return fmt.Errorf("fire cooldown %d quarter ticks out of [0, %d]", p.FireCooldownQuarterTicks, 4*maxTicks)
	case p.RespawnTicks < 1 || p.RespawnTicks > maxTicks:
		return fmt.Errorf("respawn %d ticks out of [1, %d]", p.RespawnTicks, maxTicks)
	case p.MaxHealth < 1 || p.MaxHealth > 1<<16:
		return fmt.Errorf("max health %d out of [1, 65536]", p.MaxHealth)
	case p.ProjectileDamage < 0 || p.ProjectileDamage > p.MaxHealth:
		return fmt.Errorf("projectile damage %d out of [0, max health]", p.ProjectileDamage)
	}
	return nil
}

// errInvalidConfig marks a World built from bad Params; NewWorld panics
// with it (wrapped) because a caller that skipped Validate has a bug.
var errInvalidConfig = errors.New("game: invalid config")

// Dt is the duration of one tick in seconds.
func (p Params) Dt() float64 { return 1 / float64(p.TickRate) }

// PlayerStep is the distance a player covers in one tick at full speed
// (PlayerSpeed·Dt, computed as one division so that it is exact whenever
// it can be).
func (p Params) PlayerStep() float64 { return p.PlayerSpeed / float64(p.TickRate) }

// ProjectileStep is the distance a projectile covers in one tick.
func (p Params) ProjectileStep() float64 { return p.ProjectileSpeed / float64(p.TickRate) }

// HitRadius is the distance between a player's centre and a projectile's
// centre at which the projectile hits.
func (p Params) HitRadius() float64 { return p.PlayerRadius + p.ProjectileRadius }

// gridBounds is the range of player positions in position-grid steps.
func (p Params) gridBounds() (lo, hi int64) {
	return int64(math.Ceil(float64(p.PlayerRadius * PositionScale))),
		int64(math.Floor(float64((p.Size - p.PlayerRadius) * PositionScale)))
}
