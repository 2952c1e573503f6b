package lobbyui

import (
	"fmt"
	"image"
	"slices"
	"strings"
	"testing"

	"github.com/tickwire/tickwire/netcode/lobby"
)

func ids(rooms []lobby.Room) []string {
	var out []string
	for _, r := range rooms {
		out = append(out, r.ID)
	}
	return out
}

// room builds a listed room field by field (so the test does not depend
// on how lobby.Room nests them).
func room(id string, players, capacity int) lobby.Room {
	var r lobby.Room
	r.ID, r.Players, r.Capacity, r.TickRate, r.Process = id, players, capacity, 30, "p1"
	return r
}

func TestSortRoomsOpenFirstThenBusiestThenByID(t *testing.T) {
	for _, tc := range []struct {
		name  string
		rooms []lobby.Room
		want  []string
	}{
		{"busiest first", []lobby.Room{room("a", 1, 8), room("b", 5, 8), room("c", 3, 8)}, []string{"b", "c", "a"}},
		{"full rooms last, however busy", []lobby.Room{room("full", 8, 8), room("one", 1, 8), room("over", 9, 8)}, []string{"one", "over", "full"}},
		{"ties by id", []lobby.Room{room("z", 2, 8), room("m", 2, 8), room("a", 2, 8)}, []string{"a", "m", "z"}},
		{"empty rooms after busy ones", []lobby.Room{room("empty", 0, 8), room("default", 4, 100)}, []string{"default", "empty"}},
		{"none", nil, nil},
	} {
		rooms := slices.Clone(tc.rooms)
		SortRooms(rooms)
		if got := ids(rooms); !slices.Equal(got, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestSetRoomsKeepsTheSelectionOnItsRoom(t *testing.T) {
	l := NewLayout(1024, 768)
	s := NewState("")
	if s.Selected != -1 || s.Listed {
		t.Fatalf("new state: selected %d, listed %v; want -1, false", s.Selected, s.Listed)
	}
	s.SetRooms([]lobby.Room{room("a", 1, 8), room("b", 2, 8)}, l)
	if !s.Listed || s.Selected != 0 || s.Rooms[0].ID != "b" {
		t.Fatalf("first list: selected %d of %v, want 0 (b, the busiest)", s.Selected, ids(s.Rooms))
	}
	s.Step(Input{Down: true}, l) // select a
	// a becomes the busiest: it moves to the top, the selection with it.
	s.SetRooms([]lobby.Room{room("a", 5, 8), room("b", 2, 8), room("c", 3, 8)}, l)
	if got := s.Rooms[s.Selected].ID; got != "a" || s.Selected != 0 {
		t.Errorf("after a refresh that moved a: selected %d (%s), want 0 (a)", s.Selected, got)
	}
	// a closes: the selection falls back to the first room.
	s.SetRooms([]lobby.Room{room("b", 2, 8), room("c", 3, 8)}, l)
	if s.Selected != 0 || s.Rooms[0].ID != "c" {
		t.Errorf("after a closed: selected %d of %v, want 0 (c)", s.Selected, ids(s.Rooms))
	}
	s.ListErr = "stale"
	s.SetRooms(nil, l)
	if s.Selected != -1 || s.Top != 0 || s.ListErr != "" {
		t.Errorf("empty list: selected %d, top %d, list error %q; want -1, 0, none", s.Selected, s.Top, s.ListErr)
	}
}

// manyRooms are n rooms that sort as r00, r01, ... (fewer players down
// the list).
func manyRooms(n int) []lobby.Room {
	var rooms []lobby.Room
	for i := range n {
		rooms = append(rooms, room(fmt.Sprintf("r%02d", i), n-i, 1000))
	}
	return rooms
}

func TestStepKeysMoveTheSelectionAndScroll(t *testing.T) {
	l := NewLayout(1024, 200+TableTop+HeaderH+FooterH) // 8 rows... of 24 px
	rows := len(l.Rows)
	s := NewState("")
	s.SetRooms(manyRooms(20), l)
	for i := range rows + 2 {
		if a := s.Step(Input{Down: true}, l); a.Kind != NoAction {
			t.Fatalf("Down %d started %+v", i, a)
		}
	}
	if s.Selected != rows+2 || s.Top != 3 {
		t.Errorf("after %d Downs: selected %d, top %d; want %d, 3 (the selection on the last row)", rows+2, s.Selected, s.Top, rows+2)
	}
	for range 100 {
		s.Step(Input{Down: true}, l)
	}
	if s.Selected != 19 || s.Top != 20-rows {
		t.Errorf("Down past the end: selected %d, top %d; want 19, %d", s.Selected, s.Top, 20-rows)
	}
	for range 100 {
		s.Step(Input{Up: true}, l)
	}
	if s.Selected != 0 || s.Top != 0 {
		t.Errorf("Up past the start: selected %d, top %d; want 0, 0", s.Selected, s.Top)
	}
	s.Step(Input{Wheel: 5}, l)
	if s.Top != 5 || s.Selected != 0 {
		t.Errorf("wheel down 5: top %d, selected %d; want 5, 0 (the wheel scrolls, it does not select)", s.Top, s.Selected)
	}
	s.Step(Input{Wheel: 100}, l)
	if s.Top != 20-rows {
		t.Errorf("wheel far down: top %d, want %d (the last room on the last row)", s.Top, 20-rows)
	}
	s.Step(Input{Wheel: -100}, l)
	if s.Top != 0 {
		t.Errorf("wheel far up: top %d, want 0", s.Top)
	}
	if a := s.Step(Input{Enter: true}, l); a.Kind != JoinRoom || a.Room != "r00" {
		t.Errorf("Enter: %+v, want a join of r00", a)
	}
}

func TestStepClicksAndKeysStartActions(t *testing.T) {
	l := NewLayout(1024, 768)
	center := func(r image.Rectangle) image.Point { return r.Min.Add(r.Size().Div(2)) }
	for _, tc := range []struct {
		name  string
		setup func(s *State)
		in    Input
		want  Action
		form  Form // the form afterwards
	}{
		{"click a row joins its room", nil,
			Input{Click: true, Cursor: center(l.Rows[2])}, Action{Kind: JoinRoom, Room: "r02"}, NewForm()},
		{"click a row of a scrolled table joins the room shown there", func(s *State) { s.Top = 4 },
			Input{Click: true, Cursor: center(l.Rows[2])}, Action{Kind: JoinRoom, Room: "r06"}, NewForm()},
		{"click an empty row does nothing", nil,
			Input{Click: true, Cursor: center(l.Rows[len(l.Rows)-1])}, Action{}, NewForm()},
		{"the cursor over a row without a click does nothing", nil,
			Input{Cursor: center(l.Rows[0])}, Action{}, NewForm()},
		{"click play now", nil, Input{Click: true, Cursor: center(l.PlayNow)}, Action{Kind: QuickPlay}, NewForm()},
		{"key P plays now", nil, Input{PlayNow: true}, Action{Kind: QuickPlay}, NewForm()},
		{"click a field cycles it", nil, Input{Click: true, Cursor: center(l.Fields[FieldTickRate])}, Action{},
			Form{tick: 2, capacity: 3}},
		{"keys cycle fields", nil, Input{Cycle: [NumFields]bool{FieldAOI: true, FieldVisibility: true}}, Action{},
			Form{tick: 1, capacity: 3, AOI: true, Private: true}},
		{"click create sends the form", func(s *State) { s.Form.Cycle(FieldAOI) },
			Input{Click: true, Cursor: center(l.Create)},
			Action{Kind: CreateRoom, Create: lobby.CreateRequest{TickRate: 30, MaxPlayers: 16, AOIRadius: AOIRadius}},
			Form{tick: 1, capacity: 3, AOI: true}},
		{"key N creates, after this frame's field keys", nil,
			Input{Create: true, Cycle: [NumFields]bool{FieldCapacity: true}},
			Action{Kind: CreateRoom, Create: lobby.CreateRequest{TickRate: 30, MaxPlayers: 32}},
			Form{tick: 1, capacity: 4}},
		{"nothing starts while an action is pending", func(s *State) { s.Pending = "joining room r00 ..." },
			Input{Click: true, Cursor: center(l.PlayNow), Enter: true, Cycle: [NumFields]bool{FieldAOI: true}}, Action{}, NewForm()},
		{"Enter without rooms does nothing", func(s *State) { s.SetRooms(nil, l) },
			Input{Enter: true}, Action{}, NewForm()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := NewState("")
			s.SetRooms(manyRooms(10), l)
			if tc.setup != nil {
				tc.setup(&s)
			}
			if got := s.Step(tc.in, l); got != tc.want {
				t.Errorf("Step = %+v, want %+v", got, tc.want)
			}
			if s.Form != tc.form {
				t.Errorf("form %+v, want %+v", s.Form, tc.form)
			}
			if tc.want.Kind == JoinRoom && s.Rooms[s.Selected].ID != tc.want.Room {
				t.Errorf("joining %s left %s selected", tc.want.Room, s.Rooms[s.Selected].ID)
			}
		})
	}
}

func TestFormCyclesThroughItsValuesAndBack(t *testing.T) {
	f := NewForm()
	var ticks, caps []int
	for range len(TickRates) + 1 {
		ticks = append(ticks, f.TickRate())
		f.Cycle(FieldTickRate)
	}
	for range len(Capacities) + 1 {
		caps = append(caps, f.Capacity())
		f.Cycle(FieldCapacity)
	}
	if want := []int{30, 60, 20, 30}; !slices.Equal(ticks, want) {
		t.Errorf("tick rates %v, want %v", ticks, want)
	}
	if want := []int{16, 32, 64, 100, 2, 4, 8, 16}; !slices.Equal(caps, want) {
		t.Errorf("capacities %v, want %v", caps, want)
	}
	for _, tc := range []struct {
		cycle []Field
		req   lobby.CreateRequest
		aoi   string
		vis   string
	}{
		{nil, lobby.CreateRequest{TickRate: 30, MaxPlayers: 16}, "off", "listed"},
		{[]Field{FieldAOI}, lobby.CreateRequest{TickRate: 30, MaxPlayers: 16, AOIRadius: 400}, "on (radius 400)", "listed"},
		{[]Field{FieldAOI, FieldAOI, FieldVisibility}, lobby.CreateRequest{TickRate: 30, MaxPlayers: 16, Private: true}, "off", "private"},
		{[]Field{FieldTickRate, FieldCapacity, FieldCapacity}, lobby.CreateRequest{TickRate: 60, MaxPlayers: 64}, "off", "listed"},
	} {
		f := NewForm()
		for _, c := range tc.cycle {
			f.Cycle(c)
		}
		if got := f.Request(); got != tc.req {
			t.Errorf("after %v: request %+v, want %+v", tc.cycle, got, tc.req)
		}
		if !strings.HasSuffix(f.Label(FieldAOI), tc.aoi) || !strings.HasSuffix(f.Label(FieldVisibility), tc.vis) {
			t.Errorf("after %v: labels %q, %q; want them to end %q, %q", tc.cycle, f.Label(FieldAOI), f.Label(FieldVisibility), tc.aoi, tc.vis)
		}
		if want := fmt.Sprintf("%d Hz", tc.req.TickRate); !strings.HasSuffix(f.Label(FieldTickRate), want) {
			t.Errorf("tick label %q, want it to end %q", f.Label(FieldTickRate), want)
		}
	}
}

func TestRowTextColumns(t *testing.T) {
	r := room("duel", 1, 2)
	r.TickRate, r.AOI, r.Process, r.Region, r.Spectators = 60, true, "eu-1", "Paris", 3
	got := RowText(r, 200)
	want := "duel                    1/2      3        60 Hz  on   eu-1 (Paris)"
	if got != want {
		t.Errorf("RowText = %q, want %q", got, want)
	}
	// The header's columns line up with the row's.
	h := HeaderText()
	for _, col := range []string{"PLAYERS", "WATCHING", "TICK", "AOI", "WHERE"} {
		if i := strings.Index(h, col); i < 0 || got[i-1] != ' ' || got[i] == ' ' {
			t.Errorf("column %s at %d of the header, but the row %q has no value starting there", col, i, got)
		}
	}
	long := room(strings.Repeat("x", 32), 10, 100)
	if got := RowText(long, 200); !strings.HasPrefix(got, strings.Repeat("x", 22)+"~ 10/100") {
		t.Errorf("a 32-character id: %q, want it cut to 23 with a ~", got)
	}
	if got := RowText(r, 20); len(got) != 20 || !strings.HasSuffix(got, "~") {
		t.Errorf("RowText cut to 20: %q", got)
	}
}

func TestClipAndWrap(t *testing.T) {
	for _, tc := range []struct {
		s    string
		n    int
		want string
	}{
		{"abc", 5, "abc"}, {"abcdef", 5, "abcd~"}, {"abc", 1, "~"}, {"abc", 0, ""}, {"abc", 3, "abc"},
	} {
		if got := Clip(tc.s, tc.n); got != tc.want {
			t.Errorf("Clip(%q, %d) = %q, want %q", tc.s, tc.n, got, tc.want)
		}
	}
	for _, tc := range []struct {
		s    string
		cols int
		want []string
	}{
		{"Could not join room duel: the room is full", 20, []string{"Could not join room", "duel: the room is", "full"}},
		{"short", 20, []string{"short"}},
		{"a verylongwordthatdoesnotfit b", 8, []string{"a", "verylong", "wordthat", "doesnotf", "it b"}},
		{"exactly eight", 8, []string{"exactly", "eight"}},
		{"1234567 9", 9, []string{"1234567 9"}},
		{"", 20, nil},
		{"anything", 0, nil},
	} {
		if got := Wrap(tc.s, tc.cols); !slices.Equal(got, tc.want) {
			t.Errorf("Wrap(%q, %d) = %q, want %q", tc.s, tc.cols, got, tc.want)
		}
	}
}

// TestWatchWatchesTheSelectedRoom: the W key or the Watch button watch
// the selected room as a spectator; with no room selected the button
// says to select one and starts nothing; a lobby join that spectates
// becomes a target that spectates.
func TestWatchWatchesTheSelectedRoom(t *testing.T) {
	l := NewLayout(1024, 768)
	wx, wy := l.Watch.Min.X+2, l.Watch.Min.Y+2
	for _, tc := range []struct {
		name  string
		rooms []lobby.Room
		in    Input
		want  Action
		msg   bool
	}{
		{"key, a room selected", []lobby.Room{room("duel", 2, 2)}, Input{Watch: true}, Action{Kind: WatchRoom, Room: "duel"}, false},
		{"button, a room selected", []lobby.Room{room("duel", 2, 2)}, Input{Click: true, Cursor: image.Pt(wx, wy)}, Action{Kind: WatchRoom, Room: "duel"}, false},
		{"key, no room", nil, Input{Watch: true}, Action{}, false},
		{"button, no room", nil, Input{Click: true, Cursor: image.Pt(wx, wy)}, Action{}, true},
	} {
		s := NewState("")
		s.SetRooms(tc.rooms, l)
		got := s.Step(tc.in, l)
		if got.Kind != tc.want.Kind || got.Room != tc.want.Room {
			t.Errorf("%s: %+v, want %+v", tc.name, got, tc.want)
		}
		if (s.Message != "") != tc.msg {
			t.Errorf("%s: message %q", tc.name, s.Message)
		}
	}
	if d := (&Action{Kind: WatchRoom, Room: "duel"}).Describe(); !strings.Contains(d, "watch") {
		t.Errorf("Describe = %q", d)
	}
	tg, err := FromJoin("http://127.0.0.1:4433", lobby.Join{Room: "duel", URL: "http://127.0.0.1:4433", Spectate: true}, true)
	if err != nil || !tg.Spectate {
		t.Errorf("FromJoin = %+v, %v; want a spectating target", tg, err)
	}
}
