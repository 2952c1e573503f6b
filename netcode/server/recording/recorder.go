package recording

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tickwire/tickwire/game"
	"github.com/tickwire/tickwire/netcode/replay"
)

// Defaults of Config.
const (
	DefaultMaxBytes = 64 << 20
	DefaultKeyEvery = 5 * time.Second
)

// takeEvery is how often the writer wakes to take the ticks offered. It
// wakes on its own timer rather than on each Offer: a goroutine waiting
// for ticks would be woken by the room's goroutine every tick, which
// costs the tick a wake-up (a futex call, several µs on a virtual
// machine). A crash loses what is not taken: at most this, beside the
// compressed block the replay writer has not flushed (a second).
const takeEvery = 100 * time.Millisecond

// Config configures one room's Recorder.
type Config struct {
	// Dir is where the recordings go; it is created if need be.
	Dir string
	// MaxBytes is the size past which the recording goes on in a new
	// file (the next segment). Default DefaultMaxBytes.
	MaxBytes int64
	// KeyEvery is the time between key frames, where seeks start.
	// Default DefaultKeyEvery.
	KeyEvery time.Duration

	// Room names the room: the files' prefix and the header's room.
	Room string
	// Params and Seed are the room's, as the header keeps them.
	Params game.Params
	Seed   uint64
	// Logger receives the writer's logs (files opened and closed,
	// errors, ticks dropped). Default slog.Default().
	Logger *slog.Logger
	// Now stamps the segments' names and headers. Default time.Now.
	Now func() time.Time
}

// Recorder records one room. The room's goroutine does next to nothing
// for it (Offer notes which slot of the room's history holds the tick):
// the writer goroutine (run) copies the tick out of the history itself,
// then encodes, compresses and writes it. The room writes a history slot
// again only when its ring comes round, History.Len ticks later, so the
// writer has that long to take each tick; a tick it has not taken by
// then is dropped from the recording (disk stalls never reach the tick).
//
// Copying in the writer rather than on the tick keeps the tick's cost of
// recording to a lock and a few stores: a copy of the state at N = 100
// (about 10 kB, into a buffer out of cache) was 2-3 µs of a 40 µs tick.
type Recorder struct {
	cfg    Config
	header replay.Header
	log    *slog.Logger

	dropped atomic.Uint64 // ticks dropped because the writer lagged
	quit    chan struct{} // closed by Stop
	done    chan struct{}

	// mu orders the room's Offers with the writer's copies: the writer
	// holds it while it copies a slot, and the room takes it before it
	// can write that slot again.
	mu     sync.Mutex
	slots  []*game.Snapshot // the room's history ring, slots[tick%len] holds tick; nil until the first Offer
	newest uint32           // the newest tick offered
	next   uint32           // the oldest tick offered that the writer has not taken
	events []rosterEvent    // joins and leaves not yet written
}

type rosterEvent struct {
	tick uint32
	id   game.EntityID
	name string
	join bool
}

// New creates cfg.Dir if need be and starts the room's recorder; Stop
// ends it. The first file opens with the first tick offered.
func New(cfg Config) (*Recorder, error) {
	if err := os.MkdirAll(cfg.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("recording: recordings directory: %w", err)
	}
	if cfg.MaxBytes <= 0 {
		cfg.MaxBytes = DefaultMaxBytes
	}
	if cfg.KeyEvery <= 0 {
		cfg.KeyEvery = DefaultKeyEvery
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	rc := &Recorder{
		cfg: cfg, log: cfg.Logger,
		header: replay.Header{Room: cfg.Room, Params: cfg.Params, Seed: cfg.Seed},
		quit:   make(chan struct{}),
		done:   make(chan struct{}),
	}
	go rc.run()
	return rc, nil
}

// Offer hands the room's newest tick to the writer: cur is
// history.Latest(), the slot of the history ring the room just wrote. It
// runs on the room's goroutine and never waits for more than the
// writer's copy of one tick. The room's next tick overwrites the oldest
// slot: if the writer has not taken that tick yet, it is dropped from
// the recording (the next tick deltas across the gap) and counted; the
// writer logs it.
func (rc *Recorder) Offer(cur *game.Snapshot, history *game.History) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if rc.slots == nil { // the first tick: once per room
		rc.slots = make([]*game.Snapshot, history.Len())
		rc.next = cur.Tick
	}
	n := uint32(len(rc.slots))
	rc.slots[cur.Tick%n] = cur
	rc.newest = cur.Tick
	// The next tick, cur.Tick+1, goes where cur.Tick+1-n is.
	if cur.Tick+1 >= n && rc.next <= cur.Tick+1-n {
		lost := cur.Tick + 2 - n
		rc.dropped.Add(uint64(lost - rc.next))
		rc.next = lost
	}
}

// takeNext copies the oldest tick not yet taken into s; false when the
// writer has taken every tick offered.
func (rc *Recorder) takeNext(s *game.Snapshot) bool {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	for rc.slots != nil && rc.next <= rc.newest {
		t := rc.next
		rc.next++
		// A slot holding another tick (or none) is a tick number the room
		// never offered: skip it.
		if slot := rc.slots[t%uint32(len(rc.slots))]; slot != nil && slot.Tick == t {
			s.CopyFrom(slot)
			return true
		}
	}
	return false
}

// Joined and Left note the roster's changes (from any goroutine), from
// tick on: the first tick the player is seen in, or gone from.
func (rc *Recorder) Joined(tick uint32, id game.EntityID, name string) {
	rc.note(rosterEvent{tick: tick, id: id, name: name, join: true})
}

// Left: see Joined.
func (rc *Recorder) Left(tick uint32, id game.EntityID) {
	rc.note(rosterEvent{tick: tick, id: id})
}

func (rc *Recorder) note(e rosterEvent) {
	rc.mu.Lock()
	rc.events = append(rc.events, e)
	rc.mu.Unlock()
}

// Dropped is how many ticks were left out of the recording because the
// writer was behind.
func (rc *Recorder) Dropped() uint64 { return rc.dropped.Load() }

// Pending is how many offered ticks the writer has not taken: how far
// it is behind (ticks are dropped once it is the history's length
// behind). 0 means the writer has taken every tick offered.
func (rc *Recorder) Pending() int {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if rc.slots == nil {
		return 0
	}
	return int(rc.newest + 1 - rc.next)
}

// Stop ends the recording once the room's loop has ended (no more
// offers, no more writes to its history): the ticks not yet taken are
// written, then the end block.
func (rc *Recorder) Stop() {
	close(rc.quit)
	<-rc.done
}

// run is the writer goroutine: every takeEvery it writes the ticks
// offered since, and once Stop is called, the rest.
func (rc *Recorder) run() {
	defer close(rc.done)
	wr := &writer{rc: rc, roster: map[game.EntityID]string{}}
	defer wr.closeFile()
	takeTimer := time.NewTicker(takeEvery)
	defer takeTimer.Stop()
	for {
		stopping := false
		select {
		case <-takeTimer.C:
		case <-rc.quit: // no more offers: write the rest and end
			stopping = true
		}
		for rc.takeNext(&wr.tick) {
			wr.write(&wr.tick)
		}
		if stopping {
			return
		}
	}
}

// writer is the writer goroutine's state: the segment being written and
// the roster that opens the next one.
type writer struct {
	rc       *Recorder
	tick     game.Snapshot // the tick being written, copied out of the history
	f        *os.File
	w        *replay.Writer
	segment  uint32
	roster   map[game.EntityID]string
	reported uint64 // dropped ticks already logged
	failed   bool   // a file error stopped this room's recording
}

// write writes one tick, opening a segment first when none is open.
func (wr *writer) write(s *game.Snapshot) {
	rc := wr.rc
	if n := rc.dropped.Load(); n != wr.reported {
		rc.log.Error("recording: the writer fell behind; ticks dropped from the recording", "dropped", n-wr.reported, "total", n)
		wr.reported = n
	}
	if wr.failed {
		return
	}
	events := rc.take(s.Tick)
	for _, e := range events {
		if e.join {
			wr.roster[e.id] = e.name
		} else {
			delete(wr.roster, e.id)
		}
	}
	if wr.w == nil {
		var err error
		wr.f, wr.w, err = rc.create(wr.segment, wr.roster)
		if err != nil {
			rc.log.Error("recording: stopped for this room", "err", err)
			wr.failed = true
			return
		}
		wr.segment++
	} else {
		for _, e := range events {
			if e.join {
				wr.w.Join(e.tick, e.id, e.name)
			} else {
				wr.w.Leave(e.tick, e.id)
			}
		}
	}
	if err := wr.w.WriteTick(s); err != nil {
		rc.log.Error("recording: stopped for this room", "file", wr.f.Name(), "err", err)
		_ = wr.f.Close()
		wr.f, wr.w, wr.failed = nil, nil, true
		return
	}
	if wr.w.Size() >= rc.cfg.MaxBytes {
		wr.closeFile() // the next tick opens the next segment, with a key frame
	}
}

// closeFile ends the open segment, if any.
func (wr *writer) closeFile() {
	if wr.w == nil {
		return
	}
	err := wr.w.Close()
	if cerr := wr.f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		wr.rc.log.Error("recording: closing", "file", wr.f.Name(), "err", err)
	} else {
		wr.rc.log.Info("recording closed", "file", wr.f.Name(), "bytes", wr.w.Size())
	}
	wr.f, wr.w = nil, nil
}

// take removes and returns the roster events due by tick, in order.
func (rc *Recorder) take(tick uint32) []rosterEvent {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	n := 0
	for n < len(rc.events) && rc.events[n].tick <= tick {
		n++
	}
	if n == 0 {
		return nil
	}
	out := append([]rosterEvent(nil), rc.events[:n]...)
	rc.events = append(rc.events[:0], rc.events[n:]...)
	return out
}

// create opens segment's file and writes its header and roster.
func (rc *Recorder) create(segment uint32, roster map[game.EntityID]string) (*os.File, *replay.Writer, error) {
	start := rc.cfg.Now().UTC()
	name := fmt.Sprintf("%s-%s-%d%s", rc.cfg.Room, start.Format("20060102T150405Z"), segment, replay.Ext)
	f, err := os.OpenFile(filepath.Join(rc.cfg.Dir, name), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return nil, nil, fmt.Errorf("creating recording: %w", err)
	}
	h := rc.header
	h.Start, h.Segment = start, segment
	rate := h.Params.TickRate
	w, err := replay.NewWriter(f, h, replay.WriterOptions{KeyEvery: uint32(max(1, int(rc.cfg.KeyEvery.Seconds()*float64(rate))))})
	if err != nil {
		_ = f.Close()
		return nil, nil, fmt.Errorf("recording %s: %w", name, err)
	}
	for id, n := range roster {
		w.Join(0, id, n)
	}
	rc.log.Info("recording", "file", f.Name(), "segment", segment)
	return f, w, nil
}
