package bots

// A bot's session is a client.Client: the same client netcode (clock
// sync, interpolation bookkeeping, prediction, link impairment) as the
// Ebiten client, without rendering.

import (
	"context"
	"crypto/sha256"
	"log/slog"
	"time"

	"github.com/tickwire/tickwire/game"
	"github.com/tickwire/tickwire/netcode/client"
	"github.com/tickwire/tickwire/netcode/linksim"
	"github.com/tickwire/tickwire/netcode/transport"
	"github.com/tickwire/tickwire/netcode/wire"
)

// botServerTimeout is how long a bot hears nothing from the server
// before it gives up on its session.
const botServerTimeout = 10 * time.Second

type botClientConfig struct {
	Server    string
	Room      string
	Name      string
	AuthToken string // the lobby's join token, if any
	Transport transport.Kind
	Up, Down  Link
	Seed      int64
	// CertHashes, when set, pins the server's certificates (fetched once
	// for the whole swarm); nil: each bot fetches /cert-hash itself.
	CertHashes [][sha256.Size]byte
	OnSnapshot func(h *wire.SnapshotHeader)
	// Share decodes each distinct snapshot once for the whole swarm.
	Share *client.SnapshotShare
	// Socket is the swarm's shared UDP socket (nil: the bot's own).
	Socket *transport.Socket
	Logger *slog.Logger
}

type botClient struct {
	c *client.Client
}

// clientConfig is the client session a bot with cfg runs: its link
// impaired as cfg.Up and cfg.Down say (linksim), if at all.
func (cfg botClientConfig) clientConfig() client.Config {
	ccfg := client.Config{
		Server:    cfg.Server,
		Room:      cfg.Room,
		Name:      cfg.Name,
		AuthToken: cfg.AuthToken,
		Dial: transport.DialOptions{
			Transport:           cfg.Transport,
			CertHashes:          cfg.CertHashes,
			TrustServerCertHash: cfg.CertHashes == nil,
			Socket:              cfg.Socket,
			Logger:              cfg.Logger,
		},
		OnSnapshot: func(_ *game.Snapshot, h *wire.SnapshotHeader) {
			if cfg.OnSnapshot != nil {
				cfg.OnSnapshot(h)
			}
		},
		// A bot's process runs hundreds of sessions: when it is
		// saturated, readers wait their turn for seconds while the
		// server's packets sit unread, and the default 2 s would have
		// the bots hang up on a server that is fine. The server's own
		// timeouts still end sessions whose bots really went away.
		ServerTimeout: botServerTimeout,
		Share:         cfg.Share,
		Logger:        cfg.Logger,
	}
	if cfg.Up.active() || cfg.Down.active() {
		ccfg.WrapConn = linksim.Link{Up: linksim.Config(cfg.Up), Down: linksim.Config(cfg.Down), Seed: cfg.Seed}.Wrap
	}
	return ccfg
}

func dialBotClient(ctx context.Context, cfg botClientConfig) (*botClient, error) {
	c, err := client.Connect(ctx, cfg.clientConfig())
	if err != nil {
		return nil, err
	}
	return &botClient{c: c}, nil
}

func (s *botClient) InputsDue(now time.Time) int { return s.c.InputsDue(now) }

func (s *botClient) NextInputAt(now time.Time) time.Time { return s.c.NextInputAt(now) }

func (s *botClient) SendInput(in game.Input) (game.Input, error) { return s.c.SendInput(in.Controls()) }

// Frame does a display frame's interpolation bookkeeping: a bot draws
// nothing, so no entity is placed.
func (s *botClient) Frame(now time.Time) { s.c.CountFrame(now) }

type botClientStats struct {
	BytesIn, BytesOut   int64
	SnapshotsReceived   int64
	HasFrames           bool
	FramesInterpolated  int64
	FramesExtrapolated  int64
	FramesHeld          int64
	HasCorrections      bool
	Corrections         int64
	DatagramsDroppedOut int64
	HasShots            bool
	Shots               client.ShotStats
}

func (s *botClient) Stats() botClientStats {
	st, ns := s.c.Stats(), s.c.NetStats()
	return botClientStats{
		BytesIn: st.BytesIn, BytesOut: st.BytesOut, SnapshotsReceived: st.SnapshotsReceived,
		HasFrames: true, FramesInterpolated: ns.FramesInterpolated, FramesExtrapolated: ns.FramesExtrapolated,
		FramesHeld: ns.FramesHeld, HasCorrections: true, Corrections: ns.Corrections,
		HasShots: true, Shots: ns.Shots,
	}
}

func (s *botClient) TickRate() int         { return s.c.Params().TickRate }
func (s *botClient) RTT() time.Duration    { return s.c.RTT() }
func (s *botClient) Done() <-chan struct{} { return s.c.Done() }
func (s *botClient) Err() error            { return s.c.Err() }
func (s *botClient) Close() error          { return s.c.Close() }
