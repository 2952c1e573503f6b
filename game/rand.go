package game

import (
	"math/bits"
	"math/rand/v2"
)

// rng is the world's one source of randomness: a PCG generator, whose
// output the Go project keeps stable, and our own bounded draw (math/rand's
// helpers do not promise the same sequence across Go versions). It
// allocates nothing.
type rng struct {
	pcg rand.PCG
}

// rngStream separates the world's stream from others seeded alike.
const rngStream = 0x7469636b77697265 // "tickwire"

func newRNG(seed uint64) rng {
	var r rng
	r.pcg.Seed(seed, rngStream)
	return r
}

// below returns a uniform integer in [0, n), n > 0 (Lemire's method).
func (r *rng) below(n uint64) uint64 {
	hi, lo := bits.Mul64(r.pcg.Uint64(), n)
	if lo < n {
		floor := -n % n
		for lo < floor {
			hi, lo = bits.Mul64(r.pcg.Uint64(), n)
		}
	}
	return hi
}
