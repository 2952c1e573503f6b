package game

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// History sizes, in ticks.
const (
	DefaultHistoryTicks = 64
	MinHistoryTicks     = 32
	maxHistoryTicks     = 1 << 16
)

// StaleTicks is how many ticks behind the tick being simulated an input
// may be and still apply, at a tick rate: a quarter of a second (7 ticks
// at 30 Hz, 5 at 20 Hz, 15 at 60 Hz), at least 1. Older inputs are
// dropped.
func StaleTicks(tickRate int) uint32 { return max(1, uint32(max(tickRate, 0))/4) }

// ErrRoomStopped is returned by WaitTick once the room's loop has ended.
var ErrRoomStopped = errors.New("game: room stopped")

// SnapshotSink receives the state after every tick.
type SnapshotSink interface {
	// OnTick is called on the room's goroutine after every tick, with the
	// new state (also history.Latest()) and the history of recent ticks.
	// Both belong to the room and are reused: OnTick must copy what it
	// keeps, or lend cur to a goroutine that is done with it before the
	// room writes its slot again, History.Len ticks later (the History
	// says how). The next tick waits for OnTick, so it must not block. It
	// may call the Room's methods.
	OnTick(cur *Snapshot, history *History)
}

// TickObserver is implemented by a SnapshotSink that wants each tick's
// duration (the sink included), for instance to feed a histogram. It is
// called on the room's goroutine after OnTick; it must not block.
type TickObserver interface {
	ObserveTick(d time.Duration)
}

// SinkFunc adapts a function to SnapshotSink.
type SinkFunc func(cur *Snapshot, history *History)

// OnTick calls f(cur, history).
func (f SinkFunc) OnTick(cur *Snapshot, history *History) { f(cur, history) }

// RoomConfig configures a Room. The zero value runs the default arena on
// the real clock and sends its snapshots nowhere.
type RoomConfig struct {
	// World configures the arena; its zero value is the benchmark arena of
	// docs/GAME.md (30 Hz, 100 players, 2000 units).
	World Config
	// Clock drives the loop. Nil means RealClock.
	Clock Clock
	// HistoryTicks is how many past snapshots the History keeps. Zero
	// means DefaultHistoryTicks (64); smaller values are raised to
	// MinHistoryTicks (32).
	HistoryTicks int
	// Sink receives every tick's state. Nil means none.
	Sink SnapshotSink
	// Logger receives the room's few log lines. Nil means slog.Default().
	Logger *slog.Logger
}

// Room runs one World at a fixed rate: the authority of one arena. Its
// loop (Run) owns the World; other goroutines join and leave players and
// queue their inputs through the Room's methods, all safe for concurrent
// use.
//
// # Inputs
//
// Each input is meant for the tick in its Tick field. When the room
// computes tick T it applies, per player, at most one input
// (MaxInputsPerTick), hence at most one movement step and one shot:
//   - an input whose Tick is at or before the player's last applied tick
//     (or the tick the player joined at) is a duplicate and is dropped, so
//     the redundant copies that later packets carry are never applied
//     twice;
//   - of the inputs with Tick <= T (due), the oldest is applied at T and
//     the others wait for the next ticks, one a tick, in order: a late
//     input (its tick was simulated without it) is delayed, not lost, so
//     the client's prediction stays exact. Movement is never caught up,
//     so no sequence of inputs moves a player faster than PlayerSpeed,
//     and fire stays bound by the cooldown;
//   - an input more than StaleTicks (0.25 s) behind T is stale and is
//     dropped, on arrival or in the buffer, which bounds the delay late
//     inputs can build up: a "lag switch" that holds its inputs and
//     releases them gains nothing;
//   - an input with Tick > T waits in the buffer until its tick;
//   - an input more than 2 s ahead of the room when it arrives is dropped
//     (hostile), as is one that finds the player's buffer (InputQueueCap)
//     full.
//
// A player with no input for a tick does not move. The room also
// measures, per player, how early inputs arrive (InputLead), so the
// client can aim its inputs a little ahead of the server and late inputs
// stay rare.
//
// # Timing
//
// The loop ticks on the Clock's ticker at the tick rate. When it wakes
// more than one period after a tick was due, the ticks it could not run in
// time are counted as missed and skipped: the world never runs a burst of
// catch-up ticks, so its tick number counts ticks simulated, not periods
// elapsed.
type Room struct {
	params Params
	period time.Duration
	tickMs float64
	// dueOffset places every tick in time: tick k is due at Unix ns
	// dueOffset + k·period (it moves only when ticks are skipped).
	dueOffset   atomic.Int64
	futureTicks uint32
	staleTicks  uint32
	clock       Clock
	sink        SnapshotSink
	observer    TickObserver
	log         *slog.Logger

	mu    sync.Mutex // guards world
	world *World

	qmu    sync.RWMutex // guards queues and order
	queues map[EntityID]*inputQueue
	order  []*inputQueue // by player ID, so Step sees inputs in a fixed order

	// Used by the loop goroutine only.
	pending     []PlayerInput
	history     *History
	lastMissLog time.Time

	tick    atomic.Uint32
	running atomic.Bool
	counters
	hist DurationHistogram

	// Lag compensation's hit counts and observer (lagcomp.go).
	lagComp     lagCompCounters
	hitObserver HitObserver

	waitMu   sync.Mutex
	doneTick uint32
	stopped  bool
	tickDone chan struct{} // closed after a tick when someone waits
}

// counters are the room's event counts, updated from any goroutine.
type counters struct {
	ticks, missed, applied, late, duplicate, dropped, future, stale atomic.Uint64
}

// NewRoom builds a room at tick 0. It does not start the loop (Run).
func NewRoom(cfg RoomConfig) (*Room, error) {
	if err := cfg.World.Validate(); err != nil {
		return nil, fmt.Errorf("new room: %w", err)
	}
	if cfg.HistoryTicks < 0 || cfg.HistoryTicks > maxHistoryTicks {
		return nil, fmt.Errorf("new room: history of %d ticks out of [0, %d]", cfg.HistoryTicks, maxHistoryTicks)
	}
	histTicks := cfg.HistoryTicks
	if histTicks == 0 {
		histTicks = DefaultHistoryTicks
	}
	r := &Room{
		world:   NewWorld(cfg.World),
		clock:   cfg.Clock,
		sink:    cfg.Sink,
		log:     cfg.Logger,
		queues:  make(map[EntityID]*inputQueue),
		history: NewHistory(max(histTicks, MinHistoryTicks)),
	}
	r.observer, _ = cfg.Sink.(TickObserver)
	r.hitObserver, _ = cfg.Sink.(HitObserver)
	r.params = r.world.Params()
	r.period = time.Second / time.Duration(r.params.TickRate)
	r.tickMs = 1000 / float64(r.params.TickRate)
	r.futureTicks = 2 * uint32(r.params.TickRate)
	r.staleTicks = StaleTicks(r.params.TickRate)
	r.pending = make([]PlayerInput, 0, cfg.World.Capacity()*MaxInputsPerTick)
	if r.clock == nil {
		r.clock = RealClock{}
	}
	if r.log == nil {
		r.log = slog.Default()
	}
	return r, nil
}

// Params are the rules of the room's arena.
func (r *Room) Params() Params { return r.params }

// Period is the time between two ticks.
func (r *Room) Period() time.Duration { return r.period }

// CurrentTick is the last tick simulated (0 before the first).
func (r *Room) CurrentTick() uint32 { return r.tick.Load() }

// AddPlayer adds a player to the world; it fails with ErrRoomFull when the
// room is full. Inputs for ticks up to the current one are dropped as
// duplicates: the player did not exist then.
func (r *Room) AddPlayer() (EntityID, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	id, err := r.world.AddPlayer()
	if err != nil {
		return 0, fmt.Errorf("room: %w", err)
	}
	q := &inputQueue{id: id, lastApplied: r.world.Tick()}
	r.qmu.Lock()
	r.queues[id] = q
	r.order = append(r.order, q) // IDs only grow: order stays sorted
	r.qmu.Unlock()
	return id, nil
}

// Players is the number of players in the world.
func (r *Room) Players() int {
	r.qmu.RLock()
	defer r.qmu.RUnlock()
	return len(r.queues)
}

// RemovePlayer removes a player and its queued inputs. Unknown IDs are
// ignored.
func (r *Room) RemovePlayer(id EntityID) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.world.RemovePlayer(id)
	r.qmu.Lock()
	defer r.qmu.Unlock()
	if q := r.queues[id]; q != nil {
		delete(r.queues, id)
		for i, o := range r.order {
			if o == q {
				r.order = append(r.order[:i], r.order[i+1:]...)
				break
			}
		}
	}
}

// Player returns a copy of a player's current state.
func (r *Room) Player(id EntityID) (Player, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.world.Player(id)
}

// QueueInputs copies a player's inputs into its buffer, to be applied at
// their ticks by the rule in the Room documentation. The slice is not
// retained. Inputs for unknown players are ignored. It allocates nothing.
func (r *Room) QueueInputs(id EntityID, inputs []Input) {
	r.qmu.RLock()
	q := r.queues[id]
	r.qmu.RUnlock()
	if q == nil || len(inputs) == 0 {
		return
	}
	cur := r.tick.Load()
	limit := cur + r.futureTicks
	// The next tick is cur+1; an input more than staleTicks behind it
	// would be dropped there anyway.
	oldest := uint32(0)
	if cur+1 > r.staleTicks {
		oldest = cur + 1 - r.staleTicks
	}
	var dup, full, future, stale uint64
	newest := -1
	q.mu.Lock()
	for i := range inputs {
		switch q.offer(inputs[i], oldest, limit) {
		case queued:
			if newest < 0 || inputs[i].Tick > inputs[newest].Tick {
				newest = i
			}
		case queueDuplicate:
			dup++
		case queueFull:
			full++
		case queueFuture:
			future++
		case queueStale:
			stale++
		}
	}
	if newest >= 0 {
		// The newest input is the one the client just produced: how long
		// before its tick is due it arrived is how early inputs arrive.
		due := r.dueOffset.Load() + int64(inputs[newest].Tick)*int64(r.period)
		q.noteLead(float64(due-r.clock.Now().UnixNano()) / 1e6)
	}
	q.mu.Unlock()
	r.duplicate.Add(dup)
	r.dropped.Add(full)
	r.future.Add(future)
	r.stale.Add(stale)
}

// InputLead is how early a player's inputs arrive before their tick is
// due, smoothed: Mean (negative: late) and Dev, the mean absolute
// deviation of the samples, which the client turns into a safety margin;
// and Backlog, the inputs queued whose tick has passed. False until the
// player has queued an input.
func (r *Room) InputLead(id EntityID) (InputLead, bool) {
	r.qmu.RLock()
	q := r.queues[id]
	r.qmu.RUnlock()
	if q == nil {
		return InputLead{}, false
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	return InputLead{Mean: msDuration(q.leadMs), Dev: msDuration(q.leadDevMs), Backlog: q.due(r.tick.Load())}, q.hasLead
}

// InputLead is one player's input lead (Room.InputLead).
type InputLead struct {
	Mean, Dev time.Duration
	// Backlog counts inputs that arrived after their tick: the room
	// applies one input a tick, oldest first, so each delays every later
	// input by a tick until the client leaves a tick without input (it
	// skips Backlog tick numbers).
	Backlog int
}

func msDuration(ms float64) time.Duration { return time.Duration(ms * float64(time.Millisecond)) }

// Stats returns the room's counters and tick durations.
func (r *Room) Stats() RoomStats {
	s := RoomStats{
		Ticks:           r.ticks.Load(),
		MissedTicks:     r.missed.Load(),
		InputsApplied:   r.applied.Load(),
		InputsLate:      r.late.Load(),
		InputsDuplicate: r.duplicate.Load(),
		InputsDropped:   r.dropped.Load(),
		InputsFuture:    r.future.Load(),
		InputsStale:     r.stale.Load(),
	}
	s.TickP50, s.TickP99, s.TickMax = r.hist.Quantile(0.50), r.hist.Quantile(0.99), r.hist.Max()
	return s
}

// ResetStats zeroes the counters and tick durations, e.g. after a
// benchmark's warm-up.
func (r *Room) ResetStats() {
	for _, c := range []*atomic.Uint64{&r.ticks, &r.missed, &r.applied, &r.late, &r.duplicate, &r.dropped, &r.future, &r.stale} {
		c.Store(0)
	}
	r.hist.Reset()
	r.lagComp.reset()
}

// Run runs the loop until ctx is done, then returns ctx.Err(). It may be
// called once.
func (r *Room) Run(ctx context.Context) error {
	if !r.running.CompareAndSwap(false, true) {
		return errors.New("game: Room.Run called twice")
	}
	defer r.stop()
	r.log.Info("room running", "tick_rate", r.params.TickRate, "arena_size", r.params.Size,
		"max_players", r.world.maxPlayers)
	// Read the time before the ticker starts, so that the ticker's first
	// tick is never due before the loop's.
	next := r.clock.Now().Add(r.period)
	r.setDue(next)
	t := r.clock.NewTicker(r.period)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C():
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		now := r.clock.Now()
		next = r.skipMissed(now, next)
		r.setDue(next)
		r.runTick(now)
		next = next.Add(r.period)
	}
}

// setDue records that the next tick is due at next, for the input lead.
func (r *Room) setDue(next time.Time) {
	r.dueOffset.Store(next.UnixNano() - int64(r.tick.Load()+1)*int64(r.period))
}

// skipMissed counts the ticks due more than a period before now as missed
// and returns when the tick about to run was due.
func (r *Room) skipMissed(now, due time.Time) time.Time {
	late := now.Sub(due)
	if late < r.period {
		return due
	}
	n := late / r.period
	r.missed.Add(uint64(n))
	// Overload would log every tick; once in a while is enough.
	if now.Sub(r.lastMissLog) >= 10*time.Second {
		r.lastMissLog = now
		r.log.Warn("room missed ticks", "missed", int64(n), "late", late, "total_missed", r.missed.Load())
	}
	return due.Add(n * r.period)
}

// runTick computes the next tick: drain the inputs due, step the world,
// record the state in the history, hand it to the sink. start is when the
// loop woke; the duration recorded includes the sink.
func (r *Room) runTick(start time.Time) {
	t := r.tick.Load() + 1
	late := r.drainInputs(t)
	snap := r.history.slot(t)
	r.mu.Lock()
	r.world.Step(r.pending)
	r.world.Snapshot(snap)
	r.mu.Unlock()
	r.noteHits(r.world.Hits()) // only this goroutine steps the world
	r.history.commit(t)
	r.tick.Store(t)
	if r.sink != nil {
		r.sink.OnTick(snap, r.history)
	}
	d := r.clock.Now().Sub(start)
	if r.observer != nil {
		r.observer.ObserveTick(d)
	}

	r.ticks.Add(1)
	r.applied.Add(uint64(len(r.pending)))
	r.late.Add(uint64(late))
	r.hist.Record(d)
	r.notifyTick(t)
}

// drainInputs fills r.pending with the inputs due at tick t, at most one
// per player, players in ID order, and returns how many were late.
func (r *Room) drainInputs(t uint32) (late int) {
	r.pending = r.pending[:0]
	r.qmu.RLock()
	defer r.qmu.RUnlock()
	var discarded int
	for _, q := range r.order {
		q.mu.Lock()
		var l bool
		var d int
		r.pending, l, d = q.drain(t, r.staleTicks, r.pending)
		q.mu.Unlock()
		if l {
			late++
		}
		discarded += d
	}
	r.stale.Add(uint64(discarded))
	return late
}

// WaitTick blocks until the room has finished tick (its sink has
// returned), the room's loop has ended (ErrRoomStopped) or ctx is done.
// Tests use it to step in lockstep with a ManualClock.
func (r *Room) WaitTick(ctx context.Context, tick uint32) error {
	for {
		r.waitMu.Lock()
		if r.doneTick >= tick {
			r.waitMu.Unlock()
			return nil
		}
		if r.stopped {
			r.waitMu.Unlock()
			return ErrRoomStopped
		}
		if r.tickDone == nil {
			r.tickDone = make(chan struct{})
		}
		ch := r.tickDone
		r.waitMu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("waiting for tick %d: %w", tick, ctx.Err())
		}
	}
}

// notifyTick wakes the waiters, if any; with none it allocates nothing.
func (r *Room) notifyTick(t uint32) {
	r.waitMu.Lock()
	defer r.waitMu.Unlock()
	r.doneTick = t
	if r.tickDone != nil {
		close(r.tickDone)
		r.tickDone = nil
	}
}

func (r *Room) stop() {
	r.waitMu.Lock()
	defer r.waitMu.Unlock()
	r.stopped = true
	if r.tickDone != nil {
		close(r.tickDone)
		r.tickDone = nil
	}
}
