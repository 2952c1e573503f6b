// Package client is the Tickwire game people play: an Ebiten program that
// runs as a desktop window and as WASM in a browser page. It opens on the
// lobby (lobby.go: the rooms of every server process, quick play, a new
// room), plays the room the lobby sends it to (play.go) and goes back to
// the lobby on Esc or when the game ends for good. In a game it draws the
// arena from the netcode client session's frames, reads the keyboard and
// mouse, and shows the connection's state and a net graph. No netcode
// logic lives here: reconnect/netsource.go is the one adapter to the
// session, lobbyui the lobby screen's logic.
package client

import (
	"context"
	"errors"
	"fmt"
	"image/color"
	"log/slog"
	"math"
	"net"
	"net/url"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/hajimehoshi/ebiten/v2"
	"github.com/hajimehoshi/ebiten/v2/ebitenutil"
	"github.com/hajimehoshi/ebiten/v2/inpututil"
	"github.com/hajimehoshi/ebiten/v2/vector"

	"github.com/tickwire/tickwire/client/lobbyui"
	"github.com/tickwire/tickwire/client/palette"
	"github.com/tickwire/tickwire/client/reconnect"
	"github.com/tickwire/tickwire/game"
	"github.com/tickwire/tickwire/netcode/transport"
)

// Config configures the game. Server and Name are required.
type Config struct {
	// Server is the server's base URL, e.g. "http://localhost:4433".
	Server string
	// Name is the player's name (1 to 32 bytes).
	Name string
	// Room is the room to join at start, through the lobby's join (or
	// directly when the server has no lobby). Empty: the lobby opens,
	// unless Quick.
	Room string
	// Quick quick-plays at start: the lobby picks (or opens) a room.
	Quick bool
	// Spectate watches Room rather than plays in it: no player of its
	// own, the camera follows a player (Tab: the next) or moves freely
	// (F). The lobby's Watch does the same for the selected room.
	Spectate bool
	// Replay plays a recorded match instead (replay.go): a recording
	// file on the desktop, the name of one of the server's recordings in
	// a browser.
	Replay string
	// LobbyKey is the lobby key of a server whose lobby wants one (its
	// -lobby-key); empty for an open lobby.
	LobbyKey string
	// Transport forces a transport; empty tries WebTransport, then
	// WebSocket.
	Transport transport.Kind
	// TrustCertHash pins the certificate hashes the server lists at
	// /cert-hash (see transport.DialOptions.TrustServerCertHash).
	TrustCertHash bool
	// Debug shows the net graph from the start (F3 toggles it anyway).
	Debug bool
	// Zoom is screen pixels per world unit. Default 1.
	Zoom float64
	// Backoff spaces reconnection attempts.
	Backoff reconnect.Backoff
	// Logger receives the client's logs. Default slog.Default().
	Logger *slog.Logger
}

// IsLoopback reports whether serverURL names this machine (localhost or a
// loopback address): the only servers trusted by default to tell their
// own certificate hash.
func IsLoopback(serverURL string) bool {
	u, err := url.Parse(serverURL)
	if err != nil {
		return false
	}
	h := u.Hostname()
	if strings.EqualFold(h, "localhost") {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}

// gridStep is the spacing of the light grid, in world units.
const gridStep = 100

// Game is the Ebiten game. Create it with New, start it with Start, and
// hand it to ebiten.RunGame (or use Run).
type Game struct {
	cfg Config
	log *slog.Logger
	ctx context.Context // Start's: everything the game runs ends with it
	lc  lobbyAPI

	// results carries the answer of the lobby call in flight (at most
	// one: the lobby waits while one is pending).
	results chan actionResult

	// Owned by Ebiten's goroutine (Update and Draw). play is the game in
	// a room; nil while the lobby shows.
	play      *playSession
	rp        *playback // the replay screen; nil unless Config.Replay
	lobby     lobbyui.State
	layout    lobbyui.Layout
	rooms     *roomList // refreshing while the lobby shows
	roomsSeen uint64
	probe     probeState

	frame    reconnect.Frame
	watch    watchState // a spectator's camera (watch.go)
	showNet  bool
	w, h     int
	camX     float64
	camY     float64
	params   game.Params
	ownID    game.EntityID
	sendErrs int

	statsMu  sync.Mutex
	stats    reconnect.NetStats
	fallback string // why the last dial fell back to WebSocket; "" if it did not
	statsAt  time.Time
}

// New builds a game for cfg; nothing connects until Start.
func New(cfg Config) *Game {
	if cfg.Zoom <= 0 {
		cfg.Zoom = 1
	}
	g := &Game{
		cfg: cfg, log: cfg.Logger, showNet: cfg.Debug, w: 1024, h: 768,
		ctx:     context.Background(),
		lc:      newLobbyAPI(cfg.Server, cfg.LobbyKey),
		results: make(chan actionResult, 1),
		lobby:   lobbyui.NewState(""),
	}
	if g.log == nil {
		g.log = slog.Default()
	}
	return g
}

// Start opens the lobby, and joins at once what cfg asks for (Room or
// Quick); the lobby's calls and the game's connection run until ctx is
// done. Call it once, before the first Update.
func (g *Game) Start(ctx context.Context) {
	g.ctx = ctx
	if g.cfg.Replay != "" {
		g.startReplay()
		return
	}
	g.openLobby("")
	switch {
	case g.cfg.Room != "" && g.cfg.Spectate:
		g.startAction(lobbyui.Action{Kind: lobbyui.WatchRoom, Room: g.cfg.Room}, true)
	case g.cfg.Room != "":
		g.startAction(lobbyui.Action{Kind: lobbyui.JoinRoom, Room: g.cfg.Room}, true)
	case g.cfg.Quick:
		g.startAction(lobbyui.Action{Kind: lobbyui.QuickPlay}, false)
	}
}

// Run opens the window (or canvas) and plays until it is closed.
func Run(ctx context.Context, cfg Config) error {
	g := New(cfg)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	g.Start(ctx)
	ebiten.SetWindowTitle("Tickwire")
	ebiten.SetWindowSize(1024, 768)
	ebiten.SetWindowResizingMode(ebiten.WindowResizingModeEnabled)
	ebiten.SetTPS(60)
	ebiten.SetRunnableOnUnfocused(true)
	err := ebiten.RunGame(g)
	if errors.Is(err, ebiten.Termination) {
		err = nil
	}
	return err
}

// Update runs at a fixed 60 per second (Ebiten's TPS): in the lobby it
// handles the lobby; in a game it reads the controls and sends inputs
// when the session says one is due. It draws nothing, and never waits
// for the network.
func (g *Game) Update() error {
	if inpututil.IsKeyJustPressed(ebiten.KeyF3) {
		g.showNet = !g.showNet
	}
	if g.rp != nil {
		g.updateReplay()
	} else if g.play != nil {
		g.updatePlay()
	} else {
		g.updateLobby()
	}
	g.publishProbe()
	return nil
}

// updatePlay: Esc leaves for the lobby, a game that ended for good goes
// back to it; otherwise the controls become inputs.
func (g *Game) updatePlay() {
	if inpututil.IsKeyJustPressed(ebiten.KeyEscape) {
		g.leaveGame()
		return
	}
	if g.checkEnded() {
		return
	}
	src, ok := g.play.mgr.Current()
	if !ok {
		return
	}
	now := time.Now()
	g.updateNetStats(src, now)
	if g.spectating() {
		g.updateWatch(src)
		return
	}
	mx, my, aim, fire := g.controls()
	for n := src.InputsDue(now); n > 0; n-- {
		if _, err := src.SendInput(mx, my, aim, fire); err != nil {
			g.sendErrs++
			if g.sendErrs == 1 || g.sendErrs%100 == 0 {
				g.log.Debug("sending input", "err", err, "count", g.sendErrs)
			}
		}
	}
}

// updateNetStats refreshes the net graph's figures, four times a second
// while it shows.
func (g *Game) updateNetStats(src *reconnect.NetSource, now time.Time) {
	if g.showNet && now.Sub(g.statsAt) > 250*time.Millisecond {
		st := src.NetStats()
		g.statsMu.Lock()
		g.stats, g.statsAt = st, now
		g.statsMu.Unlock()
	}
}

// controls reads the keyboard and mouse: WASD or arrows move, the mouse
// aims (relative to the own player on screen), left button or space fires.
func (g *Game) controls() (mx, my, aim float64, fire bool) {
	pressed := func(keys ...ebiten.Key) bool {
		return slices.ContainsFunc(keys, ebiten.IsKeyPressed)
	}
	if pressed(ebiten.KeyA, ebiten.KeyArrowLeft) {
		mx--
	}
	if pressed(ebiten.KeyD, ebiten.KeyArrowRight) {
		mx++
	}
	if pressed(ebiten.KeyW, ebiten.KeyArrowUp) {
		my--
	}
	if pressed(ebiten.KeyS, ebiten.KeyArrowDown) {
		my++
	}
	if mx != 0 && my != 0 {
		mx, my = mx/math.Sqrt2, my/math.Sqrt2
	}
	cx, cy := ebiten.CursorPosition()
	px, py := g.toScreen(g.frame.Own.X, g.frame.Own.Y)
	aim = math.Atan2(float64(cy)-py, float64(cx)-px)
	fire = pressed(ebiten.KeySpace) || ebiten.IsMouseButtonPressed(ebiten.MouseButtonLeft)
	return mx, my, aim, fire
}

// Layout makes the logical screen the window's size: resizing shows more
// of the arena rather than stretching it.
func (g *Game) Layout(outsideWidth, outsideHeight int) (int, int) {
	g.w, g.h = max(outsideWidth, 1), max(outsideHeight, 1)
	return g.w, g.h
}

func (g *Game) toScreen(x, y float64) (float64, float64) {
	z := g.cfg.Zoom
	return (x-g.camX)*z + float64(g.w)/2, (y-g.camY)*z + float64(g.h)/2
}

// Draw runs at the display's rate: the lobby, or in a game the frame at
// this instant (remote players interpolated, own player predicted) with
// the HUD.
func (g *Game) Draw(screen *ebiten.Image) {
	screen.Fill(palette.Outside)
	if g.rp != nil {
		g.drawReplay(screen)
		return
	}
	if g.play == nil {
		g.drawLobby(screen)
		return
	}
	src, ok := g.play.mgr.Current()
	if ok {
		src.Frame(time.Now(), &g.frame)
		g.params, g.ownID = src.Params(), src.Entity()
		if g.spectating() {
			g.followInFrame(g.watch.follow)
		}
		g.placeCamera()
		g.drawWorld(screen)
		g.drawScoreboard(screen)
		if g.showNet {
			g.drawNetGraph(screen)
		}
	}
	g.drawStatus(screen)
}

func (g *Game) drawWorld(screen *ebiten.Image) {
	p, z := g.params, float32(g.cfg.Zoom)
	x0, y0 := g.toScreen(0, 0)
	size := float32(p.Size) * z
	vector.DrawFilledRect(screen, float32(x0), float32(y0), size, size, palette.Background, false)
	for v := float64(gridStep); v < p.Size; v += gridStep {
		sx, sy := g.toScreen(v, v)
		vector.StrokeLine(screen, float32(sx), float32(y0), float32(sx), float32(y0)+size, 1, palette.Grid, false)
		vector.StrokeLine(screen, float32(x0), float32(sy), float32(x0)+size, float32(sy), 1, palette.Grid, false)
	}
	vector.StrokeRect(screen, float32(x0)-3, float32(y0)-3, size+6, size+6, 6, palette.Border, false)

	for _, pr := range g.frame.Projectiles {
		sx, sy := g.toScreen(pr.X, pr.Y)
		vector.DrawFilledCircle(screen, float32(sx), float32(sy), max(2, float32(p.ProjectileRadius)*z), palette.Shot, true)
	}
	for i := range g.frame.Remote {
		g.drawPlayer(screen, &g.frame.Remote[i], false)
	}
	if g.frame.HasOwn {
		g.drawPlayer(screen, &g.frame.Own, true)
	}
}

func (g *Game) drawPlayer(screen *ebiten.Image, pl *game.Player, own bool) {
	p, z := g.params, float32(g.cfg.Zoom)
	sx, sy := g.toScreen(pl.X, pl.Y)
	x, y, r := float32(sx), float32(sy), max(4, float32(p.PlayerRadius)*z)
	col := palette.Other
	if own {
		col = palette.Own
	}
	if !pl.Alive {
		col = palette.Dead
	}
	vector.DrawFilledCircle(screen, x, y, r, col, false)
	if own {
		vector.StrokeCircle(screen, x, y, r+3, 2, color.White, true)
	}
	sin, cos := game.AngleSinCos(pl.Aim)
	vector.StrokeLine(screen, x, y, x+float32(cos)*(r+8), y+float32(sin)*(r+8), 2, palette.Aim, true)
	// Health bar above the player.
	if p.MaxHealth > 0 {
		w := 2 * r
		frac := float32(max(0, pl.Health)) / float32(p.MaxHealth)
		vector.DrawFilledRect(screen, x-r, y-r-8, w, 4, palette.Hurt, false)
		vector.DrawFilledRect(screen, x-r, y-r-8, w*frac, 4, palette.Health, false)
	}
	ebitenutil.DebugPrintAt(screen, g.playerName(pl.ID, own), int(x-r), int(y-r)-24)
}

// playerName is the name the server's roster gives id, or its entity id
// until the roster has arrived.
func (g *Game) playerName(id game.EntityID, own bool) string {
	if g.rp != nil {
		return g.rp.replayName(id)
	}
	if own && !g.spectating() {
		return g.cfg.Name
	}
	if src, ok := g.play.mgr.Current(); ok {
		if n, ok := src.Name(id); ok {
			return n
		}
	}
	return fmt.Sprintf("#%d", id)
}

func (g *Game) drawScoreboard(screen *ebiten.Image) {
	type row struct {
		name  string
		score int32
		own   bool
	}
	rows := make([]row, 0, len(g.frame.Remote)+1)
	if g.frame.HasOwn {
		rows = append(rows, row{g.playerName(g.frame.Own.ID, true), g.frame.Own.Score, true})
	}
	for i := range g.frame.Remote {
		pl := &g.frame.Remote[i]
		rows = append(rows, row{g.playerName(pl.ID, false), pl.Score, false})
	}
	// Highest score first; ties: the own player, then by name. (A total
	// order for sort.Slice, which the wasm links anyway: a generic sort
	// here would add its own instantiation to the download.)
	sort.Slice(rows, func(i, j int) bool {
		a, b := &rows[i], &rows[j]
		if a.score != b.score {
			return a.score > b.score
		}
		if a.own != b.own {
			return a.own
		}
		return a.name < b.name
	})
	if len(rows) > 10 {
		rows = rows[:10]
	}
	w := 170
	x := g.w - w - 8
	vector.DrawFilledRect(screen, float32(x), 8, float32(w), float32(20+16*len(rows)), palette.Panel, false)
	ebitenutil.DebugPrintAt(screen, "SCORE", x+6, 10)
	for i, r := range rows {
		mark := " "
		if r.own {
			mark = ">"
		}
		ebitenutil.DebugPrintAt(screen, fmt.Sprintf("%s%-14s %4d", mark, r.name, r.score), x+6, 26+16*i)
	}
}

func (g *Game) drawNetGraph(screen *ebiten.Image) {
	g.statsMu.Lock()
	s, fallback := g.stats, g.fallback
	g.statsMu.Unlock()
	lines := []string{
		fmt.Sprintf("transport  %s", s.Transport),
		fmt.Sprintf("rtt        %v  jitter %v", s.RTT.Round(100*time.Microsecond), s.Jitter.Round(100*time.Microsecond)),
		fmt.Sprintf("loss       down %.1f%%  up %.1f%%", 100*s.LossDown, 100*s.LossUp),
		fmt.Sprintf("bytes/s    in %.0f  out %.0f", s.BytesInPerSec, s.BytesOutPerSec),
		fmt.Sprintf("snapshots  %.1f/s", s.SnapshotsPerSec),
		fmt.Sprintf("interp     %v", s.InterpDelay.Round(time.Millisecond)),
		fmt.Sprintf("frames     extrap %d  held %d  (of %d)", s.FramesExtrapolated, s.FramesHeld, s.FramesInterpolated+s.FramesExtrapolated+s.FramesHeld),
		fmt.Sprintf("corrections %d", s.Corrections),
		fmt.Sprintf("hits       seen %d  confirmed %d  server-only %d", s.Shots.HitsSeen, s.Shots.HitsConfirmed, s.Shots.HitsServerOnly),
		fmt.Sprintf("fps %.0f  tps %.0f  (F3 hides)", ebiten.ActualFPS(), ebiten.ActualTPS()),
	}
	if fallback != "" && s.Transport == transport.WebSocket {
		// Why not WebTransport, wrapped to the panel's width.
		lines = append(lines, "why not webtransport:")
		for len(fallback) > 0 {
			n := min(len(fallback), 36)
			lines = append(lines, "  "+fallback[:n])
			fallback = fallback[n:]
		}
	}
	h := 8 + 16*len(lines)
	y := g.h - h - 8
	vector.DrawFilledRect(screen, 8, float32(y), 300, float32(h), palette.Panel, false)
	for i, l := range lines {
		ebitenutil.DebugPrintAt(screen, l, 14, y+4+16*i)
	}
}

func (g *Game) drawStatus(screen *ebiten.Image) {
	st := g.play.mgr.Status()
	var msg string
	switch st.State {
	case reconnect.Connecting:
		msg = fmt.Sprintf("joining room %s on %s ...  (Esc: lobby)", g.play.to.Room, g.play.to.Server)
	case reconnect.Connected:
		line := fmt.Sprintf("connected as %s in room %s   (Esc: lobby)", g.cfg.Name, g.play.to.Room)
		if src, ok := g.play.mgr.Current(); ok && g.spectating() {
			line = g.watchStatus(src)
		}
		ebitenutil.DebugPrintAt(screen, line, 8, 8)
		return
	case reconnect.Reconnecting:
		wait := max(0, time.Until(st.RetryAt)).Round(100 * time.Millisecond)
		msg = fmt.Sprintf("reconnecting (attempt %d, next in %v)\n%s", st.Attempt, wait, st.Reason)
	case reconnect.Disconnected:
		msg = "disconnected: " + st.Reason
	}
	vector.DrawFilledRect(screen, 0, float32(g.h/2-20), float32(g.w), 48, palette.Panel, false)
	ebitenutil.DebugPrintAt(screen, msg, 16, g.h/2-12)
}
