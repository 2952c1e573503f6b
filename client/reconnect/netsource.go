package reconnect

// NetSource is the game's view of one client.Client: the client netcode
// (clock sync, interpolation, prediction, input pacing) lives in
// netcode/client, shared with the bots; this file only adds the roster's
// names.

import (
	"context"
	"slices"
	"sync"
	"time"

	"github.com/tickwire/tickwire/game"
	"github.com/tickwire/tickwire/netcode/client"
	"github.com/tickwire/tickwire/netcode/wire"
)

// Frame, FrameProjectile and NetStats are the client netcode's.
type (
	Frame           = client.Frame
	FrameProjectile = client.FrameProjectile
	NetStats        = client.NetStats
)

// NetSource is one connected session as the game sees it.
type NetSource struct {
	*client.Client

	mu         sync.Mutex
	names      map[game.EntityID]string
	players    []game.EntityID // the roster's, by ID
	spectators int
	rosterRev  uint64
}

// Connect dials the server and joins; cfg.OnRoster is the source's.
func Connect(ctx context.Context, cfg client.Config) (*NetSource, error) {
	s := &NetSource{}
	cfg.OnRoster = s.onRoster
	c, err := client.Connect(ctx, cfg)
	if err != nil {
		return nil, err
	}
	s.Client = c
	return s, nil
}

// ResumeToken is the token to send when reconnecting.
func (s *NetSource) ResumeToken() []byte { return s.Welcome().GetResumeToken() }

// onRoster keeps the newest roster's names.
func (s *NetSource) onRoster(r *wire.Roster) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if r.Revision <= s.rosterRev && s.names != nil {
		return
	}
	s.rosterRev, s.spectators = r.Revision, r.Spectators
	s.names = make(map[game.EntityID]string, len(r.Players))
	s.players = s.players[:0]
	for _, p := range r.Players {
		s.names[p.Entity] = p.Name
		s.players = append(s.players, p.Entity)
	}
	slices.Sort(s.players)
}

// Players appends the roster's players to dst, by entity ID: for a
// spectator to choose whom to follow, whoever is in view.
func (s *NetSource) Players(dst []game.EntityID) []game.EntityID {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append(dst, s.players...)
}

// Spectators is how many watch the room, from the roster.
func (s *NetSource) Spectators() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.spectators
}

// Name is a player's name from the server's roster.
func (s *NetSource) Name(id game.EntityID) (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n, ok := s.names[id]
	return n, ok
}

// maxInputsDue bounds the inputs sent in one frame after a slow one; after
// a longer stall (a hidden tab) the old intent is not worth replaying.
const maxInputsDue = 3

// InputsDue is the client netcode's, bounded for a frame loop.
func (s *NetSource) InputsDue(now time.Time) int { return min(s.Client.InputsDue(now), maxInputsDue) }
