package lobbyui

import (
	"fmt"
	"image"
	"slices"
	"sort"
	"strings"

	"github.com/tickwire/tickwire/netcode/lobby"
)

// State is the lobby screen between frames. The zero value is not ready:
// use NewState.
type State struct {
	// Rooms are the listed rooms in the order shown (see SortRooms).
	Rooms []lobby.Room
	// Selected is the index in Rooms of the room Enter joins; -1 when
	// there are none.
	Selected int
	// Top is the index in Rooms of the room in the first row slot.
	Top int
	// Listed is set once a room list has arrived.
	Listed bool
	// ListErr says why the list shown may be stale ("" when the last
	// refresh worked).
	ListErr string
	// Form is the create panel.
	Form Form
	// Message is the last failure in plain words, until the next action.
	Message string
	// Pending says what the lobby is waiting for ("joining room duel
	// ..."); while it is set, clicks and keys do nothing.
	Pending string
}

// NewState is the screen as it opens, with message shown (why the last
// game ended; "" for none).
func NewState(message string) State {
	return State{Selected: -1, Form: NewForm(), Message: message}
}

// SortRooms orders rooms as the table shows them: rooms with a free seat
// before full ones (those are the ones a player can join), then the
// busiest first (people want company), then by id, so that the order is
// total (ids are unique) and the same between refreshes. (sort.Slice,
// not a generic sort: the wasm links it already, and every generic
// instantiation is more code for players to download.)
func SortRooms(rooms []lobby.Room) {
	full := func(r *lobby.Room) bool { return r.Capacity > 0 && r.Players >= r.Capacity }
	sort.Slice(rooms, func(i, j int) bool {
		a, b := &rooms[i], &rooms[j]
		if fa, fb := full(a), full(b); fa != fb {
			return fb
		}
		if a.Players != b.Players {
			return a.Players > b.Players
		}
		return a.ID < b.ID
	})
}

// SetRooms shows a fresh list: sorted, with the selection kept on the
// same room when it is still listed (a refresh must not move the
// player's choice), else on the first room.
func (s *State) SetRooms(rooms []lobby.Room, l Layout) {
	var keep string
	if s.Selected >= 0 && s.Selected < len(s.Rooms) {
		keep = s.Rooms[s.Selected].ID
	}
	s.Rooms = slices.Clone(rooms)
	SortRooms(s.Rooms)
	s.Listed, s.ListErr = true, ""
	s.Selected = slices.IndexFunc(s.Rooms, func(r lobby.Room) bool { return r.ID == keep })
	if s.Selected < 0 && len(s.Rooms) > 0 {
		s.Selected = 0
	}
	s.clampTop(l)
}

// clampTop keeps Top within the list and the selection on screen.
func (s *State) clampTop(l Layout) {
	n := len(l.Rows)
	if s.Selected >= 0 && n > 0 {
		if s.Selected < s.Top {
			s.Top = s.Selected
		}
		if s.Selected >= s.Top+n {
			s.Top = s.Selected - n + 1
		}
	}
	s.Top = max(0, min(s.Top, len(s.Rooms)-n))
}

// RoomAt is the index in Rooms of the room shown in row slot i, or -1.
func (s *State) RoomAt(i int) int {
	if k := s.Top + i; i >= 0 && k < len(s.Rooms) {
		return k
	}
	return -1
}

// Input is one frame's clicks and keys, as the game read them.
type Input struct {
	// Click is a left click (just pressed) at Cursor.
	Click  bool
	Cursor image.Point
	// Wheel scrolls the table by rows (positive: down).
	Wheel int
	// Up, Down move the selection; Enter joins it.
	Up, Down, Enter bool
	// PlayNow quick-plays; Create creates the form's room and joins it;
	// Watch watches the selected room as a spectator.
	PlayNow, Create, Watch bool
	// Cycle cycles a field of the form (by its key).
	Cycle [NumFields]bool
}

// ActionKind is what the lobby asks the game to do.
type ActionKind int

const (
	NoAction   ActionKind = iota
	JoinRoom              // Action.Room
	QuickPlay             // any room at the server's default tick rate
	CreateRoom            // Action.Create, then join it
	WatchRoom             // Action.Room, as a spectator
)

// Action is a request for the game to start.
type Action struct {
	Kind   ActionKind
	Room   string
	Create lobby.CreateRequest
}

// Step applies one frame's input and says what to start, if anything.
// It starts nothing while an action is pending.
func (s *State) Step(in Input, l Layout) Action {
	if s.Pending != "" {
		return Action{}
	}
	if in.Wheel != 0 {
		s.Top = max(0, min(s.Top+in.Wheel, len(s.Rooms)-len(l.Rows)))
	}
	s.moveSelection(in, l)
	for f, on := range in.Cycle {
		if on {
			s.Form.Cycle(Field(f))
		}
	}
	switch {
	case in.Enter && s.Selected >= 0:
		return s.join(s.Selected)
	case in.Watch && s.Selected >= 0:
		return s.watch(s.Selected)
	case in.PlayNow:
		return Action{Kind: QuickPlay}
	case in.Create:
		return Action{Kind: CreateRoom, Create: s.Form.Request()}
	case in.Click:
		return s.click(l.Hit(in.Cursor))
	}
	return Action{}
}

func (s *State) moveSelection(in Input, l Layout) {
	if len(s.Rooms) == 0 {
		return
	}
	if in.Up {
		s.Selected = max(0, s.Selected-1)
	}
	if in.Down {
		s.Selected = min(len(s.Rooms)-1, s.Selected+1)
	}
	if in.Up || in.Down {
		s.clampTop(l)
	}
}

// click acts on what was clicked: a row joins its room at once (one
// click, as in every server browser), a field cycles.
func (s *State) click(h Hit) Action {
	switch h.Kind {
	case HitRow:
		if k := s.RoomAt(h.Index); k >= 0 {
			return s.join(k)
		}
	case HitPlayNow:
		return Action{Kind: QuickPlay}
	case HitWatch:
		if s.Selected >= 0 {
			return s.watch(s.Selected)
		}
		s.Message = "Select a room to watch first (Up/Down)."
	case HitCreate:
		return Action{Kind: CreateRoom, Create: s.Form.Request()}
	case HitField:
		s.Form.Cycle(Field(h.Index))
	}
	return Action{}
}

func (s *State) join(k int) Action {
	s.Selected = k
	return Action{Kind: JoinRoom, Room: s.Rooms[k].ID}
}

func (s *State) watch(k int) Action {
	s.Selected = k
	return Action{Kind: WatchRoom, Room: s.Rooms[k].ID}
}

// Describe is what the lobby shows while a starts ("joining room duel").
func (a *Action) Describe() string {
	switch a.Kind {
	case JoinRoom:
		return "joining room " + a.Room
	case QuickPlay:
		return "finding a room"
	case CreateRoom:
		return "creating a room"
	case WatchRoom:
		return "joining room " + a.Room + " to watch"
	}
	return ""
}

// Column widths of the table, in characters.
const (
	colRoom    = 24
	colPlayers = 9
	colWatch   = 9
	colTick    = 7
	colAOI     = 5
)

// HeaderText is the table's header line.
func HeaderText() string {
	return fmt.Sprintf("%-*s%-*s%-*s%-*s%-*s%s", colRoom, "ROOM", colPlayers, "PLAYERS", colWatch, "WATCHING", colTick, "TICK", colAOI, "AOI", "WHERE")
}

// RowText is one room's line in the table, cut to cols characters.
func RowText(r lobby.Room, cols int) string {
	where := r.Process
	if r.Region != "" {
		where += " (" + r.Region + ")"
	}
	aoi := "-"
	if r.AOI {
		aoi = "on"
	}
	line := fmt.Sprintf("%-*s%-*s%-*d%-*s%-*s%s",
		colRoom, Clip(r.ID, colRoom-1),
		colPlayers, fmt.Sprintf("%d/%d", r.Players, r.Capacity),
		colWatch, r.Spectators,
		colTick, fmt.Sprintf("%d Hz", r.TickRate),
		colAOI, aoi, where)
	return Clip(line, cols)
}

// Clip cuts s to at most n characters, marking a cut with "~" (the
// debug font has no ellipsis).
func Clip(s string, n int) string {
	if n <= 0 {
		return ""
	}
	if len(s) <= n {
		return s
	}
	if n == 1 {
		return "~"
	}
	return s[:n-1] + "~"
}

// Wrap breaks s into lines of at most cols characters, at the last space
// that fits (a word longer than a line is cut).
func Wrap(s string, cols int) []string {
	var lines []string
	for s = strings.TrimSpace(s); s != "" && cols > 0; s = strings.TrimSpace(s) {
		n := len(s)
		if n > cols {
			n = cols
			if i := strings.LastIndexByte(s[:cols+1], ' '); i > 0 {
				n = i
			}
		}
		lines, s = append(lines, strings.TrimSpace(s[:n])), s[n:]
	}
	return lines
}
