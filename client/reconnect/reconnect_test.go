//go:build !js

package reconnect

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/tickwire/tickwire/netcode/client"
	"github.com/tickwire/tickwire/netcode/server"
	"github.com/tickwire/tickwire/netcode/server/servertest"
	"github.com/tickwire/tickwire/netcode/transport"
	pb "github.com/tickwire/tickwire/proto/tickwire/v1"
)

const pbServerFull = pb.DisconnectReason_DISCONNECT_REASON_SERVER_FULL

// TestServerRestartShowsReasonThenReconnects: a real server shuts down;
// the client shows reconnecting with the server's reason, keeps trying
// while nothing listens, and is connected again once a server is back on
// the same address.
func TestServerRestartShowsReasonThenReconnects(t *testing.T) {
	srv := servertest.Start(t, &server.Server{})
	addr := strings.TrimPrefix(srv.URL(), "http://")
	statuses := make(chan Status, 256)
	m := New(Config[*NetSource]{
		Dial: func(ctx context.Context, resume []byte) (*NetSource, error) {
			return Connect(ctx, client.Config{
				Server: "http://" + addr, Name: "ann", ResumeToken: resume,
				Dial:   transport.DialOptions{Transport: transport.WebSocket, FallbackTimeout: time.Second},
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

	if err := servertest.Stop(srv); err != nil {
		t.Fatalf("server: %v", err)
	}
	s := await("reconnecting with the server's reason", func(s Status) bool { return s.State == Reconnecting && s.Reason != "" })
	// The server says SERVER_SHUTDOWN, but its goodbye races with the
	// closing connection (netcode's business), so any reason will do here;
	// TestRefusalShowsTheServersReason checks the text.
	t.Logf("reconnecting because: %s", s.Reason)
	await("a failed attempt while no server listens", func(s Status) bool { return s.State == Reconnecting && s.Attempt >= 2 })

	srv2 := servertest.Start(t, &server.Server{Addr: addr})
	await("connected to the restarted server", func(s Status) bool { return s.State == Connected })
	// The server registers the session just after sending the welcome.
	for found := false; !found; {
		for _, si := range srv2.Sessions() {
			found = found || si.Name == "ann"
		}
		if ctx.Err() != nil {
			t.Fatalf("restarted server has no session for ann: %+v", srv2.Sessions())
		}
		time.Sleep(10 * time.Millisecond) // polling the server's list; no signal to await
	}
	cancel()
	if err := <-runDone; err != nil {
		t.Errorf("Run: %v", err)
	}
}

func dialAs(addr, name string) func(ctx context.Context, resume []byte) (*NetSource, error) {
	return func(ctx context.Context, resume []byte) (*NetSource, error) {
		return Connect(ctx, client.Config{
			Server: addr, Name: name, ResumeToken: resume,
			Dial:   transport.DialOptions{Transport: transport.WebSocket},
			Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		})
	}
}

// TestRefusalShowsTheServersReason: a refusal the server would repeat (a
// bad name) ends in Disconnected with the server's words; a full room is
// worth retrying.
func TestRefusalShowsTheServersReason(t *testing.T) {
	srv := servertest.Start(t, &server.Server{})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	m := New(Config[*NetSource]{Dial: dialAs(srv.URL(), strings.Repeat("x", 40))})
	if err := m.Run(ctx); err == nil {
		t.Fatal("Run returned nil after a bad hello")
	}
	if st := m.Status(); st.State != Disconnected || !strings.Contains(st.Reason, "BAD_HELLO") || !strings.Contains(st.Reason, "32 bytes") {
		t.Errorf("after a bad name: %+v, want disconnected with the server's BAD_HELLO text", st)
	}
	if !Retryable(&client.DisconnectError{Reason: pbServerFull}) {
		t.Error("a full room is not retried")
	}
}
