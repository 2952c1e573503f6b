package client

import (
	"context"
	"fmt"
	"image"
	"image/color"
	"sync"
	"time"

	"github.com/hajimehoshi/ebiten/v2"
	"github.com/hajimehoshi/ebiten/v2/ebitenutil"
	"github.com/hajimehoshi/ebiten/v2/inpututil"
	"github.com/hajimehoshi/ebiten/v2/vector"

	"github.com/tickwire/tickwire/client/lobbyui"
	"github.com/tickwire/tickwire/client/palette"
	"github.com/tickwire/tickwire/netcode/lobby"
)

// The lobby screen: the rooms of every server process in a table,
// refreshed in the background; Play now; a panel that creates a room.
// What a click or key does, and where things are, is lobbyui's (pure and
// tested); this file reads Ebiten's input, runs the lobby's HTTP calls
// off Ebiten's goroutine, and draws.

const (
	// refreshEvery spaces the room list's refreshes while the lobby shows.
	refreshEvery = 2 * time.Second
	// lobbyTimeout bounds one lobby call: a lobby that does not answer is
	// reported, not waited for.
	lobbyTimeout = 10 * time.Second
)

// roomList refreshes the room list in a goroutine while the lobby
// shows, so that a slow lobby never stalls Update or Draw.
type roomList struct {
	cancel context.CancelFunc
	now    chan struct{} // asks for a refresh before the next tick

	mu    sync.Mutex
	rooms []lobby.Room
	err   error
	seq   uint64 // counts answers, so Update takes each once
}

func startRoomList(ctx context.Context, lc lobbyAPI) *roomList {
	ctx, cancel := context.WithCancel(ctx)
	r := &roomList{cancel: cancel, now: make(chan struct{}, 1)}
	go r.run(ctx, lc)
	return r
}

func (r *roomList) run(ctx context.Context, lc lobbyAPI) {
	t := time.NewTicker(refreshEvery)
	defer t.Stop()
	for {
		cctx, cancel := context.WithTimeout(ctx, lobbyTimeout)
		rooms, err := lc.Rooms(cctx)
		cancel()
		if ctx.Err() != nil {
			return
		}
		r.mu.Lock()
		r.rooms, r.err = rooms, err
		r.seq++
		r.mu.Unlock()
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-r.now:
		}
	}
}

// refresh asks for a fresh list now (after an action failed, the rooms
// may have changed).
func (r *roomList) refresh() {
	select {
	case r.now <- struct{}{}:
	default:
	}
}

// latest returns the newest answer and its number.
func (r *roomList) latest() (rooms []lobby.Room, err error, seq uint64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.rooms, r.err, r.seq
}

// actionResult is how a lobby call ended: where to play, or why not.
type actionResult struct {
	what   string // the failure's phrase: "join room duel"
	target lobbyui.Target
	err    error
}

// openLobby shows the lobby with message (why the last game ended; ""
// for none) and starts refreshing its rooms.
func (g *Game) openLobby(message string) {
	g.lobby.Message, g.lobby.Pending = message, ""
	if g.rooms == nil {
		g.rooms = startRoomList(g.ctx, g.lc)
	}
}

// closeLobby stops the refreshes while a game plays.
func (g *Game) closeLobby() {
	if g.rooms != nil {
		g.rooms.cancel()
		g.rooms, g.roomsSeen = nil, 0
	}
}

// startAction runs a lobby call in the background; Update picks up its
// result. direct allows a join to dial the server without the lobby when
// the server has none (the -room flag's old way).
func (g *Game) startAction(a lobbyui.Action, direct bool) {
	g.lobby.Pending, g.lobby.Message = a.Describe()+" ...", ""
	g.log.Info("lobby", "action", a.Describe())
	ctx := g.ctx
	go func() {
		ctx, cancel := context.WithTimeout(ctx, lobbyTimeout)
		defer cancel()
		g.results <- g.runAction(ctx, a, direct)
	}()
}

// runAction asks the lobby for a seat (creating the room first when
// asked) and turns the answer into a target.
func (g *Game) runAction(ctx context.Context, a lobbyui.Action, direct bool) actionResult {
	req := lobby.JoinRequest{PlayerName: g.cfg.Name}
	var (
		j    lobby.Join
		err  error
		what string
	)
	switch a.Kind {
	case lobbyui.JoinRoom, lobbyui.WatchRoom:
		what = "join room " + a.Room
		if req.Spectate = a.Kind == lobbyui.WatchRoom; req.Spectate {
			what = "watch room " + a.Room
		}
		j, err = g.lc.Join(ctx, a.Room, req)
		if err != nil && direct && lobbyui.LobbyMissing(err) {
			g.log.Info("no lobby join here; joining the room directly", "room", a.Room, "err", err)
			return actionResult{what: what, target: lobbyui.Target{Server: g.cfg.Server, Room: a.Room, Spectate: req.Spectate}}
		}
	case lobbyui.QuickPlay:
		what = "quick-play"
		j, err = g.lc.QuickPlay(ctx, lobby.QuickPlayRequest{PlayerName: g.cfg.Name})
	case lobbyui.CreateRoom:
		what = "create a room"
		var room lobby.Room
		if room, err = g.lc.Create(ctx, a.Create); err == nil {
			what = "join the new room " + room.ID
			j, err = g.lc.Join(ctx, room.ID, req)
		}
	}
	if err != nil {
		return actionResult{what: what, err: err}
	}
	t, err := lobbyui.FromJoin(g.cfg.Server, j, g.cfg.TrustCertHash)
	return actionResult{what: what, target: t, err: err}
}

// updateLobby takes the newest room list and the finished lobby call,
// then the player's clicks and keys.
func (g *Game) updateLobby() {
	l := g.lobbyLayout()
	if g.rooms != nil {
		if rooms, err, seq := g.rooms.latest(); seq != g.roomsSeen {
			g.roomsSeen = seq
			if err != nil {
				g.lobby.ListErr = lobbyui.Describe("list the rooms", err)
			} else {
				g.lobby.SetRooms(rooms, l)
			}
		}
	}
	select {
	case r := <-g.results:
		g.lobby.Pending = ""
		if r.err != nil {
			g.lobby.Message = lobbyui.Describe(r.what, r.err)
			g.log.Warn("lobby", "failed", r.what, "err", r.err)
			g.rooms.refresh()
			return
		}
		g.startPlay(r.target)
		return
	default:
	}
	if a := g.lobby.Step(readLobbyInput(), l); a.Kind != lobbyui.NoAction {
		g.startAction(a, false)
	}
}

// lobbyLayout is the layout for the window's size, kept between frames.
func (g *Game) lobbyLayout() lobbyui.Layout {
	if g.layout.W != g.w || g.layout.H != g.h {
		g.layout = lobbyui.NewLayout(g.w, g.h)
	}
	return g.layout
}

// readLobbyInput reads this frame's clicks and keys for the lobby.
func readLobbyInput() lobbyui.Input {
	key := inpututil.IsKeyJustPressed
	in := lobbyui.Input{
		Click:   inpututil.IsMouseButtonJustPressed(ebiten.MouseButtonLeft),
		Cursor:  image.Pt(ebiten.CursorPosition()),
		Up:      key(ebiten.KeyArrowUp),
		Down:    key(ebiten.KeyArrowDown),
		Enter:   key(ebiten.KeyEnter) || key(ebiten.KeyNumpadEnter),
		PlayNow: key(ebiten.KeyP),
		Watch:   key(ebiten.KeyW),
		Create:  key(ebiten.KeyN),
	}
	in.Cycle[lobbyui.FieldTickRate] = key(ebiten.KeyT)
	in.Cycle[lobbyui.FieldCapacity] = key(ebiten.KeyC)
	in.Cycle[lobbyui.FieldAOI] = key(ebiten.KeyA)
	in.Cycle[lobbyui.FieldVisibility] = key(ebiten.KeyV)
	switch _, dy := ebiten.Wheel(); {
	case dy > 0:
		in.Wheel = -1
	case dy < 0:
		in.Wheel = 1
	}
	return in
}

// Lobby colours; none is near the three the end-to-end tests count.
var (
	lobbyButton   = color.RGBA{0x26, 0x5c, 0x3a, 0xff}
	lobbyField    = color.RGBA{0x24, 0x2a, 0x38, 0xff}
	lobbyRow      = color.RGBA{0x14, 0x16, 0x1e, 0xff}
	lobbyHover    = color.RGBA{0x20, 0x24, 0x32, 0xff}
	lobbySelected = color.RGBA{0x2c, 0x38, 0x5a, 0xff}
	lobbyError    = color.RGBA{0x5a, 0x1c, 0x20, 0xff}
)

func (g *Game) drawLobby(screen *ebiten.Image) {
	l := g.lobbyLayout()
	s := &g.lobby
	ebitenutil.DebugPrintAt(screen, fmt.Sprintf("TICKWIRE LOBBY   %s   playing as %s", g.cfg.Server, g.cfg.Name), lobbyui.Margin, 16)
	fillRect(screen, l.PlayNow, lobbyButton)
	label(screen, l.PlayNow, "[P] Play now")
	fillRect(screen, l.Watch, lobbyButton)
	label(screen, l.Watch, "[W] Watch the selected room")
	g.drawRooms(screen, l)
	drawPanel(screen, l, s.Form)
	drawMessage(screen, l, s)
	ebitenutil.DebugPrintAt(screen, "Up/Down select   Enter or click: join   W: watch   P: play now   N: create   T C A V: room options", l.Help.X, l.Help.Y)
}

func (g *Game) drawRooms(screen *ebiten.Image, l lobbyui.Layout) {
	s := &g.lobby
	cols := l.Table.Dx()/lobbyui.CharW - 1
	ebitenutil.DebugPrintAt(screen, lobbyui.Clip(lobbyui.HeaderText(), cols), l.Header.Min.X+6, l.Header.Min.Y+2)
	hover := l.Hit(image.Pt(ebiten.CursorPosition()))
	for i, r := range l.Rows {
		k := s.RoomAt(i)
		if k < 0 {
			break
		}
		bg := lobbyRow
		switch {
		case k == s.Selected:
			bg = lobbySelected
		case hover.Kind == lobbyui.HitRow && hover.Index == i:
			bg = lobbyHover
		}
		fillRect(screen, r.Inset(1), bg)
		ebitenutil.DebugPrintAt(screen, lobbyui.RowText(s.Rooms[k], cols), r.Min.X+6, r.Min.Y+4)
	}
	first := l.Header.Max.Y + 4
	switch {
	case !s.Listed:
		ebitenutil.DebugPrintAt(screen, "loading the rooms ...", l.Table.Min.X+6, first)
	case len(s.Rooms) == 0:
		ebitenutil.DebugPrintAt(screen, "no rooms listed: Play now, or create one", l.Table.Min.X+6, first)
	case len(s.Rooms) > len(l.Rows):
		ebitenutil.DebugPrintAt(screen, fmt.Sprintf("rooms %d-%d of %d (wheel or Up/Down scrolls)", s.Top+1, min(s.Top+len(l.Rows), len(s.Rooms)), len(s.Rooms)),
			l.Table.Min.X+6, l.Table.Max.Y)
	}
}

func drawPanel(screen *ebiten.Image, l lobbyui.Layout, f lobbyui.Form) {
	fillRect(screen, l.Panel, palette.Panel)
	ebitenutil.DebugPrintAt(screen, "NEW ROOM (click or key to change)", l.Panel.Min.X+12, l.Panel.Min.Y+2)
	for field, r := range l.Fields {
		fillRect(screen, r, lobbyField)
		label(screen, r, f.Label(lobbyui.Field(field)))
	}
	fillRect(screen, l.Create, lobbyButton)
	label(screen, l.Create, "[N] Create and join")
}

// drawMessage shows what the lobby waits for, else its last failure,
// else why the room list may be stale.
func drawMessage(screen *ebiten.Image, l lobbyui.Layout, s *lobbyui.State) {
	msg, bg := s.Pending, palette.Panel
	if msg == "" {
		msg, bg = s.Message, lobbyError
	}
	if msg == "" {
		msg = s.ListErr
	}
	if msg == "" {
		return
	}
	fillRect(screen, l.Message, bg)
	lines := lobbyui.Wrap(msg, l.Message.Dx()/lobbyui.CharW-2)
	for i, line := range lines[:min(len(lines), 3)] {
		ebitenutil.DebugPrintAt(screen, line, l.Message.Min.X+6, l.Message.Min.Y+4+i*lobbyui.LineH)
	}
}

func fillRect(screen *ebiten.Image, r image.Rectangle, c color.Color) {
	vector.DrawFilledRect(screen, float32(r.Min.X), float32(r.Min.Y), float32(r.Dx()), float32(r.Dy()), c, false)
}

// label writes text on a button, vertically centred.
func label(screen *ebiten.Image, r image.Rectangle, text string) {
	ebitenutil.DebugPrintAt(screen, lobbyui.Clip(text, r.Dx()/lobbyui.CharW-2), r.Min.X+8, r.Min.Y+(r.Dy()-lobbyui.LineH)/2)
}
