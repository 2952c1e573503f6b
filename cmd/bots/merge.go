package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/tickwire/tickwire/bots"
)

const mergeUsage = `usage: bots merge [flags] FILE...

Merges the JSON reports of a swarm's shards (files written with -json,
or the JSON lines of their logs, several in a file; - reads stdin) into
one report: the same table, the thresholds checked again. The shards'
thresholds apply unless one is given here, which replaces theirs.
`

// runMerge is "bots merge": exit 0 when every threshold held on the
// merged report, 1 when one broke, 2 when the reports could not be read
// or merged.
func runMerge(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("bots merge", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, mergeUsage); fs.PrintDefaults() }
	var (
		th       bots.Thresholds
		jsonFile string
	)
	thresholdFlags(fs, &th)
	fs.StringVar(&jsonFile, "json", "", "also write the merged report as JSON to `file` (- : one line on stdout)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitError
	}
	if fs.NArg() == 0 {
		fs.Usage()
		return exitError
	}
	var reps []*bots.Report
	for _, name := range fs.Args() {
		rs, err := readReports(name)
		if err != nil {
			fmt.Fprintln(stderr, "bots merge:", err)
			return exitError
		}
		reps = append(reps, rs...)
	}
	th, err := mergeThresholds(fs, th, reps)
	if err != nil {
		fmt.Fprintln(stderr, "bots merge:", err)
		return exitError
	}
	merged, err := bots.Merge(reps)
	if err != nil {
		fmt.Fprintln(stderr, "bots", err)
		return exitError
	}
	ok := merged.Check(th)
	if code := writeReport(merged, jsonFile, stdout, stderr); code != exitOK {
		return code
	}
	return verdict(merged, ok, true, stderr)
}

// mergeThresholds is what the merged report is checked against: the
// thresholds the shards were checked against, each replaced by the one
// given on the command line. Shards checked against different ones need
// them given.
func mergeThresholds(fs *flag.FlagSet, given bots.Thresholds, reps []*bots.Report) (bots.Thresholds, error) {
	shards, ok, err := bots.CommonThresholds(reps)
	anyGiven := false
	fs.Visit(func(f *flag.Flag) { anyGiven = anyGiven || f.Name != "json" })
	switch {
	case err != nil && !anyGiven:
		return bots.Thresholds{}, fmt.Errorf("%w (any threshold flag replaces them all)", err)
	case err != nil || !ok:
		return given, nil
	}
	th := shards
	fs.Visit(func(f *flag.Flag) {
		switch f.Name {
		case "max-ack-p99":
			th.MaxAckP99 = given.MaxAckP99
		case "max-missed-ticks":
			th.MaxMissedTicks = given.MaxMissedTicks
		case "min-snapshot-ratio":
			th.MinSnapshotRatio = given.MinSnapshotRatio
		case "max-connect-failures":
			th.MaxConnectFailures = given.MaxConnectFailures
		case "require-server-metrics":
			th.RequireServerMetrics = given.RequireServerMetrics
		}
	})
	return th, nil
}

func readReports(name string) ([]*bots.Report, error) {
	if name == "-" {
		rs, err := bots.DecodeReports(os.Stdin)
		if err != nil {
			return nil, fmt.Errorf("stdin: %w", err)
		}
		return rs, nil
	}
	f, err := os.Open(name)
	if err != nil {
		return nil, err // names the file
	}
	defer f.Close()
	rs, err := bots.DecodeReports(bufio.NewReader(f))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return rs, nil
}

// rawSamples writes each latency sample the swarm records, as "KIND NS"
// lines, from the bots' goroutines at once.
type rawSamples struct {
	mu  sync.Mutex
	f   *os.File
	w   *bufio.Writer
	err error
}

func newRawSamples(name string) (*rawSamples, error) {
	f, err := os.Create(name)
	if err != nil {
		return nil, fmt.Errorf("raw samples: %w", err)
	}
	return &rawSamples{f: f, w: bufio.NewWriter(f)}, nil
}

func (r *rawSamples) record(kind string, d time.Duration) {
	r.mu.Lock()
	if _, err := fmt.Fprintf(r.w, "%s %d\n", kind, d.Nanoseconds()); err != nil && r.err == nil {
		r.err = err
	}
	r.mu.Unlock()
}

func (r *rawSamples) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	err := errors.Join(r.err, r.w.Flush(), r.f.Close())
	if err != nil {
		return fmt.Errorf("raw samples %s: %w", r.f.Name(), err)
	}
	return nil
}
