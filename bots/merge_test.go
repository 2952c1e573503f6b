package bots

import (
	"bytes"
	"encoding/json"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
)

// shardReport builds the report of shard i of n as a run would: counters,
// totals and histograms of its samples, figures derived from them.
func shardReport(t testing.TB, i, n int, acks []time.Duration, server ServerReport) *Report {
	t.Helper()
	r := &Report{
		Version: ReportVersion,
		Config: ReportConfig{Server: "http://127.0.0.1:4433", Bots: 10, Transport: "wt", Ramp: "0s", Warmup: "2s", Duration: "10s",
			Seed: 1, Date: "2026-12-01T10:00:0" + string(rune('0'+i)) + "Z", Shard: i, Shards: n, FirstBot: 10 * i},
		WindowSeconds: 10 + float64(i)/10, Connected: 10, BotsMeasured: 10,
		BotsByTransport:       map[string]int{"webtransport": 10},
		ConnectFailureReasons: map[string]int{}, Dropped: map[string]int{"CONNECTION_LOST": i},
		SnapshotsReceived: 3000 - int64(100*i), SnapshotsExpected: 3000,
		FramesTotal: new(int64(1000)), Corrections: new(int64(5 * i)),
		Hits:       &HitCounts{ShotsPredicted: 100, Seen: 20 + 10*int64(i), Confirmed: 19 + 9*int64(i), ServerOnly: 1},
		Server:     server,
		Histograms: Histograms{InputAck: &Histogram{}, RTT: &Histogram{}},
		Totals: Totals{
			BotSeconds: 10 * (10 + float64(i)/10), AppBytesDown: 1e6 * int64(i+1), AppBytesUp: 1e5,
			FramesExtrapolated: new(int64(10 * i)), FramesHeld: new(int64(0)), SwarmCPUSeconds: new(1.5 + float64(i)),
		},
	}
	for _, d := range acks {
		r.Histograms.InputAck.Record(d)
	}
	for b := range 10 {
		r.Histograms.RTT.Record(time.Duration(30+b+i) * time.Millisecond)
	}
	r.derive()
	return r
}

// serverView is a server's figures as a run scrapes them: le1 of its
// ticks took at most 1 ms, all at most 5 ms.
func serverView(url string, missed, ticks float64, le1 float64) ServerReport {
	s := ServerReport{
		MetricsURL: url, MissedTicks: &missed, Ticks: &ticks, TickMaxMs: new(4.0),
		InputsApplied: new(100 * ticks), InputsLate: new(ticks), InputsStale: new(0.0),
		TickBuckets: tickBuckets(map[float64]float64{0.001: le1, 0.005: ticks, math.Inf(1): ticks}),
	}
	cum, _ := bucketMap(s.TickBuckets)
	s.tickQuantiles(cum)
	return s
}

// roundTrip writes r as the bots do and decodes it as merge does.
func roundTrip(t testing.TB, r *Report) *Report {
	t.Helper()
	var buf bytes.Buffer
	if err := r.WriteJSONLine(&buf); err != nil {
		t.Fatal(err)
	}
	reps, err := DecodeReports(&buf)
	if err != nil || len(reps) != 1 {
		t.Fatalf("decoding a report just written: %v", err)
	}
	return reps[0]
}

func TestMergeAddsShardsUp(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	acks := [][]time.Duration{latencies(rng, 3000), latencies(rng, 5000)}
	srv := "http://127.0.0.1:4433/metrics"
	a := roundTrip(t, shardReport(t, 0, 2, acks[0], serverView(srv, 1, 300, 200)))
	b := roundTrip(t, shardReport(t, 1, 2, acks[1], serverView(srv, 3, 301, 250)))
	m, err := Merge([]*Report{a, b})
	if err != nil {
		t.Fatal(err)
	}
	all := &Histogram{}
	for _, d := range append(acks[0], acks[1]...) {
		all.Record(d)
	}
	cpu := (1.5 + 2.5) * 1e6 / float64(2900+3000)
	for _, c := range []struct {
		name      string
		got, want float64
	}{
		{"bots measured", float64(m.BotsMeasured), 20},
		{"input-to-ack samples", float64(m.InputAckSamples), 8000},
		{"input-to-ack p50", *m.InputAckP50Ms, ms(all.Quantile(0.5))},
		{"input-to-ack p99", *m.InputAckP99Ms, ms(all.Quantile(0.99))},
		{"rtt p99", *m.RTTP99Ms, ms(mustQuantile(t, a, b, 0.99))},
		{"snapshots", float64(m.SnapshotsReceived), 5900},
		{"snapshot ratio", m.SnapshotRatio, 5900.0 / 6000},
		{"cpu per snapshot (total cpu / total snapshots)", *m.SwarmCPUPerSnapshotUs, cpu},
		{"cpu per bot per s", *m.SwarmCPUPerBotUsPerSec, 4.0 / (100 + 101) * 1e6},
		{"app down per client per s", m.AppDownBytesPerClientSec, 3e6 / 201},
		{"window (bot-weighted)", m.WindowSeconds, 10.05},
		{"frames extrapolated", *m.FramesExtrapolatedShare, 10.0 / 2000},
		{"corrections", float64(*m.Corrections), 5},
		{"hits seen", float64(m.Hits.Seen), 50},
		{"hit agreement (confirmed / seen of both)", *m.HitAgreement, 47.0 / 50},
		{"dropped", float64(m.Dropped["CONNECTION_LOST"]), 1},
		// One server seen by both shards: the stricter view, not a sum.
		{"server missed ticks", *m.Server.MissedTicks, 3},
		{"server ticks", *m.Server.Ticks, 301},
		{"server tick p50", *m.Server.TickP50Ms, *b.Server.TickP50Ms},
	} {
		if diff := c.got - c.want; diff > 1e-9*max(1, c.want) || -diff > 1e-9*max(1, c.want) {
			t.Errorf("%s: %v, want %v", c.name, c.got, c.want)
		}
	}
	if m.Config.Bots != 20 || len(m.Config.Merged) != 2 || len(m.Warnings) != 0 {
		t.Errorf("merged config %+v, warnings %q", m.Config, m.Warnings)
	}
	var table bytes.Buffer
	if err := m.WriteTable(&table); err != nil || !strings.Contains(table.String(), "(2 reports merged)") {
		t.Errorf("merged table (%v):\n%s", err, table.String())
	}
}

func mustQuantile(t testing.TB, a, b *Report, q float64) time.Duration {
	h := a.Histograms.RTT.Clone()
	if err := h.Merge(b.Histograms.RTT); err != nil {
		t.Fatal(err)
	}
	return h.Quantile(q)
}

// TestMergeAddsDistinctServers: shards driving different servers add
// their ticks and buckets; a figure one server lacks is unknown.
func TestMergeAddsDistinctServers(t *testing.T) {
	a := shardReport(t, 0, 2, nil, serverView("http://a/metrics", 1, 300, 300))
	b := shardReport(t, 1, 2, nil, serverView("http://b/metrics", 2, 100, 0))
	m, err := Merge([]*Report{a, b})
	if err != nil {
		t.Fatal(err)
	}
	s := m.Server
	if *s.MissedTicks != 3 || *s.Ticks != 400 || *s.InputsApplied != 40000 || *s.InputsLate != 400 ||
		s.MetricsURL != "http://a/metrics, http://b/metrics" {
		t.Fatalf("server %+v", s)
	}
	// 300 of 400 ticks took at most 1 ms: the median is below it.
	if *s.TickP50Ms >= 1 || *s.TickP99Ms <= 1 {
		t.Fatalf("tick p50 %v p99 %v ms from the summed buckets", *s.TickP50Ms, *s.TickP99Ms)
	}
	b.Server.MissedTicks = nil
	if m, _ = Merge([]*Report{a, b}); m.Server.MissedTicks != nil {
		t.Fatal("missed ticks summed over a server that did not say")
	}
}

func TestMergeRefusesTheSameBotsTwiceAndNamesMissingShards(t *testing.T) {
	a := shardReport(t, 0, 3, nil, ServerReport{})
	if _, err := Merge([]*Report{a, a}); err == nil || !strings.Contains(err.Error(), "both ran bots 0 to 9 of seed 1") {
		t.Fatalf("the same report twice: %v", err)
	}
	other := shardReport(t, 0, 3, nil, ServerReport{})
	other.Config.Seed = 2 // other bots: a second swarm
	m, err := Merge([]*Report{a, other})
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Warnings) != 1 || !strings.Contains(m.Warnings[0], "shard 1, 2 of 3 are missing") {
		t.Fatalf("warnings %q", m.Warnings)
	}
	lone := shardReport(t, 0, MaxShards, nil, ServerReport{})
	if m, err = Merge([]*Report{lone}); err != nil || len(m.Warnings) != 1 ||
		!strings.Contains(m.Warnings[0], "shard 1, 2, 3, 4, 5, 6, 7, 8 and 65527 more of 65536 are missing") {
		t.Fatalf("one shard of %d: warnings %q, %v", MaxShards, m.Warnings, err)
	}
}

func TestCommonThresholds(t *testing.T) {
	a, b := shardReport(t, 0, 2, nil, ServerReport{}), shardReport(t, 1, 2, nil, ServerReport{})
	if _, ok, err := CommonThresholds([]*Report{a, b}); ok || err != nil {
		t.Fatalf("unchecked reports: ok %v err %v", ok, err)
	}
	th := Thresholds{MaxAckP99: 100 * time.Millisecond, MaxMissedTicks: -1, MaxConnectFailures: 0}
	a.Check(th)
	b.Check(th)
	if got, ok, err := CommonThresholds([]*Report{roundTrip(t, a), roundTrip(t, b)}); !ok || err != nil || got != th {
		t.Fatalf("got %+v ok %v err %v, want %+v", got, ok, err, th)
	}
	th.MaxAckP99 = time.Second
	b.Check(th)
	if _, _, err := CommonThresholds([]*Report{a, b}); err == nil {
		t.Fatal("different thresholds accepted")
	}
}

// TestDecodeReportsIsStrict: what a merge must refuse, and why.
func TestDecodeReportsIsStrict(t *testing.T) {
	valid := func() map[string]any {
		var buf bytes.Buffer
		if err := shardReport(t, 0, 1, []time.Duration{time.Millisecond}, ServerReport{}).WriteJSONLine(&buf); err != nil {
			t.Fatal(err)
		}
		var m map[string]any
		if err := json.Unmarshal(buf.Bytes(), &m); err != nil {
			t.Fatal(err)
		}
		return m
	}
	enc := func(m map[string]any) string {
		b, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	with := func(f func(m map[string]any)) string { m := valid(); f(m); return enc(m) }
	good := enc(valid())
	for _, c := range []struct {
		name, in, want string // want: "" decodes
	}{
		{"one report", good, ""},
		{"indented, then a line", good + "\n" + good + "\n", ""},
		{"nothing", "", "no report"},
		{"null", "null", "no version"},
		{"an array", "[" + good + "]", "not a report"},
		{"truncated", good[:len(good)/2], "unexpected EOF"},
		{"garbage after", good + " x", "report 2"},
		{"another version", with(func(m map[string]any) { m["version"] = 2; m["new_field"] = 1 }), "version 2, this bots reads version 1"},
		{"no version", with(func(m map[string]any) { delete(m, "version") }), "no version"},
		{"unknown field", with(func(m map[string]any) { m["input_ack_p999_ms"] = 1 }), `unknown field "input_ack_p999_ms"`},
		{"unknown nested field", with(func(m map[string]any) { m["totals"].(map[string]any)["cpu"] = 1 }), `unknown field "cpu"`},
		{"a histogram missing", with(func(m map[string]any) { m["histograms"].(map[string]any)["rtt_us"] = nil }), "required"},
		{"a histogram not base64", with(func(m map[string]any) { m["histograms"].(map[string]any)["rtt_us"] = "%%" }), "histogram"},
		{"a histogram not a string", with(func(m map[string]any) { m["histograms"].(map[string]any)["rtt_us"] = 5 }), "histogram"},
		{"a negative counter", with(func(m map[string]any) { m["snapshots_received"] = -1 }), "snapshots_received: -1 is negative"},
		{"a negative map count", with(func(m map[string]any) { m["dropped"] = map[string]int{"X": -2} }), "dropped[X]"},
		{"a shard outside the shards", with(func(m map[string]any) { m["config"].(map[string]any)["shard"] = 4 }), "shard 4 of 1"},
		{"too many shards", with(func(m map[string]any) { m["config"].(map[string]any)["shards"] = 1 << 40 }), "shard 0 of 1099511627776"},
		{"a bad tick bucket", with(func(m map[string]any) {
			m["server"].(map[string]any)["tick_buckets"] = []map[string]any{{"le": "soon", "count": 1}}
		}), `le "soon"`},
	} {
		t.Run(c.name, func(t *testing.T) {
			reps, err := DecodeReports(strings.NewReader(c.in))
			switch {
			case c.want == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case c.want == "" && (len(reps) == 0 || reps[0].InputAckSamples != 1):
				t.Fatalf("decoded %d reports, first %+v", len(reps), reps)
			case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
				t.Fatalf("error %v, want one saying %q", err, c.want)
			}
		})
	}
}

// FuzzDecodeReports: the decoder never panics, and whatever it accepts
// it writes back as a report it decodes to the same bytes again.
func FuzzDecodeReports(f *testing.F) {
	rng := rand.New(rand.NewPCG(5, 6))
	r := shardReport(f, 1, 2, latencies(rng, 100), serverView("http://s/metrics", 0, 30, 29))
	var line, indented bytes.Buffer
	if err := r.WriteJSONLine(&line); err != nil {
		f.Fatal(err)
	}
	if err := r.WriteJSON(&indented); err != nil {
		f.Fatal(err)
	}
	f.Add(line.Bytes())
	f.Add(indented.Bytes())
	f.Add(append(line.Bytes(), line.Bytes()...))
	f.Add([]byte(`{"version":1}`))
	f.Add([]byte(`{"version":1,"histograms":{"input_ack_us":"HISTFAAAAB94nJNpmSzMwMDAxQABzFCaEUzOmnr2FmmAHlMEYQ==","rtt_us":""}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		reps, err := DecodeReports(bytes.NewReader(data))
		if err != nil {
			return
		}
		var once bytes.Buffer
		for _, r := range reps {
			if err := r.WriteJSONLine(&once); err != nil {
				t.Fatalf("writing an accepted report: %v", err)
			}
		}
		again, err := DecodeReports(bytes.NewReader(once.Bytes()))
		if err != nil {
			t.Fatalf("a report written from an accepted one is refused: %v\n%s", err, once.Bytes())
		}
		var twice bytes.Buffer
		for _, r := range again {
			if err := r.WriteJSONLine(&twice); err != nil {
				t.Fatal(err)
			}
		}
		if !bytes.Equal(once.Bytes(), twice.Bytes()) {
			t.Fatalf("decode and write again changed the report:\n%s\n%s", once.Bytes(), twice.Bytes())
		}
		if _, err := Merge(reps); err != nil && !strings.Contains(err.Error(), "both ran") {
			t.Logf("merge: %v", err)
		}
	})
}
