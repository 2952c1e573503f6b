package wire

import (
	"slices"
	"testing"
)

// FuzzDecodeRoster: a roster from a hostile server decodes to at most
// MaxRosterPlayers entries, each with an entity and a valid name, and
// re-encodes to the same roster; anything else is an error.
func FuzzDecodeRoster(f *testing.F) {
	f.Add(RosterPacket(&Roster{Revision: 3, Players: []RosterEntry{{1, "ann"}, {7, "bob"}}}))
	f.Add(RosterPacket(&Roster{}))
	f.Add(RosterPacket(&Roster{Revision: 9, Players: []RosterEntry{{2, "cy"}}, Spectators: 5}))
	f.Add([]byte{0x42, 0x04, 0x12, 0x02, 0x08, 0x00})
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := DecodeRoster(b)
		if err != nil {
			return
		}
		if len(r.Players) > MaxRosterPlayers || r.Spectators < 0 || r.Spectators > MaxRosterSpectators {
			t.Fatalf("%d players accepted", len(r.Players))
		}
		for _, p := range r.Players {
			if p.Entity == 0 || ValidatePlayerName(p.Name) != nil {
				t.Fatalf("accepted entry %+v", p)
			}
		}
		again, err := DecodeRoster(RosterPacket(r))
		if err != nil || again.Revision != r.Revision || again.Spectators != r.Spectators || !slices.Equal(again.Players, r.Players) {
			t.Fatalf("re-encoding changed the roster: %+v, %v", again, err)
		}
	})
}
