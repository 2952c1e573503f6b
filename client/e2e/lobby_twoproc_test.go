package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/tickwire/tickwire/client/probe"
	"github.com/tickwire/tickwire/client/web"
	"github.com/tickwire/tickwire/game"
	"github.com/tickwire/tickwire/netcode/server"
	"github.com/tickwire/tickwire/netcode/server/directory"
	"github.com/tickwire/tickwire/netcode/server/servertest"
	"github.com/tickwire/tickwire/netcode/transport"
)

// TestBrowserLobbyListsBothServersAndJoinsTheOtherOverWebTransport: two
// servers share a room directory (the in-memory one; cmd/bots and
// cmd/server test the same across a real Redis) and require join
// tokens. The page comes from A; its lobby lists A's rooms and B's (a
// screenshot of it lands in the test's artifacts); a click on B's room
// joins it on B over WebTransport (B allows A's page as an origin); Esc
// returns to the lobby and B drops the player.
func TestBrowserLobbyListsBothServersAndJoinsTheOtherOverWebTransport(t *testing.T) {
	if _, err := exec.LookPath(chromiumPath()); err != nil {
		need(t, "chromium")
	}
	dir := &directory.Memory{}
	a := servertest.Start(t, &server.Server{ProcessID: "proc-a", Directory: dir, Handler: web.Handler(webDist(t)),
		Game: game.Config{MaxPlayers: 8, Size: arenaSize}, TokenSecret: tokenSecret, RequireTokens: true})
	b := servertest.Start(t, &server.Server{ProcessID: "proc-b", Directory: dir, AllowedOrigins: []string{a.URL()},
		Game: game.Config{MaxPlayers: 8, Size: arenaSize}, TokenSecret: tokenSecret, RequireTokens: true})
	if _, err := a.CreateRoom(server.RoomOptions{ID: "on-a"}); err != nil {
		t.Fatal(err)
	}
	if _, err := b.CreateRoom(server.RoomOptions{ID: "on-b"}); err != nil {
		t.Fatal(err)
	}
	browserCtx := startBrowser(t, chromiumPath())
	p := openPage(t, browserCtx, a, "?name=traveller")
	st := p.waitScreen(t, "the lobby listing both servers' rooms", 60*time.Second, func(s probe.State) bool {
		_, onA := s.Row("on-a")
		_, onB := s.Row("on-b")
		return s.Screen == probe.Lobby && onA && onB
	})
	png, err := chromedp.Run(p.ctx, chromedp.CaptureScreenshot())
	if err != nil {
		t.Fatal(err)
	}
	shot := filepath.Join(t.ArtifactDir(), "lobby-two-servers.png")
	if err := os.WriteFile(shot, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("lobby screenshot: %s (%d bytes)", shot, len(png))

	row, _ := st.Row("on-b")
	p.click(t, "on-b's row", row.Rect)
	sess := waitSession(t, b, "traveller", 60*time.Second)
	if sess.Room != "on-b" || sess.Transport != transport.WebTransport {
		t.Fatalf("clicking on-b joined %q on B over %s; want on-b over webtransport", sess.Room, sess.Transport)
	}
	p.waitScreen(t, "the playing screen on B", 30*time.Second, func(s probe.State) bool {
		return s.Screen == probe.Playing && s.Room == "on-b" && s.Server == b.URL()
	})
	p.press(t, "Escape", "Escape", 27)
	p.waitScreen(t, "the lobby after Esc", 20*time.Second, func(s probe.State) bool { return s.Screen == probe.Lobby })
	waitNoSession(t, b, "traveller", "on-b", 10*time.Second)
}
