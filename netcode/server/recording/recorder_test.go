package recording

import (
	"bytes"
	"context"
	"fmt"
	"io"
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
		Sink: game.SinkFunc(func(cur *game.Snapshot, h *game.History) {
			rc.Offer(cur, h)
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
		for rc.Pending() > game.DefaultHistoryTicks/2 {
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

// TestRecorderDropsRatherThanWaits: with no writer taking ticks,
// offering never blocks the room; once the history's ring comes round to
// a tick not taken, that tick is counted as dropped, and what is left to
// take is the ticks the room has not overwritten, in order.
func TestRecorderDropsRatherThanWaits(t *testing.T) {
	const ring, ticks = 32, 100
	rc := &Recorder{} // no writer goroutine
	hist := game.NewHistory(ring)
	for tick := uint32(1); tick <= ticks; tick++ {
		hist.Add(&game.Snapshot{Tick: tick})
		rc.Offer(hist.Latest(), hist)
	}
	// Tick 101 would go where tick 69 is: ticks 1..69 are lost.
	const kept = ring - 1
	if rc.Dropped() != ticks-kept || rc.Pending() != kept {
		t.Fatalf("dropped %d, pending %d; want %d and %d", rc.Dropped(), rc.Pending(), ticks-kept, kept)
	}
	var s game.Snapshot
	for want := uint32(ticks - kept + 1); want <= ticks; want++ {
		if !rc.takeNext(&s) || s.Tick != want {
			t.Fatalf("took tick %d, want %d", s.Tick, want)
		}
	}
	if rc.takeNext(&s) || rc.Pending() != 0 {
		t.Fatalf("took tick %d after the newest", s.Tick)
	}
}

// TestRecorderSkipsTicksNeverOffered: a tick number the room skipped
// leaves its slot to another tick; the writer must not take that one.
func TestRecorderSkipsTicksNeverOffered(t *testing.T) {
	rc := &Recorder{}
	hist := game.NewHistory(game.MinHistoryTicks)
	for _, tick := range []uint32{1, 2, 5, 6} {
		hist.Add(&game.Snapshot{Tick: tick})
		rc.Offer(hist.Latest(), hist)
	}
	var got []uint32
	var s game.Snapshot
	for rc.takeNext(&s) {
		got = append(got, s.Tick)
	}
	if !slices.Equal(got, []uint32{1, 2, 5, 6}) || rc.Dropped() != 0 {
		t.Fatalf("took %v (dropped %d), want [1 2 5 6]", got, rc.Dropped())
	}
}

// TestRecorderTakesWholeTicksFromARacingRoom offers ticks in bursts far
// faster than the writer takes them, from a history as short as a room's
// can be, so that the writer's copies run against the room's writes and
// its drops. Every tick recorded must be whole (equal to the room's
// state at that tick) and every tick offered either recorded or counted
// as dropped. Under -race this also checks the writer and the room share
// the history's slots safely.
func TestRecorderTakesWholeTicksFromARacingRoom(t *testing.T) {
	played, err := arenatest.NewPlayed(20)
	if err != nil {
		t.Fatal(err)
	}
	rc, err := New(Config{Dir: t.TempDir(), Room: "race", Params: played.World.Params(),
		Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	hist := game.NewHistory(game.MinHistoryTicks)
	truth := map[uint32]*game.Snapshot{}
	var snap game.Snapshot
	const bursts, burst = 6, 200
	for range bursts {
		for range burst {
			played.Step(&snap)
			hist.Add(&snap)
			rc.Offer(hist.Latest(), hist)
			q := &game.Snapshot{}
			snapshot.QuantizeForClient(q, &snap)
			truth[snap.Tick] = q
		}
		for rc.Pending() > 0 { // let the writer catch up before the next burst
			time.Sleep(time.Millisecond)
		}
	}
	rc.Stop()
	files := recordings(t, rc.cfg.Dir)
	if len(files) != 1 {
		t.Fatalf("recordings %v, want one", files)
	}
	r := openRecording(t, filepath.Join(rc.cfg.Dir, files[0]))
	recorded := 0
	prev := uint32(0)
	var got game.Snapshot
	for {
		err := r.Next(&got)
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if got.Tick <= prev {
			t.Fatalf("tick %d after %d", got.Tick, prev)
		}
		if d := diffSnapshots(&got, truth[got.Tick]); d != "" {
			t.Fatal(d)
		}
		prev = got.Tick
		recorded++
	}
	if r.Err() != nil {
		t.Fatal(r.Err())
	}
	if offered := uint64(bursts * burst); uint64(recorded)+rc.Dropped() != offered {
		t.Fatalf("%d recorded and %d dropped of %d offered", recorded, rc.Dropped(), offered)
	}
	if rc.Dropped() == 0 {
		t.Fatal("nothing dropped: the bursts did not outrun the writer")
	}
	t.Logf("%d ticks recorded, %d dropped", recorded, rc.Dropped())
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

// BenchmarkRecordOffer is what recording adds to a room's tick: noting
// the history slot of the tick for the writer (which copies it later, on
// its own goroutine; taken here, outside the timer, every 32 ticks).
func BenchmarkRecordOffer(b *testing.B) {
	played, err := arenatest.NewPlayed(100)
	if err != nil {
		b.Fatal(err)
	}
	hist := game.NewHistory(game.DefaultHistoryTicks)
	var snap game.Snapshot
	for range 300 {
		played.Step(&snap)
		hist.Add(&snap)
	}
	rc := &Recorder{} // no writer goroutine: the benchmark takes
	var taken game.Snapshot
	b.ReportAllocs()
	cur := hist.Latest()
	for b.Loop() {
		cur.Tick++ // as if the room had stepped (its own cost, not timed here)
		rc.Offer(cur, hist)
		if rc.Pending() == 32 {
			b.StopTimer()
			for rc.takeNext(&taken) {
			}
			b.StartTimer()
		}
	}
	if rc.Dropped() != 0 {
		b.Fatalf("%d dropped", rc.Dropped())
	}
}
