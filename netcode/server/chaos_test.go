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
// exactly the dead sessions. "Nearly" is measured against the same
// survivors' 60 ticks before the cut: a machine too loaded to deliver
// every snapshot (the race detector beside other test binaries) loses
// some in both windows; the deaths may cost at most 6 more.
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
		} else {
			survivors = append(survivors, p)
		}
	}
	before := snapshotsOver(t, srv, survivors, 60)
	for _, p := range players {
		if dead[p.Entity()] {
			_ = p.conn.Close() // no goodbye: the server finds out from the transport or the silence
		}
	}
	after := snapshotsOver(t, srv, survivors, 60)
	for i, p := range survivors {
		if after[i] < min(before[i], 60)-6 {
			t.Errorf("survivor %d (%s) got %d of the 60 snapshots after half the clients died, %d of 60 before", i, p.Transport(), after[i], before[i])
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

// snapshotsOver counts, for each of players, the snapshots it receives
// over the room's next ticks ticks: it waits for the room to compute them,
// then for every player to have seen the last of them (or a bound).
func snapshotsOver(t *testing.T, srv *server.Server, players []*player, ticks uint32) []int {
	t.Helper()
	start, startTick := tickCounts(players), srv.Room().CurrentTick()
	if err := srv.Room().WaitTick(t.Context(), startTick+ticks); err != nil {
		t.Fatal(err)
	}
	servertest.WaitFor(t, 10*time.Second, func() bool {
		for _, p := range players {
			p.mu.Lock()
			last := p.ticks[len(p.ticks)-1]
			p.mu.Unlock()
			if last < startTick+ticks {
				return false
			}
		}
		return true
	})
	end := tickCounts(players)
	for i := range end {
		end[i] -= start[i]
	}
	return end
}
