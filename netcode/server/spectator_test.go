package server_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tickwire/tickwire/game"
	"github.com/tickwire/tickwire/netcode/client"
	"github.com/tickwire/tickwire/netcode/internal/arenatest"
	"github.com/tickwire/tickwire/netcode/internal/snapshottest"
	"github.com/tickwire/tickwire/netcode/lobby"
	"github.com/tickwire/tickwire/netcode/server"
	"github.com/tickwire/tickwire/netcode/server/servertest"
	"github.com/tickwire/tickwire/netcode/transport"
	"github.com/tickwire/tickwire/netcode/wire"
	pb "github.com/tickwire/tickwire/proto/tickwire/v1"
)

// tape keeps a copy of every snapshot a source saw, by tick: the
// server's truth (Server.OnTick) or what one client decoded.
type tape struct {
	mu    sync.Mutex
	ticks map[uint32]*game.Snapshot
	last  uint32
}

func newTape() *tape { return &tape{ticks: map[uint32]*game.Snapshot{}} }

func (tp *tape) add(s *game.Snapshot) {
	c := &game.Snapshot{}
	c.CopyFrom(s)
	tp.mu.Lock()
	defer tp.mu.Unlock()
	tp.ticks[s.Tick] = c
	tp.last = max(tp.last, s.Tick)
}

func (tp *tape) at(tick uint32) (*game.Snapshot, bool) {
	tp.mu.Lock()
	defer tp.mu.Unlock()
	s, ok := tp.ticks[tick]
	return s, ok
}

func (tp *tape) newest() uint32 {
	tp.mu.Lock()
	defer tp.mu.Unlock()
	return tp.last
}

// has lists the ticks in [from, to] the tape holds.
func (tp *tape) has(from, to uint32) []uint32 {
	tp.mu.Lock()
	defer tp.mu.Unlock()
	var out []uint32
	for t := from; t <= to; t++ {
		if _, ok := tp.ticks[t]; ok {
			out = append(out, t)
		}
	}
	return out
}

// viewer is a test client, player or spectator, that tapes what it decodes
// and keeps the newest roster it was sent.
type viewer struct {
	*client.Client
	tape    *tape
	rosterC chan *wire.Roster // every roster, newest last; never blocks the reader
}

// connectViewer joins srv over kind as name, a spectator when spectate.
func connectViewer(t *testing.T, srv *server.Server, name string, kind transport.Kind, spectate bool, with func(*client.Config)) (*viewer, error) {
	t.Helper()
	v := &viewer{tape: newTape(), rosterC: make(chan *wire.Roster, 64)}
	cfg := client.Config{
		Server: srv.URL(), Name: name, Spectate: spectate,
		Dial:       transport.DialOptions{Transport: kind, TrustServerCertHash: true},
		Logger:     servertest.Logger(t),
		OnSnapshot: func(s *game.Snapshot, _ *wire.SnapshotHeader) { v.tape.add(s) },
		OnRoster: func(r *wire.Roster) {
			select {
			case v.rosterC <- r:
			default:
			}
		},
	}
	if with != nil {
		with(&cfg)
	}
	c, err := client.Connect(context.Background(), cfg)
	if err != nil {
		return nil, err
	}
	v.Client = c
	t.Cleanup(func() { c.Close() })
	return v, nil
}

func mustViewer(t *testing.T, srv *server.Server, name string, kind transport.Kind, spectate bool) *viewer {
	t.Helper()
	v, err := connectViewer(t, srv, name, kind, spectate, nil)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return v
}

// awaitRoster waits for a roster that satisfies ok.
func (v *viewer) awaitRoster(t *testing.T, ok func(*wire.Roster) bool) *wire.Roster {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		select {
		case r := <-v.rosterC:
			if ok(r) {
				return r
			}
		case <-v.Done():
			t.Fatalf("session ended while waiting for a roster: %v", v.Err())
		case <-deadline:
			t.Fatal("no such roster within 10 s")
		}
	}
}

// awaitTick waits until v has decoded a snapshot of tick or later.
func (v *viewer) awaitTick(t *testing.T, tick uint32) {
	t.Helper()
	servertest.WaitFor(t, 10*time.Second, func() bool { return v.tape.newest() >= tick })
}

// refusedFull asserts that err is a SERVER_FULL refusal whose text says
// want.
func refusedFull(t *testing.T, err error, want string) {
	t.Helper()
	var de *client.DisconnectError
	if !errors.As(err, &de) || de.Reason != pb.DisconnectReason_DISCONNECT_REASON_SERVER_FULL {
		t.Fatalf("Connect = %v, want SERVER_FULL", err)
	}
	if !strings.Contains(de.Text, want) {
		t.Fatalf("refusal %q does not say %q", de.Text, want)
	}
}

// TestSpectatorSeesEveryTickAPlayerSeesTakesNoSeatAndHasItsInputsRefused,
// over each transport: two spectators watch a room of two seats, which
// two players then fill; a third player is refused (the room is full of
// players, not of spectators) and so is a third spectator (the spectator
// cap). A spectator decodes the same ticks as a player, each the whole
// arena as the server had it; the inputs it sends are refused and
// counted, create no entity, and do not end its session; rosters, the
// room's state and the metrics count the spectators.
func TestSpectatorSeesEveryTickAPlayerSeesTakesNoSeatAndHasItsInputsRefused(t *testing.T) {
	for _, kind := range []transport.Kind{transport.WebTransport, transport.WebSocket} {
		t.Run(string(kind), func(t *testing.T) {
			truth := newTape()
			srv := servertest.Start(t, &server.Server{Game: game.Config{MaxPlayers: 2}, MaxSpectators: 2, OnTick: truth.add})
			eve := mustViewer(t, srv, "eve", kind, true)
			fay := mustViewer(t, srv, "fay", kind, true)
			ann := mustViewer(t, srv, "ann", kind, false)
			bob := mustViewer(t, srv, "bob", kind, false)
			if eve.Entity() != 0 || fay.Entity() != 0 || ann.Entity() == 0 || bob.Entity() == 0 {
				t.Fatalf("entities: spectators %d %d, players %d %d", eve.Entity(), fay.Entity(), ann.Entity(), bob.Entity())
			}
			_, err := connectViewer(t, srv, "cy", kind, false, nil)
			refusedFull(t, err, "is full")
			_, err = connectViewer(t, srv, "dee", kind, true, nil)
			refusedFull(t, err, "watch")

			// The same ticks, each the whole arena.
			from := max(eve.tape.newest(), ann.tape.newest()) + 1
			to := from + 45
			eve.awaitTick(t, to)
			ann.awaitTick(t, to)
			params := ann.Params()
			if got, want := eve.tape.has(from, to), ann.tape.has(from, to); !slices.Equal(got, want) {
				t.Fatalf("ticks %d to %d: the spectator decoded %v, the player %v", from, to, got, want)
			}
			for _, tick := range eve.tape.has(from, to) {
				full, ok := truth.at(tick)
				if !ok {
					t.Fatalf("no truth for tick %d", tick)
				}
				got, _ := eve.tape.at(tick)
				if diff := arenatest.Diff(got, snapshottest.ExpectedView(params, full, 0, 0)); diff != "" {
					t.Fatalf("spectator, tick %d: %s", tick, diff)
				}
				if len(got.Players) != 2 {
					t.Fatalf("spectator, tick %d: %d players, want the two playing", tick, len(got.Players))
				}
			}

			// Inputs are refused and counted, and change nothing.
			const sent = 10
			pace := time.NewTicker(time.Second / time.Duration(params.TickRate))
			defer pace.Stop()
			for range sent {
				<-pace.C
				if _, err := eve.SendInput(1, 0, 0, true); err != nil {
					t.Fatal(err)
				}
			}
			servertest.WaitFor(t, 5*time.Second, func() bool { return srv.SpectatorInputs() >= sent })
			if n := srv.SpectatorInputs(); n != sent {
				t.Fatalf("%d spectator input packets refused, want %d", n, sent)
			}
			fams := scrape(t, srv.URL())
			if v, _ := value(fams, "tickwire_dropped_total", map[string]string{"reason": "spectator_input"}); v != sent {
				t.Errorf(`tickwire_dropped_total{reason="spectator_input"} = %v, want %d`, v, sent)
			}
			if v, _ := value(fams, "tickwire_spectators", map[string]string{"room": server.DefaultRoom}); v != 2 {
				t.Errorf("tickwire_spectators = %v, want 2", v)
			}
			if v, _ := value(fams, "tickwire_players", map[string]string{"room": server.DefaultRoom}); v != 2 {
				t.Errorf("tickwire_players = %v, want 2", v)
			}
			if n := srv.Room().Players(); n != 2 {
				t.Errorf("the world holds %d players, want 2", n)
			}
			after := eve.tape.newest()
			eve.awaitTick(t, after+3) // still watching
			if s, _ := eve.tape.at(eve.tape.newest()); len(s.Players) != 2 {
				t.Errorf("after the refused inputs the spectator sees %d players", len(s.Players))
			}
			select {
			case <-eve.Done():
				t.Fatalf("spectator's session ended: %v", eve.Err())
			default:
			}

			// Rosters, the room's state, the lobby.
			for _, v := range []*viewer{ann, eve} {
				v.awaitRoster(t, func(r *wire.Roster) bool { return r.Spectators == 2 && len(r.Players) == 2 })
			}
			rooms := srv.Rooms()
			if rooms[0].Players != 2 || rooms[0].Spectators != 2 {
				t.Errorf("room state: %d players, %d spectators; want 2 and 2", rooms[0].Players, rooms[0].Spectators)
			}
			resp, err := http.Get(srv.URL() + lobby.PathRooms)
			if err != nil {
				t.Fatal(err)
			}
			var raw struct {
				Rooms []map[string]any `json:"rooms"`
			}
			err = json.NewDecoder(resp.Body).Decode(&raw)
			resp.Body.Close()
			if err != nil || len(raw.Rooms) != 1 || raw.Rooms[0]["spectators"] != float64(2) {
				t.Errorf("GET /rooms = %v (%v), want spectators: 2", raw, err)
			}
			var spect int
			for _, s := range srv.Sessions() {
				if s.Spectator {
					spect++
				}
			}
			if spect != 2 {
				t.Errorf("%d spectator sessions listed, want 2", spect)
			}
		})
	}
}

// TestSpectatorWithAOIGetsTheFollowedPlayersViewOrTheWholeArena, over
// each transport: in a room with interest management, a spectator that
// follows a player decodes exactly what that player does, tick for tick;
// it switches to another player, and to a free camera, which gets the
// whole arena.
func TestSpectatorWithAOIGetsTheFollowedPlayersViewOrTheWholeArena(t *testing.T) {
	const radius = 40 // in a 2000-unit arena, three players see only themselves
	for _, kind := range []transport.Kind{transport.WebTransport, transport.WebSocket} {
		t.Run(string(kind), func(t *testing.T) {
			truth := newTape()
			srv := servertest.Start(t, &server.Server{AOIRadius: radius, OnTick: truth.add})
			players := []*viewer{
				mustViewer(t, srv, "ann", kind, false),
				mustViewer(t, srv, "bob", kind, false),
				mustViewer(t, srv, "cy", kind, false),
			}
			eve := mustViewer(t, srv, "eve", kind, true)
			params := eve.Params()
			for _, step := range []struct {
				follow *viewer // nil: free camera
			}{{players[0]}, {players[1]}, {nil}, {players[2]}} {
				var id game.EntityID
				var r float64
				if step.follow != nil {
					id, r = step.follow.Entity(), radius
				}
				eve.Follow(id)
				matches := func(tick uint32) error {
					got, ok := eve.tape.at(tick)
					full, ok2 := truth.at(tick)
					if !ok || !ok2 {
						return fmt.Errorf("tick %d not decoded", tick)
					}
					if diff := arenatest.Diff(got, snapshottest.ExpectedView(params, full, id, r)); diff != "" {
						return fmt.Errorf("following %d, tick %d: %s", id, tick, diff)
					}
					return nil
				}
				// The switch takes a round trip; then every tick is the new view.
				var from uint32
				servertest.WaitFor(t, 10*time.Second, func() bool {
					from = eve.tape.newest()
					return matches(from) == nil
				})
				to := from + 30
				eve.awaitTick(t, to)
				for tick := from; tick <= to; tick++ {
					if err := matches(tick); err != nil {
						t.Fatal(err)
					}
				}
				if step.follow != nil {
					step.follow.awaitTick(t, to)
					if got, want := eve.tape.has(from, to), step.follow.tape.has(from, to); !slices.Equal(got, want) {
						t.Fatalf("following %d: the spectator decoded ticks %v, the player %v", id, got, want)
					}
					if s, _ := eve.tape.at(to); len(s.Players) != 1 || s.Players[0].ID != id {
						t.Errorf("following %d sees %d players", id, len(s.Players))
					}
				} else if s, _ := eve.tape.at(to); len(s.Players) != len(players) {
					t.Errorf("the free camera sees %d players, want %d", len(s.Players), len(players))
				}
			}
		})
	}
}

// TestLobbyJoinToWatchHoldsNoSeatAndItsTokenAdmitsASpectator: with join
// tokens required and a room of one seat taken, the lobby refuses a
// player but hands a spectator a join whose token admits it as a
// spectator; with the spectator cap reached, it refuses the next one.
func TestLobbyJoinToWatchHoldsNoSeatAndItsTokenAdmitsASpectator(t *testing.T) {
	srv := servertest.Start(t, &server.Server{TokenSecret: testSecret, RequireTokens: true, MaxSpectators: 1})
	lc := &lobby.Client{Base: srv.URL()}
	ctx := t.Context()
	if _, err := lc.Create(ctx, lobby.CreateRequest{ID: "duel", MaxPlayers: 1}); err != nil {
		t.Fatal(err)
	}
	join := func(j lobby.Join, name string) (*client.Client, error) {
		return client.Connect(ctx, client.Config{
			Server: j.URL, Room: j.Room, Name: name, AuthToken: j.Token, Spectate: j.Spectate,
			Dial:   transport.DialOptions{Transport: transport.WebSocket, TrustServerCertHash: true},
			Logger: servertest.Logger(t),
		})
	}
	pj, err := lc.Join(ctx, "duel", lobby.JoinRequest{PlayerName: "ann"})
	if err != nil {
		t.Fatal(err)
	}
	ann, err := join(pj, "ann")
	if err != nil {
		t.Fatal(err)
	}
	defer ann.Close()
	var le *lobby.Error
	if _, err := lc.Join(ctx, "duel", lobby.JoinRequest{PlayerName: "bob"}); !errors.As(err, &le) || le.Status != http.StatusConflict {
		t.Fatalf("a player's join of a full room = %v, want 409", err)
	}
	sj, err := lc.Join(ctx, "duel", lobby.JoinRequest{PlayerName: "eve", Spectate: true})
	if err != nil || !sj.Spectate || sj.Token == "" {
		t.Fatalf("a spectator's join = %+v, %v", sj, err)
	}
	eve, err := join(sj, "eve")
	if err != nil {
		t.Fatal(err)
	}
	defer eve.Close()
	if eve.Entity() != 0 {
		t.Fatalf("spectator got entity %d", eve.Entity())
	}
	if _, err := lc.Join(ctx, "duel", lobby.JoinRequest{PlayerName: "fay", Spectate: true}); !errors.As(err, &le) || le.Status != http.StatusConflict || !strings.Contains(le.Error(), "watch") {
		t.Fatalf("a spectator's join beyond the cap = %v, want 409 naming watching", err)
	}
}

// TestSpectatorsDoNotHoldADrainUp: once the last player has left, a
// draining server stops although a spectator still watches, and tells
// the spectator it shuts down; it does not wait out DrainTimeout.
func TestSpectatorsDoNotHoldADrainUp(t *testing.T) {
	srv := servertest.Start(t, &server.Server{DrainTimeout: 10 * time.Minute})
	connect := func(name string, spectate bool) *client.Client {
		c, err := client.Connect(t.Context(), client.Config{Server: srv.URL(), Name: name, Spectate: spectate, Logger: servertest.Logger(t),
			Dial: transport.DialOptions{Transport: transport.WebSocket, TrustServerCertHash: true}})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	ann := connect("ann", false)
	eve := connect("eve", true)
	defer eve.Close()
	stopped := make(chan error, 1)
	go func() { stopped <- servertest.Stop(srv) }()
	<-srv.Draining()
	select {
	case err := <-stopped:
		t.Fatalf("the server stopped (%v) while a player was still playing", err)
	case <-eve.Done():
		t.Fatalf("the spectator was let go (%v) while a player was still playing", eve.Err())
	default:
	}
	if err := ann.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-stopped:
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
	case <-time.After(time.Minute): // a bound on failure: the drain should end within a poll
		t.Fatal("the drain waited on the spectator after the last player left")
	}
	<-eve.Done()
	var de *client.DisconnectError
	if err := eve.Err(); !errors.As(err, &de) || de.Reason != pb.DisconnectReason_DISCONNECT_REASON_SERVER_SHUTDOWN {
		t.Fatalf("the spectator was told %v, want SERVER_SHUTDOWN", err)
	}
}
