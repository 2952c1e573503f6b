package server

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tickwire/tickwire/game"
	"github.com/tickwire/tickwire/netcode/jointoken"
	"github.com/tickwire/tickwire/netcode/server/dashboard"
	"github.com/tickwire/tickwire/netcode/server/directory"
	"github.com/tickwire/tickwire/netcode/transport"
	"github.com/tickwire/tickwire/netcode/wire"
	pb "github.com/tickwire/tickwire/proto/tickwire/v1"
)

// Server is a dedicated game server: many rooms of the arena in one
// process, served to clients over WebTransport and WebSocket on one port,
// with a lobby (/rooms), metrics (/metrics) and health endpoints
// (/healthz, /readyz). The zero value serves an anonymous "default" room
// of the default arena on localhost:4433.
//
// A client picks its room with the "room" query parameter of /wt or /ws
// (or the Tickwire-Room header), or through the room of its join token;
// without either it plays in DefaultRoom.
type Server struct {
	// Addr is the host:port to listen on, TCP and UDP. Default
	// "localhost:4433"; "localhost" listens on 127.0.0.1 and ::1.
	Addr string
	// Game configures the default room's arena, and is the template of
	// rooms created through the lobby. The zero value is the default arena
	// of docs/GAME.md.
	Game game.Config
	// AOIRadius, when positive, sends each client of the default room only
	// the entities within this distance of its player. Zero sends the
	// whole world.
	AOIRadius float64
	// MaxSpectators bounds the spectators of each room (hellos with
	// spectate set), who take none of its player seats: one more is
	// refused with SERVER_FULL. Default DefaultMaxSpectators; negative
	// allows none.
	MaxSpectators int
	// MaxRooms bounds the rooms open at once, the default room included.
	// Default 64.
	MaxRooms int
	// RoomGrace is how long a lobby-created room stays open while empty.
	// Default 60s. The default room is never closed.
	RoomGrace time.Duration
	// TokenSecret, when set (at least jointoken.MinSecretBytes), makes the
	// lobby issue join tokens and the server verify the tokens it is
	// sent. Servers sharing a directory must share the secret.
	TokenSecret []byte
	// RequireTokens refuses a hello without a valid join token. It needs
	// TokenSecret. Default false: anonymous play.
	RequireTokens bool
	// LobbyKey, when set, is required (as "Authorization: Bearer KEY") by
	// the lobby's POST /rooms and POST /rooms/{id}/join, so that only the
	// game's backend creates rooms and obtains join tokens; GET /rooms
	// stays open. Empty: anyone may (fine locally; with RequireTokens it
	// makes the tokens worthless).
	LobbyKey string
	// TokenTTL is the validity of the join tokens the lobby issues.
	// Default 2 minutes.
	TokenTTL time.Duration
	// Directory is where this process publishes its rooms and finds the
	// rooms of other processes. Nil means a private in-memory directory
	// (this process only).
	Directory directory.Directory
	// DirectoryTTL is how long a published record lives; the server
	// republishes every third of it. Default 15s.
	DirectoryTTL time.Duration
	// ProcessID names this process in the directory. Default random.
	ProcessID string
	// Region says where this process runs (say "eu-west" or "Paris"), for
	// players choosing a room in the lobby. Optional.
	Region string
	// PublicURL is the base URL the lobby sends clients to (also those of
	// other processes' lobbies). Default the endpoint's URL; see also
	// SetPublicURL.
	PublicURL string
	// ResumeGrace is how long a player whose connection dropped (lost, timed
	// out or replaced) stays in its room, idle, for its client to come back
	// with the welcome's resume token over either transport and get the
	// same entity, position, health and score. Default 30s; negative turns
	// resuming off. A draining server gives up on parked players.
	ResumeGrace time.Duration
	// DrainTimeout is how long Run, once its ctx is done, lets players
	// finish (no new joins, /readyz 503) before it tells those left that
	// the server is shutting down. Zero: no wait.
	DrainTimeout time.Duration
	// OnPlayer, if set, is called when a player joins or leaves a room
	// (from the session's goroutine; it must not block).
	OnPlayer func(PlayerEvent)
	// OnTick, if set, sees every room's full snapshot of every tick
	// before it is sent, on the room's goroutine: it must not block,
	// modify the snapshot or keep it past the call. For recorders and
	// tests that compare what clients see with the truth.
	OnTick func(cur *game.Snapshot)
	// Record records matches to files and serves them at /replays
	// (record.go; package recording). The zero value records nothing.
	Record RecordOptions
	// CertFile and KeyFile name a TLS certificate, reloaded when the
	// files change. Empty means a self-signed certificate, rotated before
	// it expires, unless ACME names domains.
	CertFile, KeyFile string
	// ACME, when it names domains, obtains the certificate from an ACME
	// CA, Let's Encrypt by default (see transport.ACME).
	ACME transport.ACME
	// AllowedOrigins lists the origins of pages hosted elsewhere that may
	// connect, besides the pages the server serves (transport.Endpoint).
	AllowedOrigins []string
	// HandshakeTimeout bounds the time from connection to hello. Default 5s.
	HandshakeTimeout time.Duration
	// IdleTimeout ends a session that has sent nothing for this long
	// (clients ping every second). Default 10s.
	IdleTimeout time.Duration
	// PacketBudget bounds the packets each session may send; excess is
	// dropped before decoding and sustained excess ends the session with
	// RATE_LIMITED. The zero value allows twice an honest client's rate.
	PacketBudget PacketBudget
	// IPLimits bounds connections per client address (see Endpoint).
	IPLimits transport.IPLimits
	// Clock drives the room loops and timeouts. Default the real clock.
	Clock game.Clock
	// Handler serves extra HTTP routes on the TCP side (the web client).
	// May be nil.
	Handler http.Handler
	// Logger receives the server's logs. Default slog.Default().
	Logger *slog.Logger

	clock    game.Clock
	log      *slog.Logger
	endpoint *transport.Endpoint
	metrics  *serverMetrics
	dash     *dashboard.Handler
	signer   *jointoken.Signer
	dir      directory.Directory
	epoch    time.Time

	readyOnce sync.Once
	readyC    chan struct{}
	started   atomic.Bool
	ready     atomic.Bool // listening, not draining
	draining  atomic.Bool
	drainOnce sync.Once
	chanOnce  sync.Once
	drainC    chan struct{} // closed by Drain
	stopNow   chan struct{} // closed by StopNow
	stopOnce  sync.Once

	roomsMu  sync.Mutex
	rooms    map[string]*room
	roomsCtx context.Context

	resume          resumeBook
	quickMu         sync.Mutex   // quick plays, one at a time (see quickPlay)
	placed          placedRooms  // rooms this lobby opened on other processes
	lobbyLimit      addrLimiter  // lobby requests per client address
	createLimit     addrLimiter  // rooms opened per client address
	lobbyHTTP       *http.Client // calls to other processes' lobbies
	publishNow      chan struct{}
	publicURL       atomic.Pointer[string]
	nextID          atomic.Uint64
	malformed       atomic.Int64
	rateLimited     atomic.Int64
	refused         atomic.Int64
	spectatorInputs atomic.Int64
	activeRefs      atomic.Int64 // sessions in every room
	activeWatchers  atomic.Int64 // of those, the spectators
}

// PlayerEvent tells Server.OnPlayer that a player joined or left.
type PlayerEvent struct {
	Joined   bool // false: left
	Room     string
	PlayerID string // the join token's player, or "session-<id>"
}

// SessionInfo describes one connected session.
type SessionInfo struct {
	ID        uint64
	Room      string
	Entity    game.EntityID
	Name      string
	PlayerID  string
	Transport transport.Kind
	Remote    string // the player's network address
	// Spectator sessions watch: Entity is 0, Follow the entity followed
	// (0: free camera).
	Spectator bool
	Follow    game.EntityID
}

// DefaultMaxSpectators is Server.MaxSpectators when zero.
const DefaultMaxSpectators = 32

func (s *Server) init() error {
	if !s.started.CompareAndSwap(false, true) {
		return errors.New("netcode: Server.Run called twice")
	}
	s.log = s.Logger
	if s.log == nil {
		s.log = slog.Default()
	}
	s.clock = s.Clock
	if s.clock == nil {
		s.clock = game.RealClock{}
	}
	if s.Addr == "" {
		s.Addr = "localhost:4433"
	}
	if s.HandshakeTimeout == 0 {
		s.HandshakeTimeout = 5 * time.Second
	}
	if s.IdleTimeout == 0 {
		s.IdleTimeout = 10 * time.Second
	}
	if s.ResumeGrace == 0 {
		s.ResumeGrace = DefaultResumeGrace
	}
	if s.MaxSpectators == 0 {
		s.MaxSpectators = DefaultMaxSpectators
	}
	if s.MaxRooms <= 0 {
		s.MaxRooms = 64
	}
	if s.RoomGrace <= 0 {
		s.RoomGrace = time.Minute
	}
	if s.TokenTTL <= 0 {
		s.TokenTTL = 2 * time.Minute
	}
	if s.DirectoryTTL <= 0 {
		s.DirectoryTTL = 15 * time.Second
	}
	if s.ProcessID == "" {
		s.ProcessID = randomID(6)
	}
	if len(s.TokenSecret) > 0 {
		signer, err := jointoken.NewSigner(s.TokenSecret)
		if err != nil {
			return err
		}
		s.signer = signer
	} else if s.RequireTokens {
		return errors.New("netcode: RequireTokens needs a TokenSecret")
	}
	s.dir = s.Directory
	if s.dir == nil {
		s.dir = &directory.Memory{}
	}
	s.epoch = time.Now()
	s.lobbyHTTP = &http.Client{Timeout: forwardTimeout}
	s.lobbyLimit.limit, s.createLimit.limit = lobbyRequestLimit, roomCreateLimit
	s.publishNow = make(chan struct{}, 1)
	s.rooms = make(map[string]*room)
	s.metrics = newServerMetrics(s.roomList)
	s.dash = dashboard.New(dashboard.Config{LobbyKey: s.LobbyKey, Logger: s.log, Now: s.clock.Now})
	return nil
}

// Run listens, runs the rooms and serves clients until ctx is done. Then
// it drains (see DrainTimeout), tells every client the server is shutting
// down and returns nil.
func (s *Server) Run(ctx context.Context) error {
	if err := s.init(); err != nil {
		return err
	}
	// Rooms and connections outlive ctx: they run on through the drain.
	roomsCtx, stopRooms := context.WithCancel(context.Background())
	defer stopRooms()
	s.roomsCtx = roomsCtx
	if _, err := s.createRoom(RoomOptions{ID: DefaultRoom, Game: s.Game, AOIRadius: s.AOIRadius}); err != nil {
		return err
	}
	defer s.stopAllRooms()
	s.endpoint = &transport.Endpoint{
		Addr:           s.Addr,
		CertFile:       s.CertFile,
		KeyFile:        s.KeyFile,
		ACME:           s.ACME,
		AllowedOrigins: s.AllowedOrigins,
		IPLimits:       s.IPLimits,
		Handler:        s.routes(),
		OnConn:         s.handleConn,
		Logger:         s.log,
	}
	if err := s.endpoint.Listen(); err != nil {
		return fmt.Errorf("netcode: %w", err)
	}
	if s.PublicURL == "" {
		s.PublicURL = s.endpoint.URL()
	}
	if s.publicURL.Load() == nil {
		u := s.PublicURL
		s.publicURL.Store(&u)
	}
	epCtx, stopEndpoint := context.WithCancel(context.Background())
	defer stopEndpoint()
	var wg sync.WaitGroup
	errs := make(chan error, 1)
	wg.Go(func() { errs <- s.endpoint.Serve(epCtx) })
	houseCtx, stopHouse := context.WithCancel(context.Background())
	houseDone := make(chan struct{})
	go func() { defer close(houseDone); s.housekeeping(houseCtx) }()
	stopDashboard := s.startDashboard()
	s.publish(ctx)
	s.ready.Store(true)
	close(s.readyChan())

	var err error
	select {
	case <-ctx.Done():
		s.drain()
	case err = <-errs:
	}
	s.Drain()
	s.publish(houseCtx) // other lobbies stop sending players here
	s.waitDrained()
	s.shutdownSessions()
	stopDashboard() // its event streams end before the endpoint waits on them
	stopEndpoint()
	if err == nil {
		err = <-errs
	}
	stopHouse()
	<-houseDone // no heartbeat may land after the withdrawal
	wctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	if werr := s.dir.Withdraw(wctx, s.ProcessID); werr != nil {
		s.log.Warn("withdrawing from the room directory", "err", werr)
	}
	cancel()
	wg.Wait()
	if errors.Is(err, context.Canceled) {
		err = nil
	}
	return err
}

// drain begins draining and logs it once.
func (s *Server) drain() {
	s.log.Info("draining: refusing new players", "drain_timeout", s.DrainTimeout, "players", s.playersLeft())
	s.Drain()
}

// Drain stops accepting players: /readyz answers 503 at once, the lobby
// refuses joins and new rooms, hellos are refused with SERVER_SHUTDOWN.
// Players already in rooms play on. Run drains by itself when its ctx is
// done; Drain lets an operator start earlier.
func (s *Server) Drain() {
	s.drainOnce.Do(func() {
		s.draining.Store(true)
		s.ready.Store(false)
		if s.metrics != nil {
			s.metrics.draining.Set(1)
		}
		close(s.chans().drainC)
	})
}

// chans makes the drain and stop channels, so that Drain and StopNow may
// be called before Run.
func (s *Server) chans() *Server {
	s.chanOnce.Do(func() {
		s.drainC = make(chan struct{})
		s.stopNow = make(chan struct{})
	})
	return s
}

// Draining is closed once the server drains.
func (s *Server) Draining() <-chan struct{} { return s.chans().drainC }

// StopNow ends a drain early: Run tells the players left and returns.
func (s *Server) StopNow() { s.stopOnce.Do(func() { close(s.chans().stopNow) }) }

// waitDrained waits until no player is left (spectators do not hold a
// drain up: they are told the server shuts down with the rest),
// DrainTimeout passes or StopNow is called.
func (s *Server) waitDrained() {
	if s.DrainTimeout <= 0 || s.playersLeft() == 0 {
		return
	}
	deadline := time.NewTimer(s.DrainTimeout)
	defer deadline.Stop()
	poll := time.NewTicker(100 * time.Millisecond)
	defer poll.Stop()
	for {
		select {
		case <-deadline.C:
			s.log.Info("drain deadline reached", "players_left", s.playersLeft())
			return
		case <-s.chans().stopNow:
			return
		case <-poll.C:
			if s.playersLeft() == 0 {
				s.log.Info("drained: every player left", "spectators", s.activeWatchers.Load())
				return
			}
		}
	}
}

// playersLeft counts the sessions in rooms that are not spectators,
// parked players included.
func (s *Server) playersLeft() int64 {
	// A spectator is counted as a watcher after its room reference and
	// uncounted before it, so the difference never undercounts players.
	return max(0, s.activeRefs.Load()-s.activeWatchers.Load())
}

// SetPublicURL changes the URL the lobby and the directory hand out, for
// instance once Agones has told the process its public address. It may
// be called at any time; before Run it takes precedence over PublicURL.
func (s *Server) SetPublicURL(u string) { s.publicURL.Store(&u) }

// publicBase is the URL the lobby hands out.
func (s *Server) publicBase() string {
	if p := s.publicURL.Load(); p != nil {
		return *p
	}
	return s.PublicURL
}

// Ready is closed once the server listens; Addr and URL are valid then.
// It may be called before Run.
func (s *Server) Ready() <-chan struct{} { return s.readyChan() }

func (s *Server) readyChan() chan struct{} {
	s.readyOnce.Do(func() { s.readyC = make(chan struct{}) })
	return s.readyC
}

// URL is the base URL clients connect to (http(s)://host:port).
func (s *Server) URL() string { return s.endpoint.URL() }

// Endpoint is the transport endpoint (valid once Ready).
func (s *Server) Endpoint() *transport.Endpoint { return s.endpoint }

// Room is the default room's loop.
func (s *Server) Room() *game.Room {
	s.roomsMu.Lock()
	defer s.roomsMu.Unlock()
	if r := s.rooms[DefaultRoom]; r != nil {
		return r.game
	}
	return nil
}

// Registry is the Prometheus registry served at /metrics; callers may
// register their own collectors. Valid once Ready (nil before Run).
func (s *Server) Registry() *prometheus.Registry {
	if s.metrics == nil {
		return nil
	}
	return s.metrics.reg
}

// Sessions lists the connected sessions of every room.
func (s *Server) Sessions() []SessionInfo {
	var out []SessionInfo
	for _, r := range s.roomList() {
		for _, ss := range r.currentSessions() {
			out = append(out, SessionInfo{ID: ss.id, Room: r.id, Entity: ss.entity, Name: ss.name, PlayerID: ss.playerID, Transport: ss.conn.Kind(), Remote: ss.conn.RemoteAddr().String(),
				Spectator: ss.spectator, Follow: game.EntityID(ss.follow.Load())})
		}
	}
	return out
}

// Rooms describes this process's rooms, sorted by ID.
func (s *Server) Rooms() []RoomInfo {
	list := s.roomList()
	out := make([]RoomInfo, len(list))
	for i, r := range list {
		out[i] = r.info()
	}
	return out
}

// CreateRoom opens a room (see RoomOptions); it fails when the ID is
// taken, MaxRooms are open or the server drains.
func (s *Server) CreateRoom(opts RoomOptions) (RoomInfo, error) {
	r, err := s.createRoom(opts)
	if err != nil {
		return RoomInfo{}, err
	}
	return r.info(), nil
}

// Errors of CreateRoom.
var (
	ErrRoomExists   = errors.New("room already exists")
	ErrTooManyRooms = errors.New("too many rooms")
	ErrDraining     = errors.New("server draining")
)

func (s *Server) createRoom(opts RoomOptions) (*room, error) {
	if opts.ID != "" && !wire.ValidRoomID(opts.ID) {
		return nil, fmt.Errorf("netcode: room id %q: want 1 to 32 of a-z 0-9 - _", opts.ID)
	}
	if err := opts.Game.Validate(); err != nil {
		return nil, fmt.Errorf("netcode: room %q: %w", opts.ID, err)
	}
	if s.draining.Load() {
		return nil, ErrDraining
	}
	id, err := s.claimRoomID(opts.ID)
	if err != nil {
		return nil, err
	}
	opts.ID = id
	r, err := s.openRoom(opts)
	if err != nil {
		s.releaseRoomID(id)
		return nil, err
	}
	s.log.Info("room opened", "room", opts.ID, "tick_rate", r.game.Params().TickRate, "capacity", r.opts.Game.Capacity(), "private", opts.Private)
	s.publishSoon()
	return r, nil
}

// publishSoon has the directory record republished now rather than at
// the next heartbeat: other lobbies see a room open or close at once.
func (s *Server) publishSoon() {
	select {
	case s.publishNow <- struct{}{}:
	default:
	}
}

func (s *Server) openRoom(opts RoomOptions) (*room, error) {
	s.roomsMu.Lock()
	defer s.roomsMu.Unlock()
	if s.rooms[opts.ID] != nil {
		return nil, fmt.Errorf("%w: %q", ErrRoomExists, opts.ID)
	}
	if len(s.rooms) >= s.MaxRooms {
		return nil, fmt.Errorf("%w: %d open", ErrTooManyRooms, len(s.rooms))
	}
	r, err := s.newRoom(opts)
	if err != nil {
		return nil, err
	}
	s.rooms[opts.ID] = r
	s.metrics.rooms.Set(float64(len(s.rooms)))
	r.start(s.roomsCtx)
	return r, nil
}

// claimRoomID claims id in the directory, so that no other process opens
// a room of the same ID; an empty id gets a random one. DefaultRoom is
// every process's own and is not claimed.
func (s *Server) claimRoomID(id string) (string, error) {
	if id == DefaultRoom {
		return id, nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), forwardTimeout)
	defer cancel()
	for range 4 {
		want := id
		if want == "" {
			want = randomID(4)
		}
		owner, err := s.dir.ClaimRoom(ctx, want, s.ProcessID, s.DirectoryTTL)
		switch {
		case err != nil:
			return "", fmt.Errorf("netcode: claiming room id %q: %w", want, err)
		case owner == s.ProcessID:
			return want, nil
		case id != "":
			return "", fmt.Errorf("%w: %q, on process %s", ErrRoomExists, id, owner)
		}
	}
	return "", errors.New("netcode: no free random room id after 4 tries")
}

// releaseRoomID gives up this process's claim on a room ID.
func (s *Server) releaseRoomID(id string) {
	if id == DefaultRoom {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), forwardTimeout)
	defer cancel()
	if err := s.dir.ReleaseRoom(ctx, id, s.ProcessID); err != nil {
		s.log.Warn("releasing a room id in the directory", "room", id, "err", err)
	}
}

// roomList returns the open rooms sorted by ID.
func (s *Server) roomList() []*room {
	s.roomsMu.Lock()
	out := make([]*room, 0, len(s.rooms))
	for _, r := range s.rooms {
		out = append(out, r)
	}
	s.roomsMu.Unlock()
	slices.SortFunc(out, func(a, b *room) int { return strings.Compare(a.id, b.id) })
	return out
}

func (s *Server) lookupRoom(id string) *room {
	s.roomsMu.Lock()
	defer s.roomsMu.Unlock()
	if r := s.rooms[id]; r != nil && !r.closing {
		return r
	}
	return nil
}

// acquire takes a reference on room id for a joining session.
func (s *Server) acquire(id string) *room {
	s.roomsMu.Lock()
	defer s.roomsMu.Unlock()
	r := s.rooms[id]
	if r == nil || r.closing {
		return nil
	}
	r.refs++
	s.activeRefs.Add(1)
	return r
}

// holdRoom takes one more reference on r, which its holder already has.
func (s *Server) holdRoom(r *room) {
	s.roomsMu.Lock()
	defer s.roomsMu.Unlock()
	r.refs++
	s.activeRefs.Add(1)
}

func (s *Server) releaseRoom(r *room) {
	s.roomsMu.Lock()
	defer s.roomsMu.Unlock()
	r.refs--
	s.activeRefs.Add(-1)
	if r.refs == 0 {
		r.emptySince = s.clock.Now()
	}
}

// closeIdleRooms closes the lobby-created rooms empty for RoomGrace.
func (s *Server) closeIdleRooms(now time.Time) {
	var closing []*room
	s.roomsMu.Lock()
	for id, r := range s.rooms {
		if id != DefaultRoom && r.refs == 0 && !r.closing && now.Sub(r.emptySince) >= s.RoomGrace {
			r.closing = true
			delete(s.rooms, id)
			closing = append(closing, r)
		}
	}
	s.metrics.rooms.Set(float64(len(s.rooms)))
	s.roomsMu.Unlock()
	for _, r := range closing {
		r.stop()
		s.releaseRoomID(r.id)
		s.log.Info("room closed: empty", "room", r.id, "grace", s.RoomGrace)
	}
	if len(closing) > 0 {
		s.publishSoon()
	}
}

func (s *Server) stopAllRooms() {
	s.roomsMu.Lock()
	list := make([]*room, 0, len(s.rooms))
	for id, r := range s.rooms {
		r.closing = true
		delete(s.rooms, id)
		list = append(list, r)
	}
	s.metrics.rooms.Set(0)
	s.roomsMu.Unlock()
	for _, r := range list {
		r.stop()
	}
}

// MalformedPackets is the number of undecodable packets received so far.
func (s *Server) MalformedPackets() int64 { return s.malformed.Load() }

// RateLimitedPackets counts packets dropped for exceeding a session's
// PacketBudget.
func (s *Server) RateLimitedPackets() int64 { return s.rateLimited.Load() }

// SpectatorInputs counts the input packets spectators sent with inputs
// in them, which were refused.
func (s *Server) SpectatorInputs() int64 { return s.spectatorInputs.Load() }

// RefusedHandshakes is the number of connections refused before a session.
func (s *Server) RefusedHandshakes() int64 { return s.refused.Load() }

// handleConn runs one connection from handshake to goodbye. req is the
// request that opened it, which names the room asked for.
func (s *Server) handleConn(ctx context.Context, raw transport.Conn, req *http.Request) {
	defer raw.Close()
	tm := s.metrics.transports[raw.Kind()]
	if tm == nil {
		tm = s.metrics.transports[transport.WebSocket] // the endpoint makes only the two kinds
	}
	conn := transport.Conn(&meteredConn{Conn: raw, m: tm})
	log := s.log.With("remote", conn.RemoteAddr().String(), "transport", string(conn.Kind()))
	hctx, cancel := context.WithTimeout(ctx, s.HandshakeTimeout)
	hello, err := readHello(hctx, conn)
	cancel()
	if err != nil {
		s.refuse(log, conn, err)
		return
	}
	r, claims, err := s.admit(hello, requestedRoom(req))
	if err != nil {
		s.refuse(log, conn, err)
		return
	}
	defer s.releaseRoom(r)
	spectate := hello.GetSpectate()
	var (
		entity  game.EntityID
		resumed bool
	)
	if spectate { // no entity, no seat: a place among the room's spectators
		if !r.watch(s.MaxSpectators) {
			s.refuse(log, conn, &helloError{pb.DisconnectReason_DISCONNECT_REASON_SERVER_FULL,
				fmt.Sprintf("room %q has no place left to watch from: %d spectators, the most it takes", r.id, max(0, s.MaxSpectators))})
			return
		}
		s.activeWatchers.Add(1)
		defer func() { r.unwatch(); s.activeWatchers.Add(-1) }()
	} else if entity, resumed = s.resumeEntity(ctx, r, hello.GetResumeToken()); !resumed {
		// Lobby joins carry its token, or, in anonymous play, nothing
		// tells them apart from anyone else.
		sentByLobby := s.signer == nil || hello.GetAuthToken() != ""
		if !r.takeSeat(s.clock.Now(), sentByLobby) {
			s.refuse(log, conn, &helloError{pb.DisconnectReason_DISCONNECT_REASON_SERVER_FULL, fmt.Sprintf("room %q is full", r.id)})
			return
		}
		entity, err = r.game.AddPlayer()
		if err != nil {
			s.refuse(log, conn, &helloError{pb.DisconnectReason_DISCONNECT_REASON_SERVER_FULL, fmt.Sprintf("room %q is full", r.id)})
			return
		}
	}
	ss := &session{
		id:     s.nextID.Add(1),
		entity: entity,
		name:   hello.GetPlayerName(),
		conn:   conn,
		room:   r,
		token:  newToken(),
		done:   make(chan struct{}),
		kick:   make(chan kickReason, 1),
		in:     wire.InputPacket{Inputs: make([]game.Input, 0, wire.MaxInputsPerPacket)},
		budget: newPacketLimiter(s.PacketBudget.withDefaults(r.game.Params().TickRate)),
	}
	if claims.PlayerName != "" {
		ss.name = claims.PlayerName
	}
	ss.playerID = claims.PlayerID
	if ss.playerID == "" {
		ss.playerID = fmt.Sprintf("session-%d", ss.id)
	}
	ss.log = log.With("session", ss.id, "room", r.id, "entity", uint32(entity), "name", ss.name, "spectator", spectate)
	if spectate {
		ss.spectator, ss.token = true, nil // nothing to resume: a spectator says hello again
	}
	ss.out.init(s, conn.Kind())
	ss.lastHeard.Store(s.clock.Now().UnixNano())
	// Whatever ends the session decides where the entity goes: back to the
	// resume book (under the token the client holds) or out of the world.
	resumable := false
	defer func() { s.leave(ss, resumable); close(ss.done) }()
	if err := conn.SendMessage(wire.MarshalControl(s.welcome(r, ss))); err != nil {
		log.Info("handshake failed", "err", fmt.Errorf("sending welcome: %w", err))
		if resumed { // the client never got the new token: keep the old one
			ss.token, resumable = hello.GetResumeToken(), true
		}
		return
	}
	if !spectate {
		s.resume.register(ss.token, ss)
		defer s.resume.unregister(ss.token, ss)
	}
	s.metrics.handshakes.WithLabelValues("accepted").Inc()
	tm.sessions.Inc()
	defer tm.sessions.Dec()
	r.addSession(ss)
	r.rosterChanged(s.clock.Now())
	defer func() { r.rosterChanged(s.clock.Now()) }()
	defer r.removeSession(ss)
	if s.OnPlayer != nil && !spectate {
		s.OnPlayer(PlayerEvent{Joined: true, Room: r.id, PlayerID: ss.playerID})
		defer s.OnPlayer(PlayerEvent{Joined: false, Room: r.id, PlayerID: ss.playerID})
	}
	ss.log.Info("session started", "resumed", resumed)
	resumable = ss.serve(ctx, s)
}

// resumeEntity returns the entity parked under token in room r, if any.
// A session still live under the token (its connection half-open) is
// ended as REPLACED first, which parks its entity.
// resumable is the player a resume token would bring back: a session
// still live under it (a half-open one the resume replaces), or a player
// parked within its grace.
func (s *Server) resumable(token []byte) (parkedPlayer, bool) {
	if len(token) == 0 || s.ResumeGrace < 0 {
		return parkedPlayer{}, false
	}
	if ss := s.resume.live(token); ss != nil {
		return parkedPlayer{Room: ss.room.id, Name: ss.name, PlayerID: ss.playerID}, true
	}
	return s.resume.peek(token, s.clock.Now())
}

func (s *Server) resumeEntity(ctx context.Context, r *room, token []byte) (game.EntityID, bool) {
	if len(token) == 0 || s.ResumeGrace < 0 {
		return 0, false
	}
	if old := s.resume.live(token); old != nil {
		old.disconnect(pb.DisconnectReason_DISCONNECT_REASON_REPLACED, "the same player connected again")
		select {
		case <-old.done:
		case <-ctx.Done():
			return 0, false
		}
	}
	p, ok := s.resume.take(token, s.clock.Now())
	if !ok {
		return 0, false
	}
	if p.room != r { // asked for another room: join it anew, leave this one parked
		s.resume.park(token, p)
		return 0, false
	}
	s.releaseRoom(p.room) // the parked player's reference passes to this session's
	return p.Entity, true
}

// leave takes a finished session's entity out of the world, or parks it
// for ResumeGrace when the session may come back.
func (s *Server) leave(ss *session, resumable bool) {
	if ss.spectator {
		return // no entity
	}
	if !resumable || s.ResumeGrace < 0 || s.draining.Load() {
		ss.room.game.RemovePlayer(ss.entity)
		return
	}
	s.holdRoom(ss.room) // a parked player keeps its room open
	s.resume.park(ss.token, parkedPlayer{room: ss.room, Room: ss.room.id, Entity: ss.entity, Name: ss.name,
		PlayerID: ss.playerID, Until: s.clock.Now().Add(s.ResumeGrace)})
	ss.log.Info("player parked for resume", "grace", s.ResumeGrace)
}

// expireParked removes the parked players whose grace ran out, or all of
// them once the server drains.
func (s *Server) expireParked(now time.Time) {
	var gone []parkedPlayer
	if s.draining.Load() {
		gone = s.resume.drain(nil)
	} else {
		gone = s.resume.expire(now, nil)
	}
	for _, p := range gone {
		p.room.game.RemovePlayer(p.Entity)
		s.releaseRoom(p.room)
		s.log.Info("parked player removed", "room", p.Room, "entity", uint32(p.Entity), "name", p.Name)
	}
}

// admit picks the hello's room (its token's, else the URL's, else
// DefaultRoom), verifies the token and takes a reference on the room.
func (s *Server) admit(hello *pb.ClientHello, asked string) (*room, jointoken.Claims, error) {
	var claims jointoken.Claims
	if s.draining.Load() {
		return nil, claims, &helloError{pb.DisconnectReason_DISCONNECT_REASON_SERVER_SHUTDOWN, "server is draining: not accepting new players"}
	}
	if p, ok := s.resumable(hello.GetResumeToken()); ok && !hello.GetSpectate() {
		// The resume token, which only this server issues, brings its
		// player back to its room within the grace, however old the join
		// token that first admitted it is by now.
		if r := s.acquire(p.Room); r != nil {
			return r, jointoken.Claims{Room: p.Room, PlayerID: p.PlayerID, PlayerName: p.Name}, nil
		}
	}
	id := asked
	if tok := hello.GetAuthToken(); s.signer != nil && (tok != "" || s.RequireTokens) {
		c, err := s.signer.Verify(tok, asked, s.clock.Now())
		if err != nil {
			text := err.Error()
			if len(hello.GetResumeToken()) > 0 { // say why the resume did not save it
				text = fmt.Sprintf("cannot resume: the %v to come back has passed (or the server restarted), and %s", s.ResumeGrace, text)
			}
			return nil, claims, &helloError{pb.DisconnectReason_DISCONNECT_REASON_AUTH_FAILED, text}
		}
		claims, id = c, c.Room
	}
	if id == "" {
		id = DefaultRoom
	}
	if !wire.ValidRoomID(id) {
		return nil, claims, &helloError{pb.DisconnectReason_DISCONNECT_REASON_BAD_HELLO, "room id must be 1 to 32 of a-z 0-9 - _"}
	}
	r := s.acquire(id)
	if r == nil {
		return nil, claims, &helloError{pb.DisconnectReason_DISCONNECT_REASON_BAD_HELLO, fmt.Sprintf("no room %q on this server", id)}
	}
	return r, claims, nil
}

func (s *Server) refuse(log *slog.Logger, conn transport.Conn, err error) {
	s.refused.Add(1)
	var he *helloError
	if errors.As(err, &he) {
		s.dash.NoteDisconnect("", he.reason, he.text, true)
		s.metrics.handshakes.WithLabelValues(wire.ReasonName(he.reason)).Inc()
		log.Warn("handshake refused", "reason", he.reason.String(), "text", he.text)
		_ = conn.SendMessage(wire.DisconnectPacket(he.reason, he.text))
		return
	}
	s.metrics.handshakes.WithLabelValues("failed").Inc()
	log.Info("handshake failed", "err", err)
}

func (s *Server) welcome(r *room, ss *session) *pb.Packet {
	p := r.game.Params()
	return &pb.Packet{Body: &pb.Packet_Welcome{Welcome: &pb.ServerWelcome{
		SessionId:       ss.id,
		PlayerEntityId:  uint32(ss.entity),
		TickRate:        uint32(p.TickRate),
		ServerTick:      r.game.CurrentTick(),
		ResumeToken:     ss.token,
		ProtocolVersion: wire.ProtocolVersion,
		Arena:           wire.ArenaMessage(p, r.opts.Game.Seed),
	}}}
}

// shutdownSessions tells every session the server is going away. Their
// read goroutines send the reason and close.
func (s *Server) shutdownSessions() {
	for _, r := range s.roomList() {
		for _, ss := range r.currentSessions() {
			ss.disconnect(pb.DisconnectReason_DISCONNECT_REASON_SERVER_SHUTDOWN, "server shutting down")
		}
	}
}

// housekeeping runs once a second: idle sessions end, each session is
// pinged (RTT) and its input lead sampled, empty rooms close after their
// grace, and the directory record is republished.
func (s *Server) housekeeping(ctx context.Context) {
	t := s.clock.NewTicker(time.Second)
	defer t.Stop()
	var buf []byte
	var nonce uint32
	lastPublish := s.clock.Now()
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.publishNow:
			lastPublish = s.clock.Now()
			s.publish(ctx)
		case now := <-t.C():
			nonce++
			sentUs := uint64(time.Since(s.epoch).Microseconds())
			for _, r := range s.roomList() {
				for _, ss := range r.currentSessions() {
					if silent := now.Sub(time.Unix(0, ss.lastHeard.Load())); silent > s.IdleTimeout {
						ss.disconnect(pb.DisconnectReason_DISCONNECT_REASON_TIMEOUT, fmt.Sprintf("nothing heard for %v", silent.Round(time.Millisecond)))
						continue
					}
					if !ss.reportsRTT.Load() {
						buf = wire.AppendPing(buf[:0], wire.KindPing, &wire.Ping{Nonce: nonce, SentUs: sentUs})
						_ = ss.conn.SendDatagram(buf)
					}
					if ss.spectator {
						continue
					}
					if lead, ok := r.game.InputLead(ss.entity); ok {
						s.metrics.inputLead.Observe(lead.Mean.Seconds())
					}
				}
				r.flushRoster(now)
			}
			s.expireParked(now)
			s.closeIdleRooms(now)
			if now.Sub(lastPublish) >= s.DirectoryTTL/3 {
				lastPublish = now
				s.publish(ctx)
			}
		}
	}
}

// notePong records the RTT of one of the server's pings.
func (s *Server) notePong(p *wire.Ping) {
	now := uint64(time.Since(s.epoch).Microseconds())
	if p.SentUs == 0 || p.SentUs > now {
		return // not ours, or a lie
	}
	s.noteRTT(time.Duration(now-p.SentUs) * time.Microsecond)
}

// noteRTT records a round-trip time, the server's own or one a client
// reports, and says whether it was plausible: above zero and within the
// idle timeout (a lie moves the histogram no further than that).
func (s *Server) noteRTT(rtt time.Duration) bool {
	if rtt <= 0 || rtt > s.IdleTimeout {
		return false
	}
	s.metrics.rtt.Observe(rtt.Seconds())
	return true
}

// processRecord is what this process publishes in the directory.
func (s *Server) processRecord() directory.Process {
	p := directory.Process{ID: s.ProcessID, URL: s.publicBase(), Region: s.Region, MaxRooms: s.MaxRooms,
		Draining: s.draining.Load(), Rooms: s.Rooms()}
	if cm := s.endpoint.CertManager(); cm.SelfSigned() {
		for _, h := range cm.Hashes() {
			p.CertHashes = append(p.CertHashes, base64.StdEncoding.EncodeToString(h[:]))
		}
	}
	return p
}

func (s *Server) publish(ctx context.Context) {
	pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := s.dir.Publish(pctx, s.processRecord(), s.DirectoryTTL); err != nil {
		s.log.Warn("publishing to the room directory", "err", err)
	}
}

func randomID(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// RoomHeader names the room to join, for native clients that set headers
// rather than the "room" query parameter of /wt and /ws.
const RoomHeader = "Tickwire-Room"

// requestedRoom is the room a connection's request asks for: its "room"
// query parameter, else its RoomHeader; "" when it names none.
func requestedRoom(r *http.Request) string {
	if room := r.URL.Query().Get("room"); room != "" {
		return room
	}
	return r.Header.Get(RoomHeader)
}
