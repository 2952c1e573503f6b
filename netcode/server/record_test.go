package server

import (
	"errors"
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/tickwire/tickwire/game"
	"github.com/tickwire/tickwire/netcode/internal/arenatest"
	"github.com/tickwire/tickwire/netcode/server/recording"
	"github.com/tickwire/tickwire/netcode/transport"
)

func TestAskingToRecordWithoutADirectoryIsRefused(t *testing.T) {
	srv := &Server{Logger: slog.New(slog.DiscardHandler)}
	if err := srv.init(); err != nil {
		t.Fatal(err)
	}
	if _, err := srv.newRoom(RoomOptions{ID: "x", Record: true}); !errors.Is(err, errNotRecording) {
		t.Fatalf("got %v, want errNotRecording", err)
	}
}

// coldCache is larger than a core's L2 cache (1 MiB on the machines of
// docs/BENCHMARKS.md): sweeping it leaves the caches as 33 ms of other
// work would.
var coldCache = make([]byte, 4<<20)

func sweepCaches() {
	for i := 0; i < len(coldCache); i += 64 {
		coldCache[i]++
	}
}

// waitForWriter waits until rec's writer has written every tick offered.
// The writer wakes on its own timer (it is not told), so this polls.
func waitForWriter(rec *recording.Recorder) {
	for rec.Pending() > 0 {
		time.Sleep(time.Millisecond)
	}
}

// BenchmarkTickRecording is what recording adds to a room's tick at
// N = 100 (the world's step with 100 benchmark bots, the history, the
// snapshot fan-out to 100 sessions). Two identical rooms play the same
// match, one recording with its real recorder (package recording,
// writing to a temporary directory) and one not; each iteration ticks
// both, in alternating order, and times each tick alone. Comparing
// ticks paired this way, in one run, keeps the machine's drift (other
// tenants, frequency) out of the difference: run one after the other,
// the two cases differed by -10 % to +30 % on this shared machine.
// It reports the median tick of each room and the difference
// (record-%); ns/op counts both ticks and the cache sweeps.
//
// A server ticks every 33 ms, and the server's other goroutines (every
// session's reader and writer, the runtime) run on the same cores in
// between, so each tick starts with cold L1 and L2 caches, recording or
// not. The benchmark does the same for both rooms: before each tick it
// sweeps coldCache through the caches. The recorder's writer (encoding,
// compression, the file; measured alone by recording's
// BenchmarkRecordWriter) runs on its own goroutine, as in a server; the
// ticks run far faster than 30 Hz, so when it is 32 ticks behind the
// benchmark waits for it: dropped/op must be 0.
func BenchmarkTickRecording(b *testing.B) {
	off, on := newBenchRoom(b, false), newBenchRoom(b, true)
	for range 300 {
		off.tick()
		on.tick()
	}
	waitForWriter(on.rec)
	before := on.rec.Dropped()
	const samples = 1 << 14
	var took [2][samples]time.Duration
	n := 0
	b.ReportAllocs()
	for b.Loop() {
		rooms := [2]*benchRoom{off, on}
		if n%2 == 1 {
			rooms[0], rooms[1] = on, off
		}
		for _, r := range rooms {
			sweepCaches()
			start := time.Now()
			r.tick()
			d := time.Since(start)
			if r == on {
				took[1][n%samples] = d
			} else {
				took[0][n%samples] = d
			}
		}
		n++
		if on.rec.Pending() >= 32 {
			b.StopTimer()
			waitForWriter(on.rec)
			b.StartTimer()
		}
	}
	b.StopTimer()
	if d := on.rec.Dropped() - before; d != 0 {
		b.Fatalf("%d ticks dropped from the recording", d)
	}
	m := min(n, samples)
	offMed, onMed := median(took[0][:m]), median(took[1][:m])
	b.ReportMetric(float64(offMed.Nanoseconds()), "ns/tick-off")
	b.ReportMetric(float64(onMed.Nanoseconds()), "ns/tick-on")
	b.ReportMetric(100*float64(onMed-offMed)/float64(offMed), "record-%")
	on.rec.Stop()
}

// benchRoom is a server room of 100 sessions (half WebTransport, half
// WebSocket, their sends discarded) fed a match of 100 benchmark bots.
type benchRoom struct {
	*room
	played *arenatest.Played
	hist   *game.History
	snap   game.Snapshot
}

func newBenchRoom(b *testing.B, record bool) *benchRoom {
	srv := &Server{Logger: slog.New(slog.DiscardHandler)}
	if record {
		srv.Record = RecordOptions{Dir: b.TempDir(), All: true}
	}
	if err := srv.init(); err != nil {
		b.Fatal(err)
	}
	r, err := srv.newRoom(RoomOptions{ID: "bench"})
	if err != nil {
		b.Fatal(err)
	}
	played, err := arenatest.NewPlayed(100)
	if err != nil {
		b.Fatal(err)
	}
	for i, e := range played.IDs {
		kind := []transport.Kind{transport.WebTransport, transport.WebSocket}[i%2]
		ss := &session{id: uint64(i), entity: e, room: r, log: srv.log,
			conn: &meteredConn{Conn: discardConn{kind}, m: srv.metrics.transports[kind]}}
		ss.out.init(srv, kind)
		r.addSession(ss)
	}
	return &benchRoom{room: r, played: played, hist: game.NewHistory(game.DefaultHistoryTicks)}
}

// tick steps the match and hands the state to the room as its game
// loop does, every session having acknowledged the tick before last.
func (r *benchRoom) tick() {
	r.played.Step(&r.snap)
	r.hist.Add(&r.snap)
	cur := r.hist.Latest()
	for _, ss := range r.currentSessions() {
		ss.ackTick.Store(cur.Tick - 2)
	}
	r.OnTick(cur, r.hist)
}

// median sorts d and returns its middle.
func median(d []time.Duration) time.Duration {
	slices.Sort(d)
	return d[len(d)/2]
}
