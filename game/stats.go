package game

import "time"

// RoomStats are a room's counters since it started (or since ResetStats).
type RoomStats struct {
	// Ticks is the number of ticks simulated.
	Ticks uint64
	// MissedTicks counts the ticks skipped because the loop woke more
	// than a period after they were due.
	MissedTicks uint64
	// InputsApplied counts inputs handed to the world; InputsLate those
	// of them applied after their tick.
	InputsApplied, InputsLate uint64
	// InputsStale counts inputs dropped because they came too late: more
	// than StaleTicks behind the tick being simulated.
	InputsStale uint64
	// InputsDuplicate counts inputs for a tick already applied or already
	// queued (the redundant copies every input packet carries).
	InputsDuplicate uint64
	// InputsDropped counts inputs refused because the player's buffer was
	// full; InputsFuture those more than 2 s ahead of the room.
	InputsDropped, InputsFuture uint64
	// TickP50, TickP99 and TickMax describe how long a tick took, the
	// sink included. Percentiles are bucket upper bounds, within 1/8.
	TickP50, TickP99, TickMax time.Duration
}
