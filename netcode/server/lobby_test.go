package server_test

import (
	"context"
	"encoding/json"
	"io"
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
	"github.com/tickwire/tickwire/netcode/wire"
)

func lobbyDo(t testing.TB, method, url, body string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

func decode[T any](t testing.TB, b []byte) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("decoding %s: %v", b, err)
	}
	return v
}

// TestLobbyCreatesListsAndJoinsRoomsAndClientsPlayInTheirRoom creates a
// room through the lobby, joins it with the returned token and URL, and
// checks that the player is in that room, not in the default one, and
// that each room runs its own world.
func TestLobbyCreatesListsAndJoinsRoomsAndClientsPlayInTheirRoom(t *testing.T) {
	srv := servertest.Start(t, &server.Server{TokenSecret: testSecret})
	code, b := lobbyDo(t, "POST", srv.URL()+lobby.PathRooms, `{"id":"duel","max_players":2,"tick_rate":60,"aoi_radius":500}`)
	if code != http.StatusCreated {
		t.Fatalf("create: %d %s", code, b)
	}
	created := decode[lobby.Room](t, b)
	if created.ID != "duel" || created.Capacity != 2 || created.TickRate != 60 || !created.AOI {
		t.Errorf("created %+v", created)
	}
	code, b = lobbyDo(t, "GET", srv.URL()+lobby.PathRooms, "")
	list := decode[lobby.Rooms](t, b)
	if code != http.StatusOK || len(list.Rooms) != 2 || list.Rooms[0].ID != server.DefaultRoom || list.Rooms[1].ID != "duel" {
		t.Fatalf("list: %d %+v", code, list)
	}

	code, b = lobbyDo(t, "POST", srv.URL()+lobby.PathRooms+"/duel/join", `{"player_id":"u7","player_name":"bea"}`)
	if code != http.StatusOK {
		t.Fatalf("join: %d %s", code, b)
	}
	join := decode[lobby.Join](t, b)
	if join.Room != "duel" || join.URL != srv.URL() || join.Token == "" || len(join.CertHashes) == 0 ||
		!strings.HasSuffix(join.WebSocketURL, "/ws?room=duel") || !strings.HasSuffix(join.WebTransportURL, "/wt?room=duel") {
		t.Fatalf("join response %+v", join)
	}
	pins, err := transport.CertHashesBytes(join.CertHashes)
	if err != nil {
		t.Fatal(err)
	}
	c, err := client.Connect(context.Background(), client.Config{
		Server: join.URL, Name: "x", AuthToken: join.Token,
		Dial:   transport.DialOptions{Transport: transport.WebTransport, CertHashes: pins},
		Logger: servertest.Logger(t),
	})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if c.Params().TickRate != 60 {
		t.Errorf("joined a %d Hz room, want the duel's 60", c.Params().TickRate)
	}
	// The server registers the session just after sending its welcome.
	var sess []server.SessionInfo
	servertest.WaitFor(t, 5*time.Second, func() bool { sess = srv.Sessions(); return len(sess) == 1 })
	if len(sess) != 1 || sess[0].Room != "duel" || sess[0].Name != "bea" || sess[0].PlayerID != "u7" {
		t.Errorf("sessions = %+v", sess)
	}
	code, b = lobbyDo(t, "GET", srv.URL()+lobby.PathRooms, "")
	list = decode[lobby.Rooms](t, b)
	if list.Rooms[1].Players != 1 || list.Rooms[0].Players != 0 {
		t.Errorf("players per room = %+v", list.Rooms)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Room().WaitTick(ctx, srv.Room().CurrentTick()+1); err != nil {
		t.Errorf("default room not ticking beside the duel: %v", err)
	}
}

func TestLobbyRefusesBadRequestsNamingTheField(t *testing.T) {
	srv := servertest.Start(t, &server.Server{MaxRooms: 2})
	tests := []struct {
		name, method, path, body string
		code                     int
		says                     string
	}{
		{"unknown field", "POST", lobby.PathRooms, `{"idd":"x"}`, 400, "idd"},
		{"bad id", "POST", lobby.PathRooms, `{"id":"Bad Room"}`, 400, "id:"},
		{"bad tick rate", "POST", lobby.PathRooms, `{"tick_rate":25}`, 400, "tick_rate"},
		{"too many players", "POST", lobby.PathRooms, `{"max_players":100000}`, 400, "max_players"},
		{"negative aoi", "POST", lobby.PathRooms, `{"aoi_radius":-1}`, 400, "aoi_radius"},
		{"two values", "POST", lobby.PathRooms, `{}{}`, 400, "more than one"},
		{"huge body", "POST", lobby.PathRooms, `{"id":"` + strings.Repeat("a", lobby.MaxBodyBytes) + `"}`, 413, "body"},
		{"existing room", "POST", lobby.PathRooms, `{"id":"default"}`, 409, "exists"},
		{"join unknown room", "POST", lobby.PathRooms + "/nope/join", ``, 404, "nope"},
		{"join bad name", "POST", lobby.PathRooms + "/default/join", `{"player_name":""}{`, 400, "body"},
		{"create one", "POST", lobby.PathRooms, `{"id":"one"}`, 201, "one"},
		{"max rooms", "POST", lobby.PathRooms, `{"id":"two"}`, 503, "maximum of rooms"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, b := lobbyDo(t, tt.method, srv.URL()+tt.path, tt.body)
			if code != tt.code || !strings.Contains(string(b), tt.says) {
				t.Errorf("%s %s = %d %s; want %d mentioning %q", tt.method, tt.path, code, b, tt.code, tt.says)
			}
		})
	}
}

// TestEmptyLobbyRoomClosesAfterGraceButDefaultStays uses a tiny grace: the
// created room closes once empty, the default room never does, and a
// player keeps a room open.
func TestEmptyLobbyRoomClosesAfterGraceButDefaultStays(t *testing.T) {
	srv := servertest.Start(t, &server.Server{RoomGrace: time.Millisecond})
	if _, err := srv.CreateRoom(server.RoomOptions{ID: "kept"}); err != nil {
		t.Fatal(err)
	}
	c, err := client.Connect(context.Background(), client.Config{
		Server: srv.URL(), Name: "x", Logger: servertest.Logger(t),
		Dial: transport.DialOptions{Transport: transport.WebSocket, TrustServerCertHash: true, Header: http.Header{server.RoomHeader: {"kept"}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := srv.CreateRoom(server.RoomOptions{ID: "brief"}); err != nil {
		t.Fatal(err)
	}
	ids := func() string {
		var s []string
		for _, r := range srv.Rooms() {
			s = append(s, r.ID)
		}
		return strings.Join(s, ",")
	}
	servertest.WaitFor(t, 10*time.Second, func() bool { return ids() == "default,kept" })
	c.Close()
	servertest.WaitFor(t, 10*time.Second, func() bool { return ids() == "default" })
}

// TestJoinThroughDirectoryPointsAtTheOwningProcess shares one in-memory
// directory between two servers: A's lobby lists B's room and sends a
// join for it to B, where the token is valid.
func TestJoinThroughDirectoryPointsAtTheOwningProcess(t *testing.T) {
	dir := &directory.Memory{}
	a := servertest.Start(t, &server.Server{Directory: dir, ProcessID: "a", TokenSecret: testSecret})
	b := servertest.Start(t, &server.Server{Directory: dir, ProcessID: "b", TokenSecret: testSecret, RequireTokens: true})
	code, body := lobbyDo(t, "POST", b.URL()+lobby.PathRooms, `{"id":"on-b"}`)
	if code != http.StatusCreated {
		t.Fatalf("create on b: %d %s", code, body)
	}
	server.Publish(b, context.Background()) // rather than wait for the heartbeat
	_, body = lobbyDo(t, "GET", a.URL()+lobby.PathRooms, "")
	var onB *lobby.Room
	for _, r := range decode[lobby.Rooms](t, body).Rooms {
		if r.ID == "on-b" {
			onB = &r
		}
	}
	if onB == nil || onB.Process != "b" || onB.URL != b.URL() {
		t.Fatalf("a lists %s", body)
	}
	code, body = lobbyDo(t, "POST", a.URL()+lobby.PathRooms+"/on-b/join", "")
	join := decode[lobby.Join](t, body)
	if code != http.StatusOK || join.URL != b.URL() || join.Process != "b" {
		t.Fatalf("join via a: %d %s", code, body)
	}
	c, err := client.Connect(context.Background(), client.Config{
		Server: join.URL, Name: "x", AuthToken: join.Token, Logger: servertest.Logger(t),
		Dial: transport.DialOptions{Transport: transport.WebSocket, TrustServerCertHash: true},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if s := onlySession(t, b); s.Room != "on-b" {
		t.Errorf("b's session = %+v", s)
	}
}

// TestRoomsRunSeparateWorlds puts one player in each of two rooms: each
// sees only itself.
func TestRoomsRunSeparateWorlds(t *testing.T) {
	srv := servertest.Start(t, &server.Server{})
	if _, err := srv.CreateRoom(server.RoomOptions{ID: "other"}); err != nil {
		t.Fatal(err)
	}
	type seen struct {
		mu      sync.Mutex
		players int
		n       int
	}
	var views [2]seen
	for i, room := range []string{server.DefaultRoom, "other"} {
		v := &views[i]
		c, err := client.Connect(context.Background(), client.Config{
			Server: srv.URL(), Name: room, Logger: servertest.Logger(t),
			Dial: transport.DialOptions{Transport: transport.WebSocket, TrustServerCertHash: true, Header: http.Header{server.RoomHeader: {room}}},
			OnSnapshot: func(s *game.Snapshot, _ *wire.SnapshotHeader) {
				v.mu.Lock()
				v.players = max(v.players, len(s.Players))
				v.n++
				v.mu.Unlock()
			},
		})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
	}
	servertest.WaitFor(t, 10*time.Second, func() bool {
		for i := range views {
			views[i].mu.Lock()
			n := views[i].n
			views[i].mu.Unlock()
			if n < 30 {
				return false
			}
		}
		return true
	})
	for i := range views {
		views[i].mu.Lock()
		if views[i].players != 1 {
			t.Errorf("room %d: a snapshot held %d players, want only the room's one", i, views[i].players)
		}
		views[i].mu.Unlock()
	}
}

func TestLobbyKeyGuardsCreateAndJoinButNotTheList(t *testing.T) {
	srv := servertest.Start(t, &server.Server{LobbyKey: "backend-key", TokenSecret: testSecret})
	do := func(method, path, auth string) int {
		req, _ := http.NewRequest(method, srv.URL()+path, nil)
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	for _, tt := range []struct {
		method, path, auth string
		want               int
	}{
		{"GET", lobby.PathRooms, "", 200},
		{"POST", lobby.PathRooms, "", 401},
		{"POST", lobby.PathRooms, "Bearer wrong", 401},
		{"POST", lobby.PathRooms + "/default/join", "", 401},
		{"POST", lobby.PathRooms + "/default/join", "Bearer backend-key", 200},
		{"POST", lobby.PathRooms, "Bearer backend-key", 201},
	} {
		if got := do(tt.method, tt.path, tt.auth); got != tt.want {
			t.Errorf("%s %s with %q = %d, want %d", tt.method, tt.path, tt.auth, got, tt.want)
		}
	}
}

func TestConfigRoomJoinsThatRoomOnBothTransports(t *testing.T) {
	srv := servertest.Start(t, &server.Server{})
	if _, err := srv.CreateRoom(server.RoomOptions{ID: "arena-2"}); err != nil {
		t.Fatal(err)
	}
	for _, kind := range []transport.Kind{transport.WebTransport, transport.WebSocket} {
		c, err := client.Connect(context.Background(), client.Config{Server: srv.URL(), Name: "picker",
			Room: "arena-2", Dial: transport.DialOptions{Transport: kind, TrustServerCertHash: true}, Logger: servertest.Logger(t)})
		if err != nil {
			t.Fatalf("%s: %v", kind, err)
		}
		var sess []server.SessionInfo
		servertest.WaitFor(t, 5*time.Second, func() bool { sess = srv.Sessions(); return len(sess) == 1 })
		if sess[0].Room != "arena-2" {
			t.Errorf("%s: sessions %+v, want one in arena-2", kind, sess)
		}
		c.Close()
		servertest.WaitFor(t, 5*time.Second, func() bool { return len(srv.Sessions()) == 0 })
	}
}
