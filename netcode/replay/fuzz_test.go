package replay

import (
	"bytes"
	"errors"
	"io"
	"testing"

	"github.com/tickwire/tickwire/game"
)

// FuzzReader opens arbitrary bytes as a recording and plays and seeks
// them: the reader never panics, fails only with ErrTruncated or
// ErrCorrupt, and keeps its memory bounded whatever the lengths say.
func FuzzReader(f *testing.F) {
	for _, opts := range []WriterOptions{{Uncompressed: true, FlushEvery: 4, KeyEvery: 9}, {FlushEvery: 5}} {
		rec := record(f, 3, 20, opts)
		f.Add(rec.file)
		f.Add(rec.file[:len(rec.file)/2])
	}
	f.Add([]byte(Magic))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := Open(bytes.NewReader(b), int64(len(b)))
		if err != nil {
			if !errors.Is(err, ErrTruncated) && !errors.Is(err, ErrCorrupt) {
				t.Fatalf("Open: %v wraps neither ErrTruncated nor ErrCorrupt", err)
			}
			return
		}
		defer r.Close()
		if e := r.Err(); e != nil && !errors.Is(e, ErrTruncated) && !errors.Is(e, ErrCorrupt) {
			t.Fatalf("Err: %v", e)
		}
		var s game.Snapshot
		check := func(err error) bool {
			if err == nil {
				return true
			}
			if err != io.EOF && !errors.Is(err, ErrCorrupt) {
				t.Fatalf("%v wraps neither io.EOF nor ErrCorrupt", err)
			}
			return false
		}
		prev := uint32(0)
		for i := 0; i < 10_000 && check(r.Next(&s)); i++ {
			if s.Tick <= prev && i > 0 {
				t.Fatalf("tick %d after %d", s.Tick, prev)
			}
			prev = s.Tick
		}
		for _, tick := range []uint32{0, r.FirstTick(), (r.FirstTick() + r.LastTick()) / 2, r.LastTick()} {
			check(r.StateAt(tick, &s))
		}
	})
}

// FuzzChunk frames arbitrary bytes as a well-formed file's one chunk
// (checksums right), so that the fuzzer reaches the records behind the
// checksum FuzzReader mostly stops at.
func FuzzChunk(f *testing.F) {
	rec := record(f, 3, 12, WriterOptions{Uncompressed: true, FlushEvery: 100})
	r, err := Open(bytes.NewReader(rec.file), int64(len(rec.file)))
	if err != nil {
		f.Fatal(err)
	}
	b := r.blocks[0]
	f.Add(rec.file[b.off:b.off+int64(b.storedLen)], uint32(1), uint32(12))
	f.Add([]byte{recSnapshot, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0x80}, uint32(1), uint32(1))
	params := r.Params()
	f.Fuzz(func(t *testing.T, chunk []byte, first, last uint32) {
		var buf bytes.Buffer
		w, err := NewWriter(&buf, Header{Room: "fuzz", Params: params}, WriterOptions{Uncompressed: true})
		if err != nil {
			t.Fatal(err)
		}
		if err := w.writeBlock(kindChunk, flagKey, first, last, chunk, false); err != nil {
			t.Fatal(err)
		}
		if err := w.writeBlock(kindEnd, 0, last, last, nil, false); err != nil {
			t.Fatal(err)
		}
		r, err := Open(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("Open: %v", err)
			}
			return
		}
		var s game.Snapshot
		for range 1000 {
			if err := r.Next(&s); err != nil {
				if err != io.EOF && !errors.Is(err, ErrCorrupt) {
					t.Fatalf("Next: %v", err)
				}
				break
			}
		}
	})
}
