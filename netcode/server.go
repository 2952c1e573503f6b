package netcode

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tickwire/tickwire/game"
	pb "github.com/tickwire/tickwire/proto/tickwire/v1"
)

// Server is a dedicated game server: one room of the arena, served to
// clients over WebTransport and WebSocket on one port. The zero value
// serves the default arena on localhost:4433.
type Server struct {
	// Addr is the host:port to listen on, TCP and UDP. Default
	// "localhost:4433"; "localhost" listens on 127.0.0.1 and ::1.
	Addr string
	// Game configures the arena. The zero value is ARENA.md's defaults.
	Game game.Config
	// AOIRadius, when positive, sends each client only the entities within
	// this distance of its player. Zero sends the whole world.
	AOIRadius float64
	// CertFile and KeyFile name a TLS certificate. Empty means a
	// self-signed certificate, rotated before it expires.
	CertFile, KeyFile string
	// AllowedOrigins lists the browser origins allowed to connect. Empty
	// means the server's own origins.
	AllowedOrigins []string
	// HandshakeTimeout bounds the time from connection to hello. Default 5s.
	HandshakeTimeout time.Duration
	// IdleTimeout ends a session that has sent nothing for this long
	// (clients ping every second). Default 10s.
	IdleTimeout time.Duration
	// Clock drives the room loop and timeouts. Default the real clock.
	Clock game.Clock
	// Handler serves extra HTTP routes on the TCP side (the web client,
	// metrics). May be nil.
	Handler http.Handler
	// Logger receives the server's logs. Default slog.Default().
	Logger *slog.Logger

	clock    game.Clock
	log      *slog.Logger
	room     *game.Room
	endpoint *Endpoint
	metrics  serverMetrics
	fanout   snapshotFanout // the room goroutine's per-tick snapshot work

	readyOnce sync.Once
	readyC    chan struct{}
	started   atomic.Bool

	mu       sync.Mutex
	sessions []*session // snapshot order; replaced, never mutated in place
	nextID   atomic.Uint64
}

type serverMetrics struct {
	malformed  atomic.Int64
	refused    atomic.Int64
	fragmented atomic.Int64
}

// SessionInfo describes one connected session.
type SessionInfo struct {
	ID        uint64
	Entity    game.EntityID
	Name      string
	Transport TransportKind
}

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
	room, err := game.NewRoom(game.RoomConfig{World: s.Game, Clock: s.clock, Sink: s, Logger: s.log})
	if err != nil {
		return fmt.Errorf("netcode: creating room: %w", err)
	}
	s.room = room
	return nil
}

// Run listens, runs the room and serves clients until ctx is done. Then
// it tells every client the server is shutting down and returns nil.
func (s *Server) Run(ctx context.Context) error {
	if err := s.init(); err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintln(w, "ok")
	})
	if s.Handler != nil {
		mux.Handle("/", s.Handler)
	}
	s.endpoint = &Endpoint{
		Addr:           s.Addr,
		CertFile:       s.CertFile,
		KeyFile:        s.KeyFile,
		AllowedOrigins: s.AllowedOrigins,
		Handler:        mux,
		OnConn:         s.handleConn,
		Logger:         s.log,
	}
	if err := s.endpoint.Listen(); err != nil {
		return fmt.Errorf("netcode: %w", err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 2)
	wg.Add(3)
	go func() { defer wg.Done(); errs <- s.room.Run(ctx) }()
	go func() { defer wg.Done(); errs <- s.endpoint.Serve(ctx) }()
	go func() { defer wg.Done(); s.reapIdle(ctx) }()
	close(s.readyChan())
	var err error
	select {
	case <-ctx.Done():
	case err = <-errs:
		cancel()
	}
	s.shutdownSessions()
	wg.Wait()
	if errors.Is(err, context.Canceled) {
		err = nil
	}
	return err
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

// CertHashes returns the SHA-256 hashes browsers may pin.
func (s *Server) Endpoint() *Endpoint { return s.endpoint }

// Room is the room this server runs.
func (s *Server) Room() *game.Room { return s.room }

// Sessions lists the connected sessions.
func (s *Server) Sessions() []SessionInfo {
	s.mu.Lock()
	list := s.sessions
	s.mu.Unlock()
	out := make([]SessionInfo, len(list))
	for i, ss := range list {
		out[i] = SessionInfo{ID: ss.id, Entity: ss.entity, Name: ss.name, Transport: ss.conn.Kind()}
	}
	return out
}

// MalformedPackets is the number of undecodable packets received so far.
func (s *Server) MalformedPackets() int64 { return s.metrics.malformed.Load() }

// RefusedHandshakes is the number of connections refused before a session.
func (s *Server) RefusedHandshakes() int64 { return s.metrics.refused.Load() }

// handleConn runs one connection from handshake to goodbye.
func (s *Server) handleConn(ctx context.Context, conn Conn) {
	defer conn.Close()
	log := s.log.With("remote", conn.RemoteAddr().String(), "transport", string(conn.Kind()))
	hctx, cancel := context.WithTimeout(ctx, s.HandshakeTimeout)
	hello, err := readHello(hctx, conn)
	cancel()
	if err != nil {
		s.refuse(log, conn, err)
		return
	}
	entity, err := s.room.AddPlayer()
	if err != nil {
		s.refuse(log, conn, &helloError{pb.DisconnectReason_DISCONNECT_REASON_SERVER_FULL, err.Error()})
		return
	}
	defer s.room.RemovePlayer(entity)
	ss := &session{
		id:     s.nextID.Add(1),
		entity: entity,
		name:   hello.GetPlayerName(),
		conn:   conn,
		kick:   make(chan kickReason, 1),
		in:     InputPacket{Inputs: make([]game.Input, 0, MaxInputsPerPacket)},
	}
	ss.log = log.With("session", ss.id, "entity", uint32(entity), "name", ss.name)
	ss.out.init(s, conn.Kind())
	ss.lastHeard.Store(s.clock.Now().UnixNano())
	if err := conn.SendMessage(MarshalControl(s.welcome(ss))); err != nil {
		log.Info("handshake failed", "err", fmt.Errorf("sending welcome: %w", err))
		return
	}
	s.addSession(ss)
	defer s.removeSession(ss)
	ss.log.Info("session started")
	ss.serve(ctx, s)
}

func (s *Server) refuse(log *slog.Logger, conn Conn, err error) {
	s.metrics.refused.Add(1)
	var he *helloError
	if errors.As(err, &he) {
		log.Warn("handshake refused", "reason", he.reason.String(), "text", he.text)
		_ = conn.SendMessage(DisconnectPacket(he.reason, he.text))
		return
	}
	log.Info("handshake failed", "err", err)
}

func (s *Server) welcome(ss *session) *pb.Packet {
	p := s.room.Params()
	return &pb.Packet{Body: &pb.Packet_Welcome{Welcome: &pb.ServerWelcome{
		SessionId:       ss.id,
		PlayerEntityId:  uint32(ss.entity),
		TickRate:        uint32(p.TickRate),
		ServerTick:      s.room.CurrentTick(),
		ResumeToken:     newToken(),
		ProtocolVersion: ProtocolVersion,
		Arena:           ArenaMessage(p, s.Game.Seed),
	}}}
}

func (s *Server) addSession(ss *session) {
	s.mu.Lock()
	defer s.mu.Unlock()
	next := make([]*session, len(s.sessions), len(s.sessions)+1)
	copy(next, s.sessions)
	s.sessions = append(next, ss)
}

func (s *Server) removeSession(ss *session) {
	s.mu.Lock()
	defer s.mu.Unlock()
	next := make([]*session, 0, len(s.sessions))
	for _, o := range s.sessions {
		if o != ss {
			next = append(next, o)
		}
	}
	s.sessions = next
}

func (s *Server) currentSessions() []*session {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sessions
}

// shutdownSessions tells every session the server is going away. Their
// read goroutines send the reason and close.
func (s *Server) shutdownSessions() {
	for _, ss := range s.currentSessions() {
		ss.disconnect(pb.DisconnectReason_DISCONNECT_REASON_SERVER_SHUTDOWN, "server shutting down")
	}
}

// reapIdle ends sessions that have been silent for IdleTimeout.
func (s *Server) reapIdle(ctx context.Context) {
	t := s.clock.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C():
			for _, ss := range s.currentSessions() {
				if silent := now.Sub(time.Unix(0, ss.lastHeard.Load())); silent > s.IdleTimeout {
					ss.disconnect(pb.DisconnectReason_DISCONNECT_REASON_TIMEOUT, fmt.Sprintf("nothing heard for %v", silent.Round(time.Millisecond)))
				}
			}
		}
	}
}

// OnTick sends every session its snapshot of the tick just simulated
// (see snapshotFanout). It runs on the room goroutine, so it must never
// block: transports drop a datagram rather than wait.
func (s *Server) OnTick(cur *game.Snapshot, history *game.History) {
	s.fanout.tick(cur, history, s.currentSessions(), s.room, s.AOIRadius)
}
