package snapshot

import (
	"errors"
	"fmt"
	"math"
	"math/bits"

	"github.com/tickwire/tickwire/game"
	"github.com/tickwire/tickwire/netcode/wire"
)

// The snapshot codec turns a game.Snapshot into the payload of a
// pb.Snapshot envelope and back: quantized, filtered by interest, delta
// coded against a baseline the client holds, bit packed. The format is
// described field by field in docs/PROTOCOL.md.
//
// Both sides are stateless between calls (they keep only scratch
// buffers): the server passes the world snapshot of the baseline tick
// from its history and the client passes its own reconstruction of that
// tick, and the two are equal by construction, since the reconstruction
// is exactly QuantizeForClient(VisibleSet(history snapshot)).

// Hard caps on the entities of one decoded snapshot. The decoder rejects
// payloads that exceed them, which bounds its memory whatever it is sent;
// the encoder refuses snapshots that exceed them (use an AOI radius).
const (
	MaxSnapshotPlayers     = 4096
	MaxSnapshotProjectiles = 8192
)

// Orders of the Exp-Golomb codes (bits.go) of the small fields, from the
// values measured on the benchmark workload of docs/GAME.md. The order of
// a position residual follows the step length instead
// (geometry.residualK).
const (
	aimDeltaK = 3 // aim change, when smaller than a raw angle
	originK   = 0 // projectile origin residual: almost always exactly 0
)

// Player change mask bits: which field groups of a kept player differ from
// what the decoder predicts from the baseline.
const (
	changedPos = 1 << iota
	changedMove
	changedAim
	changedVitals // Health and Alive
	changedScore
	changedBits = 5
)

// paramsOrDefault is p, or the default arena (game.Config{}.Params()) when
// p is the zero value, so that the zero encoder and decoder work.
func paramsOrDefault(p *game.Params) game.Params {
	if *p == (game.Params{}) {
		return game.Config{}.Params()
	}
	return *p
}

// geometry is what the codec derives from the arena's Params, in grid
// units.
type geometry struct {
	params     game.Params
	maxGrid    int64 // largest position on the wire
	posBits    uint  // width of an absolute position
	residualK  uint  // Exp-Golomb order of position residuals
	healthBits uint
	lo, hi     int64   // player positions, as the game bounds them
	stepGrid   float64 // grid steps per tick at full speed
}

func newGeometry(p *game.Params) (geometry, error) {
	params := paramsOrDefault(p)
	if err := params.Validate(); err != nil {
		return geometry{}, fmt.Errorf("arena params: %w", err)
	}
	g := geometry{
		params:  params,
		maxGrid: int64(math.Floor(params.Size * game.PositionScale)),
		lo:      int64(math.Ceil(float64(params.PlayerRadius * game.PositionScale))),
		hi:      int64(math.Floor(float64((params.Size - params.PlayerRadius) * game.PositionScale))),
		// The same expression as the game's, hence the same bits.
		stepGrid: params.PlayerSpeed * game.PositionScale / float64(params.TickRate),
	}
	g.posBits = uint(bits.Len64(uint64(g.maxGrid)))
	g.healthBits = uint(bits.Len32(uint32(params.MaxHealth)))
	// A prediction misses by whole steps (a turn, a lost input), so
	// residuals are on the scale of one step: code them in its units.
	g.residualK = uint(max(bits.Len64(uint64(g.stepGrid))-1, 0))
	return g, nil
}

// step is the displacement in grid units of one tick of moving along
// (mx, my), which is the game's rule (Params.MovePlayer): the vector's
// length clamped to 1, each component rounded to whole grid steps. It is
// computed here rather than through MovePlayer because it runs for every
// player of every snapshot; TestPredictionIsTheGameRule pins the two
// together for every move vector. Each line is single IEEE operations with
// nothing to fuse, so encoder and decoder agree on every platform.
func (g *geometry) step(mx, my int8) (dx, dy int64) {
	if mx == 0 && my == 0 {
		return 0, 0
	}
	l := max(math.Sqrt(float64(int(mx)*int(mx)+int(my)*int(my))), game.MoveSteps)
	dx = int64(math.Round(g.stepGrid * float64(mx) / l))
	dy = int64(math.Round(g.stepGrid * float64(my) / l))
	return dx, dy
}

// predict is where the decoder expects a player of the baseline to be
// ticks later: moved along its last move vector, stopped by the walls.
// A dead player stays put.
func (g *geometry) predict(b *game.Player, ticks uint32) (x, y int64) {
	x, y = toGrid(b.X), toGrid(b.Y)
	if !b.Alive {
		return x, y
	}
	dx, dy := g.step(b.MoveX, b.MoveY)
	return g.advance(x, dx, ticks), g.advance(y, dy, ticks)
}

// advance moves v by ticks steps of d, stopped by the walls as the game
// stops players, in the direction of motion only, so that a baseline
// found outside the range never jumps backwards.
func (g *geometry) advance(v, d int64, ticks uint32) int64 {
	switch {
	case d > 0:
		return min(v+d*int64(ticks), max(g.hi, v))
	case d < 0:
		return max(v+d*int64(ticks), min(g.lo, v))
	}
	return v
}

// toGrid converts a coordinate to grid steps, rounding as
// game.QuantizePosition does. Positions are almost always on the grid
// already, which the first test finds without the (slow, software)
// math.Round. Callers check the range first; converting an out-of-range
// float is harmless in Go.
func toGrid(v float64) int64 {
	t := v * game.PositionScale
	if i := int64(t); float64(i) == t {
		return i
	}
	return int64(math.Round(t))
}

func fromGrid(v int64) float64 { return float64(v) / game.PositionScale }

// QuantizeForClient makes dst a copy of src as a client reconstructs it:
// positions rounded to the position grid, server-only fields
// (CooldownQuarterTicks, RespawnTick, LastInputTick) zeroed. Decode(Encode(s))
// equals QuantizeForClient(VisibleSet(s)) exactly.
func QuantizeForClient(dst, src *game.Snapshot) {
	dst.CopyFrom(src)
	for i := range dst.Players {
		pl := &dst.Players[i]
		pl.X, pl.Y = game.QuantizePosition(pl.X), game.QuantizePosition(pl.Y)
		pl.CooldownQuarterTicks, pl.RespawnTick, pl.LastInputTick = 0, 0, 0
	}
	for i := range dst.Projectiles {
		pr := &dst.Projectiles[i]
		pr.OriginX, pr.OriginY = game.QuantizePosition(pr.OriginX), game.QuantizePosition(pr.OriginY)
	}
}

// EncodeStats describes the last payload an encoder produced, for the
// caller's size decisions and for metrics.
type EncodeStats struct {
	Bytes          int // payload size
	PlayerBits     int // bits of the players section
	ProjectileBits int // bits of the projectiles section

	Players, PlayersCreated, PlayersChanged, PlayersRemoved int
	Projectiles, ProjectilesCreated, ProjectilesRemoved     int
}

// Encoder encodes snapshots for clients. One encoder per client
// (or per goroutine): it keeps scratch buffers, so Encode allocates
// nothing in steady state. The zero value encodes the default arena with
// full visibility.
type Encoder struct {
	// Params are the rules of the arena (game.Config.Params), which set
	// the width of positions and the prediction. The decoder must use
	// equal Params: a client's come from the welcome message, exact in
	// its float32 fields. The zero value means the default arena
	// (game.Config{}.Params()).
	Params game.Params
	// AOIRadius, when positive, limits every snapshot to what the viewer
	// sees (VisibleSet with this radius), on the current tick and on the
	// baseline alike. Zero sends the whole world.
	AOIRadius float64

	g                 geometry
	w                 bitWriter
	curView, baseView game.Snapshot
	created, removed  []int32
	stats             EncodeStats
}

// Stats describes the payload of the last successful Encode.
func (e *Encoder) Stats() EncodeStats { return e.stats }

// Encode appends to dst the payload that brings a client holding the
// baseline to cur as viewer sees it, and returns the extended slice; its
// length growth is the payload size (also in Stats), which the caller
// compares with the datagram budget. cur and base are the server's full
// world snapshots (base nil for a full snapshot); the interest filter and
// quantization are applied here. On error dst is returned unchanged.
//
// The encoder checks what it is given: base.Tick < cur.Tick, entities
// sorted by strictly increasing nonzero ID, values within the ranges the
// format carries, at most MaxSnapshotPlayers and MaxSnapshotProjectiles
// visible entities.
func (e *Encoder) Encode(dst []byte, cur, base *game.Snapshot, viewer game.EntityID) ([]byte, error) {
	g, err := newGeometry(&e.Params)
	if err != nil {
		return dst, fmt.Errorf("snapshot encoder: %w", err)
	}
	if base != nil && base.Tick >= cur.Tick {
		return dst, fmt.Errorf("snapshot encoder: baseline tick %d not before tick %d", base.Tick, cur.Tick)
	}
	e.g = g
	cur, base = e.view(cur, base, viewer)
	return e.encodeView(dst, cur, base)
}

// EncodeIndexed is Encode of the snapshots two AOIIndexes were built over
// (base nil for a full snapshot), with the interest filter of the indexes
// (their radius) in place of AOIRadius. AOIIndex.VisibleSet equals
// VisibleSet, so the payload is byte for byte what Encode writes with
// AOIRadius set to the indexes' radius.
func (e *Encoder) EncodeIndexed(dst []byte, cur, base *AOIIndex, viewer game.EntityID) ([]byte, error) {
	g, err := newGeometry(&e.Params)
	if err != nil {
		return dst, fmt.Errorf("snapshot encoder: %w", err)
	}
	if base != nil && base.tick >= cur.tick {
		return dst, fmt.Errorf("snapshot encoder: baseline tick %d not before tick %d", base.tick, cur.tick)
	}
	e.g = g
	cur.VisibleSet(&e.curView, viewer)
	if base == nil {
		return e.encodeView(dst, &e.curView, nil)
	}
	base.VisibleSet(&e.baseView, viewer)
	return e.encodeView(dst, &e.curView, &e.baseView)
}

// encodeView is Encode of snapshots already filtered by interest (or of
// the whole world), with e.g set: what the per-tick fan-out calls with the
// views it computes from a shared AOIIndex.
func (e *Encoder) encodeView(dst []byte, cur, base *game.Snapshot) ([]byte, error) {
	if err := e.checkInputs(cur, base); err != nil {
		return dst, err
	}
	e.stats = EncodeStats{}
	e.w.Reset(dst)
	e.writeHeader(cur, base)
	mark := e.w.BitLen()
	e.writePlayers(cur, base)
	e.stats.PlayerBits, mark = e.w.BitLen()-mark, e.w.BitLen()
	e.writeProjectiles(cur, base)
	e.stats.ProjectileBits = e.w.BitLen() - mark
	out := e.w.Bytes()
	e.stats.Bytes = len(out) - len(dst)
	return out, nil
}

// view applies the interest filter, into scratch snapshots.
func (e *Encoder) view(cur, base *game.Snapshot, viewer game.EntityID) (*game.Snapshot, *game.Snapshot) {
	if !(e.AOIRadius > 0) {
		return cur, base
	}
	VisibleSet(&e.curView, cur, viewer, e.AOIRadius, e.g.params)
	if base == nil {
		return &e.curView, nil
	}
	VisibleSet(&e.baseView, base, viewer, e.AOIRadius, e.g.params)
	return &e.curView, &e.baseView
}

func (e *Encoder) checkInputs(cur, base *game.Snapshot) error {
	if err := e.g.checkSnapshot(cur); err != nil {
		return fmt.Errorf("snapshot encoder: tick %d: %w", cur.Tick, err)
	}
	if base == nil {
		return nil
	}
	if err := e.g.checkSnapshot(base); err != nil {
		return fmt.Errorf("snapshot encoder: baseline tick %d: %w", base.Tick, err)
	}
	return nil
}

// checkSnapshot verifies that s is something the format can carry.
func (g *geometry) checkSnapshot(s *game.Snapshot) error {
	if len(s.Players) > MaxSnapshotPlayers || len(s.Projectiles) > MaxSnapshotProjectiles {
		return fmt.Errorf("%d players and %d projectiles exceed the caps (%d, %d)",
			len(s.Players), len(s.Projectiles), MaxSnapshotPlayers, MaxSnapshotProjectiles)
	}
	var prev game.EntityID
	for i := range s.Players {
		pl := &s.Players[i]
		if pl.ID <= prev {
			return fmt.Errorf("player %d after %d: IDs must be nonzero and increasing", pl.ID, prev)
		}
		if err := g.checkPlayer(pl); err != nil {
			return fmt.Errorf("player %d: %w", pl.ID, err)
		}
		prev = pl.ID
	}
	prev = 0
	for i := range s.Projectiles {
		pr := &s.Projectiles[i]
		if pr.ID <= prev {
			return fmt.Errorf("projectile %d after %d: IDs must be nonzero and increasing", pr.ID, prev)
		}
		if err := g.checkProjectile(pr, s.Tick); err != nil {
			return fmt.Errorf("projectile %d: %w", pr.ID, err)
		}
		prev = pr.ID
	}
	return nil
}

func (g *geometry) checkPlayer(pl *game.Player) error {
	switch {
	case !g.onWire(pl.X) || !g.onWire(pl.Y):
		return fmt.Errorf("position (%v, %v) outside the arena", pl.X, pl.Y)
	case pl.MoveX < -game.MoveSteps || pl.MoveY < -game.MoveSteps:
		return fmt.Errorf("move (%d, %d) out of range", pl.MoveX, pl.MoveY)
	case pl.Health < 0 || pl.Health > g.params.MaxHealth:
		return fmt.Errorf("health %d out of [0, %d]", pl.Health, g.params.MaxHealth)
	}
	return nil
}

func (g *geometry) checkProjectile(pr *game.Projectile, tick uint32) error {
	switch {
	case !g.onWire(pr.OriginX) || !g.onWire(pr.OriginY):
		return fmt.Errorf("origin (%v, %v) outside the arena", pr.OriginX, pr.OriginY)
	case pr.SpawnTick > tick:
		return fmt.Errorf("spawn tick %d after snapshot tick %d", pr.SpawnTick, tick)
	}
	return nil
}

// onWire reports whether v rounds to a position the format carries (NaN
// does not). Rounding is half away from zero, so the bounds are open.
func (g *geometry) onWire(v float64) bool {
	t := v * game.PositionScale
	return t > -0.5 && t < float64(g.maxGrid)+0.5
}

// The header: one bit full/delta, then the tick (32 bits) of a full
// snapshot or the tick distance minus one from the baseline. The envelope
// carries both ticks too, but the decoder's prediction needs the distance
// and the check that both agree is cheap.
func (e *Encoder) writeHeader(cur, base *game.Snapshot) {
	e.w.WriteBool(base == nil)
	if base == nil {
		e.w.WriteBits(uint64(cur.Tick), 32)
		return
	}
	e.w.WriteUvarint(cur.Tick-base.Tick-1, 0)
}

// writePlayers codes every baseline player with a prefix code (0 as
// predicted, 10 changed + fields, 11 removed), then the new players.
func (e *Encoder) writePlayers(cur, base *game.Snapshot) {
	var bp []game.Player
	var ticks uint32
	var anchor game.EntityID
	if base != nil {
		bp, ticks = base.Players, cur.Tick-base.Tick
		if len(bp) > 0 {
			anchor = bp[len(bp)-1].ID
		}
	}
	cp := cur.Players
	e.created = e.created[:0]
	i, j := 0, 0
	for i < len(bp) || j < len(cp) {
		switch {
		case j == len(cp) || (i < len(bp) && bp[i].ID < cp[j].ID):
			e.w.WriteBits(0b11, 2)
			e.stats.PlayersRemoved++
			i++
		case i == len(bp) || cp[j].ID < bp[i].ID:
			e.created = append(e.created, int32(j))
			j++
		default:
			e.writePlayerDelta(&bp[i], &cp[j], ticks)
			i, j = i+1, j+1
		}
	}
	e.w.WriteUvarint(uint32(len(e.created)), 0)
	prev := anchor
	for n, j := range e.created {
		e.writeID(cp[j].ID, prev, n == 0)
		e.writePlayerFull(&cp[j])
		prev = cp[j].ID
	}
	e.stats.Players, e.stats.PlayersCreated = len(cp), len(e.created)
}

// writeID codes the IDs of created entities, which ascend: the first as a
// signed distance from the anchor (the baseline's last ID of that kind,
// near which new IDs appear), the others as the gap from the previous
// one, less one.
func (e *Encoder) writeID(id, prev game.EntityID, first bool) {
	if first {
		e.w.WriteSvarint(int32(id-prev), 0)
		return
	}
	e.w.WriteUvarint(uint32(id-prev-1), 0)
}

func (e *Encoder) writePlayerDelta(b, c *game.Player, ticks uint32) {
	px, py := e.g.predict(b, ticks)
	cx, cy := toGrid(c.X), toGrid(c.Y)
	mask := playerChanges(b, c, cx != px || cy != py)
	if mask == 0 {
		e.w.WriteBool(false)
		return
	}
	e.stats.PlayersChanged++
	e.w.WriteBits(0b01, 2)
	e.w.WriteBits(uint64(mask), changedBits)
	if mask&changedPos != 0 {
		e.writePosition(cx, cy, px, py)
	}
	if mask&changedMove != 0 {
		e.writeMove(c)
	}
	if mask&changedAim != 0 {
		e.writeAim(c.Aim, b.Aim)
	}
	if mask&changedVitals != 0 {
		e.writeVitals(c)
	}
	if mask&changedScore != 0 {
		e.w.WriteSvarint(int32(uint32(c.Score)-uint32(b.Score)), 0)
	}
}

func playerChanges(b, c *game.Player, moved bool) uint {
	var mask uint
	if moved {
		mask |= changedPos
	}
	if c.MoveX != b.MoveX || c.MoveY != b.MoveY {
		mask |= changedMove
	}
	if c.Aim != b.Aim {
		mask |= changedAim
	}
	if c.Health != b.Health || c.Alive != b.Alive {
		mask |= changedVitals
	}
	if c.Score != b.Score {
		mask |= changedScore
	}
	return mask
}

// writePosition codes a position that missed its prediction: a mode bit,
// then the residual from the prediction (direction changed since the
// baseline) or the absolute position (respawn), whichever is shorter.
func (e *Encoder) writePosition(x, y, px, py int64) {
	rx, ry := int32(x-px), int32(y-py)
	if svarintLen(rx, e.g.residualK)+svarintLen(ry, e.g.residualK) < 2*int(e.g.posBits) {
		e.w.WriteBool(false)
		e.w.WriteSvarint(rx, e.g.residualK)
		e.w.WriteSvarint(ry, e.g.residualK)
		return
	}
	e.w.WriteBool(true)
	e.writeAbsolute(x, y)
}

func (e *Encoder) writeAbsolute(x, y int64) {
	e.w.WriteBits(uint64(x), e.g.posBits)
	e.w.WriteBits(uint64(y), e.g.posBits)
}

func (e *Encoder) writeMove(p *game.Player) {
	e.w.WriteBits(uint64(uint8(p.MoveX)), 8)
	e.w.WriteBits(uint64(uint8(p.MoveY)), 8)
}

// writeAim codes a changed aim as a mode bit and either the wrapped
// difference (a mouse turning a little) or the raw 16 bits (a bot picking
// a new angle), whichever is shorter.
func (e *Encoder) writeAim(aim, base uint16) {
	d := int32(int16(aim - base))
	if svarintLen(d, aimDeltaK) < 16 {
		e.w.WriteBool(false)
		e.w.WriteSvarint(d, aimDeltaK)
		return
	}
	e.w.WriteBool(true)
	e.w.WriteBits(uint64(aim), 16)
}

func (e *Encoder) writeVitals(p *game.Player) {
	e.w.WriteBits(uint64(p.Health), e.g.healthBits)
	e.w.WriteBool(p.Alive)
}

func (e *Encoder) writePlayerFull(p *game.Player) {
	e.writeAbsolute(toGrid(p.X), toGrid(p.Y))
	e.w.WriteBits(uint64(p.Aim), 16)
	e.writeMove(p)
	e.writeVitals(p)
	e.w.WriteSvarint(p.Score, 0)
}

// writeProjectiles codes the baseline projectiles that are gone (as
// ascending indexes into the baseline's list), then the new ones.
// Projectiles never change, so the ones kept cost nothing; one that did
// change anyway is removed and created again.
func (e *Encoder) writeProjectiles(cur, base *game.Snapshot) {
	var bp []game.Projectile
	var anchor game.EntityID
	if base != nil {
		bp = base.Projectiles
		if len(bp) > 0 {
			anchor = bp[len(bp)-1].ID
		}
	}
	e.diffProjectiles(bp, cur.Projectiles)
	if base != nil {
		e.writeIndexes(e.removed)
	}
	cp := cur.Projectiles
	e.w.WriteUvarint(uint32(len(e.created)), 0)
	prev := anchor
	for n, j := range e.created {
		e.writeID(cp[j].ID, prev, n == 0)
		e.writeProjectile(&cp[j], cur)
		prev = cp[j].ID
	}
	e.stats.Projectiles, e.stats.ProjectilesCreated = len(cp), len(e.created)
	e.stats.ProjectilesRemoved = len(e.removed)
}

// diffProjectiles fills e.removed with indexes into bp and e.created with
// indexes into cp.
func (e *Encoder) diffProjectiles(bp, cp []game.Projectile) {
	e.removed, e.created = e.removed[:0], e.created[:0]
	i, j := 0, 0
	for i < len(bp) || j < len(cp) {
		switch {
		case j == len(cp) || (i < len(bp) && bp[i].ID < cp[j].ID):
			e.removed = append(e.removed, int32(i))
			i++
		case i == len(bp) || cp[j].ID < bp[i].ID:
			e.created = append(e.created, int32(j))
			j++
		default:
			if !sameProjectile(&bp[i], &cp[j]) {
				e.removed = append(e.removed, int32(i))
				e.created = append(e.created, int32(j))
			}
			i, j = i+1, j+1
		}
	}
}

func sameProjectile(a, b *game.Projectile) bool {
	return a.Owner == b.Owner && a.Angle == b.Angle && a.SpawnTick == b.SpawnTick &&
		sameGrid(a.OriginX, b.OriginX) && sameGrid(a.OriginY, b.OriginY)
}

func sameGrid(a, b float64) bool { return a == b || toGrid(a) == toGrid(b) }

// writeIndexes codes ascending indexes: their count, the first, then the
// gaps less one. Projectiles die roughly in ID order (fixed lifetime), so
// removals cluster at the start of the list and the gaps are small.
func (e *Encoder) writeIndexes(idx []int32) {
	e.w.WriteUvarint(uint32(len(idx)), 0)
	prev := int32(-1)
	for _, i := range idx {
		e.w.WriteUvarint(uint32(i-prev-1), 0)
		prev = i
	}
}

// writeProjectile codes a new projectile: its age, its owner, and its
// angle and origin, both predicted from the owner when the owner is in
// the snapshot (a projectile leaves along its owner's aim from where the
// owner stood at the spawn tick).
func (e *Encoder) writeProjectile(pr *game.Projectile, cur *game.Snapshot) {
	e.w.WriteUvarint(cur.Tick-pr.SpawnTick, 0)
	owner, ok := game.FindPlayer(cur.Players, pr.Owner)
	e.w.WriteBool(ok)
	if !ok {
		e.w.WriteUvarint(uint32(pr.Owner), 0)
		e.w.WriteBits(uint64(pr.Angle), 16)
		e.writeAbsolute(toGrid(pr.OriginX), toGrid(pr.OriginY))
		return
	}
	e.w.WriteBits(uint64(owner), indexBits(len(cur.Players)))
	o := &cur.Players[owner]
	e.w.WriteBool(pr.Angle == o.Aim)
	if pr.Angle != o.Aim {
		e.w.WriteBits(uint64(pr.Angle), 16)
	}
	px, py := e.g.spawnPoint(o, cur.Tick-pr.SpawnTick)
	x, y := toGrid(pr.OriginX), toGrid(pr.OriginY)
	rx, ry := int32(x-px), int32(y-py)
	if svarintLen(rx, originK)+svarintLen(ry, originK) < 2*int(e.g.posBits) {
		e.w.WriteBool(false)
		e.w.WriteSvarint(rx, originK)
		e.w.WriteSvarint(ry, originK)
		return
	}
	e.w.WriteBool(true)
	e.writeAbsolute(x, y)
}

// spawnPoint is where a player stood age ticks ago if it kept its move
// vector: the prediction of a new projectile's origin. Unclamped (it is
// only a guess); age is bounded so the product stays far from overflow.
func (g *geometry) spawnPoint(o *game.Player, age uint32) (x, y int64) {
	x, y = toGrid(o.X), toGrid(o.Y)
	if !o.Alive {
		return x, y
	}
	dx, dy := g.step(o.MoveX, o.MoveY)
	a := int64(min(age, 1<<16))
	return x - dx*a, y - dy*a
}

// indexBits is the width of an index into a list of n entries.
func indexBits(n int) uint {
	if n <= 1 {
		return 0
	}
	return uint(bits.Len(uint(n - 1)))
}

// Decoder decodes snapshot payloads on the client. It keeps
// scratch buffers only, bounded by the entity caps; the zero value
// decodes the default arena.
type Decoder struct {
	// Params are the rules of the arena, equal to the encoder's (see
	// Encoder.Params). The zero value means the default arena
	// (game.Config{}.Params()).
	Params game.Params

	g       geometry
	r       bitReader
	kept    []game.Player
	born    []game.Player
	bornPr  []game.Projectile
	removed []int32
}

// errNoBaseline and errUnwantedBaseline report a payload that disagrees
// with the caller about its baseline (a session bug, or a forgery).
var (
	errNoBaseline       = errors.New("delta payload without a baseline")
	errUnwantedBaseline = errors.New("full payload given a baseline")
)

// Decode reconstructs into dst the snapshot a payload describes, given
// base, the caller's own reconstruction of the baseline tick (nil when
// the payload is a full snapshot). dst receives the whole visible,
// quantized snapshot at the new tick; its slices are reused and grow only
// up to the entity caps, so a hostile payload cannot make the decoder
// allocate without bound. dst must not be base nor share its slices'
// storage. dst.Tick is the payload's tick, which the caller should check
// against the envelope's server_tick. On error, dst holds garbage; every
// payload error wraps ErrMalformed.
func (d *Decoder) Decode(dst *game.Snapshot, payload []byte, base *game.Snapshot) error {
	g, err := newGeometry(&d.Params)
	if err != nil {
		return fmt.Errorf("snapshot decoder: %w", err)
	}
	if dst == base {
		return errors.New("snapshot decoder: dst is the baseline")
	}
	if err := checkBaseline(base); err != nil {
		return fmt.Errorf("snapshot decoder: baseline: %w", err)
	}
	d.g = g
	d.r.Reset(payload)
	if err := d.decode(dst, base); err != nil {
		return fmt.Errorf("snapshot payload: %w", err)
	}
	return nil
}

func (d *Decoder) decode(dst, base *game.Snapshot) error {
	if err := d.readHeader(dst, base); err != nil {
		return fmt.Errorf("header: %w", err)
	}
	if err := d.readPlayers(dst, base); err != nil {
		return fmt.Errorf("players: %w", err)
	}
	if err := d.readProjectiles(dst, base); err != nil {
		return fmt.Errorf("projectiles: %w", err)
	}
	return d.readEnd()
}

// checkBaseline guards the decoder's own assumptions about base: sorted
// and within the caps, as every decoded snapshot is.
func checkBaseline(base *game.Snapshot) error {
	if base == nil {
		return nil
	}
	if len(base.Players) > MaxSnapshotPlayers || len(base.Projectiles) > MaxSnapshotProjectiles {
		return errors.New("exceeds the entity caps")
	}
	for i := 1; i < len(base.Players); i++ {
		if base.Players[i].ID <= base.Players[i-1].ID {
			return errors.New("players not sorted by ID")
		}
	}
	for i := 1; i < len(base.Projectiles); i++ {
		if base.Projectiles[i].ID <= base.Projectiles[i-1].ID {
			return errors.New("projectiles not sorted by ID")
		}
	}
	return nil
}

// bad reports a malformed payload: the reader's error if it ran out of
// bits (which explains the nonsense read since), else the given one.
func (d *Decoder) bad(format string, args ...any) error {
	if err := d.r.Err(); err != nil {
		return fmt.Errorf("%w: %w", wire.ErrMalformed, err)
	}
	return wire.Malformedf(format, args...)
}

// readErr wraps the reader's sticky error, if any.
func (d *Decoder) readErr() error {
	if err := d.r.Err(); err != nil {
		return fmt.Errorf("%w: %w", wire.ErrMalformed, err)
	}
	return nil
}

func (d *Decoder) readHeader(dst, base *game.Snapshot) error {
	full := d.r.ReadBool()
	switch {
	case d.r.Err() != nil:
		return d.readErr()
	case full && base != nil:
		return fmt.Errorf("%w: %w", wire.ErrMalformed, errUnwantedBaseline)
	case !full && base == nil:
		return fmt.Errorf("%w: %w", wire.ErrMalformed, errNoBaseline)
	case full:
		dst.Tick = uint32(d.r.ReadBits(32))
		return d.readErr()
	}
	tick := uint64(base.Tick) + uint64(d.r.ReadUvarint(0)) + 1
	if tick > math.MaxUint32 {
		return d.bad("tick %d overflows", tick)
	}
	dst.Tick = uint32(tick)
	return d.readErr()
}

func (d *Decoder) readPlayers(dst, base *game.Snapshot) error {
	d.kept = d.kept[:0]
	var anchor game.EntityID
	if base != nil {
		if err := d.readKeptPlayers(base, dst.Tick-base.Tick); err != nil {
			return err
		}
		if n := len(base.Players); n > 0 {
			anchor = base.Players[n-1].ID
		}
	}
	if err := d.readNewPlayers(anchor); err != nil {
		return err
	}
	return d.mergePlayers(dst)
}

func (d *Decoder) readKeptPlayers(base *game.Snapshot, ticks uint32) error {
	for i := range base.Players {
		b := &base.Players[i]
		if !d.r.ReadBool() {
			p := clientPlayer(b)
			px, py := d.g.predict(b, ticks)
			if err := d.setPosition(&p, px, py); err != nil {
				return fmt.Errorf("player %d: predicted %w", b.ID, err)
			}
			d.kept = append(d.kept, p)
			continue
		}
		if d.r.ReadBool() {
			continue // removed
		}
		p, err := d.readPlayerDelta(b, ticks)
		if err != nil {
			return fmt.Errorf("player %d: %w", b.ID, err)
		}
		d.kept = append(d.kept, p)
	}
	return d.readErr()
}

// clientPlayer is b with only the fields the wire carries.
func clientPlayer(b *game.Player) game.Player {
	return game.Player{
		ID: b.ID, X: b.X, Y: b.Y, Aim: b.Aim, MoveX: b.MoveX, MoveY: b.MoveY,
		Health: b.Health, Score: b.Score, Alive: b.Alive,
	}
}

func (d *Decoder) setPosition(p *game.Player, x, y int64) error {
	if x < 0 || x > d.g.maxGrid || y < 0 || y > d.g.maxGrid {
		return d.bad("position (%d, %d) outside [0, %d] grid steps", x, y, d.g.maxGrid)
	}
	p.X, p.Y = fromGrid(x), fromGrid(y)
	return nil
}

func (d *Decoder) readPlayerDelta(b *game.Player, ticks uint32) (game.Player, error) {
	p := clientPlayer(b)
	mask := uint(d.r.ReadBits(changedBits))
	if mask == 0 {
		return p, d.bad("changed player without a changed field")
	}
	px, py := d.g.predict(b, ticks)
	if mask&changedPos != 0 {
		px, py = d.readPosition(px, py)
	}
	if err := d.setPosition(&p, px, py); err != nil {
		return p, err
	}
	if mask&changedMove != 0 {
		if err := d.readMove(&p); err != nil {
			return p, err
		}
	}
	if mask&changedAim != 0 {
		p.Aim = d.readAim(b.Aim)
	}
	if mask&changedVitals != 0 {
		if err := d.readVitals(&p); err != nil {
			return p, err
		}
	}
	if mask&changedScore != 0 {
		p.Score = int32(uint32(b.Score) + uint32(d.r.ReadSvarint(0)))
	}
	return p, d.readErr()
}

func (d *Decoder) readPosition(px, py int64) (x, y int64) {
	if d.r.ReadBool() {
		return d.readAbsolute()
	}
	rx := d.r.ReadSvarint(d.g.residualK)
	ry := d.r.ReadSvarint(d.g.residualK)
	return px + int64(rx), py + int64(ry)
}

func (d *Decoder) readAbsolute() (x, y int64) {
	x = int64(d.r.ReadBits(d.g.posBits))
	y = int64(d.r.ReadBits(d.g.posBits))
	return x, y
}

func (d *Decoder) readMove(p *game.Player) error {
	p.MoveX = int8(d.r.ReadBits(8))
	p.MoveY = int8(d.r.ReadBits(8))
	if p.MoveX < -game.MoveSteps || p.MoveY < -game.MoveSteps {
		return d.bad("move (%d, %d) out of range", p.MoveX, p.MoveY)
	}
	return nil
}

func (d *Decoder) readAim(base uint16) uint16 {
	if d.r.ReadBool() {
		return uint16(d.r.ReadBits(16))
	}
	return base + uint16(d.r.ReadSvarint(aimDeltaK))
}

func (d *Decoder) readVitals(p *game.Player) error {
	p.Health = int32(d.r.ReadBits(d.g.healthBits))
	p.Alive = d.r.ReadBool()
	if p.Health > d.g.params.MaxHealth {
		return d.bad("health %d above %d", p.Health, d.g.params.MaxHealth)
	}
	return nil
}

func (d *Decoder) readNewPlayers(anchor game.EntityID) error {
	n := d.r.ReadUvarint(0)
	if int64(n)+int64(len(d.kept)) > MaxSnapshotPlayers {
		return d.bad("%d new players after %d kept exceed the cap of %d", n, len(d.kept), MaxSnapshotPlayers)
	}
	d.born = d.born[:0]
	prev := anchor
	for k := uint32(0); k < n; k++ {
		id, err := d.readID(prev, k == 0)
		if err != nil {
			return err
		}
		p := game.Player{ID: id}
		if err := d.readPlayerFull(&p); err != nil {
			return fmt.Errorf("new player %d: %w", id, err)
		}
		d.born = append(d.born, p)
		prev = id
	}
	return d.readErr()
}

func (d *Decoder) readID(prev game.EntityID, first bool) (game.EntityID, error) {
	var id uint64
	if first {
		id = uint64(prev + game.EntityID(d.r.ReadSvarint(0))) // wraps as the encoder's
	} else {
		id = uint64(prev) + uint64(d.r.ReadUvarint(0)) + 1
	}
	if id == 0 || id > math.MaxUint32 {
		return 0, d.bad("entity ID %d out of range", id)
	}
	return game.EntityID(id), d.readErr()
}

func (d *Decoder) readPlayerFull(p *game.Player) error {
	x, y := d.readAbsolute()
	if err := d.setPosition(p, x, y); err != nil {
		return err
	}
	p.Aim = uint16(d.r.ReadBits(16))
	if err := d.readMove(p); err != nil {
		return err
	}
	if err := d.readVitals(p); err != nil {
		return err
	}
	p.Score = d.r.ReadSvarint(0)
	return d.readErr()
}

// mergePlayers fills dst.Players with the kept and the new players, both
// ascending, refusing an ID that is in both.
func (d *Decoder) mergePlayers(dst *game.Snapshot) error {
	dst.Players = dst.Players[:0]
	a, b := d.kept, d.born
	for len(a) > 0 || len(b) > 0 {
		switch {
		case len(b) == 0 || (len(a) > 0 && a[0].ID < b[0].ID):
			dst.Players, a = append(dst.Players, a[0]), a[1:]
		case len(a) == 0 || b[0].ID < a[0].ID:
			dst.Players, b = append(dst.Players, b[0]), b[1:]
		default:
			return wire.Malformedf("new player %d already exists", b[0].ID)
		}
	}
	return nil
}

func (d *Decoder) readProjectiles(dst, base *game.Snapshot) error {
	d.removed = d.removed[:0]
	var bp []game.Projectile
	var anchor game.EntityID
	if base != nil {
		bp = base.Projectiles
		if err := d.readRemovals(len(bp)); err != nil {
			return err
		}
		if len(bp) > 0 {
			anchor = bp[len(bp)-1].ID
		}
	}
	if err := d.readNewProjectiles(dst, anchor, len(bp)-len(d.removed)); err != nil {
		return err
	}
	return d.mergeProjectiles(dst, bp)
}

// readRemovals reads ascending indexes into a baseline list of n entries.
func (d *Decoder) readRemovals(n int) error {
	count := d.r.ReadUvarint(0)
	if int64(count) > int64(n) {
		return d.bad("%d removals from %d projectiles", count, n)
	}
	next := int64(0)
	for k := uint32(0); k < count; k++ {
		i := next + int64(d.r.ReadUvarint(0))
		if i >= int64(n) {
			return d.bad("removal index %d out of %d projectiles", i, n)
		}
		d.removed = append(d.removed, int32(i))
		next = i + 1
	}
	return d.readErr()
}

func (d *Decoder) readNewProjectiles(dst *game.Snapshot, anchor game.EntityID, kept int) error {
	n := d.r.ReadUvarint(0)
	if int64(n)+int64(kept) > MaxSnapshotProjectiles {
		return d.bad("%d new projectiles after %d kept exceed the cap of %d", n, kept, MaxSnapshotProjectiles)
	}
	d.bornPr = d.bornPr[:0]
	prev := anchor
	for k := uint32(0); k < n; k++ {
		id, err := d.readID(prev, k == 0)
		if err != nil {
			return err
		}
		pr := game.Projectile{ID: id}
		if err := d.readProjectile(&pr, dst); err != nil {
			return fmt.Errorf("new projectile %d: %w", id, err)
		}
		d.bornPr = append(d.bornPr, pr)
		prev = id
	}
	return d.readErr()
}

func (d *Decoder) readProjectile(pr *game.Projectile, dst *game.Snapshot) error {
	age := d.r.ReadUvarint(0)
	if age > dst.Tick {
		return d.bad("age %d before tick 0", age)
	}
	pr.SpawnTick = dst.Tick - age
	if !d.r.ReadBool() {
		pr.Owner = game.EntityID(d.r.ReadUvarint(0))
		pr.Angle = uint16(d.r.ReadBits(16))
		x, y := d.readAbsolute()
		return d.setOrigin(pr, x, y)
	}
	i := int(d.r.ReadBits(indexBits(len(dst.Players))))
	if i >= len(dst.Players) {
		return d.bad("owner index %d out of %d players", i, len(dst.Players))
	}
	o := &dst.Players[i]
	pr.Owner, pr.Angle = o.ID, o.Aim
	if !d.r.ReadBool() {
		pr.Angle = uint16(d.r.ReadBits(16))
	}
	px, py := d.g.spawnPoint(o, age)
	if d.r.ReadBool() {
		px, py = d.readAbsolute()
	} else {
		px += int64(d.r.ReadSvarint(originK))
		py += int64(d.r.ReadSvarint(originK))
	}
	return d.setOrigin(pr, px, py)
}

func (d *Decoder) setOrigin(pr *game.Projectile, x, y int64) error {
	if x < 0 || x > d.g.maxGrid || y < 0 || y > d.g.maxGrid {
		return d.bad("origin (%d, %d) outside [0, %d] grid steps", x, y, d.g.maxGrid)
	}
	pr.OriginX, pr.OriginY = fromGrid(x), fromGrid(y)
	return d.readErr()
}

// mergeProjectiles fills dst.Projectiles with the baseline's projectiles
// not removed and the new ones, both ascending, refusing an ID that is in
// both.
func (d *Decoder) mergeProjectiles(dst *game.Snapshot, bp []game.Projectile) error {
	dst.Projectiles = dst.Projectiles[:0]
	b, removed := d.bornPr, d.removed
	for i := 0; i < len(bp) || len(b) > 0; {
		if len(removed) > 0 && int(removed[0]) == i {
			removed, i = removed[1:], i+1
			continue
		}
		switch {
		case len(b) == 0 || (i < len(bp) && bp[i].ID < b[0].ID):
			dst.Projectiles = append(dst.Projectiles, bp[i])
			i++
		case i == len(bp) || b[0].ID < bp[i].ID:
			dst.Projectiles, b = append(dst.Projectiles, b[0]), b[1:]
		default:
			return wire.Malformedf("new projectile %d already exists", b[0].ID)
		}
	}
	return nil
}

// readEnd accepts only the zero padding of the last byte after the data.
func (d *Decoder) readEnd() error {
	left := d.r.BitsLeft()
	if left >= 8 {
		return wire.Malformedf("%d trailing bytes", left/8)
	}
	if d.r.ReadBits(uint(left)) != 0 {
		return wire.Malformedf("nonzero padding bits")
	}
	return nil
}
