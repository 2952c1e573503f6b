package replay

import (
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"testing"

	"github.com/tickwire/tickwire/game"
)

func TestEveryTickReadsBackAsRecorded(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts WriterOptions
	}{
		{"zstd", WriterOptions{}},
		{"uncompressed", WriterOptions{Uncompressed: true}},
		{"key frame every tick", WriterOptions{KeyEvery: 1, FlushEvery: 3}},
		{"one block per tick", WriterOptions{FlushEvery: 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := record(t, 20, 400, tc.opts)
			r := open(t, rec.file)
			if r.Err() != nil {
				t.Fatalf("a closed recording reports %v", r.Err())
			}
			if h := r.Header(); h != rec.header {
				t.Fatalf("header %+v, want %+v", h, rec.header)
			}
			var got game.Snapshot
			for i, tick := range rec.ticks {
				if err := r.Next(&got); err != nil {
					t.Fatalf("tick %d: %v", tick, err)
				}
				if d := sameSnapshot(&got, rec.truth[tick]); d != "" {
					t.Fatalf("record %d: %s", i, d)
				}
				checkRoster(t, r, rec.names[tick], tick)
			}
			if err := r.Next(&got); err != io.EOF {
				t.Fatalf("after the last tick: %v, want io.EOF", err)
			}
			if r.FirstTick() != rec.ticks[0] || r.LastTick() != rec.ticks[len(rec.ticks)-1] {
				t.Fatalf("ticks %d..%d, want %d..%d", r.FirstTick(), r.LastTick(), rec.ticks[0], rec.ticks[len(rec.ticks)-1])
			}
		})
	}
}

func checkRoster(t *testing.T, r *Reader, want map[game.EntityID]string, tick uint32) {
	t.Helper()
	n := 0
	r.Roster(func(id game.EntityID, name string) {
		n++
		if want[id] != name {
			t.Fatalf("tick %d: roster has %d as %q, want %q", tick, id, name, want[id])
		}
	})
	if n != len(want) {
		t.Fatalf("tick %d: roster of %d, want %d", tick, n, len(want))
	}
}

func TestSeekLandsOnAnyTick(t *testing.T) {
	rec := record(t, 30, 900, WriterOptions{})
	r := open(t, rec.file)
	if k := r.KeyFrames(); len(k) != 6 || k[0] != 1 || k[1] != 151 {
		t.Fatalf("key frames at %v, want every 150 ticks from 1", k)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	var got game.Snapshot
	for range 200 {
		tick := rec.ticks[rng.IntN(len(rec.ticks))]
		if err := r.StateAt(tick, &got); err != nil {
			t.Fatalf("tick %d: %v", tick, err)
		}
		if d := sameSnapshot(&got, rec.truth[tick]); d != "" {
			t.Fatal(d)
		}
		checkRoster(t, r, rec.names[tick], tick)
		// And on from there.
		if err := r.Next(&got); err == nil {
			if d := sameSnapshot(&got, rec.truth[tick+1]); d != "" {
				t.Fatalf("after a seek: %s", d)
			}
		} else if err != io.EOF {
			t.Fatal(err)
		}
	}
	if err := r.StateAt(0, &got); err != nil || got.Tick != rec.ticks[0] {
		t.Fatalf("seek before the start: tick %d, %v", got.Tick, err)
	}
	if err := r.StateAt(rec.ticks[len(rec.ticks)-1]+5, &got); err != io.EOF {
		t.Fatalf("seek past the end: %v, want io.EOF", err)
	}
}

// TestSkippedTicksReadBack: a recorder that fell behind drops ticks;
// the next one deltas against the last one written.
func TestSkippedTicksReadBack(t *testing.T) {
	m := newMatch(t, 10, 3)
	var buf bytes.Buffer
	w, err := NewWriter(&buf, Header{Room: "gaps", Params: m.world.Params()}, WriterOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var kept []*game.Snapshot
	for i := range 300 {
		s := m.step()
		if i%7 == 3 || i%11 == 0 {
			continue
		}
		if err := w.WriteTick(s); err != nil {
			t.Fatal(err)
		}
		c := &game.Snapshot{}
		c.CopyFrom(s)
		kept = append(kept, c)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	r := open(t, buf.Bytes())
	var got game.Snapshot
	for _, want := range kept {
		if err := r.Next(&got); err != nil {
			t.Fatal(err)
		}
		if got.Tick != want.Tick || len(got.Players) != len(want.Players) {
			t.Fatalf("tick %d, want %d", got.Tick, want.Tick)
		}
	}
}

func TestWriterRefusesOldTicks(t *testing.T) {
	m := newMatch(t, 2, 1)
	w, err := NewWriter(io.Discard, Header{Params: m.world.Params()}, WriterOptions{})
	if err != nil {
		t.Fatal(err)
	}
	s := m.step()
	if err := w.WriteTick(s); err != nil {
		t.Fatal(err)
	}
	if err := w.WriteTick(s); err == nil {
		t.Fatal("the same tick twice was accepted")
	}
}

// TestTruncatedRecordingPlaysToTheCut cuts a real recording at many
// offsets: each plays back, tick for tick, up to the last whole block
// before the cut and reports the cut as ErrTruncated with that tick;
// one cut before the first key frame is whole fails to open, as
// truncated.
func TestTruncatedRecordingPlaysToTheCut(t *testing.T) {
	rec := record(t, 20, 200, WriterOptions{FlushEvery: 10})
	full := rec.file
	// Where each block ends, and the last tick held whole by then.
	type end struct {
		off  int
		tick uint32
	}
	var ends []end
	{
		r := open(t, full)
		for _, b := range r.blocks {
			ends = append(ends, end{int(b.off) + int(b.storedLen), b.last})
		}
	}
	lastWhole := func(cut int) uint32 {
		var tick uint32
		for _, e := range ends {
			if e.off <= cut {
				tick = e.tick
			}
		}
		return tick
	}
	var cuts []int
	for c := 0; c < 300; c++ {
		cuts = append(cuts, c)
	}
	for c := 300; c < len(full); c += 37 {
		cuts = append(cuts, c)
	}
	for _, e := range ends {
		cuts = append(cuts, e.off-1, e.off, e.off+1)
	}
	cuts = append(cuts, len(full)-1)
	for _, cut := range cuts {
		if cut < 0 || cut >= len(full) {
			continue
		}
		b := full[:cut]
		want := lastWhole(cut)
		r, err := Open(bytes.NewReader(b), int64(len(b)))
		if want == 0 {
			if !errors.Is(err, ErrTruncated) {
				t.Fatalf("cut at %d, before any tick: %v, want ErrTruncated", cut, err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("cut at %d: %v", cut, err)
		}
		var te *TruncatedError
		if !errors.As(r.Err(), &te) || !errors.Is(r.Err(), ErrTruncated) || te.LastTick != want {
			t.Fatalf("cut at %d: Err() = %v, want truncated at tick %d", cut, r.Err(), want)
		}
		n := 0
		var got game.Snapshot
		for {
			err := r.Next(&got)
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("cut at %d: %v", cut, err)
			}
			if d := sameSnapshot(&got, rec.truth[got.Tick]); d != "" {
				t.Fatalf("cut at %d: %s", cut, d)
			}
			n++
		}
		if got.Tick != want || n != int(want-rec.ticks[0]+1) {
			t.Fatalf("cut at %d: played %d ticks to tick %d, want to %d", cut, n, got.Tick, want)
		}
		_ = r.Close()
	}
}

func TestDamageIsCaught(t *testing.T) {
	rec := record(t, 5, 100, WriterOptions{})
	for _, tc := range []struct {
		name string
		edit func(b []byte) []byte
	}{
		{"not a recording", func(b []byte) []byte { b[0] = 'X'; return b }},
		{"another version", func(b []byte) []byte { b[len(Magic)] = 9; return b }},
		{"a flipped bit in the header block", func(b []byte) []byte { b[len(Magic)+1+blockHeaderSize+3] ^= 4; return b }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := tc.edit(bytes.Clone(rec.file))
			if _, err := Open(bytes.NewReader(b), int64(len(b))); !errors.Is(err, ErrCorrupt) {
				t.Fatalf("got %v, want ErrCorrupt", err)
			}
		})
	}
	t.Run("a flipped bit in a later block", func(t *testing.T) {
		b := bytes.Clone(rec.file)
		b[len(b)-blockHeaderSize-10] ^= 1
		r, err := Open(bytes.NewReader(b), int64(len(b)))
		if err != nil {
			t.Fatal(err)
		}
		if !errors.Is(r.Err(), ErrCorrupt) {
			t.Fatalf("Err() = %v, want ErrCorrupt", r.Err())
		}
	})
}

func TestWriteStoredKeepsEveryTick(t *testing.T) {
	rec := record(t, 10, 200, WriterOptions{})
	for _, tc := range []struct {
		name string
		file []byte
	}{{"whole", rec.file}, {"truncated", rec.file[:len(rec.file)*2/3]}} {
		t.Run(tc.name, func(t *testing.T) {
			src := open(t, tc.file)
			var buf bytes.Buffer
			if err := src.WriteStored(&buf); err != nil {
				t.Fatal(err)
			}
			r := open(t, buf.Bytes())
			if (r.Err() == nil) != (src.Err() == nil) || r.LastTick() != src.LastTick() {
				t.Fatalf("stored copy: last tick %d, %v; source %d, %v", r.LastTick(), r.Err(), src.LastTick(), src.Err())
			}
			for _, b := range r.blocks {
				if b.codec != codecNone {
					t.Fatalf("a block of codec %d", b.codec)
				}
			}
			var got game.Snapshot
			for {
				if err := r.Next(&got); err == io.EOF {
					break
				} else if err != nil {
					t.Fatal(err)
				}
				if d := sameSnapshot(&got, rec.truth[got.Tick]); d != "" {
					t.Fatal(d)
				}
			}
			if got.Tick != src.LastTick() {
				t.Fatalf("played to %d, want %d", got.Tick, src.LastTick())
			}
		})
	}
}
