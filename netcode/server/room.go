package server

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tickwire/tickwire/game"
	"github.com/tickwire/tickwire/netcode/lobby"
	"github.com/tickwire/tickwire/netcode/server/directory"
	"github.com/tickwire/tickwire/netcode/server/recording"
)

// DefaultRoom is the room every server has, never closed; clients that
// name no room play there.
const DefaultRoom = "default"

// RoomOptions configure one room.
type RoomOptions struct {
	// ID names the room (ValidRoomID). Empty means a random ID.
	ID string
	// Game configures its arena (tick rate, max players, seed); the zero
	// value is the default arena of docs/GAME.md.
	Game game.Config
	// AOIRadius, when positive, sends each client only the entities
	// within this distance of its player.
	AOIRadius float64
	// Private rooms are joinable by ID but left out of the lobby's list
	// and of quick play.
	Private bool
	// Record records the room's match into Server.Record.Dir (which
	// Server.Record.All does for every room).
	Record bool
}

// RoomInfo describes a room, as the lobby lists it.
type RoomInfo = directory.Room

// room is one game.Room with the sessions playing in it. Its loop runs in
// its own goroutine with its own World.
type room struct {
	id   string
	opts RoomOptions
	srv  *Server
	game *game.Room

	tickObs prometheus.Observer // pre-resolved: no lookup on the tick
	fanout  snapshotFanout      // the per-tick snapshot work, on the room goroutine
	rec     *recording.Recorder // nil: not recorded (record.go)
	cancel  context.CancelFunc
	done    chan struct{}

	mu        sync.Mutex
	sessions  []*session    // snapshot order; replaced, never mutated in place
	holds     []time.Time   // seats the lobby promised, by expiry, oldest first
	watchers  int           // spectators admitted (see watch), who take no seat
	rosterRev atomic.Uint64 // see sendRoster (room_roster.go)

	rosterMu      sync.Mutex
	rosterSentAt  time.Time // clock time of the last roster sent
	rosterPending bool      // a join or leave since then

	// Guarded by srv.roomsMu.
	refs       int       // sessions and joins in progress
	emptySince time.Time // when refs last fell to 0
	closing    bool
}

func (s *Server) newRoom(opts RoomOptions) (*room, error) {
	r := &room{id: opts.ID, opts: opts, srv: s, done: make(chan struct{})}
	g, err := game.NewRoom(game.RoomConfig{World: opts.Game, Clock: s.clock, Sink: r, Logger: s.log.With("room", opts.ID)})
	if err != nil {
		return nil, fmt.Errorf("netcode: creating room %q: %w", opts.ID, err)
	}
	r.game = g
	r.fanout.observe = s.OnTick
	r.tickObs = s.metrics.tickDuration.WithLabelValues(opts.ID)
	r.emptySince = s.clock.Now()
	if err := s.startRecorder(r); err != nil {
		return nil, fmt.Errorf("netcode: room %q: %w", opts.ID, err)
	}
	return r, nil
}

// start runs the room's loop until stop or ctx.
func (r *room) start(ctx context.Context) {
	ctx, r.cancel = context.WithCancel(ctx)
	go func() {
		defer close(r.done)
		_ = r.game.Run(ctx)
	}()
}

// stop ends the loop and waits for it.
func (r *room) stop() {
	r.cancel()
	<-r.done
	if r.rec != nil {
		r.rec.Stop()
	}
	r.srv.metrics.tickDuration.DeleteLabelValues(r.id)
}

// OnTick sends every session its snapshot of the tick just simulated
// (see snapshotFanout). It runs on the room goroutine, so it must never
// block: transports drop a datagram rather than wait.
func (r *room) OnTick(cur *game.Snapshot, history *game.History) {
	r.fanout.tick(cur, history, r.currentSessions(), r.game, r.opts.AOIRadius)
	if r.rec != nil {
		r.rec.Offer(cur, history)
	}
}

// ObserveTick records a tick's duration (game.TickObserver).
func (r *room) ObserveTick(d time.Duration) { r.tickObs.Observe(d.Seconds()) }

// ObserveHit records a hit for its shooter's snapshots and how far lag
// compensation rewound its target (game.HitObserver); hits it did not
// rewind are only counted, from the room's stats.
func (r *room) ObserveHit(h game.Hit, rewind time.Duration) {
	r.fanout.hits.add(h)
	if rewind > 0 {
		r.srv.metrics.lagRewind.Observe(rewind.Seconds())
	}
}

func (r *room) info() RoomInfo {
	p := r.game.Params()
	return RoomInfo{
		ID:       r.id,
		Players:  r.seatsTaken(r.srv.clock.Now()),
		Capacity: r.opts.Game.Capacity(),
		TickRate: p.TickRate,
		AOI:      r.opts.AOIRadius > 0,
		Private:  r.opts.Private,

		Spectators: r.spectators(),
	}
}

// watch admits a spectator when the room has fewer than most; unwatch
// gives the place back. Spectators take no player seat: they have no
// entity, and their own cap (Server.MaxSpectators).
func (r *room) watch(most int) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.watchers >= most {
		return false
	}
	r.watchers++
	return true
}

func (r *room) unwatch() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.watchers--
}

// spectators counts the spectators admitted.
func (r *room) spectators() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.watchers
}

// seatsTaken counts the players in the world (playing, or parked for
// resume) and the seats held for players the lobby sent here.
func (r *room) seatsTaken(now time.Time) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.dropExpiredHolds(now)
	return r.game.Players() + len(r.holds)
}

// hold keeps a seat for a player the lobby is sending here, for
// lobby.SeatHold; false when the room has no seat left. Holding seats is
// what lets concurrent quick plays, on any process, never overfill a
// room: each is decided here, by the room's owner.
func (r *room) hold(now time.Time) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.dropExpiredHolds(now)
	if r.game.Players()+len(r.holds) >= r.opts.Game.Capacity() {
		return false
	}
	r.holds = append(r.holds, now.Add(lobby.SeatHold))
	return true
}

// takeSeat admits an arriving player: sentByLobby uses a held seat when
// there is one; anyone else needs a seat nobody holds.
func (r *room) takeSeat(now time.Time, sentByLobby bool) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.dropExpiredHolds(now)
	if sentByLobby && len(r.holds) > 0 {
		r.holds = r.holds[1:]
	}
	return r.game.Players()+len(r.holds) < r.opts.Game.Capacity()
}

// players counts the sessions playing now (spectators aside).
func (r *room) players() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, ss := range r.sessions {
		if !ss.spectator {
			n++
		}
	}
	return n
}

func (r *room) dropExpiredHolds(now time.Time) {
	n := 0
	for n < len(r.holds) && !now.Before(r.holds[n]) {
		n++
	}
	r.holds = r.holds[n:]
}

func (r *room) addSession(ss *session) {
	r.mu.Lock()
	defer r.mu.Unlock()
	next := make([]*session, len(r.sessions), len(r.sessions)+1)
	copy(next, r.sessions)
	r.sessions = append(next, ss)
	if r.rec != nil && !ss.spectator {
		r.rec.Joined(r.game.CurrentTick()+1, ss.entity, ss.name)
	}
}

func (r *room) removeSession(ss *session) {
	r.mu.Lock()
	defer r.mu.Unlock()
	next := make([]*session, 0, len(r.sessions))
	for _, o := range r.sessions {
		if o != ss {
			next = append(next, o)
		}
	}
	r.sessions = next
	if r.rec != nil && !ss.spectator {
		r.rec.Left(r.game.CurrentTick()+1, ss.entity)
	}
}

func (r *room) currentSessions() []*session {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.sessions
}
