package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
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
// No real Agones (a Kubernetes cluster) can run on the development
// machine, so the fake follows the REST API as Agones documents it,
// including the Counters and Lists (beta) with the sdkserver's checks:
// undeclared keys, a count outside [0, capacity], a List capacity
// outside [0, 1000], a duplicate or missing value, a full List. It
// starts with what deploy/fleet.yaml declares.
type sidecar struct {
	mu       sync.Mutex
	calls    []string
	counters map[string]*fakeCounter
	lists    map[string]*fakeList
}

type fakeCounter struct{ Count, Capacity int64 }

type fakeList struct {
	Capacity int64
	Values   []string
}

func newSidecar() *sidecar {
	return &sidecar{
		counters: map[string]*fakeCounter{"players": {0, 0}, "rooms": {0, 64}},
		lists:    map[string]*fakeList{"rooms": {Capacity: 64}},
	}
}

func (s *sidecar) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	call := r.Method + " " + r.URL.Path
	if r.URL.Path == "/watch/gameserver" {
		fmt.Fprintln(w, `{"result":{"object_meta":{"name":"gs"},"status":{"state":"Ready","address":"203.0.113.7","ports":[{"name":"game","port":7777}]}}}`)
		w.(http.Flusher).Flush()
		<-r.Context().Done()
		return
	}
	body, _ := io.ReadAll(r.Body)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls = append(s.calls, call)
	reply, err := s.countsAndLists(r.Method, r.URL.Path, body)
	if err != nil {
		// grpc-gateway's answer to an error from the sdkserver.
		w.WriteHeader(http.StatusInternalServerError)
		fmt.Fprintf(w, `{"code":2,"message":%q,"details":[]}`, err.Error())
		return
	}
	w.Write(reply)
}

// countsAndLists serves /v1beta1/counters/{key} and /v1beta1/lists/{key}
// (and :addValue, :removeValue); other paths answer {}.
func (s *sidecar) countsAndLists(method, path string, body []byte) ([]byte, error) {
	var req struct {
		Count, Capacity *string // protojson int64: JSON strings
		Value           *string
	}
	if len(body) > 0 {
		if err := json.Unmarshal(body, &req); err != nil {
			return nil, fmt.Errorf("invalid argument: %v", err)
		}
	}
	num := func(s *string) (int64, bool, error) {
		if s == nil {
			return 0, false, nil
		}
		n, err := strconv.ParseInt(*s, 10, 64)
		return n, true, err
	}
	count, hasCount, err1 := num(req.Count)
	capacity, hasCapacity, err2 := num(req.Capacity)
	if err1 != nil || err2 != nil {
		return nil, fmt.Errorf("invalid argument: %v %v", err1, err2)
	}
	if key, ok := strings.CutPrefix(path, "/v1beta1/counters/"); ok {
		c := s.counters[key]
		if c == nil {
			return nil, fmt.Errorf("counter not found: %s", key)
		}
		if method == "PATCH" {
			next := *c
			if hasCapacity {
				next.Capacity = capacity
			}
			if hasCount {
				next.Count = count
			}
			if next.Capacity < 0 || next.Count < 0 || next.Count > next.Capacity {
				return nil, fmt.Errorf("out of range. Count must be within range [0,Capacity]. Found Count: %d, Capacity: %d", next.Count, next.Capacity)
			}
			*c = next
		}
		return fmt.Appendf(nil, `{"name":%q,"count":"%d","capacity":"%d"}`, key, c.Count, c.Capacity), nil
	}
	if rest, ok := strings.CutPrefix(path, "/v1beta1/lists/"); ok {
		key, verb, _ := strings.Cut(rest, ":")
		l := s.lists[key]
		if l == nil {
			return nil, fmt.Errorf("list not found: %s", key)
		}
		switch {
		case method == "PATCH" && hasCapacity:
			if capacity < 0 || capacity > 1000 {
				return nil, fmt.Errorf("out of range. Capacity must be within range [0,1000]. Found Capacity: %d", capacity)
			}
			l.Capacity = capacity
		case verb == "addValue" && req.Value != nil:
			if slices.Contains(l.Values, *req.Value) {
				return nil, fmt.Errorf("already exists. Value: %s already in List: %s", *req.Value, key)
			}
			if int64(len(l.Values)) >= l.Capacity {
				return nil, fmt.Errorf("out of range. No available capacity")
			}
			l.Values = append(l.Values, *req.Value)
		case verb == "removeValue" && req.Value != nil:
			if !slices.Contains(l.Values, *req.Value) {
				return nil, fmt.Errorf("not found: value %s not in list %s", *req.Value, key)
			}
			l.Values = slices.DeleteFunc(l.Values, func(v string) bool { return v == *req.Value })
		case method == "GET" && verb == "":
		default:
			return nil, fmt.Errorf("invalid argument: %s %s %s", method, path, body)
		}
		values, _ := json.Marshal(append([]string{}, l.Values...))
		return fmt.Appendf(nil, `{"name":%q,"capacity":"%d","values":%s}`, key, l.Capacity, values), nil
	}
	return []byte("{}"), nil
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

func (s *sidecar) counter(key string) fakeCounter {
	s.mu.Lock()
	defer s.mu.Unlock()
	return *s.counters[key]
}

func (s *sidecar) list(key string) fakeList {
	s.mu.Lock()
	defer s.mu.Unlock()
	l := *s.lists[key]
	l.Values = slices.Sorted(slices.Values(l.Values))
	return l
}

// lobbyRooms lists the process's rooms as its lobby does.
func lobbyRooms(t *testing.T, base string) []lobby.Room {
	t.Helper()
	var list lobby.Rooms
	if err := json.Unmarshal([]byte(get(t, base+lobby.PathRooms)), &list); err != nil {
		t.Fatal(err)
	}
	return list.Rooms
}

// TestBinaryUnderAgonesReportsRoomsPlayersAndLifecycle runs the real
// binary with AGONES_SDK_HTTP_PORT pointing at a fake sidecar: Ready
// first, health pings, the rooms and players as Counters and a List as
// they change (a room created through POST /rooms, a player joining and
// leaving), no space left once draining, and Shutdown last, after the
// SIGTERM drain.
func TestBinaryUnderAgonesReportsRoomsPlayersAndLifecycle(t *testing.T) {
	sc := newSidecar()
	ts := httptest.NewServer(sc)
	defer ts.Close()
	_, port, _ := net.SplitHostPort(strings.TrimPrefix(ts.URL, "http://"))
	p := startProc(t, []string{"AGONES_SDK_HTTP_PORT=" + port},
		"-agones-health", "50ms", "-drain-timeout", "3s", "-max-rooms", "8")
	waitUntil(t, 10*time.Second, "health pings", func() bool { return sc.has("POST /health") })

	// capacity sums the capacities of the rooms the lobby lists.
	capacity := func() int64 {
		var n int64
		for _, r := range lobbyRooms(t, p.url) {
			n += int64(r.Capacity)
		}
		return n
	}
	reports := func(what string, rooms []string, players int64) {
		t.Helper()
		want := fmt.Sprintf("rooms %d/8, list %q of 8, players %d/%d", len(rooms), rooms, players, capacity())
		var got string
		waitUntil(t, 10*time.Second, what+": "+want, func() bool {
			r, l, pl := sc.counter("rooms"), sc.list("rooms"), sc.counter("players")
			got = fmt.Sprintf("rooms %d/%d, list %q of %d, players %d/%d", r.Count, r.Capacity, l.Values, l.Capacity, pl.Count, pl.Capacity)
			return got == want
		})
	}
	reports("the default room", []string{"default"}, 0)

	resp, err := http.Post(p.url+lobby.PathRooms, "application/json", strings.NewReader(`{"id":"duel","max_players":2}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("POST %s: %s", lobby.PathRooms, resp.Status)
	}
	reports("a room created through the lobby", []string{"default", "duel"}, 0)

	connect := func(name string) *client.Client {
		t.Helper()
		c, err := client.Connect(context.Background(), client.Config{
			Server: p.url, Room: "duel", Name: name, Logger: quietLogger(),
			Dial: transport.DialOptions{Transport: transport.WebSocket, TrustServerCertHash: true},
		})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	c := connect("pod-player")
	reports("a player joining", []string{"default", "duel"}, 1)
	c.Close()
	reports("the player leaving", []string{"default", "duel"}, 0)

	// The lobby hands out the address Agones reports.
	waitUntil(t, 10*time.Second, "the lobby to use the GameServer's address", func() bool {
		var join lobby.Join
		postJSON(t, p.url+lobby.PathRooms+"/default/join", "", &join)
		return join.URL == "http://203.0.113.7:7777"
	})

	// Draining, with a player on: no space left for allocations.
	c = connect("drain-player")
	defer c.Close()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 10*time.Second, "no space left once draining", func() bool {
		r, pl := sc.counter("rooms"), sc.counter("players")
		return r.Capacity == r.Count && pl.Capacity == pl.Count && pl.Count > 0
	})
	if err := p.waitExit(t, 15*time.Second); err != nil {
		t.Fatalf("exit: %v", err)
	}
	sc.mu.Lock()
	calls := append([]string(nil), sc.calls...)
	sc.mu.Unlock()
	if calls[0] != "POST /ready" || calls[len(calls)-1] != "POST /shutdown" {
		t.Errorf("calls = %v; want POST /ready first, POST /shutdown last", calls)
	}
	if slices.ContainsFunc(calls, func(c string) bool { return strings.Contains(c, "/alpha/") }) {
		t.Errorf("calls = %v; want no alpha player tracking (Counters and Lists replace it)", calls)
	}
}
