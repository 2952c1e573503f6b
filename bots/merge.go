package bots

import (
	"cmp"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
)

// Merge combines the reports of a swarm's shards (or of any swarms run
// at the same time) into one: counters and totals are summed, histograms
// merged, and every rate and percentile derived again from those, as a
// run derives them. So the merged input-to-ack p99 is that of all the
// shards' samples together (exactly, at the histograms' precision), and
// the CPU per snapshot is the total CPU over the total snapshots.
//
// The server's figures are the server's, not the shards': shards that
// scraped the same metrics URL saw the same server over nearly the same
// window, so Merge keeps, per URL, the view that missed the most ticks
// (the strictest for -max-missed-ticks), and adds up distinct servers.
//
// Merge refuses two reports that ran the same bots (same seed, server and
// bot ids: a report given twice); it warns (Report.Warnings) of shards
// missing from a split swarm. The merged report is unchecked: call Check.
func Merge(reports []*Report) (*Report, error) {
	if len(reports) == 0 {
		return nil, errors.New("merge: no report")
	}
	if err := checkDisjoint(reports); err != nil {
		return nil, fmt.Errorf("merge: %w", err)
	}
	m := &Report{
		Version:                ReportVersion,
		Config:                 mergeConfigs(reports),
		BotsByTransport:        map[string]int{},
		ConnectFailureReasons:  map[string]int{},
		ConnectFailureExamples: map[string]string{},
		Dropped:                map[string]int{},
		Histograms:             Histograms{InputAck: &Histogram{}, RTT: &Histogram{}},
		Warnings:               missingShards(reports),
	}
	var wireCounters []string
	var servers []ServerReport
	for _, r := range reports {
		m.Connected += r.Connected
		m.BotsMeasured += r.BotsMeasured
		m.ConnectFailures += r.ConnectFailures
		m.SendErrors += r.SendErrors
		m.SnapshotsReceived += r.SnapshotsReceived
		m.SnapshotsExpected += r.SnapshotsExpected
		addCounts(m.BotsByTransport, r.BotsByTransport)
		addCounts(m.ConnectFailureReasons, r.ConnectFailureReasons)
		addCounts(m.Dropped, r.Dropped)
		for reason, ex := range r.ConnectFailureExamples {
			if _, ok := m.ConnectFailureExamples[reason]; !ok {
				m.ConnectFailureExamples[reason] = ex
			}
		}
		if err := m.Histograms.InputAck.Merge(r.Histograms.InputAck); err != nil {
			return nil, fmt.Errorf("merge: input-to-ack: %w", err)
		}
		if err := m.Histograms.RTT.Merge(r.Histograms.RTT); err != nil {
			return nil, fmt.Errorf("merge: rtt: %w", err)
		}
		m.Totals.BotSeconds += r.Totals.BotSeconds
		m.Totals.AppBytesDown += r.Totals.AppBytesDown
		m.Totals.AppBytesUp += r.Totals.AppBytesUp
		m.WindowSeconds = max(m.WindowSeconds, r.WindowSeconds)
		wireCounters = append(wireCounters, r.WireCounter)
		if r.WireError != "" {
			m.WireError = joinDistinct(m.WireError, r.WireError, "; ")
		}
		servers = append(servers, r.Server)
	}
	// The shards ran side by side: the window is theirs, averaged over
	// the bots (so that bots × window is still the bot-seconds).
	if m.BotsMeasured > 0 {
		m.WindowSeconds = m.Totals.BotSeconds / float64(m.BotsMeasured)
	}
	m.WireCounter = strings.Join(distinct(wireCounters), ", ")
	t := &m.Totals
	t.WireBytesDown = sumAll(reports, func(r *Report) *int64 { return r.Totals.WireBytesDown })
	t.WireBytesUp = sumAll(reports, func(r *Report) *int64 { return r.Totals.WireBytesUp })
	t.WireBytesTotal = sumAll(reports, func(r *Report) *int64 { return r.Totals.WireBytesTotal })
	t.FramesExtrapolated = sumAll(reports, func(r *Report) *int64 { return r.Totals.FramesExtrapolated })
	t.FramesHeld = sumAll(reports, func(r *Report) *int64 { return r.Totals.FramesHeld })
	t.SwarmCPUSeconds = sumAll(reports, func(r *Report) *float64 { return r.Totals.SwarmCPUSeconds })
	m.FramesTotal = sumAll(reports, func(r *Report) *int64 { return r.FramesTotal })
	m.Corrections = sumAll(reports, func(r *Report) *int64 { return r.Corrections })
	m.Hits = mergeHits(reports)
	server, err := mergeServers(servers)
	if err != nil {
		return nil, fmt.Errorf("merge: %w", err)
	}
	m.Server = server
	m.derive()
	return m, nil
}

// CommonThresholds returns the thresholds every report was checked
// against (ok false when none was checked), or an error when they differ.
func CommonThresholds(reports []*Report) (th Thresholds, ok bool, err error) {
	var first *Thresholds
	for i, r := range reports {
		switch {
		case r.Thresholds == nil:
		case first == nil:
			first = r.Thresholds
		case *r.Thresholds != *first:
			return Thresholds{}, false, fmt.Errorf("report %d was checked against %+v, another against %+v: give the thresholds", i+1, *r.Thresholds, *first)
		}
	}
	if first == nil {
		return Thresholds{}, false, nil
	}
	return *first, true, nil
}

// checkDisjoint refuses reports that ran the same bots against the same
// server with the same seed: the same players, counted twice.
func checkDisjoint(reports []*Report) error {
	for i, a := range reports {
		for j := i + 1; j < len(reports); j++ {
			b := reports[j]
			ca, cb := a.Config, b.Config
			if ca.Seed == cb.Seed && ca.Server == cb.Server &&
				ca.FirstBot < cb.FirstBot+cb.Bots && cb.FirstBot < ca.FirstBot+ca.Bots {
				return fmt.Errorf("reports %d and %d both ran bots %d to %d of seed %d against %s (the same report twice?)",
					i+1, j+1, max(ca.FirstBot, cb.FirstBot), min(ca.FirstBot+ca.Bots, cb.FirstBot+cb.Bots)-1, ca.Seed, ca.Server)
			}
		}
	}
	return nil
}

// missingShards names the shards of split swarms that no report is of:
// one warning per swarm, naming at most a few.
func missingShards(reports []*Report) []string {
	present := map[int]map[int]bool{} // shards -> shard -> seen
	for _, r := range reports {
		if c := r.Config; c.Shards > 1 {
			if present[c.Shards] == nil {
				present[c.Shards] = map[int]bool{}
			}
			present[c.Shards][c.Shard] = true
		}
	}
	const named = 8
	var out []string
	for _, n := range slices.Sorted(maps.Keys(present)) {
		missing := n - len(present[n])
		if missing == 0 {
			continue
		}
		var some []string
		for i := 0; i < n && len(some) < named; i++ { // n is bounded by what DecodeReports accepts
			if !present[n][i] {
				some = append(some, strconv.Itoa(i))
			}
		}
		list := strings.Join(some, ", ")
		if missing > len(some) {
			list += fmt.Sprintf(" and %d more", missing-len(some))
		}
		verb := "is"
		if missing > 1 {
			verb = "are"
		}
		out = append(out, fmt.Sprintf("shard %s of %d %s missing: their bots are not in this report", list, n, verb))
	}
	return out
}

func mergeConfigs(reports []*Report) ReportConfig {
	c := reports[0].Config
	c.Shard, c.Shards, c.Merged = 0, 1, nil
	field := func(f func(ReportConfig) string) string {
		var vs []string
		for _, r := range reports {
			vs = append(vs, f(r.Config))
		}
		return strings.Join(distinct(vs), ", ")
	}
	c.Server = field(func(c ReportConfig) string { return c.Server })
	c.Transport = field(func(c ReportConfig) string { return c.Transport })
	c.Ramp = field(func(c ReportConfig) string { return c.Ramp })
	c.Warmup = field(func(c ReportConfig) string { return c.Warmup })
	c.Duration = field(func(c ReportConfig) string { return c.Duration })
	c.Bots = 0
	for _, r := range reports {
		rc := r.Config
		c.Bots += rc.Bots
		c.FirstBot = min(c.FirstBot, rc.FirstBot)
		c.Date = min(c.Date, rc.Date)
		c.Merged = append(c.Merged, fmt.Sprintf("shard %d of %d: bots %d to %d, seed %d, %s, %s, window %.1fs, %s",
			rc.Shard, rc.Shards, rc.FirstBot, rc.FirstBot+rc.Bots-1, rc.Seed, rc.Transport, rc.Server, r.WindowSeconds, rc.Date))
	}
	return c
}

// mergeServers combines the server figures of the reports: per metrics
// URL the view that missed the most ticks, then distinct servers added.
func mergeServers(views []ServerReport) (ServerReport, error) {
	byURL := map[string]ServerReport{}
	for _, v := range views {
		if cur, ok := byURL[v.MetricsURL]; !ok || stricter(v, cur) {
			byURL[v.MetricsURL] = v
		}
	}
	urls := slices.Sorted(maps.Keys(byURL))
	if len(urls) == 1 {
		return byURL[urls[0]], nil
	}
	var m ServerReport
	cum := map[float64]float64{}
	allBuckets := true
	for _, u := range urls {
		v := byURL[u]
		m.MetricsURL = joinDistinct(m.MetricsURL, u, ", ")
		if v.MetricsError != "" {
			m.MetricsError = joinDistinct(m.MetricsError, u+": "+v.MetricsError, "; ")
		}
		if len(v.TickBuckets) == 0 {
			allBuckets = false
		}
		b, err := bucketMap(v.TickBuckets)
		if err != nil {
			return ServerReport{}, fmt.Errorf("server %s: %w", u, err)
		}
		for le, n := range b {
			cum[le] += n
		}
		if v.TickMaxMs != nil && (m.TickMaxMs == nil || *v.TickMaxMs > *m.TickMaxMs) {
			m.TickMaxMs = new(*v.TickMaxMs)
		}
		if v.PeakRSSMiB != nil && (m.PeakRSSMiB == nil || *v.PeakRSSMiB > *m.PeakRSSMiB) {
			m.PeakRSSMiB = new(*v.PeakRSSMiB)
		}
	}
	all := func(f func(ServerReport) *float64) *float64 {
		var s float64
		for _, u := range urls {
			v := f(byURL[u])
			if v == nil {
				return nil // one server's figure unknown: the sum is too
			}
			s += *v
		}
		return &s
	}
	m.MissedTicks = all(func(v ServerReport) *float64 { return v.MissedTicks })
	m.Ticks = all(func(v ServerReport) *float64 { return v.Ticks })
	m.InputsApplied = all(func(v ServerReport) *float64 { return v.InputsApplied })
	m.InputsLate = all(func(v ServerReport) *float64 { return v.InputsLate })
	m.InputsStale = all(func(v ServerReport) *float64 { return v.InputsStale })
	m.CPUPerSec = all(func(v ServerReport) *float64 { return v.CPUPerSec })
	if allBuckets {
		m.TickBuckets = tickBuckets(cum)
		m.tickQuantiles(cum)
	}
	return m, nil
}

// stricter reports whether view a of a server gates harder than b: it
// knows the missed ticks, or missed more, or saw more ticks.
func stricter(a, b ServerReport) bool {
	if (a.MissedTicks == nil) != (b.MissedTicks == nil) {
		return a.MissedTicks != nil
	}
	if a.MissedTicks != nil && *a.MissedTicks != *b.MissedTicks {
		return *a.MissedTicks > *b.MissedTicks
	}
	return cmp.Compare(deref(a.Ticks), deref(b.Ticks)) > 0
}

// sumAll sums f over the reports, or is nil when one lacks the figure:
// a total of some shards is not the swarm's.
func sumAll[T int64 | float64](reports []*Report, f func(*Report) *T) *T {
	var s T
	for _, r := range reports {
		v := f(r)
		if v == nil {
			return nil
		}
		s += *v
	}
	return &s
}

// mergeHits sums the shards' hit counts; nil if a shard has none.
func mergeHits(reports []*Report) *HitCounts {
	var h HitCounts
	for _, r := range reports {
		if r.Hits == nil {
			return nil
		}
		h.merge(r.Hits)
	}
	return &h
}

func addCounts(dst, src map[string]int) {
	for k, n := range src {
		dst[k] += n
	}
}

// distinct returns the non-empty values of vs, first occurrences, in
// order.
func distinct(vs []string) []string {
	var out []string
	for _, v := range vs {
		if v != "" && !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	return out
}

func joinDistinct(list, v, sep string) string {
	if list == "" {
		return v
	}
	if slices.Contains(strings.Split(list, sep), v) {
		return list
	}
	return list + sep + v
}
