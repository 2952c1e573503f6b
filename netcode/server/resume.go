package server

import (
	"sync"
	"time"

	"github.com/tickwire/tickwire/game"
)

// DefaultResumeGrace is how long a player whose connection dropped stays
// in the world, waiting for its client to come back with the resume token.
const DefaultResumeGrace = 30 * time.Second

// parkedPlayer is a player whose connection ended without a goodbye: its
// entity stays in the world (idle: no inputs arrive) until it is resumed
// or its grace runs out.
type parkedPlayer struct {
	room     *room
	Room     string
	Entity   game.EntityID
	Name     string
	PlayerID string // from the join token that admitted it, if any
	Until    time.Time
}

// resumeBook maps resume tokens to parked players. Its zero value is
// ready to use; it is safe for concurrent use. Tokens are 128 random bits
// (newToken), so a map lookup by token leaks nothing useful by timing.
type resumeBook struct {
	mu     sync.Mutex
	parked map[string]parkedPlayer
	active map[string]*session // live sessions by the token they handed out
}

// register notes that ss is live under token.
func (b *resumeBook) register(token []byte, ss *session) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.active == nil {
		b.active = make(map[string]*session)
	}
	b.active[string(token)] = ss
}

// unregister forgets ss under token (if it is still the one registered).
func (b *resumeBook) unregister(token []byte, ss *session) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.active[string(token)] == ss {
		delete(b.active, string(token))
	}
}

// live is the session live under token, or nil.
func (b *resumeBook) live(token []byte) *session {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.active[string(token)]
}

// park remembers p under token until p.Until. A token parked twice keeps
// the newer entry.
func (b *resumeBook) park(token []byte, p parkedPlayer) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.parked == nil {
		b.parked = make(map[string]parkedPlayer)
	}
	b.parked[string(token)] = p
}

// peek returns the player parked under token, if its grace has not run
// out at now, and leaves it parked.
func (b *resumeBook) peek(token []byte, now time.Time) (parkedPlayer, bool) {
	return b.find(token, now, false)
}

// take removes and returns the player parked under token, if its grace has
// not run out at now. An expired entry stays for expire to hand back, so
// its entity is removed exactly once.
func (b *resumeBook) take(token []byte, now time.Time) (parkedPlayer, bool) {
	return b.find(token, now, true)
}

func (b *resumeBook) find(token []byte, now time.Time, remove bool) (parkedPlayer, bool) {
	if len(token) == 0 {
		return parkedPlayer{}, false
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	p, ok := b.parked[string(token)]
	if !ok || !now.Before(p.Until) {
		return parkedPlayer{}, false
	}
	if remove {
		delete(b.parked, string(token))
	}
	return p, true
}

// expire removes the players whose grace ran out by now and appends them
// to dst, for the caller to remove from their rooms.
func (b *resumeBook) expire(now time.Time, dst []parkedPlayer) []parkedPlayer {
	b.mu.Lock()
	defer b.mu.Unlock()
	for tok, p := range b.parked {
		if !now.Before(p.Until) {
			dst = append(dst, p)
			delete(b.parked, tok)
		}
	}
	return dst
}

// drain removes every parked player and appends them to dst (shutdown).
func (b *resumeBook) drain(dst []parkedPlayer) []parkedPlayer {
	b.mu.Lock()
	defer b.mu.Unlock()
	for tok, p := range b.parked {
		dst = append(dst, p)
		delete(b.parked, tok)
	}
	return dst
}

// len is the number of parked players.
func (b *resumeBook) len() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.parked)
}
