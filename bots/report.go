package bots

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/tickwire/tickwire/netcode/client"
)

// ReportVersion is the version of the report's JSON. A reader refuses
// any other: merging reports whose fields mean different things would
// be silently wrong.
const ReportVersion = 1

// Report is what a swarm run measured, over the measurement window,
// for the bots connected when it began. Nil fields are figures that were
// not available (JSON null, "n/a" in the table).
//
// The rates and percentiles are derived from Totals and Histograms (and
// the counters beside them), which is what Merge adds up: a merged
// report's figures are those one swarm of all the shards' bots would
// have reported.
type Report struct {
	Version int          `json:"version"`
	Config  ReportConfig `json:"config"`

	// WindowSeconds is the measurement window; in a merged report the
	// shards' windows averaged over their bots.
	WindowSeconds          float64           `json:"window_seconds"`
	Connected              int               `json:"connected"`
	BotsMeasured           int               `json:"bots_measured"`
	BotsByTransport        map[string]int    `json:"bots_by_transport"`
	ConnectFailures        int               `json:"connect_failures"`
	ConnectFailureReasons  map[string]int    `json:"connect_failure_reasons"`
	ConnectFailureExamples map[string]string `json:"connect_failure_examples,omitempty"`
	Dropped                map[string]int    `json:"dropped"` // sessions that ended during the window, by reason
	SendErrors             int64             `json:"send_errors"`

	// Application bytes (packets as the client netcode sees them).
	AppDownBytesPerClientSec float64 `json:"app_down_bytes_per_client_sec"`
	AppUpBytesPerClientSec   float64 `json:"app_up_bytes_per_client_sec"`
	// Wire bytes, from the byte counter given (IP packets or link frames,
	// every protocol overhead included, ACKs and pings too). When the
	// counter cannot split the directions only the total is known.
	WireCounter                string   `json:"wire_counter,omitempty"`
	WireError                  string   `json:"wire_error,omitempty"`
	WireDownBytesPerClientSec  *float64 `json:"wire_down_bytes_per_client_sec"`
	WireUpBytesPerClientSec    *float64 `json:"wire_up_bytes_per_client_sec"`
	WireTotalBytesPerClientSec *float64 `json:"wire_total_bytes_per_client_sec"`

	InputAckSamples int64    `json:"input_ack_samples"`
	InputAckP50Ms   *float64 `json:"input_ack_p50_ms"`
	InputAckP99Ms   *float64 `json:"input_ack_p99_ms"`
	RTTP50Ms        *float64 `json:"rtt_p50_ms"` // of the bots' smoothed RTTs at the end
	RTTP99Ms        *float64 `json:"rtt_p99_ms"`

	SnapshotsReceived int64   `json:"snapshots_received"`
	SnapshotsExpected int64   `json:"snapshots_expected"`
	SnapshotRatio     float64 `json:"snapshot_ratio"`

	FramesTotal             *int64   `json:"frames_total"`
	FramesExtrapolatedShare *float64 `json:"frames_extrapolated_share"`
	FramesHeldShare         *float64 `json:"frames_held_share"`
	Corrections             *int64   `json:"corrections"`
	CorrectionsPerClientSec *float64 `json:"corrections_per_client_sec"`
	// Hits are the bots' own shots and hits as their client netcode
	// counted them (client.ShotStats); HitAgreement is the share of the
	// hits the bots saw that the server scored.
	Hits         *HitCounts `json:"hits"`
	HitAgreement *float64   `json:"hit_agreement"`

	// The swarm's own cost: user+sys CPU of this process over the window.
	SwarmCPUPerSec         *float64 `json:"swarm_cpu_per_sec"`            // cores busy
	SwarmCPUPerBotUsPerSec *float64 `json:"swarm_cpu_per_bot_us_per_sec"` // µs of CPU per bot per second
	SwarmCoresFor1000Bots  *float64 `json:"swarm_cores_for_1000_bots"`
	// SwarmCPUPerSnapshotUs is the swarm's CPU per snapshot received (the
	// input sends, pings and everything else included): unlike the per-bot
	// figure it does not shrink when a starved swarm does less work.
	SwarmCPUPerSnapshotUs *float64 `json:"swarm_cpu_per_snapshot_us"`

	Server ServerReport `json:"server"`

	Totals     Totals     `json:"totals"`
	Histograms Histograms `json:"histograms"`

	// Thresholds are those the report was checked against; Failures names
	// those broken (empty: all held), Unchecked those that could not be
	// evaluated. Warnings say what a merge found missing.
	Thresholds *Thresholds `json:"thresholds,omitempty"`
	Failures   []string    `json:"failures"`
	Unchecked  []string    `json:"unchecked,omitempty"`
	Warnings   []string    `json:"warnings,omitempty"`
}

// HitCounts are the sums of the bots' client.ShotStats over the window.
type HitCounts struct {
	ShotsPredicted   int64 `json:"shots_predicted"`
	ShotsUnconfirmed int64 `json:"shots_unconfirmed"`
	Seen             int64 `json:"seen"`
	Confirmed        int64 `json:"confirmed"`
	ServerOnly       int64 `json:"server_only"`
}

// hitCounts are the report's figures of the bots' summed ShotStats.
func hitCounts(s client.ShotStats) *HitCounts {
	return &HitCounts{ShotsPredicted: s.Predicted, ShotsUnconfirmed: s.Unconfirmed,
		Seen: s.HitsSeen, Confirmed: s.HitsConfirmed, ServerOnly: s.HitsServerOnly}
}

// merge adds o to h.
func (h *HitCounts) merge(o *HitCounts) {
	h.ShotsPredicted += o.ShotsPredicted
	h.ShotsUnconfirmed += o.ShotsUnconfirmed
	h.Seen += o.Seen
	h.Confirmed += o.Confirmed
	h.ServerOnly += o.ServerOnly
}

// Totals are the sums the per-client and per-snapshot rates are derived
// from. Nil: not measured (by some shard, in a merged report).
type Totals struct {
	// BotSeconds is the measured bots times the window: the divisor of
	// every per-client-per-second figure.
	BotSeconds         float64  `json:"bot_seconds"`
	AppBytesDown       int64    `json:"app_bytes_down"`
	AppBytesUp         int64    `json:"app_bytes_up"`
	WireBytesDown      *int64   `json:"wire_bytes_down"`
	WireBytesUp        *int64   `json:"wire_bytes_up"`
	WireBytesTotal     *int64   `json:"wire_bytes_total"`
	FramesExtrapolated *int64   `json:"frames_extrapolated"`
	FramesHeld         *int64   `json:"frames_held"`
	SwarmCPUSeconds    *float64 `json:"swarm_cpu_seconds"`
}

// Histograms are the report's latency distributions, whole: merging
// two reports merges these, and the percentiles are read from them.
type Histograms struct {
	InputAck *Histogram `json:"input_ack_us"` // input-to-ack latency, inputs of the window
	RTT      *Histogram `json:"rtt_us"`       // each measured bot's smoothed RTT at the end
}

// ReportConfig is the part of the configuration a report repeats.
type ReportConfig struct {
	Server    string  `json:"server"`
	Bots      int     `json:"bots"` // the bots this run ran (a shard's part)
	Transport string  `json:"transport"`
	Ramp      string  `json:"ramp"`
	Warmup    string  `json:"warmup"`
	Duration  string  `json:"duration"`
	Seed      uint64  `json:"seed"`
	Up        LinkCfg `json:"up"`
	Down      LinkCfg `json:"down"`
	Date      string  `json:"date"`
	// Shard of Shards ran bots FirstBot to FirstBot+Bots-1 of the swarm.
	Shard    int `json:"shard"`
	Shards   int `json:"shards"`
	FirstBot int `json:"first_bot"`
	// Merged describes each report a merged report was made of.
	Merged []string `json:"merged,omitempty"`
}

// LinkCfg is a Link in a report.
type LinkCfg struct {
	Latency   string  `json:"latency"`
	Jitter    string  `json:"jitter"`
	Loss      float64 `json:"loss"`
	Duplicate float64 `json:"duplicate"`
	Reorder   float64 `json:"reorder"`
}

func reportConfig(c *Config) ReportConfig {
	lc := func(l Link) LinkCfg {
		return LinkCfg{l.Latency.String(), l.Jitter.String(), l.Loss, l.Duplicate, l.Reorder}
	}
	first, end := c.botRange()
	return ReportConfig{
		Server: c.Server, Bots: end - first, Transport: c.Transport,
		Ramp: c.Ramp.String(), Warmup: c.Warmup.String(), Duration: c.Duration.String(),
		Seed: c.Seed, Up: lc(c.Up), Down: lc(c.Down),
		Date:  time.Now().UTC().Format(time.RFC3339),
		Shard: c.Shard, Shards: c.Shards, FirstBot: first,
	}
}

// fillWire records the wire bytes between the counts a and b.
func (r *Report) fillWire(a, b wireCount) {
	r.WireCounter = b.Description
	if a.Split && b.Split {
		r.Totals.WireBytesDown = new(b.Down - a.Down)
		r.Totals.WireBytesUp = new(b.Up - a.Up)
	}
	r.Totals.WireBytesTotal = new(b.total() - a.total())
}

// derive computes every rate and percentile of r from its counters,
// Totals and Histograms: the one place a run and a merge compute them.
func (r *Report) derive() {
	t := &r.Totals
	perClientSec := func(v *int64) *float64 {
		if v == nil || t.BotSeconds <= 0 {
			return nil
		}
		return new(float64(*v) / t.BotSeconds)
	}
	r.AppDownBytesPerClientSec, r.AppUpBytesPerClientSec = 0, 0
	if t.BotSeconds > 0 {
		r.AppDownBytesPerClientSec = float64(t.AppBytesDown) / t.BotSeconds
		r.AppUpBytesPerClientSec = float64(t.AppBytesUp) / t.BotSeconds
	}
	r.WireDownBytesPerClientSec = perClientSec(t.WireBytesDown)
	r.WireUpBytesPerClientSec = perClientSec(t.WireBytesUp)
	r.WireTotalBytesPerClientSec = perClientSec(t.WireBytesTotal)

	r.InputAckSamples = r.Histograms.InputAck.Count()
	r.InputAckP50Ms, r.InputAckP99Ms = quantilesMs(r.Histograms.InputAck)
	r.RTTP50Ms, r.RTTP99Ms = quantilesMs(r.Histograms.RTT)

	r.SnapshotRatio = 0
	if r.SnapshotsExpected > 0 {
		r.SnapshotRatio = float64(r.SnapshotsReceived) / float64(r.SnapshotsExpected)
	}
	r.FramesExtrapolatedShare, r.FramesHeldShare = nil, nil
	if r.FramesTotal != nil && *r.FramesTotal > 0 && t.FramesExtrapolated != nil && t.FramesHeld != nil {
		r.FramesExtrapolatedShare = new(float64(*t.FramesExtrapolated) / float64(*r.FramesTotal))
		r.FramesHeldShare = new(float64(*t.FramesHeld) / float64(*r.FramesTotal))
	}
	r.CorrectionsPerClientSec = perClientSec(r.Corrections)
	s := &r.Server
	s.InputsLateShare = nil
	if s.InputsApplied != nil && s.InputsLate != nil && *s.InputsApplied > 0 {
		s.InputsLateShare = new(*s.InputsLate / *s.InputsApplied)
	}
	r.HitAgreement = nil
	if r.Hits != nil && r.Hits.Seen > 0 {
		r.HitAgreement = new(float64(r.Hits.Confirmed) / float64(r.Hits.Seen))
	}

	r.SwarmCPUPerSec, r.SwarmCPUPerBotUsPerSec, r.SwarmCoresFor1000Bots, r.SwarmCPUPerSnapshotUs = nil, nil, nil, nil
	if cpu := t.SwarmCPUSeconds; cpu != nil && r.WindowSeconds > 0 {
		r.SwarmCPUPerSec = new(*cpu / r.WindowSeconds)
		if t.BotSeconds > 0 {
			perBot := *cpu / t.BotSeconds * 1e6
			r.SwarmCPUPerBotUsPerSec = new(perBot)
			r.SwarmCoresFor1000Bots = new(perBot * 1000 / 1e6)
		}
		if r.SnapshotsReceived > 0 {
			r.SwarmCPUPerSnapshotUs = new(*cpu * 1e6 / float64(r.SnapshotsReceived))
		}
	}
}

// quantilesMs returns the p50 and p99 of h in milliseconds, or nils
// when h is empty.
func quantilesMs(h *Histogram) (p50, p99 *float64) {
	if h.Count() == 0 {
		return nil, nil
	}
	return new(ms(h.Quantile(0.50))), new(ms(h.Quantile(0.99)))
}

// Thresholds gate a run; a zero field is not checked.
type Thresholds struct {
	MaxAckP99          time.Duration `json:"max_ack_p99_ns"`
	MaxMissedTicks     int           `json:"max_missed_ticks"` // negative: not checked
	MinSnapshotRatio   float64       `json:"min_snapshot_ratio"`
	MaxConnectFailures int           `json:"max_connect_failures"` // negative: not checked
	// RequireServerMetrics fails the run when a server threshold cannot
	// be checked because the server exposes no metrics.
	RequireServerMetrics bool `json:"require_server_metrics"`
}

// Check fills r.Thresholds, r.Failures and r.Unchecked; it reports
// whether every threshold held.
func (r *Report) Check(t Thresholds) bool {
	r.Thresholds, r.Failures, r.Unchecked = &t, []string{}, nil
	fail := func(format string, args ...any) { r.Failures = append(r.Failures, fmt.Sprintf(format, args...)) }
	if t.MaxAckP99 > 0 {
		switch {
		case r.InputAckP99Ms == nil:
			fail("-max-ack-p99 %v: no input was acknowledged", t.MaxAckP99)
		case *r.InputAckP99Ms > ms(t.MaxAckP99):
			fail("-max-ack-p99 %v: input-to-ack p99 was %.1fms", t.MaxAckP99, *r.InputAckP99Ms)
		}
	}
	if t.MaxMissedTicks >= 0 {
		switch {
		case r.Server.MissedTicks == nil && t.RequireServerMetrics:
			fail("-max-missed-ticks %d: the server's missed ticks are unknown (%s)", t.MaxMissedTicks, r.Server.MetricsError)
		case r.Server.MissedTicks == nil:
			r.Unchecked = append(r.Unchecked, fmt.Sprintf("-max-missed-ticks %d: server metrics n/a", t.MaxMissedTicks))
		case *r.Server.MissedTicks > float64(t.MaxMissedTicks):
			fail("-max-missed-ticks %d: the server missed %.0f ticks", t.MaxMissedTicks, *r.Server.MissedTicks)
		}
	}
	if t.MinSnapshotRatio > 0 && !(r.SnapshotRatio >= t.MinSnapshotRatio) {
		fail("-min-snapshot-ratio %g: received %d of %d snapshots (%.4f)", t.MinSnapshotRatio,
			r.SnapshotsReceived, r.SnapshotsExpected, r.SnapshotRatio)
	}
	if t.MaxConnectFailures >= 0 && r.ConnectFailures > t.MaxConnectFailures {
		fail("-max-connect-failures %d: %d bots failed to connect (%s)", t.MaxConnectFailures,
			r.ConnectFailures, formatCounts(r.ConnectFailureReasons))
	}
	return len(r.Failures) == 0
}

// WriteJSON writes the report as indented JSON.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// WriteJSONLine writes the report as JSON on one line: among the lines of
// a log (a pod's), the one that starts with "{".
func (r *Report) WriteJSONLine(w io.Writer) error {
	return json.NewEncoder(w).Encode(r)
}

// WriteTable writes the report as an aligned two-column table.
func (r *Report) WriteTable(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	row := func(k, format string, args ...any) { fmt.Fprintf(tw, "%s\t%s\n", k, fmt.Sprintf(format, args...)) }
	c := r.Config
	run := fmt.Sprintf("%d bots over %s to %s, ramp %s, warm-up %s, window %.1fs", c.Bots, c.Transport, c.Server, c.Ramp, c.Warmup, r.WindowSeconds)
	switch {
	case len(c.Merged) > 0:
		row("run", "%s (%d reports merged)", run, len(c.Merged))
		for _, m := range c.Merged {
			row("merged", "%s", m)
		}
	case c.Shards > 1:
		row("run", "%s, seed %d, shard %d of %d (bots %d to %d)", run, c.Seed, c.Shard, c.Shards, c.FirstBot, c.FirstBot+c.Bots-1)
	default:
		row("run", "%s, seed %d", run, c.Seed)
	}
	row("bots", "%d connected, %d measured %s, %d connect failures %s, dropped %s, %d send errors",
		r.Connected, r.BotsMeasured, formatCounts(r.BotsByTransport), r.ConnectFailures,
		formatCounts(r.ConnectFailureReasons), formatCounts(r.Dropped), r.SendErrors)
	row("app bytes/client/s", "down %.0f, up %.0f", r.AppDownBytesPerClientSec, r.AppUpBytesPerClientSec)
	switch {
	case r.WireDownBytesPerClientSec != nil:
		row("wire bytes/client/s", "down %.0f, up %.0f (%s)", *r.WireDownBytesPerClientSec, *r.WireUpBytesPerClientSec, r.WireCounter)
	case r.WireTotalBytesPerClientSec != nil:
		row("wire bytes/client/s", "both ways %.0f (%s)", *r.WireTotalBytesPerClientSec, r.WireCounter)
	case r.WireError != "":
		row("wire bytes/client/s", "n/a (%s)", r.WireError)
	default:
		row("wire bytes/client/s", "n/a (no byte counter: -wire-dev or -wire-cmd)")
	}
	row("input-to-ack", "p50 %s, p99 %s (%d inputs)", formatOpt(r.InputAckP50Ms, 1, "ms"), formatOpt(r.InputAckP99Ms, 1, "ms"), r.InputAckSamples)
	row("rtt (smoothed, at end)", "p50 %s, p99 %s", formatOpt(r.RTTP50Ms, 1, "ms"), formatOpt(r.RTTP99Ms, 1, "ms"))
	row("snapshots", "%d of %d expected (%.4f)", r.SnapshotsReceived, r.SnapshotsExpected, r.SnapshotRatio)
	if r.FramesTotal != nil {
		row("interpolation health", "%.2f%% frames extrapolated, %.2f%% held (%d frames)",
			100**r.FramesExtrapolatedShare, 100**r.FramesHeldShare, *r.FramesTotal)
	} else {
		row("interpolation health", "n/a (client netcode reports no frames yet)")
	}
	if r.Corrections != nil {
		row("corrections", "%d (%.3f per client per s)", *r.Corrections, *r.CorrectionsPerClientSec)
	} else {
		row("corrections", "n/a")
	}
	if h := r.Hits; h != nil {
		row("hits", "%d seen by the shooter, %d of them scored by the server (agreement %s), %d scored by the server only; %d shots predicted, %d never fired",
			h.Seen, h.Confirmed, formatOpt(percent(r.HitAgreement), 1, "%"), h.ServerOnly, h.ShotsPredicted, h.ShotsUnconfirmed)
	}
	s := r.Server
	srv := fmt.Sprintf("tick p50 %s, p99 %s, max %s; missed ticks %s of %s",
		formatOpt(s.TickP50Ms, 2, "ms"), formatOpt(s.TickP99Ms, 2, "ms"), formatOpt(s.TickMaxMs, 2, "ms"),
		formatOpt(s.MissedTicks, 0, ""), formatOpt(s.Ticks, 0, ""))
	if s.MetricsError != "" {
		srv += " (" + s.MetricsError + ")"
	}
	row("server", "%s", srv)
	if s.InputsApplied != nil && s.InputsLate != nil && s.InputsStale != nil {
		row("server inputs", "%.0f applied, %.0f of them late (%s, applied after their tick), %.0f stale (dropped)",
			*s.InputsApplied, *s.InputsLate, formatOpt(percent(s.InputsLateShare), 2, "%"), *s.InputsStale)
	}
	if s.CPUPerSec != nil || s.PeakRSSMiB != nil {
		row("server process", "cpu %s cores, peak rss %s", formatOpt(s.CPUPerSec, 3, ""), formatOpt(s.PeakRSSMiB, 1, " MiB"))
	}
	if r.SwarmCPUPerSec != nil {
		row("swarm cpu", "%.3f cores, %s µs per bot per s (%s cores for 1000 bots), %s µs per snapshot received",
			*r.SwarmCPUPerSec, formatOpt(r.SwarmCPUPerBotUsPerSec, 1, ""), formatOpt(r.SwarmCoresFor1000Bots, 2, ""),
			formatOpt(r.SwarmCPUPerSnapshotUs, 1, ""))
	}
	switch {
	case r.Failures == nil:
	case len(r.Failures) == 0:
		row("thresholds", "all held")
	default:
		row("thresholds", "BROKEN: %s", strings.Join(r.Failures, "; "))
	}
	for _, u := range r.Unchecked {
		row("not checked", "%s", u)
	}
	for _, w := range r.Warnings {
		row("warning", "%s", w)
	}
	return tw.Flush()
}

func formatCounts(m map[string]int) string {
	if len(m) == 0 {
		return "{}"
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s:%d", k, m[k])
	}
	return "{" + strings.Join(parts, " ") + "}"
}

// percent is a share as a percentage; nil stays nil.
func percent(share *float64) *float64 {
	if share == nil {
		return nil
	}
	return new(100 * *share)
}
