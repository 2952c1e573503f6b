package netcode

import (
	"errors"
	"fmt"
	"time"

	"github.com/tickwire/tickwire/game"
	pb "github.com/tickwire/tickwire/proto/tickwire/v1"
)

// MaxRosterPlayers bounds the entries of a roster a client accepts.
const MaxRosterPlayers = game.MaxPlayersLimit

// Roster is the decoded form of pb.Roster: the room's players and names.
type Roster struct {
	Revision uint64
	Players  []RosterEntry
}

// RosterEntry names one player's entity.
type RosterEntry struct {
	Entity game.EntityID
	Name   string
}

// RosterPacket encodes a Packet{roster}.
func RosterPacket(r *Roster) []byte {
	msg := &pb.Roster{Revision: r.Revision, Players: make([]*pb.RosterEntry, len(r.Players))}
	for i, e := range r.Players {
		msg.Players[i] = &pb.RosterEntry{EntityId: uint32(e.Entity), Name: e.Name}
	}
	return MarshalControl(&pb.Packet{Body: &pb.Packet_Roster{Roster: msg}})
}

// DecodeRoster decodes a whole Packet{roster} from the server, refusing
// what no server sends: more than MaxRosterPlayers entries, entity 0, a
// name that the server's hello check would have refused.
func DecodeRoster(raw []byte) (*Roster, error) {
	p, err := UnmarshalControl(raw)
	if err != nil {
		return nil, fmt.Errorf("roster: %w", err)
	}
	msg := p.GetRoster()
	if msg == nil {
		return nil, malformed("not a roster")
	}
	if len(msg.GetPlayers()) > MaxRosterPlayers {
		return nil, malformed("roster of %d players", len(msg.GetPlayers()))
	}
	r := &Roster{Revision: msg.GetRevision(), Players: make([]RosterEntry, 0, len(msg.GetPlayers()))}
	for _, e := range msg.GetPlayers() {
		if e.GetEntityId() == 0 {
			return nil, malformed("roster entry for entity 0")
		}
		if err := validatePlayerName(e.GetName()); err != nil {
			return nil, fmt.Errorf("%w: roster entry %d: %v", ErrMalformed, e.GetEntityId(), err)
		}
		r.Players = append(r.Players, RosterEntry{Entity: game.EntityID(e.GetEntityId()), Name: e.GetName()})
	}
	return r, nil
}

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

// sendRoster tells every session who is in the room: the complete list
// with a new revision. Sends run on their own goroutines so a slow client
// (bounded by the transport's write timeout) delays no one.
func (rm *room) sendRoster() {
	list := rm.currentSessions()
	r := Roster{Revision: rm.rosterRev.Add(1), Players: make([]RosterEntry, len(list))}
	for i, ss := range list {
		r.Players[i] = RosterEntry{Entity: ss.entity, Name: ss.name}
	}
	b := RosterPacket(&r)
	for _, ss := range list {
		go func() {
			if err := ss.conn.SendMessage(b); err != nil && !errors.Is(err, ErrClosed) {
				ss.log.Debug("sending roster", "err", err)
			}
		}()
	}
}
