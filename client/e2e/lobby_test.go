package e2e

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/chromedp"

	"github.com/tickwire/tickwire/client/probe"
	"github.com/tickwire/tickwire/client/web"
	"github.com/tickwire/tickwire/game"
	"github.com/tickwire/tickwire/netcode/client"
	"github.com/tickwire/tickwire/netcode/lobby"
	"github.com/tickwire/tickwire/netcode/server"
	"github.com/tickwire/tickwire/netcode/server/servertest"
	"github.com/tickwire/tickwire/netcode/transport"
)

// The lobby screen, end to end: the desktop client under Xvfb joins the
// room -room names and quick-plays with -quick, both through the lobby's
// join tokens; the browser client opens on the lobby, joins a room by a
// click on its row, leaves with Esc, creates a room, and quick-plays
// with ?play=now. The tests see the screen through what the game
// publishes (package client/probe): the desktop's log lines, the page's
// window.tickwireState.

// tokenSecret makes the test servers issue join tokens and require them:
// a client that joined without the lobby would be refused.
var tokenSecret = []byte("e2e-lobby-secret-0123456789")

// startLobbyServer runs a server that requires the lobby's join tokens
// (on addr when not empty), serving the web client when withWeb is set.
func startLobbyServer(t *testing.T, addr string, withWeb bool) *server.Server {
	t.Helper()
	srv := &server.Server{
		Addr:          addr,
		Game:          game.Config{MaxPlayers: 8, Size: arenaSize, Seed: 7},
		TokenSecret:   tokenSecret,
		RequireTokens: true,
	}
	if withWeb {
		srv.Handler = web.Handler(webDist(t))
	}
	return servertest.Start(t, srv)
}

// syncBuffer is a bytes.Buffer a process writes while the test reads.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// desktop is the desktop client running under Xvfb.
type desktop struct {
	logs   *syncBuffer
	exited chan error
}

// startDesktop runs the desktop client with args on a fresh Xvfb until
// the test ends.
func startDesktop(t *testing.T, args ...string) *desktop {
	t.Helper()
	need(t, "Xvfb")
	bin := clientBinary(t)
	display := startXvfb(t)
	ctx, cancel := context.WithCancel(context.Background())
	d := &desktop{logs: &syncBuffer{}, exited: make(chan error, 1)}
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = append(os.Environ(), "DISPLAY="+display)
	cmd.Stdout, cmd.Stderr = d.logs, d.logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { d.exited <- cmd.Wait() }()
	t.Cleanup(func() {
		cancel()
		<-d.exited
		if t.Failed() {
			t.Logf("client output:\n%s", d.logs.String())
		}
	})
	return d
}

// waitScreen waits until the desktop client has published a state that
// ok accepts (the newest one it logged), and returns it.
func (d *desktop) waitScreen(t *testing.T, what string, timeout time.Duration, ok func(probe.State) bool) probe.State {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var last probe.State
	for {
		for line := range strings.Lines(d.logs.String()) {
			if s, found := probe.FromLogLine(strings.TrimSpace(line)); found {
				last = s
			}
		}
		if ok(last) {
			return last
		}
		select {
		case err := <-d.exited:
			t.Fatalf("waiting for %s: the client exited: %v", what, err)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %s within %v; the last screen: %+v", what, timeout, last)
		}
		time.Sleep(100 * time.Millisecond) // polling an external process's log; no signal to await
	}
}

// TestDesktopClientJoinsTheRoomItIsGivenThroughTheLobby: `-room duel`
// against a server that requires join tokens joins duel (so it went
// through the lobby's join and used its token) over WebTransport, and
// says so: the playing screen, the room, the transport. When the server
// restarts without that room, the game ends for good and the client is
// back on the lobby, saying why, with the new server's rooms.
func TestDesktopClientJoinsTheRoomItIsGivenThroughTheLobby(t *testing.T) {
	srv := startLobbyServer(t, "", false)
	if _, err := srv.CreateRoom(server.RoomOptions{ID: "duel", Game: game.Config{MaxPlayers: 2, Size: arenaSize}}); err != nil {
		t.Fatal(err)
	}
	d := startDesktop(t, "-server", srv.URL(), "-name", "desk", "-room", "duel", "-transport", "wt")

	sess := waitSession(t, srv, "desk", 60*time.Second)
	if sess.Room != "duel" || sess.Transport != transport.WebTransport {
		t.Fatalf("joined room %q over %s, want duel over webtransport", sess.Room, sess.Transport)
	}
	d.waitScreen(t, "the playing screen in duel over webtransport", 30*time.Second, func(s probe.State) bool {
		return s.Screen == probe.Playing && s.Room == "duel" && s.Transport == string(transport.WebTransport) && s.Connection == "connected"
	})

	// The process restarts without the room (it was the only one to have
	// it): the client's reconnection is refused for good.
	addr := strings.TrimPrefix(srv.URL(), "http://")
	if err := servertest.Stop(srv); err != nil {
		t.Fatal(err)
	}
	startLobbyServer(t, addr, false)
	back := d.waitScreen(t, "the lobby saying the room is gone", 60*time.Second, func(s probe.State) bool {
		return s.Screen == probe.Lobby && s.Message != "" && len(s.Rows) > 0
	})
	if !strings.Contains(back.Message, `room duel`) || !strings.Contains(back.Message, `no room "duel"`) {
		t.Errorf("the lobby says %q; want why the game in room duel ended (no room \"duel\")", back.Message)
	}
	if _, ok := back.Row("default"); !ok {
		t.Errorf("the lobby lists %+v, want the new server's default room", back.Rows)
	}
	t.Logf("back on the lobby: %q", back.Message)
}

// TestDesktopClientQuickPlays: `-quick` asks the lobby for a seat and
// plays where it says, with its token.
func TestDesktopClientQuickPlays(t *testing.T) {
	srv := startLobbyServer(t, "", false)
	d := startDesktop(t, "-server", srv.URL(), "-name", "quick", "-quick", "-transport", "wt")
	sess := waitSession(t, srv, "quick", 60*time.Second)
	st := d.waitScreen(t, "the playing screen", 30*time.Second, func(s probe.State) bool {
		return s.Screen == probe.Playing && s.Transport != ""
	})
	if st.Room != sess.Room || st.Transport != string(sess.Transport) {
		t.Errorf("the client says room %q over %s; the server has it in %q over %s", st.Room, st.Transport, sess.Room, sess.Transport)
	}
	t.Logf("quick play put the desktop client in room %q", sess.Room)
}

// page is one browser tab on the game's page.
type page struct {
	ctx context.Context
}

// openPage opens the game's page at query in a new tab of the browser.
func openPage(t *testing.T, browserCtx context.Context, srv *server.Server, query string) page {
	t.Helper()
	tabCtx, cancelTab := chromedp.NewContext(browserCtx)
	t.Cleanup(cancelTab)
	ctx, cancel := context.WithTimeout(tabCtx, 3*time.Minute)
	t.Cleanup(cancel)
	if err := chromedp.Do(ctx, chromedp.Navigate(srv.URL()+"/"+query)); err != nil {
		t.Fatalf("opening /%s: %v", query, err)
	}
	logStartTime(t, ctx)
	return page{ctx: ctx}
}

// screen reads window.tickwireState (the zero State before the game has
// published one).
func (p page) screen(t *testing.T) probe.State {
	t.Helper()
	s, err := chromedp.Run(p.ctx, chromedp.Evaluate[probe.State]("window."+probe.Global+" || {}"))
	if err != nil {
		t.Fatalf("reading window.%s: %v", probe.Global, err)
	}
	return s
}

// waitScreen polls the page's state until ok accepts it.
func (p page) waitScreen(t *testing.T, what string, timeout time.Duration, ok func(probe.State) bool) probe.State {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		s := p.screen(t)
		if ok(s) {
			return s
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %s within %v; the page shows %+v", what, timeout, s)
		}
		time.Sleep(100 * time.Millisecond) // polling the page; it signals nothing
	}
}

// frames waits for n animation frames of the page. The game updates
// from its animation frames and reads a button or key as pressed only if
// it is down during an update (Ebiten keeps no events): a press and a
// release dispatched back to back can fall between two updates and be
// lost. A hand holds a button for several frames; so do the tests.
func (p page) frames(t *testing.T, n int) {
	t.Helper()
	js := fmt.Sprintf(`new Promise(done => { let n = %d; const f = () => --n > 0 ? requestAnimationFrame(f) : done(true); requestAnimationFrame(f); })`, n)
	if _, err := chromedp.Run(p.ctx, chromedp.Evaluate[bool](js, chromedp.EvalAwaitPromise)); err != nil {
		t.Fatalf("waiting for %d frames: %v", n, err)
	}
}

// heldFrames is how long a click or key press lasts, in frames: enough
// for the game to update during it whatever the order of its frame
// callback and the test's.
const heldFrames = 4

// click clicks the middle of r, as a mouse would.
func (p page) click(t *testing.T, what string, r probe.Rect) {
	t.Helper()
	x, y := r.Center()
	for _, typ := range []input.DispatchMouseEventType{chromedp.MouseMoved, chromedp.MousePressed, chromedp.MouseReleased} {
		if err := chromedp.Do(p.ctx, chromedp.MouseEvent(typ, float64(x), float64(y), chromedp.ButtonLeft, chromedp.ClickCount(1))); err != nil {
			t.Fatalf("clicking %s at (%d, %d): %v", what, x, y, err)
		}
		if typ == chromedp.MousePressed {
			p.frames(t, heldFrames)
		}
	}
}

// press presses a key and releases it a few frames later.
func (p page) press(t *testing.T, key, code string, vk int64) {
	t.Helper()
	for _, typ := range []input.DispatchKeyEventType{input.DispatchKeyEventTypeKeyDown, input.DispatchKeyEventTypeKeyUp} {
		if err := chromedp.Do(p.ctx, keyEvent(typ, key, code, vk)); err != nil {
			t.Fatalf("pressing %s: %v", key, err)
		}
		if typ == input.DispatchKeyEventTypeKeyDown {
			p.frames(t, heldFrames)
		}
	}
}

// occupy connects a netcode session to room through the lobby, holding a
// seat there until the test ends.
func occupy(t *testing.T, srv *server.Server, room, name string) {
	t.Helper()
	ctx := context.Background()
	j, err := (&lobby.Client{Base: srv.URL()}).Join(ctx, room, lobby.JoinRequest{PlayerName: name})
	if err != nil {
		t.Fatalf("lobby join of %s: %v", room, err)
	}
	c, err := client.Connect(ctx, client.Config{
		Server: srv.URL(), Name: name, Room: room, AuthToken: j.Token,
		Dial:   transport.DialOptions{Transport: transport.WebSocket},
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatalf("%s joining %s: %v", name, room, err)
	}
	t.Cleanup(func() { c.Close() })
}

// roomInfo is the server's view of room id.
func roomInfo(srv *server.Server, id string) (server.RoomInfo, bool) {
	for _, r := range srv.Rooms() {
		if r.ID == id {
			return r, true
		}
	}
	return server.RoomInfo{}, false
}

// waitNoSession waits until the server has no session for a player name
// and that player's room holds nobody: the player left at once, not
// parked for a resume.
func waitNoSession(t *testing.T, srv *server.Server, name, room string, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		gone := true
		for _, s := range srv.Sessions() {
			gone = gone && s.Name != name
		}
		r, _ := roomInfo(srv, room)
		if gone && r.Players == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s still in the server after %v: sessions %+v, room %+v", name, timeout, srv.Sessions(), r)
		}
		time.Sleep(100 * time.Millisecond) // polling the server's state
	}
}

// TestBrowserLobbyJoinsByClickLeavesWithEscAndCreatesARoom: the page
// opens on the lobby, which lists the server's rooms and picks up a room
// opened after it loaded; a click on a full room's row says so in plain
// words; a click on another row plays there; Esc goes back to the lobby
// and the server drops the player at once; the create panel's tick rate
// cycled to 60 and Create open a 60 Hz room and play in it.
func TestBrowserLobbyJoinsByClickLeavesWithEscAndCreatesARoom(t *testing.T) {
	if _, err := exec.LookPath(chromiumPath()); err != nil {
		need(t, "chromium")
	}
	srv := startLobbyServer(t, "", true)
	for _, id := range []string{"pick-me", "full-room"} {
		if _, err := srv.CreateRoom(server.RoomOptions{ID: id, Game: game.Config{MaxPlayers: map[string]int{"pick-me": 4, "full-room": 1}[id], Size: arenaSize}}); err != nil {
			t.Fatal(err)
		}
	}
	occupy(t, srv, "full-room", "occupant")
	browserCtx := startBrowser(t, chromiumPath())
	p := openPage(t, browserCtx, srv, "?name=clicker&transport=ws")

	p.waitScreen(t, "the lobby listing pick-me and full-room", 60*time.Second, func(s probe.State) bool {
		_, a := s.Row("pick-me")
		_, b := s.Row("full-room")
		return s.Screen == probe.Lobby && a && b
	})
	if _, err := srv.CreateRoom(server.RoomOptions{ID: "late"}); err != nil {
		t.Fatal(err)
	}
	// The rows move as rooms come and go: click where the newest state
	// says (no room changes from here on).
	st := p.waitScreen(t, "the lobby's refresh listing a room opened later", 15*time.Second, func(s probe.State) bool {
		_, ok := s.Row("late")
		return ok
	})

	full, _ := st.Row("full-room")
	if full.Players != 1 {
		t.Errorf("full-room shows %d players, want 1", full.Players)
	}
	p.click(t, "full-room's row", full.Rect)
	refused := p.waitScreen(t, "the lobby saying the room is full", 20*time.Second, func(s probe.State) bool {
		return s.Screen == probe.Lobby && s.Message != ""
	})
	if !strings.Contains(refused.Message, "Could not join room full-room") || !strings.Contains(refused.Message, "full") {
		t.Errorf("joining a full room shows %q; want it to say the room is full", refused.Message)
	}

	pick, _ := st.Row("pick-me")
	p.click(t, "pick-me's row", pick.Rect)
	sess := waitSession(t, srv, "clicker", 60*time.Second)
	if sess.Room != "pick-me" || sess.Transport != transport.WebSocket {
		t.Fatalf("clicking pick-me's row joined %q over %s, want pick-me over websocket", sess.Room, sess.Transport)
	}
	p.waitScreen(t, "the playing screen in pick-me", 30*time.Second, func(s probe.State) bool {
		return s.Screen == probe.Playing && s.Room == "pick-me" && s.Transport == string(transport.WebSocket)
	})

	p.press(t, "Escape", "Escape", 27)
	p.waitScreen(t, "the lobby after Esc", 20*time.Second, func(s probe.State) bool { return s.Screen == probe.Lobby })
	waitNoSession(t, srv, "clicker", "pick-me", 10*time.Second)

	lob := p.screen(t)
	if lob.Message != "" {
		t.Errorf("after Esc the lobby says %q, want nothing (leaving is no failure)", lob.Message)
	}
	p.click(t, "the tick rate", lob.Buttons.TickRate) // 30 -> 60
	p.waitScreen(t, "the form at 60 Hz", 10*time.Second, func(s probe.State) bool { return s.Form != nil && s.Form.TickRate == 60 })
	p.click(t, "create", lob.Buttons.Create)
	created := p.waitScreen(t, "the playing screen in the new room", 60*time.Second, func(s probe.State) bool {
		return s.Screen == probe.Playing && s.Transport != "" && s.Room != "pick-me"
	})
	sess = waitSession(t, srv, "clicker", 30*time.Second)
	info, ok := roomInfo(srv, created.Room)
	if sess.Room != created.Room || !ok || info.TickRate != 60 || info.Capacity != 16 {
		t.Errorf("created room %q (%+v, listed %v) with the session in %q; want a 60 Hz room of 16, the session in it", created.Room, info, ok, sess.Room)
	}
}

// TestBrowserPlayNowQuickPlays: ?play=now skips the lobby: the page asks
// the lobby for a seat and plays there.
func TestBrowserPlayNowQuickPlays(t *testing.T) {
	if _, err := exec.LookPath(chromiumPath()); err != nil {
		need(t, "chromium")
	}
	srv := startLobbyServer(t, "", true)
	browserCtx := startBrowser(t, chromiumPath())
	p := openPage(t, browserCtx, srv, "?name=quickweb&play=now&transport=ws")
	sess := waitSession(t, srv, "quickweb", 60*time.Second)
	st := p.waitScreen(t, "the playing screen", 30*time.Second, func(s probe.State) bool {
		return s.Screen == probe.Playing && s.Transport != ""
	})
	if st.Room != sess.Room {
		t.Errorf("the page says room %q, the server has the player in %q", st.Room, sess.Room)
	}
}
