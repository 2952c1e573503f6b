package recording

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/tickwire/tickwire/game"
	"github.com/tickwire/tickwire/netcode/internal/arenatest"
	"github.com/tickwire/tickwire/netcode/replay"
	"github.com/tickwire/tickwire/netcode/snapshot"
)

// recordedMatch runs a room of n benchmark bots on a manual clock for
// ticks ticks with a recorder, the way a server room records (the room's
// sink hands each tick to the recorder), and keeps what the server had
// at every tick. At tick leaveAt one bot leaves and another joins.
type recordedMatch struct {
	dir   string
	truth map[uint32]*game.Snapshot // the room's state, as clients reconstruct it
	names map[uint32]map[game.EntityID]string
	last  uint32
}

func runRecordedMatch(t *testing.T, n, ticks int, cfg Config) *recordedMatch {
	t.Helper()
	cfg.Dir = t.TempDir()
	clock := game.NewManualClock(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	m := &recordedMatch{dir: cfg.Dir, truth: map[uint32]*game.Snapshot{}, names: map[uint32]map[game.EntityID]string{}}
	var rc *Recorder
	world := game.Config{MaxPlayers: n + 1, Seed: 11}
	room, err := game.NewRoom(game.RoomConfig{World: world, Clock: clock, Logger: slog.New(slog.DiscardHandler),
		Sink: game.SinkFunc(func(cur *game.Snapshot, _ *game.History) {
			rc.Offer(cur)
			q := &game.Snapshot{}
			snapshot.QuantizeForClient(q, cur)
			m.truth[cur.Tick] = q
		})})
	if err != nil {
		t.Fatal(err)
	}
	cfg.Room, cfg.Params, cfg.Seed = "match", room.Params(), world.Seed
	cfg.Logger, cfg.Now = slog.New(slog.DiscardHandler), clock.Now
	rc, err = New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	roster := map[game.EntityID]string{}
	bots := map[game.EntityID]*game.Bot{}
	join := func() {
		id, err := room.AddPlayer()
		if err != nil {
			t.Fatal(err)
		}
		bots[id] = game.NewBot(uint64(id), room.Params().TickRate)
		roster[id] = fmt.Sprintf("bot-%d", id)
		rc.Joined(room.CurrentTick()+1, id, roster[id])
	}
	for range n {
		join()
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = room.Run(ctx); close(done) }()
	if !clock.WaitTickers(1, done) {
		t.Fatal("the room did not start")
	}
	in := make([]game.Input, 1)
	for tick := uint32(1); tick <= uint32(ticks); tick++ {
		if tick == uint32(ticks/2) {
			ids := slices.Sorted(func(yield func(game.EntityID) bool) {
				for id := range bots {
					if !yield(id) {
						return
					}
				}
			})
			room.RemovePlayer(ids[0])
			rc.Left(room.CurrentTick()+1, ids[0])
			delete(bots, ids[0])
			delete(roster, ids[0])
			join()
		}
		for id, b := range bots {
			in[0] = b.Next(tick)
			room.QueueInputs(id, in)
		}
		clock.Advance(room.Period())
		if err := room.WaitTick(ctx, tick); err != nil {
			t.Fatal(err)
		}
		m.names[tick] = maps(roster)
		// A simulated clock runs ticks far faster than 30 Hz; let the
		// writer keep up, as it does at the real rate, so that nothing
		// is dropped.
		for len(rc.free) < queue/2 {
			time.Sleep(time.Millisecond)
		}
	}
	cancel()
	<-done
	rc.Stop()
	if d := rc.Dropped(); d != 0 {
		t.Fatalf("%d ticks dropped", d)
	}
	m.last = uint32(ticks)
	return m
}

func maps(m map[game.EntityID]string) map[game.EntityID]string {
	c := make(map[game.EntityID]string, len(m))
	for k, v := range m {
		c[k] = v
	}
	return c
}

func recordings(t *testing.T, dir string) []string {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range es {
		names = append(names, e.Name())
	}
	slices.SortFunc(names, func(a, b string) int { // by segment
		var x, y int
		fmt.Sscanf(a[len(a)-len("N.twr"):], "%d", &x)
		fmt.Sscanf(b[len(b)-len("N.twr"):], "%d", &y)
		return x - y
	})
	return names
}

func openRecording(t *testing.T, path string) *replay.Reader {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	r, err := replay.Open(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.Close() })
	return r
}

func diffSnapshots(got, want *game.Snapshot) string {
	switch {
	case got.Tick != want.Tick:
		return fmt.Sprintf("tick %d, want %d", got.Tick, want.Tick)
	case !slices.Equal(got.Players, want.Players):
		return fmt.Sprintf("tick %d: players differ:\n got %+v\nwant %+v", got.Tick, got.Players, want.Players)
	case !slices.Equal(got.Projectiles, want.Projectiles):
		return fmt.Sprintf("tick %d: projectiles differ", got.Tick)
	}
	return ""
}

// TestRecordedMatchPlaysBackAsTheServerHadIt records a 60-second match
// of 20 bots at 30 Hz (a simulated clock: it takes a second or two),
// plays the file back headless and checks 100 random ticks against the
// room's state at those ticks (as clients reconstruct it: quantized,
// without the server-only fields), and the names of the players then.
func TestRecordedMatchPlaysBackAsTheServerHadIt(t *testing.T) {
	m := runRecordedMatch(t, 20, 60*30, Config{})
	files := recordings(t, m.dir)
	if len(files) != 1 || !replay.ValidName(files[0]) || replay.RoomOf(files[0]) != "match" {
		t.Fatalf("recordings %v, want one of room match", files)
	}
	r := openRecording(t, filepath.Join(m.dir, files[0]))
	if r.Err() != nil {
		t.Fatalf("the recording of a room that stopped: %v", r.Err())
	}
	if r.FirstTick() != 1 || r.LastTick() != m.last {
		t.Fatalf("ticks %d..%d, want 1..%d", r.FirstTick(), r.LastTick(), m.last)
	}
	if h := r.Header(); h.Room != "match" || h.Params.TickRate != 30 || h.Seed != 11 || h.KeyEvery != 150 {
		t.Fatalf("header %+v", h)
	}
	rng := rand.New(rand.NewPCG(5, 6))
	var got game.Snapshot
	for range 100 {
		tick := 1 + uint32(rng.IntN(int(m.last)))
		if err := r.StateAt(tick, &got); err != nil {
			t.Fatalf("tick %d: %v", tick, err)
		}
		if d := diffSnapshots(&got, m.truth[tick]); d != "" {
			t.Fatal(d)
		}
		names := map[game.EntityID]string{}
		r.Roster(func(id game.EntityID, n string) { names[id] = n })
		want := m.names[tick]
		if len(names) != len(want) {
			t.Fatalf("tick %d: %d names, want %d", tick, len(names), len(want))
		}
		for id, n := range want {
			if names[id] != n {
				t.Fatalf("tick %d: player %d named %q, want %q", tick, id, names[id], n)
			}
		}
	}
}

// TestRecordingRotatesPastTheSizeLimit: past MaxBytes a room's
// recording goes on in the next segment, which opens on its own (header,
// roster, key frame) and starts at the tick after the last one before.
func TestRecordingRotatesPastTheSizeLimit(t *testing.T) {
	m := runRecordedMatch(t, 10, 20*30, Config{MaxBytes: 2 << 10})
	files := recordings(t, m.dir)
	if len(files) < 3 {
		t.Fatalf("%d files for a 20 s match at 2 KiB each: %v", len(files), files)
	}
	next := uint32(1)
	var got game.Snapshot
	for i, f := range files {
		r := openRecording(t, filepath.Join(m.dir, f))
		if r.Err() != nil || r.Header().Segment != uint32(i) || r.FirstTick() != next {
			t.Fatalf("%s: segment %d, ticks %d..%d (want from %d), %v", f, r.Header().Segment, r.FirstTick(), r.LastTick(), next, r.Err())
		}
		if err := r.StateAt(r.FirstTick(), &got); err != nil {
			t.Fatal(err)
		}
		if d := diffSnapshots(&got, m.truth[got.Tick]); d != "" {
			t.Fatal(d)
		}
		n := 0
		r.Roster(func(game.EntityID, string) { n++ })
		if n != 10 {
			t.Fatalf("%s opens with %d names, want 10", f, n)
		}
		next = r.LastTick() + 1
	}
	if next != m.last+1 {
		t.Fatalf("the segments end at %d, want %d", next-1, m.last)
	}
}

// TestRecorderDropsRatherThanWaits: with the writer stuck, offering
// ticks never blocks the room; they are counted as dropped.
func TestRecorderDropsRatherThanWaits(t *testing.T) {
	rc := &Recorder{free: make(chan *game.Snapshot, 2), work: make(chan *game.Snapshot, 2)}
	rc.free <- &game.Snapshot{}
	rc.free <- &game.Snapshot{}
	s := &game.Snapshot{Tick: 1}
	done := make(chan struct{})
	go func() {
		for range 5 {
			rc.Offer(s)
		}
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("offer blocked")
	}
	if rc.dropped.Load() != 3 || len(rc.work) != 2 {
		t.Fatalf("dropped %d, queued %d; want 3 and 2", rc.dropped.Load(), len(rc.work))
	}
}

// BenchmarkRecordWriter is the writer goroutine's work per tick at
// N = 100: the snapshot codec's delta (a full snapshot every 5 s), the
// block's compression every second, the write (to memory here).
func BenchmarkRecordWriter(b *testing.B) {
	played, err := arenatest.NewPlayed(100)
	if err != nil {
		b.Fatal(err)
	}
	world := played.World
	var buf bytes.Buffer
	w, err := replay.NewWriter(&buf, replay.Header{Room: "bench", Params: world.Params()}, replay.WriterOptions{})
	if err != nil {
		b.Fatal(err)
	}
	const ticks = 3000
	states := make([]game.Snapshot, ticks)
	for k := range states {
		played.Step(&states[k])
	}
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		if n == ticks {
			b.StopTimer()
			buf.Reset()
			if w, err = replay.NewWriter(&buf, replay.Header{Room: "bench", Params: world.Params()}, replay.WriterOptions{}); err != nil {
				b.Fatal(err)
			}
			n = 0
			b.StartTimer()
		}
		if err := w.WriteTick(&states[n]); err != nil {
			b.Fatal(err)
		}
		n++
	}
}

// BenchmarkRecordOffer is what recording adds to a room's tick at
// N = 100, alone: copying the state (100 players, about 120
// projectiles) into a spare buffer and queuing it (and, here, the
// writer's hand-back). It is the difference BenchmarkTickRecording
// measures, without the noise of the rest of the tick.
func BenchmarkRecordOffer(b *testing.B) {
	played, err := arenatest.NewPlayed(100)
	if err != nil {
		b.Fatal(err)
	}
	var snap game.Snapshot
	for range 300 {
		played.Step(&snap)
	}
	rc := &Recorder{free: make(chan *game.Snapshot, 4), work: make(chan *game.Snapshot, 4)}
	for range 4 {
		rc.free <- &game.Snapshot{}
	}
	b.ReportAllocs()
	for b.Loop() {
		rc.Offer(&snap)
		rc.free <- <-rc.work
	}
	b.ReportMetric(float64(len(snap.Players)), "players")
	b.ReportMetric(float64(len(snap.Projectiles)), "projectiles")
}
