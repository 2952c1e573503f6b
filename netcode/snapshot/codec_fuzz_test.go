package snapshot

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/tickwire/tickwire/game"
	"github.com/tickwire/tickwire/netcode/internal/arenatest"
	"github.com/tickwire/tickwire/netcode/wire"
)

var writeFuzzSeeds = flag.Bool("write-fuzz-seeds", false, "rewrite the seed corpus under testdata/fuzz")

// fuzzFixture is a small world: a client's reconstruction at one tick
// (the baseline the fuzzer decodes against) and valid payloads, full and
// delta, to seed the corpus with.
type fuzzFixture struct {
	base   *game.Snapshot
	seeds  [][]byte // payloads; the first is full, the others deltas
	params game.Params
}

func newFuzzFixture(tb testing.TB) *fuzzFixture {
	world := arenatest.NewWorld(21, 12)
	world.Churn, world.LostInput = 0.2, 0.1
	for range 40 {
		world.Step()
	}
	fx := &fuzzFixture{}
	var enc Encoder
	server := world.Snapshot()
	fx.base = expectedView(fx.params, server, 0, 0)
	full, err := enc.Encode(nil, server, nil, 0)
	if err != nil {
		tb.Fatal(err)
	}
	fx.seeds = append(fx.seeds, full)
	for range 3 {
		for range 4 {
			world.Step()
		}
		delta, err := enc.Encode(nil, world.Snapshot(), server, 0)
		if err != nil {
			tb.Fatal(err)
		}
		fx.seeds = append(fx.seeds, delta)
	}
	return fx
}

func FuzzDecodeSnapshot(f *testing.F) {
	fx := newFuzzFixture(f)
	for i, s := range fx.seeds {
		f.Add(s, i > 0)
	}
	f.Add([]byte{}, false)
	f.Add([]byte{0xFF, 0xFF, 0xFF, 0xFF, 0xFF}, true)
	var dec Decoder
	var enc Encoder
	var got, again game.Snapshot
	f.Fuzz(func(t *testing.T, payload []byte, withBase bool) {
		var base *game.Snapshot
		if withBase {
			base = fx.base
		}
		err := dec.Decode(&got, payload, base)
		if err != nil {
			if !errors.Is(err, wire.ErrMalformed) {
				t.Fatalf("error does not wrap wire.ErrMalformed: %v", err)
			}
			return
		}
		checkDecodedBounds(t, &got)
		// Whatever decodes is something the encoder can say again, the
		// same way: the decoder accepts nothing outside the format.
		re, err := enc.Encode(nil, &got, base, 0)
		if err != nil {
			t.Fatalf("decoded snapshot does not re-encode: %v", err)
		}
		if err := dec.Decode(&again, re, base); err != nil {
			t.Fatalf("re-encoded snapshot does not decode: %v", err)
		}
		if diff := arenatest.Diff(&again, &got); diff != "" {
			t.Fatalf("re-encoded snapshot differs: %s", diff)
		}
	})
}

func checkDecodedBounds(t *testing.T, s *game.Snapshot) {
	t.Helper()
	if len(s.Players) > MaxSnapshotPlayers || len(s.Projectiles) > MaxSnapshotProjectiles {
		t.Fatalf("%d players, %d projectiles exceed the caps", len(s.Players), len(s.Projectiles))
	}
	if cap(s.Players) > 2*MaxSnapshotPlayers || cap(s.Projectiles) > 2*MaxSnapshotProjectiles {
		t.Fatalf("capacity grew to %d players, %d projectiles", cap(s.Players), cap(s.Projectiles))
	}
}

// FuzzBitReader reads stream with the operations ops describes (two
// bytes each: kind and width), checking that the reader never panics,
// that its error sticks, and that every value it returns is one the
// writer would have written with exactly the bits consumed.
func FuzzBitReader(f *testing.F) {
	f.Add([]byte{0, 8, 1, 0, 2, 0, 3, 2}, []byte{0xA5, 0x01, 0x80})
	f.Add([]byte{0, 64, 0, 65, 2, 31, 2, 40}, []byte{0, 0, 0, 0, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF})
	f.Add([]byte{2, 0, 2, 0, 2, 0}, []byte{0x10})
	f.Fuzz(func(t *testing.T, ops, stream []byte) {
		var r bitReader
		r.Reset(stream)
		var w bitWriter
		for i := 0; i+1 < len(ops); i += 2 {
			op := bitOp{kind: int(ops[i] % 4), n: uint(ops[i+1])}
			before := r.BitsLeft()
			v := readBitOp(&r, op)
			checkReaderStep(t, &r, before, v)
			if r.Err() != nil {
				break
			}
			op.v = v
			writeBitOps(&w, []bitOp{op})
		}
		consumed := len(stream)*8 - r.BitsLeft()
		if r.Err() == nil && !samePrefixBits(w.Bytes(), stream, consumed) {
			t.Fatalf("re-writing what was read gives % x, read % x (%d bits)", w.Bytes(), stream, consumed)
		}
	})
}

func checkReaderStep(t *testing.T, r *bitReader, before int, v uint64) {
	t.Helper()
	if r.BitsLeft() < 0 || r.BitsLeft() > before {
		t.Fatalf("bits left went from %d to %d", before, r.BitsLeft())
	}
	if r.Err() != nil && (v != 0 || r.BitsLeft() != 0) {
		t.Fatalf("failed read returned %d with %d bits left", v, r.BitsLeft())
	}
}

func samePrefixBits(a, b []byte, n int) bool {
	for i := 0; i < n; i++ {
		if a[i/8]>>(i%8)&1 != b[i/8]>>(i%8)&1 {
			return false
		}
	}
	return true
}

// TestWriteFuzzSeedCorpus rewrites testdata/fuzz/FuzzDecodeSnapshot from
// the fixture when run with -write-fuzz-seeds (after a format change).
func TestWriteFuzzSeedCorpus(t *testing.T) {
	if !*writeFuzzSeeds {
		t.Skip("run with -write-fuzz-seeds to rewrite the corpus")
	}
	fx := newFuzzFixture(t)
	dir := filepath.Join("testdata", "fuzz", "FuzzDecodeSnapshot")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for i, s := range fx.seeds {
		name := "valid_delta_" + fmt.Sprint(i)
		if i == 0 {
			name = "valid_full"
		}
		body := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\nbool(%v)\n", s, i > 0)
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// TestCommittedValidSeedsStillDecode keeps the seed corpus honest: after a
// format change its valid_* entries must be rewritten, or they would
// quietly become invalid ones.
func TestCommittedValidSeedsStillDecode(t *testing.T) {
	fx := newFuzzFixture(t)
	files, err := filepath.Glob(filepath.Join("testdata", "fuzz", "FuzzDecodeSnapshot", "valid_*"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no valid seeds found (%v)", err)
	}
	for _, name := range files {
		payload, withBase := readSeed(t, name)
		var base *game.Snapshot
		if withBase {
			base = fx.base
		}
		var dec Decoder
		var got game.Snapshot
		if err := dec.Decode(&got, payload, base); err != nil {
			t.Errorf("%s: %v (rewrite with -write-fuzz-seeds)", name, err)
		}
	}
}

// readSeed parses a corpus file of FuzzDecodeSnapshot.
func readSeed(t *testing.T, name string) ([]byte, bool) {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[1], "[]byte(") || !strings.HasPrefix(lines[2], "bool(") {
		t.Fatalf("%s: unexpected corpus format", name)
	}
	s, err := strconv.Unquote(strings.TrimSuffix(strings.TrimPrefix(lines[1], "[]byte("), ")"))
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return []byte(s), lines[2] == "bool(true)"
}

// TestTruncatedPayloadsAreRejected cuts valid payloads (full and delta,
// with and without AOI) at every byte: no prefix decodes, every failure
// wraps wire.ErrMalformed, and the decoder's snapshot never grows past what
// the whole payload needed.
func TestTruncatedPayloadsAreRejected(t *testing.T) {
	for _, aoi := range []float64{0, 300} {
		world := arenatest.NewWorld(31, 150)
		base := world.Steps(50)
		cur := world.Steps(3)
		params := world.Params
		enc := Encoder{Params: params, AOIRadius: aoi}
		viewer := cur.Players[0].ID
		full, err := enc.Encode(nil, base, nil, viewer)
		if err != nil {
			t.Fatal(err)
		}
		dec := Decoder{Params: params}
		var clientBase game.Snapshot
		if err := dec.Decode(&clientBase, full, nil); err != nil {
			t.Fatal(err)
		}
		delta, err := enc.Encode(nil, cur, base, viewer)
		if err != nil {
			t.Fatal(err)
		}
		for _, tc := range []struct {
			payload []byte
			base    *game.Snapshot
		}{{full, nil}, {delta, &clientBase}} {
			var got game.Snapshot
			for n := range len(tc.payload) {
				err := dec.Decode(&got, tc.payload[:n], tc.base)
				if !errors.Is(err, wire.ErrMalformed) {
					t.Fatalf("aoi %v: %d of %d bytes: err %v, want malformed", aoi, n, len(tc.payload), err)
				}
				if len(got.Players) > len(cur.Players)+len(base.Players) || len(got.Projectiles) > len(cur.Projectiles)+len(base.Projectiles) {
					t.Fatalf("a truncated payload grew the snapshot to %d players, %d projectiles", len(got.Players), len(got.Projectiles))
				}
			}
		}
	}
}
