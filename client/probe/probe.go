// Package probe is what the game tells about its screen, for tests and
// tools that cannot read pixels: which screen shows (the lobby or a
// game), the room and transport of the game, the lobby's message, and
// where the lobby's rows and buttons are, so that a test can click them.
//
// The game publishes a State whenever it changes, the same way it tells
// the rest: in a browser as the page's global window.tickwireState (a
// plain object, as State marshals to JSON), on the desktop as a log line
// with the message "screen" whose attribute "probe" holds State as JSON
// (FromLogLine reads it back). The package imports no Ebiten, so tests can
// import it.
package probe

import (
	"encoding/json"
	"image"
	"strconv"
	"strings"
)

// Screens.
const (
	Lobby   = "lobby"
	Playing = "playing"
	Replay  = "replay"
)

// Global is the page's global that holds the State in a browser.
const Global = "tickwireState"

// LogMessage and LogKey mark the desktop's log line and its attribute.
const (
	LogMessage = "screen"
	LogKey     = "probe"
)

// Rect is a rectangle in screen pixels: the window's on the desktop, CSS
// pixels of the page (from the canvas's top left) in a browser. It holds
// x <= X < x+W, y <= Y < y+H.
type Rect struct {
	X int `json:"x"`
	Y int `json:"y"`
	W int `json:"w"`
	H int `json:"h"`
}

// FromRectangle converts an image.Rectangle.
func FromRectangle(r image.Rectangle) Rect {
	return Rect{X: r.Min.X, Y: r.Min.Y, W: r.Dx(), H: r.Dy()}
}

// Center is the middle of r, where a test clicks.
func (r *Rect) Center() (x, y int) { return r.X + r.W/2, r.Y + r.H/2 }

// Row is one room's row on the lobby screen.
type Row struct {
	Room    string `json:"room"`
	Players int    `json:"players"`
	Rect    Rect   `json:"rect"`
}

// Buttons are the lobby screen's buttons: Play now, Watch (the selected
// room), Create and the create panel's fields.
type Buttons struct {
	PlayNow    Rect `json:"play_now"`
	Watch      Rect `json:"watch"`
	Create     Rect `json:"create"`
	TickRate   Rect `json:"tick_rate"`
	Capacity   Rect `json:"capacity"`
	AOI        Rect `json:"aoi"`
	Visibility Rect `json:"visibility"`
}

// State is what the game shows.
type State struct {
	// Screen is Lobby or Playing.
	Screen string `json:"screen"`
	// Room, Server and Transport are the game's (Playing): the room, the
	// base URL of the process it plays on, and the transport of the
	// connected session ("" while not connected).
	Room      string `json:"room,omitempty"`
	Server    string `json:"server,omitempty"`
	Transport string `json:"transport,omitempty"`
	// Connection is the connection's state while Playing: connecting,
	// connected, reconnecting, disconnected.
	Connection string `json:"connection,omitempty"`
	// Message is the lobby's message (an error in plain words); Pending
	// what the lobby waits for.
	Message string `json:"message,omitempty"`
	Pending string `json:"pending,omitempty"`
	// Rows are the rooms on the lobby screen, top to bottom, as shown
	// (scrolled rooms are not listed); Selected the room Enter joins.
	Rows     []Row  `json:"rows,omitempty"`
	Selected string `json:"selected,omitempty"`
	// Form is the create panel's choices, as its buttons say them.
	Form *Form `json:"form,omitempty"`
	// Buttons are the lobby's buttons.
	Buttons *Buttons `json:"buttons,omitempty"`
	// Playback is the replay's state (Screen Replay).
	Playback *Playback `json:"playback,omitempty"`
	// Watch is a spectator's view (Screen Playing, watching a room).
	Watch *Watch `json:"watch,omitempty"`
}

// Watch is what a spectator's screen shows.
type Watch struct {
	// Follow is the player the camera follows, 0 for the free camera.
	Follow int `json:"follow"`
	// Players is how many players the frame shows; Spectators how many
	// watch the room, by the server's roster.
	Players    int `json:"players"`
	Spectators int `json:"spectators"`
	// X and Y are where the followed player is drawn, in world units
	// rounded by Coarse (0, 0 for the free camera): they change as it
	// moves, a few times a second rather than every frame.
	X int `json:"x"`
	Y int `json:"y"`
}

// CoarseUnits is the step of Watch.X and Watch.Y, in world units.
const CoarseUnits = 20

// Coarse rounds a world coordinate to CoarseUnits.
func Coarse(v float64) int { return int(v/CoarseUnits+0.5) * CoarseUnits }

// Playback is what the replay screen shows.
type Playback struct {
	// Name is the recording; Status "loading", "playing", "paused",
	// "ended" or "failed", with Error saying why it failed or where a
	// truncated recording stops.
	Name   string `json:"name"`
	Status string `json:"status"`
	Error  string `json:"error,omitempty"`
	// Tick is the tick shown, to the second (published on change, a
	// finer tick would be a log line per frame on the desktop), within
	// FirstTick..LastTick.
	Tick      int     `json:"tick"`
	FirstTick int     `json:"first"`
	LastTick  int     `json:"last"`
	Speed     float64 `json:"speed"`
	// Follow is the entity the camera follows, 0 for the free view;
	// Players how many players the frame shows.
	Follow  int `json:"follow"`
	Players int `json:"players"`
	// Timeline is the bar a click seeks on.
	Timeline Rect `json:"timeline"`
}

// Form is the create panel's choices.
type Form struct {
	TickRate int  `json:"tick_rate"`
	Capacity int  `json:"capacity"`
	AOI      bool `json:"aoi"`
	Private  bool `json:"private"`
}

// Row returns the row of room id, if shown.
func (s *State) Row(id string) (Row, bool) {
	for _, r := range s.Rows {
		if r.Room == id {
			return r, true
		}
	}
	return Row{}, false
}

// JSON is s as published.
func (s *State) JSON() string {
	b, err := json.Marshal(s)
	if err != nil { // a struct of strings and ints: cannot happen
		return `{"screen":"?"}`
	}
	return string(b)
}

// FromLogLine reads the State from one line of the desktop game's log
// (slog's text format, as cmd/client writes it): false for other lines.
func FromLogLine(line string) (State, bool) {
	if !strings.Contains(line, "msg="+LogMessage+" ") {
		return State{}, false
	}
	_, v, ok := strings.Cut(line, " "+LogKey+"=")
	if !ok {
		return State{}, false
	}
	// The text handler quotes the JSON (it has spaces and quotes) as Go
	// does; the value runs to the end of the line.
	quoted, err := strconv.QuotedPrefix(v)
	if err != nil {
		return State{}, false
	}
	raw, err := strconv.Unquote(quoted)
	if err != nil {
		return State{}, false
	}
	var s State
	if json.Unmarshal([]byte(raw), &s) != nil {
		return State{}, false
	}
	return s, true
}
