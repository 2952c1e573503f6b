package server

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tickwire/tickwire/netcode/transport"
	pb "github.com/tickwire/tickwire/proto/tickwire/v1"
)

// TestHelloWithBadTokenIsRefusedWithDistinctReasons runs real hellos
// against a server that requires tokens: missing, expired, tampered and
// wrong-room tokens each get AUTH_FAILED with their own text; a good one
// joins the token's room under the token's name.
func TestHelloWithBadTokenIsRefusedWithDistinctReasons(t *testing.T) {
	srv := startServer(t, &Server{TokenSecret: testSecret, RequireTokens: true})
	if _, err := srv.CreateRoom(RoomOptions{ID: "blue"}); err != nil {
		t.Fatal(err)
	}
	s := mustSigner(t)
	exp := time.Now().Add(time.Minute).Unix()
	good, _ := s.Sign(Claims{Room: "blue", PlayerID: "p1", PlayerName: "from-token", Expires: exp})
	expired, _ := s.Sign(Claims{Room: "blue", Expires: time.Now().Add(-time.Minute).Unix()})
	tampered := strings.Replace(good, good[len(good)-6:], "AAAAAA", 1)
	tests := []struct {
		name, tok, room, text string
	}{
		{"missing", "", "blue", ErrMissing.Error()},
		{"expired", expired, "blue", ErrExpired.Error()},
		{"tampered", tampered, "blue", ErrSignature.Error()},
		{"wrong room", good, DefaultRoom, ErrWrongRoom.Error()},
	}
	seen := map[string]bool{}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, kind := range []transport.Kind{WebSocket, WebTransport} {
				_, err := Connect(context.Background(), ClientConfig{
					Server: srv.URL(), Name: "x", AuthToken: tt.tok,
					Dial:   DialOptions{Transport: kind, TrustServerCertHash: true, Header: http.Header{RoomHeader: {tt.room}}},
					Logger: testLogger(t),
				})
				var de *DisconnectError
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
	c, err := Connect(context.Background(), ClientConfig{
		Server: srv.URL(), Name: "x", AuthToken: good,
		Dial:   DialOptions{Transport: WebSocket, TrustServerCertHash: true},
		Logger: testLogger(t),
	})
	if err != nil {
		t.Fatalf("good token: %v", err)
	}
	defer c.Close()
	var got []SessionInfo
	waitFor(t, 5*time.Second, func() bool { got = srv.Sessions(); return len(got) == 1 })
	if got[0].Room != "blue" || got[0].Name != "from-token" || got[0].PlayerID != "p1" {
		t.Errorf("session = %+v, want room blue, name and player from the token", got[0])
	}
}
