package linksim

import (
	"container/heap"
	"math/rand"
	"time"
)

// Queue is one direction of a simulated link on the caller's clock: Send
// decides when (and whether, and how many times) a packet arrives; Next
// and Pop hand packets out in arrival order. Wrap runs two of them on the
// real clock; a simulation that drives time itself (a server and its
// clients in lockstep) uses them directly. A Queue is not safe for
// concurrent use.
type Queue struct {
	dir    *linkDir
	q      delayQueue
	stream bool
}

// NewQueue returns a queue impairing packets as cfg says, its decisions
// drawn from seed. stream makes it one reliable, ordered stream (TCP, as
// WebSocket is), where no packet is lost, duplicated or reordered.
func NewQueue(cfg Config, seed int64, stream bool) *Queue {
	return &Queue{dir: newLinkDir(cfg, seed), stream: stream}
}

// Send queues p, sent at now on the reliable channel or as a datagram.
// The queue keeps p (and hands it out from Pop), so the caller must not
// reuse it.
func (q *Queue) Send(now time.Time, p []byte, reliable bool) {
	if reliable || q.stream {
		q.q.push(q.dir.planReliable(now), reliable, p)
		return
	}
	var due [2]time.Time
	n := q.dir.plan(now, &due)
	for i := range n {
		c := p
		if i > 0 {
			c = append([]byte(nil), p...)
		}
		q.q.push(due[i], false, c)
	}
}

// Next is the arrival time of the earliest packet, if any is queued.
func (q *Queue) Next() (time.Time, bool) { return q.q.next() }

// Pop returns the earliest packet if it has arrived by now, with the
// channel it was sent on.
func (q *Queue) Pop(now time.Time) (p []byte, reliable, ok bool) {
	d, ok := q.q.pop(now)
	return d.p, d.reliable, ok
}

// linkDir decides the fate of the packets of one direction. Every
// datagram consumes the same number of random draws whatever happens to
// it, and reliable messages draw from their own stream, so each decision
// depends only on the packet's position in its sequence.
type linkDir struct {
	cfg          Config
	rng          *rand.Rand // datagrams
	rrng         *rand.Rand // reliable messages
	lastReliable time.Time  // due time of the newest reliable message
}

func newLinkDir(cfg Config, seed int64) *linkDir {
	return &linkDir{
		cfg:  cfg,
		rng:  rand.New(rand.NewSource(seed)),
		rrng: rand.New(rand.NewSource(seed ^ 0x5deece66d)),
	}
}

// delay is Latency plus the jitter drawn from u in [0, 1).
func (d *linkDir) delay(u float64) time.Duration {
	j := time.Duration((2*u - 1) * float64(d.cfg.Jitter))
	return max(0, d.cfg.Latency+j)
}

// plan fills due with the delivery times of a datagram sent at now and
// returns how many copies arrive (0, 1 or 2).
func (d *linkDir) plan(now time.Time, due *[2]time.Time) int {
	r := d.rng
	uLoss, uJit, uReo, uExtra, uDup, uDupJit := r.Float64(), r.Float64(), r.Float64(), r.Float64(), r.Float64(), r.Float64()
	if uLoss < d.cfg.Loss {
		return 0
	}
	dl := d.delay(uJit)
	if uReo < d.cfg.Reorder {
		// Held back by more than the spread of the others' delays, so
		// that it lands behind packets sent after it.
		extra := max(10*time.Millisecond, d.cfg.Latency/2+2*d.cfg.Jitter)
		dl += time.Duration(float64(extra) * (1 + uExtra))
	}
	due[0] = now.Add(dl)
	if uDup < d.cfg.Duplicate {
		due[1] = now.Add(d.delay(uDupJit))
		return 2
	}
	return 1
}

// retransmit is what a lost segment costs a reliable stream (TCP, or a
// QUIC stream): Linux's minimum retransmission timeout, plus the trip.
const retransmit = 200 * time.Millisecond

// planReliable is the delivery time of a packet sent at now on a reliable,
// ordered stream: delayed like a datagram, plus a retransmission when the
// link loses it, and never before the previous packet of the stream.
func (d *linkDir) planReliable(now time.Time) time.Time {
	dl := d.delay(d.rrng.Float64())
	if d.rrng.Float64() < d.cfg.Loss {
		dl += retransmit + d.cfg.Latency
	}
	due := now.Add(dl)
	if due.Before(d.lastReliable) {
		due = d.lastReliable
	}
	d.lastReliable = due
	return due
}

// delayed is one packet waiting for its delivery time.
type delayed struct {
	due      time.Time
	seq      uint64
	reliable bool
	p        []byte
}

type delayHeap []delayed

func (h delayHeap) Len() int { return len(h) }
func (h delayHeap) Less(i, j int) bool {
	if !h[i].due.Equal(h[j].due) {
		return h[i].due.Before(h[j].due)
	}
	return h[i].seq < h[j].seq
}
func (h delayHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *delayHeap) Push(x any)   { *h = append(*h, x.(delayed)) }
func (h *delayHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// delayQueue holds packets until they are due, in due order (ties in
// the order pushed). It is not synchronised; callers lock.
type delayQueue struct {
	h   delayHeap
	seq uint64
}

func (q *delayQueue) push(due time.Time, reliable bool, p []byte) {
	q.seq++
	heap.Push(&q.h, delayed{due: due, seq: q.seq, reliable: reliable, p: p})
}

// next returns the earliest packet's due time.
func (q *delayQueue) next() (time.Time, bool) {
	if len(q.h) == 0 {
		return time.Time{}, false
	}
	return q.h[0].due, true
}

// pop removes and returns the earliest packet if it is due at now.
func (q *delayQueue) pop(now time.Time) (delayed, bool) {
	if len(q.h) == 0 || q.h[0].due.After(now) {
		return delayed{}, false
	}
	return heap.Pop(&q.h).(delayed), true
}
