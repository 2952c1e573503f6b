package server_test

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/tickwire/tickwire/game"
	"github.com/tickwire/tickwire/netcode/server"
	"github.com/tickwire/tickwire/netcode/server/servertest"
	"github.com/tickwire/tickwire/netcode/transport"
	"github.com/tickwire/tickwire/netcode/wire"
	pb "github.com/tickwire/tickwire/proto/tickwire/v1"
)

// TestFloodersAreRateLimitedWhileHonestPlayersKeepTheirSnapshots joins 50
// clients that flood valid input packets at 200 a second each (10,000 a
// second in all, over both transports) and two clients that never read,
// next to honest players. Every flooder must be ended with RATE_LIMITED,
// and the honest players must receive a snapshot for nearly every tick the
// room simulated meanwhile. Under the race detector 10 flooders run.
func TestFloodersAreRateLimitedWhileHonestPlayersKeepTheirSnapshots(t *testing.T) {
	if testing.Short() {
		t.Skip("floods for several seconds")
	}
	srv := servertest.Start(t, &server.Server{Game: game.Config{MaxPlayers: 100}})
	honest := []*player{
		connectPlayer(t, srv, "honest-wt", transport.WebTransport),
		connectPlayer(t, srv, "honest-ws", transport.WebSocket),
	}
	for _, p := range honest {
		p.waitSeen(t)
	}
	for i := 0; i < 2; i++ {
		neverRead(t, srv)
	}

	flooders, perSecond := 50, 200
	if raceEnabled {
		flooders = 10
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conns := make([]transport.Conn, flooders)
	for i := range conns {
		kind := transport.WebTransport
		if i%2 == 1 {
			kind = transport.WebSocket
		}
		conns[i] = dialRaw(t, srv, kind)
		sendHello(t, conns[i], wire.ProtocolVersion)
		awaitWelcome(t, conns[i])
	}

	startTicks, startTick := tickCounts(honest), srv.Room().CurrentTick()
	floodStart := time.Now()
	reasons := make(chan pb.DisconnectReason, flooders)
	var wg sync.WaitGroup
	for _, c := range conns {
		wg.Add(2)
		stop := make(chan struct{})
		go func() { defer wg.Done(); reasons <- readUntilDisconnect(ctx, c); close(stop) }()
		go func() { defer wg.Done(); flood(ctx, c, perSecond, stop) }()
	}
	counts := map[pb.DisconnectReason]int{}
	for range conns {
		select {
		case r := <-reasons:
			counts[r]++
		case <-ctx.Done():
			t.Fatalf("flooders still connected after 30 s: ended so far %v", counts)
		}
	}
	floodTime := time.Since(floodStart)
	cancel()
	wg.Wait()

	if counts[pb.DisconnectReason_DISCONNECT_REASON_RATE_LIMITED] != flooders {
		t.Errorf("flooders ended with %v, want all %d RATE_LIMITED", counts, flooders)
	}
	if srv.RateLimitedPackets() == 0 {
		t.Error("no packet counted as rate limited")
	}
	// Honest players: a snapshot arrived for nearly every tick simulated.
	endTicks := tickCounts(honest)
	expected := float64(srv.Room().CurrentTick() - startTick)
	for i, p := range honest {
		got := float64(endTicks[i] - startTicks[i])
		t.Logf("%s: %.0f snapshots in %v of flood, %.0f ticks simulated", p.Transport(), got, floodTime.Round(time.Millisecond), expected)
		if got < 0.9*expected {
			t.Errorf("%s honest player got %.0f snapshots during the flood, want at least 90%% of %.0f", p.Transport(), got, expected)
		}
	}
	t.Logf("rate-limited packets: %d", srv.RateLimitedPackets())
}

func tickCounts(ps []*player) []int {
	n := make([]int, len(ps))
	for i, p := range ps {
		p.mu.Lock()
		n[i] = len(p.ticks)
		p.mu.Unlock()
	}
	return n
}

// receiveKind reads c until a packet of kind arrives and returns it, or
// the error that ended the reading.
func receiveKind(ctx context.Context, c transport.Conn, kind wire.PacketKind) ([]byte, error) {
	for {
		raw, _, err := c.Receive(ctx)
		if err != nil {
			return nil, err
		}
		if k, _, err := wire.SplitPacket(raw); err == nil && k == kind {
			return raw, nil
		}
	}
}

func awaitWelcome(t *testing.T, c transport.Conn) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := receiveKind(ctx, c, wire.KindWelcome); err != nil {
		t.Fatalf("waiting for welcome: %v", err)
	}
}

// readUntilDisconnect returns the reason of the server's Disconnect, or
// UNSPECIFIED if the connection ended without one.
func readUntilDisconnect(ctx context.Context, c transport.Conn) pb.DisconnectReason {
	for {
		raw, err := receiveKind(ctx, c, wire.KindDisconnect)
		if err != nil {
			return pb.DisconnectReason_DISCONNECT_REASON_UNSPECIFIED
		}
		if p, err := wire.UnmarshalControl(raw); err == nil {
			return p.GetDisconnect().GetReason()
		}
	}
}

// flood sends valid input packets at perSecond, in bursts every 50 ms,
// until stop is closed or ctx is done.
func flood(ctx context.Context, c transport.Conn, perSecond int, stop <-chan struct{}) {
	t := time.NewTicker(50 * time.Millisecond)
	defer t.Stop()
	pkt := wire.InputPacket{Inputs: make([]game.Input, 1)}
	var buf []byte
	tick := uint32(1)
	for {
		select {
		case <-ctx.Done():
			return
		case <-stop:
			return
		case <-t.C:
		}
		for i := 0; i < perSecond/20; i++ {
			pkt.Inputs[0] = game.Input{Tick: tick, MoveX: 127, Fire: true}
			tick++
			buf = wire.AppendInputPacket(buf[:0], &pkt)
			_ = c.SendDatagram(buf)
		}
	}
}

// neverRead opens a WebSocket session that says hello and then never
// reads: the server's send queue for it fills and drops, and the tick
// loop must not notice.
func neverRead(t *testing.T, srv *server.Server) {
	t.Helper()
	u := strings.Replace(srv.URL(), "http", "ws", 1) + transport.PathWebSocket
	ws, resp, err := websocket.DefaultDialer.Dial(u, http.Header{})
	if err != nil {
		t.Fatalf("dial %s: %v", u, err)
	}
	resp.Body.Close()
	t.Cleanup(func() { ws.Close() })
	hello := wire.MarshalControl(&pb.Packet{Body: &pb.Packet_Hello{Hello: &pb.ClientHello{ProtocolVersion: wire.ProtocolVersion, PlayerName: "sloth"}}})
	if err := ws.WriteMessage(websocket.BinaryMessage, hello); err != nil {
		t.Fatal(err)
	}
}
