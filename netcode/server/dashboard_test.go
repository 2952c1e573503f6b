package server_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tickwire/tickwire/game"
	"github.com/tickwire/tickwire/netcode/client"
	"github.com/tickwire/tickwire/netcode/server"
	"github.com/tickwire/tickwire/netcode/server/dashboard"
	"github.com/tickwire/tickwire/netcode/server/servertest"
	"github.com/tickwire/tickwire/netcode/transport"
)

// dashView is what the tests read of a /dashboard/events event: the
// fields the page draws.
type dashView struct {
	Process  string `json:"process"`
	Players  int    `json:"players"`
	Draining bool   `json:"draining"`
	Rooms    []struct {
		ID        string  `json:"id"`
		Players   int     `json:"players"`
		Playing   int     `json:"playing"`
		Spectate  *int    `json:"spectators"` // nil: not reported
		Capacity  int     `json:"capacity"`
		TickRate  int     `json:"tick_rate"`
		TickP99Ms float64 `json:"tick_p99_ms"`
	} `json:"rooms"`
	Sessions     map[string]int `json:"sessions"`
	BytesInPerS  float64        `json:"bytes_in_per_s"`
	BytesOutPerS float64        `json:"bytes_out_per_s"`
	Tick         struct {
		P50Ms       []float64 `json:"p50_ms"`
		P99Ms       []float64 `json:"p99_ms"`
		MinuteP99Ms float64   `json:"minute_p99_ms"`
	} `json:"tick"`
	Disconnects []struct {
		Room    string `json:"room"`
		Reason  string `json:"reason"`
		Text    string `json:"text"`
		Refused bool   `json:"refused"`
	} `json:"disconnects"`
}

// eventStream is an open /dashboard/events.
type eventStream struct {
	resp *http.Response
	r    *bufio.Reader
}

// openEvents opens the event stream with the given request tweaks; it
// returns the response as it came (the stream only when status is 200).
// The stream ends with the test, or at the latest in a minute.
func openEvents(t *testing.T, url string, edit func(*http.Request)) (*eventStream, *http.Response) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	req, err := http.NewRequestWithContext(ctx, "GET", url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if edit != nil {
		edit(req)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	if resp.StatusCode != http.StatusOK {
		return nil, resp
	}
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("Content-Type %q", ct)
	}
	return &eventStream{resp: resp, r: bufio.NewReader(resp.Body)}, resp
}

// next reads the next event (the arrival of an event is the signal the
// tests wait on; one comes every second).
func (s *eventStream) next() (dashView, error) {
	var data strings.Builder
	for {
		line, err := s.r.ReadString('\n')
		if err != nil {
			return dashView{}, fmt.Errorf("reading the event stream: %w", err)
		}
		line = strings.TrimRight(line, "\n")
		switch {
		case strings.HasPrefix(line, "data: "):
			data.WriteString(strings.TrimPrefix(line, "data: "))
		case line == "" && data.Len() > 0:
			var v dashView
			if err := json.Unmarshal([]byte(data.String()), &v); err != nil {
				return v, fmt.Errorf("decoding event %s: %w", data.String(), err)
			}
			return v, nil
		}
	}
}

// waitEvent reads events until ok accepts one, for at most n events.
func (s *eventStream) waitEvent(t *testing.T, what string, n int, ok func(dashView) bool) dashView {
	t.Helper()
	var last dashView
	for range n {
		ev, err := s.next()
		if err != nil {
			t.Fatalf("waiting for %s: %v", what, err)
		}
		if ok(ev) {
			return ev
		}
		last = ev
	}
	t.Fatalf("no event with %s in %d; the last: %+v", what, n, last)
	return last
}

func (v dashView) room(id string) (playing, seats int, found bool) {
	for _, r := range v.Rooms {
		if r.ID == id {
			return r.Playing, r.Players, true
		}
	}
	return 0, 0, false
}

// TestDashboardEventsFollowThePlayers: the stream shows the default room
// empty, then the player who joins over WebSocket (room, sessions by
// transport, bytes, tick durations), then its goodbye among the
// disconnects.
func TestDashboardEventsFollowThePlayers(t *testing.T) {
	srv := servertest.Start(t, &server.Server{Game: game.Config{MaxPlayers: 8}})
	if _, err := srv.CreateRoom(server.RoomOptions{ID: "duel", Game: game.Config{MaxPlayers: 2, TickRate: 20}}); err != nil {
		t.Fatal(err)
	}
	es, resp := openEvents(t, srv.URL()+dashboard.PathEvents, nil)
	if es == nil {
		t.Fatalf("GET %s from loopback without a lobby key: %s", dashboard.PathEvents, resp.Status)
	}
	ev := es.waitEvent(t, "both rooms", 5, func(v dashView) bool {
		_, _, a := v.room(server.DefaultRoom)
		_, _, b := v.room("duel")
		return a && b
	})
	if ev.Players != 0 || ev.Process != srv.ProcessID {
		t.Errorf("before anyone joined: %d players, process %q; want 0, %q", ev.Players, ev.Process, srv.ProcessID)
	}
	for _, r := range ev.Rooms {
		if r.ID == "duel" && (r.Capacity != 2 || r.TickRate != 20) {
			t.Errorf("duel: capacity %d at %d Hz, want 2 at 20", r.Capacity, r.TickRate)
		}
	}

	c, err := client.Connect(context.Background(), client.Config{Server: srv.URL(), Name: "watched", Logger: servertest.Logger(t),
		Dial: transport.DialOptions{Transport: transport.WebSocket, TrustServerCertHash: true}})
	if err != nil {
		t.Fatal(err)
	}
	ev = es.waitEvent(t, "the player in the default room", 10, func(v dashView) bool {
		playing, _, _ := v.room(server.DefaultRoom)
		return playing == 1 && v.BytesOutPerS > 0
	})
	if ev.Players != 1 || ev.Sessions["websocket"] != 1 || ev.Sessions["webtransport"] != 0 {
		t.Errorf("with one WebSocket player: players %d, sessions %v", ev.Players, ev.Sessions)
	}
	if n := len(ev.Tick.P99Ms); n == 0 || ev.Tick.MinuteP99Ms <= 0 || ev.Tick.P99Ms[n-1] <= 0 {
		t.Errorf("tick durations: %+v", ev.Tick)
	}

	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	ev = es.waitEvent(t, "the goodbye", 10, func(v dashView) bool {
		return len(v.Disconnects) > 0
	})
	if d := ev.Disconnects[0]; d.Room != server.DefaultRoom || d.Reason != "client_left" || d.Text != "client closed" || d.Refused {
		t.Errorf("disconnect %+v, want client_left in %s", d, server.DefaultRoom)
	}
	if playing, _, _ := ev.room(server.DefaultRoom); playing != 0 {
		t.Errorf("%d still playing after the goodbye", playing)
	}
}

// TestDashboardCountsSpectatorsApartFromPlayers: a spectator shows in
// its room's spectators (the page's spectators column), not among the
// players playing; an empty room reports 0 rather than nothing.
func TestDashboardCountsSpectatorsApartFromPlayers(t *testing.T) {
	srv := servertest.Start(t, &server.Server{})
	es, resp := openEvents(t, srv.URL()+dashboard.PathEvents, nil)
	if es == nil {
		t.Fatalf("GET %s: %s", dashboard.PathEvents, resp.Status)
	}
	spectators := func(v dashView) (playing, watching int, reported bool) {
		for _, r := range v.Rooms {
			if r.ID == server.DefaultRoom && r.Spectate != nil {
				return r.Playing, *r.Spectate, true
			}
		}
		return 0, 0, false
	}
	es.waitEvent(t, "the default room reporting 0 spectators", 5, func(v dashView) bool {
		_, n, ok := spectators(v)
		return ok && n == 0
	})
	c, err := client.Connect(context.Background(), client.Config{Server: srv.URL(), Name: "eve", Spectate: true, Logger: servertest.Logger(t),
		Dial: transport.DialOptions{Transport: transport.WebSocket, TrustServerCertHash: true}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ev := es.waitEvent(t, "one spectator", 10, func(v dashView) bool {
		_, n, _ := spectators(v)
		return n == 1
	})
	if playing, _, _ := spectators(ev); playing != 0 || ev.Players != 0 {
		t.Errorf("with one spectator: %d playing in the room, %d players in all; want 0", playing, ev.Players)
	}
}

// TestDashboardNeedsTheLobbyKey: with a lobby key the page and the stream
// want it, as a bearer token, a query parameter or the cookie the page
// sets; anything else is 401 saying so.
func TestDashboardNeedsTheLobbyKey(t *testing.T) {
	const key = "dashboard-test-key"
	srv := servertest.Start(t, &server.Server{LobbyKey: key})
	events := srv.URL() + dashboard.PathEvents

	for _, tt := range []struct {
		name string
		edit func(*http.Request)
	}{
		{"no key", nil},
		{"wrong bearer", func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+key+"x") }},
		{"wrong query", func(r *http.Request) { r.URL.RawQuery = "key=nope" }},
	} {
		t.Run("refused/"+tt.name, func(t *testing.T) {
			if es, resp := openEvents(t, events, tt.edit); es != nil || resp.StatusCode != http.StatusUnauthorized {
				t.Fatalf("status %s, want 401", resp.Status)
			} else if b, _ := io.ReadAll(resp.Body); !strings.Contains(string(b), "lobby key required") {
				t.Errorf("401 says %q", b)
			}
		})
	}

	// The page opened with ?key= hands over a cookie...
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := noRedirect.Get(srv.URL() + dashboard.Path + "?key=" + key)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	var cookie *http.Cookie
	for _, c := range resp.Cookies() {
		if c.Name == dashboard.Cookie {
			cookie = c
		}
	}
	if resp.StatusCode != http.StatusSeeOther || cookie == nil {
		t.Fatalf("page with ?key=: %s, cookie %v", resp.Status, cookie)
	}
	for _, tt := range []struct {
		name string
		edit func(*http.Request)
	}{
		{"bearer", func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+key) }},
		{"query", func(r *http.Request) { r.URL.RawQuery = "key=" + key }},
		{"cookie", func(r *http.Request) { r.AddCookie(cookie) }},
	} {
		t.Run("accepted/"+tt.name, func(t *testing.T) {
			es, resp := openEvents(t, events, tt.edit)
			if es == nil {
				t.Fatalf("status %s", resp.Status)
			}
			if _, err := es.next(); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestDashboardStreamsEndWithTheirViewersAndTheServer: a viewer that
// goes away frees its stream; the viewers beyond the limit are refused;
// stopping the server ends the streams still open (it does not wait on
// them).
func TestDashboardStreamsEndWithTheirViewersAndTheServer(t *testing.T) {
	srv := servertest.Start(t, &server.Server{})
	events := srv.URL() + dashboard.PathEvents

	ctx, cancel := context.WithCancel(context.Background())
	gone, _ := openEvents(t, events, func(r *http.Request) { *r = *r.WithContext(ctx) })
	if _, err := gone.next(); err != nil {
		t.Fatal(err)
	}
	cancel()
	servertest.WaitFor(t, 10*time.Second, func() bool { return srv.DashboardViewers() == 0 })

	streams := make([]*eventStream, 0, dashboard.MaxViewers)
	for range dashboard.MaxViewers {
		es, resp := openEvents(t, events, nil)
		if es == nil {
			t.Fatalf("viewer %d refused: %s", len(streams)+1, resp.Status)
		}
		streams = append(streams, es)
	}
	if es, resp := openEvents(t, events, nil); es != nil || resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("viewer %d: %s, want 503", dashboard.MaxViewers+1, resp.Status)
	}
	for i, es := range streams {
		if _, err := es.next(); err != nil {
			t.Fatalf("viewer %d: %v", i+1, err)
		}
	}

	start := time.Now()
	if err := servertest.Stop(srv); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 4*time.Second {
		t.Errorf("stopping the server with %d dashboard viewers took %v", len(streams), d)
	}
	for _, es := range streams {
		for {
			if _, err := es.next(); err != nil {
				break // the stream ended
			}
		}
	}
}
