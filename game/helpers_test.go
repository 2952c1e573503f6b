package game

import (
	"fmt"
	"testing"
)

// tickRates are the rates the server must run at; tests where rates
// matter run at each.
var tickRates = []int{20, 30, 60}

func forEachRate(t *testing.T, f func(t *testing.T, rate int)) {
	t.Helper()
	for _, rate := range tickRates {
		t.Run(fmt.Sprintf("%dHz", rate), func(t *testing.T) { f(t, rate) })
	}
}

// newTestWorld builds a world and adds n players.
func newTestWorld(t testing.TB, cfg Config, n int) (*World, []EntityID) {
	t.Helper()
	w := NewWorld(cfg)
	ids := make([]EntityID, n)
	for i := range ids {
		id, err := w.AddPlayer()
		if err != nil {
			t.Fatal(err)
		}
		ids[i] = id
	}
	return w, ids
}

// edit changes a player's state in place (tests set up scenes directly).
func edit(t testing.TB, w *World, id EntityID, f func(*Player)) {
	t.Helper()
	i, ok := w.playerIndex(id)
	if !ok {
		t.Fatalf("no player %d", id)
	}
	f(&w.players[i])
}

func place(t testing.TB, w *World, id EntityID, x, y float64) {
	t.Helper()
	edit(t, w, id, func(p *Player) { p.X, p.Y = x, y })
}

func mustPlayer(t testing.TB, w *World, id EntityID) Player {
	t.Helper()
	p, ok := w.Player(id)
	if !ok {
		t.Fatalf("no player %d", id)
	}
	return p
}

// projectilesOf returns the projectiles in flight fired by owner.
func projectilesOf(w *World, owner EntityID) []Projectile {
	var out []Projectile
	for _, pr := range w.projectiles {
		if pr.Owner == owner {
			out = append(out, pr)
		}
	}
	return out
}

// fire is an input that fires along aim units without moving.
func fire(tick uint32, aim uint16) Input { return Input{Tick: tick, Aim: aim, Fire: true} }

// one is a Step argument with a single input.
func one(id EntityID, in Input) []PlayerInput { return []PlayerInput{{Player: id, Input: in}} }
