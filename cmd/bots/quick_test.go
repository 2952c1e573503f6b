package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tickwire/tickwire/bots"
	"github.com/tickwire/tickwire/game"
	"github.com/tickwire/tickwire/netcode/client"
	"github.com/tickwire/tickwire/netcode/lobby"
	"github.com/tickwire/tickwire/netcode/server"
	"github.com/tickwire/tickwire/netcode/server/directory/redisdir"
	"github.com/tickwire/tickwire/netcode/server/directory/redisdir/redistest"
	"github.com/tickwire/tickwire/netcode/server/servertest"
	"github.com/tickwire/tickwire/netcode/transport"
)

// TestQuickPlayFillsRoomsOfEightAcrossTwoServers: two servers share a
// directory in a real Redis; rooms hold 8. A room created through A's
// lobby while A has players opens on B, the less-loaded one. Then 30 bots
// quick-play, 15 through each lobby at once: every bot plays, no room
// ever holds more than 8 players (counted in every tick's full snapshot,
// the rooms' own state), and rooms with players run on both servers.
func TestQuickPlayFillsRoomsOfEightAcrossTwoServers(t *testing.T) {
	_, botsBin := binaries(t)
	addr := redistest.Start(t)
	var ticks, overfull atomic.Int64
	var seatedMu sync.Mutex
	seated := map[string]map[string]bool{} // process -> rooms that had players
	start := func(id string) *server.Server {
		dir, err := redisdir.Open(context.Background(), "redis://"+addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { dir.Close() })
		return servertest.Start(t, &server.Server{
			ProcessID: id, Directory: dir, DirectoryTTL: 3 * time.Second, // republished every second
			Game: game.Config{MaxPlayers: 8},
			OnTick: func(cur *game.Snapshot) {
				ticks.Add(1)
				if len(cur.Players) > 8 {
					overfull.Add(1)
				}
			},
			OnPlayer: func(e server.PlayerEvent) {
				if e.Joined {
					seatedMu.Lock()
					if seated[id] == nil {
						seated[id] = map[string]bool{}
					}
					seated[id][e.Room] = true
					seatedMu.Unlock()
				}
			},
		})
	}
	a, b := start("proc-a"), start("proc-b")

	// Two players on A; once A's record says so, a room created through
	// A's lobby opens on B.
	for range 2 {
		c, err := client.Connect(t.Context(), client.Config{Server: a.URL(), Name: "early", Logger: servertest.Logger(t),
			Dial: transport.DialOptions{Transport: transport.WebSocket}})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
	}
	servertest.WaitFor(t, 10*time.Second, func() bool {
		rooms, err := (&lobby.Client{Base: b.URL()}).Rooms(t.Context())
		for _, r := range rooms {
			if err == nil && r.Process == "proc-a" && r.ID == server.DefaultRoom && r.Players == 2 {
				return true
			}
		}
		return false
	})
	placed, err := (&lobby.Client{Base: a.URL()}).Create(t.Context(), lobby.CreateRequest{ID: "placed"})
	if err != nil {
		t.Fatal(err)
	}
	if placed.Process != "proc-b" || placed.URL != b.URL() || !hasRoom(b, "placed") || hasRoom(a, "placed") {
		t.Fatalf("room created through A's lobby: %+v; want it on proc-b", placed)
	}
	// Its ID is now taken on every process.
	if _, err := a.CreateRoom(server.RoomOptions{ID: "placed"}); err == nil {
		t.Fatal("A opened a second room named like B's")
	}

	dir := t.TempDir()
	var wg sync.WaitGroup
	codes := make([]int, 2)
	for i, srv := range []*server.Server{a, b} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var stdout, stderr bytes.Buffer
			codes[i] = runBots(t, botsBin, &stdout, &stderr, "-server", srv.URL(), "-quick", "-n", "15",
				"-seed", string(rune('1'+i)), "-warmup", "1s", "-duration", "3s", "-metrics", "-",
				"-json", filepath.Join(dir, srv.ProcessID+".json"))
			if codes[i] != exitOK {
				t.Errorf("bots through %s: exit %d; stderr:\n%s", srv.ProcessID, codes[i], stderr.String())
			}
		}()
	}
	wg.Wait()
	for _, id := range []string{"proc-a", "proc-b"} {
		var rep bots.Report
		data, err := os.ReadFile(filepath.Join(dir, id+".json"))
		if err == nil {
			err = json.Unmarshal(data, &rep)
		}
		if err != nil {
			t.Fatalf("report of the bots through %s: %v", id, err)
		}
		if rep.Connected != 15 || rep.ConnectFailures != 0 {
			t.Errorf("bots through %s: %d connected, %d failed (%v %v), want all 15 playing",
				id, rep.Connected, rep.ConnectFailures, rep.ConnectFailureReasons, rep.ConnectFailureExamples)
		}
	}
	if n := overfull.Load(); n > 0 || ticks.Load() == 0 {
		t.Errorf("%d of %d ticks had a room over its 8 players", n, ticks.Load())
	}
	seatedMu.Lock()
	defer seatedMu.Unlock()
	if len(seated["proc-a"]) == 0 || len(seated["proc-b"]) == 0 {
		t.Errorf("rooms with players: %v; want rooms on both servers", seated)
	}
	t.Logf("rooms that had players: %v", seated)
}

func hasRoom(s *server.Server, id string) bool {
	for _, r := range s.Rooms() {
		if r.ID == id {
			return true
		}
	}
	return false
}
