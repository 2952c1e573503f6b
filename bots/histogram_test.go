package bots

import (
	"encoding/json"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
)

// latencies draws n input-to-ack-like latencies: mostly tens of
// milliseconds, a long tail to seconds, a few below a millisecond.
func latencies(rng *rand.Rand, n int) []time.Duration {
	out := make([]time.Duration, n)
	for i := range out {
		switch r := rng.Float64(); {
		case r < 0.01:
			out[i] = time.Duration(rng.IntN(1000)) * time.Microsecond
		case r < 0.98:
			out[i] = 20*time.Millisecond + time.Duration(rng.NormFloat64()*float64(8*time.Millisecond))
		default:
			out[i] = time.Duration(rng.ExpFloat64() * float64(time.Second))
		}
	}
	return out
}

var testQuantiles = []float64{0, 0.001, 0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.99, 0.999, 1}

// TestMergedQuantilesEqualThoseOfAllSamples: samples recorded in several
// histograms (each through its JSON, as shards hand them over) and merged
// give the quantiles of one histogram fed every sample, exactly; and
// those are within the 0.1 % precision of the exact sample quantiles.
func TestMergedQuantilesEqualThoseOfAllSamples(t *testing.T) {
	for _, parts := range []int{1, 2, 3, 7} {
		rng := rand.New(rand.NewPCG(uint64(parts), 9))
		all := latencies(rng, 20000)
		whole := &Histogram{}
		shards := make([]*Histogram, parts)
		for i := range shards {
			shards[i] = &Histogram{}
		}
		for _, d := range all {
			whole.Record(d)
			shards[rng.IntN(parts)].Record(d)
		}
		merged := &Histogram{}
		for _, sh := range shards {
			data, err := json.Marshal(sh)
			if err != nil {
				t.Fatal(err)
			}
			var back Histogram
			if err := json.Unmarshal(data, &back); err != nil {
				t.Fatal(err)
			}
			if err := merged.Merge(&back); err != nil {
				t.Fatal(err)
			}
		}
		if merged.Count() != int64(len(all)) {
			t.Fatalf("%d parts: merged count %d, want %d", parts, merged.Count(), len(all))
		}
		sorted := slices.Clone(all)
		slices.Sort(sorted)
		for _, q := range testQuantiles {
			got, want := merged.Quantile(q), whole.Quantile(q)
			if got != want {
				t.Errorf("%d parts: q%g merged %v, one histogram %v", parts, q, got, want)
			}
			exact := max(sorted[max(0, int(q*float64(len(sorted)))-1)], 0)
			if diff := (got - exact).Abs(); diff > exact/500+time.Microsecond && q > 0 && q < 1 {
				t.Errorf("%d parts: q%g %v, exact sample quantile %v: beyond the precision", parts, q, got, exact)
			}
		}
	}
}

// TestHistogramClampsOutOfRangeDurations: negative and huge durations are
// counted at the bounds, not lost.
func TestHistogramClampsOutOfRangeDurations(t *testing.T) {
	var h Histogram
	h.Record(-time.Second)
	h.Record(3 * time.Hour)
	if h.Count() != 2 || h.Quantile(0) != 0 || h.Quantile(1) < time.Hour*999/1000 {
		t.Fatalf("count %d, min %v, max %v", h.Count(), h.Quantile(0), h.Quantile(1))
	}
	var empty Histogram
	if empty.Count() != 0 || empty.Quantile(0.99) != 0 {
		t.Fatal("an empty histogram has samples")
	}
}

func TestHistogramRefusesAnotherGeometry(t *testing.T) {
	other := hdrhistogram.New(1, 1000, 2)
	_ = other.RecordValue(5)
	enc, err := other.Encode(hdrhistogram.V2CompressedEncodingCookieBase)
	if err != nil {
		t.Fatal(err)
	}
	var h Histogram
	if err := json.Unmarshal([]byte(`"`+string(enc)+`"`), &h); err == nil {
		t.Fatal("a histogram of 1..1000 at 2 digits was accepted")
	}
}

// TestRecordingAllocatesNothing: the swarm records from every bot's
// reader goroutine; a record must cost no garbage.
func TestRecordingAllocatesNothing(t *testing.T) {
	var h Histogram
	d := 37 * time.Millisecond
	if n := testing.AllocsPerRun(1000, func() { h.Record(d); d += time.Microsecond }); n != 0 {
		t.Fatalf("Record allocates %v times per call", n)
	}
}

func BenchmarkHistogramRecord(b *testing.B) {
	var h Histogram
	h.Record(0)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		d := 20 * time.Millisecond
		for pb.Next() {
			h.Record(d)
			d = (d + 7*time.Microsecond) % time.Second
		}
	})
}
