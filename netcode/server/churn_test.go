package server_test

import (
	"context"
	"os"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/tickwire/tickwire/game"
	"github.com/tickwire/tickwire/netcode/client"
	"github.com/tickwire/tickwire/netcode/server"
	"github.com/tickwire/tickwire/netcode/server/servertest"
	"github.com/tickwire/tickwire/netcode/transport"
	"github.com/tickwire/tickwire/netcode/wire"
)

// TestChurnLeavesNoGoroutinesOrHeapBehind connects and disconnects clients
// over both transports, each waiting for its first snapshot before saying
// goodbye, then checks that the server's goroutines and live heap are back
// near where they started. TICKWIRE_CHURN_CYCLES sets the number of cycles
// (10000 for the figure; CI runs fewer under the race detector).
func TestChurnLeavesNoGoroutinesOrHeapBehind(t *testing.T) {
	cycles := 300
	if s := os.Getenv("TICKWIRE_CHURN_CYCLES"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil {
			t.Fatalf("TICKWIRE_CHURN_CYCLES: %v", err)
		}
		cycles = n
	} else if testing.Short() {
		cycles = 50
	}
	srv := servertest.Start(t, &server.Server{})
	// One warm-up cycle per transport, so lazily started pieces (quic-go's
	// listener goroutines, pools) count in the baseline.
	for _, kind := range []transport.Kind{transport.WebTransport, transport.WebSocket} {
		churnOnce(t, srv, kind)
	}
	waitSessions(t, srv, 0)
	goroutines0, heap0 := settledFootprint()

	start := time.Now()
	for i := 0; i < cycles; i++ {
		kind := transport.WebTransport
		if i%2 == 1 {
			kind = transport.WebSocket
		}
		churnOnce(t, srv, kind)
	}
	elapsed := time.Since(start)
	waitSessions(t, srv, 0)

	// Closing is asynchronous on both sides (QUIC connections linger for
	// their close grace): poll, bounded, until the footprint settles.
	const extraGoroutines, extraHeap = 10, 8 << 20
	deadline := time.Now().Add(30 * time.Second)
	var goroutines int
	var heap uint64
	for {
		goroutines, heap = settledFootprint()
		if goroutines <= goroutines0+extraGoroutines && heap <= heap0+extraHeap {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %d cycles: %d goroutines (started with %d), live heap %.1f MiB (started with %.1f MiB)",
				cycles, goroutines, goroutines0, mib(heap), mib(heap0))
		}
		time.Sleep(100 * time.Millisecond) // polling a footprint: there is no signal to await
	}
	t.Logf("%d connect/snapshot/goodbye cycles in %v; goroutines %d -> %d, live heap %.1f -> %.1f MiB",
		cycles, elapsed.Round(time.Millisecond), goroutines0, goroutines, mib(heap0), mib(heap))
}

func churnOnce(t *testing.T, srv *server.Server, kind transport.Kind) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	got := make(chan struct{}, 1)
	c, err := client.Connect(ctx, client.Config{
		Server: srv.URL(),
		Name:   "churn",
		Dial:   transport.DialOptions{Transport: kind, TrustServerCertHash: true},
		Logger: servertest.Logger(t),
		OnSnapshot: func(*game.Snapshot, *wire.SnapshotHeader) {
			select {
			case got <- struct{}{}:
			default:
			}
		},
	})
	if err != nil {
		t.Fatalf("connect over %s: %v", kind, err)
	}
	select {
	case <-got:
	case <-ctx.Done():
		t.Fatalf("no snapshot over %s within 20 s", kind)
	}
	if err := c.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
}

// waitSessions waits, bounded, until the server holds n sessions.
func waitSessions(t *testing.T, srv *server.Server, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for len(srv.Sessions()) != n {
		if time.Now().After(deadline) {
			t.Fatalf("server holds %d sessions, want %d", len(srv.Sessions()), n)
		}
		time.Sleep(10 * time.Millisecond) // polling server state: no signal exists
	}
}

func settledFootprint() (goroutines int, heap uint64) {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return runtime.NumGoroutine(), ms.HeapAlloc
}

func mib(b uint64) float64 { return float64(b) / (1 << 20) }
