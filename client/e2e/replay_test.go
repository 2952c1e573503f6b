package e2e

import (
	"bytes"
	"fmt"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/tickwire/tickwire/client/probe"
	"github.com/tickwire/tickwire/client/web"
	"github.com/tickwire/tickwire/game"
	"github.com/tickwire/tickwire/netcode/replay"
	"github.com/tickwire/tickwire/netcode/server"
	"github.com/tickwire/tickwire/netcode/server/servertest"
)

// writeRecording records a 20-second match of n benchmark bots in the
// small test arena into dir, as a server's -record would, and returns
// the file's name.
func writeRecording(t *testing.T, dir string, n int) string {
	t.Helper()
	world := game.NewWorld(game.Config{MaxPlayers: n, Size: arenaSize, Seed: 3})
	name := "arena-20260102T030405Z-0" + replay.Ext
	f, err := os.Create(filepath.Join(dir, name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w, err := replay.NewWriter(f, replay.Header{Room: "arena", Start: time.Now(), Params: world.Params(), Seed: 3}, replay.WriterOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var ids []game.EntityID
	var bots []*game.Bot
	for i := range n {
		id, err := world.AddPlayer()
		if err != nil {
			t.Fatal(err)
		}
		ids, bots = append(ids, id), append(bots, game.NewBot(uint64(i+1), world.Params().TickRate))
		w.Join(1, id, fmt.Sprintf("bot-%d", i+1))
	}
	var snap game.Snapshot
	in := make([]game.PlayerInput, n)
	for range 20 * world.Params().TickRate {
		tick := world.Tick() + 1
		for i := range bots {
			in[i] = game.PlayerInput{Player: ids[i], Input: bots[i].Next(tick)}
		}
		world.Step(in)
		world.Snapshot(&snap)
		if err := w.WriteTick(&snap); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return name
}

// TestBrowserPlaysAReplay opens ?replay=NAME on a server that serves its
// recordings: the page fetches the recording, plays it (the tick shown
// advances, every player drawn), follows a player on Tab, jumps 5 s on
// the right arrow, pauses on Space, seeks on a click on the timeline,
// and draws the arena and its players (the screenshot goes to the
// test's artifact directory, and to TICKWIRE_E2E_ARTEFACTS when set).
func TestBrowserPlaysAReplay(t *testing.T) {
	if _, err := exec.LookPath(chromiumPath()); err != nil {
		need(t, "chromium")
	}
	dir := t.TempDir()
	const players = 6
	name := writeRecording(t, dir, players)
	srv := servertest.Start(t, &server.Server{Game: game.Config{MaxPlayers: 4, Size: arenaSize},
		Handler: web.Handler(webDist(t)), Record: server.RecordOptions{Dir: dir}})
	browserCtx := startBrowser(t, chromiumPath())
	p := openPage(t, browserCtx, srv, "?replay="+name)

	playing := func(s probe.State) bool {
		return s.Screen == probe.Replay && s.Playback != nil && s.Playback.Status == "playing"
	}
	st := p.waitScreen(t, "the replay playing", 60*time.Second, func(s probe.State) bool {
		return playing(s) && s.Playback.Tick > s.Playback.FirstTick && s.Playback.Players == players
	})
	if st.Room != "arena" || st.Playback.FirstTick != 1 || st.Playback.LastTick != 600 || st.Playback.Speed != 1 || st.Playback.Error != "" {
		t.Fatalf("replay screen %+v %+v", st, *st.Playback)
	}

	p.press(t, "Tab", "Tab", 9)
	p.waitScreen(t, "following a player after Tab", 10*time.Second, func(s probe.State) bool { return s.Playback.Follow != 0 })

	before := p.screen(t).Playback.Tick
	p.press(t, "ArrowRight", "ArrowRight", 39)
	p.waitScreen(t, "a jump of 5 s on the right arrow", 10*time.Second, func(s probe.State) bool {
		return s.Playback.Tick >= before+5*30
	})

	p.press(t, " ", "Space", 32)
	paused := p.waitScreen(t, "paused after Space", 10*time.Second, func(s probe.State) bool { return s.Playback.Status == "paused" })

	// The middle of the timeline is tick 300 (of 1..600), whole seconds.
	p.click(t, "the timeline", paused.Playback.Timeline)
	p.waitScreen(t, "the seek to the middle", 10*time.Second, func(s probe.State) bool {
		return s.Playback.Tick >= 270 && s.Playback.Tick <= 330 && s.Playback.Status == "paused"
	})
	p.press(t, " ", "Space", 32)
	p.waitScreen(t, "playing again", 10*time.Second, playing)

	var last pixelCounts
	deadline := time.Now().Add(20 * time.Second)
	for {
		shot, err := chromedp.Run(p.ctx, chromedp.CaptureScreenshot())
		if err != nil {
			t.Fatalf("screenshot: %v", err)
		}
		img, err := png.Decode(bytes.NewReader(shot))
		if err != nil {
			t.Fatalf("decoding screenshot: %v", err)
		}
		last = count(img)
		// The followed player is drawn as the own one; the others as
		// remote players.
		if last.border >= minBorderPixels && last.own >= minPlayerPixels && last.other >= 2*minPlayerPixels {
			t.Logf("screenshot: %d border, %d followed, %d other pixels", last.border, last.own, last.other)
			_ = os.WriteFile(filepath.Join(t.ArtifactDir(), "replay.png"), shot, 0o644)
			saveArtefact(t, "browser-replay.png", img)
			break
		}
		if time.Now().After(deadline) {
			saveArtefact(t, "browser-replay.png", img)
			t.Fatalf("the replay's screenshot never showed the arena, the followed player and the others: %+v", last)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// TestDesktopClientPlaysAReplayFile: -replay FILE plays a recording
// from disk (zstd blocks, which the desktop build decodes) under Xvfb,
// to its end.
func TestDesktopClientPlaysAReplayFile(t *testing.T) {
	dir := t.TempDir()
	name := writeRecording(t, dir, 4)
	d := startDesktop(t, "-replay", filepath.Join(dir, name))
	st := d.waitScreen(t, "the replay playing", 60*time.Second, func(s probe.State) bool {
		return s.Screen == probe.Replay && s.Playback != nil && s.Playback.Status == "playing" && s.Playback.Players == 4
	})
	if st.Room != "arena" || st.Playback.LastTick != 600 {
		t.Fatalf("replay screen %+v %+v", st, *st.Playback)
	}
	d.waitScreen(t, "the replay's end", 40*time.Second, func(s probe.State) bool {
		return s.Playback != nil && s.Playback.Status == "ended" && s.Playback.Tick == 571
	})
}
