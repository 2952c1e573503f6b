package snapshot

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/tickwire/tickwire/game"
	"github.com/tickwire/tickwire/netcode/internal/arenatest"
	"github.com/tickwire/tickwire/netcode/wire"
)

// history keeps the last historyLen snapshots by tick, as the room does.
const historyLen = 64

type history map[uint32]*game.Snapshot

func (h history) add(s *game.Snapshot) {
	h[s.Tick] = s
	delete(h, s.Tick-historyLen)
}

// expectedView is what a client must reconstruct: the quantized view.
func expectedView(p game.Params, s *game.Snapshot, viewer game.EntityID, radius float64) *game.Snapshot {
	var vis, want game.Snapshot
	VisibleSet(&vis, s, viewer, radius, p)
	QuantizeForClient(&want, &vis)
	return &want
}

// testClient holds what a real client holds: its own reconstructions,
// by tick, each decoded against an earlier reconstruction.
type testClient struct {
	dec     Decoder
	decoded map[uint32]*game.Snapshot
}

func (c *testClient) baseFor(tick uint32) *game.Snapshot {
	if tick == 0 {
		return nil
	}
	return c.decoded[tick]
}

// pickBaseline picks what the server would use: a tick the client holds
// that is still in history, or none. Mostly recent, sometimes old.
func pickBaseline(rng *rand.Rand, c *testClient, h history, cur uint32) uint32 {
	var held []uint32
	for t := range c.decoded {
		if _, ok := h[t]; ok && t < cur {
			held = append(held, t)
		}
	}
	if len(held) == 0 || rng.IntN(20) == 0 {
		return 0
	}
	slices.Sort(held)
	if rng.IntN(2) == 0 {
		return held[len(held)-1-rng.IntN(min(4, len(held)))]
	}
	return held[rng.IntN(len(held))]
}

func TestDecodedChainEqualsQuantizedView(t *testing.T) {
	tests := []struct {
		name    string
		players int
		aoi     float64
	}{
		{"full_visibility", 40, 0},
		{"aoi", 150, 450},
		{"aoi_tiny", 30, 60},
	}
	for _, tt := range tests {
		for seed := uint64(1); seed <= 3; seed++ {
			t.Run(fmt.Sprintf("%s/seed=%d", tt.name, seed), func(t *testing.T) {
				runChain(t, seed, tt.players, tt.aoi, 400)
			})
		}
	}
}

// runChain plays a world for ticks ticks with one client that loses a
// fifth of its snapshots and acknowledges at random, checking every
// decoded snapshot against the quantized view.
func runChain(t *testing.T, seed uint64, players int, aoi float64, ticks int) {
	rng := rand.New(rand.NewPCG(seed, 7))
	world := arenatest.NewWorld(seed, players)
	world.Churn, world.LostInput = 0.05, 0.02
	params := world.Params
	enc := Encoder{Params: params, AOIRadius: aoi}
	client := &testClient{dec: Decoder{Params: params}, decoded: map[uint32]*game.Snapshot{}}
	hist := history{}
	viewer := world.Players[0].ID
	var payload []byte
	for range ticks {
		world.Step()
		cur := world.Snapshot()
		hist.add(cur)
		if _, ok := game.FindPlayer(cur.Players, viewer); !ok || rng.IntN(100) == 0 {
			viewer = cur.Players[rng.IntN(len(cur.Players))].ID // a new client
			clear(client.decoded)
		}
		baseTick := pickBaseline(rng, client, hist, cur.Tick)
		got := roundTrip(t, &enc, client, payload[:0], cur, hist[baseTick], baseTick, viewer)
		if diff := arenatest.Diff(got, expectedView(params, cur, viewer, aoi)); diff != "" {
			t.Fatalf("tick %d, baseline %d, viewer %d: %s", cur.Tick, baseTick, viewer, diff)
		}
		if rng.IntN(5) != 0 {
			client.decoded[cur.Tick] = got
		}
		for tick := range client.decoded {
			if _, ok := hist[tick]; !ok {
				delete(client.decoded, tick)
			}
		}
	}
}

// roundTrip encodes cur against the server's baseline and decodes it
// against the client's own reconstruction of the same tick.
func roundTrip(t *testing.T, enc *Encoder, c *testClient, buf []byte, cur, base *game.Snapshot, baseTick uint32, viewer game.EntityID) *game.Snapshot {
	t.Helper()
	payload, err := enc.Encode(buf, cur, base, viewer)
	if err != nil {
		t.Fatalf("encode tick %d against %d: %v", cur.Tick, baseTick, err)
	}
	if st := enc.Stats(); st.Bytes != len(payload)-len(buf) {
		t.Fatalf("stats say %d bytes, payload has %d", st.Bytes, len(payload)-len(buf))
	}
	got := &game.Snapshot{}
	if err := c.dec.Decode(got, payload, c.baseFor(baseTick)); err != nil {
		t.Fatalf("decode tick %d against %d: %v", cur.Tick, baseTick, err)
	}
	return got
}

func TestAnyHeldBaselineDecodesAnyLaterTick(t *testing.T) {
	for _, aoi := range []float64{0, 350} {
		rng := rand.New(rand.NewPCG(11, uint64(aoi)))
		world := arenatest.NewWorld(5, 120)
		world.Churn, world.LostInput = 0.1, 0.05
		params := world.Params
		enc := Encoder{Params: params, AOIRadius: aoi}
		hist := history{}
		for range 200 {
			world.Step()
			hist.add(world.Snapshot())
		}
		ticks := sortedTicks(hist)
		for iter := range 300 {
			viewer := world.Players[rng.IntN(len(world.Players))].ID
			client := decodeAll(t, params, aoi, hist, ticks, viewer)
			i := rng.IntN(len(ticks))
			j := i + 1 + rng.IntN(len(ticks)-i)
			baseTick := ticks[i]
			if j == len(ticks) {
				j, baseTick = i, 0 // a full snapshot
			}
			cur := hist[ticks[j]]
			got := roundTrip(t, &enc, client, nil, cur, hist[baseTick], baseTick, viewer)
			if diff := arenatest.Diff(got, expectedView(params, cur, viewer, aoi)); diff != "" {
				t.Fatalf("aoi %v iter %d: tick %d against %d: %s", aoi, iter, cur.Tick, baseTick, diff)
			}
		}
	}
}

// decodeAll builds a client that decoded every tick of the history in
// order, each against the previous one (the first in full).
func decodeAll(t *testing.T, p game.Params, aoi float64, hist history, ticks []uint32, viewer game.EntityID) *testClient {
	t.Helper()
	enc := Encoder{Params: p, AOIRadius: aoi}
	c := &testClient{dec: Decoder{Params: p}, decoded: map[uint32]*game.Snapshot{}}
	var prev uint32
	for _, tick := range ticks {
		c.decoded[tick] = roundTrip(t, &enc, c, nil, hist[tick], hist[prev], prev, viewer)
		prev = tick
	}
	return c
}

func TestPlayerKeepingItsCourseCostsOneBit(t *testing.T) {
	p := game.Player{ID: 7, X: 500, Y: 500, MoveX: 127, MoveY: -40, Aim: 9, Health: 80, Score: 3, Alive: true}
	base := &game.Snapshot{Tick: 10, Players: []game.Player{p}}
	cur := &game.Snapshot{Tick: 13, Players: []game.Player{p}}
	params := arenatest.Params(100)
	for tick := range uint32(3) {
		params.MovePlayer(&cur.Players[0], game.Input{Tick: 11 + tick, MoveX: p.MoveX, MoveY: p.MoveY, Aim: p.Aim})
	}
	var enc Encoder
	if _, err := enc.Encode(nil, cur, base, 7); err != nil {
		t.Fatal(err)
	}
	if st := enc.Stats(); st.PlayerBits != 1+1 || st.PlayersChanged != 0 {
		t.Fatalf("player section %d bits (1 for the player, 1 for no new players), %d changed", st.PlayerBits, st.PlayersChanged)
	}
}

func TestPredictionStopsAtTheWall(t *testing.T) {
	p := game.Player{ID: 1, X: 1980, Y: 20, MoveX: 127, MoveY: -127, Alive: true, Health: 100}
	base := &game.Snapshot{Tick: 1, Players: []game.Player{p}}
	cur := &game.Snapshot{Tick: 31, Players: []game.Player{p}}
	cur.Players[0].X, cur.Players[0].Y = 2000-16, 16
	var enc Encoder
	if _, err := enc.Encode(nil, cur, base, 1); err != nil {
		t.Fatal(err)
	}
	if st := enc.Stats(); st.PlayersChanged != 0 {
		t.Fatalf("a player pushing into the corner was not predicted (%d bits)", st.PlayerBits)
	}
}

// TestMovingPlayersCostFewBits checks the size goal of the codec: at
// N = 100 with the benchmark bots of docs/GAME.md and a baseline 3 ticks
// old, at most 24 bits per moving player on average.
func TestMovingPlayersCostFewBits(t *testing.T) {
	bits, bytes := measureDeltaSize(t, 100, 0, 3)
	t.Logf("%.2f bits per moving player, %.0f bytes per snapshot", bits, bytes)
	if bits > 24 {
		t.Fatalf("%.2f bits per moving player, want ≤ 24", bits)
	}
}

// measureDeltaSize plays a warm world and encodes each tick against the
// one age ticks before, for a rotating viewer: it returns the players
// section's bits per moving player and the mean payload size.
func measureDeltaSize(t testing.TB, n int, aoi float64, age uint32) (bitsPerMover, bytesPerSnapshot float64) {
	world := arenatest.NewWorld(3, n)
	for range 120 {
		world.Step()
	}
	enc := Encoder{Params: world.Params, AOIRadius: aoi}
	hist := history{}
	var bits, movers, bytes, count int
	for i := range 300 {
		world.Step()
		cur := world.Snapshot()
		hist.add(cur)
		base, ok := hist[cur.Tick-age]
		if !ok {
			continue
		}
		viewer := cur.Players[i%len(cur.Players)].ID
		if _, err := enc.Encode(nil, cur, base, viewer); err != nil {
			t.Fatal(err)
		}
		st := enc.Stats()
		bits += st.PlayerBits
		bytes += st.Bytes
		movers += countMovers(encodedPlayers(&enc, cur))
		count++
	}
	return float64(bits) / float64(movers), float64(bytes) / float64(count)
}

// encodedPlayers are the players the last Encode of cur saw: the
// encoder's filtered view under AOI.
func encodedPlayers(enc *Encoder, cur *game.Snapshot) []game.Player {
	if enc.AOIRadius > 0 {
		return enc.curView.Players
	}
	return cur.Players
}

func countMovers(players []game.Player) int {
	n := 0
	for i := range players {
		if players[i].Alive && (players[i].MoveX != 0 || players[i].MoveY != 0) {
			n++
		}
	}
	return n
}

func noEdit(_, _ *game.Snapshot) {}

func TestEncodeRefusesWhatTheFormatCannotCarry(t *testing.T) {
	valid := func() *game.Snapshot {
		return &game.Snapshot{
			Tick: 20,
			Players: []game.Player{
				{ID: 2, X: 100, Y: 100, Health: 100, Alive: true},
				{ID: 5, X: 200, Y: 300, Health: 50, Alive: true},
			},
			Projectiles: []game.Projectile{{ID: 6, Owner: 2, OriginX: 100, OriginY: 100, SpawnTick: 19}},
		}
	}
	tests := []struct {
		name   string
		params func(*game.Params)
		edit   func(cur, base *game.Snapshot)
		want   string
	}{
		{"baseline not older", nil, func(cur, base *game.Snapshot) { base.Tick = cur.Tick }, "not before tick"},
		{"players out of order", nil, func(cur, _ *game.Snapshot) { cur.Players[0].ID = 9 }, "IDs must be nonzero and increasing"},
		{"duplicate player", nil, func(cur, _ *game.Snapshot) { cur.Players[1].ID = 2 }, "IDs must be nonzero and increasing"},
		{"player ID zero", nil, func(cur, _ *game.Snapshot) { cur.Players[0].ID = 0 }, "IDs must be nonzero"},
		{"baseline unsorted", nil, func(_, base *game.Snapshot) { base.Players[1].ID = 1 }, "baseline tick 10: player 1 after 2"},
		{"projectiles out of order", nil, func(cur, _ *game.Snapshot) {
			cur.Projectiles = append(cur.Projectiles, game.Projectile{ID: 3, SpawnTick: 1})
		}, "projectile 3 after 6"},
		{"position outside arena", nil, func(cur, _ *game.Snapshot) { cur.Players[0].X = 2000.1 }, "outside the arena"},
		{"negative position", nil, func(cur, _ *game.Snapshot) { cur.Players[0].Y = -1 }, "outside the arena"},
		{"NaN position", nil, func(cur, _ *game.Snapshot) { cur.Players[0].X = math.NaN() }, "outside the arena"},
		{"health above max", nil, func(cur, _ *game.Snapshot) { cur.Players[0].Health = 101 }, "health 101"},
		{"negative health", nil, func(cur, _ *game.Snapshot) { cur.Players[0].Health = -1 }, "health -1"},
		{"move -128", nil, func(cur, _ *game.Snapshot) { cur.Players[0].MoveY = -128 }, "move (0, -128)"},
		{"origin outside arena", nil, func(cur, _ *game.Snapshot) { cur.Projectiles[0].OriginX = 5000 }, "origin"},
		{"projectile from the future", nil, func(cur, _ *game.Snapshot) { cur.Projectiles[0].SpawnTick = 21 }, "spawn tick 21"},
		{"too many players", nil, func(cur, _ *game.Snapshot) {
			cur.Players = make([]game.Player, MaxSnapshotPlayers+1)
		}, "exceed the caps"},
		{"bad arena size", func(p *game.Params) { p.Size = -1 }, noEdit, "arena size"},
		{"huge arena", func(p *game.Params) { p.Size = 1e7 }, noEdit, "arena size"},
		{"radius larger than arena", func(p *game.Params) { p.PlayerRadius = 1000 }, noEdit, "player radius"},
		{"bad tick rate", func(p *game.Params) { p.TickRate = -30 }, noEdit, "tick rate"},
		{"bad max health", func(p *game.Params) { p.MaxHealth = -5 }, noEdit, "max health"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cur, base := valid(), valid()
			base.Tick = 10
			tt.edit(cur, base)
			enc := Encoder{Params: arenatest.Params(100)}
			if tt.params != nil {
				tt.params(&enc.Params)
			}
			dst := []byte{1, 2, 3}
			out, err := enc.Encode(dst, cur, base, 2)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err %v, want one containing %q", err, tt.want)
			}
			if len(out) != len(dst) {
				t.Fatalf("dst grew to %d bytes on error", len(out))
			}
		})
	}
}

// payloadBuilder writes payloads by hand for the decoder's bad cases,
// following docs/PROTOCOL.md with the default parameters.
type payloadBuilder struct{ w bitWriter }

func (b *payloadBuilder) full(tick uint32) *payloadBuilder {
	b.w.WriteBool(true)
	b.w.WriteBits(uint64(tick), 32)
	return b
}

func (b *payloadBuilder) delta(ticks uint32) *payloadBuilder {
	b.w.WriteBool(false)
	b.w.WriteUvarint(ticks-1, 0)
	return b
}

func (b *payloadBuilder) uv(v uint32) *payloadBuilder { b.w.WriteUvarint(v, 0); return b }
func (b *payloadBuilder) sv(v int32) *payloadBuilder  { b.w.WriteSvarint(v, 0); return b }
func (b *payloadBuilder) svk(v int32, k uint) *payloadBuilder {
	b.w.WriteSvarint(v, k)
	return b
}
func (b *payloadBuilder) bit(v bool) *payloadBuilder { b.w.WriteBool(v); return b }
func (b *payloadBuilder) bits(v uint64, n uint) *payloadBuilder {
	b.w.WriteBits(v, n)
	return b
}

// player writes the fields of a new player with the default arena
// (15-bit positions, 7-bit health).
func (b *payloadBuilder) player(x, y uint64, moveX int8, health uint64) *payloadBuilder {
	return b.bits(x, 15).bits(y, 15).bits(0, 16).bits(uint64(uint8(moveX)), 8).bits(0, 8).
		bits(health, 7).bit(true).sv(0)
}

func (b *payloadBuilder) bytes() []byte { return b.w.Bytes() }

func defaultGeometry(t *testing.T) geometry {
	g, err := newGeometry(&game.Params{})
	if err != nil {
		t.Fatal(err)
	}
	return g
}

func TestDecodeRejectsInconsistentPayloads(t *testing.T) {
	base := &game.Snapshot{
		Tick:        100,
		Players:     []game.Player{{ID: 3, X: 10, Y: 10, Health: 100, Alive: true}, {ID: 8, X: 20, Y: 20, Health: 100, Alive: true}},
		Projectiles: []game.Projectile{{ID: 9, Owner: 3, OriginX: 10, OriginY: 10, SpawnTick: 99}},
	}
	p := func() *payloadBuilder { return &payloadBuilder{} }
	// kept is the players section of a delta that keeps both players.
	kept := func(b *payloadBuilder) *payloadBuilder { return b.bit(false).bit(false) }
	validFull := p().full(5).uv(1).sv(4).player(160, 160, 0, 100).uv(0).bytes()
	tests := []struct {
		name    string
		payload []byte
		base    *game.Snapshot
		want    string
	}{
		{"empty", nil, nil, "exhausted"},
		{"delta without baseline", p().delta(1).bytes(), nil, "without a baseline"},
		{"full with a baseline", validFull, base, "given a baseline"},
		{"truncated", validFull[:len(validFull)-2], nil, "exhausted"},
		{"trailing bytes", append(slices.Clone(validFull), 0), nil, "1 trailing bytes"},
		{"nonzero padding", p().full(5).uv(0).uv(0).bit(true).bytes(), nil, "padding"},
		{"tick overflow", p().delta(1).bytes(), &game.Snapshot{Tick: math.MaxUint32}, "overflows"},
		{"varint too long", append(p().full(5).bytes(), 0, 0, 0, 0, 0, 0, 1), nil, "exceeds 32 bits"},
		{"player ID zero", p().full(5).uv(1).sv(0).player(160, 160, 0, 100).uv(0).bytes(), nil, "entity ID 0"},
		{"player ID beyond 32 bits", p().full(5).uv(2).sv(-1).player(160, 160, 0, 100).uv(math.MaxUint32).player(1, 1, 0, 1).uv(0).bytes(), nil, "out of range"},
		{"too many players", p().full(5).uv(MaxSnapshotPlayers + 1).bytes(), nil, "exceed the cap"},
		{"position outside the arena", p().full(5).uv(1).sv(4).player(32001, 160, 0, 100).uv(0).bytes(), nil, "outside [0, 32000]"},
		{"health above max", p().full(5).uv(1).sv(4).player(160, 160, 0, 101).uv(0).bytes(), nil, "health 101"},
		{"move -128", p().full(5).uv(1).sv(4).player(160, 160, -128, 100).uv(0).bytes(), nil, "move (-128, 0)"},
		{"new player already kept", kept(p().delta(1)).uv(1).sv(-5).player(1, 1, 0, 1).uv(0).uv(0).bytes(), base, "player 3 already exists"},
		{"changed player with no change", p().delta(1).bits(0b01, 2).bits(0, 5).bytes(), base, "without a changed field"},
		{"residual leaves the arena", p().delta(1).bits(0b01, 2).bits(changedPos, 5).bit(false).
			svk(-200, defaultGeometry(t).residualK).svk(0, defaultGeometry(t).residualK).bytes(), base, "outside [0, 32000]"},
		{"more removals than projectiles", kept(p().delta(1)).uv(0).uv(2).bytes(), base, "2 removals from 1"},
		{"removal index out of range", kept(p().delta(1)).uv(0).uv(1).uv(1).bytes(), base, "removal index 1 out of 1"},
		{"projectile older than tick 0", p().full(5).uv(0).uv(1).sv(1).uv(6).bytes(), nil, "age 6"},
		{"owner index out of range", p().full(5).uv(3).sv(4).player(160, 160, 0, 100).uv(0).player(160, 160, 0, 100).
			uv(0).player(160, 160, 0, 100).uv(1).sv(7).uv(0).bit(true).bits(3, 2).bytes(), nil, "owner index 3 out of 3"},
		{"new projectile already kept", kept(p().delta(1)).uv(0).uv(0).uv(1).sv(0).uv(0).bit(false).uv(3).bits(0, 16).bits(1, 15).bits(1, 15).bytes(), base, "projectile 9 already exists"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var d Decoder
			var dst game.Snapshot
			err := d.Decode(&dst, tt.payload, tt.base)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err %v, want one containing %q", err, tt.want)
			}
			if !errors.Is(err, wire.ErrMalformed) {
				t.Fatalf("err %v does not wrap wire.ErrMalformed", err)
			}
		})
	}
}

func TestDecodeRefusesCallerMistakes(t *testing.T) {
	s := &game.Snapshot{Tick: 3, Players: []game.Player{{ID: 2}, {ID: 1}}}
	var d Decoder
	if err := d.Decode(s, []byte{0}, s); err == nil || !strings.Contains(err.Error(), "dst is the baseline") {
		t.Fatalf("dst == base: err %v", err)
	}
	if err := d.Decode(&game.Snapshot{}, []byte{0}, s); err == nil || !strings.Contains(err.Error(), "not sorted") {
		t.Fatalf("unsorted baseline: err %v", err)
	}
	d.Params = arenatest.Params(100)
	d.Params.Size = math.Inf(1)
	if err := d.Decode(&game.Snapshot{}, []byte{0}, nil); err == nil || !strings.Contains(err.Error(), "arena size") {
		t.Fatalf("bad params: err %v", err)
	}
}

func TestValidFullPayloadFromTheTableDecodes(t *testing.T) {
	// Guards the bad-case table: its valid payload must decode, so that
	// each bad case fails for the reason it names.
	payload := (&payloadBuilder{}).full(5).uv(1).sv(4).player(160, 160, 0, 100).uv(0).bytes()
	var d Decoder
	var dst game.Snapshot
	if err := d.Decode(&dst, payload, nil); err != nil {
		t.Fatal(err)
	}
	want := game.Player{ID: 4, X: 10, Y: 10, Health: 100, Alive: true}
	if dst.Tick != 5 || len(dst.Players) != 1 || dst.Players[0] != want {
		t.Fatalf("decoded %+v", dst)
	}
}

func TestServerOnlyFieldsAreNotSent(t *testing.T) {
	cur := &game.Snapshot{Tick: 4, Players: []game.Player{{
		ID: 1, X: 33.3, Y: 44.4, Health: 10, Alive: true, CooldownQuarterTicks: 5, RespawnTick: 99, LastInputTick: 3,
	}}}
	var enc Encoder
	var dec Decoder
	payload, err := enc.Encode(nil, cur, nil, 1)
	if err != nil {
		t.Fatal(err)
	}
	var got, want game.Snapshot
	if err := dec.Decode(&got, payload, nil); err != nil {
		t.Fatal(err)
	}
	QuantizeForClient(&want, cur)
	if diff := arenatest.Diff(&got, &want); diff != "" {
		t.Fatal(diff)
	}
	if p := want.Players[0]; p.CooldownQuarterTicks != 0 || p.RespawnTick != 0 || p.LastInputTick != 0 || p.X != 33.3125 {
		t.Fatalf("quantized %+v", p)
	}
}

func TestEdgeValuesRoundTrip(t *testing.T) {
	base := &game.Snapshot{
		Tick: math.MaxUint32 - 5,
		Players: []game.Player{
			{ID: 1, X: 0, Y: 2000, Aim: 65535, MoveX: -127, MoveY: 127, Health: 100, Score: math.MaxInt32, Alive: true},
			{ID: math.MaxUint32 - 1, X: 1000, Y: 1000, Aim: 10, Health: 0, Score: math.MinInt32},
		},
		Projectiles: []game.Projectile{{ID: 50, Owner: 0, OriginX: 2000, OriginY: 0, Angle: 1, SpawnTick: 0}},
	}
	cur := &game.Snapshot{Tick: math.MaxUint32, Players: slices.Clone(base.Players), Projectiles: []game.Projectile{
		{ID: 50, Owner: 1, OriginX: 2000, OriginY: 0, Angle: 1, SpawnTick: 0}, // changed: re-created
		{ID: math.MaxUint32, Owner: math.MaxUint32 - 1, OriginX: 3, OriginY: 4, Angle: 7, SpawnTick: math.MaxUint32},
	}}
	cur.Players[0].Score = math.MinInt32 // wraps the delta
	cur.Players[0].Aim = 3               // small wrapped aim change
	cur.Players[1].Score = math.MaxInt32
	for _, b := range []*game.Snapshot{nil, base} {
		var enc Encoder
		var dec Decoder
		payload, err := enc.Encode(nil, cur, b, 1)
		if err != nil {
			t.Fatal(err)
		}
		var got, want game.Snapshot
		if err := dec.Decode(&got, payload, b); err != nil {
			t.Fatal(err)
		}
		QuantizeForClient(&want, cur)
		if diff := arenatest.Diff(&got, &want); diff != "" {
			t.Fatalf("baseline %v: %s", b != nil, diff)
		}
	}
}

// TestPredictionIsTheGameRule checks that the codec's one-tick step is
// Params.MovePlayer's for every move vector at the three tick rates, and
// that a player who kept its input for n ticks, walls included, is where
// the codec predicts.
func TestPredictionIsTheGameRule(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for _, rate := range []int{20, 30, 60} {
		params := game.Config{TickRate: rate, MaxPlayers: 1 + rng.IntN(2000)}.Params()
		g, err := newGeometry(&params)
		if err != nil {
			t.Fatal(err)
		}
		for mx := -game.MoveSteps; mx <= game.MoveSteps; mx++ {
			for my := -game.MoveSteps; my <= game.MoveSteps; my++ {
				checkStep(t, &g, &params, int8(mx), int8(my))
			}
		}
		for range 5000 {
			checkPrediction(t, rng, &g, &params)
		}
	}
}

func checkStep(t *testing.T, g *geometry, params *game.Params, mx, my int8) {
	centre := game.QuantizePosition(params.Size / 2)
	pl := game.Player{ID: 1, Alive: true, X: centre, Y: centre}
	params.MovePlayer(&pl, game.Input{MoveX: mx, MoveY: my})
	dx, dy := g.step(mx, my)
	if toGrid(pl.X)-toGrid(centre) != dx || toGrid(pl.Y)-toGrid(centre) != dy {
		t.Fatalf("%d Hz, move (%d, %d): game steps (%d, %d), codec (%d, %d)", params.TickRate, mx, my,
			toGrid(pl.X)-toGrid(centre), toGrid(pl.Y)-toGrid(centre), dx, dy)
	}
}

func checkPrediction(t *testing.T, rng *rand.Rand, g *geometry, params *game.Params) {
	r := params.PlayerRadius
	pl := game.Player{ID: 1, Alive: true,
		X:     game.QuantizePosition(r + rng.Float64()*(params.Size-2*r)),
		Y:     game.QuantizePosition(r + rng.Float64()*(params.Size-2*r)),
		MoveX: int8(rng.IntN(255) - 127), MoveY: int8(rng.IntN(255) - 127)}
	base := pl
	ticks := uint32(1 + rng.IntN(64))
	for k := range ticks {
		params.MovePlayer(&pl, game.Input{Tick: k, MoveX: base.MoveX, MoveY: base.MoveY})
	}
	if x, y := g.predict(&base, ticks); x != toGrid(pl.X) || y != toGrid(pl.Y) {
		t.Fatalf("%d Hz: %+v after %d ticks: game at (%d, %d), predicted (%d, %d)",
			params.TickRate, base, ticks, toGrid(pl.X), toGrid(pl.Y), x, y)
	}
}

func TestEncodeAndDecodeAllocateNothingOnceWarm(t *testing.T) {
	for _, aoi := range []float64{0, 400} {
		world := arenatest.NewWorld(4, 300)
		base := world.Steps(60)
		cur := world.Steps(3)
		params := world.Params
		enc := Encoder{Params: params, AOIRadius: aoi}
		dec := Decoder{Params: params}
		viewer := cur.Players[0].ID
		full, err := enc.Encode(nil, base, nil, viewer)
		if err != nil {
			t.Fatal(err)
		}
		var clientBase, got game.Snapshot
		if err := dec.Decode(&clientBase, full, nil); err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 0, 64<<10)
		allocs := testing.AllocsPerRun(20, func() {
			payload, err := enc.Encode(buf[:0], cur, base, viewer)
			if err != nil {
				t.Fatal(err)
			}
			if err := dec.Decode(&got, payload, &clientBase); err != nil {
				t.Fatal(err)
			}
		})
		if allocs != 0 {
			t.Fatalf("aoi %v: %v allocations per encode+decode", aoi, allocs)
		}
	}
}

func benchWorld(b *testing.B, n int, aoi float64, age uint32) (*Encoder, history, []uint32) {
	b.Helper()
	world := arenatest.NewWorld(1, n)
	for range 120 {
		world.Step()
	}
	hist := history{}
	var ticks []uint32
	for range historyLen {
		world.Step()
		hist.add(world.Snapshot())
		ticks = append(ticks, world.Tick)
	}
	enc := &Encoder{Params: world.Params, AOIRadius: aoi}
	return enc, hist, ticks[age:]
}

var benchCases = []struct {
	name string
	n    int
	aoi  float64
	age  uint32 // 0: full snapshot
}{
	{"players=100", 100, 0, 3},
	{"players=1000_aoi", 1000, 400, 3},
	{"players=100_full", 100, 0, 0},
	{"players=1000_aoi_full", 1000, 400, 0},
}

func BenchmarkEncodeSnapshot(b *testing.B) {
	for _, bc := range benchCases {
		b.Run(bc.name, func(b *testing.B) {
			enc, hist, ticks := benchWorld(b, bc.n, bc.aoi, bc.age)
			buf := make([]byte, 0, 64<<10)
			var playerBits, movers, bytes, shotBits, shots int
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				cur := hist[ticks[i%len(ticks)]]
				viewer := cur.Players[(i*7)%len(cur.Players)].ID
				var base *game.Snapshot
				if bc.age > 0 {
					base = hist[cur.Tick-bc.age]
				}
				if _, err := enc.Encode(buf[:0], cur, base, viewer); err != nil {
					b.Fatal(err)
				}
				st := enc.Stats()
				playerBits += st.PlayerBits
				bytes += st.Bytes
				movers += countMovers(encodedPlayers(enc, cur))
				shotBits += st.ProjectileBits
				shots += st.Projectiles
				i++
			}
			b.ReportMetric(float64(playerBits)/float64(max(movers, 1)), "bits/moving-player")
			b.ReportMetric(float64(bytes)/float64(i), "bytes/snapshot")
			b.ReportMetric(float64(shotBits)/float64(max(shots, 1)), "bits/projectile-in-view")
		})
	}
}

func BenchmarkDecodeSnapshot(b *testing.B) {
	for _, bc := range benchCases {
		b.Run(bc.name, func(b *testing.B) {
			enc, hist, ticks := benchWorld(b, bc.n, bc.aoi, bc.age)
			viewer := hist[ticks[0]].Players[0].ID
			dec := Decoder{Params: enc.Params}
			type job struct {
				payload []byte
				base    *game.Snapshot
			}
			// A client that decoded every tick: each job decodes one tick
			// against its own reconstruction bc.age ticks earlier.
			recon := map[uint32]*game.Snapshot{}
			var jobs []job
			for _, tick := range sortedTicks(hist) {
				full, err := enc.Encode(nil, hist[tick], nil, viewer)
				if err != nil {
					b.Fatal(err)
				}
				s := &game.Snapshot{}
				if err := dec.Decode(s, full, nil); err != nil {
					b.Fatal(err)
				}
				recon[tick] = s
				if base, ok := hist[tick-bc.age]; ok && bc.age > 0 {
					p, err := enc.Encode(nil, hist[tick], base, viewer)
					if err != nil {
						b.Fatal(err)
					}
					jobs = append(jobs, job{p, recon[tick-bc.age]})
				} else if bc.age == 0 {
					jobs = append(jobs, job{full, nil})
				}
			}
			var dst game.Snapshot
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				j := jobs[i%len(jobs)]
				if err := dec.Decode(&dst, j.payload, j.base); err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
	}
}

func sortedTicks(h history) []uint32 {
	var ticks []uint32
	for t := range h {
		ticks = append(ticks, t)
	}
	slices.Sort(ticks)
	return ticks
}

// TestDecodedChainOfTheGameWorldEqualsQuantizedView is the property test
// on the real simulation rather than the codec's stand-in world: a busy
// game.World (small arena, so players hit, die and respawn; random
// inputs, some ticks without input for a player, joins and leaves), a
// client that loses a fifth of its snapshots, and baselines drawn at
// random from what it holds within the 64-tick history. Every decode
// must equal the quantized view exactly.
func TestDecodedChainOfTheGameWorldEqualsQuantizedView(t *testing.T) {
	for _, tc := range []struct {
		aoi  float64
		seed uint64
	}{{0, 1}, {0, 2}, {250, 3}, {250, 4}} {
		t.Run(fmt.Sprintf("aoi=%v/seed=%d", tc.aoi, tc.seed), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(tc.seed, 77))
			world := game.NewWorld(game.Config{MaxPlayers: 60, Size: 800, Seed: tc.seed})
			var ids []game.EntityID
			join := func() {
				if id, err := world.AddPlayer(); err == nil {
					ids = append(ids, id)
				}
			}
			for range 40 {
				join()
			}
			params := world.Params()
			enc := Encoder{Params: params, AOIRadius: tc.aoi}
			client := &testClient{dec: Decoder{Params: params}, decoded: map[uint32]*game.Snapshot{}}
			hist := history{}
			viewer := ids[0]
			var ins []game.PlayerInput
			dead := 0
			for range 300 {
				switch r := rng.IntN(30); {
				case r == 0:
					join()
				case r == 1 && len(ids) > 2:
					i := 1 + rng.IntN(len(ids)-1) // never the viewer
					world.RemovePlayer(ids[i])
					ids = slices.Delete(ids, i, i+1)
				}
				ins = ins[:0]
				tick := world.Tick() + 1
				for _, id := range ids {
					if rng.IntN(20) == 0 {
						continue // no input this tick
					}
					ins = append(ins, game.PlayerInput{Player: id, Input: game.Input{
						Tick: tick, MoveX: int8(rng.IntN(255) - 127), MoveY: int8(rng.IntN(255) - 127),
						Aim: uint16(rng.Uint32()), Fire: rng.IntN(3) == 0,
					}})
				}
				world.Step(ins)
				cur := &game.Snapshot{}
				world.Snapshot(cur)
				hist.add(cur)
				for _, pl := range cur.Players {
					if !pl.Alive {
						dead++
					}
				}
				baseTick := pickBaseline(rng, client, hist, cur.Tick)
				got := roundTrip(t, &enc, client, nil, cur, hist[baseTick], baseTick, viewer)
				if diff := arenatest.Diff(got, expectedView(params, cur, viewer, tc.aoi)); diff != "" {
					t.Fatalf("tick %d, baseline %d: %s", cur.Tick, baseTick, diff)
				}
				if rng.IntN(5) != 0 {
					client.decoded[cur.Tick] = got
				}
				for tick := range client.decoded {
					if _, ok := hist[tick]; !ok {
						delete(client.decoded, tick)
					}
				}
			}
			if dead == 0 {
				t.Error("nobody ever died: the world is not busy enough to test respawns")
			}
		})
	}
}
