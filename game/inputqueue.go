package game

import "sync"

// Input buffering limits, per player.
const (
	// InputQueueCap is how many inputs a player may have queued.
	InputQueueCap = 64
	// MaxInputsPerTick is how many inputs the room applies to one player
	// in one tick: one on time plus catch-up of late ones.
	MaxInputsPerTick = 3
	// leadSmoothing is the weight of a new sample in the input lead EWMA.
	leadSmoothing = 0.125
)

// inputQueue holds one player's inputs until their tick, sorted by Tick
// with no two alike. It is a fixed array, so queueing allocates nothing;
// draining shifts the rest down (at most InputQueueCap small copies per
// tick).
type inputQueue struct {
	mu          sync.Mutex
	id          EntityID
	buf         [InputQueueCap]Input
	n           int
	lastApplied uint32  // tick of the newest input taken for the world
	leadMs      float64 // smoothed input lead
	hasLead     bool
}

// queueResult says what became of one offered input.
type queueResult uint8

const (
	queued queueResult = iota
	queueDuplicate
	queueFull
	queueFuture
)

// offer queues in unless it is a duplicate, too far ahead of tick now
// (limit: the newest acceptable tick) or there is no room. Caller holds mu.
func (q *inputQueue) offer(in Input, limit uint32) queueResult {
	if in.Tick <= q.lastApplied {
		return queueDuplicate
	}
	if in.Tick > limit {
		return queueFuture
	}
	i := q.n
	for i > 0 && q.buf[i-1].Tick > in.Tick {
		i--
	}
	if i > 0 && q.buf[i-1].Tick == in.Tick {
		return queueDuplicate
	}
	if q.n == len(q.buf) {
		return queueFull
	}
	copy(q.buf[i+1:q.n+1], q.buf[i:q.n])
	q.buf[i] = in
	q.n++
	return queued
}

// drain appends to dst, for tick, up to MaxInputsPerTick of the queued
// inputs whose Tick <= tick, oldest first, and returns how many of them
// were late. Caller holds mu.
func (q *inputQueue) drain(tick uint32, dst []PlayerInput) (_ []PlayerInput, late int) {
	k := 0
	for k < q.n && k < MaxInputsPerTick && q.buf[k].Tick <= tick {
		in := q.buf[k]
		k++
		if in.Tick <= q.lastApplied { // cannot happen (offer checks); kept as the rule's guard
			continue
		}
		if in.Tick < tick {
			late++
		}
		q.lastApplied = in.Tick
		dst = append(dst, PlayerInput{Player: q.id, Input: in})
	}
	copy(q.buf[:], q.buf[k:q.n])
	q.n -= k
	return dst, late
}

// noteLead folds one lead sample, in ms, into the average. Caller holds
// mu.
func (q *inputQueue) noteLead(ms float64) {
	if !q.hasLead {
		q.leadMs, q.hasLead = ms, true
		return
	}
	q.leadMs += leadSmoothing * (ms - q.leadMs)
}
