package game

import (
	"context"
	"errors"
	"log/slog"
	"runtime"
	"sync"
	"testing"
	"time"
)

// testRoom runs a Room on a ManualClock and records what its sink sees.
type testRoom struct {
	*Room
	t     *testing.T
	clock *ManualClock
	ctx   context.Context

	mu    sync.Mutex
	seen  map[uint32]Snapshot // copies of every tick's state
	hists []int               // history lengths available at each tick
}

func startRoom(t *testing.T, cfg RoomConfig) *testRoom {
	t.Helper()
	tr := &testRoom{t: t, clock: NewManualClock(time.Unix(1000, 0)), seen: map[uint32]Snapshot{}}
	cfg.Clock = tr.clock
	cfg.Sink = SinkFunc(tr.record)
	cfg.Logger = slog.New(slog.DiscardHandler)
	room, err := NewRoom(cfg)
	if err != nil {
		t.Fatal(err)
	}
	tr.Room = room
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	tr.ctx = ctx
	done := make(chan error, 1)
	go func() { done <- room.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Errorf("Run returned %v, want context.Canceled", err)
		}
	})
	if !tr.clock.WaitTickers(1, ctx.Done()) {
		t.Fatal("room never started its ticker")
	}
	return tr
}

func (tr *testRoom) record(cur *Snapshot, h *History) {
	var c Snapshot
	c.CopyFrom(cur)
	n := 0
	for tick := cur.Tick; tick > 0; tick-- {
		if s, ok := h.At(tick); !ok || s.Tick != tick {
			break
		}
		n++
	}
	tr.mu.Lock()
	defer tr.mu.Unlock()
	tr.seen[cur.Tick] = c
	tr.hists = append(tr.hists, n)
}

// tick advances the clock one period and waits for the room to finish
// the tick, returning the player's state then (id 0: none).
func (tr *testRoom) tick(id EntityID) Player {
	tr.t.Helper()
	want := tr.CurrentTick() + 1
	tr.clock.Advance(tr.Period())
	if err := tr.WaitTick(tr.ctx, want); err != nil {
		tr.t.Fatal(err)
	}
	if id == 0 {
		return Player{}
	}
	return tr.player(want, id)
}

// player is the player's state as the sink saw it at tick.
func (tr *testRoom) player(tick uint32, id EntityID) Player {
	tr.t.Helper()
	tr.mu.Lock()
	defer tr.mu.Unlock()
	s, ok := tr.seen[tick]
	if !ok {
		tr.t.Fatalf("sink never saw tick %d", tick)
	}
	for _, p := range s.Players {
		if p.ID == id {
			return p
		}
	}
	tr.t.Fatalf("no player %d at tick %d", id, tick)
	return Player{}
}

// addPlayer adds a player in the middle of the arena, where moving
// right for a few ticks never meets a wall.
func (tr *testRoom) addPlayer() EntityID {
	tr.t.Helper()
	id, err := tr.AddPlayer()
	if err != nil {
		tr.t.Fatal(err)
	}
	tr.Room.mu.Lock()
	defer tr.Room.mu.Unlock()
	place(tr.t, tr.world, id, 1000, 1000)
	return id
}

func right(tick uint32) Input { return Input{Tick: tick, MoveX: 127} }

func TestInputAppliedAtItsTick(t *testing.T) {
	forEachRate(t, func(t *testing.T, rate int) {
		tr := startRoom(t, RoomConfig{World: Config{TickRate: rate}})
		id := tr.addPlayer()
		start, _ := tr.Player(id)
		tr.QueueInputs(id, []Input{right(3)})
		for tick := uint32(1); tick <= 2; tick++ {
			if p := tr.tick(id); p.X != start.X || p.LastInputTick != 0 {
				t.Fatalf("tick %d: moved before the input's tick: %+v", tick, p)
			}
		}
		if p := tr.tick(id); p.X <= start.X || p.LastInputTick != 3 {
			t.Fatalf("tick 3: input not applied: %+v", p)
		}
		if s := tr.Stats(); s.InputsApplied != 1 || s.InputsLate != 0 || s.Ticks != 3 {
			t.Errorf("stats %+v", s)
		}
	})
}

func TestLateInputAppliedOnceAtNextTick(t *testing.T) {
	tr := startRoom(t, RoomConfig{})
	id := tr.addPlayer()
	tr.tick(id)
	tr.tick(id)
	before := tr.tick(id)                 // tick 3 is done
	tr.QueueInputs(id, []Input{right(2)}) // too late for tick 2
	after := tr.tick(id)
	if after.X <= before.X || after.LastInputTick != 2 {
		t.Fatalf("late input not applied at the next tick: %+v", after)
	}
	tr.QueueInputs(id, []Input{right(2)}) // its redundant copy
	if again := tr.tick(id); again.X != after.X {
		t.Fatalf("late input applied twice: x %v -> %v", after.X, again.X)
	}
	if s := tr.Stats(); s.InputsLate != 1 || s.InputsApplied != 1 || s.InputsDuplicate != 1 {
		t.Errorf("stats %+v", s)
	}
}

func TestSameTickInputAppliedOnce(t *testing.T) {
	tr := startRoom(t, RoomConfig{})
	id := tr.addPlayer()
	start, _ := tr.Player(id)
	// Packets repeat the last inputs: tick 1 arrives three times, in
	// separate packets and twice in one.
	tr.QueueInputs(id, []Input{right(1)})
	tr.QueueInputs(id, []Input{right(1), right(1), right(2)})
	p1 := tr.tick(id)
	tr.QueueInputs(id, []Input{right(1), right(2), right(3)})
	p2 := tr.tick(id)
	p3 := tr.tick(id)
	step := tr.Params().PlayerStep()
	for i, p := range []Player{p1, p2, p3} {
		want := start.X + float64(i+1)*step
		if d := p.X - want; d > 0.5 || d < -0.5 {
			t.Errorf("tick %d: x %v, want about %v (one move a tick)", i+1, p.X, want)
		}
	}
	if s := tr.Stats(); s.InputsApplied != 3 || s.InputsDuplicate != 4 {
		t.Errorf("stats %+v", s)
	}
}

func TestLateInputsWaitTheirTurnOneStepATick(t *testing.T) {
	tr := startRoom(t, RoomConfig{})
	id := tr.addPlayer()
	var prev Player
	for range 5 {
		prev = tr.tick(id)
	}
	// Ticks 1..5 were missed entirely (the player joined at tick 0); the
	// client sends them all at once, with the input for tick 6. They
	// apply one a tick, in order: one step a tick, never a burst.
	tr.QueueInputs(id, []Input{right(1), right(2), right(3), right(4), right(5), right(6)})
	step := tr.Params().PlayerStep()
	for i := range uint32(6) {
		p := tr.tick(id)
		if p.LastInputTick != i+1 {
			t.Fatalf("tick %d applied input %d, want %d", 6+i, p.LastInputTick, i+1)
		}
		if d := p.X - prev.X; d < step-0.1 || d > step+0.1 {
			t.Fatalf("moved %v at tick %d, want one step (%v)", d, 6+i, step)
		}
		prev = p
	}
	if s := tr.Stats(); s.InputsApplied != 6 || s.InputsLate != 6 || s.InputsStale != 0 {
		t.Errorf("stats %+v", s)
	}
}

func TestStaleInputIsDropped(t *testing.T) {
	tr := startRoom(t, RoomConfig{})
	id := tr.addPlayer()
	for range 20 {
		tr.tick(id)
	}
	start, _ := tr.Player(id)
	stale := StaleTicks(tr.Params().TickRate)
	// Tick 21 is next: an input for 21-stale still applies, older ones
	// are dropped on arrival.
	tr.QueueInputs(id, []Input{right(20 - stale), right(21 - stale)})
	if s := tr.Stats(); s.InputsStale != 1 {
		t.Fatalf("%d inputs dropped as stale on arrival, want 1", s.InputsStale)
	}
	if p := tr.tick(id); p.LastInputTick != 21-stale || p.X <= start.X {
		t.Fatalf("the input %d ticks behind was not applied: %+v", stale, p)
	}
}

func TestInputsBeforeJoiningAreDropped(t *testing.T) {
	tr := startRoom(t, RoomConfig{})
	tr.tick(0)
	tr.tick(0)
	id := tr.addPlayer() // joins after tick 2
	start, _ := tr.Player(id)
	tr.QueueInputs(id, []Input{right(1), right(2)})
	if p := tr.tick(id); p.X != start.X {
		t.Fatalf("inputs for ticks before the player existed moved it: %+v", p)
	}
}

func TestInputFarInFutureDropped(t *testing.T) {
	forEachRate(t, func(t *testing.T, rate int) {
		tr := startRoom(t, RoomConfig{World: Config{TickRate: rate}})
		id := tr.addPlayer()
		limit := uint32(2 * rate) // 2 s ahead of tick 0
		tr.QueueInputs(id, []Input{right(limit), right(limit + 1), right(1 << 31)})
		if s := tr.Stats(); s.InputsFuture != 2 {
			t.Fatalf("%d inputs dropped as future, want 2", s.InputsFuture)
		}
		var p Player
		for range limit + 1 {
			p = tr.tick(id)
		}
		if p.LastInputTick != limit {
			t.Errorf("last applied input %d, want %d (the one 2 s ahead)", p.LastInputTick, limit)
		}
	})
}

func TestFullInputBufferDropsAndCounts(t *testing.T) {
	tr := startRoom(t, RoomConfig{World: Config{TickRate: 60}}) // 120 ticks of lead allowed
	id := tr.addPlayer()
	ins := make([]Input, InputQueueCap+10)
	for i := range ins {
		ins[i] = right(uint32(i + 1))
	}
	tr.QueueInputs(id, ins)
	if s := tr.Stats(); s.InputsDropped != 10 {
		t.Fatalf("%d inputs dropped, want 10", s.InputsDropped)
	}
	for range InputQueueCap {
		tr.tick(id)
	}
	if p, _ := tr.Player(id); p.LastInputTick != InputQueueCap {
		t.Errorf("last input %d, want %d", p.LastInputTick, InputQueueCap)
	}
}

func TestInputLeadMeasuresHowEarlyInputsArrive(t *testing.T) {
	tr := startRoom(t, RoomConfig{World: Config{TickRate: 20}}) // 50 ms a tick
	id := tr.addPlayer()
	if _, ok := tr.InputLead(id); ok {
		t.Fatal("lead known before any input")
	}
	for tick := uint32(1); tick <= 100; tick++ {
		tr.QueueInputs(id, []Input{right(tick + 2), right(tick + 1)}) // newest 3 ticks ahead
		tr.tick(id)
	}
	lead, ok := tr.InputLead(id)
	if !ok || lead.Mean.Round(time.Millisecond) != 150*time.Millisecond || lead.Dev > time.Millisecond {
		t.Errorf("lead %+v (%v), want 150ms, no deviation", lead, ok)
	}
	if _, ok := tr.InputLead(id + 1); ok {
		t.Error("lead for an unknown player")
	}
}

// TestInputLeadIsMeasuredWithinTheTick: inputs for the next tick that
// arrive 50 ms, then 10 ms, before it is due (alternately) average a
// 30 ms lead with a 20 ms deviation: the lead is measured to the due
// time, not in whole ticks.
func TestInputLeadIsMeasuredWithinTheTick(t *testing.T) {
	tr := startRoom(t, RoomConfig{World: Config{TickRate: 20}}) // 50 ms a tick
	id := tr.addPlayer()
	for tick := uint32(1); tick <= 200; tick++ {
		late := time.Duration(tick%2) * 40 * time.Millisecond
		tr.clock.Advance(late)
		tr.QueueInputs(id, []Input{right(tick)})
		tr.clock.Advance(tr.Period() - late)
		if err := tr.WaitTick(tr.ctx, tick); err != nil {
			t.Fatal(err)
		}
	}
	lead, _ := tr.InputLead(id)
	if d := lead.Mean - 30*time.Millisecond; d < -3*time.Millisecond || d > 3*time.Millisecond ||
		lead.Dev < 17*time.Millisecond || lead.Dev > 23*time.Millisecond {
		t.Errorf("lead %+v, want a mean of about 30ms and a deviation of about 20ms", lead)
	}
	if s := tr.Stats(); s.InputsApplied != 200 || s.InputsLate != 0 {
		t.Errorf("%d inputs applied, %d late; want 200 on time", s.InputsApplied, s.InputsLate)
	}
}

func TestMissedTicksCountedWhenClockJumps(t *testing.T) {
	tr := startRoom(t, RoomConfig{})
	tr.tick(0)
	tr.clock.Advance(5 * tr.Period()) // ticks 2..6 were due; the loop wakes at the last
	if err := tr.WaitTick(tr.ctx, 2); err != nil {
		t.Fatal(err)
	}
	s := tr.Stats()
	if s.Ticks != 2 || s.MissedTicks != 4 || tr.CurrentTick() != 2 {
		t.Fatalf("after a 5-period jump: %d ticks, %d missed, at tick %d; want 2, 4, 2", s.Ticks, s.MissedTicks, tr.CurrentTick())
	}
	// Back on schedule: no burst of catch-up ticks, no more misses.
	tr.tick(0)
	tr.tick(0)
	if s := tr.Stats(); s.Ticks != 4 || s.MissedTicks != 4 {
		t.Errorf("then: %d ticks, %d missed; want 4, 4", s.Ticks, s.MissedTicks)
	}
}

func TestLateWakeWithinAPeriodMissesNothing(t *testing.T) {
	tr := startRoom(t, RoomConfig{})
	tr.clock.Advance(tr.Period() + tr.Period()/2)
	if err := tr.WaitTick(tr.ctx, 1); err != nil {
		t.Fatal(err)
	}
	tr.clock.Advance(tr.Period() - tr.Period()/2) // tick 2 due now
	if err := tr.WaitTick(tr.ctx, 2); err != nil {
		t.Fatal(err)
	}
	if s := tr.Stats(); s.MissedTicks != 0 || s.Ticks != 2 {
		t.Errorf("%d ticks, %d missed; want 2, 0", s.Ticks, s.MissedTicks)
	}
}

func TestHistoryKeepsAtLeast32Ticks(t *testing.T) {
	tests := []struct{ asked, kept int }{{0, 64}, {8, 32}, {32, 32}, {100, 100}}
	for _, tt := range tests {
		tr := startRoom(t, RoomConfig{HistoryTicks: tt.asked})
		for range tt.kept + 10 {
			tr.tick(0)
		}
		tr.mu.Lock()
		got := tr.hists[len(tr.hists)-1]
		first := tr.hists[0]
		tr.mu.Unlock()
		if got != tt.kept || first != 1 {
			t.Errorf("HistoryTicks %d: history of %d ticks (first tick saw %d), want %d", tt.asked, got, first, tt.kept)
		}
	}
}

func TestHistoryAtReturnsTheRightTick(t *testing.T) {
	h := NewHistory(4)
	if h.Latest() != nil {
		t.Fatal("empty history has a latest snapshot")
	}
	for tick := uint32(1); tick <= 10; tick++ {
		h.Add(&Snapshot{Tick: tick, Players: []Player{{ID: EntityID(tick)}}})
	}
	for tick := uint32(0); tick <= 12; tick++ {
		s, ok := h.At(tick)
		if want := tick >= 7 && tick <= 10; ok != want {
			t.Errorf("At(%d) found %v, want %v", tick, ok, want)
		} else if ok && (s.Tick != tick || s.Players[0].ID != EntityID(tick)) {
			t.Errorf("At(%d) returned tick %d", tick, s.Tick)
		}
	}
	if l := h.Latest(); l.Tick != 10 {
		t.Errorf("Latest is tick %d", l.Tick)
	}
	s := &Snapshot{Tick: 11, Players: make([]Player, 1)}
	if n := testing.AllocsPerRun(100, func() { s.Tick++; h.Add(s) }); n != 0 {
		t.Errorf("Add allocates %v times", n)
	}
}

func TestSinkSeesEveryTickInOrderWithItsHistory(t *testing.T) {
	tr := startRoom(t, RoomConfig{})
	for range 40 {
		tr.tick(0)
	}
	tr.mu.Lock()
	defer tr.mu.Unlock()
	for tick := uint32(1); tick <= 40; tick++ {
		if s, ok := tr.seen[tick]; !ok || s.Tick != tick {
			t.Fatalf("sink missed tick %d", tick)
		}
	}
}

func TestRunStopsOnContextCancel(t *testing.T) {
	room, err := NewRoom(RoomConfig{Clock: NewManualClock(time.Time{}), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- room.Run(ctx) }()
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("Run returned %v", err)
	}
	if err := room.WaitTick(context.Background(), 1); !errors.Is(err, ErrRoomStopped) {
		t.Errorf("WaitTick after stop: %v", err)
	}
	if err := room.Run(context.Background()); err == nil {
		t.Error("second Run accepted")
	}
}

func TestRoomRunsOnTheRealClock(t *testing.T) {
	room, err := NewRoom(RoomConfig{World: Config{TickRate: 60}, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- room.Run(ctx) }()
	if err := room.WaitTick(ctx, 3); err != nil {
		t.Fatal(err)
	}
	cancel()
	<-done
	if s := room.Stats(); s.Ticks < 3 || s.TickMax <= 0 || s.TickP50 > s.TickMax {
		t.Errorf("stats %+v", s)
	}
}

func TestAddPlayerFailsWhenRoomFull(t *testing.T) {
	room, err := NewRoom(RoomConfig{World: Config{MaxPlayers: 1}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := room.AddPlayer(); err != nil {
		t.Fatal(err)
	}
	if _, err := room.AddPlayer(); !errors.Is(err, ErrRoomFull) {
		t.Fatalf("second player: %v, want ErrRoomFull", err)
	}
}

func TestNewRoomRejectsBadConfig(t *testing.T) {
	for name, cfg := range map[string]RoomConfig{
		"tick rate":        {World: Config{TickRate: 25}},
		"negative history": {HistoryTicks: -1},
	} {
		if _, err := NewRoom(cfg); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestRemovedPlayerInputsIgnored(t *testing.T) {
	tr := startRoom(t, RoomConfig{})
	id := tr.addPlayer()
	tr.QueueInputs(id, []Input{right(1)})
	tr.RemovePlayer(id)
	tr.QueueInputs(id, []Input{right(2)})
	tr.tick(0)
	if _, ok := tr.Player(id); ok {
		t.Fatal("removed player still in the world")
	}
	if s := tr.Stats(); s.InputsApplied != 0 {
		t.Errorf("%d inputs applied for a removed player", s.InputsApplied)
	}
}

// TestRoomIsSafeForConcurrentUse runs joins, leaves, inputs and reads from
// several goroutines against the loop; go test -race checks it.
func TestRoomIsSafeForConcurrentUse(t *testing.T) {
	tr := startRoom(t, RoomConfig{World: Config{MaxPlayers: 20}})
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				runtime.Gosched() // wasm has one thread and no preemption
				id, err := tr.AddPlayer()
				if err != nil {
					continue
				}
				cur := tr.CurrentTick()
				tr.QueueInputs(id, []Input{right(cur + 1), right(cur + 2)})
				tr.InputLead(id)
				tr.Stats()
				if (i+g)%3 == 0 {
					tr.RemovePlayer(id)
				}
			}
		}()
	}
	for range 50 {
		tr.tick(0)
	}
	close(stop)
	wg.Wait()
}

func TestRoomTickAllocatesNothingInSteadyState(t *testing.T) {
	room, swarm := newBenchRoom(t, 100)
	queue := packetQueuer(room, swarm)
	tick := func() {
		queue()
		room.runTick(room.clock.Now())
	}
	for range warmupTicks {
		tick()
	}
	if n := testing.AllocsPerRun(300, tick); n != 0 {
		t.Errorf("a room tick allocates %v times", n)
	}
}
