package main

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tickwire/tickwire/client/reconnect"
	"github.com/tickwire/tickwire/game"
	"github.com/tickwire/tickwire/netcode/client"
	"github.com/tickwire/tickwire/netcode/transport"
	"github.com/tickwire/tickwire/netcode/wire"
)

// TestKilledServerRestartedUnderReconnectingClientsHasThemPlayingWithin5s
// SIGKILLs the real server binary under 20 reconnecting clients (the
// client/reconnect manager, both transports), starts a new one on the same
// port, and checks that every client is connected and receiving snapshots
// again within 5 s of the new server listening.
func TestKilledServerRestartedUnderReconnectingClientsHasThemPlayingWithin5s(t *testing.T) {
	p := startProc(t, nil)
	addr := strings.TrimPrefix(p.url, "http://")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	const n = 20
	type player struct {
		m     *reconnect.Manager[*reconnect.NetSource]
		snaps atomic.Int64
	}
	clients := make([]*player, n)
	runs := make(chan error, n)
	for i := range clients {
		c := &player{}
		kind := transport.WebTransport
		if i%2 == 1 {
			kind = transport.WebSocket
		}
		c.m = reconnect.New(reconnect.Config[*reconnect.NetSource]{
			Dial: func(ctx context.Context, resume []byte) (*reconnect.NetSource, error) {
				return reconnect.Connect(ctx, client.Config{
					Server: p.url, Name: fmt.Sprintf("bot%d", i), ResumeToken: resume,
					Dial:       transport.DialOptions{Transport: kind, TrustServerCertHash: true},
					OnSnapshot: func(*game.Snapshot, *wire.SnapshotHeader) { c.snaps.Add(1) },
					Logger:     quietLogger(),
				})
			},
		})
		clients[i] = c
		go func() { runs <- c.m.Run(ctx) }()
	}
	playing := func(since []int64) func() bool {
		return func() bool {
			for i, c := range clients {
				if c.m.Status().State != reconnect.Connected || c.snaps.Load() <= since[i] {
					return false
				}
			}
			return true
		}
	}
	waitUntil(t, 60*time.Second, "every client playing", playing(make([]int64, n)))

	if err := p.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	<-p.exited
	p2 := startProc(t, nil, "-addr", addr)
	ready := time.Now()
	if p2.url != p.url {
		t.Fatalf("restarted server at %s, want %s", p2.url, p.url)
	}
	// Snapshots counted from now on must come from the new server: the old
	// one is dead.
	since := make([]int64, n)
	for i, c := range clients {
		since[i] = c.snaps.Load()
	}
	backAt := make([]time.Duration, n)
	waitUntil(t, 30*time.Second, "every client playing on the restarted server", func() bool {
		for i, c := range clients {
			if backAt[i] == 0 && c.m.Status().State == reconnect.Connected && c.snaps.Load() > since[i] {
				backAt[i] = time.Since(ready)
			}
		}
		return playing(since)()
	})
	back := time.Since(ready)
	t.Logf("per client (even: WebTransport, odd: WebSocket): %v", backAt)
	t.Logf("all %d clients playing again %v after the restarted server listened", n, back.Round(time.Millisecond))
	if back > 5*time.Second {
		t.Errorf("clients took %v to play again, want at most 5 s", back)
	}
	cancel()
	for range clients {
		<-runs
	}
}
