package agones

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeSidecar implements the documented REST endpoints and records the
// calls in order. Ready fails readyFailures times first (the sidecar
// starting after the game server).
type fakeSidecar struct {
	mu            sync.Mutex
	calls         []string
	readyFailures int
	allocate      chan struct{} // closed: the watch reports Allocated
	healthSeen    chan struct{}
	healthOnce    sync.Once
}

func (f *fakeSidecar) record(c string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, c)
}

func (f *fakeSidecar) Calls() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.calls...)
}

func (f *fakeSidecar) handler(t *testing.T) http.Handler {
	mux := http.NewServeMux()
	empty := func(name string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			if r.Header.Get("Content-Type") != "application/json" {
				t.Errorf("%s: Content-Type %q", name, r.Header.Get("Content-Type"))
			}
			b, _ := io.ReadAll(r.Body)
			if strings.TrimSpace(string(b)) != "{}" {
				t.Errorf("%s: body %q, want {}", name, b)
			}
			if name == "Ready" {
				f.mu.Lock()
				fail := f.readyFailures > 0
				f.readyFailures--
				f.mu.Unlock()
				if fail {
					http.Error(w, "not yet", http.StatusServiceUnavailable)
					return
				}
			}
			if name == "Health" {
				f.healthOnce.Do(func() { close(f.healthSeen) })
			}
			f.record(name)
			fmt.Fprint(w, "{}")
		}
	}
	mux.HandleFunc("POST /ready", empty("Ready"))
	mux.HandleFunc("POST /health", empty("Health"))
	mux.HandleFunc("POST /shutdown", empty("Shutdown"))
	mux.HandleFunc("PUT /alpha/player/capacity", func(w http.ResponseWriter, r *http.Request) {
		var body struct{ Count int64 }
		_ = json.NewDecoder(r.Body).Decode(&body)
		f.record(fmt.Sprintf("SetPlayerCapacity(%d)", body.Count))
		fmt.Fprint(w, "{}")
	})
	player := func(name string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			var body struct {
				PlayerID string `json:"playerID"`
			}
			_ = json.NewDecoder(r.Body).Decode(&body)
			f.record(name + "(" + body.PlayerID + ")")
			fmt.Fprint(w, `{"bool":true}`)
		}
	}
	mux.HandleFunc("POST /alpha/player/connect", player("PlayerConnect"))
	mux.HandleFunc("POST /alpha/player/disconnect", player("PlayerDisconnect"))
	mux.HandleFunc("GET /watch/gameserver", func(w http.ResponseWriter, r *http.Request) {
		fl := w.(http.Flusher)
		line := func(state string) {
			fmt.Fprintf(w, `{"result":{"object_meta":{"name":"gs-1"},"status":{"state":%q,"address":"10.0.0.1","ports":[{"name":"game","port":7001}]}}}`+"\n", state)
			fl.Flush()
		}
		line("Ready")
		select {
		case <-f.allocate:
			line("Allocated")
		case <-r.Context().Done():
			return
		}
		<-r.Context().Done()
	})
	return mux
}

// TestLifecycleCallsReadyHealthPlayersThenShutdownInOrder runs the whole
// Agones sequence against a fake sidecar: Ready (after two refusals),
// capacity, health pings, Allocated from the watch, player connect and
// disconnect, Shutdown once drained.
func TestLifecycleCallsReadyHealthPlayersThenShutdownInOrder(t *testing.T) {
	f := &fakeSidecar{readyFailures: 2, allocate: make(chan struct{}), healthSeen: make(chan struct{})}
	sidecar := httptest.NewServer(f.handler(t))
	defer sidecar.Close()

	allocated := make(chan struct{})
	var allocOnce sync.Once
	l := &Lifecycle{
		Client:         New(sidecar.URL),
		HealthInterval: 10 * time.Millisecond,
		RetryInterval:  10 * time.Millisecond,
		Capacity:       100,
		OnGameServer: func(gs GameServer) {
			if gs.Status.State == "Allocated" && gs.PublicAddr() == "10.0.0.1:7001" {
				allocOnce.Do(func() { close(allocated) })
			}
		},
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
	l.Init()
	listening, drained := make(chan struct{}), make(chan struct{})
	done := make(chan error, 1)
	go func() { done <- l.Run(context.Background(), listening, drained) }()
	close(listening)
	<-f.healthSeen
	close(f.allocate)
	select {
	case <-allocated:
	case <-time.After(10 * time.Second):
		t.Fatal("Allocated never reported")
	}
	l.Player("p1", true)
	l.Player("p1", false)
	waitCalls(t, f, "PlayerDisconnect(p1)")
	close(drained)
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after drain")
	}

	calls := f.Calls()
	if calls[0] != "Ready" || calls[1] != "SetPlayerCapacity(100)" || calls[len(calls)-1] != "Shutdown" {
		t.Fatalf("calls = %v; want Ready, SetPlayerCapacity(100), ..., Shutdown", calls)
	}
	var health, connectAt, disconnectAt int
	for i, c := range calls {
		switch c {
		case "Health":
			health++
		case "PlayerConnect(p1)":
			connectAt = i
		case "PlayerDisconnect(p1)":
			disconnectAt = i
		case "Ready", "Shutdown":
			if i != 0 && i != len(calls)-1 {
				t.Errorf("%s at %d of %v", c, i, calls)
			}
		}
	}
	if health == 0 || connectAt == 0 || disconnectAt <= connectAt {
		t.Errorf("calls = %v; want Health pings and connect before disconnect", calls)
	}
}

func waitCalls(t *testing.T, f *fakeSidecar, want string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		for _, c := range f.Calls() {
			if c == want {
				return
			}
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("%s never called; calls = %v", want, f.Calls())
}

func TestFromEnvUsesAgonesPort(t *testing.T) {
	t.Setenv(EnvPort, "12345")
	c, ok := FromEnv()
	if !ok || c.base != "http://localhost:12345" {
		t.Fatalf("FromEnv = %q, %v", c.base, ok)
	}
}
