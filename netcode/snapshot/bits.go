package snapshot

import (
	"encoding/binary"
	"errors"
	"math/bits"
)

// Bit packing for the snapshot codec. Bits are packed least significant
// bit first: the first bit written is bit 0 of the first byte. A stream
// ends with zero padding up to a whole byte.
//
// Variable-length integers use Exp-Golomb codes of order k, which suit
// deltas and residuals that are usually small: order 0 spends 1 bit on 0,
// 3 bits on 1..2, 5 bits on 3..6 and 2·⌊log2(v+1)⌋+1 bits in general; a
// larger k spends k more bits on small values and fewer on large ones.
// Their domain is 32 bits, enough for every field of a snapshot, which
// keeps the decoder's bounds simple.

// errBadWidth is the sticky error of a bitReader asked for an impossible
// width, which only a caller's bug can cause.
var errBadWidth = errors.New("bit width out of range")

// errBitsExhausted is the sticky error of a bitReader that was asked for
// more bits than its buffer holds.
var errBitsExhausted = errors.New("bit stream exhausted")

// errVarintTooLong is the sticky error of a bitReader that met an
// Exp-Golomb code whose value cannot fit in 32 bits.
var errVarintTooLong = errors.New("variable-length integer exceeds 32 bits")

// bitWriter appends bits to a caller-supplied byte slice. It allocates
// only when that slice runs out of capacity. The zero value writes into a
// nil slice; Reset starts writing at the end of another.
type bitWriter struct {
	buf   []byte
	start int    // len(buf) at Reset: where this stream's bits begin
	acc   uint64 // pending bits not yet in buf, least significant first
	nacc  uint   // number of pending bits, always < 8 between calls
}

// Reset makes w append to dst, keeping dst's current contents.
func (w *bitWriter) Reset(dst []byte) {
	*w = bitWriter{buf: dst, start: len(dst)}
}

// WriteBits writes the low n bits of v (n ≤ 64); higher bits of v are
// ignored.
func (w *bitWriter) WriteBits(v uint64, n uint) {
	if n > 32 {
		w.writeSmall(v&(1<<32-1), 32)
		v >>= 32
		n -= 32
	}
	w.writeSmall(v, n)
}

// writeSmall writes n ≤ 56 bits: with fewer than 8 bits pending, they
// always fit in the accumulator.
func (w *bitWriter) writeSmall(v uint64, n uint) {
	w.acc |= (v & (1<<n - 1)) << w.nacc
	w.nacc += n
	for w.nacc >= 8 {
		w.buf = append(w.buf, byte(w.acc))
		w.acc >>= 8
		w.nacc -= 8
	}
}

// WriteBool writes one bit.
func (w *bitWriter) WriteBool(b bool) {
	var v uint64
	if b {
		v = 1
	}
	w.writeSmall(v, 1)
}

// WriteUvarint writes v as an Exp-Golomb code of order k (k ≤ 31): a
// prefix of z zero bits and a one bit, then the z low bits of
// q = v>>k + 1 below its leading one, then the k low bits of v. The reader
// learns z by counting zeros, so the prefix is self-delimiting.
func (w *bitWriter) WriteUvarint(v uint32, k uint) {
	q := uint64(v>>k) + 1
	z := uint(bits.Len64(q)) - 1
	w.writeSmall(1<<z, z+1)
	w.writeSmall(q, z) // the leading one of q is implied by the prefix
	w.writeSmall(uint64(v), k)
}

// WriteSvarint writes v zigzag-mapped (0, -1, 1, -2, ... to 0, 1, 2, 3,
// ...) as an Exp-Golomb code of order k, so small magnitudes of either
// sign are short.
func (w *bitWriter) WriteSvarint(v int32, k uint) {
	w.WriteUvarint(zigzag(v), k)
}

// uvarintLen is the number of bits WriteUvarint(v, k) writes.
func uvarintLen(v uint32, k uint) int {
	return 2*(bits.Len64(uint64(v>>k)+1)-1) + 1 + int(k)
}

// svarintLen is the number of bits WriteSvarint(v, k) writes.
func svarintLen(v int32, k uint) int { return uvarintLen(zigzag(v), k) }

// BitLen is the number of bits written since Reset.
func (w *bitWriter) BitLen() int {
	return (len(w.buf)-w.start)*8 + int(w.nacc)
}

// Bytes returns dst as given to Reset followed by the bits written, zero
// padded to a whole byte. Writing may continue afterwards, but then the
// returned slice's last byte may be overwritten.
func (w *bitWriter) Bytes() []byte {
	if w.nacc == 0 {
		return w.buf
	}
	return append(w.buf, byte(w.acc))
}

// bitReader reads bits written by a bitWriter. It never panics: a read
// past the end, or of a malformed variable-length integer, returns zero
// and sets an error that sticks, so a decoder may read a whole record and
// check Err once.
type bitReader struct {
	buf []byte
	pos int // next bit to read
	err error
}

// Reset makes r read b from its first bit and clears the error.
func (r *bitReader) Reset(b []byte) {
	*r = bitReader{buf: b}
}

// Err is the first error met, or nil.
func (r *bitReader) Err() error { return r.err }

// BitsLeft is the number of unread bits.
func (r *bitReader) BitsLeft() int { return len(r.buf)*8 - r.pos }

func (r *bitReader) fail(err error) {
	if r.err == nil {
		r.err = err
	}
	r.pos = len(r.buf) * 8
}

// ReadBits reads n ≤ 64 bits; a larger n is an error.
func (r *bitReader) ReadBits(n uint) uint64 {
	if n > 64 {
		r.fail(errBadWidth)
		return 0
	}
	if n <= 56 {
		return r.readSmall(n)
	}
	lo := r.readSmall(32)
	hi := r.readSmall(n - 32)
	if r.err != nil {
		return 0
	}
	return lo | hi<<32
}

// readSmall reads n ≤ 56 bits.
func (r *bitReader) readSmall(n uint) uint64 {
	if r.err != nil {
		return 0
	}
	if int(n) > r.BitsLeft() {
		r.fail(errBitsExhausted)
		return 0
	}
	v := r.peek56() & (1<<n - 1)
	r.pos += int(n)
	return v
}

// peek56 returns the next 56 unread bits, padded with zeros past the end.
func (r *bitReader) peek56() uint64 {
	i, shift := r.pos>>3, uint(r.pos&7)
	var v uint64
	if i+8 <= len(r.buf) {
		v = binary.LittleEndian.Uint64(r.buf[i:])
	} else {
		for j := 0; i+j < len(r.buf); j++ {
			v |= uint64(r.buf[i+j]) << (8 * j)
		}
	}
	return v >> shift & (1<<56 - 1)
}

// ReadBool reads one bit.
func (r *bitReader) ReadBool() bool { return r.readSmall(1) == 1 }

// ReadUvarint reads an Exp-Golomb code of order k (k ≤ 31) written by
// WriteUvarint. A value that does not fit in 32 bits is an error.
func (r *bitReader) ReadUvarint(k uint) uint32 {
	if r.err != nil {
		return 0
	}
	if k > 31 {
		r.fail(errBadWidth)
		return 0
	}
	z := uint(bits.TrailingZeros64(r.peek56() | 1<<56))
	switch {
	case int(z) >= r.BitsLeft():
		r.fail(errBitsExhausted) // the prefix runs to the end
		return 0
	case z > 32-k:
		r.fail(errVarintTooLong) // cannot encode a 32-bit value
		return 0
	}
	r.pos += int(z) + 1
	q := (1<<z | r.readSmall(z)) - 1
	v := q<<k | r.readSmall(k)
	if r.err != nil {
		return 0
	}
	if v > 1<<32-1 {
		r.fail(errVarintTooLong)
		return 0
	}
	return uint32(v)
}

// ReadSvarint reads a zigzag-mapped Exp-Golomb code written by
// WriteSvarint.
func (r *bitReader) ReadSvarint(k uint) int32 {
	return unzigzag(r.ReadUvarint(k))
}

func zigzag(v int32) uint32   { return uint32(v<<1) ^ uint32(v>>31) }
func unzigzag(u uint32) int32 { return int32(u>>1) ^ -int32(u&1) }
