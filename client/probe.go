package client

import (
	"github.com/tickwire/tickwire/client/lobbyui"
	"github.com/tickwire/tickwire/client/probe"
)

// probeEvery spaces the checks for a change of the published state (in
// Updates): often enough for a test polling it, rarely enough to cost
// nothing.
const probeEvery = 6

// probeState is what the game last published (package probe).
type probeState struct {
	tick int
	last string
}

// publishProbe publishes the screen's state when it has changed:
// window.tickwireState in a browser, a log line on the desktop
// (publish, per platform).
func (g *Game) publishProbe() {
	if g.probe.tick++; g.probe.tick%probeEvery != 1 {
		return
	}
	st := g.probeNow()
	text := st.JSON()
	if text == g.probe.last {
		return
	}
	g.probe.last = text
	publish(g.log, st, text)
}

// probeNow is the state on screen now.
func (g *Game) probeNow() probe.State {
	if g.rp != nil {
		return g.replayProbe()
	}
	if p := g.play; p != nil {
		st := probe.State{Screen: probe.Playing, Room: p.to.Room, Server: p.to.Server, Connection: p.mgr.Status().State.String()}
		if src, ok := p.mgr.Current(); ok {
			st.Transport = string(src.Transport())
			if p.to.Spectate {
				st.Watch = g.watchProbe(src)
			}
		}
		return st
	}
	l, s := g.lobbyLayout(), &g.lobby
	st := probe.State{
		Screen:  probe.Lobby,
		Message: s.Message,
		Pending: s.Pending,
		Form:    &probe.Form{TickRate: s.Form.TickRate(), Capacity: s.Form.Capacity(), AOI: s.Form.AOI, Private: s.Form.Private},
		Buttons: &probe.Buttons{
			PlayNow:    probe.FromRectangle(l.PlayNow),
			Watch:      probe.FromRectangle(l.Watch),
			Create:     probe.FromRectangle(l.Create),
			TickRate:   probe.FromRectangle(l.Fields[lobbyui.FieldTickRate]),
			Capacity:   probe.FromRectangle(l.Fields[lobbyui.FieldCapacity]),
			AOI:        probe.FromRectangle(l.Fields[lobbyui.FieldAOI]),
			Visibility: probe.FromRectangle(l.Fields[lobbyui.FieldVisibility]),
		},
	}
	if st.Message == "" {
		st.Message = s.ListErr
	}
	if s.Selected >= 0 {
		st.Selected = s.Rooms[s.Selected].ID
	}
	for i, r := range l.Rows {
		k := s.RoomAt(i)
		if k < 0 {
			break
		}
		st.Rows = append(st.Rows, probe.Row{Room: s.Rooms[k].ID, Players: s.Rooms[k].Players, Rect: probe.FromRectangle(r)})
	}
	return st
}
