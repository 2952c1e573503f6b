package reconnect

// NetSource is the game's view of one client.Client: the client netcode
// (clock sync, interpolation, prediction, input pacing) lives in
// netcode/client, shared with the bots; this file only adds the roster's
// names.

import (
	"context"
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

	mu        sync.Mutex
	names     map[game.EntityID]string
	rosterRev uint64
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
	s.rosterRev = r.Revision
	s.names = make(map[game.EntityID]string, len(r.Players))
	for _, p := range r.Players {
		s.names[p.Entity] = p.Name
	}
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
