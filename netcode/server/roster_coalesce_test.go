package server

import (
	"testing"
	"time"
)

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
