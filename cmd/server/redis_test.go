package main

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/tickwire/tickwire/game"
	"github.com/tickwire/tickwire/netcode/client"
	"github.com/tickwire/tickwire/netcode/lobby"
	"github.com/tickwire/tickwire/netcode/server"
	"github.com/tickwire/tickwire/netcode/server/directory/redisdir"
	"github.com/tickwire/tickwire/netcode/server/directory/redisdir/redistest"
	"github.com/tickwire/tickwire/netcode/transport"
	"github.com/tickwire/tickwire/netcode/wire"
)

// TestTwoProcessesShareRoomsThroughRedis runs two real server binaries on
// one real Redis: a client asks A's lobby for a room that lives on B, is
// sent to B, joins and moves; when B is killed (SIGKILL: no goodbye), its
// record and rooms vanish from the directory within the TTL.
func TestTwoProcessesShareRoomsThroughRedis(t *testing.T) {
	redisURL := "redis://" + redistest.Start(t) + "/0"
	const ttl = 2 * time.Second
	common := []string{"-redis", redisURL, "-directory-ttl", ttl.String(), "-drain-timeout", "0s"}
	env := []string{"TICKWIRE_TOKEN_SECRET=shared-secret-of-the-two-processes"}
	a := startProc(t, env, append(common, "-process-id", "a")...)
	b := startProc(t, env, append(common, "-process-id", "b", "-require-tokens")...)

	resp, err := http.Post(b.url+lobby.PathRooms, "application/json", strings.NewReader(`{"id":"on-b"}`))
	if err != nil || resp.StatusCode != http.StatusCreated {
		t.Fatalf("creating a room on b: %v %v", resp.Status, err)
	}
	resp.Body.Close()

	// A lists B's room once B's heartbeat has published it.
	waitUntil(t, 10*time.Second, "a's lobby to list on-b", func() bool {
		return lobbyHas(t, a.url, "on-b", "b")
	})
	var join lobby.Join
	postJSON(t, a.url+lobby.PathRooms+"/on-b/join", `{"player_name":"traveller","player_id":"t1"}`, &join)
	if join.Process != "b" || join.URL != b.url || join.Token == "" {
		t.Fatalf("a's join = %+v, want b's URL %s and a token", join, b.url)
	}
	pins, err := transport.CertHashesBytes(join.CertHashes)
	if err != nil {
		t.Fatal(err)
	}

	var mu sync.Mutex
	var first, last *game.Player
	var c *client.Client // set under mu once Connect returns
	cc, err := client.Connect(context.Background(), client.Config{
		Server: join.URL, Name: "ignored", AuthToken: join.Token, Logger: quietLogger(),
		Dial: transport.DialOptions{Transport: transport.WebTransport, CertHashes: pins},
		OnSnapshot: func(s *game.Snapshot, _ *wire.SnapshotHeader) {
			mu.Lock()
			defer mu.Unlock()
			if c == nil {
				return
			}
			for i := range s.Players {
				if s.Players[i].ID == c.Entity() {
					p := s.Players[i]
					if first == nil {
						first = &p
					}
					last = &p
				}
			}
		},
	})
	if err != nil {
		t.Fatalf("joining on b: %v", err)
	}
	mu.Lock()
	c = cc
	mu.Unlock()
	defer c.Close()
	// Move: the snapshots must show the player travel along x or y.
	ticker := time.NewTicker(time.Second / 30)
	defer ticker.Stop()
	moved := func() bool {
		mu.Lock()
		defer mu.Unlock()
		return first != nil && last != nil && (abs(last.X-first.X) > 50 || abs(last.Y-first.Y) > 50)
	}
	deadline := time.Now().Add(15 * time.Second)
	for !moved() {
		if time.Now().After(deadline) {
			t.Fatal("the player on b never moved")
		}
		<-ticker.C
		// Towards the arena's centre, so a wall cannot stop it.
		mu.Lock()
		dx, dy := 1.0, 1.0
		if last != nil {
			dx, dy = sign(1000-last.X), sign(1000-last.Y)
		}
		mu.Unlock()
		if _, err := cc.SendInput(dx, dy, 0, false); err != nil {
			t.Fatal(err)
		}
	}

	// Kill b without a goodbye: its record must expire within the TTL.
	killed := time.Now()
	if err := b.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	dir, err := redisdir.Open(context.Background(), redisURL)
	if err != nil {
		t.Fatal(err)
	}
	defer dir.Close()
	waitUntil(t, ttl+5*time.Second, "b's record to expire", func() bool {
		procs, err := dir.Processes(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range procs {
			if p.ID == "b" {
				return false
			}
		}
		return true
	})
	// b republishes every ttl/3, so its last record lived at most ttl.
	if gone := time.Since(killed); gone > ttl+time.Second {
		t.Errorf("b's rooms vanished %v after the kill, TTL is %v", gone, ttl)
	}
	if lobbyHas(t, a.url, "on-b", "b") {
		t.Error("a's lobby still lists b's room")
	}
	if !lobbyHas(t, a.url, server.DefaultRoom, "a") {
		t.Error("a's lobby lost its own room")
	}

	// A clean stop withdraws at once, without waiting for the TTL.
	if err := a.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := a.waitExit(t, 15*time.Second); err != nil {
		t.Fatalf("a's exit: %v", err)
	}
	procs, err := dir.Processes(context.Background())
	if err != nil || len(procs) != 0 {
		t.Errorf("after a's clean stop the directory holds %+v (%v), want nothing", procs, err)
	}
}

func lobbyHas(t *testing.T, url, room, process string) bool {
	t.Helper()
	resp, err := http.Get(url + lobby.PathRooms)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var list lobby.Rooms
	if err := json.NewDecoder(resp.Body).Decode(&list); err != nil {
		t.Fatal(err)
	}
	for _, r := range list.Rooms {
		if r.ID == room && r.Process == process {
			return true
		}
	}
	return false
}

func postJSON(t *testing.T, url, body string, out any) {
	t.Helper()
	resp, err := http.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("POST %s: %s", url, resp.Status)
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		t.Fatal(err)
	}
}

// waitUntil polls cond: the state it waits for lives in other processes,
// with nothing to wait on; the deadline is a failure bound.
func waitUntil(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func abs(x float64) float64 {
	if x < 0 {
		return -x
	}
	return x
}

func sign(x float64) float64 {
	if x < 0 {
		return -1
	}
	return 1
}
