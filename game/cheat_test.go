package game

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// The cheat tests play one player through a real Room (on a manual
// clock) whose client sends hostile input sequences, and measure the
// player's speed and fire rate on the room's own states, as its sink saw
// them, over every window of ticks.

// cheatTicks is how many ticks each scenario plays.
const cheatTicks = 150

// trace is what the room's sink saw of one player.
type trace struct {
	first uint32       // tick of pos[0]
	pos   [][2]float64 // position after each tick
	shots []uint32     // spawn ticks of the player's projectiles, ascending
}

// sender returns the inputs a client sends just before the room
// simulates tick next (nil: nothing this tick). It sees a fresh rng.
type sender func(next uint32, rng *rand.Rand) []Input

// playCheat runs a room at rate with one player, feeding it what send
// returns before every tick, in packets of at most 16 inputs as the wire
// carries them, and returns the trace.
func playCheat(t *testing.T, rate int, send sender) trace {
	t.Helper()
	tr := startRoom(t, RoomConfig{World: Config{TickRate: rate}})
	id := tr.addPlayer()
	rng := rand.New(rand.NewPCG(uint64(rate), 99))
	var tc trace
	seen := map[EntityID]bool{}
	for range cheatTicks {
		next := tr.CurrentTick() + 1
		ins := send(next, rng)
		for len(ins) > 0 {
			n := min(len(ins), 16)
			tr.QueueInputs(id, ins[:n])
			ins = ins[n:]
		}
		p := tr.tick(id)
		if !p.Alive {
			t.Fatalf("tick %d: the player died; the scene must keep it alive", next)
		}
		if tc.pos == nil {
			tc.first = next
		}
		tc.pos = append(tc.pos, [2]float64{p.X, p.Y})
		tr.mu.Lock()
		for _, pr := range tr.seen[next].Projectiles {
			if pr.Owner == id && !seen[pr.ID] {
				seen[pr.ID] = true
				tc.shots = append(tc.shots, pr.SpawnTick)
			}
		}
		tr.mu.Unlock()
	}
	slices.Sort(tc.shots)
	return tc
}

// checkSpeed asserts that over every window of ticks [a, b] the player
// moved at most (b-a) steps of PlayerSpeed (plus the grid's rounding of
// each step), and returns the largest speed seen over one tick, in
// steps.
func checkSpeed(t *testing.T, p Params, tc trace) float64 {
	t.Helper()
	step := p.PlayerStep()
	slack := 1.0 / PositionScale // each step's components are rounded to the grid
	fastest := 0.0
	for a := range tc.pos {
		for b := a + 1; b < len(tc.pos); b++ {
			d := math.Hypot(tc.pos[b][0]-tc.pos[a][0], tc.pos[b][1]-tc.pos[a][1])
			if limit := float64(b-a) * (step + slack); d > limit {
				t.Fatalf("ticks %d..%d: moved %.3f units in %d ticks, the rules allow %.3f",
					tc.first+uint32(a), tc.first+uint32(b), d, b-a, limit)
			}
			if b == a+1 {
				fastest = max(fastest, d/step)
			}
		}
	}
	return fastest
}

// checkFireRate asserts that in every window of ticks the player fired
// no more often than the cooldown allows. A shot needs less than a tick
// (4 quarters) of cooldown left and adds cd quarters, and a tick takes 4
// off: between shots i and j, w ticks apart, (j-i)·cd < 4w + 4, so at
// most ⌊(4w+3)/cd⌋+1 shots in a window spanning w ticks.
func checkFireRate(t *testing.T, p Params, tc trace) {
	t.Helper()
	cd := p.FireCooldownQuarterTicks
	for i := range tc.shots {
		for j := i + 1; j < len(tc.shots); j++ {
			w := tc.shots[j] - tc.shots[i]
			if allowed := (4*w+3)/cd + 1; uint32(j-i+1) > allowed {
				t.Fatalf("%d shots between ticks %d and %d; a cooldown of %d quarter ticks allows %d",
					j-i+1, tc.shots[i], tc.shots[j], cd, allowed)
			}
		}
	}
}

// cheat is an input that moves as fast as the wire allows, diagonally
// (the longest vector before clamping), and fires.
func cheat(tick uint32) Input { return Input{Tick: tick, MoveX: 127, MoveY: 127, Fire: true} }

func span(from, to uint32) []Input {
	var out []Input
	for k := from; k <= to; k++ {
		if k > 0 {
			out = append(out, cheat(k))
		}
	}
	return out
}

var cheatScenarios = []struct {
	name string
	send sender
	// moves says the scenario still moves the player at full speed on
	// most ticks: the limits bind without freezing it.
	moves bool
}{
	{"honest", func(next uint32, _ *rand.Rand) []Input { return span(next, next) }, true},
	{"future_flood", func(next uint32, _ *rand.Rand) []Input {
		return append(span(next, next+14), cheat(next+1000))
	}, true},
	{"past_flood", func(next uint32, _ *rand.Rand) []Input {
		return span(max(next, 40)-40, next) // 41 inputs, most of them late
	}, true},
	{"lag_switch", func() sender {
		// Holds its inputs for 12 ticks, then releases them all at once
		// with the current one, again and again.
		return func(next uint32, _ *rand.Rand) []Input {
			if next%13 != 0 {
				return nil
			}
			return span(next-12, next)
		}
	}(), false},
	{"lag_switch_ahead", func(next uint32, _ *rand.Rand) []Input {
		// Releases held inputs together with a burst of future ones.
		if next%10 != 0 {
			return nil
		}
		return span(next-9, next+9)
	}, false},
	{"duplicate_ticks", func(next uint32, _ *rand.Rand) []Input {
		var out []Input
		for range 5 {
			out = append(out, span(next-2, next)...) // repeats, out of order
		}
		return out
	}, true},
	{"random", func(next uint32, rng *rand.Rand) []Input {
		var out []Input
		for range rng.IntN(40) {
			k := int64(next) + int64(rng.IntN(81)) - 40
			if k > 0 {
				in := cheat(uint32(k))
				in.MoveX = int8(rng.IntN(255) - 127)
				out = append(out, in)
			}
		}
		return out
	}, false},
}

func TestNoInputSequenceMovesOrFiresFasterThanTheRules(t *testing.T) {
	forEachRate(t, func(t *testing.T, rate int) {
		params := Config{TickRate: rate}.Params()
		for _, sc := range cheatScenarios {
			t.Run(sc.name, func(t *testing.T) {
				tc := playCheat(t, rate, sc.send)
				fastest := checkSpeed(t, params, tc)
				checkFireRate(t, params, tc)
				if fastest < 0.99 {
					t.Errorf("never moved a full step in a tick (fastest %.2f steps): the scene does not test the limit", fastest)
				}
				if len(tc.shots) < 2 {
					t.Errorf("%d shots: the scene does not test the fire limit", len(tc.shots))
				}
				if sc.moves {
					d := math.Hypot(tc.pos[len(tc.pos)-1][0]-tc.pos[0][0], tc.pos[len(tc.pos)-1][1]-tc.pos[0][1])
					if want := 0.9 * float64(len(tc.pos)-1) * params.PlayerStep(); d < want {
						t.Errorf("moved %.1f units in %d ticks, want at least %.1f: honest-looking input should move at full speed",
							d, len(tc.pos)-1, want)
					}
				}
				t.Log(fmt.Sprintf("%d shots, fastest tick %.2f steps", len(tc.shots), fastest))
			})
		}
	})
}

// TestLagSwitchGainsNoDistance compares a lag-switch client with an
// honest one sending the same moves: over the same ticks the cheater
// never gets further.
func TestLagSwitchGainsNoDistance(t *testing.T) {
	params := Config{}.Params()
	honest := playCheat(t, params.TickRate, cheatScenarios[0].send)
	var lag sender
	for _, sc := range cheatScenarios {
		if sc.name == "lag_switch" {
			lag = sc.send
		}
	}
	cheater := playCheat(t, params.TickRate, lag)
	for i := range cheater.pos {
		dc := math.Hypot(cheater.pos[i][0]-cheater.pos[0][0], cheater.pos[i][1]-cheater.pos[0][1])
		dh := math.Hypot(honest.pos[i][0]-honest.pos[0][0], honest.pos[i][1]-honest.pos[0][1])
		if dc > dh+1e-9 {
			t.Fatalf("tick %d: the lag switch is %.2f units from its start, the honest client %.2f", cheater.first+uint32(i), dc, dh)
		}
	}
}
