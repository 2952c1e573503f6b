package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/tickwire/tickwire/netcode/client"
	"github.com/tickwire/tickwire/netcode/lobby"
	"github.com/tickwire/tickwire/netcode/transport"
)

// sidecar is a fake Agones SDK sidecar recording the REST calls in order.
type sidecar struct {
	mu    sync.Mutex
	calls []string
}

func (s *sidecar) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	call := r.Method + " " + r.URL.Path
	if r.URL.Path == "/alpha/player/connect" || r.URL.Path == "/alpha/player/disconnect" {
		var body struct {
			PlayerID string `json:"playerID"`
		}
		_ = json.NewDecoder(r.Body).Decode(&body)
		call += " " + body.PlayerID
	}
	if r.URL.Path == "/watch/gameserver" {
		fmt.Fprintln(w, `{"result":{"object_meta":{"name":"gs"},"status":{"state":"Ready","address":"203.0.113.7","ports":[{"name":"game","port":7777}]}}}`)
		w.(http.Flusher).Flush()
		<-r.Context().Done()
		return
	}
	s.mu.Lock()
	s.calls = append(s.calls, call)
	s.mu.Unlock()
	fmt.Fprint(w, "{}")
}

func (s *sidecar) has(prefix string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range s.calls {
		if strings.HasPrefix(c, prefix) {
			return true
		}
	}
	return false
}

// TestBinaryUnderAgonesReportsReadyHealthPlayersAndShutdown runs the real
// binary with AGONES_SDK_HTTP_PORT pointing at a fake sidecar: Ready
// first, health pings, the player's connect and disconnect, and Shutdown
// last, after the SIGTERM drain.
func TestBinaryUnderAgonesReportsReadyHealthPlayersAndShutdown(t *testing.T) {
	sc := &sidecar{}
	ts := httptest.NewServer(sc)
	defer ts.Close()
	_, port, _ := net.SplitHostPort(strings.TrimPrefix(ts.URL, "http://"))
	p := startProc(t, []string{"AGONES_SDK_HTTP_PORT=" + port}, "-agones-health", "50ms", "-drain-timeout", "0s")
	waitUntil(t, 10*time.Second, "health pings", func() bool { return sc.has("POST /health") })
	// The lobby hands out the address Agones reports.
	waitUntil(t, 10*time.Second, "the lobby to use the GameServer's address", func() bool {
		var join lobby.Join
		postJSON(t, p.url+lobby.PathRooms+"/default/join", "", &join)
		return join.URL == "http://203.0.113.7:7777"
	})
	c, err := client.Connect(context.Background(), client.Config{
		Server: p.url, Name: "pod-player", Logger: quietLogger(),
		Dial: transport.DialOptions{Transport: transport.WebSocket, TrustServerCertHash: true},
	})
	if err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 10*time.Second, "player connect", func() bool { return sc.has("POST /alpha/player/connect session-") })
	c.Close()
	waitUntil(t, 10*time.Second, "player disconnect", func() bool { return sc.has("POST /alpha/player/disconnect session-") })
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := p.waitExit(t, 15*time.Second); err != nil {
		t.Fatalf("exit: %v", err)
	}
	sc.mu.Lock()
	calls := append([]string(nil), sc.calls...)
	sc.mu.Unlock()
	if calls[0] != "POST /ready" || calls[1] != "PUT /alpha/player/capacity" || calls[len(calls)-1] != "POST /shutdown" {
		t.Errorf("calls = %v; want POST /ready, PUT /alpha/player/capacity, ..., POST /shutdown", calls)
	}
}
