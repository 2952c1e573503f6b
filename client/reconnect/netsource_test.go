package reconnect

import (
	"testing"

	"github.com/tickwire/tickwire/game"
	"github.com/tickwire/tickwire/netcode/wire"
)

// Interpolation, prediction and input pacing are client.Client's and are
// tested there; the source adds only the roster's names.

func TestNamesComeFromTheNewestRoster(t *testing.T) {
	const otherID game.EntityID = 2
	s := &NetSource{}
	s.onRoster(&wire.Roster{Revision: 2, Players: []wire.RosterEntry{{Entity: otherID, Name: "bob"}}})
	s.onRoster(&wire.Roster{Revision: 1, Players: []wire.RosterEntry{{Entity: otherID, Name: "stale"}}})
	if n, ok := s.Name(otherID); !ok || n != "bob" {
		t.Errorf("name %q, %v; want bob from revision 2", n, ok)
	}
	s.onRoster(&wire.Roster{Revision: 3})
	if _, ok := s.Name(otherID); ok {
		t.Error("a player who left still has a name")
	}
}

func TestPlayersAndSpectatorsComeFromTheNewestRoster(t *testing.T) {
	s := &NetSource{}
	s.onRoster(&wire.Roster{Revision: 2, Spectators: 3, Players: []wire.RosterEntry{{Entity: 9, Name: "cy"}, {Entity: 4, Name: "ann"}}})
	s.onRoster(&wire.Roster{Revision: 1, Spectators: 7, Players: []wire.RosterEntry{{Entity: 1, Name: "stale"}}})
	if got := s.Players(nil); len(got) != 2 || got[0] != 4 || got[1] != 9 {
		t.Errorf("players %v, want [4 9] from revision 2", got)
	}
	if n := s.Spectators(); n != 3 {
		t.Errorf("%d spectators, want 3", n)
	}
}
