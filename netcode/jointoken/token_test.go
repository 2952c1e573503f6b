package jointoken

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	pb "github.com/tickwire/tickwire/proto/tickwire/v1"
)

var testSecret = []byte("0123456789abcdef0123456789abcdef")

func mustSigner(t testing.TB) *TokenSigner {
	t.Helper()
	s, err := NewTokenSigner(testSecret)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestTokenVerifyRefusesEachBadTokenWithItsOwnError(t *testing.T) {
	s := mustSigner(t)
	now := time.Unix(1_800_000_000, 0)
	good, err := s.Sign(TokenClaims{Room: "arena-1", PlayerID: "p42", PlayerName: "ana", Expires: now.Add(time.Minute).Unix()})
	if err != nil {
		t.Fatal(err)
	}
	expired, _ := s.Sign(TokenClaims{Room: "arena-1", Expires: now.Add(-time.Second).Unix()})
	other, _ := NewTokenSigner([]byte("another secret of 32 bytes......"))
	foreign, _ := other.Sign(TokenClaims{Room: "arena-1", Expires: now.Add(time.Minute).Unix()})
	// Flip one character of the claims: the signature no longer matches.
	tampered := []byte(good)
	tampered[len(tokenPrefix)+3] ^= 1
	tests := []struct {
		name, tok, room string
		want            error
	}{
		{"valid", good, "arena-1", nil},
		{"valid for any room", good, "", nil},
		{"missing", "", "arena-1", ErrTokenMissing},
		{"expired", expired, "arena-1", ErrTokenExpired},
		{"tampered", string(tampered), "arena-1", ErrTokenSignature},
		{"other secret", foreign, "arena-1", ErrTokenSignature},
		{"wrong room", good, "arena-2", ErrTokenWrongRoom},
		{"garbage", "hello", "arena-1", ErrTokenMalformed},
		{"no signature", "tw1.abc", "arena-1", ErrTokenMalformed},
		{"too long", "tw1." + strings.Repeat("a", MaxTokenBytes), "arena-1", ErrTokenMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := s.Verify(tt.tok, tt.room, now)
			if !errors.Is(err, tt.want) {
				t.Fatalf("Verify = %v, want %v", err, tt.want)
			}
			if tt.want == nil && (c.Room != "arena-1" || c.PlayerID != "p42" || c.PlayerName != "ana") {
				t.Errorf("claims = %+v", c)
			}
		})
	}
}

func TestTokenSignerRefusesShortSecret(t *testing.T) {
	if _, err := NewTokenSigner([]byte("short")); err == nil {
		t.Fatal("accepted a 5-byte secret")
	}
}

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
	good, _ := s.Sign(TokenClaims{Room: "blue", PlayerID: "p1", PlayerName: "from-token", Expires: exp})
	expired, _ := s.Sign(TokenClaims{Room: "blue", Expires: time.Now().Add(-time.Minute).Unix()})
	tampered := strings.Replace(good, good[len(good)-6:], "AAAAAA", 1)
	tests := []struct {
		name, tok, room, text string
	}{
		{"missing", "", "blue", ErrTokenMissing.Error()},
		{"expired", expired, "blue", ErrTokenExpired.Error()},
		{"tampered", tampered, "blue", ErrTokenSignature.Error()},
		{"wrong room", good, DefaultRoom, ErrTokenWrongRoom.Error()},
	}
	seen := map[string]bool{}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, kind := range []TransportKind{WebSocket, WebTransport} {
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

// FuzzVerifyToken feeds arbitrary strings to the token parser: it must
// never panic, and must accept nothing it did not sign.
func FuzzVerifyToken(f *testing.F) {
	s := mustSigner(f)
	good, _ := s.Sign(TokenClaims{Room: "r", PlayerID: "p", Expires: 1 << 40})
	for _, seed := range []string{good, "", "tw1.", "tw1..", "tw1.e30." + strings.Repeat("A", 43), good[:len(good)-1]} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, tok string) {
		c, err := s.Verify(tok, "", time.Unix(0, 0))
		if err == nil && tok != good {
			// Only a token the signer itself produces can pass.
			again, _ := s.Sign(c)
			if again != tok {
				t.Fatalf("accepted a token it did not sign: %q", tok)
			}
		}
	})
}
