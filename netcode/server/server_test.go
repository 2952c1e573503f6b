package server_test

import (
	"context"
	"math"
	"sync"
	"testing"
	"time"

	"github.com/tickwire/tickwire/game"
	"github.com/tickwire/tickwire/netcode/client"
	"github.com/tickwire/tickwire/netcode/server"
	"github.com/tickwire/tickwire/netcode/server/servertest"
	"github.com/tickwire/tickwire/netcode/transport"
	"github.com/tickwire/tickwire/netcode/wire"
)

// player is a test client that records what it sees of the world.
type player struct {
	*client.Client
	conn   transport.Conn // the client's connection, to cut it without a goodbye
	mu     sync.Mutex
	first  *recorded // first snapshot that showed its own player
	last   *recorded
	ticks  []uint32 // every snapshot tick received, in order
	sent   []game.Input
	gotOne chan struct{}
	once   sync.Once
}

type recorded struct {
	self      game.Player
	lastInput uint32
	ids       map[game.EntityID]bool
}

func connectPlayer(t testing.TB, srv *server.Server, name string, kind transport.Kind) *player {
	t.Helper()
	return connectPlayerWith(t, srv, name, kind, nil)
}

// connectPlayerWith is connectPlayer with the client's config adjusted
// by with, if set.
func connectPlayerWith(t testing.TB, srv *server.Server, name string, kind transport.Kind, with func(*client.Config)) *player {
	t.Helper()
	p := &player{gotOne: make(chan struct{})}
	cfg := client.Config{
		Server: srv.URL(),
		Name:   name,
		Dial:   transport.DialOptions{Transport: kind, TrustServerCertHash: true},
		Logger: servertest.Logger(t),
		OnSnapshot: func(s *game.Snapshot, h *wire.SnapshotHeader) {
			p.observe(s, h)
		},
		WrapConn: func(c transport.Conn) transport.Conn { p.conn = c; return c },
	}
	if with != nil {
		with(&cfg)
	}
	c, err := client.Connect(context.Background(), cfg)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	p.mu.Lock()
	p.Client = c
	p.mu.Unlock()
	t.Cleanup(func() { c.Close() })
	return p
}

// onlySession waits for srv to have exactly one session and returns it.
// A server registers a session just after sending its welcome, so a
// client that has connected may not be counted yet.
func onlySession(t testing.TB, srv *server.Server) server.SessionInfo {
	t.Helper()
	var s []server.SessionInfo
	servertest.WaitFor(t, 5*time.Second, func() bool { s = srv.Sessions(); return len(s) == 1 })
	return s[0]
}

// waitSeen waits for the first snapshot that shows p's own player; a
// session that ends first, or a server that never sends it, fails t.
func (p *player) waitSeen(t testing.TB) {
	t.Helper()
	select {
	case <-p.gotOne:
	case <-p.Done():
		t.Fatalf("session ended before its first snapshot: %v", p.Err())
	case <-time.After(30 * time.Second):
		t.Fatal("no snapshot showing the player within 30s")
	}
}

func (p *player) observe(s *game.Snapshot, h *wire.SnapshotHeader) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.ticks = append(p.ticks, s.Tick)
	if p.Client == nil {
		return // still in Connect
	}
	r := &recorded{lastInput: h.LastInputTick, ids: make(map[game.EntityID]bool, len(s.Players))}
	for _, pl := range s.Players {
		r.ids[pl.ID] = true
		if pl.ID == p.Entity() {
			r.self = pl
		}
	}
	if !r.ids[p.Entity()] {
		return
	}
	if p.first == nil {
		p.first = r
		p.once.Do(func() { close(p.gotOne) })
	}
	p.last = r
}

// TestClientsOnBothTransportsMoveWhereTheyAskAndSeeEachOther is the
// foundation's end-to-end check: 20 sessions over WebTransport and 20 over
// WebSocket join one real server, send inputs for 5 seconds, and each
// finds its own player exactly where its inputs put it, and sees all the
// others.
func TestClientsOnBothTransportsMoveWhereTheyAskAndSeeEachOther(t *testing.T) {
	if testing.Short() {
		t.Skip("5 s of real time")
	}
	srv := servertest.Start(t, &server.Server{})
	const perTransport = 20
	var players []*player
	for i := 0; i < perTransport; i++ {
		players = append(players, connectPlayer(t, srv, "wt", transport.WebTransport))
		players = append(players, connectPlayer(t, srv, "ws", transport.WebSocket))
	}
	for _, p := range players {
		p.waitSeen(t)
	}
	assertTransports(t, srv, perTransport)

	params := players[0].Params()
	interval := time.Second / time.Duration(params.TickRate)
	ticker := time.NewTicker(interval)
	defer ticker.Stop()
	for n := 0; n < 5*params.TickRate; n++ {
		<-ticker.C
		for i, p := range players {
			angle := 2 * math.Pi * float64(i) / float64(len(players))
			in, err := p.SendInput(math.Cos(angle), math.Sin(angle), angle, false)
			if err != nil {
				t.Fatal(err)
			}
			p.mu.Lock()
			p.sent = append(p.sent, in)
			p.mu.Unlock()
		}
	}
	// Wait until every player's snapshots show all its inputs applied.
	servertest.WaitFor(t, 5*time.Second, func() bool {
		for _, p := range players {
			p.mu.Lock()
			done := p.last.lastInput == p.sent[len(p.sent)-1].Tick
			p.mu.Unlock()
			if !done {
				return false
			}
		}
		return true
	})
	// Every input applied puts a player exactly where its inputs say. On
	// a loaded machine a few inputs may arrive too late to apply (the
	// room never catches movement up): each such input leaves its player
	// at most one step short.
	stale := srv.Room().Stats().InputsStale
	slack := float64(stale) * (params.PlayerStep() + 1.0/game.PositionScale)
	for i, p := range players {
		p.mu.Lock()
		want := replay(params, p.first, p.sent)
		got := p.last.self
		if math.Hypot(got.X-want.X, got.Y-want.Y) > slack {
			t.Errorf("player %d (%s): at (%v, %v), its inputs put it at (%v, %v) (%d inputs dropped as late in the room)",
				i, p.Transport(), got.X, got.Y, want.X, want.Y, stale)
		}
		if moved := math.Hypot(got.X-p.first.self.X, got.Y-p.first.self.Y); moved < 100 {
			t.Errorf("player %d moved only %.1f units in 5 s", i, moved)
		}
		for _, other := range players {
			if !p.last.ids[other.Entity()] {
				t.Errorf("player %d does not see player %d", p.Entity(), other.Entity())
			}
		}
		p.mu.Unlock()
	}
}

// replay applies, from the first observed state, every input the server
// had not yet applied then: where the server must have put the player.
func replay(params game.Params, first *recorded, sent []game.Input) game.Player {
	pl := first.self
	for _, in := range sent {
		if in.Tick > first.lastInput {
			params.MovePlayer(&pl, in)
		}
	}
	return pl
}

func assertTransports(t *testing.T, srv *server.Server, perTransport int) {
	t.Helper()
	count := map[transport.Kind]int{}
	for _, s := range srv.Sessions() {
		count[s.Transport]++
	}
	if count[transport.WebTransport] != perTransport || count[transport.WebSocket] != perTransport {
		t.Fatalf("server sessions by transport = %v, want %d each", count, perTransport)
	}
}
