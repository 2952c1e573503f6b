package client

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"io"
	"math"
	"slices"
	"time"

	"github.com/hajimehoshi/ebiten/v2"
	"github.com/hajimehoshi/ebiten/v2/ebitenutil"
	"github.com/hajimehoshi/ebiten/v2/inpututil"
	"github.com/hajimehoshi/ebiten/v2/vector"

	"github.com/tickwire/tickwire/client/palette"
	"github.com/tickwire/tickwire/client/probe"
	"github.com/tickwire/tickwire/game"
	netclient "github.com/tickwire/tickwire/netcode/client"
	"github.com/tickwire/tickwire/netcode/replay"
)

// The replay screen: a recorded match (netcode/replay) drawn with the
// live game's interpolation (netclient.PlaybackView) on a render clock
// the viewer drives. Space plays and pauses, the arrows jump 5 s, - and
// + (or [ and ]) change the speed from 0.25x to 4x, a click or a drag on
// the timeline seeks, Tab follows the next player (after the last: the
// free view), Esc goes back to the free view, where WASD move the
// camera.

// replaySpeeds are the playback speeds, slowest first.
var replaySpeeds = []float64{0.25, 0.5, 1, 2, 4}

// replayJump is the arrows' jump.
const replayJump = 5 * time.Second

// playback is the replay screen's state, owned by Ebiten's goroutine.
type playback struct {
	name    string
	loaded  chan loadedReplay // the file, once (loadReplay runs aside)
	status  string            // loading, playing, paused, ended, failed
	problem string            // why it failed, or where a truncated recording stops

	r           *replay.Reader
	view        *netclient.PlaybackView
	params      game.Params
	first, last uint32
	pos         float64 // render tick
	speed       int     // index into replaySpeeds
	follow      game.EntityID
	eof         bool
	scratch     game.Snapshot
	at          time.Time // of the last update
	timeline    image.Rectangle
}

type loadedReplay struct {
	data []byte
	err  error
}

// startReplay opens the replay screen and loads the recording aside
// (a file on the desktop, the server's /replays in a browser).
func (g *Game) startReplay() {
	p := &playback{name: g.cfg.Replay, status: "loading", loaded: make(chan loadedReplay, 1), speed: 2}
	g.rp = p
	go func() {
		b, err := loadReplay(g.ctx, g.cfg)
		p.loaded <- loadedReplay{b, err}
	}()
	g.log.Info("replay", "name", p.name)
}

// open reads the loaded recording and shows its first tick.
func (p *playback) open(l loadedReplay) error {
	if l.err != nil {
		return l.err
	}
	r, err := replay.Open(bytes.NewReader(l.data), int64(len(l.data)))
	if err != nil {
		return err
	}
	p.r, p.params = r, r.Params()
	p.first, p.last = r.FirstTick(), r.LastTick()
	p.view = netclient.NewPlaybackView(p.params)
	if err := r.Err(); err != nil {
		// Cut short: it plays to the cut, and the screen says so.
		p.problem = err.Error()
	}
	p.status = "playing"
	p.seek(float64(p.first))
	return nil
}

// updateReplay runs at Ebiten's 60 updates a second.
func (g *Game) updateReplay() {
	p := g.rp
	now := time.Now()
	dt := min(now.Sub(p.at).Seconds(), 0.1)
	if p.at.IsZero() {
		dt = 0
	}
	p.at = now
	p.timeline = image.Rect(16, g.h-30, g.w-16, g.h-14)
	if p.r == nil {
		select {
		case l := <-p.loaded:
			if err := p.open(l); err != nil {
				p.status, p.problem = "failed", err.Error()
				g.log.Error("replay", "name", p.name, "err", err)
			}
		default:
		}
		return
	}
	g.replayControls(dt)
	if p.status == "playing" {
		p.pos += dt * float64(p.params.TickRate) * replaySpeeds[p.speed]
		if p.pos >= float64(p.last) {
			p.pos, p.status = float64(p.last), "ended"
		}
	}
	p.fill()
}

func (g *Game) replayControls(dt float64) {
	p := g.rp
	rate := float64(p.params.TickRate)
	jump := replayJump.Seconds() * rate
	pressed := func(keys ...ebiten.Key) bool { return slices.ContainsFunc(keys, inpututil.IsKeyJustPressed) }
	switch {
	case pressed(ebiten.KeySpace):
		switch p.status {
		case "playing":
			p.status = "paused"
		case "ended":
			p.seek(float64(p.first))
			p.status = "playing"
		default:
			p.status = "playing"
		}
	case pressed(ebiten.KeyArrowLeft):
		p.seek(p.pos - jump)
	case pressed(ebiten.KeyArrowRight):
		p.seek(p.pos + jump)
	case pressed(ebiten.KeyHome):
		p.seek(float64(p.first))
	case pressed(ebiten.KeyMinus, ebiten.KeyNumpadSubtract, ebiten.KeyBracketLeft, ebiten.KeyArrowDown):
		p.speed = max(p.speed-1, 0)
	case pressed(ebiten.KeyEqual, ebiten.KeyNumpadAdd, ebiten.KeyBracketRight, ebiten.KeyArrowUp):
		p.speed = min(p.speed+1, len(replaySpeeds)-1)
	case pressed(ebiten.KeyTab):
		p.follow = nextID(g.frameIDs(g.watch.ids[:0]), p.follow) // after the last: the free view
	case pressed(ebiten.KeyEscape):
		p.follow = 0
	}
	if ebiten.IsMouseButtonPressed(ebiten.MouseButtonLeft) {
		x, y := ebiten.CursorPosition()
		if tl := p.timeline; image.Pt(x, y).In(tl.Inset(-6)) && tl.Dx() > 0 {
			frac := max(0, min(1, float64(x-tl.Min.X)/float64(tl.Dx())))
			p.seek(float64(p.first) + frac*float64(p.last-p.first))
		}
	}
	if p.follow == 0 {
		g.panCamera(dt, false) // the arrows seek
	}
}

// seek moves the render clock to tick t (clamped to the recording).
// Forward within a key frame's distance it decodes on; otherwise it
// restarts from the key frame before t (Reader.Seek): a seek anywhere
// decodes at most one key frame interval.
func (p *playback) seek(t float64) {
	t = max(float64(p.first), min(float64(p.last), t))
	newest := p.view.Newest()
	forward := newest != 0 && t >= p.pos && t-float64(newest) < float64(p.r.Header().KeyEvery)
	p.pos = t
	if p.status == "ended" && t < float64(p.last) {
		p.status = "paused"
	}
	if forward {
		p.fill()
		return
	}
	p.view.Reset()
	p.eof = false
	if err := p.r.Seek(uint32(t)); err != nil {
		p.fail(err)
		return
	}
	p.fill()
}

// fill decodes up to the tick after the render tick, which the
// interpolation needs.
func (p *playback) fill() {
	want := uint32(p.pos) + 1
	for !p.eof && p.view.Newest() < want {
		err := p.r.Next(&p.scratch)
		if err != nil {
			if !errors.Is(err, io.EOF) {
				p.fail(err)
			}
			p.eof = true
			return
		}
		p.view.Add(&p.scratch)
	}
}

func (p *playback) fail(err error) {
	p.status, p.problem, p.eof = "failed", err.Error(), true
}

// drawReplay draws the arena at the render tick, the followed player
// marked as the own player is in a game, and the playback's controls.
func (g *Game) drawReplay(screen *ebiten.Image) {
	p := g.rp
	if p.r == nil || p.status == "failed" && p.view == nil {
		g.drawReplayStatus(screen)
		return
	}
	p.view.Frame(p.pos, &g.frame)
	g.params = p.params
	g.followInFrame(p.follow)
	g.placeCamera()
	g.drawWorld(screen)
	g.drawScoreboard(screen)
	g.drawReplayStatus(screen)
}

func (g *Game) drawReplayStatus(screen *ebiten.Image) {
	p := g.rp
	if p.r == nil || p.view == nil {
		msg := "loading replay " + p.name + " ..."
		if p.status == "failed" {
			msg = "cannot play replay " + p.name + ":\n" + p.problem
		}
		vector.DrawFilledRect(screen, 0, float32(g.h/2-20), float32(g.w), 48, palette.Panel, false)
		ebitenutil.DebugPrintAt(screen, msg, 16, g.h/2-12)
		return
	}
	rate := float64(p.params.TickRate)
	at := time.Duration((p.pos - float64(p.first)) / rate * float64(time.Second)).Truncate(100 * time.Millisecond)
	total := time.Duration(float64(p.last-p.first) / rate * float64(time.Second)).Truncate(time.Second)
	view := "free view (WASD)"
	if p.follow != 0 {
		view = "following " + g.playerName(p.follow, false)
	}
	lines := fmt.Sprintf("replay %s  room %s  %s / %s  tick %d  %gx  %s  %s\n"+
		"Space play/pause   Left/Right 5 s   -/+ speed   Tab follow   Esc free view   click the bar to seek",
		p.name, p.r.Header().Room, at, total, uint32(p.pos), replaySpeeds[p.speed], p.status, view)
	if p.problem != "" {
		lines += "\n" + p.problem
	}
	vector.DrawFilledRect(screen, 0, 0, float32(g.w), 54, palette.Panel, false)
	ebitenutil.DebugPrintAt(screen, lines, 8, 4)
	tl := p.timeline
	vector.DrawFilledRect(screen, float32(tl.Min.X), float32(tl.Min.Y), float32(tl.Dx()), float32(tl.Dy()), palette.Panel, false)
	if p.last > p.first {
		frac := (p.pos - float64(p.first)) / float64(p.last-p.first)
		vector.DrawFilledRect(screen, float32(tl.Min.X), float32(tl.Min.Y), float32(float64(tl.Dx())*frac), float32(tl.Dy()), palette.Health, false)
		for _, k := range p.r.KeyFrames() {
			x := float32(tl.Min.X) + float32(float64(tl.Dx())*float64(k-p.first)/float64(p.last-p.first))
			vector.StrokeLine(screen, x, float32(tl.Min.Y), x, float32(tl.Max.Y), 1, palette.Grid, false)
		}
	}
	vector.StrokeRect(screen, float32(tl.Min.X), float32(tl.Min.Y), float32(tl.Dx()), float32(tl.Dy()), 1, palette.Border, false)
}

// replayName is the name of player id in the recording's roster.
func (p *playback) replayName(id game.EntityID) string {
	if p.r != nil {
		if n, ok := p.r.Name(id); ok {
			return n
		}
	}
	return fmt.Sprintf("#%d", id)
}

// replayProbe is the replay screen's published state.
func (g *Game) replayProbe() probe.State {
	p := g.rp
	st := probe.State{Screen: probe.Replay, Playback: &probe.Playback{
		Name: p.name, Status: p.status, Error: p.problem, Speed: replaySpeeds[p.speed],
		Follow: int(p.follow), Timeline: probe.FromRectangle(p.timeline),
	}}
	if p.r != nil {
		rate := uint32(max(p.params.TickRate, 1))
		t := uint32(math.Max(p.pos, float64(p.first)))
		st.Playback.Tick = int(t - (t-p.first)%rate)
		st.Playback.FirstTick, st.Playback.LastTick = int(p.first), int(p.last)
		st.Playback.Players = len(g.frame.Remote)
		if g.frame.HasOwn {
			st.Playback.Players++
		}
		st.Room = p.r.Header().Room
	}
	return st
}
