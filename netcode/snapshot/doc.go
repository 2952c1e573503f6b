// Package snapshot owns the arena's snapshot payload: the bit-packed
// encoding of a world (players and projectiles) as a delta against a
// baseline the client holds, or in full; the quantization that makes
// what the client reconstructs exact; and the area-of-interest filter
// (VisibleSet, and AOIIndex for a whole room at once).
//
// An Encoder and a Decoder agree on the arena's rules (game.Params) and
// on nothing else: the envelope that carries a payload, and the choice of
// baseline, belong to package wire and to the server's fan-out. The hot
// path (Encode, Decode) allocates nothing in steady state; Decode treats
// its input as hostile. The format is arena-specific: another game would
// bring its own codec.
package snapshot
