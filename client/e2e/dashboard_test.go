package e2e

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/tickwire/tickwire/game"
	"github.com/tickwire/tickwire/netcode/server"
	"github.com/tickwire/tickwire/netcode/server/dashboard"
	"github.com/tickwire/tickwire/netcode/server/servertest"
)

// TestDashboardPageIsLiveInChromium opens the server's /dashboard with
// the lobby key in headless Chromium, as an operator would: the page
// trades the key for its cookie, follows the event stream, shows the two
// players, and its tick chart moves between two screenshots taken three
// events apart (kept in the test's artifacts).
func TestDashboardPageIsLiveInChromium(t *testing.T) {
	if _, err := exec.LookPath(chromiumPath()); err != nil {
		need(t, "chromium")
	}
	const key = "e2e-dashboard-key"
	srv := servertest.Start(t, &server.Server{LobbyKey: key, Game: game.Config{MaxPlayers: 8, Size: arenaSize, Seed: 7}})
	startBots(t, srv, 2)

	browserCtx := startBrowser(t, chromiumPath())
	tabCtx, cancelTab := chromedp.NewContext(browserCtx)
	t.Cleanup(cancelTab)
	ctx, cancel := context.WithTimeout(tabCtx, 2*time.Minute)
	t.Cleanup(cancel)
	if err := chromedp.Do(ctx, chromedp.Navigate(srv.URL()+dashboard.Path+"?key="+key)); err != nil {
		t.Fatalf("opening the dashboard: %v", err)
	}
	loc, err := chromedp.Run(ctx, chromedp.Location())
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(loc, key) {
		t.Errorf("the key is still in the address bar: %s", loc)
	}

	// The page counts the events it drew (window.tickwireDashboard): the
	// next event is the signal to wait for.
	events := func(min int) int {
		t.Helper()
		n, err := chromedp.Run(ctx, chromedp.Poll[int](
			fmt.Sprintf("window.tickwireDashboard && tickwireDashboard.events >= %d && tickwireDashboard.last.players === 2 && tickwireDashboard.events", min),
			chromedp.WithPollingTimeout(30*time.Second)))
		if err != nil {
			t.Fatalf("waiting for event %d with the two players: %v", min, err)
		}
		return n
	}
	n := events(1)
	for id, want := range map[string]string{"players": "2", "ws": "2", "wt": "0", "status": "live"} {
		got, err := chromedp.Run(ctx, chromedp.TextContent(chromedp.ID(id)))
		if err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Errorf("#%s shows %q, want %q", id, got, want)
		}
	}
	rows, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll("#rooms tr").length`))
	if err != nil || rows != 1 {
		t.Errorf("%d rows in the rooms table (%v), want the default room", rows, err)
	}

	first := chartShot(t, ctx, "tick-chart-1.png")
	events(n + 3)
	second := chartShot(t, ctx, "tick-chart-2.png")
	if d := pixelsDiffering(first, second); d < 20 {
		t.Errorf("the tick chart changed in %d pixels over three events, want it moving", d)
	} else {
		t.Logf("the tick chart changed in %d pixels over three events", d)
	}
	if page, err := chromedp.Run(ctx, chromedp.FullScreenshot(100)); err == nil { // for a human to look at
		_ = os.WriteFile(filepath.Join(t.ArtifactDir(), "dashboard.png"), page, 0o644)
	}
}

// chartShot screenshots the tick chart into the test's artifacts.
func chartShot(t *testing.T, ctx context.Context, name string) image.Image {
	t.Helper()
	b, err := chromedp.Run(ctx, chromedp.Screenshot(chromedp.ID("tick-chart")))
	if err != nil {
		t.Fatalf("screenshot of the tick chart: %v", err)
	}
	path := filepath.Join(t.ArtifactDir(), name)
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("tick chart: %s", path)
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("decoding %s: %v", name, err)
	}
	return img
}

func pixelsDiffering(a, b image.Image) int {
	if a.Bounds() != b.Bounds() {
		return a.Bounds().Dx() * a.Bounds().Dy()
	}
	n := 0
	for y := a.Bounds().Min.Y; y < a.Bounds().Max.Y; y++ {
		for x := a.Bounds().Min.X; x < a.Bounds().Max.X; x++ {
			r1, g1, b1, _ := a.At(x, y).RGBA()
			r2, g2, b2, _ := b.At(x, y).RGBA()
			if r1 != r2 || g1 != g2 || b1 != b2 {
				n++
			}
		}
	}
	return n
}
