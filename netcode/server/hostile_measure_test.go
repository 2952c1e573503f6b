package server_test

import (
	"context"
	"math"
	"math/rand/v2"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/tickwire/tickwire/game"
	"github.com/tickwire/tickwire/netcode/server"
	"github.com/tickwire/tickwire/netcode/server/servertest"
	"github.com/tickwire/tickwire/netcode/transport"
	"github.com/tickwire/tickwire/netcode/wire"
	pb "github.com/tickwire/tickwire/proto/tickwire/v1"
)

// TestMeasureTickCostOfHostileClients measures what hostile clients cost
// the honest ones: 50 honest players send an input every tick for a
// phase; then, for a second phase of the same length, hostile clients
// join too (flooders, garbage senders and connections that never say
// hello, each reconnecting as soon as it is thrown out). It logs the
// room's tick duration p50/p99/max and missed ticks and the honest
// players' snapshot delivery for each phase. A measurement, not a unit
// test: run it on a quiet machine with
//
//	TICKWIRE_MEASURE=1 go test -run TestMeasureTickCostOfHostileClients -v ./netcode/server/
func TestMeasureTickCostOfHostileClients(t *testing.T) {
	if os.Getenv("TICKWIRE_MEASURE") == "" {
		t.Skip("set TICKWIRE_MEASURE=1 to measure")
	}
	phase := 20 * time.Second
	srv := servertest.Start(t, &server.Server{Game: game.Config{MaxPlayers: 100}})
	var honest []*player
	for i := 0; i < 50; i++ {
		kind := transport.WebTransport
		if i%2 == 1 {
			kind = transport.WebSocket
		}
		honest = append(honest, connectPlayer(t, srv, "honest", kind))
	}
	for _, p := range honest {
		p.waitSeen(t)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go driveInputs(ctx, honest, srv.Room().Params().TickRate)

	measure := func(name string) {
		srv.Room().ResetStats()
		start, startTick := tickCounts(honest), srv.Room().CurrentTick()
		time.Sleep(phase) // the phase's length is the measurement itself
		st, end := srv.Room().Stats(), tickCounts(honest)
		ticks := float64(srv.Room().CurrentTick() - startTick)
		got := 0
		for i := range honest {
			got += end[i] - start[i]
		}
		t.Logf("%-12s tick p50 %v p99 %v max %v, missed %d; honest snapshot delivery %.4f; rate-limited packets so far %d",
			name, st.TickP50, st.TickP99, st.TickMax, st.MissedTicks, float64(got)/(ticks*float64(len(honest))), srv.RateLimitedPackets())
	}
	measure("honest only")

	var wg sync.WaitGroup
	hostile := func(n int, run func(ctx context.Context, rng *rand.Rand)) {
		for i := 0; i < n; i++ {
			wg.Add(1)
			rng := rand.New(rand.NewPCG(uint64(i), uint64(n)))
			go func() {
				defer wg.Done()
				for ctx.Err() == nil {
					run(ctx, rng)
				}
			}()
		}
	}
	dial := func(ctx context.Context, kind transport.Kind) transport.Conn {
		dctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		c, err := transport.Dial(dctx, srv.URL(), transport.DialOptions{Transport: kind, TrustServerCertHash: true, Logger: servertest.Logger(t)})
		if err != nil {
			return nil
		}
		return c
	}
	kindOf := func(rng *rand.Rand) transport.Kind {
		if rng.IntN(2) == 0 {
			return transport.WebTransport
		}
		return transport.WebSocket
	}
	// join says hello over a random transport; stop is closed when the
	// server throws the connection out.
	join := func(ctx context.Context, rng *rand.Rand) (c transport.Conn, stop chan struct{}) {
		if c = dial(ctx, kindOf(rng)); c == nil {
			return nil, nil
		}
		sendHelloCtx(c)
		stop = make(chan struct{})
		go func() { readUntilDisconnect(ctx, c); close(stop) }()
		return c, stop
	}
	hostile(25, func(ctx context.Context, rng *rand.Rand) { // flooders
		c, stop := join(ctx, rng)
		if c == nil {
			return
		}
		defer c.Close()
		flood(ctx, c, 400, stop)
	})
	hostile(10, func(ctx context.Context, rng *rand.Rand) { // garbage
		c, stop := join(ctx, rng)
		if c == nil {
			return
		}
		defer c.Close()
		for {
			select {
			case <-stop:
				return
			case <-ctx.Done():
				return
			case <-time.After(5 * time.Millisecond):
			}
			b := make([]byte, 1+rng.IntN(transport.MaxDatagramSize-1))
			for i := range b {
				b[i] = byte(rng.Uint32())
			}
			_ = c.SendDatagram(b)
		}
	})
	hostile(5, func(ctx context.Context, rng *rand.Rand) { // never say hello
		c := dial(ctx, kindOf(rng))
		if c == nil {
			return
		}
		defer c.Close()
		readUntilDisconnect(ctx, c)
	})
	measure("with hostile")
	cancel()
	wg.Wait()
}

func sendHelloCtx(c transport.Conn) {
	_ = c.SendMessage(wire.MarshalControl(&pb.Packet{Body: &pb.Packet_Hello{Hello: &pb.ClientHello{ProtocolVersion: wire.ProtocolVersion, PlayerName: "hostile"}}}))
}

// driveInputs sends every player an input each tick, circling, until ctx
// is done: honest players as a bot would play them.
func driveInputs(ctx context.Context, ps []*player, tickRate int) {
	t := time.NewTicker(time.Second / time.Duration(tickRate))
	defer t.Stop()
	for n := 0; ; n++ {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		for i, p := range ps {
			a := float64(n)/float64(tickRate) + float64(i)
			_, _ = p.SendInput(math.Cos(a), math.Sin(a), a, n%8 == 0)
		}
	}
}
