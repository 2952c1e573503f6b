package replay

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/tickwire/tickwire/game"
)

// BenchmarkSeek seeks to random ticks of a 2-minute recording of 100
// players at 30 Hz with the default key frames (every 5 s): a seek
// decompresses the blocks from the key frame before the tick and
// decodes up to KeyEvery deltas.
func BenchmarkSeek(b *testing.B) {
	rec := record(b, 100, 2*60*30, WriterOptions{})
	r := open(b, rec.file)
	rng := rand.New(rand.NewPCG(3, 4))
	var s game.Snapshot
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		tick := rec.ticks[rng.IntN(len(rec.ticks))]
		if err := r.StateAt(tick, &s); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/seek")
}

// BenchmarkNext is playback's steady cost: the next tick.
func BenchmarkNext(b *testing.B) {
	rec := record(b, 100, 60*30, WriterOptions{})
	r := open(b, rec.file)
	var s game.Snapshot
	b.ReportAllocs()
	for b.Loop() {
		if err := r.Next(&s); err != nil {
			if err := r.Seek(0); err != nil {
				b.Fatal(err)
			}
		}
	}
}

// TestRecordingSizePerMinute records a 10-minute match of 100 benchmark
// bots at 30 Hz and logs the bytes per minute, compressed and not; it
// fails if a minute grows past 1 MB, which would make a day of matches
// a storage problem.
func TestRecordingSizePerMinute(t *testing.T) {
	if testing.Short() {
		t.Skip("10 minutes of simulation")
	}
	const minutes = 10
	start := time.Now()
	for _, tc := range []struct {
		name string
		opts WriterOptions
	}{
		{"zstd, key frames every 5 s", WriterOptions{}},
		{"zstd, key frames every 10 s", WriterOptions{KeyEvery: 300}},
		{"uncompressed, key frames every 5 s", WriterOptions{Uncompressed: true}},
	} {
		rec := record(t, 100, minutes*60*30, tc.opts)
		perMin := float64(len(rec.file)) / minutes
		t.Logf("%s: %d bytes for %d minutes: %.0f bytes/minute (%.0f B/s)", tc.name, len(rec.file), minutes, perMin, perMin/60)
		if perMin > 1e6 {
			t.Errorf("%s: %.0f bytes a minute", tc.name, perMin)
		}
	}
	t.Logf("took %v", time.Since(start).Round(time.Millisecond))
}
