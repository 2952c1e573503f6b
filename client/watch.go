package client

import (
	"fmt"
	"slices"
	"time"

	"github.com/hajimehoshi/ebiten/v2"
	"github.com/hajimehoshi/ebiten/v2/inpututil"

	"github.com/tickwire/tickwire/client/probe"
	"github.com/tickwire/tickwire/client/reconnect"
	"github.com/tickwire/tickwire/game"
)

// Watching a room as a spectator (Config.Spectate, the lobby's Watch):
// the session has no player; the camera follows a player, or moves
// freely over the arena. Tab follows the next player of the roster
// (after the last, the first), F switches between the free camera and
// following, WASD or the arrows move the free camera, Esc goes back to
// the lobby. The replay screen (replay.go) shares the following and the
// free camera: followInFrame, placeCamera, panCamera, nextID.

// panSpeed is how fast the free camera moves, world units per second.
const panSpeed = 600.0

// watchState is the spectator's camera, owned by Ebiten's goroutine.
type watchState struct {
	follow game.EntityID // 0: the free camera
	last   game.EntityID // the player followed before the free camera
	at     time.Time     // of the last update
	ids    []game.EntityID
}

// spectating says whether the game in a room only watches.
func (g *Game) spectating() bool { return g.play != nil && g.play.to.Spectate }

// updateWatch reads the spectator's keys and tells the server whom it
// follows (with interest management it sends that player's view, or the
// whole arena to the free camera).
func (g *Game) updateWatch(src *reconnect.NetSource) {
	w := &g.watch
	now := time.Now()
	dt := min(now.Sub(w.at).Seconds(), 0.1)
	if w.at.IsZero() {
		dt = 0
	}
	w.at = now
	w.ids = src.Players(w.ids[:0])
	key := inpututil.IsKeyJustPressed
	switch {
	case key(ebiten.KeyTab):
		w.follow = nextID(w.ids, w.follow)
		if w.follow == 0 { // after the last: the first again
			w.follow = nextID(w.ids, 0)
		}
	case key(ebiten.KeyF):
		if w.follow != 0 {
			w.last, w.follow = w.follow, 0
		} else if slices.Contains(w.ids, w.last) {
			w.follow = w.last
		} else {
			w.follow = nextID(w.ids, 0)
		}
	}
	if w.follow != 0 && len(w.ids) > 0 && !slices.Contains(w.ids, w.follow) {
		w.follow = nextID(w.ids, w.follow) // the player left: the next one
	}
	src.Follow(w.follow)
	if w.follow == 0 {
		g.panCamera(dt, true)
	}
}

// nextID is the smallest of ids above cur, or 0 when none is.
func nextID(ids []game.EntityID, cur game.EntityID) game.EntityID {
	next := game.EntityID(0)
	for _, id := range ids {
		if id > cur && (next == 0 || id < next) {
			next = id
		}
	}
	return next
}

// frameIDs appends the players g.frame shows to dst.
func (g *Game) frameIDs(dst []game.EntityID) []game.EntityID {
	for i := range g.frame.Remote {
		dst = append(dst, g.frame.Remote[i].ID)
	}
	if g.frame.HasOwn {
		dst = append(dst, g.frame.Own.ID)
	}
	return dst
}

// followInFrame makes player id, when the frame shows it, the frame's
// own player: drawn marked, and the camera's centre (placeCamera).
func (g *Game) followInFrame(id game.EntityID) {
	if id == 0 {
		return
	}
	for i := range g.frame.Remote {
		if g.frame.Remote[i].ID == id {
			g.frame.Own, g.frame.HasOwn = g.frame.Remote[i], true
			g.frame.Remote = slices.Delete(g.frame.Remote, i, i+1)
			return
		}
	}
}

// placeCamera centres the camera on the frame's own player (or the
// followed one); a free camera starts at the arena's centre.
func (g *Game) placeCamera() {
	if g.frame.HasOwn {
		g.camX, g.camY = g.frame.Own.X, g.frame.Own.Y
	} else if g.camX == 0 && g.camY == 0 {
		g.camX, g.camY = g.params.Size/2, g.params.Size/2
	}
}

// panCamera moves the free camera by the keys held for dt seconds: WASD,
// and the arrows too when arrows (the replay uses them to seek).
func (g *Game) panCamera(dt float64, arrows bool) {
	held := func(k, arrow ebiten.Key) bool {
		return ebiten.IsKeyPressed(k) || arrows && ebiten.IsKeyPressed(arrow)
	}
	step := panSpeed * dt / g.cfg.Zoom
	if held(ebiten.KeyA, ebiten.KeyArrowLeft) {
		g.camX -= step
	}
	if held(ebiten.KeyD, ebiten.KeyArrowRight) {
		g.camX += step
	}
	if held(ebiten.KeyW, ebiten.KeyArrowUp) {
		g.camY -= step
	}
	if held(ebiten.KeyS, ebiten.KeyArrowDown) {
		g.camY += step
	}
}

// watchStatus is the status line of a spectator.
func (g *Game) watchStatus(src *reconnect.NetSource) string {
	view := "free camera (WASD/arrows move, Tab: follow a player)"
	if f := g.watch.follow; f != 0 {
		view = "following " + g.playerName(f, false) + " (Tab: next player, F: free camera)"
	}
	return fmt.Sprintf("watching room %s, %d watching: %s   (Esc: lobby)", g.play.to.Room, src.Spectators(), view)
}

// watchProbe is what a spectator's screen publishes.
func (g *Game) watchProbe(src *reconnect.NetSource) *probe.Watch {
	w := &probe.Watch{Follow: int(g.watch.follow), Spectators: src.Spectators(), Players: len(g.frame.Remote)}
	if g.frame.HasOwn {
		w.Players++
	}
	if g.watch.follow != 0 && g.frame.HasOwn && g.frame.Own.ID == g.watch.follow {
		w.X, w.Y = probe.Coarse(g.frame.Own.X), probe.Coarse(g.frame.Own.Y)
	}
	return w
}
