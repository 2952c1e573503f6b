package server

import (
	"errors"
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

// RecordOptions configure the recording of matches (docs/HOSTING.md,
// "Recordings"). The zero value records nothing.
type RecordOptions struct {
	// Dir is where recordings go, one file per room and segment:
	// ROOM-YYYYMMDDTHHMMSSZ-N.twr. Empty: nothing is recorded.
	Dir string
	// All records every room; otherwise only rooms created with
	// "record": true through the lobby (RoomOptions.Record).
	All bool
	// MaxBytes is the size past which a room's recording goes on in a
	// new file (the next segment). Default 64 MiB.
	MaxBytes int64
	// KeyEvery is the time between key frames, where seeks start.
	// Default 5 s.
	KeyEvery time.Duration
}

// Defaults of RecordOptions, and the recorder's hand-off queue.
const (
	defaultRecordMaxBytes = 64 << 20
	defaultKeyEvery       = 5 * time.Second
	// recordQueue is how many ticks the writer may fall behind (2 s at
	// 30 Hz) before the room drops ticks from the recording rather than
	// wait: disk stalls never reach the tick.
	recordQueue = 64
)

// recorder records one room. The room's goroutine only copies the tick's
// state into a spare buffer and hands it over (offer): no encoding, no
// I/O and no allocation there. The writer goroutine (run) encodes,
// compresses and writes, and gives the buffer back.
type recorder struct {
	opts   RecordOptions
	room   string
	header replay.Header
	log    *slog.Logger
	now    func() time.Time

	free    chan *game.Snapshot // spare buffers
	work    chan *game.Snapshot // ticks to write, in order
	dropped atomic.Uint64       // ticks dropped because the writer lagged
	done    chan struct{}

	mu     sync.Mutex
	events []rosterEvent // joins and leaves not yet written
}

type rosterEvent struct {
	tick uint32
	id   game.EntityID
	name string
	join bool
}

// newRecorder starts a room's recorder; stop ends it.
func newRecorder(opts RecordOptions, room string, cfg game.Config, params game.Params, log *slog.Logger, now func() time.Time) (*recorder, error) {
	if err := os.MkdirAll(opts.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("netcode: recordings directory: %w", err)
	}
	if opts.MaxBytes <= 0 {
		opts.MaxBytes = defaultRecordMaxBytes
	}
	if opts.KeyEvery <= 0 {
		opts.KeyEvery = defaultKeyEvery
	}
	rc := &recorder{
		opts: opts, room: room, log: log, now: now,
		header: replay.Header{Room: room, Params: params, Seed: cfg.Seed},
		free:   make(chan *game.Snapshot, recordQueue),
		work:   make(chan *game.Snapshot, recordQueue),
		done:   make(chan struct{}),
	}
	for range recordQueue {
		rc.free <- &game.Snapshot{}
	}
	go rc.run()
	return rc, nil
}

// offer hands the tick's state to the writer; it runs on the room's
// goroutine and never blocks. Without a spare buffer the writer is
// behind: the tick is dropped from the recording (the next one deltas
// across the gap) and counted; the writer logs it.
func (rc *recorder) offer(cur *game.Snapshot) {
	select {
	case s := <-rc.free:
		s.CopyFrom(cur)
		rc.work <- s // never blocks: work holds as many as there are buffers
	default:
		rc.dropped.Add(1)
	}
}

// joined and left note the roster's changes (session goroutines), from
// the tick after the current one: the first the player is seen in.
func (rc *recorder) joined(tick uint32, id game.EntityID, name string) {
	rc.note(rosterEvent{tick: tick, id: id, name: name, join: true})
}

func (rc *recorder) left(tick uint32, id game.EntityID) {
	rc.note(rosterEvent{tick: tick, id: id})
}

func (rc *recorder) note(e rosterEvent) {
	rc.mu.Lock()
	rc.events = append(rc.events, e)
	rc.mu.Unlock()
}

// stop ends the recording once the room's loop has ended (no more
// offers): the ticks queued are written, then the end block.
func (rc *recorder) stop() {
	close(rc.work)
	<-rc.done
}

// run is the writer goroutine.
func (rc *recorder) run() {
	defer close(rc.done)
	var (
		f        *os.File
		w        *replay.Writer
		segment  uint32
		roster   = map[game.EntityID]string{}
		reported uint64
		failed   bool
	)
	closeFile := func() {
		if w == nil {
			return
		}
		err := w.Close()
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			rc.log.Error("recording: closing", "file", f.Name(), "err", err)
		} else {
			rc.log.Info("recording closed", "file", f.Name(), "bytes", w.Size())
		}
		f, w = nil, nil
	}
	defer closeFile()
	for s := range rc.work {
		if n := rc.dropped.Load(); n != reported {
			rc.log.Error("recording: the writer fell behind; ticks dropped from the recording", "dropped", n-reported, "total", n)
			reported = n
		}
		if failed {
			rc.free <- s
			continue
		}
		events := rc.take(s.Tick)
		for _, e := range events {
			if e.join {
				roster[e.id] = e.name
			} else {
				delete(roster, e.id)
			}
		}
		if w == nil {
			var err error
			f, w, err = rc.create(segment, roster)
			if err != nil {
				rc.log.Error("recording: stopped for this room", "err", err)
				failed = true
				rc.free <- s
				continue
			}
			segment++
		} else {
			for _, e := range events {
				if e.join {
					w.Join(e.tick, e.id, e.name)
				} else {
					w.Leave(e.tick, e.id)
				}
			}
		}
		err := w.WriteTick(s)
		rc.free <- s
		if err != nil {
			rc.log.Error("recording: stopped for this room", "file", f.Name(), "err", err)
			_ = f.Close()
			f, w, failed = nil, nil, true
			continue
		}
		if w.Size() >= rc.opts.MaxBytes {
			closeFile() // the next tick opens the next segment, with a key frame
		}
	}
}

// take removes and returns the roster events due by tick, in order.
func (rc *recorder) take(tick uint32) []rosterEvent {
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
func (rc *recorder) create(segment uint32, roster map[game.EntityID]string) (*os.File, *replay.Writer, error) {
	start := rc.now().UTC()
	name := fmt.Sprintf("%s-%s-%d%s", rc.room, start.Format("20060102T150405Z"), segment, replay.Ext)
	f, err := os.OpenFile(filepath.Join(rc.opts.Dir, name), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return nil, nil, fmt.Errorf("creating recording: %w", err)
	}
	h := rc.header
	h.Start, h.Segment = start, segment
	rate := h.Params.TickRate
	w, err := replay.NewWriter(f, h, replay.WriterOptions{KeyEvery: uint32(max(1, int(rc.opts.KeyEvery.Seconds()*float64(rate))))})
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

// errNotRecording is the lobby's answer to a room asked to record on a
// server without a recordings directory.
var errNotRecording = errors.New("this server does not record matches (no -record directory)")

// startRecorder starts r's recorder when the server records it.
func (s *Server) startRecorder(r *room) error {
	opts := s.Record
	if opts.Dir == "" {
		if r.opts.Record {
			return errNotRecording
		}
		return nil
	}
	if !opts.All && !r.opts.Record {
		return nil
	}
	rc, err := newRecorder(opts, r.id, r.opts.Game, r.game.Params(), s.log.With("room", r.id), s.clock.Now)
	if err != nil {
		return err
	}
	r.rec = rc
	return nil
}
