package client

import (
	"context"
	"time"

	"github.com/tickwire/tickwire/client/lobbyui"
	"github.com/tickwire/tickwire/client/reconnect"
	netclient "github.com/tickwire/tickwire/netcode/client"
	"github.com/tickwire/tickwire/netcode/transport"
)

// giveUpAfter is how long a game keeps failing to reconnect before it
// goes back to the lobby: past the server's resume grace (30 s) the
// player's place is gone anyway, and the lobby can offer another room.
const giveUpAfter = 45 * time.Second

// playSession is one game in one room, from the join to its end: the
// reconnect manager keeps it connected.
type playSession struct {
	to     lobbyui.Target
	mgr    *reconnect.Manager[*reconnect.NetSource]
	cancel context.CancelFunc
	done   chan struct{} // closed when the manager has stopped
	err    error         // why it stopped for good (nil: we stopped it); read after done
}

// startPlay leaves the lobby and plays at t.
func (g *Game) startPlay(t lobbyui.Target) {
	g.closeLobby()
	ctx, cancel := context.WithCancel(g.ctx)
	p := &playSession{to: t, cancel: cancel, done: make(chan struct{})}
	p.mgr = reconnect.New(reconnect.Config[*reconnect.NetSource]{
		Backoff:     g.cfg.Backoff,
		Retry:       lobbyui.Retry,
		GiveUpAfter: giveUpAfter,
		Dial: func(ctx context.Context, resume []byte) (*reconnect.NetSource, error) {
			return reconnect.Connect(ctx, g.sessionConfig(t, resume))
		},
		OnChange: func(s reconnect.Status) {
			g.log.Info("connection", "state", s.State.String(), "attempt", s.Attempt, "reason", s.Reason, "room", t.Room)
		},
	})
	go func() {
		p.err = p.mgr.Run(ctx)
		close(p.done)
	}()
	g.play = p
	g.frame, g.ownID, g.camX, g.camY = reconnect.Frame{}, 0, 0, 0
	g.watch = watchState{}
	g.statsMu.Lock()
	g.stats, g.fallback = reconnect.NetStats{}, "" // the last game's
	g.statsMu.Unlock()
	g.log.Info("playing", "server", t.Server, "room", t.Room, "token", t.Token != "", "spectate", t.Spectate)
}

// sessionConfig is the netcode session for t, offering resume (nil the
// first time). The join token goes with every attempt: within the
// resume grace the server takes the resume token even when the join
// token has expired by then.
func (g *Game) sessionConfig(t lobbyui.Target, resume []byte) netclient.Config {
	return netclient.Config{
		Server:      t.Server,
		Name:        g.cfg.Name,
		Room:        t.Room,
		AuthToken:   t.Token,
		ResumeToken: resume,
		Spectate:    t.Spectate,
		Dial: transport.DialOptions{
			Transport:           g.cfg.Transport,
			TrustServerCertHash: g.cfg.TrustCertHash,
			CertHashes:          t.CertHashes,
			Logger:              g.log,
			OnFallback: func(reason error) {
				g.statsMu.Lock()
				g.fallback = reason.Error()
				g.statsMu.Unlock()
			},
		},
		Logger: g.log,
	}
}

// leaveGame ends the game (Esc): the manager closes the session with a
// goodbye, so the server frees the player's place at once rather than
// holding it for a resume, and the lobby opens.
func (g *Game) leaveGame() {
	if g.play == nil {
		return
	}
	g.play.cancel()
	g.log.Info("left the game", "room", g.play.to.Room)
	g.play = nil
	g.openLobby("")
}

// checkEnded goes back to the lobby, saying why, when the game has ended
// for good (the server refused to take the player back, the room is
// gone, the server stayed unreachable), and reports whether it did.
func (g *Game) checkEnded() bool {
	p := g.play
	select {
	case <-p.done:
	default:
		return false
	}
	g.play = nil
	msg := ""
	if p.err != nil {
		msg = lobbyui.Ended(p.to.Room, p.err)
	}
	g.log.Info("game ended", "room", p.to.Room, "err", p.err)
	g.openLobby(msg)
	return true
}
