package server

import (
	"errors"
	"fmt"
	"log/slog"
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

// BenchmarkTickRecording is a room's tick at N = 100 (the world's step
// with 100 benchmark bots, the history, the snapshot fan-out to 100
// sessions) without and with recording, in one run. With recording the
// room has its real recorder (package recording), writing to a
// temporary directory: the tick also copies the state into a spare
// buffer and queues it; the writer's side (encoding, compression, the
// file) runs on its own goroutine, as in a server, and is measured
// alone by recording's BenchmarkRecordWriter.
//
// A server ticks every 33 ms, and the server's other goroutines (every
// session's reader and writer, the runtime) run on the same cores in
// between, so each tick starts with cold L1 and L2 caches, recording or
// not. The benchmark does the same in both cases: between ticks, timer
// stopped, it sweeps coldCache through the caches. (Back to back, the
// ticks would find their data warm from the tick before, except where
// the writer ran in between and evicted it: that measured the writer's
// eviction, +40 % on a quiet machine, which no server at 30 Hz sees.)
// The ticks run far faster than 30 Hz, so when the writer is half its
// queue behind the benchmark waits for it, timer stopped: dropped/op
// must be 0.
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

func BenchmarkTickRecording(b *testing.B) {
	for _, record := range []bool{false, true} {
		b.Run(fmt.Sprintf("record=%v", record), func(b *testing.B) {
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
			hist := game.NewHistory(game.DefaultHistoryTicks)
			var snap game.Snapshot
			tick := func() {
				played.Step(&snap)
				hist.Add(&snap)
				cur := hist.Latest()
				for _, ss := range r.currentSessions() {
					ss.ackTick.Store(cur.Tick - 2)
				}
				r.OnTick(cur, hist)
			}
			for range 300 {
				tick()
			}
			if r.rec != nil {
				waitForWriter(r.rec)
			}
			var before uint64
			if r.rec != nil {
				before = r.rec.Dropped()
			}
			b.ReportAllocs()
			for b.Loop() {
				tick()
				b.StopTimer()
				if r.rec != nil && r.rec.Pending() >= 32 {
					waitForWriter(r.rec)
				}
				sweepCaches()
				b.StartTimer()
			}
			if r.rec != nil {
				b.StopTimer()
				b.ReportMetric(float64(r.rec.Dropped()-before)/float64(b.N), "dropped/op")
				r.rec.Stop()
			}
		})
	}
}
