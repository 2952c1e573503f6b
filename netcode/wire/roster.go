package wire

import (
	"fmt"

	"github.com/tickwire/tickwire/game"
	pb "github.com/tickwire/tickwire/proto/tickwire/v1"
)

// MaxRosterPlayers bounds the entries of a roster a client accepts.
const MaxRosterPlayers = game.MaxPlayersLimit

// MaxRosterSpectators bounds the spectator count a client accepts.
const MaxRosterSpectators = 1 << 20

// MaxPlayerNameBytes bounds ClientHello.player_name.
const MaxPlayerNameBytes = 32

// Roster is the decoded form of pb.Roster: the room's players and names.
type Roster struct {
	Revision uint64
	Players  []RosterEntry
	// Spectators counts the sessions watching the room; they are not
	// among Players.
	Spectators int
}

// RosterEntry names one player's entity.
type RosterEntry struct {
	Entity game.EntityID
	Name   string
}

// RosterPacket encodes a Packet{roster}.
func RosterPacket(r *Roster) []byte {
	msg := &pb.Roster{Revision: r.Revision, Players: make([]*pb.RosterEntry, len(r.Players)), Spectators: uint32(max(0, r.Spectators))}
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
		return nil, Malformedf("not a roster")
	}
	if len(msg.GetPlayers()) > MaxRosterPlayers {
		return nil, Malformedf("roster of %d players", len(msg.GetPlayers()))
	}
	if msg.GetSpectators() > MaxRosterSpectators {
		return nil, Malformedf("roster of %d spectators", msg.GetSpectators())
	}
	r := &Roster{Revision: msg.GetRevision(), Players: make([]RosterEntry, 0, len(msg.GetPlayers())), Spectators: int(msg.GetSpectators())}
	for _, e := range msg.GetPlayers() {
		if e.GetEntityId() == 0 {
			return nil, Malformedf("roster entry for entity 0")
		}
		if err := ValidatePlayerName(e.GetName()); err != nil {
			return nil, fmt.Errorf("%w: roster entry %d: %v", ErrMalformed, e.GetEntityId(), err)
		}
		r.Players = append(r.Players, RosterEntry{Entity: game.EntityID(e.GetEntityId()), Name: e.GetName()})
	}
	return r, nil
}
