// Command bots runs a swarm of headless Tickwire clients against a server
// and reports what they measured: the load test and benchmark tool.
//
//	go run ./cmd/bots -server http://127.0.0.1:4433 -n 500 -ramp 10s -duration 60s -transport mixed
//	go run ./cmd/bots -server URL -n 50 -duration 10s -max-ack-p99 100ms -min-snapshot-ratio 0.99
//
// Each bot is a real client session (the netcode client the game uses)
// playing the benchmark bot of docs/GAME.md. A progress line goes to
// stderr every second; the report to stdout as a table and, with -json,
// to a file (or, with -json -, as one JSON line after the table).
//
// One swarm can run as several shards, one process each on as many
// machines: -shards N -shard I (I defaults to $JOB_COMPLETION_INDEX, set
// by a Kubernetes Indexed Job) runs the I-th part of the -n bots; merge
// adds the shards' JSON reports up and applies the thresholds again:
//
//	go run ./cmd/bots -server URL -n 10000 -shards 10 -shard 3 -gate=false -json shard-3.json
//	go run ./cmd/bots merge -max-ack-p99 100ms shard-*.json
//
// Exit status: 0 when every threshold held, 1 when one broke (named on
// stderr), 2 when the run (or the merge) could not happen.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/tickwire/tickwire/bots"
	"github.com/tickwire/tickwire/internal/cpuprofile"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// Exit codes.
const (
	exitOK        = 0
	exitThreshold = 1
	exitError     = 2
)

const (
	// jobIndexEnv is where a Kubernetes Indexed Job puts each pod's index.
	jobIndexEnv = "JOB_COMPLETION_INDEX"
	// lobbyKeyEnv is the lobby key, named as the server names it.
	lobbyKeyEnv = "TICKWIRE_LOBBY_KEY"
)

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 && args[0] == "merge" {
		return runMerge(args[1:], stdout, stderr)
	}
	fs := flag.NewFlagSet("bots", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		cfg      bots.Config
		th       bots.Thresholds
		jsonFile string
		rawFile  string
		gate     bool
		quiet    bool
		cpuProf  string
		verbose  bool
	)
	fs.StringVar(&cfg.Server, "server", "http://127.0.0.1:4433", "server base `URL`")
	fs.StringVar(&cfg.Room, "room", "", "`id` of the room every bot joins (default: the server's default room)")
	fs.IntVar(&cfg.Rooms, "rooms", 0, "spread the bots over `K` rooms, bots-1 to bots-K, created through the server's lobby")
	fs.BoolVar(&cfg.Quick, "quick", false, "quick-play: the lobby picks each bot's room (or opens one) on any process")
	fs.StringVar(&cfg.LobbyKey, "lobby-key", os.Getenv(lobbyKeyEnv), "bearer `key` of the server's lobby (its -lobby-key; default $"+lobbyKeyEnv+", where a secret belongs); bots then join through the lobby, with its tokens, unlimited by its per-address limits")
	fs.IntVar(&cfg.Bots, "n", 50, "number of bots (of the whole swarm, with -shards)")
	fs.IntVar(&cfg.Shards, "shards", 1, "split the swarm into `N` shards, one process each: this one runs its part of the bots and rooms")
	fs.IntVar(&cfg.Shard, "shard", 0, "`index` of this process's shard, 0 to N-1 (default $"+jobIndexEnv+", else 0)")
	fs.DurationVar(&cfg.Duration, "duration", 10*time.Second, "measurement window")
	fs.DurationVar(&cfg.Ramp, "ramp", 0, "spread the connections over this long")
	fs.DurationVar(&cfg.Warmup, "warmup", 2*time.Second, "play this long after the ramp before measuring")
	fs.StringVar(&cfg.Transport, "transport", "wt", "wt, ws or mixed (even bots wt, odd bots ws)")
	fs.BoolVar(&cfg.OwnSockets, "own-sockets", false, "give each WebTransport bot its own UDP socket (default: one shared by the swarm)")
	fs.Uint64Var(&cfg.Seed, "seed", 1, "seed of every bot's behaviour and link")
	linkFlags(fs, "up", "client to server", &cfg.Up)
	linkFlags(fs, "down", "server to client", &cfg.Down)
	fs.IntVar(&cfg.Schedulers, "schedulers", 1, "goroutines driving the bots' inputs")
	fs.Float64Var(&cfg.FrameRate, "frame-rate", 10, "display frames per bot per second for interpolation health (negative: none)")
	fs.StringVar(&cfg.MetricsURL, "metrics", "", "server metrics `URL` (default: server URL + /metrics; - for none)")
	fs.IntVar(&cfg.ServerPID, "server-pid", 0, "server process `id` on this host: report its CPU and peak memory")
	fs.StringVar(&cfg.WireDev, "wire-dev", "", "count wire bytes on this `interface` (/proc/net/dev; a private loopback)")
	fs.StringVar(&cfg.WireCmd, "wire-cmd", "", "shell `command` printing cumulative wire bytes: \"DOWN UP\" or \"TOTAL\"")
	fs.StringVar(&jsonFile, "json", "", "also write the report as JSON to `file` (- : one line on stdout, after the table); bots merge reads it")
	fs.BoolVar(&gate, "gate", true, "exit 1 when a threshold breaks (-gate=false: only report it, for shards whose merge gates the swarm)")
	fs.StringVar(&rawFile, "raw-samples", "", "write every latency sample the histograms record to `file`, \"KIND NANOSECONDS\" a line (to check them)")
	fs.BoolVar(&quiet, "q", false, "no progress line")
	fs.StringVar(&cpuProf, "cpuprofile", "", "write the swarm's CPU profile to `file`")
	fs.BoolVar(&verbose, "v", false, "log the sessions' warnings to stderr")
	thresholdFlags(fs, &th)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitError
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "bots: unexpected arguments %q\n", fs.Args())
		return exitError
	}
	if idx, ok := os.LookupEnv(jobIndexEnv); ok && !flagSet(fs, "shard") {
		n, err := strconv.Atoi(idx)
		if err != nil {
			fmt.Fprintf(stderr, "bots: $%s=%q: not a shard index\n", jobIndexEnv, idx)
			return exitError
		}
		cfg.Shard = n
	}
	if !quiet {
		cfg.Progress = stderr
		cfg.ProgressTTY = isTerminal(stderr)
	}
	if verbose {
		cfg.Logger = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}

	if cpuProf != "" {
		stopProf, err := cpuprofile.Start(cpuProf)
		if err != nil {
			fmt.Fprintln(stderr, "bots:", err)
			return exitError
		}
		defer stopProf()
	}
	if rawFile != "" {
		raw, err := newRawSamples(rawFile)
		if err != nil {
			fmt.Fprintln(stderr, "bots:", err)
			return exitError
		}
		cfg.OnSample = raw.record
		defer func() {
			if err := raw.Close(); err != nil {
				fmt.Fprintln(stderr, "bots:", err)
			}
		}()
	}
	rep, err := bots.Run(ctx, cfg)
	if rep == nil {
		fmt.Fprintln(stderr, "bots:", err)
		return exitError
	}
	ok := rep.Check(th)
	if code := writeReport(rep, jsonFile, stdout, stderr); code != exitOK {
		return code
	}
	if err != nil {
		fmt.Fprintln(stderr, "bots: run cut short:", err)
		return exitError
	}
	return verdict(rep, ok, gate, stderr)
}

// writeReport writes the table to stdout and, given a file, the JSON
// there (or, for "-", one line of it to stdout).
func writeReport(rep *bots.Report, jsonFile string, stdout, stderr io.Writer) int {
	if err := rep.WriteTable(stdout); err != nil {
		fmt.Fprintln(stderr, "bots: writing report:", err)
		return exitError
	}
	var err error
	switch jsonFile {
	case "":
	case "-":
		err = rep.WriteJSONLine(stdout)
	default:
		err = writeJSON(jsonFile, rep)
	}
	if err != nil {
		fmt.Fprintln(stderr, "bots:", err)
		return exitError
	}
	return exitOK
}

// verdict names on stderr what was not checked and what broke, and
// returns the exit status: with gate false a broken threshold is only
// reported.
func verdict(rep *bots.Report, ok, gate bool, stderr io.Writer) int {
	if rep.BotsMeasured == 0 {
		fmt.Fprintf(stderr, "bots: no bot connected (%d failures)\n", rep.ConnectFailures)
		return exitError
	}
	for _, w := range rep.Warnings {
		fmt.Fprintln(stderr, "bots: warning:", w)
	}
	for _, u := range rep.Unchecked {
		fmt.Fprintln(stderr, "bots: threshold not checked:", u)
	}
	if ok {
		return exitOK
	}
	for _, f := range rep.Failures {
		fmt.Fprintln(stderr, "bots: threshold broken:", f)
	}
	if !gate {
		return exitOK
	}
	return exitThreshold
}

// thresholdFlags registers the thresholds, alike for a run and a merge.
func thresholdFlags(fs *flag.FlagSet, th *bots.Thresholds) {
	fs.DurationVar(&th.MaxAckP99, "max-ack-p99", 0, "fail if input-to-ack p99 exceeds this (0: unchecked)")
	fs.IntVar(&th.MaxMissedTicks, "max-missed-ticks", -1, "fail if the server missed more ticks in the window (-1: unchecked)")
	fs.Float64Var(&th.MinSnapshotRatio, "min-snapshot-ratio", 0, "fail if snapshots received/expected is below this (0: unchecked)")
	fs.IntVar(&th.MaxConnectFailures, "max-connect-failures", -1, "fail if more bots fail to connect (-1: unchecked)")
	fs.BoolVar(&th.RequireServerMetrics, "require-server-metrics", false, "fail a server threshold the server's metrics cannot answer")
}

// flagSet reports whether the flag name was given.
func flagSet(fs *flag.FlagSet, name string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}

// linkFlags registers -PREFIX-latency, -jitter, -loss, -dup, -reorder.
func linkFlags(fs *flag.FlagSet, prefix, dir string, l *bots.Link) {
	fs.DurationVar(&l.Latency, prefix+"-latency", 0, "simulated one-way latency, "+dir)
	fs.DurationVar(&l.Jitter, prefix+"-jitter", 0, "simulated jitter, "+dir)
	fs.Float64Var(&l.Loss, prefix+"-loss", 0, "simulated datagram loss probability, "+dir)
	fs.Float64Var(&l.Duplicate, prefix+"-dup", 0, "simulated datagram duplication probability, "+dir)
	fs.Float64Var(&l.Reorder, prefix+"-reorder", 0, "simulated datagram reordering probability, "+dir)
}

func writeJSON(name string, rep *bots.Report) error {
	f, err := os.Create(name)
	if err != nil {
		return fmt.Errorf("writing report: %w", err)
	}
	if err := rep.WriteJSON(f); err != nil {
		f.Close()
		return fmt.Errorf("writing report %s: %w", name, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("writing report %s: %w", name, err)
	}
	return nil
}

// isTerminal reports whether w is a character device (a terminal).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
