package server_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tickwire/tickwire/netcode/client"
	"github.com/tickwire/tickwire/netcode/jointoken"
	"github.com/tickwire/tickwire/netcode/server"
	"github.com/tickwire/tickwire/netcode/server/servertest"
	"github.com/tickwire/tickwire/netcode/transport"
	pb "github.com/tickwire/tickwire/proto/tickwire/v1"
)

var testSecret = []byte("0123456789abcdef0123456789abcdef")

func mustSigner(t testing.TB) *jointoken.Signer {
	t.Helper()
	s, err := jointoken.NewSigner(testSecret)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestHelloWithBadTokenIsRefusedWithDistinctReasons runs real hellos
// against a server that requires tokens: missing, expired, tampered and
// wrong-room tokens each get AUTH_FAILED with their own text; a good one
// joins the token's room under the token's name.
func TestHelloWithBadTokenIsRefusedWithDistinctReasons(t *testing.T) {
	srv := servertest.Start(t, &server.Server{TokenSecret: testSecret, RequireTokens: true})
	if _, err := srv.CreateRoom(server.RoomOptions{ID: "blue"}); err != nil {
		t.Fatal(err)
	}
	s := mustSigner(t)
	exp := time.Now().Add(time.Minute).Unix()
	good, _ := s.Sign(jointoken.Claims{Room: "blue", PlayerID: "p1", PlayerName: "from-token", Expires: exp})
	expired, _ := s.Sign(jointoken.Claims{Room: "blue", Expires: time.Now().Add(-time.Minute).Unix()})
	tampered := strings.Replace(good, good[len(good)-6:], "AAAAAA", 1)
	tests := []struct {
		name, tok, room, text string
	}{
		{"missing", "", "blue", jointoken.ErrMissing.Error()},
		{"expired", expired, "blue", jointoken.ErrExpired.Error()},
		{"tampered", tampered, "blue", jointoken.ErrSignature.Error()},
		{"wrong room", good, server.DefaultRoom, jointoken.ErrWrongRoom.Error()},
	}
	seen := map[string]bool{}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, kind := range []transport.Kind{transport.WebSocket, transport.WebTransport} {
				_, err := client.Connect(context.Background(), client.Config{
					Server: srv.URL(), Name: "x", AuthToken: tt.tok,
					Dial:   transport.DialOptions{Transport: kind, TrustServerCertHash: true, Header: http.Header{server.RoomHeader: {tt.room}}},
					Logger: servertest.Logger(t),
				})
				var de *client.DisconnectError
				if !errors.As(err, &de) || de.Reason != pb.DisconnectReason_DISCONNECT_REASON_AUTH_FAILED {
					t.Fatalf("%s: Connect = %v, want AUTH_FAILED", kind, err)
				}
				if !strings.Contains(de.Text, tt.text) {
					t.Errorf("%s: text %q does not say %q", kind, de.Text, tt.text)
				}
				seen[de.Text] = true
			}
		})
	}
	if len(seen) != len(tests) {
		t.Errorf("refusal texts not distinct: %v", seen)
	}
	c, err := client.Connect(context.Background(), client.Config{
		Server: srv.URL(), Name: "x", AuthToken: good,
		Dial:   transport.DialOptions{Transport: transport.WebSocket, TrustServerCertHash: true},
		Logger: servertest.Logger(t),
	})
	if err != nil {
		t.Fatalf("good token: %v", err)
	}
	defer c.Close()
	var got []server.SessionInfo
	servertest.WaitFor(t, 5*time.Second, func() bool { got = srv.Sessions(); return len(got) == 1 })
	if got[0].Room != "blue" || got[0].Name != "from-token" || got[0].PlayerID != "p1" {
		t.Errorf("session = %+v, want room blue, name and player from the token", got[0])
	}
}
