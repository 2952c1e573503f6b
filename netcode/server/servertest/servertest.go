// Package servertest starts real Tickwire servers for tests, the way
// net/http/httptest starts HTTP servers: on a free loopback port, ready
// before the call returns, stopped (and checked for a clean exit) when
// the test ends. Every test that needs a running server uses it, from any
// package; the server's own tests reach it from package server_test.
//
// It must not be imported by non-test code.
package servertest

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/tickwire/tickwire/netcode/server"
)

// Start runs srv until the test ends and returns it once it is ready to
// accept players. srv is configured by the caller (its zero value is a
// local server with the default room); Start fills in only what a test
// server must have: Addr, when empty, becomes a free port on 127.0.0.1,
// and Logger, when nil, becomes Logger(tb). A server that fails to start
// fails the test; one that does not stop cleanly at the end is an error.
func Start(tb testing.TB, srv *server.Server) *server.Server {
	tb.Helper()
	if srv.Addr == "" {
		srv.Addr = "127.0.0.1:0"
	}
	if srv.Logger == nil {
		srv.Logger = Logger(tb)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{cancel: cancel, done: make(chan struct{})}
	go func() { r.err = srv.Run(ctx); close(r.done) }()
	select {
	case <-srv.Ready():
	case <-r.done:
		cancel()
		tb.Fatalf("server did not start: %v", r.err)
	}
	runningServers.Store(srv, r)
	tb.Cleanup(func() {
		if err := Stop(srv); err != nil {
			tb.Errorf("server: %v", err)
		}
	})
	return srv
}

// running is a server Start started.
type running struct {
	cancel context.CancelFunc
	done   chan struct{} // closed when Run has returned err
	err    error
}

var runningServers sync.Map // *server.Server -> *running

// Stop shuts down a server Start started, before the test ends (to see
// what its players do when it goes away, or to start another on its
// address), and returns what its Run returned. Stopping it again, or at
// the end of the test, does nothing more.
func Stop(srv *server.Server) error {
	v, ok := runningServers.Load(srv)
	if !ok {
		return nil
	}
	r := v.(*running)
	r.cancel()
	<-r.done
	return r.err
}

// Logger is a logger for the servers and clients of a test: its lines go
// to the test's log (at debug level) under go test -v, and nowhere
// otherwise.
func Logger(tb testing.TB) *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(testWriter{tb}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

type testWriter struct{ tb testing.TB }

func (w testWriter) Write(p []byte) (int, error) { w.tb.Log(string(p)); return len(p), nil }

// WaitFor polls cond until it holds, failing the test if it does not
// within d. Use it only where there is no signal to wait on (state spread
// over a server's goroutines, such as its session list); d bounds a
// failure, it is not a synchronisation.
func WaitFor(tb testing.TB, d time.Duration, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("condition not met within %v", d)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
