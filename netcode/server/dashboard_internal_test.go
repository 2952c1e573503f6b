package server

import (
	"math"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tickwire/tickwire/netcode/server/dashboard"
)

// TestTickWindowKeepsEachSecondAndTheMinute feeds two rooms' histograms
// (laid out as the server's) and checks the per-second and per-minute
// quantiles, the window sliding past 60 s, and a closed room forgotten.
func TestTickWindowKeepsEachSecondAndTheMinute(t *testing.T) {
	vec := prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "t", Buckets: prometheus.ExponentialBuckets(50e-6, 1.25, 40)}, []string{"room"})
	a := &room{id: "a", tickObs: vec.WithLabelValues("a")}
	b := &room{id: "b", tickObs: vec.WithLabelValues("b")}
	var w tickWindow
	per := map[*room]roomSecond{}
	near := func(got, want float64) bool { return math.Abs(got-want) <= want*0.25 } // one bucket

	// Second 1: a's ticks take 1 ms, b's 4 ms, 99 against 1.
	for range 99 {
		a.tickObs.Observe(1e-3)
	}
	b.tickObs.Observe(4e-3)
	w.sample([]*room{a, b}, per)
	if !near(per[a].p50, 1e-3) || !near(per[b].p99, 4e-3) {
		t.Fatalf("rooms' second: a p50 %v, b p99 %v; want 1 ms, 4 ms", per[a].p50, per[b].p99)
	}
	ticks := w.ticks()
	if len(ticks.P50Ms) != 1 || !near(ticks.P50Ms[0], 1) || !near(ticks.MinuteP50Ms, 1) {
		t.Fatalf("after one second: %+v", ticks)
	}

	// Second 2: nothing new in a, ten 10 ms ticks in b: that second's
	// p50 is b's; the minute's p50 is still a's 1 ms.
	for range 10 {
		b.tickObs.Observe(10e-3)
	}
	clear(per)
	w.sample([]*room{a, b}, per)
	ticks = w.ticks()
	if len(ticks.P50Ms) != 2 || !near(ticks.P50Ms[1], 10) || per[a].p50 != 0 || !near(ticks.MinuteP50Ms, 1) || !near(ticks.MinuteP99Ms, 10) {
		t.Fatalf("after two seconds: %+v, a %+v", ticks, per[a])
	}

	// b closes; 60 quiet seconds later the window holds no tick at all.
	for range dashboard.Window {
		w.sample([]*room{a}, per)
	}
	if _, ok := w.prev[b]; ok {
		t.Error("a closed room is still followed")
	}
	ticks = w.ticks()
	if len(ticks.P50Ms) != dashboard.Window || ticks.MinuteP99Ms != 0 {
		t.Errorf("a quiet minute later: %d points, minute p99 %v ms; want %d, 0", len(ticks.P50Ms), ticks.MinuteP99Ms, dashboard.Window)
	}
}
