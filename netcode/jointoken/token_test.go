package jointoken

import (
	"errors"
	"strings"
	"testing"
	"time"
)

var testSecret = []byte("0123456789abcdef0123456789abcdef")

func mustSigner(t testing.TB) *Signer {
	t.Helper()
	s, err := NewSigner(testSecret)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestTokenVerifyRefusesEachBadTokenWithItsOwnError(t *testing.T) {
	s := mustSigner(t)
	now := time.Unix(1_800_000_000, 0)
	good, err := s.Sign(Claims{Room: "arena-1", PlayerID: "p42", PlayerName: "ana", Expires: now.Add(time.Minute).Unix()})
	if err != nil {
		t.Fatal(err)
	}
	expired, _ := s.Sign(Claims{Room: "arena-1", Expires: now.Add(-time.Second).Unix()})
	other, _ := NewSigner([]byte("another secret of 32 bytes......"))
	foreign, _ := other.Sign(Claims{Room: "arena-1", Expires: now.Add(time.Minute).Unix()})
	// Flip one character of the claims: the signature no longer matches.
	tampered := []byte(good)
	tampered[len(tokenPrefix)+3] ^= 1
	tests := []struct {
		name, tok, room string
		want            error
	}{
		{"valid", good, "arena-1", nil},
		{"valid for any room", good, "", nil},
		{"missing", "", "arena-1", ErrMissing},
		{"expired", expired, "arena-1", ErrExpired},
		{"tampered", string(tampered), "arena-1", ErrSignature},
		{"other secret", foreign, "arena-1", ErrSignature},
		{"wrong room", good, "arena-2", ErrWrongRoom},
		{"garbage", "hello", "arena-1", ErrMalformed},
		{"no signature", "tw1.abc", "arena-1", ErrMalformed},
		{"too long", "tw1." + strings.Repeat("a", MaxBytes), "arena-1", ErrMalformed},
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
	if _, err := NewSigner([]byte("short")); err == nil {
		t.Fatal("accepted a 5-byte secret")
	}
}

// FuzzVerifyToken feeds arbitrary strings to the token parser: it must
// never panic, and must accept nothing it did not sign.
func FuzzVerifyToken(f *testing.F) {
	s := mustSigner(f)
	good, _ := s.Sign(Claims{Room: "r", PlayerID: "p", Expires: 1 << 40})
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
