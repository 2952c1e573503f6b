package e2e

import (
	"os/exec"
	"testing"
	"time"

	"github.com/tickwire/tickwire/client/probe"
	"github.com/tickwire/tickwire/game"
	"github.com/tickwire/tickwire/netcode/server"
	"github.com/tickwire/tickwire/netcode/transport"
)

// spectatorSession waits for the server's session of a spectator named
// name and returns it.
func spectatorSession(t *testing.T, srv *server.Server, name string, timeout time.Duration) server.SessionInfo {
	t.Helper()
	s := waitSession(t, srv, name, timeout)
	if !s.Spectator || s.Entity != 0 {
		t.Fatalf("%s's session is %+v, want a spectator without an entity", name, s)
	}
	return s
}

// TestBrowserSpectatorFollowsMovingPlayersAndTabSwitches opens
// ?spectate=default while three bots walk: the page watches without a
// player of its own (the room still holds three), starts on the free
// camera that shows them all, follows a player on Tab (the server learns
// whom), sees it move, follows another on the next Tab, and goes back to
// the free camera on F. A second page watches from the lobby's Watch
// button. Everything is read from the published probe state.
func TestBrowserSpectatorFollowsMovingPlayersAndTabSwitches(t *testing.T) {
	if _, err := exec.LookPath(chromiumPath()); err != nil {
		need(t, "chromium")
	}
	srv := startServer(t, true)
	const bots = 3
	startBots(t, srv, bots)
	browserCtx := startBrowser(t, chromiumPath())
	p := openPage(t, browserCtx, srv, "?name=watcher&spectate="+server.DefaultRoom)

	watching := func(s probe.State) bool {
		return s.Screen == probe.Playing && s.Watch != nil && s.Connection == "connected"
	}
	st := p.waitScreen(t, "the spectator's free camera showing every bot", 60*time.Second, func(s probe.State) bool {
		return watching(s) && s.Watch.Follow == 0 && s.Watch.Players == bots && s.Watch.Spectators == 1
	})
	if st.Room != server.DefaultRoom {
		t.Errorf("watching room %q, want %q", st.Room, server.DefaultRoom)
	}
	spectatorSession(t, srv, "watcher", 10*time.Second)
	if n := srv.Room().Players(); n != bots {
		t.Errorf("the room holds %d players with a spectator watching, want %d", n, bots)
	}

	follow := func(what string, not int) probe.State {
		t.Helper()
		p.press(t, "Tab", "Tab", 9)
		s := p.waitScreen(t, what, 10*time.Second, func(s probe.State) bool {
			return watching(s) && s.Watch.Follow != 0 && s.Watch.Follow != not && s.Watch.X != 0
		})
		var sess server.SessionInfo
		deadline := time.Now().Add(10 * time.Second)
		for sess = spectatorSession(t, srv, "watcher", time.Second); int(sess.Follow) != s.Watch.Follow; sess = spectatorSession(t, srv, "watcher", time.Second) {
			if time.Now().After(deadline) {
				t.Fatalf("the server has the spectator following %d, the page %d", sess.Follow, s.Watch.Follow)
			}
			time.Sleep(50 * time.Millisecond) // state spread over the server's goroutines: nothing to wait on
		}
		return s
	}
	first := follow("following a player after Tab", 0)
	moved := p.waitScreen(t, "the followed player moving", 10*time.Second, func(s probe.State) bool {
		return watching(s) && s.Watch.Follow == first.Watch.Follow && (s.Watch.X != first.Watch.X || s.Watch.Y != first.Watch.Y)
	})
	t.Logf("player %d moved from (%d, %d) to (%d, %d)", first.Watch.Follow, first.Watch.X, first.Watch.Y, moved.Watch.X, moved.Watch.Y)
	second := follow("following another player after the next Tab", first.Watch.Follow)
	t.Logf("Tab: following %d, then %d", first.Watch.Follow, second.Watch.Follow)

	p.press(t, "f", "KeyF", 70)
	p.waitScreen(t, "the free camera after F", 10*time.Second, func(s probe.State) bool {
		return watching(s) && s.Watch.Follow == 0 && s.Watch.Players == bots
	})

	// From the lobby: the Watch button watches the selected room.
	q := openPage(t, browserCtx, srv, "?name=lobbywatcher&transport=ws")
	lob := q.waitScreen(t, "the lobby listing the room", 60*time.Second, func(s probe.State) bool {
		return s.Screen == probe.Lobby && s.Selected == server.DefaultRoom && s.Buttons != nil
	})
	q.click(t, "Watch", lob.Buttons.Watch)
	q.waitScreen(t, "the lobby's spectator watching", 30*time.Second, func(s probe.State) bool {
		return watching(s) && s.Room == server.DefaultRoom && s.Watch.Players == bots && s.Watch.Spectators == 2
	})
	spectatorSession(t, srv, "lobbywatcher", 10*time.Second)
	if n := srv.Room().Players(); n != bots {
		t.Errorf("the room holds %d players with two spectators watching, want %d", n, bots)
	}
}

// TestDesktopClientSpectatesAFullRoom: `-spectate duel` against a server
// that requires join tokens watches duel, whose one seat is taken: the
// lobby's join to watch holds no seat, its token admits a spectator over
// WebTransport, and the screen shows the room's player and one spectator.
func TestDesktopClientSpectatesAFullRoom(t *testing.T) {
	srv := startLobbyServer(t, "", false)
	if _, err := srv.CreateRoom(server.RoomOptions{ID: "duel", Game: game.Config{MaxPlayers: 1, Size: arenaSize}}); err != nil {
		t.Fatal(err)
	}
	occupy(t, srv, "duel", "occupant")
	d := startDesktop(t, "-server", srv.URL(), "-name", "deskwatch", "-spectate", "duel", "-transport", "wt")
	sess := spectatorSession(t, srv, "deskwatch", 60*time.Second)
	if sess.Room != "duel" || sess.Transport != transport.WebTransport {
		t.Fatalf("watching room %q over %s, want duel over webtransport", sess.Room, sess.Transport)
	}
	d.waitScreen(t, "the spectator's screen in duel", 30*time.Second, func(s probe.State) bool {
		return s.Screen == probe.Playing && s.Room == "duel" && s.Connection == "connected" &&
			s.Watch != nil && s.Watch.Players == 1 && s.Watch.Spectators == 1
	})
}
