package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"

	"github.com/tickwire/tickwire/bots"
)

// TestShardedSwarmMergesToThePercentilesOfAllSamples runs one swarm as
// two shards, two processes of the real bots binary against one server
// (in this process), with different seeds; shard 1 takes its index from
// $JOB_COMPLETION_INDEX as in a Kubernetes Indexed Job. Each process
// dumps the raw latency samples it recorded. "bots merge" of the two
// reports must give the percentiles of one histogram of every raw sample
// of both (built here, independently, at the same precision), the sums
// of their counters, and CPU per snapshot as total CPU / total snapshots.
func TestShardedSwarmMergesToThePercentilesOfAllSamples(t *testing.T) {
	if testing.Short() {
		t.Skip("runs two swarms")
	}
	_, botsBin := binaries(t)
	url := startServer(t, 100)
	dir := t.TempDir()
	file := func(shard int, kind string) string {
		return filepath.Join(dir, fmt.Sprintf("shard-%d.%s", shard, kind))
	}

	var wg sync.WaitGroup
	for shard := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			args := []string{"-server", url, "-n", "8", "-shards", "2", "-seed", strconv.Itoa(10 + shard),
				"-transport", "mixed", "-warmup", "500ms", "-duration", "2s", "-q",
				"-max-ack-p99", "10s", "-max-connect-failures", "0",
				"-json", file(shard, "json"), "-raw-samples", file(shard, "raw")}
			env := []string{jobIndexEnv + "=1"} // shard 1: from the environment
			if shard == 0 {
				args, env = append(args, "-shard", "0"), nil
			}
			var stderr bytes.Buffer
			if code := runBotsEnv(t, botsBin, env, nil, &stderr, args...); code != exitOK {
				t.Errorf("shard %d: exit %d; stderr:\n%s", shard, code, stderr.String())
			}
		}()
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}

	var stdout, stderr bytes.Buffer
	mergedFile := filepath.Join(dir, "merged.json")
	if code := runBotsEnv(t, botsBin, nil, &stdout, &stderr, "merge", "-json", mergedFile, file(0, "json"), file(1, "json")); code != exitOK {
		t.Fatalf("bots merge: exit %d; stderr:\n%s", code, stderr.String())
	}
	t.Logf("merged report:\n%s", stdout.String())
	if !strings.Contains(stdout.String(), "(2 reports merged)") || !strings.Contains(stdout.String(), "all held") {
		t.Errorf("the merged table does not say what it is:\n%s", stdout.String())
	}
	merged := readReport(t, mergedFile)
	shards := []*bots.Report{readReport(t, file(0, "json")), readReport(t, file(1, "json"))}

	// Each shard ran its half of the bots, with its own seed.
	for i, r := range shards {
		if c := r.Config; c.Shard != i || c.FirstBot != 4*i || c.Bots != 4 || c.Seed != uint64(10+i) || r.BotsMeasured != 4 {
			t.Errorf("shard %d ran %+v, measured %d bots", i, c, r.BotsMeasured)
		}
	}
	// The merged histograms against one built from every raw sample.
	raw := map[string][]time.Duration{}
	for i, r := range shards {
		own := readRawSamples(t, file(i, "raw"))
		if got := int64(len(own[bots.SampleInputAck])); got != r.InputAckSamples || got == 0 {
			t.Errorf("shard %d dumped %d input-to-ack samples, its report counts %d", i, got, r.InputAckSamples)
		}
		for k, v := range own {
			raw[k] = append(raw[k], v...)
		}
	}
	for _, c := range []struct {
		kind     string
		hist     *bots.Histogram
		p50, p99 *float64
	}{
		{bots.SampleInputAck, merged.Histograms.InputAck, merged.InputAckP50Ms, merged.InputAckP99Ms},
		{bots.SampleRTT, merged.Histograms.RTT, merged.RTTP50Ms, merged.RTTP99Ms},
	} {
		samples := raw[c.kind]
		all := hdrhistogram.New(1, int64(time.Hour/time.Microsecond), 3) // the report's geometry
		for _, d := range samples {
			if err := all.RecordValue(d.Microseconds()); err != nil {
				t.Fatal(err)
			}
		}
		if c.hist.Count() != int64(len(samples)) {
			t.Fatalf("%s: merged histogram holds %d samples, the shards dumped %d", c.kind, c.hist.Count(), len(samples))
		}
		for _, q := range []float64{0, 0.01, 0.1, 0.5, 0.9, 0.99, 0.999, 1} {
			want := time.Duration(all.ValueAtQuantile(q*100)) * time.Microsecond
			if got := c.hist.Quantile(q); got != want {
				t.Errorf("%s q%g: merged %v, histogram of all raw samples %v", c.kind, q, got, want)
			}
		}
		p50 := float64(all.ValueAtQuantile(50)) / 1000
		p99 := float64(all.ValueAtQuantile(99)) / 1000
		if c.p50 == nil || c.p99 == nil || *c.p50 != p50 || *c.p99 != p99 {
			t.Errorf("%s: merged report p50 %v p99 %v ms, all raw samples %v %v", c.kind, deref(c.p50), deref(c.p99), p50, p99)
		}
		slices.Sort(samples)
		rank := min(max(int(0.99*float64(len(samples))+0.5), 1), len(samples)) // HdrHistogram's: the nearest
		exact := samples[rank-1]
		t.Logf("%s: %d samples from both shards; merged p50 %.3f ms, p99 %.3f ms; exact p99 of the raw samples %.3f ms",
			c.kind, len(samples), deref(c.p50), deref(c.p99), float64(exact.Microseconds())/1000)
		if d := time.Duration(deref(c.p99)*1e6) - exact; d < -exact/1000-time.Microsecond || d > exact/1000+time.Microsecond {
			t.Errorf("%s: merged p99 %v ms is not the raw p99 %v within 0.1 %%", c.kind, deref(c.p99), exact)
		}
	}
	// Counters add up; CPU per snapshot is total CPU / total snapshots.
	var snaps, expected int64
	var cpu float64
	for _, r := range shards {
		snaps += r.SnapshotsReceived
		expected += r.SnapshotsExpected
		cpu += *r.Totals.SwarmCPUSeconds
	}
	if merged.BotsMeasured != 8 || merged.Connected != 8 || merged.SnapshotsReceived != snaps || merged.SnapshotsExpected != expected ||
		merged.BotsByTransport["webtransport"] != 4 || merged.BotsByTransport["websocket"] != 4 {
		t.Errorf("merged counters: %d measured, %d connected, snapshots %d of %d, by transport %v; shards' snapshots %d of %d",
			merged.BotsMeasured, merged.Connected, merged.SnapshotsReceived, merged.SnapshotsExpected, merged.BotsByTransport, snaps, expected)
	}
	if got, want := *merged.SwarmCPUPerSnapshotUs, cpu*1e6/float64(snaps); got != want {
		t.Errorf("merged CPU per snapshot %v µs, want total CPU / total snapshots = %v", got, want)
	}
	// One server, seen by both: its figures are one shard's view, not a sum.
	if s := merged.Server; s.Ticks == nil || (*s.Ticks != *shards[0].Server.Ticks && *s.Ticks != *shards[1].Server.Ticks) {
		t.Errorf("merged server ticks %v, want one shard's (%v or %v)", s.Ticks, shards[0].Server.Ticks, shards[1].Server.Ticks)
	}
}

// TestMergeCommand: the shards' thresholds gate the merge unless given
// again; unreadable or duplicate reports are an error that names them.
func TestMergeCommand(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, shard int, ackMs int, th bots.Thresholds) string {
		r := &bots.Report{
			Version:       bots.ReportVersion,
			Config:        bots.ReportConfig{Server: "http://s", Bots: 2, Seed: 1, Shard: shard, Shards: 2, FirstBot: 2 * shard},
			WindowSeconds: 1, Connected: 2, BotsMeasured: 2, SnapshotsReceived: 60, SnapshotsExpected: 60,
			Totals:     bots.Totals{BotSeconds: 2},
			Histograms: bots.Histograms{InputAck: &bots.Histogram{}, RTT: &bots.Histogram{}},
		}
		for range 100 {
			r.Histograms.InputAck.Record(time.Duration(ackMs) * time.Millisecond)
		}
		r.Check(th)
		name = filepath.Join(dir, name)
		if err := writeJSON(name, r); err != nil {
			t.Fatal(err)
		}
		return name
	}
	strict := bots.Thresholds{MaxAckP99: 50 * time.Millisecond, MaxMissedTicks: -1, MaxConnectFailures: -1}
	a, b := write("a.json", 0, 20, strict), write("b.json", 1, 80, strict)
	garbage := filepath.Join(dir, "garbage.json")
	if err := os.WriteFile(garbage, []byte(`{"version":1,"surprise":true}`), 0o644); err != nil {
		t.Fatal(err)
	}
	lenient := write("c.json", 1, 80, bots.Thresholds{MaxAckP99: time.Second, MaxMissedTicks: -1, MaxConnectFailures: -1})
	for _, c := range []struct {
		name   string
		args   []string
		code   int
		stderr string
	}{
		{"the shards' threshold breaks on the merged p99", []string{a, b}, exitThreshold, "threshold broken: -max-ack-p99 50ms"},
		{"a threshold given replaces the shards'", []string{"-max-ack-p99", "100ms", a, b}, exitOK, ""},
		{"shards checked against different thresholds", []string{a, lenient}, exitError, "give the thresholds"},
		{"different thresholds, given", []string{"-max-ack-p99", "1s", a, lenient}, exitOK, ""},
		{"a report given twice", []string{a, a}, exitError, "both ran bots 0 to 1 of seed 1"},
		{"a missing shard", []string{a}, exitOK, "warning: shard 1 of 2 is missing"},
		{"an unknown field", []string{a, garbage}, exitError, `garbage.json: report 1: json: unknown field "surprise"`},
		{"no such file", []string{filepath.Join(dir, "nope.json")}, exitError, "nope.json"},
		{"no file", nil, exitError, "usage: bots merge"},
	} {
		t.Run(c.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(context.Background(), append([]string{"merge"}, c.args...), &stdout, &stderr)
			if code != c.code || !strings.Contains(stderr.String(), c.stderr) {
				t.Fatalf("exit %d, want %d; stderr %q, want it to say %q", code, c.code, stderr.String(), c.stderr)
			}
			if code != exitError && !strings.Contains(stdout.String(), "input-to-ack") {
				t.Fatalf("no table:\n%s", stdout.String())
			}
		})
	}
}

func TestShardFlagsAreValidated(t *testing.T) {
	for _, c := range []struct {
		name, env string
		args      []string
		want      string
	}{
		{"index past the shards", "", []string{"-shards", "2", "-shard", "2"}, "shard 2 of 2"},
		{"index from the job past the shards", "3", []string{"-shards", "2"}, "shard 3 of 2"},
		{"index from the job not a number", "x", []string{"-shards", "2"}, `$JOB_COMPLETION_INDEX="x"`},
		{"fewer bots than shards", "", []string{"-shards", "4", "-n", "3"}, "every shard needs a bot"},
	} {
		t.Run(c.name, func(t *testing.T) {
			if c.env != "" {
				t.Setenv(jobIndexEnv, c.env)
			}
			var stderr bytes.Buffer
			if code := run(context.Background(), c.args, io.Discard, &stderr); code != exitError || !strings.Contains(stderr.String(), c.want) {
				t.Fatalf("exit %d, stderr %q; want exit 2 saying %q", code, stderr.String(), c.want)
			}
		})
	}
}

func runBotsEnv(t *testing.T, bin string, env []string, stdout, stderr *bytes.Buffer, args ...string) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = append(os.Environ(), env...)
	if stdout != nil {
		cmd.Stdout = stdout
	}
	cmd.Stderr = stderr
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ee):
		return ee.ExitCode()
	}
	t.Errorf("bots binary: %v", err)
	return -1
}

func readReport(t *testing.T, name string) *bots.Report {
	t.Helper()
	f, err := os.Open(name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	reps, err := bots.DecodeReports(f)
	if err != nil || len(reps) != 1 {
		t.Fatalf("%s: %d reports, %v", name, len(reps), err)
	}
	return reps[0]
}

func readRawSamples(t *testing.T, name string) map[string][]time.Duration {
	t.Helper()
	f, err := os.Open(name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string][]time.Duration{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		kind, ns, ok := strings.Cut(sc.Text(), " ")
		n, err := strconv.ParseInt(ns, 10, 64)
		if !ok || err != nil {
			t.Fatalf("%s: line %q", name, sc.Text())
		}
		out[kind] = append(out[kind], time.Duration(n))
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func deref(p *float64) float64 {
	if p == nil {
		return -1
	}
	return *p
}
