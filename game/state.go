package game

import "math"

// EntityID names a player or a projectile. IDs are never reused within a
// World's lifetime; 0 is never a valid ID.
type EntityID uint32

// Quantization grids. The World keeps its state on these grids after every
// step, so a snapshot is the exact state and the client's prediction, run
// with the same code from the same numbers, reproduces the server bit for
// bit.
const (
	// PositionScale is the number of position steps per world unit
	// (positions are multiples of 1/16 unit).
	PositionScale = 16
	// AngleSteps is the number of aim angle steps in a full turn.
	AngleSteps = 65536
	// MoveSteps is the largest quantized move component (127 means 1.0).
	MoveSteps = 127
)

// QuantizePosition rounds a coordinate to the position grid.
func QuantizePosition(v float64) float64 {
	return math.Round(v*PositionScale) / PositionScale
}

// AngleToUnits converts an angle in radians to quantized units in
// [0, AngleSteps).
func AngleToUnits(rad float64) uint16 {
	turns := rad / (2 * math.Pi)
	turns -= math.Floor(turns)
	return uint16(int(math.Round(turns*AngleSteps)) % AngleSteps)
}

// UnitsToAngle converts quantized angle units to radians in [0, 2π).
func UnitsToAngle(u uint16) float64 {
	return float64(u) * (2 * math.Pi / AngleSteps)
}

// Input is one tick of a player's intent, already quantized as on the wire.
type Input struct {
	// Tick is the server tick the input is meant for.
	Tick uint32
	// MoveX and MoveY are in [-MoveSteps, MoveSteps]; the length of the
	// vector is clamped to 1 when applied.
	MoveX, MoveY int8
	// Aim is the aim angle in 1/AngleSteps of a turn.
	Aim uint16
	// Fire is true while the fire button is held.
	Fire bool
	// ViewLag is how far behind Tick the remote entities the client drew
	// were when it produced this input, in 1/ViewLagScale of a tick: what
	// lag compensation rewinds a shot's targets by (see MaxRewindTicks16).
	// 0, what clients that do not send it give, means no rewind. The
	// client sends it with the inputs that fire only.
	ViewLag uint16
}

// QuantizeInput builds an Input from continuous values the way a client
// must before sending and predicting it.
func QuantizeInput(tick uint32, moveX, moveY, aimRad float64, fire bool) Input {
	return Input{
		Tick:  tick,
		MoveX: quantizeMove(moveX),
		MoveY: quantizeMove(moveY),
		Aim:   AngleToUnits(aimRad),
		Fire:  fire,
	}
}

func quantizeMove(v float64) int8 {
	if math.IsNaN(v) {
		return 0
	}
	v = math.Max(-1, math.Min(1, v))
	return int8(math.Round(v * MoveSteps))
}

// Player is one player's state as the world and every snapshot hold it.
type Player struct {
	ID EntityID
	// X and Y are on the position grid, inside [Radius, Size-Radius].
	X, Y float64
	// Aim is the aim angle of the last applied input.
	Aim uint16
	// MoveX and MoveY are the move vector of the last applied input (zero
	// when the last tick applied none). The snapshot codec predicts
	// positions from them.
	MoveX, MoveY int8
	// Health is in [0, MaxHealth]; 0 while dead.
	Health int32
	Score  int32
	// Alive is false between death and respawn.
	Alive bool
	// CooldownQuarterTicks is what is left of the player's fire cooldown,
	// in quarters of a tick: it may fire while less than a tick (4) is
	// left, and the remainder carries into the next cooldown, so that shots
	// come exactly FireCooldownQuarterTicks/4 ticks apart on average (0.25
	// s is 7.5 ticks at 30 Hz: shots alternate 7 and 8 ticks apart).
	CooldownQuarterTicks int32
	// RespawnTick is the tick at which a dead player respawns.
	RespawnTick uint32
	// LastInputTick is the tick of the newest input applied to this player.
	LastInputTick uint32
}

// Projectile is a shot in flight. It moves in a straight line from its
// origin, so its position at any tick follows from these fields alone:
// clients simulate projectiles from the spawn data (see PositionAt).
type Projectile struct {
	ID    EntityID
	Owner EntityID
	// OriginX and OriginY are on the position grid.
	OriginX, OriginY float64
	// Angle is the direction of flight in 1/AngleSteps of a turn.
	Angle uint16
	// SpawnTick is the tick at which the projectile was created (its
	// position at SpawnTick is the origin).
	SpawnTick uint32
}

// Snapshot is the world's state at one tick: what the room keeps in its
// history and what the snapshot codec encodes. Slices are sorted by ID and
// reused between ticks (CopyFrom), so keeping history allocates nothing in
// steady state.
type Snapshot struct {
	Tick        uint32
	Players     []Player
	Projectiles []Projectile
}

// FindPlayer returns the index of player id in players, which are sorted
// by ID as a World's and every Snapshot's are; false when it is absent.
func FindPlayer(players []Player, id EntityID) (int, bool) {
	lo, hi := 0, len(players)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if players[m].ID < id {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return lo, lo < len(players) && players[lo].ID == id
}

// CopyFrom makes s a copy of o, reusing s's slices.
func (s *Snapshot) CopyFrom(o *Snapshot) {
	s.Tick = o.Tick
	s.Players = append(s.Players[:0], o.Players...)
	s.Projectiles = append(s.Projectiles[:0], o.Projectiles...)
}
