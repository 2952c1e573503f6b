package probe

import (
	"bytes"
	"image"
	"log/slog"
	"reflect"
	"strings"
	"testing"
)

// TestFromLogLineReadsWhatTheDesktopLogs: the line the desktop game
// writes (client/probe_desktop.go: slog's text handler) gives back the
// State, however its strings are quoted; other lines give nothing.
func TestFromLogLineReadsWhatTheDesktopLogs(t *testing.T) {
	want := State{
		Screen:  Lobby,
		Message: `Could not join room "duel": the room is full`,
		Rows:    []Row{{Room: "duel", Players: 2, Rect: FromRectangle(image.Rect(24, 116, 676, 140))}},
		Buttons: &Buttons{PlayNow: Rect{X: 24, Y: 48, W: 140, H: 28}},
		Form:    &Form{TickRate: 30, Capacity: 16},
	}
	var buf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&buf, nil))
	log.Info("connection", "state", "connecting")
	log.Info(LogMessage, "screen", want.Screen, "room", want.Room, LogKey, want.JSON())
	var got []State
	for line := range strings.Lines(buf.String()) {
		if s, ok := FromLogLine(strings.TrimSuffix(line, "\n")); ok {
			got = append(got, s)
		}
	}
	if len(got) != 1 || !reflect.DeepEqual(got[0], want) {
		t.Fatalf("read %+v from\n%s\nwant one %+v", got, buf.String(), want)
	}
	if r, ok := got[0].Row("duel"); !ok || r.Players != 2 {
		t.Errorf("Row(duel) = %+v, %v", r, ok)
	}
	if x, y := got[0].Rows[0].Rect.Center(); x != 350 || y != 128 {
		t.Errorf("centre of the row (%d, %d), want (350, 128)", x, y)
	}
	for _, line := range []string{
		`time=x level=INFO msg=screen probe=notquoted`,
		`time=x level=INFO msg=other probe="{\"screen\":\"lobby\"}"`,
		`time=x level=INFO msg=screen probe="{not json}"`,
	} {
		if s, ok := FromLogLine(line); ok {
			t.Errorf("FromLogLine(%q) = %+v, want nothing", line, s)
		}
	}
}
