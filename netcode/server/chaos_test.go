package server_test

import (
	"testing"
	"time"

	"github.com/tickwire/tickwire/game"
	"github.com/tickwire/tickwire/netcode/server"
	"github.com/tickwire/tickwire/netcode/server/servertest"
	"github.com/tickwire/tickwire/netcode/transport"
)

// TestHalfTheClientsDyingAtOnceLeavesTheOthersPlaying joins 200 sessions
// (60 under the race detector) over both transports, cuts half of their
// connections at once without a goodbye, and checks that the survivors
// keep receiving a snapshot for nearly every tick while the server ends
// exactly the dead sessions.
func TestHalfTheClientsDyingAtOnceLeavesTheOthersPlaying(t *testing.T) {
	if testing.Short() {
		t.Skip("hundreds of sessions")
	}
	n := 200
	if raceEnabled {
		n = 60
	}
	srv := servertest.Start(t, &server.Server{Game: game.Config{MaxPlayers: n}, IdleTimeout: 3 * time.Second})
	var players []*player
	for i := 0; i < n; i++ {
		kind := transport.WebTransport
		if i%4 >= 2 {
			kind = transport.WebSocket
		}
		players = append(players, connectPlayer(t, srv, "chaos", kind))
	}
	for _, p := range players {
		p.waitSeen(t)
	}
	var survivors []*player
	dead := map[game.EntityID]bool{}
	for i, p := range players {
		if i%2 == 0 {
			dead[p.Entity()] = true
			_ = p.conn.Close() // no goodbye: the server finds out from the transport or the silence
		} else {
			survivors = append(survivors, p)
		}
	}

	start, startTick := tickCounts(survivors), srv.Room().CurrentTick()
	if err := srv.Room().WaitTick(t.Context(), startTick+60); err != nil {
		t.Fatal(err)
	}
	// Give the last snapshot of that tick time to arrive: wait until every
	// survivor has seen it or a bound passes.
	servertest.WaitFor(t, 10*time.Second, func() bool {
		for _, p := range survivors {
			p.mu.Lock()
			last := p.ticks[len(p.ticks)-1]
			p.mu.Unlock()
			if last < startTick+60 {
				return false
			}
		}
		return true
	})
	end := tickCounts(survivors)
	for i, p := range survivors {
		if got := end[i] - start[i]; got < 54 {
			t.Errorf("survivor %d (%s) got %d of the 60 snapshots after half the clients died", i, p.Transport(), got)
		}
	}
	// Exactly the dead sessions end (the idle timeout bounds the wait for
	// connections that died silently).
	servertest.WaitFor(t, 15*time.Second, func() bool { return len(srv.Sessions()) == len(survivors) })
	for _, s := range srv.Sessions() {
		if dead[s.Entity] {
			t.Errorf("session of dead client %d still open", s.Entity)
		}
	}
}
