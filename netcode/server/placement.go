package server

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/tickwire/tickwire/netcode/lobby"
	"github.com/tickwire/tickwire/netcode/server/directory"
)

// placedHeader marks a lobby request that one process's lobby forwards to
// another: the receiver acts on it itself (creates the room, holds the
// seat) rather than placing it again. Its value names the sender.
const placedHeader = "Tickwire-Placed"

// place opens a room for req on the least-loaded process that may open
// one more (this one included) and says where it lives. A process that
// cannot be reached or has no room left is skipped for the next.
func (s *Server) place(ctx context.Context, req lobby.CreateRequest, auth string) (lobby.Room, int, error) {
	var lastErr error
	for _, p := range s.placementOrder(ctx) {
		if p.ID == s.ProcessID {
			return s.createHere(req)
		}
		var room lobby.Room
		status, err := s.forward(ctx, p.URL, "opening a room", auth, func(c *lobby.Client) error {
			var err error
			room, err = c.Create(ctx, req)
			return err
		})
		switch {
		case err == nil:
			s.placed.add(room, s.clock.Now().Add(s.DirectoryTTL))
			return room, http.StatusCreated, nil
		case status == http.StatusConflict, status == http.StatusBadRequest, status == http.StatusUnauthorized:
			return lobby.Room{}, status, err // the same answer anywhere
		}
		s.log.Warn("lobby: placing a room elsewhere failed; trying the next process", "process", p.ID, "err", err)
		lastErr = err
	}
	if lastErr == nil {
		lastErr = errors.New("every process is draining or has its maximum of rooms")
	}
	return lobby.Room{}, http.StatusServiceUnavailable, fmt.Errorf("placing the room: %w", lastErr)
}

// placementOrder lists the processes that may open one more room, least
// loaded first: fewest players, then fewest rooms. This process is read
// live and wins ties (no hop).
func (s *Server) placementOrder(ctx context.Context) []directory.Process {
	var out []directory.Process
	if self := s.processRecord(); self.HasRoomSlot() {
		out = append(out, self)
	}
	for _, p := range s.peers(ctx) {
		if p.HasRoomSlot() {
			out = append(out, p)
		}
	}
	slices.SortStableFunc(out, func(a, b directory.Process) int {
		return cmp.Or(cmp.Compare(a.Players(), b.Players()), cmp.Compare(len(a.Rooms), len(b.Rooms)))
	})
	return out
}

// createHere opens the room req asks for on this process.
func (s *Server) createHere(req lobby.CreateRequest) (lobby.Room, int, error) {
	opts := RoomOptions{ID: req.ID, Game: s.Game, AOIRadius: s.AOIRadius, Private: req.Private, Record: req.Record}
	if req.MaxPlayers != 0 {
		opts.Game.MaxPlayers, opts.Game.Size = req.MaxPlayers, 0
	}
	if req.TickRate != 0 {
		opts.Game.TickRate = req.TickRate
	}
	if req.AOIRadius != 0 {
		opts.AOIRadius = req.AOIRadius
	}
	if req.Seed != 0 {
		opts.Game.Seed = req.Seed
	}
	info, err := s.CreateRoom(opts)
	switch {
	case errors.Is(err, ErrRoomExists):
		return lobby.Room{}, http.StatusConflict, err
	case errors.Is(err, ErrTooManyRooms), errors.Is(err, ErrDraining):
		return lobby.Room{}, http.StatusServiceUnavailable, err
	case err != nil:
		return lobby.Room{}, http.StatusBadRequest, err
	}
	return lobbyRoom(info, s.processRecord()), http.StatusCreated, nil
}

// quickPlay finds a player a seat: in the fullest listed room with space
// at the tick rate asked, on any process, else in a room it opens on the
// least-loaded process. Each seat is held by the room's owner, which
// refuses when the room is full; the lobby then tries the next room.
// This lobby's quick plays run one at a time, so that each sees the
// rooms and seats the previous one took.
func (s *Server) quickPlay(ctx context.Context, req lobby.QuickPlayRequest, auth string) (lobby.Join, int, error) {
	if s.draining.Load() {
		return lobby.Join{}, http.StatusServiceUnavailable, ErrDraining
	}
	tickRate := req.TickRate
	if tickRate == 0 {
		tickRate = s.Game.Params().TickRate
	}
	join := lobby.JoinRequest{PlayerID: req.PlayerID, PlayerName: req.PlayerName}
	s.quickMu.Lock()
	defer s.quickMu.Unlock()
	for _, rm := range s.quickCandidates(ctx, tickRate) {
		j, _, err := s.joinOn(ctx, rm, join, auth)
		if err == nil {
			return j, 0, nil
		}
		s.log.Debug("quick play: room refused a seat", "room", rm.ID, "process", rm.Process, "err", err)
	}
	rm, status, err := s.place(ctx, lobby.CreateRequest{TickRate: tickRate}, auth)
	if err != nil {
		return lobby.Join{}, status, err
	}
	j, status, err := s.joinOn(ctx, rm, join, auth)
	j.Created = true
	return j, status, err
}

// quickCandidates are the listed rooms at tickRate with a seat free, by
// the latest counts this lobby has, fullest first.
func (s *Server) quickCandidates(ctx context.Context, tickRate int) []lobby.Room {
	rooms := s.placed.merge(s.allRooms(ctx), s.clock.Now())
	out := rooms[:0]
	for _, rm := range rooms {
		if !rm.Private && rm.TickRate == tickRate && rm.Players < rm.Capacity {
			out = append(out, rm)
		}
	}
	slices.SortStableFunc(out, func(a, b lobby.Room) int {
		return cmp.Or(cmp.Compare(b.Players, a.Players), strings.Compare(a.ID, b.ID))
	})
	return out
}

// joinOn asks rm's owner for a seat: this process, or the owner's lobby.
func (s *Server) joinOn(ctx context.Context, rm lobby.Room, req lobby.JoinRequest, auth string) (lobby.Join, int, error) {
	if rm.Process == s.ProcessID {
		if r := s.lookupRoom(rm.ID); r != nil {
			return s.seat(r, req)
		}
		return lobby.Join{}, http.StatusNotFound, fmt.Errorf("no room %q", rm.ID)
	}
	var j lobby.Join
	status, err := s.forward(ctx, rm.URL, "joining room "+rm.ID, auth, func(c *lobby.Client) error {
		var err error
		j, err = c.Join(ctx, rm.ID, req)
		return err
	})
	if err == nil {
		s.placed.seated(rm.ID)
	}
	return j, status, err
}

// forward calls another process's lobby at base with call, marked as
// placed by this process and with the caller's authorization (processes
// sharing a directory share the lobby key). It returns the HTTP status
// of a refusal, or 502 when the process did not answer.
func (s *Server) forward(ctx context.Context, base, what, auth string, call func(*lobby.Client) error) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, forwardTimeout)
	defer cancel()
	h := http.Header{placedHeader: {s.ProcessID}}
	if auth != "" {
		h.Set("Authorization", auth)
	}
	err := call(&lobby.Client{Base: base, Header: h, HTTP: s.lobbyHTTP})
	var le *lobby.Error
	switch {
	case err == nil:
		return http.StatusOK, nil
	case errors.As(err, &le):
		return le.Status, fmt.Errorf("%s at %s: %s", what, base, le.Reason)
	default:
		return http.StatusBadGateway, fmt.Errorf("%s at %s: %w", what, base, err)
	}
}

// forwardTimeout bounds a call to another process's lobby.
const forwardTimeout = 5 * time.Second

// placedRooms remembers the rooms this lobby opened on other processes
// until the directory lists them (their owner republishes at once, but
// the directory may lag by a heartbeat), with the seats it handed out.
type placedRooms struct {
	mu    sync.Mutex
	rooms map[string]placedRoom
}

type placedRoom struct {
	room  lobby.Room
	until time.Time
}

func (p *placedRooms) add(rm lobby.Room, until time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.rooms == nil {
		p.rooms = make(map[string]placedRoom)
	}
	p.rooms[rm.ID] = placedRoom{room: rm, until: until}
}

// seated counts a seat handed out in room id, if this lobby placed it.
func (p *placedRooms) seated(id string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if e, ok := p.rooms[id]; ok {
		e.room.Players++
		p.rooms[id] = e
	}
}

// find returns room id, if this lobby placed it lately.
func (p *placedRooms) find(id string, now time.Time) (lobby.Room, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	e, ok := p.rooms[id]
	if !ok || !now.Before(e.until) {
		return lobby.Room{}, false
	}
	return e.room, true
}

// merge adds to rooms those this lobby placed that rooms lacks, and
// raises the player counts of those it has to the seats handed out since
// (a directory record may predate them).
func (p *placedRooms) merge(rooms []lobby.Room, now time.Time) []lobby.Room {
	p.mu.Lock()
	defer p.mu.Unlock()
	for id, e := range p.rooms {
		if !now.Before(e.until) {
			delete(p.rooms, id)
			continue
		}
		i := slices.IndexFunc(rooms, func(r lobby.Room) bool { return r.ID == id && r.Process == e.room.Process })
		if i < 0 {
			rooms = append(rooms, e.room)
		} else {
			rooms[i].Players = max(rooms[i].Players, e.room.Players)
		}
	}
	return rooms
}

// Lobby requests per client address without the lobby key: enough for
// a household or a small bot swarm behind one address, while a flood is
// refused with 429 before it touches a room. Opening rooms is limited
// harder: a room costs a goroutine and memory until it empties.
var (
	lobbyRequestLimit = addrLimit{perSecond: 10, burst: 40}
	roomCreateLimit   = addrLimit{perSecond: 0.2, burst: 3}
)

type addrLimit struct {
	perSecond rate.Limit
	burst     int
}

// lobbyLimiterMaxTracked bounds the addresses an addrLimiter remembers.
const lobbyLimiterMaxTracked = 1 << 14

// addrLimiter rate-limits requests per client address (IPv6 per /64).
type addrLimiter struct {
	limit addrLimit
	mu    sync.Mutex
	m     map[netip.Prefix]*rate.Limiter
}

func (l *addrLimiter) allow(remoteAddr string, now time.Time) bool {
	ap, err := netip.ParseAddrPort(remoteAddr)
	if err != nil {
		return false
	}
	addr := ap.Addr().Unmap()
	bits := 32
	if addr.Is6() {
		bits = 64
	}
	key, _ := addr.Prefix(bits)
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.m == nil {
		l.m = make(map[netip.Prefix]*rate.Limiter)
	}
	lim := l.m[key]
	if lim == nil {
		if len(l.m) >= lobbyLimiterMaxTracked {
			l.forgetIdle(now)
		}
		lim = rate.NewLimiter(l.limit.perSecond, l.limit.burst)
		l.m[key] = lim
	}
	return lim.AllowN(now, 1)
}

// forgetIdle drops the addresses whose bucket has refilled: forgetting
// them changes nothing.
func (l *addrLimiter) forgetIdle(now time.Time) {
	for k, lim := range l.m {
		if lim.TokensAt(now) >= float64(l.limit.burst) {
			delete(l.m, k)
		}
	}
}
