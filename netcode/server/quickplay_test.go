package server_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tickwire/tickwire/game"
	"github.com/tickwire/tickwire/netcode/client"
	"github.com/tickwire/tickwire/netcode/lobby"
	"github.com/tickwire/tickwire/netcode/server"
	"github.com/tickwire/tickwire/netcode/server/directory"
	"github.com/tickwire/tickwire/netcode/server/servertest"
	"github.com/tickwire/tickwire/netcode/transport"
	pb "github.com/tickwire/tickwire/proto/tickwire/v1"
)

// TestConcurrentQuickPlaysNeverHoldMoreSeatsThanARoomHas: 40 quick plays
// at once through the lobbies of two servers sharing a directory, rooms
// of 8: every one gets a seat, no room is promised more than 8, and the
// seats go to as few rooms as fit them (a room is opened only when the
// others are full).
func TestConcurrentQuickPlaysNeverHoldMoreSeatsThanARoomHas(t *testing.T) {
	dir := &directory.Memory{}
	a := servertest.Start(t, &server.Server{ProcessID: "a", Directory: dir, Game: game.Config{MaxPlayers: 8}})
	b := servertest.Start(t, &server.Server{ProcessID: "b", Directory: dir, Game: game.Config{MaxPlayers: 8}})
	var (
		mu    sync.Mutex
		seats = map[string]int{} // process/room -> seats given
		wg    sync.WaitGroup
	)
	for i := range 40 {
		base := []string{a.URL(), b.URL()}[i%2]
		wg.Add(1)
		go func() {
			defer wg.Done()
			j, err := (&lobby.Client{Base: base}).QuickPlay(context.Background(), lobby.QuickPlayRequest{PlayerName: fmt.Sprintf("p%d", i)})
			if err != nil {
				t.Errorf("quick play %d: %v", i, err)
				return
			}
			mu.Lock()
			seats[j.Process+"/"+j.Room]++
			mu.Unlock()
		}()
	}
	wg.Wait()
	for room, n := range seats {
		if n > 8 {
			t.Errorf("room %s was promised %d seats, it has 8", room, n)
		}
	}
	// Each lobby serialises its own quick plays; the two race each other
	// at most once per room they both open.
	if len(seats) > 7 {
		t.Errorf("40 players spread over %d rooms of 8: %v", len(seats), seats)
	}
	for _, s := range []*server.Server{a, b} {
		for _, r := range s.Rooms() {
			if r.Players > r.Capacity {
				t.Errorf("room %s on %s lists %d of %d", r.ID, s.ProcessID, r.Players, r.Capacity)
			}
		}
	}
}

// TestPrivateRoomIsJoinableByIDButNeverListedNorQuickPlayed.
func TestPrivateRoomIsJoinableByIDButNeverListedNorQuickPlayed(t *testing.T) {
	srv := servertest.Start(t, &server.Server{})
	lc := &lobby.Client{Base: srv.URL()}
	ctx := t.Context()
	rm, err := lc.Create(ctx, lobby.CreateRequest{ID: "friends", Private: true, TickRate: 20})
	if err != nil {
		t.Fatal(err)
	}
	if !rm.Private {
		t.Errorf("created %+v, want private", rm)
	}
	rooms, err := lc.Rooms(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rooms {
		if r.ID == "friends" {
			t.Fatalf("the private room is listed: %+v", rooms)
		}
	}
	j, err := lc.QuickPlay(ctx, lobby.QuickPlayRequest{TickRate: 20})
	if err != nil {
		t.Fatal(err)
	}
	if j.Room == "friends" || !j.Created {
		t.Errorf("quick play at 20 Hz went to %+v; want a new room, not the private one", j)
	}
	j, err = lc.Join(ctx, "friends", lobby.JoinRequest{PlayerName: "pal"})
	if err != nil {
		t.Fatalf("joining the private room by id: %v", err)
	}
	c, err := client.Connect(ctx, client.Config{Server: j.URL, Room: j.Room, Name: "pal", Logger: servertest.Logger(t),
		Dial: transport.DialOptions{Transport: transport.WebSocket}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if s := onlySession(t, srv); s.Room != "friends" {
		t.Errorf("session %+v, want one in friends", s)
	}
}

// TestAHeldSeatIsKeptForThePlayerTheLobbySent: a room of 2 with one seat
// taken and the other held by the lobby for a quick player refuses a
// player who comes without a join token, then admits the one with it.
func TestAHeldSeatIsKeptForThePlayerTheLobbySent(t *testing.T) {
	srv := servertest.Start(t, &server.Server{TokenSecret: testSecret, Game: game.Config{MaxPlayers: 2}})
	dial := func(token string) (*client.Client, error) {
		return client.Connect(t.Context(), client.Config{Server: srv.URL(), Name: "x", AuthToken: token, Logger: servertest.Logger(t),
			Dial: transport.DialOptions{Transport: transport.WebSocket}})
	}
	first, err := dial("")
	if err != nil {
		t.Fatal(err)
	}
	defer first.Close()
	j, err := (&lobby.Client{Base: srv.URL()}).QuickPlay(t.Context(), lobby.QuickPlayRequest{PlayerName: "held"})
	if err != nil || j.Room != server.DefaultRoom || j.Token == "" {
		t.Fatalf("quick play: %+v, %v; want a token for the default room", j, err)
	}
	var de *client.DisconnectError
	if _, err := dial(""); !errors.As(err, &de) || de.Reason != pb.DisconnectReason_DISCONNECT_REASON_SERVER_FULL {
		t.Fatalf("a player without the token took the held seat: %v", err)
	}
	held, err := dial(j.Token)
	if err != nil {
		t.Fatalf("the player the lobby sent: %v", err)
	}
	defer held.Close()
}

// TestLobbyFloodFromOneAddressIsRefusedAndDisturbsNoOne: 1000 creates
// from one address open at most the burst's few rooms; the rest get 429
// with Retry-After, and a player in the default room keeps playing.
func TestLobbyFloodFromOneAddressIsRefusedAndDisturbsNoOne(t *testing.T) {
	srv := servertest.Start(t, &server.Server{})
	p := connectPlayer(t, srv, "bystander", transport.WebSocket)
	p.waitSeen(t)
	before := len(srv.Rooms())
	codes := map[int]int{}
	for i := range 1000 {
		code, body := lobbyDo(t, "POST", srv.URL()+lobby.PathRooms, fmt.Sprintf(`{"id":"flood-%d"}`, i))
		codes[code]++
		if code == http.StatusTooManyRequests && !strings.Contains(string(body), "too many") {
			t.Fatalf("429 without a reason: %s", body)
		}
	}
	opened := len(srv.Rooms()) - before
	if opened > 3 || codes[http.StatusTooManyRequests] < 990 {
		t.Errorf("a flood of 1000 creates: %d rooms opened, answers %v; want at most 3 and the rest 429", opened, codes)
	}
	received := func() int { p.mu.Lock(); defer p.mu.Unlock(); return len(p.ticks) }
	seen := received()
	servertest.WaitFor(t, 5*time.Second, func() bool { return received() > seen+10 })
	if p.Err() != nil {
		t.Errorf("the bystander's session: %v", p.Err())
	}
}
