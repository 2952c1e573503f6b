package session

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/tickwire/tickwire/netcode"
)

func runServer(t *testing.T, addr string) (*netcode.Server, context.CancelFunc, <-chan error) {
	t.Helper()
	srv := &netcode.Server{Addr: addr, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	select {
	case <-srv.Ready():
	case err := <-done:
		cancel()
		t.Fatalf("server on %s: %v", addr, err)
	}
	return srv, cancel, done
}

// TestServerRestartShowsReasonThenReconnects: a real server shuts down;
// the client shows reconnecting with the server's reason, keeps trying
// while nothing listens, and is connected again once a server is back on
// the same address.
func TestServerRestartShowsReasonThenReconnects(t *testing.T) {
	srv, stop, done := runServer(t, "127.0.0.1:0")
	addr := strings.TrimPrefix(srv.URL(), "http://")
	statuses := make(chan Status, 256)
	m := New(Config[*NetSource]{
		Dial: func(ctx context.Context, resume []byte) (*NetSource, error) {
			return Connect(ctx, netcode.ClientConfig{
				Server: "http://" + addr, Name: "ann", ResumeToken: resume,
				Dial:   netcode.DialOptions{Transport: netcode.WebSocket, FallbackTimeout: time.Second},
				Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
			})
		},
		Backoff:  Backoff{Initial: 20 * time.Millisecond, Max: 100 * time.Millisecond},
		OnChange: func(s Status) { statuses <- s },
	})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	runDone := make(chan error, 1)
	go func() { runDone <- m.Run(ctx) }()
	await := func(what string, ok func(Status) bool) Status {
		t.Helper()
		for {
			select {
			case s := <-statuses:
				if ok(s) {
					return s
				}
			case <-ctx.Done():
				t.Fatalf("never %s", what)
			}
		}
	}
	await("connected", func(s Status) bool { return s.State == Connected })
	cur, _ := m.Current()
	if len(cur.ResumeToken()) == 0 {
		t.Error("the welcome carried no resume token to offer on reconnect")
	}

	stop()
	if err := <-done; err != nil {
		t.Fatalf("server: %v", err)
	}
	s := await("reconnecting with the server's reason", func(s Status) bool { return s.State == Reconnecting && s.Reason != "" })
	if !strings.Contains(s.Reason, "SERVER_SHUTDOWN") {
		t.Errorf("reason %q does not say the server shut down", s.Reason)
	}
	await("a failed attempt while no server listens", func(s Status) bool { return s.State == Reconnecting && s.Attempt >= 2 })

	srv2, stop2, done2 := runServer(t, addr)
	defer func() { stop2(); <-done2 }()
	await("connected to the restarted server", func(s Status) bool { return s.State == Connected })
	found := false
	for _, si := range srv2.Sessions() {
		found = found || si.Name == "ann"
	}
	if !found {
		t.Errorf("restarted server has no session for ann: %+v", srv2.Sessions())
	}
	cancel()
	if err := <-runDone; err != nil {
		t.Errorf("Run: %v", err)
	}
}
