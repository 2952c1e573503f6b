package server

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/tickwire/tickwire/netcode/wire"
)

func TestRosterNamesEveryPlayerOnJoinAndLeave(t *testing.T) {
	srv := startServer(t, &Server{})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	rosters := make(chan *Roster, 16)
	a, err := Connect(ctx, ClientConfig{
		Server: srv.URL(), Name: "ann", Dial: DialOptions{Transport: WebSocket}, Logger: testLogger(t),
		OnRoster: func(r *Roster) { rosters <- r },
	})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	// names waits for the newest roster that lists exactly want.
	var rev uint64
	names := func(want ...string) {
		t.Helper()
		for {
			select {
			case r := <-rosters:
				if r.Revision <= rev {
					continue // an older one overtaken by a newer
				}
				rev = r.Revision
				var got []string
				for _, p := range r.Players {
					got = append(got, p.Name)
				}
				slices.Sort(got)
				if slices.Equal(got, want) {
					return
				}
			case <-ctx.Done():
				t.Fatalf("no roster listing %q", want)
			}
		}
	}
	names("ann")
	b, err := Connect(ctx, ClientConfig{Server: srv.URL(), Name: "bob", Dial: DialOptions{Transport: WebSocket}, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	names("ann", "bob")
	b.Close()
	names("ann")
}

func FuzzDecodeRoster(f *testing.F) {
	f.Add(RosterPacket(&Roster{Revision: 3, Players: []RosterEntry{{1, "ann"}, {7, "bob"}}}))
	f.Add(RosterPacket(&Roster{}))
	f.Add([]byte{0x42, 0x04, 0x12, 0x02, 0x08, 0x00})
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := DecodeRoster(b)
		if err != nil {
			return
		}
		if len(r.Players) > MaxRosterPlayers {
			t.Fatalf("%d players accepted", len(r.Players))
		}
		for _, p := range r.Players {
			if p.Entity == 0 || wire.ValidatePlayerName(p.Name) != nil {
				t.Fatalf("accepted entry %+v", p)
			}
		}
		again, err := DecodeRoster(RosterPacket(r))
		if err != nil || again.Revision != r.Revision || !slices.Equal(again.Players, r.Players) {
			t.Fatalf("re-encoding changed the roster: %+v, %v", again, err)
		}
	})
}

// TestRosterChangesWithinASecondAreCoalesced: a burst of joins sends one
// roster at once and one more, listing everybody, a second later, not one
// per join (each roster goes to every player: O(N²) bytes for N joins).
func TestRosterChangesWithinASecondAreCoalesced(t *testing.T) {
	var rm room
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range 100 {
		rm.rosterChanged(start.Add(time.Duration(i) * time.Millisecond))
	}
	if n := rm.rosterRev.Load(); n != 1 {
		t.Fatalf("%d rosters sent for a burst of 100 changes, want 1 at once", n)
	}
	rm.flushRoster(start.Add(rosterEvery / 2))
	if n := rm.rosterRev.Load(); n != 1 {
		t.Fatalf("held roster sent after %v, before rosterEvery", rosterEvery/2)
	}
	rm.flushRoster(start.Add(rosterEvery))
	if n := rm.rosterRev.Load(); n != 2 {
		t.Fatalf("held roster not sent after rosterEvery (%d sent)", n)
	}
	rm.flushRoster(start.Add(3 * rosterEvery))
	if n := rm.rosterRev.Load(); n != 2 {
		t.Fatal("a roster sent with nothing changed")
	}
}
