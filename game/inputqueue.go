package game

import (
	"math"
	"sync"
)

// Input buffering limits, per player.
const (
	// InputQueueCap is how many inputs a player may have queued.
	InputQueueCap = 64
	// MaxInputsPerTick is how many inputs the room applies to one player
	// in one tick: one, hence at most one movement step and one shot, so
	// that no sequence of inputs moves a player faster than PlayerSpeed.
	MaxInputsPerTick = 1
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
	leadDevMs   float64 // smoothed absolute deviation of the samples from leadMs
	hasLead     bool
}

// queueResult says what became of one offered input.
type queueResult uint8

const (
	queued queueResult = iota
	queueDuplicate
	queueFull
	queueFuture
	queueStale
)

// offer queues in unless it is a duplicate, stale (its tick is before
// oldest), too far ahead (after limit) or there is no room. Caller holds
// mu.
func (q *inputQueue) offer(in Input, oldest, limit uint32) queueResult {
	if in.Tick <= q.lastApplied {
		return queueDuplicate
	}
	if in.Tick < oldest {
		return queueStale
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

// drain appends to dst the one input the player gets at tick, if any,
// and says whether it was late and how many queued inputs it discarded.
// Of the queued inputs whose Tick <= tick (due), those more than stale
// ticks behind tick are discarded; the oldest remaining one is applied,
// and the others wait for the next ticks. A player moves at most one step
// a tick whatever arrives when, late inputs are applied in order (so the
// client's prediction stays exact), and the delay a burst of late inputs
// adds is bounded by stale. Caller holds mu.
func (q *inputQueue) drain(tick, stale uint32, dst []PlayerInput) (_ []PlayerInput, late bool, discarded int) {
	k := 0
	for k < q.n && q.buf[k].Tick <= tick && tick-q.buf[k].Tick > stale {
		k++
	}
	discarded = k
	if k == q.n || q.buf[k].Tick > tick {
		q.shift(k)
		return dst, false, discarded
	}
	in := q.buf[k]
	q.shift(k + 1)
	q.lastApplied = in.Tick
	return append(dst, PlayerInput{Player: q.id, Input: in}), in.Tick < tick, discarded
}

// shift removes the first k queued inputs.
func (q *inputQueue) shift(k int) {
	copy(q.buf[:], q.buf[k:q.n])
	q.n -= k
}

// due counts the queued inputs whose tick is at or before tick. Caller
// holds mu.
func (q *inputQueue) due(tick uint32) int {
	n := 0
	for n < q.n && q.buf[n].Tick <= tick {
		n++
	}
	return n
}

// noteLead folds one lead sample, in ms, into the average and its
// deviation. Caller holds mu.
func (q *inputQueue) noteLead(ms float64) {
	if !q.hasLead {
		q.leadMs, q.hasLead = ms, true
		return
	}
	d := ms - q.leadMs
	q.leadMs += leadSmoothing * d
	q.leadDevMs += leadSmoothing * (math.Abs(d) - q.leadDevMs)
}
