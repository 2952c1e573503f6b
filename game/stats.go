package game

import (
	"math/bits"
	"time"
)

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

// durationHistogram counts durations in logarithmic buckets, eight per
// power of two: a fixed array, so recording allocates nothing.
type durationHistogram struct {
	counts [histBuckets]uint64
	total  uint64
	max    time.Duration
}

const (
	histSubBits = 3
	histSub     = 1 << histSubBits
	histBuckets = (64-histSubBits)*histSub + histSub
)

// histBucket maps ns to its bucket: values below histSub exactly, larger
// ones by their top histSubBits+1 bits.
func histBucket(ns uint64) int {
	if ns < histSub {
		return int(ns)
	}
	e := bits.Len64(ns) - histSubBits - 1 // shift that leaves histSubBits+1 bits
	return (e+1)*histSub + int((ns>>e)&(histSub-1))
}

// histUpper is the largest value of bucket b.
func histUpper(b int) uint64 {
	if b < histSub {
		return uint64(b)
	}
	e := b/histSub - 1
	m := uint64(histSub + b%histSub)
	return (m+1)<<e - 1
}

func (h *durationHistogram) record(d time.Duration) {
	d = max(d, 0)
	h.counts[histBucket(uint64(d))]++
	h.total++
	h.max = max(h.max, d)
}

// quantile returns the upper bound of the bucket holding the q-quantile,
// capped at the maximum seen.
func (h *durationHistogram) quantile(q float64) time.Duration {
	if h.total == 0 {
		return 0
	}
	rank := uint64(q*float64(h.total-1)) + 1
	var seen uint64
	for b, n := range h.counts {
		if seen += n; seen >= rank {
			return min(time.Duration(histUpper(b)), h.max)
		}
	}
	return h.max
}
