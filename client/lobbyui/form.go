package lobbyui

import (
	"fmt"

	"github.com/tickwire/tickwire/netcode/lobby"
)

// The create panel's choices, each cycled by a click or its key.
var (
	// TickRates are the rates the server runs (game.Config.Validate).
	TickRates = []int{20, 30, 60}
	// Capacities go from a duel to the server's default of 100.
	Capacities = []int{2, 4, 8, 16, 32, 64, 100}
)

// AOIRadius is the interest radius of a room created with AOI on: the
// radius the benchmarks measure (docs/BENCHMARKS.md), about a screen and
// a half at zoom 1.
const AOIRadius = 400

// Form is the create panel. The zero value is not the default: use
// NewForm.
type Form struct {
	tick, capacity int // indices into TickRates and Capacities
	AOI            bool
	Private        bool
}

// NewForm is the panel as the lobby opens: 30 Hz, 16 players, no AOI,
// listed.
func NewForm() Form { return Form{tick: 1, capacity: 3} }

// TickRate is the chosen tick rate in Hz.
func (f *Form) TickRate() int { return TickRates[f.tick] }

// Capacity is the chosen number of players.
func (f *Form) Capacity() int { return Capacities[f.capacity] }

// Cycle moves field to its next value, after the last back to the first.
func (f *Form) Cycle(field Field) {
	switch field {
	case FieldTickRate:
		f.tick = (f.tick + 1) % len(TickRates)
	case FieldCapacity:
		f.capacity = (f.capacity + 1) % len(Capacities)
	case FieldAOI:
		f.AOI = !f.AOI
	case FieldVisibility:
		f.Private = !f.Private
	}
}

// Request is the lobby request that creates the room the form describes.
// AOI off sends no radius, which leaves the server's default: off unless
// its operator turned AOI on for every room.
func (f *Form) Request() lobby.CreateRequest {
	req := lobby.CreateRequest{TickRate: f.TickRate(), MaxPlayers: f.Capacity(), Private: f.Private}
	if f.AOI {
		req.AOIRadius = AOIRadius
	}
	return req
}

// Label is the text of a field's button, with the key that cycles it.
func (f *Form) Label(field Field) string {
	switch field {
	case FieldTickRate:
		return fmt.Sprintf("[T] tick rate  %d Hz", f.TickRate())
	case FieldCapacity:
		return fmt.Sprintf("[C] capacity   %d players", f.Capacity())
	case FieldAOI:
		if f.AOI {
			return fmt.Sprintf("[A] AOI        on (radius %d)", AOIRadius)
		}
		return "[A] AOI        off"
	case FieldVisibility:
		if f.Private {
			return "[V] visibility private"
		}
		return "[V] visibility listed"
	}
	return ""
}
