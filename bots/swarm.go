package bots

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tickwire/tickwire/game"
	"github.com/tickwire/tickwire/netcode/client"
	"github.com/tickwire/tickwire/netcode/lobby"
	"github.com/tickwire/tickwire/netcode/transport"
	"github.com/tickwire/tickwire/netcode/wire"
	pb "github.com/tickwire/tickwire/proto/tickwire/v1"
)

// Link is one direction's simulated impairment; its fields are those of
// linksim.Config, so one converts to the other.
type Link struct {
	Latency, Jitter          time.Duration // one way
	Loss, Duplicate, Reorder float64       // probabilities 0..1, datagrams only
}

func (l Link) active() bool {
	return l.Latency > 0 || l.Jitter > 0 || l.Loss > 0 || l.Duplicate > 0 || l.Reorder > 0
}

// Transports a swarm can use.
const (
	TransportWT    = "wt"    // every bot over WebTransport
	TransportWS    = "ws"    // every bot over WebSocket
	TransportMixed = "mixed" // even bots WebTransport, odd bots WebSocket
)

// Config configures a swarm. Server is required; every other field has a
// useful zero value, documented with it.
type Config struct {
	// Server is the server's base URL, e.g. "http://127.0.0.1:4433".
	Server string
	// Room is the room every bot joins. Default the server's default room.
	Room string
	// Rooms, when positive, spreads the bots over that many rooms named
	// bots-1 to bots-K (bot i joins bots-(i mod K + 1)), created through
	// the server's lobby (POST /rooms) where they do not exist yet. It and
	// Room are alternatives.
	Rooms int
	// Quick has every bot quick-play: the lobby picks its room (the
	// fullest with a seat, on any process) or opens one. A bot refused a
	// seat (the room filled meanwhile) asks again. It excludes Room and
	// Rooms.
	Quick bool
	// LobbyKey is the bearer key the lobby asks for (the server's
	// -lobby-key). With it every bot joins through the lobby, which hands
	// out join tokens (for a server that requires them).
	LobbyKey string
	// Bots is how many bots the swarm has (all shards together). Default 50.
	Bots int
	// Shard and Shards split one swarm over Shards processes, on as many
	// machines: this process runs shard Shard (0 to Shards-1), the bots
	// Shard·Bots/Shards to (Shard+1)·Bots/Shards-1 (bot i keeps its name
	// and its seed, derived from Seed and i, whichever process runs it)
	// and, with Rooms, the rooms Shard·Rooms/Shards+1 to
	// (Shard+1)·Rooms/Shards, which it creates and spreads its bots over.
	// Merge adds the shards' reports up. Default one shard: every bot.
	Shard, Shards int
	// Transport is "wt", "ws" or "mixed". Default "wt".
	Transport string
	// OwnSockets gives each WebTransport bot a UDP socket of its own, as
	// players on their own machines have. By default the swarm's
	// WebTransport bots share one (transport.Socket): one goroutine reads
	// every bot's packets, several per system call, for fewer system
	// calls and wake-ups per snapshot (docs/BENCHMARKS.md); the server
	// sees the same connections.
	OwnSockets bool
	// Ramp spreads the bots' connections evenly over this long. Default 0:
	// all at once.
	Ramp time.Duration
	// Warmup is how long every bot plays after the last connection attempt
	// before measuring starts. Default 2s; negative means none.
	Warmup time.Duration
	// Duration is the measurement window. Default 10s.
	Duration time.Duration
	// Seed seeds every bot's behaviour and link (bot i uses a seed derived
	// from Seed and i).
	Seed uint64
	// Up and Down impair each bot's link (client to server, server to
	// client). Zero: no impairment.
	Up, Down Link
	// Schedulers is the number of goroutines that drive the bots' inputs
	// (bot i belongs to scheduler i mod Schedulers). Default 1.
	Schedulers int
	// Resolution is the longest a scheduler sleeps: how soon it takes up
	// a newly connected bot. Otherwise it wakes when the next bot is due.
	// Default 4ms.
	Resolution time.Duration
	// FrameRate is how many display frames per second each bot accounts
	// for (interpolation health) without drawing. Default 10; negative
	// means none.
	FrameRate float64
	// MetricsURL is the server's Prometheus endpoint. Default Server +
	// "/metrics"; "-" reads none.
	MetricsURL string
	// ServerPID, when positive, is the server's process (on this host):
	// its CPU over the window and its peak memory are reported.
	ServerPID int
	// WireDev names a network interface whose /proc/net/dev byte count is
	// the swarm's wire traffic (a private loopback: "lo"). WireCmd is a
	// shell command printing "DOWN UP" or "TOTAL" cumulative wire bytes; it
	// takes precedence. Both empty: application bytes only.
	WireDev, WireCmd string
	// Progress receives a status line every ProgressInterval (default 1s);
	// nil means none. ProgressTTY rewrites one line with \r instead of
	// printing one line each.
	Progress         io.Writer
	ProgressInterval time.Duration
	ProgressTTY      bool
	// Logger receives the sessions' logs. Default: discarded (the report
	// counts what went wrong).
	Logger *slog.Logger
	// OnSample, when set, is called with every latency recorded in the
	// report's histograms, as it is recorded: kind SampleInputAck or
	// SampleRTT. It is called from many goroutines at once. It exists to
	// check the histograms against the raw samples; nil costs nothing.
	OnSample func(kind string, d time.Duration)
}

// Kinds of latency sample given to Config.OnSample.
const (
	SampleInputAck = "input_ack"
	SampleRTT      = "rtt"
)

func (c *Config) applyDefaults() error {
	if c.Server == "" {
		return errors.New("bots: no server URL")
	}
	if c.Bots == 0 {
		c.Bots = 50
	}
	if c.Bots < 0 {
		return fmt.Errorf("bots: %d bots", c.Bots)
	}
	if c.Rooms < 0 || (c.Rooms > 0 && c.Room != "") || (c.Quick && (c.Rooms > 0 || c.Room != "")) {
		return fmt.Errorf("bots: rooms %d, room %q, quick %v: give one room, a positive number of rooms or quick play", c.Rooms, c.Room, c.Quick)
	}
	if c.Shards == 0 {
		c.Shards = 1
	}
	switch {
	case c.Shards < 0 || c.Shards > MaxShards || c.Shard < 0 || c.Shard >= c.Shards:
		return fmt.Errorf("bots: shard %d of %d: want 0 <= shard < shards <= %d", c.Shard, c.Shards, MaxShards)
	case c.Bots < c.Shards:
		return fmt.Errorf("bots: %d bots over %d shards: every shard needs a bot", c.Bots, c.Shards)
	case c.Rooms > 0 && c.Rooms < c.Shards:
		return fmt.Errorf("bots: %d rooms over %d shards: every shard needs a room of its own", c.Rooms, c.Shards)
	}
	switch c.Transport {
	case "":
		c.Transport = TransportWT
	case TransportWT, TransportWS, TransportMixed:
	default:
		return fmt.Errorf("bots: transport %q: want wt, ws or mixed", c.Transport)
	}
	if c.Warmup == 0 {
		c.Warmup = 2 * time.Second
	}
	c.Warmup = max(c.Warmup, 0)
	if c.Duration <= 0 {
		c.Duration = 10 * time.Second
	}
	if c.Schedulers <= 0 {
		c.Schedulers = 1
	}
	if c.Resolution <= 0 {
		c.Resolution = 4 * time.Millisecond
	}
	if c.FrameRate == 0 {
		c.FrameRate = 10
	}
	if c.MetricsURL == "" {
		c.MetricsURL = strings.TrimSuffix(c.Server, "/") + "/metrics"
	}
	if c.ProgressInterval <= 0 {
		c.ProgressInterval = time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	for _, l := range []Link{c.Up, c.Down} {
		if l.Latency < 0 || l.Jitter < 0 || !prob(l.Loss) || !prob(l.Duplicate) || !prob(l.Reorder) {
			return fmt.Errorf("bots: link %+v: durations must be >= 0 and probabilities in [0, 1]", l)
		}
	}
	return nil
}

func prob(p float64) bool { return p >= 0 && p <= 1 }

func (c *Config) transportOf(i int) transport.Kind {
	switch c.Transport {
	case TransportWS:
		return transport.WebSocket
	case TransportMixed:
		if i%2 == 1 {
			return transport.WebSocket
		}
	}
	return transport.WebTransport
}

// MaxShards bounds Config.Shards, and what a report may claim: far more
// machines than a load test uses, few enough to list.
const MaxShards = 1 << 16

// botRange is the bots this shard runs: ids first to end-1.
func (c *Config) botRange() (first, end int) {
	return c.Shard * c.Bots / c.Shards, (c.Shard + 1) * c.Bots / c.Shards
}

// roomRange is the rooms this shard creates and fills: bots-(first+1)
// to bots-end (none without Rooms).
func (c *Config) roomRange() (first, end int) {
	return c.Shard * c.Rooms / c.Shards, (c.Shard + 1) * c.Rooms / c.Shards
}

// botSeed derives bot i's seed from the swarm's (splitmix64).
func botSeed(seed uint64, i int) uint64 {
	z := seed + uint64(i+1)*0x9e3779b97f4a7c15
	z = (z ^ z>>30) * 0xbf58476d1ce4e5b9
	z = (z ^ z>>27) * 0x94d049bb133111eb
	return z ^ z>>31
}

// ackRing is how many sent inputs a bot remembers for input-to-ack
// latency; older ones are forgotten unacknowledged.
const ackRing = 128

type sentInput struct {
	tick uint32
	at   int64 // swarm clock, ns; 0 once acknowledged
}

// bot is one member of the swarm.
type bot struct {
	id        int
	transport transport.Kind
	brain     *game.Bot
	sess      *botClient // set once connected
	nextFrame time.Time
	wake      time.Time // when its scheduler next visits it
	sendErrs  atomic.Int64
	dead      atomic.Bool

	mu    sync.Mutex // guards ring and acked (scheduler vs reader)
	ring  [ackRing]sentInput
	acked uint32

	start    botClientStats // at the window's start
	inWindow bool
}

// swarm is one run's state.
type swarm struct {
	cfg    Config
	epoch  time.Time
	ack    Histogram // input-to-ack latency, measurement window only
	measur atomic.Bool
	phase  atomic.Value // string: ramp, warmup, measure, done

	scheds []*scheduler
	// certHashes are the server's certificate hashes, fetched once for
	// every bot (nil: each bot fetches them while dialing).
	certHashes [][sha256.Size]byte
	// share decodes each distinct snapshot once for every bot: bots that
	// acked the same baseline receive the same bytes.
	share client.SnapshotShare
	// socket carries every WebTransport bot's connection (nil: each has
	// its own, Config.OwnSockets).
	socket *transport.Socket

	mu        sync.Mutex
	connected []*bot
	failed    map[string]int // connect failures by reason
	failEx    map[string]string
	nFailed   atomic.Int64
	nLive     atomic.Int64
}

// scheduler is one scheduling goroutine's bots. It keeps them in a heap by
// the time each next needs it (its next input or display frame), so a
// wake visits only the bots due instead of every bot: polling N sessions
// every Resolution was most of the swarm's CPU, a lock and cache misses
// per bot per wake, and a saturated scheduler delays every bot's inputs.
type scheduler struct {
	mu    sync.Mutex
	fresh []*bot // connected, not yet in the heap

	heap wakeHeap // scheduler goroutine only
}

// wakeHeap is a min-heap of bots by wake time. Each entry carries its
// wake time (swarm clock, ns) so that sifting reads no bot: with hundreds
// of bots, chasing their pointers was a cache miss per comparison.
type wakeHeap []wakeEntry

type wakeEntry struct {
	at int64
	b  *bot
}

func (h *wakeHeap) push(b *bot, at int64) {
	*h = append(*h, wakeEntry{at, b})
	s := *h
	for i := len(s) - 1; i > 0; {
		p := (i - 1) / 2
		if s[i].at >= s[p].at {
			break
		}
		s[i], s[p] = s[p], s[i]
		i = p
	}
}

// pop removes and returns the bot that wakes first.
func (h *wakeHeap) pop() *bot {
	s := *h
	b := s[0].b
	n := len(s) - 1
	s[0] = s[n]
	s[n] = wakeEntry{}
	s = s[:n]
	for i := 0; ; {
		l, m := 2*i+1, i
		if l < n && s[l].at < s[m].at {
			m = l
		}
		if r := l + 1; r < n && s[r].at < s[m].at {
			m = r
		}
		if m == i {
			break
		}
		s[i], s[m] = s[m], s[i]
		i = m
	}
	*h = s
	return b
}

func (s *swarm) now() int64 { return int64(time.Since(s.epoch)) }

// shardBots is how many bots this process runs.
func (s *swarm) shardBots() int {
	first, end := s.cfg.botRange()
	return end - first
}

// Run runs the swarm: connects the bots over the ramp, lets them play
// through the warm-up and the measurement window, disconnects them and
// reports. It returns an error only when the run could not happen; what
// went wrong during it is in the report.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	if err := cfg.applyDefaults(); err != nil {
		return nil, err
	}
	s := &swarm{cfg: cfg, epoch: time.Now(), failed: map[string]int{}, failEx: map[string]string{}}
	if cfg.Transport != TransportWS && !cfg.OwnSockets {
		sock, err := transport.ListenSocket(":0")
		if err != nil {
			return nil, fmt.Errorf("bots: %w", err)
		}
		defer sock.Close() // after shutdown has closed the sessions
		s.socket = sock
	}
	s.scheds = make([]*scheduler, cfg.Schedulers)
	for i := range s.scheds {
		s.scheds[i] = &scheduler{}
	}
	runCtx, stop := context.WithCancel(ctx)
	defer stop()

	var wg sync.WaitGroup
	for _, sc := range s.scheds {
		wg.Add(1)
		go func() { defer wg.Done(); s.schedule(runCtx, sc) }()
	}
	progDone := make(chan struct{})
	go func() { defer close(progDone); s.progress(runCtx) }()

	s.phase.Store("ramp")
	if cfg.Transport != TransportWS {
		// One fetch for the swarm instead of an HTTP connection per bot
		// during the ramp. On failure each bot fetches (and reports) it.
		ctx, cancel := context.WithTimeout(runCtx, 5*time.Second)
		if hashes, err := transport.FetchCertHashes(ctx, cfg.Server, transport.DialOptions{}); err == nil && len(hashes) > 0 {
			s.certHashes = hashes
		}
		cancel()
	}
	if err := s.cfg.createRooms(runCtx); err != nil {
		s.shutdown(stop, &wg, progDone)
		return nil, err
	}
	s.connectAll(runCtx)
	s.phase.Store("warmup")
	if err := sleepCtx(ctx, cfg.Warmup); err != nil {
		s.shutdown(stop, &wg, progDone)
		return nil, err
	}

	httpc := &http.Client{Timeout: 5 * time.Second}
	rep := &Report{Version: ReportVersion, Config: reportConfig(&cfg)}
	rep.Server.MetricsURL = cfg.MetricsURL

	// Window start: server metrics and counters first, so that reading
	// them is not measured.
	var scrapeA serverScrape
	var errA error
	if cfg.MetricsURL != "-" {
		scrapeA, errA = scrapeServer(ctx, httpc, cfg.MetricsURL)
	}
	wireA, wireErr := s.readWire(ctx)
	srvCPUA, srvCPUErr := s.serverCPU()
	cpuA, cpuOK := selfCPU()
	live := s.beginWindow()
	t0 := time.Now()
	s.measur.Store(true)
	s.phase.Store("measure")

	waitErr := sleepCtx(ctx, cfg.Duration)

	s.measur.Store(false)
	s.settleAcks()
	s.phase.Store("done")
	window := time.Since(t0)
	cpuB, _ := selfCPU()
	srvCPUB, _ := s.serverCPU()
	var wireB wireCount
	if wireErr == nil {
		wireB, wireErr = s.readWire(ctx)
	}
	s.fillClientFigures(rep, live, window)
	if cpuOK {
		rep.Totals.SwarmCPUSeconds = new((cpuB - cpuA).Seconds())
	}
	if wireErr == nil && (cfg.WireCmd != "" || cfg.WireDev != "") {
		rep.fillWire(wireA, wireB)
	} else if wireErr != nil {
		rep.WireError = wireErr.Error()
	}
	if cfg.ServerPID > 0 {
		if srvCPUErr == nil {
			rep.Server.CPUPerSec = new((srvCPUB - srvCPUA).Seconds() / window.Seconds())
		}
		if rss, err := procPeakRSS(cfg.ServerPID); err == nil {
			rep.Server.PeakRSSMiB = new(float64(rss) / (1 << 20))
		}
	}
	if cfg.MetricsURL != "-" {
		scrapeB, errB := scrapeServer(ctx, httpc, cfg.MetricsURL)
		switch {
		case errB != nil:
			rep.Server.MetricsError = errB.Error()
		case !scrapeB.hasHist && !scrapeB.hasMissed:
			rep.Server.MetricsError = "no tickwire_tick_duration_seconds or tickwire_missed_ticks_total in the exposition"
		default:
			if errA != nil { // figures since the server started
				rep.Server.MetricsError = "window start: " + errA.Error() + "; figures since the server started"
				scrapeA = serverScrape{}
			}
			rep.Server.windowFigures(scrapeA, scrapeB)
		}
	}
	rep.derive()
	s.shutdown(stop, &wg, progDone)
	if waitErr != nil {
		return rep, waitErr
	}
	return rep, nil
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// connectAll starts the connection of the shard's k-th bot at Ramp·k/n
// (n bots in the shard) and returns when every attempt has finished.
func (s *swarm) connectAll(ctx context.Context) {
	var wg sync.WaitGroup
	first, end := s.cfg.botRange()
	n := end - first
	for k := range n {
		at := s.epoch.Add(time.Duration(int64(s.cfg.Ramp) * int64(k) / int64(n)))
		if err := sleepCtx(ctx, time.Until(at)); err != nil {
			break
		}
		wg.Add(1)
		go func() { defer wg.Done(); s.connect(ctx, first+k) }()
	}
	wg.Wait()
}

func (s *swarm) connect(ctx context.Context, i int) {
	seed := botSeed(s.cfg.Seed, i)
	b := &bot{id: i, transport: s.cfg.transportOf(i), brain: game.NewBot(seed, 0)}
	sess, err := s.dial(ctx, botClientConfig{
		Server:     s.cfg.Server,
		Room:       s.cfg.roomOf(i),
		Name:       fmt.Sprintf("bot-%d", i),
		Transport:  b.transport,
		Up:         s.cfg.Up,
		Down:       s.cfg.Down,
		Seed:       int64(seed),
		CertHashes: s.certHashes,
		OnSnapshot: func(h *wire.SnapshotHeader) { s.onSnapshot(b, h) },
		Share:      &s.share,
		Socket:     s.socket,
		Logger:     s.cfg.Logger,
	})
	if err != nil {
		reason := failureReason(err)
		s.mu.Lock()
		s.failed[reason]++
		if _, ok := s.failEx[reason]; !ok {
			s.failEx[reason] = err.Error()
		}
		s.mu.Unlock()
		s.nFailed.Add(1)
		return
	}
	b.brain = game.NewBot(seed, sess.TickRate())
	if s.cfg.FrameRate > 0 {
		every := time.Duration(float64(time.Second) / s.cfg.FrameRate)
		b.nextFrame = time.Now().Add(every * time.Duration(i%16) / 16) // spread over a frame
	}
	b.sess = sess
	s.mu.Lock()
	s.connected = append(s.connected, b)
	s.mu.Unlock()
	s.nLive.Add(1)
	sc := s.scheds[i%len(s.scheds)]
	sc.mu.Lock()
	sc.fresh = append(sc.fresh, b)
	sc.mu.Unlock()
}

// failureReason classifies a connection error for the report.
func failureReason(err error) string {
	var de *client.DisconnectError
	switch {
	case errors.As(err, &de):
		return strings.ToUpper(wire.ReasonName(de.Reason))
	case errors.Is(err, context.DeadlineExceeded):
		return "TIMEOUT"
	case errors.Is(err, context.Canceled):
		return "CANCELED"
	}
	msg := err.Error()
	switch {
	case strings.Contains(msg, "connection refused"):
		return "REFUSED"
	case strings.Contains(msg, "closed by peer"):
		return "CLOSED_BY_PEER"
	case strings.Contains(msg, "timeout"), strings.Contains(msg, "deadline"):
		return "TIMEOUT"
	case strings.Contains(msg, "certificate"):
		return "CERTIFICATE"
	}
	return "OTHER"
}

// onSnapshot runs on a bot's reader goroutine: it acknowledges every
// input up to the snapshot's LastInputTick not acknowledged before.
func (s *swarm) onSnapshot(b *bot, h *wire.SnapshotHeader) {
	last := h.LastInputTick
	b.mu.Lock()
	if last > b.acked {
		from := b.acked + 1
		if last-from >= ackRing {
			from = last - ackRing + 1
		}
		now := s.now()
		measuring := s.measur.Load()
		for t := from; t <= last && t >= from; t++ {
			e := &b.ring[t%ackRing]
			if e.tick == t && e.at != 0 {
				if measuring {
					d := time.Duration(now - e.at)
					s.ack.Record(d)
					if s.cfg.OnSample != nil {
						s.cfg.OnSample(SampleInputAck, d)
					}
				}
				e.at = 0
			}
		}
		b.acked = last
	}
	b.mu.Unlock()
}

// settleAcks returns once no snapshot callback that saw the window open
// is still recording (each records under its bot's lock): the report's
// histogram then holds every sample OnSample was given.
func (s *swarm) settleAcks() {
	s.mu.Lock()
	all := s.connected
	s.mu.Unlock()
	for _, b := range all {
		b.mu.Lock() // an empty critical section: the barrier
		b.mu.Unlock()
	}
}

// schedule drives one scheduler's bots: it wakes when the first bot in
// its heap is due (or after Resolution, to take up bots just connected),
// and each bot due sends the inputs its session says are due and
// accounts for its display frames; it then sleeps in the heap until its
// next input or frame. Waking at the due time rather than on a fixed
// tick keeps the swarm's own lateness out of the input lead it measures:
// a 4 ms tick sent each input up to 4 ms late, and the lead grew by the
// spread.
func (s *swarm) schedule(ctx context.Context, sc *scheduler) {
	wake := time.NewTimer(s.cfg.Resolution)
	defer wake.Stop()
	var frameEvery time.Duration
	if s.cfg.FrameRate > 0 {
		frameEvery = time.Duration(float64(time.Second) / s.cfg.FrameRate)
	}
	var fresh []*bot
	for {
		select {
		case <-ctx.Done():
			return
		case <-wake.C:
		}
		now := time.Now()
		sc.mu.Lock()
		fresh, sc.fresh = sc.fresh, fresh[:0]
		sc.mu.Unlock()
		nowNs := int64(now.Sub(s.epoch))
		for _, b := range fresh {
			b.wake = now
			sc.heap.push(b, nowNs)
		}
		clear(fresh)
		for len(sc.heap) > 0 && sc.heap[0].at <= nowNs {
			b := sc.heap.pop()
			if s.visit(b, now, frameEvery) {
				sc.heap.push(b, int64(b.wake.Sub(s.epoch)))
			}
		}
		sleep := s.cfg.Resolution
		if len(sc.heap) > 0 {
			sleep = min(sleep, time.Duration(sc.heap[0].at-s.now()))
		}
		wake.Reset(max(sleep, 0))
	}
}

// visit sends bot b's due inputs and accounts for its due frame at now,
// and sets when it is next due. It reports false for a bot whose session
// ended (it leaves the heap).
func (s *swarm) visit(b *bot, now time.Time, frameEvery time.Duration) bool {
	if b.dead.Load() {
		return false
	}
	select {
	case <-b.sess.Done():
		return false
	default:
	}
	for range b.sess.InputsDue(now) {
		s.sendOne(b)
	}
	if frameEvery > 0 && !now.Before(b.nextFrame) {
		b.sess.Frame(now)
		b.nextFrame = b.nextFrame.Add(frameEvery)
		if b.nextFrame.Before(now) {
			b.nextFrame = now.Add(frameEvery)
		}
	}
	b.wake = b.sess.NextInputAt(now)
	if frameEvery > 0 && b.nextFrame.Before(b.wake) {
		b.wake = b.nextFrame
	}
	// Never busy-loop on one bot within a wake, never sleep past a second
	// (a session whose input clock has not started yet).
	if !b.wake.After(now) {
		b.wake = now.Add(time.Nanosecond)
	} else if lim := now.Add(time.Second); b.wake.After(lim) {
		b.wake = lim
	}
	return true
}

func (s *swarm) sendOne(b *bot) {
	in := b.brain.Next(0)
	at := s.now()
	sent, err := b.sess.SendInput(in)
	if err != nil {
		b.sendErrs.Add(1)
		return
	}
	b.mu.Lock()
	b.ring[sent.Tick%ackRing] = sentInput{tick: sent.Tick, at: at}
	b.mu.Unlock()
}

// liveBots returns the connected bots, marking those whose session ended.
func (s *swarm) liveBots() (live []*bot, dropped int) {
	s.mu.Lock()
	all := s.connected
	s.mu.Unlock()
	for _, b := range all {
		if !b.dead.Load() {
			select {
			case <-b.sess.Done():
				if b.dead.CompareAndSwap(false, true) {
					s.nLive.Add(-1)
				}
			default:
			}
		}
		if b.dead.Load() {
			dropped++
		} else {
			live = append(live, b)
		}
	}
	return live, dropped
}

func dropReason(err error) string {
	if err == nil {
		return "OTHER"
	}
	var de *client.DisconnectError
	if errors.As(err, &de) {
		return strings.ToUpper(wire.ReasonName(de.Reason))
	}
	if strings.Contains(err.Error(), "connection lost") {
		return "CONNECTION_LOST"
	}
	return "OTHER"
}

// beginWindow records every live bot's counters at the window's start.
func (s *swarm) beginWindow() []*bot {
	live, _ := s.liveBots()
	for _, b := range live {
		b.start = b.sess.Stats()
		b.inWindow = true
	}
	return live
}

func (s *swarm) readWire(ctx context.Context) (wireCount, error) {
	switch {
	case s.cfg.WireCmd != "":
		return runWireCmd(ctx, s.cfg.WireCmd)
	case s.cfg.WireDev != "":
		return readNetDev(s.cfg.WireDev)
	}
	return wireCount{}, nil
}

func (s *swarm) serverCPU() (time.Duration, error) {
	if s.cfg.ServerPID <= 0 {
		return 0, errors.New("no server pid")
	}
	return procCPU(s.cfg.ServerPID)
}

// shutdown stops the schedulers and the progress line, then closes every
// session (each says goodbye), all at once, within a bound.
func (s *swarm) shutdown(stop context.CancelFunc, wg *sync.WaitGroup, progDone <-chan struct{}) {
	stop()
	wg.Wait()
	<-progDone
	s.mu.Lock()
	all := slices.Clone(s.connected)
	s.mu.Unlock()
	done := make(chan struct{})
	go func() {
		var cwg sync.WaitGroup
		for _, b := range all {
			cwg.Add(1)
			go func() { defer cwg.Done(); _ = b.sess.Close() }()
		}
		cwg.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
	}
}

// fillClientFigures records the client side of the report, the counters
// and histograms its figures are derived from, from the bots live at the
// window's start.
func (s *swarm) fillClientFigures(r *Report, live []*bot, window time.Duration) {
	s.mu.Lock()
	r.ConnectFailures = int(s.nFailed.Load())
	r.ConnectFailureReasons = maps.Clone(s.failed)
	r.ConnectFailureExamples = maps.Clone(s.failEx)
	r.Connected = len(s.connected)
	s.mu.Unlock()
	r.WindowSeconds = window.Seconds()
	r.BotsMeasured = len(live)
	_, _ = s.liveBots()
	r.Dropped = map[string]int{}
	byTransport := map[string]int{}
	var (
		in, out, snaps, expected, sendErrs int64
		interp, extrap, held, corr         int64
		hasFrames, hasCorr                 = len(live) > 0, len(live) > 0
		hasShots                           = len(live) > 0
		shots                              client.ShotStats
		rtt                                = &Histogram{}
	)
	for _, b := range live {
		byTransport[string(b.transport)]++
		st := b.sess.Stats()
		in += st.BytesIn - b.start.BytesIn
		out += st.BytesOut - b.start.BytesOut
		snaps += st.SnapshotsReceived - b.start.SnapshotsReceived
		expected += int64(window.Seconds()*float64(b.sess.TickRate()) + 0.5)
		hasFrames = hasFrames && st.HasFrames
		hasCorr = hasCorr && st.HasCorrections
		interp += st.FramesInterpolated - b.start.FramesInterpolated
		extrap += st.FramesExtrapolated - b.start.FramesExtrapolated
		held += st.FramesHeld - b.start.FramesHeld
		corr += st.Corrections - b.start.Corrections
		hasShots = hasShots && st.HasShots
		shots = shots.Add(st.Shots.Sub(b.start.Shots))
		sendErrs += b.sendErrs.Load()
		if b.dead.Load() {
			r.Dropped[dropReason(b.sess.Err())]++
		} else {
			d := b.sess.RTT()
			rtt.Record(d)
			if s.cfg.OnSample != nil {
				s.cfg.OnSample(SampleRTT, d)
			}
		}
	}
	r.BotsByTransport = byTransport
	r.SendErrors = sendErrs
	r.Totals.BotSeconds = float64(len(live)) * window.Seconds()
	r.Totals.AppBytesDown, r.Totals.AppBytesUp = in, out
	r.SnapshotsReceived, r.SnapshotsExpected = snaps, expected
	r.Histograms = Histograms{InputAck: s.ack.Clone(), RTT: rtt}
	if hasFrames {
		if total := interp + extrap + held; total > 0 {
			r.FramesTotal = new(total)
			r.Totals.FramesExtrapolated, r.Totals.FramesHeld = new(extrap), new(held)
		}
	}
	if hasCorr {
		r.Corrections = new(corr)
	}
	if hasShots {
		r.Hits = hitCounts(shots)
	}
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// progress prints a status line every ProgressInterval until ctx is done.
func (s *swarm) progress(ctx context.Context) {
	if s.cfg.Progress == nil {
		return
	}
	t := time.NewTicker(s.cfg.ProgressInterval)
	defer t.Stop()
	var lastIn, lastOut, lastSnaps int64
	last := time.Now()
	var rtts []time.Duration
	for {
		select {
		case <-ctx.Done():
			if s.cfg.ProgressTTY {
				fmt.Fprintln(s.cfg.Progress)
			}
			return
		case <-t.C:
		}
		live, dropped := s.liveBots()
		var in, out, snaps, errs int64
		rtts = rtts[:0]
		for _, b := range live {
			st := b.sess.Stats()
			in += st.BytesIn
			out += st.BytesOut
			snaps += st.SnapshotsReceived
			errs += b.sendErrs.Load()
			rtts = append(rtts, b.sess.RTT())
		}
		now := time.Now()
		dt := now.Sub(last).Seconds()
		last = now
		var p50, p99 time.Duration
		if len(rtts) > 0 {
			slices.Sort(rtts)
			p50, p99 = rtts[len(rtts)/2], rtts[min(len(rtts)-1, len(rtts)*99/100)]
		}
		// Counters of bots that dropped leave the sums; clamp at zero.
		kIn := max(float64(in-lastIn), 0) * 8 / 1000 / dt
		kOut := max(float64(out-lastOut), 0) * 8 / 1000 / dt
		snapRate := 0.0
		if len(live) > 0 {
			snapRate = max(float64(snaps-lastSnaps), 0) / dt / float64(len(live))
		}
		lastIn, lastOut, lastSnaps = in, out, snaps
		phase, _ := s.phase.Load().(string)
		line := fmt.Sprintf("t=%4.0fs %-7s bots %d/%d up, %d failed, %d dropped | in %.0f kbps out %.0f kbps | rtt p50 %.1fms p99 %.1fms | %.1f snap/s/bot | send errors %d",
			time.Since(s.epoch).Seconds(), phase, len(live), s.shardBots(), s.nFailed.Load(), dropped,
			kIn, kOut, ms(p50), ms(p99), snapRate, errs)
		if s.cfg.ProgressTTY {
			fmt.Fprintf(s.cfg.Progress, "\r%s\x1b[K", line)
		} else {
			fmt.Fprintln(s.cfg.Progress, line)
		}
	}
}

// roomOf is the room bot i (one of this shard's) joins: the shard's bots
// go round its rooms in turn.
func (c *Config) roomOf(i int) string {
	if c.Rooms > 0 {
		firstBot, _ := c.botRange()
		first, end := c.roomRange()
		return roomName(first + (i-firstBot)%(end-first))
	}
	return c.Room
}

// roomName names room k (0-based) of Rooms.
func roomName(k int) string { return fmt.Sprintf("bots-%d", k+1) }

// createRooms opens the shard's rooms through the server's lobby, which
// places each on the least-loaded process; a room that exists already
// (409) is used as it is.
func (c *Config) createRooms(ctx context.Context) error {
	lc := c.lobby()
	first, end := c.roomRange()
	for k := first; k < end; k++ {
		id := roomName(k)
		_, err := lc.Create(ctx, lobby.CreateRequest{ID: id})
		var le *lobby.Error
		if err != nil && !(errors.As(err, &le) && le.Status == http.StatusConflict) {
			return fmt.Errorf("bots: creating room %s: %w", id, err)
		}
	}
	return nil
}

func (c *Config) lobby() *lobby.Client {
	return &lobby.Client{Base: c.Server, Key: c.LobbyKey, HTTP: &http.Client{Timeout: 10 * time.Second}}
}

// viaLobby reports whether bots join through the lobby (which tells them
// the process and gives them a token) rather than dialing Server.
func (c *Config) viaLobby() bool { return c.Quick || c.Rooms > 0 || c.LobbyKey != "" }

// maxSeatTries bounds how often a quick-playing bot asks again after a
// room filled between the lobby's answer and its arrival.
const maxSeatTries = 5

// dial connects one bot: straight to Server, or through the lobby,
// following its answer to the process that owns the room.
func (s *swarm) dial(ctx context.Context, cfg botClientConfig) (*botClient, error) {
	if !s.cfg.viaLobby() {
		return dialBotClient(ctx, cfg)
	}
	lc := s.cfg.lobby()
	for try := 1; ; try++ {
		j, err := s.lobbyJoin(ctx, lc, cfg)
		if err != nil {
			return nil, err
		}
		follow := cfg
		follow.Server, follow.Room, follow.AuthToken = j.URL, j.Room, j.Token
		if len(j.CertHashes) > 0 {
			if follow.CertHashes, err = transport.CertHashesBytes(j.CertHashes); err != nil {
				return nil, fmt.Errorf("bots: the lobby's answer: %w", err)
			}
		} else if j.URL != s.cfg.Server {
			follow.CertHashes = nil // another process: fetch its own hashes
		}
		sess, err := dialBotClient(ctx, follow)
		var de *client.DisconnectError
		if s.cfg.Quick && try < maxSeatTries && errors.As(err, &de) && de.Reason == pb.DisconnectReason_DISCONNECT_REASON_SERVER_FULL {
			continue
		}
		return sess, err
	}
}

// lobbyJoin asks the lobby for a seat: quick play, or cfg.Room. A lobby
// that is rate limiting is asked again after the second it asks for.
func (s *swarm) lobbyJoin(ctx context.Context, lc *lobby.Client, cfg botClientConfig) (lobby.Join, error) {
	for {
		var j lobby.Join
		var err error
		if s.cfg.Quick {
			j, err = lc.QuickPlay(ctx, lobby.QuickPlayRequest{PlayerName: cfg.Name, PlayerID: cfg.Name})
		} else {
			room := cfg.Room
			if room == "" {
				room = "default"
			}
			j, err = lc.Join(ctx, room, lobby.JoinRequest{PlayerName: cfg.Name, PlayerID: cfg.Name})
		}
		var le *lobby.Error
		if errors.As(err, &le) && le.Status == http.StatusTooManyRequests {
			if err := sleepCtx(ctx, time.Second); err != nil {
				return j, err
			}
			continue
		}
		if err != nil {
			return j, fmt.Errorf("bots: asking the lobby for a seat: %w", err)
		}
		return j, nil
	}
}
