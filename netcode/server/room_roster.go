package server

import (
	"errors"
	"time"

	"github.com/tickwire/tickwire/netcode/transport"
	"github.com/tickwire/tickwire/netcode/wire"
)

// The room's side of the roster (the message itself is wire.Roster): when
// it goes out, and to whom.

// rosterEvery bounds how often a room sends its roster: joins and leaves
// within it are coalesced into one roster, so a burst of N joins costs
// O(N) roster messages per second instead of O(N²).
const rosterEvery = time.Second

// rosterChanged notes that a player joined or left: the roster goes out
// at once if none did within rosterEvery, else from flushRoster.
func (rm *room) rosterChanged(now time.Time) {
	rm.rosterMu.Lock()
	if now.Sub(rm.rosterSentAt) < rosterEvery {
		rm.rosterPending = true
		rm.rosterMu.Unlock()
		return
	}
	rm.rosterSentAt, rm.rosterPending = now, false
	rm.rosterMu.Unlock()
	rm.sendRoster()
}

// flushRoster sends the roster held back by rosterChanged once
// rosterEvery has passed. The server's housekeeping calls it every second.
func (rm *room) flushRoster(now time.Time) {
	rm.rosterMu.Lock()
	if !rm.rosterPending || now.Sub(rm.rosterSentAt) < rosterEvery {
		rm.rosterMu.Unlock()
		return
	}
	rm.rosterSentAt, rm.rosterPending = now, false
	rm.rosterMu.Unlock()
	rm.sendRoster()
}

// sendRoster tells every session, spectators too, who is in the room:
// the complete list of players, how many watch, and a new revision.
// Sends run on their own goroutines so a slow client (bounded by the
// transport's write timeout) delays no one.
func (rm *room) sendRoster() {
	list := rm.currentSessions()
	r := wire.Roster{Revision: rm.rosterRev.Add(1), Players: make([]wire.RosterEntry, 0, len(list))}
	for _, ss := range list {
		if ss.spectator {
			r.Spectators++
			continue
		}
		r.Players = append(r.Players, wire.RosterEntry{Entity: ss.entity, Name: ss.name})
	}
	b := wire.RosterPacket(&r)
	for _, ss := range list {
		go func() {
			if err := ss.conn.SendMessage(b); err != nil && !errors.Is(err, transport.ErrClosed) {
				ss.log.Debug("sending roster", "err", err)
			}
		}()
	}
}
