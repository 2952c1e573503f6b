package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/tickwire/tickwire/bots"
	"github.com/tickwire/tickwire/game"
	"github.com/tickwire/tickwire/netcode/server"
	"github.com/tickwire/tickwire/netcode/server/servertest"
)

// startServer runs a Tickwire server in this process on a free loopback
// port and returns its URL.
func startServer(t *testing.T, maxPlayers int) string {
	t.Helper()
	return servertest.Start(t, &server.Server{Game: game.Config{MaxPlayers: maxPlayers}}).URL()
}

// The CI swarm runs the real binaries, built without the race detector:
// a race-enabled server and 50 race-enabled bots in one process starve
// each other on a loaded 2-core host (the loop fell to 4 Hz), which
// measures the race detector, not Tickwire.
var (
	buildOnce sync.Once
	binDir    string
	buildErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

func binaries(t *testing.T) (server, swarm string) {
	t.Helper()
	buildOnce.Do(func() {
		binDir, buildErr = os.MkdirTemp("", "tickwire-bots-test")
		if buildErr != nil {
			return
		}
		cmd := exec.Command("go", "build", "-o", binDir+string(os.PathSeparator), "../server", ".")
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return filepath.Join(binDir, "server"), filepath.Join(binDir, "bots")
}

// startServerBinary runs the server binary on a free loopback port and
// returns its URL, read from its "listening" log line.
func startServerBinary(t *testing.T, bin string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	cmd := exec.CommandContext(ctx, bin, append([]string{"-addr", "127.0.0.1:0"}, args...)...)
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 10 * time.Second
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); _ = cmd.Wait() })
	urlc := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		sent := false
		for sc.Scan() {
			if m := listenRE.FindStringSubmatch(sc.Text()); m != nil && !sent {
				urlc <- m[1]
				sent = true
			}
		}
	}()
	select {
	case u := <-urlc:
		return u
	case <-time.After(30 * time.Second):
		t.Fatal("server binary did not report its URL within 30s")
	}
	return ""
}

var listenRE = regexp.MustCompile(`msg="tickwire server listening" url=(\S+)`)

// runBots runs the bots binary and returns its exit code.
func runBots(t *testing.T, bin string, stdout, stderr io.Writer, args ...string) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Stdout, cmd.Stderr = stdout, stderr
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ee):
		return ee.ExitCode()
	}
	t.Fatalf("bots binary: %v", err)
	return -1
}

// TestSwarmOf50MixedBotsHoldsCIThresholds is the CI gate: the real server
// binary and 50 bots from the real bots binary, half over WebTransport
// and half over WebSocket, measured for 10 s. The thresholds are generous
// for a loaded host but fail if snapshots stop arriving, input latency
// blows up to seconds or bots cannot connect. The server's missed ticks
// are read from its /metrics and checked (-require-server-metrics).
func TestSwarmOf50MixedBotsHoldsCIThresholds(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a 10 s swarm")
	}
	serverBin, botsBin := binaries(t)
	url := startServerBinary(t, serverBin, "-max-players", "100")
	jsonFile := filepath.Join(t.TempDir(), "report.json")
	var stdout, stderr bytes.Buffer
	code := runBots(t, botsBin, &stdout, &stderr,
		"-server", url, "-n", "50", "-transport", "mixed", "-ramp", "1s", "-warmup", "2s", "-duration", "10s",
		"-json", jsonFile,
		"-max-ack-p99", "3s", "-min-snapshot-ratio", "0.5", "-max-connect-failures", "0", "-max-missed-ticks", "150",
		"-require-server-metrics")
	t.Logf("report:\n%s", stdout.String())
	if code != exitOK {
		t.Fatalf("exit %d, want 0; stderr:\n%s", code, stderr.String())
	}
	var rep bots.Report
	data, err := os.ReadFile(jsonFile)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &rep); err != nil {
		t.Fatalf("report JSON: %v", err)
	}
	if rep.BotsMeasured != 50 || rep.BotsByTransport["webtransport"] != 25 || rep.BotsByTransport["websocket"] != 25 {
		t.Errorf("measured %d bots %v, want 25 over each transport", rep.BotsMeasured, rep.BotsByTransport)
	}
	if rep.InputAckSamples == 0 || rep.InputAckP99Ms == nil || rep.AppUpBytesPerClientSec <= 0 || rep.AppDownBytesPerClientSec <= 0 {
		t.Errorf("report lacks traffic: %+v", rep)
	}
	if rep.SwarmCPUPerBotUsPerSec == nil {
		t.Error("no swarm CPU figure")
	}
	// Not a terminal: one progress line per second, no carriage returns.
	if strings.Contains(stderr.String(), "\r") || strings.Count(stderr.String(), " up, ") < 5 {
		t.Errorf("progress on a non-terminal:\n%s", stderr.String())
	}
}

// TestImpossibleThresholdExitsNonZeroNamingIt runs a short swarm with an
// input-to-ack p99 no network can meet.
func TestImpossibleThresholdExitsNonZeroNamingIt(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a swarm")
	}
	serverBin, botsBin := binaries(t)
	url := startServerBinary(t, serverBin)
	var stderr bytes.Buffer
	code := runBots(t, botsBin, io.Discard, &stderr,
		"-server", url, "-n", "4", "-transport", "mixed", "-warmup", "1s", "-duration", "2s", "-q",
		"-max-ack-p99", "1ns")
	if code != exitThreshold {
		t.Fatalf("exit %d, want %d; stderr:\n%s", code, exitThreshold, stderr.String())
	}
	if !strings.Contains(stderr.String(), "threshold broken: -max-ack-p99 1ns") {
		t.Fatalf("stderr does not name the broken threshold:\n%s", stderr.String())
	}
}

// TestASwarmLeavesItsPlacesFree runs two swarms one after the other
// against a server with places for exactly one of them: each bot must
// leave with a goodbye, not vanish, or the server holds its player for a
// resume and the second swarm finds the room full (it did: a third of
// the sessions were dropped by the cancelled run context first).
func TestASwarmLeavesItsPlacesFree(t *testing.T) {
	if testing.Short() {
		t.Skip("runs two swarms")
	}
	serverBin, botsBin := binaries(t)
	url := startServerBinary(t, serverBin, "-max-players", "12")
	for run := 1; run <= 2; run++ {
		var stdout, stderr bytes.Buffer
		code := runBots(t, botsBin, &stdout, &stderr,
			"-server", url, "-n", "12", "-transport", "mixed", "-ramp", "500ms", "-warmup", "500ms", "-duration", "1s", "-q",
			"-max-connect-failures", "0")
		if code != exitOK {
			t.Fatalf("swarm %d: exit %d, want 0 (every bot connected)\n%s\nstderr:\n%s", run, code, stdout.String(), stderr.String())
		}
	}
}

// TestScrapedServerMetricsGateTheRun runs the swarm against an
// in-process server's /metrics (the metrics of docs/HOSTING.md), so that
// the scrape, the window deltas and -max-missed-ticks are exercised end
// to end; then against an address that serves no metrics, where
// -require-server-metrics fails a threshold it cannot check.
func TestScrapedServerMetricsGateTheRun(t *testing.T) {
	url := startServer(t, 100)
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), []string{
		"-server", url, "-n", "2", "-transport", "ws", "-warmup", "500ms", "-duration", "2s", "-q",
		"-max-missed-ticks", "1000000", "-require-server-metrics",
	}, &stdout, &stderr)
	if code != exitOK {
		t.Fatalf("exit %d; stderr:\n%s\nreport:\n%s", code, stderr.String(), stdout.String())
	}
	if !strings.Contains(stdout.String(), "missed ticks") || strings.Contains(stdout.String(), "missed ticks n/a") {
		t.Fatalf("server figures not in the report:\n%s", stdout.String())
	}
	code = run(context.Background(), []string{
		"-server", url, "-n", "1", "-transport", "ws", "-warmup", "-1s", "-duration", "1s", "-q",
		"-max-missed-ticks", "-2", "-metrics", url + "/nothing", "-require-server-metrics",
	}, io.Discard, &stderr)
	if code != exitOK {
		t.Fatalf("-max-missed-ticks -2 is unchecked, yet exit %d", code)
	}
	stderr.Reset()
	code = run(context.Background(), []string{
		"-server", url, "-n", "1", "-transport", "ws", "-warmup", "-1s", "-duration", "1s", "-q",
		"-max-missed-ticks", "0", "-metrics", url + "/nothing", "-require-server-metrics",
	}, io.Discard, &stderr)
	if code != exitThreshold || !strings.Contains(stderr.String(), "-max-missed-ticks 0: the server's missed ticks are unknown") {
		t.Fatalf("missing metrics with -require-server-metrics: exit %d, stderr:\n%s", code, stderr.String())
	}
}

func TestUnreachableServerIsAnErrorNotAPass(t *testing.T) {
	var stderr bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	code := run(ctx, []string{
		"-server", "http://127.0.0.1:1", "-n", "2", "-transport", "ws", "-warmup", "-1s", "-duration", "100ms", "-q", "-metrics", "-",
	}, io.Discard, &stderr)
	if code != exitError || !strings.Contains(stderr.String(), "no bot connected") {
		t.Fatalf("exit %d, stderr:\n%s", code, stderr.String())
	}
}

func TestBadFlagsExitWithUsageError(t *testing.T) {
	if code := run(context.Background(), []string{"-transport", "pigeon"}, io.Discard, io.Discard); code != exitError {
		t.Fatalf("unknown transport: exit %d", code)
	}
	if code := run(context.Background(), []string{"-n", "x"}, io.Discard, io.Discard); code != exitError {
		t.Fatalf("bad -n: exit %d", code)
	}
}

func TestLinkImpairmentFlagsAreValidated(t *testing.T) {
	var stderr bytes.Buffer
	if code := run(context.Background(), []string{"-up-loss", "1.5"}, io.Discard, &stderr); code != exitError ||
		!strings.Contains(stderr.String(), "probabilities in [0, 1]") {
		t.Fatalf("-up-loss 1.5: exit %d, stderr %q", code, stderr.String())
	}
}

// TestBotsJoinTheRoomTheyAreToldTo: -room sends every bot to that room
// (one created through the server's API, as the lobby does), not to the
// default one.
func TestBotsJoinTheRoomTheyAreToldTo(t *testing.T) {
	_, botsBin := binaries(t)
	srv := servertest.Start(t, &server.Server{})
	if _, err := srv.CreateRoom(server.RoomOptions{ID: "duel"}); err != nil {
		t.Fatal(err)
	}
	done := make(chan int, 1)
	var stdout, stderr bytes.Buffer
	go func() {
		done <- runBots(t, botsBin, &stdout, &stderr,
			"-server", srv.URL(), "-room", "duel", "-n", "4", "-warmup", "0s", "-duration", "3s", "-metrics", "-")
	}()
	inDuel := 0
	deadline := time.Now().Add(20 * time.Second)
	for inDuel < 4 && time.Now().Before(deadline) {
		inDuel = 0
		for _, s := range srv.Sessions() {
			if s.Room != "duel" {
				t.Fatalf("a bot joined room %q, want duel", s.Room)
			}
			inDuel++
		}
		time.Sleep(20 * time.Millisecond) // polling the server's sessions; no signal to await
	}
	if inDuel != 4 {
		t.Fatalf("%d bots in room duel, want 4", inDuel)
	}
	if code := <-done; code != exitOK {
		t.Fatalf("exit %d; stderr:\n%s", code, stderr.String())
	}
}

// TestBotsSpreadOverRoomsTheyCreateThroughTheLobby: -rooms 2 creates
// bots-1 and bots-2 through the lobby (with its key) and sends half the
// bots to each; without the key the lobby refuses and the run fails,
// saying so.
func TestBotsSpreadOverRoomsTheyCreateThroughTheLobby(t *testing.T) {
	_, botsBin := binaries(t)
	srv := servertest.Start(t, &server.Server{LobbyKey: "backend-key"})
	var stdout, stderr bytes.Buffer
	if code := runBots(t, botsBin, &stdout, &stderr, "-server", srv.URL(), "-rooms", "2", "-n", "2",
		"-duration", "1s", "-metrics", "-"); code == exitOK || !strings.Contains(stderr.String(), "401") {
		t.Fatalf("without the lobby key: exit %d, stderr:\n%s", code, stderr.String())
	}

	done := make(chan int, 1)
	stdout.Reset()
	stderr.Reset()
	go func() {
		done <- runBots(t, botsBin, &stdout, &stderr, "-server", srv.URL(), "-rooms", "2", "-lobby-key", "backend-key",
			"-n", "4", "-warmup", "0s", "-duration", "3s", "-metrics", "-")
	}()
	perRoom := map[string]int{}
	deadline := time.Now().Add(20 * time.Second)
	for perRoom["bots-1"]+perRoom["bots-2"] < 4 && time.Now().Before(deadline) {
		clear(perRoom)
		for _, s := range srv.Sessions() {
			perRoom[s.Room]++
		}
		time.Sleep(20 * time.Millisecond) // polling the server's sessions; no signal to await
	}
	if perRoom["bots-1"] != 2 || perRoom["bots-2"] != 2 {
		t.Fatalf("bots per room %v, want 2 in bots-1 and 2 in bots-2", perRoom)
	}
	if code := <-done; code != exitOK {
		t.Fatalf("exit %d; stderr:\n%s", code, stderr.String())
	}
}

// TestLobbyKeyComesFromTheEnvironment: the key is a secret, so it can
// come from $TICKWIRE_LOBBY_KEY (as the server's does) instead of the
// command line, which other users of the host can read.
func TestLobbyKeyComesFromTheEnvironment(t *testing.T) {
	srv := servertest.Start(t, &server.Server{LobbyKey: "backend-key"})
	t.Setenv(lobbyKeyEnv, "backend-key")
	var stderr bytes.Buffer
	code := run(context.Background(), []string{"-server", srv.URL(), "-rooms", "2", "-n", "2", "-transport", "ws",
		"-warmup", "0s", "-duration", "1s", "-metrics", "-", "-q"}, io.Discard, &stderr)
	if code != exitOK {
		t.Fatalf("exit %d with the key in $%s; stderr:\n%s", code, lobbyKeyEnv, stderr.String())
	}
}
