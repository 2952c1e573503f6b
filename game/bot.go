package game

import "math"

// Bot is the benchmark bot of docs/GAME.md: it picks a random move
// direction and holds it for a random 1 to 3 seconds, aims at a random
// angle changed with the direction, and at each change decides with
// probability 1/2 whether to hold fire until the next change (the world
// fires at the cooldown rate while fire is held, so about 2 shots a
// second on average).
//
// A Bot is seeded and deterministic: the same seed and tick rate give the
// same decisions, on every platform and Go version (PCG and the game's own
// bounded draw and sin/cos). It has no clock: each call to Next is one
// input tick. The zero value is not usable; use NewBot. A Bot is not safe
// for concurrent use and allocates nothing.
type Bot struct {
	rng  rng
	rate int
	hold int   // inputs left before the next change
	in   Input // the current decision (Tick unset)
}

// botStream separates bots' random streams from the world's.
const botStream = 0x626f742d61726e61 // "bot-arna"

// NewBot returns a bot for a game running at tickRate inputs per second
// (30 when tickRate <= 0), seeded with seed.
func NewBot(seed uint64, tickRate int) *Bot {
	if tickRate <= 0 {
		tickRate = 30
	}
	b := &Bot{rate: tickRate}
	b.rng.pcg.Seed(seed, botStream)
	return b
}

// Next returns the bot's input for the next input tick, stamped with tick.
func (b *Bot) Next(tick uint32) Input {
	if b.hold <= 0 {
		b.decide()
	}
	b.hold--
	in := b.in
	in.Tick = tick
	return in
}

// decide draws a new direction, its duration, the aim and the fire choice.
func (b *Bot) decide() {
	b.hold = b.rate + int(b.rng.below(uint64(2*b.rate+1))) // 1 s to 3 s
	sin, cos := AngleSinCos(uint16(b.rng.below(AngleSteps)))
	b.in = Input{
		MoveX: int8(math.Round(cos * MoveSteps)),
		MoveY: int8(math.Round(sin * MoveSteps)),
		Aim:   uint16(b.rng.below(AngleSteps)),
		Fire:  b.rng.below(2) == 0,
	}
}

// HoldTicks is how many more inputs the current decision lasts.
func (b *Bot) HoldTicks() int { return b.hold }

// Controls converts a quantized input back to the continuous values a
// client's SendInput takes; quantizing them again gives the same Input.
func (in Input) Controls() (moveX, moveY, aimRad float64, fire bool) {
	return float64(in.MoveX) / MoveSteps, float64(in.MoveY) / MoveSteps, UnitsToAngle(in.Aim), in.Fire
}
