//go:build !js

package client_test

import (
	"context"
	"fmt"
	"math"
	"math/rand"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tickwire/tickwire/game"
	"github.com/tickwire/tickwire/netcode/client"
	"github.com/tickwire/tickwire/netcode/linksim"
	"github.com/tickwire/tickwire/netcode/server"
	"github.com/tickwire/tickwire/netcode/server/servertest"
	"github.com/tickwire/tickwire/netcode/transport"
	"github.com/tickwire/tickwire/netcode/wire"
)

// TestRealSocketsThroughLinkSimOnBothTransports runs the client netcode
// over real loopback sockets on both transports, each session wrapped in
// a linksim.Link at the reference impairment (150 ms RTT ±30 ms, 5 % loss both
// ways), on the real clock. The bounds are looser than the simulated
// runs' because a loaded host adds its own jitter.
// bothKinds are the transports a client can play over.
var bothKinds = []transport.Kind{transport.WebTransport, transport.WebSocket}

// sim5 is a long-distance link with some loss: 75 ms ± 15 ms each way,
// 5 % of datagrams lost.
var sim5 = linksim.Config{Latency: 75 * time.Millisecond, Jitter: 15 * time.Millisecond, Loss: 0.05}

func TestRealSocketsThroughLinkSimOnBothTransports(t *testing.T) {
	if testing.Short() {
		t.Skip("8 s of real time")
	}
	srv := servertest.Start(t, &server.Server{})
	for _, kind := range bothKinds {
		t.Run(string(kind), func(t *testing.T) {
			t.Parallel()
			const players = 2
			var wg sync.WaitGroup
			errs := make(chan error, players)
			for i := 0; i < players; i++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					errs <- playOverLinkSim(srv, kind, int64(i+1), 8*time.Second, t)
				}()
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				if err != nil {
					t.Error(err)
				}
			}
		})
	}
}

// playOverLinkSim connects one player through a linksim.Link, plays random
// inputs for d at 60 frames a second, and checks what it saw.
func playOverLinkSim(srv *server.Server, kind transport.Kind, seed int64, d time.Duration, t *testing.T) error {
	var lastApplied atomic.Uint32
	link := linksim.Link{Up: sim5, Down: sim5, Seed: seed}
	c, err := client.Connect(context.Background(), client.Config{
		Server: srv.URL(), Name: fmt.Sprintf("%s-%d", kind, seed),
		Dial:     transport.DialOptions{Transport: kind, TrustServerCertHash: true},
		WrapConn: link.Wrap, Logger: servertest.Logger(t),
		OnSnapshot: func(_ *game.Snapshot, h *wire.SnapshotHeader) { lastApplied.Store(h.LastInputTick) },
	})
	if err != nil {
		return err
	}
	defer c.Close()
	rng := rand.New(rand.NewSource(seed))
	var f client.Frame
	var mx, my, aim float64
	var lastSent uint32
	ticker := time.NewTicker(time.Second / 60)
	defer ticker.Stop()
	start := time.Now()
	var warm client.NetStats
	warmed := false
	for now := range ticker.C {
		if now.Sub(start) > d {
			break
		}
		if !warmed && now.Sub(start) > 3*time.Second {
			warm, warmed = c.NetStats(), true
		}
		if rng.Intn(60) == 0 {
			a := rng.Float64() * 2 * math.Pi
			mx, my, aim = math.Cos(a), math.Sin(a), a
		}
		for range c.InputsDue(now) {
			in, err := c.SendInput(mx, my, aim, false)
			if err != nil {
				return err
			}
			lastSent = in.Tick
		}
		c.Frame(now, &f)
	}
	// Every input reaches the server: the tail is repeated until acked.
	deadline := time.Now().Add(10 * time.Second)
	for lastApplied.Load() < lastSent {
		if time.Now().After(deadline) {
			return fmt.Errorf("%s: server applied inputs up to %d, last sent %d", kind, lastApplied.Load(), lastSent)
		}
		time.Sleep(10 * time.Millisecond) // polling; the reader repeats the tail, no signal to wait on
	}
	s := c.NetStats()
	frames := s.FramesInterpolated + s.FramesExtrapolated + s.FramesHeld - (warm.FramesInterpolated + warm.FramesExtrapolated + warm.FramesHeld)
	bad := s.FramesExtrapolated + s.FramesHeld - (warm.FramesExtrapolated + warm.FramesHeld)
	t.Logf("%s seed %d: rtt %v jitter %v loss %.3f/%.3f delay %v frames %d bad %d corrections %d p50 %.2f max %.2f K %d ack p50 %v p99 %v in %.0f B/s out %.0f B/s %.1f snap/s",
		kind, seed, s.RTT.Round(time.Millisecond), s.Jitter.Round(time.Millisecond), s.LossDown, s.LossUp, s.InterpDelay.Round(time.Millisecond),
		frames, bad, s.Corrections, s.CorrectionP50, s.CorrectionMax, s.Redundancy,
		s.InputAckP50.Round(time.Millisecond), s.InputAckP99.Round(time.Millisecond), s.BytesInPerSec, s.BytesOutPerSec, s.SnapshotsPerSec)
	switch {
	case c.Err() != nil:
		return fmt.Errorf("%s: session ended: %v", kind, c.Err())
	case s.RTT < 100*time.Millisecond || s.RTT > time.Second:
		return fmt.Errorf("%s: RTT %v through a 150 ms link", kind, s.RTT)
	case s.InterpDelay > time.Second: // a stall of the loaded host raises it at once; it shrinks at 5 ms/s
		return fmt.Errorf("%s: interpolation delay %v", kind, s.InterpDelay)
	case frames < 100 || float64(bad) > 0.1*float64(frames):
		return fmt.Errorf("%s: %d of %d frames extrapolated or held", kind, bad, frames)
	case s.CorrectionMax > c.Params().PlayerRadius:
		return fmt.Errorf("%s: correction of %.2f units", kind, s.CorrectionMax)
	case s.Redundancy < 3:
		return fmt.Errorf("%s: redundancy %d", kind, s.Redundancy)
	case !f.HasOwn:
		return fmt.Errorf("%s: no predicted own player", kind)
	}
	return nil
}

// TestClientEndsASessionWhoseServerFellSilent: a server that stops
// answering (crashed, or the network cut) ends the client's session after
// ServerTimeout, on WebTransport too, whose transport alone would wait for
// QUIC's idle timeout.
func TestClientEndsASessionWhoseServerFellSilent(t *testing.T) {
	srv := servertest.Start(t, &server.Server{})
	var cut atomic.Bool
	c, err := client.Connect(context.Background(), client.Config{
		Server: srv.URL(), Name: "lonely", ServerTimeout: time.Second, PingInterval: 100 * time.Millisecond,
		Dial:     transport.DialOptions{Transport: transport.WebTransport, TrustServerCertHash: true},
		WrapConn: func(c transport.Conn) transport.Conn { return &silencer{Conn: c, cut: &cut} },
		Logger:   servertest.Logger(t),
	})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	cut.Store(true)
	select {
	case <-c.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("session still up 10 s after the server fell silent")
	}
	if !strings.Contains(c.Err().Error(), "silent") {
		t.Fatalf("session ended with %v, want the server's silence", c.Err())
	}
}

// silencer drops everything received once cut is set.
type silencer struct {
	transport.Conn
	cut *atomic.Bool
}

func (s *silencer) Receive(ctx context.Context) ([]byte, bool, error) {
	for {
		b, reliable, err := s.Conn.Receive(ctx)
		if err != nil || !s.cut.Load() {
			return b, reliable, err
		}
	}
}
