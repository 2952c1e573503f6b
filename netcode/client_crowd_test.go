package netcode

import (
	"fmt"
	"testing"

	"github.com/tickwire/tickwire/game"
)

// Tests of the client's behaviour when many sessions share one process
// (the bot swarm): work nobody asked for must not be done per session.

func bigRoster(n int) []byte {
	r := &Roster{Revision: 7}
	for i := range n {
		r.Players = append(r.Players, RosterEntry{Entity: game.EntityID(i + 1), Name: fmt.Sprintf("bot-%d", i)})
	}
	return RosterPacket(r)
}

func TestRosterWithoutListenerIsNotDecoded(t *testing.T) {
	c := newOfflineClient(t)
	raw := bigRoster(500)
	allocs := testing.AllocsPerRun(20, func() {
		if err := c.handlePacket(raw, t0); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Errorf("a roster nobody listens to cost %v allocations: it was decoded", allocs)
	}
	if got := c.stats.rostersSkipped.Load(); got < 20 {
		t.Errorf("%d rosters counted as skipped, want >= 20", got)
	}
}

func TestRosterWithListenerIsDelivered(t *testing.T) {
	c := newOfflineClient(t)
	var got *Roster
	c.cfg.OnRoster = func(r *Roster) { got = r }
	if err := c.handlePacket(bigRoster(3), t0); err != nil {
		t.Fatal(err)
	}
	if got == nil || got.Revision != 7 || len(got.Players) != 3 || got.Players[2].Name != "bot-2" {
		t.Fatalf("listener got %+v", got)
	}
}
