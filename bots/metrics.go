package bots

import (
	"context"
	"fmt"
	"io"
	"maps"
	"math"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"time"
)

// Server metric names (docs/HOSTING.md, "Metrics").
const (
	metricTickDuration = "tickwire_tick_duration_seconds"
	metricTickMax      = "tickwire_tick_duration_max_seconds"
	metricMissedTicks  = "tickwire_missed_ticks_total"
	metricTicks        = "tickwire_ticks_total"
	metricInputs       = "tickwire_inputs_total"
)

// serverScrape is what one scrape of the server's /metrics says, summed
// over rooms.
type serverScrape struct {
	hasHist   bool
	buckets   map[float64]float64 // upper bound -> cumulative count
	hasMax    bool
	max       float64 // seconds, largest over rooms
	hasMissed bool
	missed    float64
	hasTicks  bool
	ticks     float64
	hasInputs bool
	inputs    inputCounts
}

// inputCounts are the server's input results (tickwire_inputs_total)
// that say whether the clients' input lead works: applied counts every
// input the world took, late those among them taken after their tick
// (each costs its input a tick of latency), stale those dropped for
// being a quarter second or more late (a correction on the client).
type inputCounts struct{ applied, late, stale float64 }

func summarizeScrape(samples []sample) serverScrape {
	sc := serverScrape{buckets: map[float64]float64{}}
	for i := range samples {
		s := &samples[i]
		switch s.Name {
		case metricTickDuration + "_bucket":
			le, err := parseValue(s.Label("le"))
			if err != nil || math.IsNaN(le) || math.IsNaN(s.Value) {
				continue
			}
			sc.hasHist = true
			sc.buckets[le] += s.Value
		case metricTickMax:
			if !sc.hasMax || s.Value > sc.max {
				sc.max = s.Value
			}
			sc.hasMax = true
		case metricMissedTicks:
			sc.hasMissed = true
			sc.missed += s.Value
		case metricTicks:
			sc.hasTicks = true
			sc.ticks += s.Value
		case metricInputs:
			sc.hasInputs = true
			switch s.Label("result") {
			case "applied":
				sc.inputs.applied += s.Value
			case "late":
				sc.inputs.late += s.Value
			case "stale":
				sc.inputs.stale += s.Value
			}
		}
	}
	return sc
}

// scrapeServer fetches and summarizes url (a Prometheus text endpoint).
func scrapeServer(ctx context.Context, client *http.Client, url string) (serverScrape, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return serverScrape{}, fmt.Errorf("metrics: %w", err)
	}
	resp, err := client.Do(req)
	if err != nil {
		return serverScrape{}, fmt.Errorf("metrics: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return serverScrape{}, fmt.Errorf("metrics: %s answered %s", url, resp.Status)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return serverScrape{}, fmt.Errorf("metrics: reading %s: %w", url, err)
	}
	samples, err := parseExposition(body)
	if err != nil {
		return serverScrape{}, err
	}
	return summarizeScrape(samples), nil
}

// ServerReport is the server's side of a run, read from its metrics over
// the measurement window. Nil fields were not available.
type ServerReport struct {
	MetricsURL   string `json:"metrics_url"`
	MetricsError string `json:"metrics_error,omitempty"`
	// TickBuckets are the tick-duration histogram's cumulative buckets,
	// counted over the window: merging reports of several servers adds
	// them.
	TickBuckets []TickBucket `json:"tick_buckets,omitempty"`
	TickP50Ms   *float64     `json:"tick_p50_ms"`
	TickP99Ms   *float64     `json:"tick_p99_ms"`
	TickMaxMs   *float64     `json:"tick_max_ms"` // since the server started
	MissedTicks *float64     `json:"missed_ticks"`
	Ticks       *float64     `json:"ticks"`
	// Inputs the server applied in the window, those of them applied
	// after their tick, and those it dropped as stale (all rooms, every
	// client of the server, not only this swarm's).
	InputsApplied *float64 `json:"inputs_applied"`
	InputsLate    *float64 `json:"inputs_late"`
	InputsStale   *float64 `json:"inputs_stale"`
	// InputsLateShare is InputsLate / InputsApplied (derived).
	InputsLateShare *float64 `json:"inputs_late_share"`
	// CPU and memory of the server process when -server-pid was given.
	CPUPerSec  *float64 `json:"cpu_per_sec"` // user+sys seconds per wall second
	PeakRSSMiB *float64 `json:"peak_rss_mib"`
}

// TickBucket is one cumulative bucket of a Prometheus histogram: how
// many observations were at most Le seconds ("+Inf" for the last).
type TickBucket struct {
	Le    string  `json:"le"`
	Count float64 `json:"count"`
}

// tickBuckets lists cumulative buckets (upper bound -> count) by bound.
func tickBuckets(cum map[float64]float64) []TickBucket {
	les := slices.Sorted(maps.Keys(cum))
	out := make([]TickBucket, len(les))
	for i, le := range les {
		out[i] = TickBucket{Le: strconv.FormatFloat(le, 'g', -1, 64), Count: cum[le]}
	}
	return out
}

// bucketMap is the inverse of tickBuckets.
func bucketMap(bs []TickBucket) (map[float64]float64, error) {
	cum := make(map[float64]float64, len(bs))
	for _, b := range bs {
		le, err := parseValue(b.Le)
		if err != nil || math.IsNaN(le) {
			return nil, fmt.Errorf("tick bucket le %q: not a bound", b.Le)
		}
		if _, dup := cum[le]; dup {
			return nil, fmt.Errorf("tick bucket le %q twice", b.Le)
		}
		cum[le] = b.Count
	}
	return cum, nil
}

// tickQuantiles fills the tick-duration percentiles from cumulative
// buckets.
func (r *ServerReport) tickQuantiles(cum map[float64]float64) {
	r.TickP50Ms, r.TickP99Ms = nil, nil
	if p, ok := bucketQuantile(cum, 0.5); ok {
		r.TickP50Ms = new(p * 1000)
	}
	if p, ok := bucketQuantile(cum, 0.99); ok {
		r.TickP99Ms = new(p * 1000)
	}
}

// windowFigures fills r's metric figures from scrapes at the start (a)
// and end (b) of the window.
func (r *ServerReport) windowFigures(a, b serverScrape) {
	if b.hasHist {
		delta := map[float64]float64{}
		for le, n := range b.buckets {
			delta[le] = n - a.buckets[le]
		}
		r.TickBuckets = tickBuckets(delta)
		r.tickQuantiles(delta)
	}
	if b.hasMax {
		r.TickMaxMs = new(b.max * 1000)
	}
	if b.hasMissed {
		r.MissedTicks = new(b.missed - a.missed)
	}
	if b.hasTicks {
		r.Ticks = new(b.ticks - a.ticks)
	}
	if b.hasInputs {
		r.InputsApplied = new(b.inputs.applied - a.inputs.applied)
		r.InputsLate = new(b.inputs.late - a.inputs.late)
		r.InputsStale = new(b.inputs.stale - a.inputs.stale)
	}
}

// bucketQuantile estimates the q-quantile from cumulative histogram
// buckets (upper bound -> count) as Prometheus' histogram_quantile does:
// linear within the bucket that holds the rank; a rank in the +Inf bucket
// gives the largest finite bound.
func bucketQuantile(cum map[float64]float64, q float64) (float64, bool) {
	les := make([]float64, 0, len(cum))
	for le := range cum {
		les = append(les, le)
	}
	sort.Float64s(les)
	if len(les) == 0 {
		return 0, false
	}
	total := cum[les[len(les)-1]]
	if total <= 0 || math.IsInf(total, 0) || math.IsNaN(total) {
		return 0, false
	}
	rank := q * total
	prevLE, prevN := 0.0, 0.0
	for _, le := range les {
		n := cum[le]
		if n >= rank {
			if math.IsInf(le, 1) {
				return prevLE, true
			}
			if n == prevN {
				return le, true
			}
			return prevLE + (le-prevLE)*(rank-prevN)/(n-prevN), true
		}
		if !math.IsInf(le, 1) {
			prevLE = le
		}
		prevN = n
	}
	return prevLE, true
}

// formatOpt prints an optional figure with unit, or n/a.
func formatOpt(v *float64, prec int, unit string) string {
	if v == nil {
		return "n/a"
	}
	return strconv.FormatFloat(*v, 'f', prec, 64) + unit
}
