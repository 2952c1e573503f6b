// Command bots runs a swarm of headless Tickwire clients against a server
// and reports what they measured: the load test and benchmark tool.
//
//	go run ./cmd/bots -server http://127.0.0.1:4433 -n 500 -ramp 10s -duration 60s -transport mixed
//	go run ./cmd/bots -server URL -n 50 -duration 10s -max-ack-p99 100ms -min-snapshot-ratio 0.99
//
// Each bot is a real client session (the netcode client the game uses)
// playing the benchmark bot of docs/GAME.md. A progress line goes to
// stderr every second; the report to stdout as a table and, with -json,
// to a file.
//
// Exit status: 0 when every threshold held, 1 when one broke (named on
// stderr), 2 when the run could not happen.
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
	"runtime/pprof"
	"syscall"
	"time"

	"github.com/tickwire/tickwire/bots"
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

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("bots", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		cfg      bots.Config
		th       bots.Thresholds
		jsonFile string
		quiet    bool
		cpuProf  string
		verbose  bool
	)
	fs.StringVar(&cfg.Server, "server", "http://127.0.0.1:4433", "server base `URL`")
	fs.StringVar(&cfg.Room, "room", "", "`id` of the room every bot joins (default: the server's default room)")
	fs.IntVar(&cfg.Rooms, "rooms", 0, "spread the bots over `K` rooms, bots-1 to bots-K, created through the server's lobby")
	fs.BoolVar(&cfg.Quick, "quick", false, "quick-play: the lobby picks each bot's room (or opens one) on any process")
	fs.StringVar(&cfg.LobbyKey, "lobby-key", "", "bearer `key` of the server's lobby (its -lobby-key); bots then join through the lobby, with its tokens")
	fs.IntVar(&cfg.Bots, "n", 50, "number of bots")
	fs.DurationVar(&cfg.Duration, "duration", 10*time.Second, "measurement window")
	fs.DurationVar(&cfg.Ramp, "ramp", 0, "spread the connections over this long")
	fs.DurationVar(&cfg.Warmup, "warmup", 2*time.Second, "play this long after the ramp before measuring")
	fs.StringVar(&cfg.Transport, "transport", "wt", "wt, ws or mixed (even bots wt, odd bots ws)")
	fs.Uint64Var(&cfg.Seed, "seed", 1, "seed of every bot's behaviour and link")
	linkFlags(fs, "up", "client to server", &cfg.Up)
	linkFlags(fs, "down", "server to client", &cfg.Down)
	fs.IntVar(&cfg.Schedulers, "schedulers", 1, "goroutines driving the bots' inputs")
	fs.Float64Var(&cfg.FrameRate, "frame-rate", 10, "display frames per bot per second for interpolation health (negative: none)")
	fs.StringVar(&cfg.MetricsURL, "metrics", "", "server metrics `URL` (default: server URL + /metrics; - for none)")
	fs.IntVar(&cfg.ServerPID, "server-pid", 0, "server process `id` on this host: report its CPU and peak memory")
	fs.StringVar(&cfg.WireDev, "wire-dev", "", "count wire bytes on this `interface` (/proc/net/dev; a private loopback)")
	fs.StringVar(&cfg.WireCmd, "wire-cmd", "", "shell `command` printing cumulative wire bytes: \"DOWN UP\" or \"TOTAL\"")
	fs.StringVar(&jsonFile, "json", "", "also write the report as JSON to `file`")
	fs.BoolVar(&quiet, "q", false, "no progress line")
	fs.StringVar(&cpuProf, "cpuprofile", "", "write the swarm's CPU profile to `file`")
	fs.BoolVar(&verbose, "v", false, "log the sessions' warnings to stderr")
	fs.DurationVar(&th.MaxAckP99, "max-ack-p99", 0, "fail if input-to-ack p99 exceeds this (0: unchecked)")
	fs.IntVar(&th.MaxMissedTicks, "max-missed-ticks", -1, "fail if the server missed more ticks in the window (-1: unchecked)")
	fs.Float64Var(&th.MinSnapshotRatio, "min-snapshot-ratio", 0, "fail if snapshots received/expected is below this (0: unchecked)")
	fs.IntVar(&th.MaxConnectFailures, "max-connect-failures", -1, "fail if more bots fail to connect (-1: unchecked)")
	fs.BoolVar(&th.RequireServerMetrics, "require-server-metrics", false, "fail a server threshold the server's metrics cannot answer")
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
	if !quiet {
		cfg.Progress = stderr
		cfg.ProgressTTY = isTerminal(stderr)
	}
	if verbose {
		cfg.Logger = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}

	if cpuProf != "" {
		stopProf, err := startCPUProfile(cpuProf)
		if err != nil {
			fmt.Fprintln(stderr, "bots:", err)
			return exitError
		}
		defer stopProf()
	}
	rep, err := bots.Run(ctx, cfg)
	if rep == nil {
		fmt.Fprintln(stderr, "bots:", err)
		return exitError
	}
	ok := rep.Check(th)
	if err := rep.WriteTable(stdout); err != nil {
		fmt.Fprintln(stderr, "bots: writing report:", err)
		return exitError
	}
	if jsonFile != "" {
		if werr := writeJSON(jsonFile, rep); werr != nil {
			fmt.Fprintln(stderr, "bots:", werr)
			return exitError
		}
	}
	if err != nil {
		fmt.Fprintln(stderr, "bots: run cut short:", err)
		return exitError
	}
	if rep.BotsMeasured == 0 {
		fmt.Fprintf(stderr, "bots: no bot connected (%d failures)\n", rep.ConnectFailures)
		return exitError
	}
	for _, u := range rep.Unchecked {
		fmt.Fprintln(stderr, "bots: threshold not checked:", u)
	}
	if !ok {
		for _, f := range rep.Failures {
			fmt.Fprintln(stderr, "bots: threshold broken:", f)
		}
		return exitThreshold
	}
	return exitOK
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

func startCPUProfile(name string) (stop func(), err error) {
	f, err := os.Create(name)
	if err != nil {
		return nil, fmt.Errorf("cpu profile: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("cpu profile: %w", err)
	}
	return func() { pprof.StopCPUProfile(); f.Close() }, nil
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
