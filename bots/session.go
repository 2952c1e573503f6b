//go:build !tickwire_clientnet

package bots

// This file is the swarm's only contact with the client netcode: the
// adapter of shared/client-api.md. Today it uses what exists on main
// (netcode.Connect, Client.SendInput, ClientConfig.OnSnapshot, Client.Stats,
// Client.RTT). At merge with the client netcode (issue 4) the lead deletes
// this file and the build tag of session_clientnet.go, which uses
// Client.InputsDue, Client.Frame, Client.NetStats and ClientConfig.WrapConn
// with netcode.LinkSim (the places marked MERGE here).

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/tickwire/tickwire/game"
	"github.com/tickwire/tickwire/netcode"
)

// errNoLinkSim is returned while the client netcode has no link simulator.
var errNoLinkSim = errors.New("link impairment needs the client netcode (netcode.LinkSim); not merged yet")

// sessionConfig is what one bot's session needs.
type sessionConfig struct {
	Server    string
	Name      string
	Transport netcode.TransportKind
	Up, Down  Link
	Seed      int64
	// OnSnapshot is called on the session's reader goroutine for every
	// in-order snapshot.
	OnSnapshot func(h *netcode.SnapshotHeader)
	Logger     *slog.Logger
}

// session is one bot's client session.
type session struct {
	c *netcode.Client

	// The input clock of this adapter (MERGE: replaced by c.InputsDue):
	// one input per tick period from the welcome on.
	period   time.Duration
	start    time.Time
	sent     int64
	lastTick uint32 // tick of the newest input sent

	frame frameStats // MERGE: a netcode.Frame reused by c.Frame
}

// frameStats is what one display frame reported (MERGE: netcode.Frame).
type frameStats struct{}

// checkLink says whether sessions can impair their links as asked.
// MERGE: return nil.
func checkLink(up, down Link) error {
	if up.active() || down.active() {
		return errNoLinkSim
	}
	return nil
}

func dialSession(ctx context.Context, cfg sessionConfig) (*session, error) {
	if err := checkLink(cfg.Up, cfg.Down); err != nil {
		// MERGE: set ClientConfig.WrapConn to
		//   netcode.LinkSim{Up: netcode.LinkConfig(cfg.Up), Down: netcode.LinkConfig(cfg.Down), Seed: cfg.Seed}.Wrap
		return nil, err
	}
	c, err := netcode.Connect(ctx, netcode.ClientConfig{
		Server: cfg.Server,
		Name:   cfg.Name,
		Dial: netcode.DialOptions{
			Transport:           cfg.Transport,
			TrustServerCertHash: true,
			Logger:              cfg.Logger,
		},
		OnSnapshot: func(_ *game.Snapshot, h *netcode.SnapshotHeader) {
			if cfg.OnSnapshot != nil {
				cfg.OnSnapshot(h)
			}
		},
		Logger: cfg.Logger,
	})
	if err != nil {
		return nil, err
	}
	rate := c.Params().TickRate
	return &session{c: c, period: time.Second / time.Duration(rate), start: time.Now()}, nil
}

// maxBurst caps the inputs sent at once after the scheduler stalled: a
// stalled client skips inputs rather than flooding the server.
const maxBurst = 3

// maxLeadTicks is how far past the server's newest snapshot, beyond one
// round trip, this adapter lets input ticks run.
const maxLeadTicks = 4

// InputsDue says how many inputs to send now (MERGE: c.InputsDue(now)).
//
// Interim: one input per tick period of wall time, except while the inputs
// already sent are more than a round trip plus maxLeadTicks ahead of the
// newest snapshot. That happens when the server's loop runs slow (missed
// ticks): SendInput stamps every input one tick past the previous, so a
// wall-clock sender would otherwise run ahead of a slow server without
// bound, and input latency would grow until the server drops the inputs
// as too far in the future.
func (s *session) InputsDue(now time.Time) int {
	due := int64(now.Sub(s.start)/s.period) + 1 - s.sent
	if due <= 0 {
		return 0
	}
	if due > maxBurst {
		s.sent += due - maxBurst
		due = maxBurst
	}
	s.sent += due
	lead := uint32(s.c.RTT()/s.period) + maxLeadTicks
	if ack := s.c.AckTick(); ack != 0 && s.lastTick > ack+lead {
		return 0 // the server is behind: skip these ticks, as it did
	}
	return int(due)
}

// SendInput sends one input; it returns the input as stamped.
func (s *session) SendInput(in game.Input) (game.Input, error) {
	sent, err := s.c.SendInput(in.Controls())
	if err == nil {
		s.lastTick = sent.Tick
	}
	return sent, err
}

// Frame renders one display frame's bookkeeping (interpolation health).
// MERGE: s.c.Frame(now, &s.frame).
func (s *session) Frame(now time.Time) {}

// sessionStats are one session's cumulative counters.
type sessionStats struct {
	BytesIn, BytesOut   int64 // application bytes
	SnapshotsReceived   int64
	HasFrames           bool // false until the client netcode reports frames
	FramesInterpolated  int64
	FramesExtrapolated  int64
	FramesHeld          int64
	HasCorrections      bool
	Corrections         int64
	DatagramsDroppedOut int64
}

func (s *session) Stats() sessionStats {
	st := s.c.Stats()
	out := sessionStats{BytesIn: st.BytesIn, BytesOut: st.BytesOut, SnapshotsReceived: st.SnapshotsReceived}
	// MERGE: ns := s.c.NetStats(); set HasFrames, Frames*, HasCorrections,
	// Corrections from it.
	return out
}

func (s *session) TickRate() int                    { return s.c.Params().TickRate }
func (s *session) RTT() time.Duration               { return s.c.RTT() }
func (s *session) Transport() netcode.TransportKind { return s.c.Transport() }
func (s *session) Done() <-chan struct{}            { return s.c.Done() }
func (s *session) Err() error                       { return s.c.Err() }
func (s *session) Close() error                     { return s.c.Close() }
