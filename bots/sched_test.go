package bots

import (
	"math/rand/v2"
	"testing"
	"time"
)

// TestWakeHeapPopsBotsInWakeOrder: the scheduler visits only the bots at
// the top of its heap, so the heap must yield them earliest first, also
// as bots are pushed back with later wakes between pops.
func TestWakeHeapPopsBotsInWakeOrder(t *testing.T) {
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	rng := rand.New(rand.NewPCG(3, 4))
	var h wakeHeap
	push := func(b *bot) { h.push(b, int64(b.wake.Sub(base))) }
	for i := range 500 {
		push(&bot{id: i, wake: base.Add(time.Duration(rng.IntN(1000)) * time.Millisecond)})
	}
	last := base
	for range 5000 {
		b := h.pop()
		if b.wake.Before(last) {
			t.Fatalf("popped bot %d waking at %v after one at %v", b.id, b.wake.Sub(base), last.Sub(base))
		}
		last = b.wake
		b.wake = b.wake.Add(time.Duration(1+rng.IntN(100)) * time.Millisecond)
		push(b)
	}
	if len(h) != 500 {
		t.Fatalf("heap holds %d bots, want 500", len(h))
	}
}
