package game

import (
	"math"
	"math/rand/v2"
)

// botSwarm drives players the way the benchmark bots of docs/GAME.md do:
// a random move direction held for 1 to 3 s, a random aim changed with
// it, and at each change a coin toss whether to hold fire until the next.
// Seeded, so the same seed gives the same inputs; it draws from PCG
// directly and quantizes with AngleSinCos, so the inputs are the same on
// every platform and Go version (the golden hash depends on it).
type botSwarm struct {
	rng  testRand
	rate int
	bots []bot
}

type bot struct {
	id   EntityID
	hold int // ticks until the next change
	in   Input
}

// testRand is a seeded PCG with a (slightly biased) bounded draw whose
// sequence no Go release can change.
type testRand struct{ pcg *rand.PCG }

func newTestRand(seed, stream uint64) testRand { return testRand{rand.NewPCG(seed, stream)} }

// intN returns a number in [0, n).
func (r testRand) intN(n int) int { return int(r.pcg.Uint64() % uint64(n)) }

func newBotSwarm(seed uint64, rate int) *botSwarm {
	return &botSwarm{rng: newTestRand(seed, 1), rate: rate}
}

func (s *botSwarm) add(id EntityID) { s.bots = append(s.bots, bot{id: id}) }

// remove drops the bot at index i and returns its player.
func (s *botSwarm) remove(i int) EntityID {
	id := s.bots[i].id
	s.bots = append(s.bots[:i], s.bots[i+1:]...)
	return id
}

// inputs appends every bot's input for tick to dst.
func (s *botSwarm) inputs(tick uint32, dst []PlayerInput) []PlayerInput {
	for i := range s.bots {
		b := &s.bots[i]
		if b.hold <= 0 {
			b.hold = s.rate + s.rng.intN(2*s.rate+1)
			sin, cos := AngleSinCos(uint16(s.rng.intN(AngleSteps)))
			b.in = Input{
				MoveX: int8(math.Round(cos * MoveSteps)),
				MoveY: int8(math.Round(sin * MoveSteps)),
				Aim:   uint16(s.rng.intN(AngleSteps)),
				Fire:  s.rng.intN(2) == 0,
			}
		}
		b.hold--
		in := b.in
		in.Tick = tick
		dst = append(dst, PlayerInput{Player: b.id, Input: in})
	}
	return dst
}
