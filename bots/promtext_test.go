package bots

import (
	"math"
	"os"
	"testing"
)

func TestParseExpositionReadsCannedServerMetrics(t *testing.T) {
	data, err := os.ReadFile("testdata/metrics.txt")
	if err != nil {
		t.Fatal(err)
	}
	samples, err := parseExposition(data)
	if err != nil {
		t.Fatal(err)
	}
	if len(samples) != 16 {
		t.Fatalf("%d samples, want 16", len(samples))
	}
	last := samples[len(samples)-1]
	if last.Name != "weird_escapes" || last.Label("path") != `C:\dir` || last.Label("msg") != "say \"hi\"\n" ||
		last.Label("empty") != "" || !math.IsInf(last.Value, -1) {
		t.Fatalf("escaped sample parsed as %+v", last)
	}
	sc := summarizeScrape(samples)
	if !sc.hasHist || sc.buckets[math.Inf(1)] != 100 || sc.max != 0.0071 || sc.missed != 3 || sc.ticks != 100 {
		t.Fatalf("summary %+v", sc)
	}
	var r ServerReport
	r.windowFigures(serverScrape{buckets: map[float64]float64{}}, sc)
	// p50: rank 50 falls in (0.5ms, 1ms] holding 50 of 10..60: 0.5 + 0.5·40/50.
	if got := *r.TickP50Ms; math.Abs(got-0.9) > 1e-9 {
		t.Errorf("tick p50 %.4fms, want 0.9ms", got)
	}
	// p99: rank 99 is the top of (2ms, 4ms].
	if got := *r.TickP99Ms; math.Abs(got-4) > 1e-9 {
		t.Errorf("tick p99 %.4fms, want 4ms", got)
	}
	if math.Abs(*r.TickMaxMs-7.1) > 1e-9 || *r.MissedTicks != 3 || *r.Ticks != 100 {
		t.Errorf("max %v missed %v ticks %v", *r.TickMaxMs, *r.MissedTicks, *r.Ticks)
	}
}

func TestServerFiguresAreDeltasOverTheWindow(t *testing.T) {
	a := serverScrape{hasHist: true, hasMissed: true, missed: 5, hasTicks: true, ticks: 1000,
		buckets: map[float64]float64{0.001: 900, 0.01: 1000, math.Inf(1): 1000}}
	b := serverScrape{hasHist: true, hasMissed: true, missed: 7, hasTicks: true, ticks: 1300,
		buckets: map[float64]float64{0.001: 900, 0.01: 1300, math.Inf(1): 1300}}
	a.hasInputs, a.inputs = true, inputCounts{applied: 5000, late: 40, stale: 1}
	b.hasInputs, b.inputs = true, inputCounts{applied: 35000, late: 340, stale: 1}
	var r ServerReport
	r.windowFigures(a, b)
	// Every tick of the window took 1 to 10 ms: p50 is inside that bucket.
	if *r.TickP50Ms <= 1 || *r.TickP50Ms > 10 {
		t.Errorf("p50 %.3fms, want within (1ms, 10ms]", *r.TickP50Ms)
	}
	if *r.MissedTicks != 2 || *r.Ticks != 300 {
		t.Errorf("missed %v ticks %v, want 2 and 300", *r.MissedTicks, *r.Ticks)
	}
	if *r.InputsApplied != 30000 || *r.InputsLate != 300 || *r.InputsStale != 0 {
		t.Errorf("inputs applied %v late %v stale %v, want 30000, 300 and 0", *r.InputsApplied, *r.InputsLate, *r.InputsStale)
	}
}

// The server's input results are summed over rooms by result; the
// others (duplicate, future, dropped) say nothing about the lead.
func TestScrapeSumsInputResultsOverRooms(t *testing.T) {
	samples, err := parseExposition([]byte(`tickwire_inputs_total{result="applied",room="a"} 100
tickwire_inputs_total{result="applied",room="b"} 50
tickwire_inputs_total{result="late",room="a"} 2
tickwire_inputs_total{result="late",room="b"} 1
tickwire_inputs_total{result="stale",room="b"} 4
tickwire_inputs_total{result="duplicate",room="a"} 900
`))
	if err != nil {
		t.Fatal(err)
	}
	sc := summarizeScrape(samples)
	if want := (inputCounts{applied: 150, late: 3, stale: 4}); !sc.hasInputs || sc.inputs != want {
		t.Fatalf("inputs %+v (has %v), want %+v", sc.inputs, sc.hasInputs, want)
	}
}

func TestBucketQuantileInInfBucketGivesLargestBound(t *testing.T) {
	q, ok := bucketQuantile(map[float64]float64{0.001: 1, math.Inf(1): 100}, 0.99)
	if !ok || q != 0.001 {
		t.Fatalf("got %v %v, want 0.001", q, ok)
	}
	if _, ok := bucketQuantile(map[float64]float64{math.Inf(1): 0}, 0.5); ok {
		t.Fatal("empty histogram gave a quantile")
	}
}

func TestParseExpositionRejectsMalformedLines(t *testing.T) {
	for _, line := range []string{
		"1abc 3",
		`m{a="x} 1`,
		`m{a=x} 1`,
		`m{a="x"`,
		`m{a="\q"} 1`,
		"m",
		"m 1 2 3",
		"m one",
		"m 1 notatime",
		`m{="x"} 1`,
	} {
		if _, err := parseExposition([]byte(line + "\n")); err == nil {
			t.Errorf("%q parsed", line)
		}
	}
}

func FuzzParseExposition(f *testing.F) {
	if data, err := os.ReadFile("testdata/metrics.txt"); err == nil {
		f.Add(data)
	}
	f.Add([]byte("a{b=\"c\\\\\"} 1\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		samples, err := parseExposition(data)
		if err != nil {
			return
		}
		sc := summarizeScrape(samples)
		var r ServerReport
		r.windowFigures(serverScrape{buckets: map[float64]float64{}}, sc)
		for _, name := range []string{"le", "room"} {
			for i := range samples {
				_ = samples[i].Label(name)
			}
		}
	})
}
