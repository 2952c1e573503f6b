package jointoken

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/tickwire/tickwire/netcode/wire"
)

// Join tokens let a lobby (or a game's own backend that shares the
// secret) decide who may join which room. A token is
//
//	"tw1." + base64url(JSON claims) + "." + base64url(HMAC-SHA256(secret, "tw1." + base64url(JSON claims)))
//
// with no padding. The claims name the room, the player and an expiry.
// The client sends the token in ClientHello.auth_token; the server checks
// it before it admits the player.

// MaxBytes bounds a join token; longer ones are refused unparsed.
const MaxBytes = 1024

// MinSecretBytes is the shortest HMAC secret NewSigner accepts.
const MinSecretBytes = 16

const tokenPrefix = "tw1."

// Claims is what a join token asserts.
type Claims struct {
	// Room is the room the holder may join.
	Room string `json:"room"`
	// PlayerID identifies the player for the game's backend (logs,
	// Agones player tracking). Optional.
	PlayerID string `json:"sub,omitempty"`
	// PlayerName, when set, replaces ClientHello.player_name.
	PlayerName string `json:"name,omitempty"`
	// Expires is when the token stops being accepted (Unix seconds).
	Expires int64 `json:"exp"`
}

// Token errors, one per way a token can be refused. Their texts are what
// the client reads in Disconnect{AUTH_FAILED}.
var (
	ErrMissing   = errors.New("join token required but none sent")
	ErrMalformed = errors.New("join token malformed")
	ErrSignature = errors.New("join token signature invalid")
	ErrExpired   = errors.New("join token expired")
	ErrWrongRoom = errors.New("join token is for another room")
)

// Signer issues and verifies join tokens with one shared secret. It
// is safe for concurrent use.
type Signer struct {
	key []byte
}

// NewSigner returns a signer for secret, which must be at least
// MinSecretBytes long.
func NewSigner(secret []byte) (*Signer, error) {
	if len(secret) < MinSecretBytes {
		return nil, fmt.Errorf("netcode: token secret is %d bytes, want at least %d", len(secret), MinSecretBytes)
	}
	return &Signer{key: append([]byte(nil), secret...)}, nil
}

// Sign returns the token for c.
func (s *Signer) Sign(c Claims) (string, error) {
	body, err := json.Marshal(c)
	if err != nil {
		return "", fmt.Errorf("netcode: signing token: %w", err)
	}
	signed := tokenPrefix + base64.RawURLEncoding.EncodeToString(body)
	tok := signed + "." + base64.RawURLEncoding.EncodeToString(s.mac(signed))
	if len(tok) > MaxBytes {
		return "", fmt.Errorf("netcode: signing token: %d bytes, over %d", len(tok), MaxBytes)
	}
	return tok, nil
}

func (s *Signer) mac(signed string) []byte {
	m := hmac.New(sha256.New, s.key)
	m.Write([]byte(signed))
	return m.Sum(nil)
}

// Verify checks tok's signature, then its expiry against now, then that
// it is for room (an empty room accepts any). Each failure wraps one of
// the Err* token errors.
func (s *Signer) Verify(tok, room string, now time.Time) (Claims, error) {
	if tok == "" {
		return Claims{}, ErrMissing
	}
	signed, sig, err := splitToken(tok)
	if err != nil {
		return Claims{}, err
	}
	if !hmac.Equal(sig, s.mac(signed)) {
		return Claims{}, ErrSignature
	}
	c, err := decodeClaims(signed)
	if err != nil {
		return Claims{}, err
	}
	if now.Unix() >= c.Expires {
		return c, fmt.Errorf("%w at %s", ErrExpired, time.Unix(c.Expires, 0).UTC().Format(time.RFC3339))
	}
	if room != "" && c.Room != room {
		return c, fmt.Errorf("%w: %q, not %q", ErrWrongRoom, c.Room, room)
	}
	return c, nil
}

// splitToken parses the token's shape: prefix, claims, signature.
func splitToken(tok string) (signed string, sig []byte, err error) {
	if len(tok) > MaxBytes || !strings.HasPrefix(tok, tokenPrefix) || !tokenAlphabet(tok) {
		return "", nil, ErrMalformed
	}
	dot := strings.LastIndexByte(tok, '.')
	if dot < len(tokenPrefix) {
		return "", nil, ErrMalformed
	}
	sig, err = base64.RawURLEncoding.Strict().DecodeString(tok[dot+1:])
	if err != nil || len(sig) != sha256.Size {
		return "", nil, ErrMalformed
	}
	return tok[:dot], sig, nil
}

// tokenAlphabet reports whether tok holds only base64url characters and
// dots. Go's base64 decoders skip '\r' and '\n', so without this check one
// signed token would have many accepted spellings.
func tokenAlphabet(tok string) bool {
	for i := 0; i < len(tok); i++ {
		switch c := tok[i]; {
		case c >= 'A' && c <= 'Z', c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '-', c == '_', c == '.':
		default:
			return false
		}
	}
	return true
}

// decodeClaims decodes and validates the claims of a signed prefix.
func decodeClaims(signed string) (Claims, error) {
	var c Claims
	body, err := base64.RawURLEncoding.Strict().DecodeString(signed[len(tokenPrefix):])
	if err != nil {
		return c, ErrMalformed
	}
	if err := json.Unmarshal(body, &c); err != nil {
		return c, ErrMalformed
	}
	if !wire.ValidRoomID(c.Room) || c.Expires <= 0 || len(c.PlayerID) > 128 {
		return c, ErrMalformed
	}
	if c.PlayerName != "" && wire.ValidatePlayerName(c.PlayerName) != nil {
		return c, ErrMalformed
	}
	return c, nil
}
