package snapshot

import (
	"errors"
	"math"
	"math/rand/v2"
	"testing"
)

// bitOp is one write of a random bit-stream test, replayed by the reader.
type bitOp struct {
	kind int // 0 bits, 1 bool, 2 uvarint, 3 svarint
	n    uint
	v    uint64
}

func randomBitOps(rng *rand.Rand, count int) []bitOp {
	ops := make([]bitOp, count)
	for i := range ops {
		op := bitOp{kind: rng.IntN(4)}
		switch op.kind {
		case 0:
			op.n = uint(rng.IntN(65))
			op.v = rng.Uint64() & (1<<op.n - 1)
			if op.n == 64 {
				op.v = rng.Uint64()
			}
		case 1:
			op.v = uint64(rng.IntN(2))
		case 2, 3:
			op.n = uint(rng.IntN(32))
			op.v = uint64(rng.Uint32() >> rng.IntN(33)) // mostly small
		}
		ops[i] = op
	}
	return ops
}

func writeBitOps(w *bitWriter, ops []bitOp) {
	for _, op := range ops {
		switch op.kind {
		case 0:
			w.WriteBits(op.v, op.n)
		case 1:
			w.WriteBool(op.v == 1)
		case 2:
			w.WriteUvarint(uint32(op.v), op.n)
		case 3:
			w.WriteSvarint(int32(uint32(op.v)), op.n)
		}
	}
}

func readBitOp(r *bitReader, op bitOp) uint64 {
	switch op.kind {
	case 0:
		return r.ReadBits(op.n)
	case 1:
		if r.ReadBool() {
			return 1
		}
		return 0
	case 2:
		return uint64(r.ReadUvarint(op.n))
	}
	return uint64(uint32(r.ReadSvarint(op.n)))
}

func TestBitsReadBackWhatWasWritten(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for iter := 0; iter < 2000; iter++ {
		ops := randomBitOps(rng, 1+rng.IntN(40))
		prefix := []byte{0xAA, 0xBB}
		var w bitWriter
		w.Reset(prefix)
		writeBitOps(&w, ops)
		out := w.Bytes()
		if len(out)-len(prefix) != (w.BitLen()+7)/8 {
			t.Fatalf("wrote %d bytes for %d bits", len(out)-len(prefix), w.BitLen())
		}
		if out[0] != 0xAA || out[1] != 0xBB {
			t.Fatalf("prefix overwritten: % x", out[:2])
		}
		var r bitReader
		r.Reset(out[len(prefix):])
		for i, op := range ops {
			if got := readBitOp(&r, op); got != op.v {
				t.Fatalf("iter %d op %d %+v: read %d", iter, i, op, got)
			}
		}
		if r.Err() != nil || r.BitsLeft() >= 8 || r.ReadBits(uint(r.BitsLeft())) != 0 {
			t.Fatalf("iter %d: err %v, %d bits left", iter, r.Err(), r.BitsLeft())
		}
	}
}

func TestVarintLengthsMatchWhatIsWritten(t *testing.T) {
	for _, k := range []uint{0, 1, 2, 5, 31} {
		for _, v := range []uint32{0, 1, 2, 3, 6, 7, 100, 1 << 20, math.MaxUint32 - 1, math.MaxUint32} {
			var w bitWriter
			w.WriteUvarint(v, k)
			if w.BitLen() != uvarintLen(v, k) {
				t.Errorf("uvarint(%d, k=%d): wrote %d bits, uvarintLen says %d", v, k, w.BitLen(), uvarintLen(v, k))
			}
			s := int32(v)
			w = bitWriter{}
			w.WriteSvarint(s, k)
			if w.BitLen() != svarintLen(s, k) {
				t.Errorf("svarint(%d, k=%d): wrote %d bits, svarintLen says %d", s, k, w.BitLen(), svarintLen(s, k))
			}
		}
	}
}

func TestSmallValuesHaveShortCodes(t *testing.T) {
	tests := []struct {
		v    int32
		k    uint
		bits int
	}{
		{0, 0, 1}, {-1, 0, 3}, {1, 0, 3}, {-2, 0, 5}, {2, 0, 5}, {-3, 0, 5}, {4, 0, 7},
		{0, 2, 3}, {1, 2, 3}, {-2, 2, 3}, {2, 2, 5}, {math.MinInt32, 0, 65},
	}
	for _, tt := range tests {
		if got := svarintLen(tt.v, tt.k); got != tt.bits {
			t.Errorf("svarintLen(%d, %d) = %d, want %d", tt.v, tt.k, got, tt.bits)
		}
	}
}

func TestBitReaderErrorIsStickyAndReadsZero(t *testing.T) {
	var r bitReader
	r.Reset([]byte{0xFF})
	if r.ReadBits(6) != 0x3F {
		t.Fatal("first read wrong")
	}
	if r.ReadBits(3) != 0 || !errors.Is(r.Err(), errBitsExhausted) {
		t.Fatalf("overlong read: err %v", r.Err())
	}
	if r.ReadBool() || r.ReadUvarint(0) != 0 || r.BitsLeft() != 0 {
		t.Fatal("reads after an error must return zero and leave no bits")
	}
}

func TestBitReaderRejectsMalformedVarints(t *testing.T) {
	tests := []struct {
		name string
		in   []byte
		k    uint
		want error
	}{
		{"empty", nil, 0, errBitsExhausted},
		{"prefix runs to the end", []byte{0, 0}, 0, errBitsExhausted},
		{"prefix longer than 32 bits", []byte{0, 0, 0, 0, 0, 1}, 0, errVarintTooLong},
		{"prefix too long for the order", []byte{0, 0, 0, 0x01, 0xFF, 0xFF}, 9, errVarintTooLong},
		{"value above 32 bits", []byte{0, 0, 0, 0, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF}, 0, errVarintTooLong},
		{"order out of range", []byte{0xFF}, 32, errBadWidth},
		{"suffix truncated", []byte{0x10}, 0, errBitsExhausted},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var r bitReader
			r.Reset(tt.in)
			if v := r.ReadUvarint(tt.k); v != 0 || !errors.Is(r.Err(), tt.want) {
				t.Fatalf("read %d, err %v, want %v", v, r.Err(), tt.want)
			}
		})
	}
}

func TestLargestVarintRoundTrips(t *testing.T) {
	var w bitWriter
	w.WriteUvarint(math.MaxUint32, 0)
	w.WriteUvarint(math.MaxUint32, 31)
	var r bitReader
	r.Reset(w.Bytes())
	if a, b := r.ReadUvarint(0), r.ReadUvarint(31); a != math.MaxUint32 || b != math.MaxUint32 || r.Err() != nil {
		t.Fatalf("read %d, %d, err %v", a, b, r.Err())
	}
}

func TestBitWriterAppendsWithoutAllocating(t *testing.T) {
	buf := make([]byte, 0, 64)
	var w bitWriter
	allocs := testing.AllocsPerRun(100, func() {
		w.Reset(buf[:0])
		for i := 0; i < 20; i++ {
			w.WriteUvarint(uint32(i), 1)
			w.WriteBits(0x5, 3)
		}
		_ = w.Bytes()
	})
	if allocs != 0 {
		t.Fatalf("%v allocations per run", allocs)
	}
}
