package server_test

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/tickwire/tickwire/netcode/client"
	"github.com/tickwire/tickwire/netcode/lobby"
	"github.com/tickwire/tickwire/netcode/server"
	"github.com/tickwire/tickwire/netcode/server/servertest"
	"github.com/tickwire/tickwire/netcode/transport"
	pb "github.com/tickwire/tickwire/proto/tickwire/v1"
)

func scrape(t testing.TB, url string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get(url + server.PathMetrics)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics: %d", resp.StatusCode)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("parsing /metrics: %v", err)
	}
	return fams
}

// value returns the value of the family's series whose labels include
// want (a counter, gauge, or a histogram's sample count).
func value(fams map[string]*dto.MetricFamily, name string, want map[string]string) (float64, bool) {
	f := fams[name]
	if f == nil {
		return 0, false
	}
next:
	for _, m := range f.GetMetric() {
		have := map[string]string{}
		for _, l := range m.GetLabel() {
			have[l.GetName()] = l.GetValue()
		}
		for k, v := range want {
			if have[k] != v {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue(), true
		case m.Gauge != nil:
			return m.Gauge.GetValue(), true
		case m.Histogram != nil:
			return float64(m.Histogram.GetSampleCount()), true
		}
	}
	return 0, false
}

// TestMetricsNamesExistAndValuesMoveWhilePlaying scrapes /metrics before
// and while two players (one per transport) play, and checks that every
// contracted name is there and the counters move.
func TestMetricsNamesExistAndValuesMoveWhilePlaying(t *testing.T) {
	srv := servertest.Start(t, &server.Server{})
	before := scrape(t, srv.URL())
	var players []*client.Client
	for _, kind := range []transport.Kind{transport.WebTransport, transport.WebSocket} {
		c, err := client.Connect(context.Background(), client.Config{Server: srv.URL(), Name: "m", Logger: servertest.Logger(t),
			Dial: transport.DialOptions{Transport: kind, TrustServerCertHash: true}})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		players = append(players, c)
	}
	// Play until the server has pinged and sampled everyone at least once.
	var after map[string]*dto.MetricFamily
	ticker := time.NewTicker(time.Second / 30)
	defer ticker.Stop()
	deadline := time.Now().Add(20 * time.Second)
	for {
		<-ticker.C
		for _, c := range players {
			if _, err := c.SendInput(1, 0, 0, false); err != nil {
				t.Fatal(err)
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("RTT and input lead never sampled")
		}
		if c := players[0]; c.AckTick()%15 != 0 {
			continue
		}
		after = scrape(t, srv.URL())
		rtt, _ := value(after, "tickwire_rtt_seconds", nil)
		lead, _ := value(after, "tickwire_input_lead_seconds", nil)
		if rtt >= 2 && lead >= 2 {
			break
		}
	}
	room := map[string]string{"room": server.DefaultRoom}
	for _, tt := range []struct {
		name   string
		labels map[string]string
		moves  bool // must have grown since the first scrape
	}{
		{"tickwire_tick_duration_seconds", room, true},
		{"tickwire_tick_duration_max_seconds", room, false},
		{"tickwire_missed_ticks_total", room, false},
		{"tickwire_ticks_total", room, true},
		{"tickwire_sessions", map[string]string{"transport": "webtransport"}, true},
		{"tickwire_sessions", map[string]string{"transport": "websocket"}, true},
		{"tickwire_rooms", nil, false},
		{"tickwire_players", room, true},
		{"tickwire_inputs_total", map[string]string{"room": server.DefaultRoom, "result": "applied"}, true},
		{"tickwire_datagrams_total", map[string]string{"direction": "in", "transport": "webtransport"}, true},
		{"tickwire_datagrams_total", map[string]string{"direction": "out", "transport": "websocket"}, true},
		{"tickwire_messages_total", map[string]string{"direction": "in", "transport": "websocket"}, true},
		{"tickwire_bytes_total", map[string]string{"direction": "out", "transport": "webtransport"}, true},
		{"tickwire_dropped_total", map[string]string{"reason": "send_queue_full"}, false},
		{"tickwire_dropped_total", map[string]string{"reason": "malformed"}, false},
		{"tickwire_snapshot_bytes", map[string]string{"transport": "webtransport"}, true},
		{"tickwire_rtt_seconds", nil, true},
		{"tickwire_input_lead_seconds", nil, true},
		{"tickwire_handshakes_total", map[string]string{"result": "accepted"}, true},
		{"tickwire_draining", nil, false},
		{"tickwire_lag_compensation_rewind_seconds", nil, false},
		{"tickwire_hits_total", map[string]string{"room": server.DefaultRoom, "rewind": "applied"}, false},
		{"tickwire_hits_total", map[string]string{"room": server.DefaultRoom, "rewind": "none"}, false},
	} {
		a, ok := value(after, tt.name, tt.labels)
		if !ok {
			t.Errorf("%s%v missing", tt.name, tt.labels)
			continue
		}
		b, _ := value(before, tt.name, tt.labels)
		if tt.moves && a <= b {
			t.Errorf("%s%v did not move: %v then %v", tt.name, tt.labels, b, a)
		}
	}
	if v, _ := value(after, "tickwire_rooms", nil); v != 1 {
		t.Errorf("tickwire_rooms = %v, want 1", v)
	}
	if v, _ := value(after, "tickwire_players", room); v != 2 {
		t.Errorf("tickwire_players = %v, want 2", v)
	}
}

// TestReadyzIsUnavailableWhileDraining checks the load balancer's view:
// ready once listening, 503 as soon as Drain is called, healthz still ok.
func TestReadyzIsUnavailableWhileDraining(t *testing.T) {
	srv := servertest.Start(t, &server.Server{})
	if code, _ := lobbyDo(t, "GET", srv.URL()+server.PathReadyz, ""); code != http.StatusOK {
		t.Fatalf("/readyz = %d before draining", code)
	}
	srv.Drain()
	if code, b := lobbyDo(t, "GET", srv.URL()+server.PathReadyz, ""); code != http.StatusServiceUnavailable {
		t.Errorf("/readyz = %d %s while draining", code, b)
	}
	if code, _ := lobbyDo(t, "GET", srv.URL()+server.PathHealthz, ""); code != http.StatusOK {
		t.Errorf("/healthz = %d while draining", code)
	}
	if code, _ := lobbyDo(t, "POST", srv.URL()+lobby.PathRooms+"/default/join", ""); code != http.StatusServiceUnavailable {
		t.Errorf("join = %d while draining", code)
	}
	_, err := client.Connect(context.Background(), client.Config{Server: srv.URL(), Name: "late", Logger: servertest.Logger(t),
		Dial: transport.DialOptions{Transport: transport.WebSocket, TrustServerCertHash: true}})
	var de *client.DisconnectError
	if !errors.As(err, &de) || de.Reason != pb.DisconnectReason_DISCONNECT_REASON_SERVER_SHUTDOWN {
		t.Fatalf("hello while draining: %v, want SERVER_SHUTDOWN", err)
	}
}
