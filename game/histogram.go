package game

import (
	"math/bits"
	"sync/atomic"
	"time"
)

// DurationHistogram counts durations in logarithmic buckets, eight per
// power of two, with atomic counters: any goroutine may record, without
// locks or allocation. Quantiles are bucket upper bounds (within 1/8),
// capped at the largest value recorded. The zero value is empty and ready.
type DurationHistogram struct {
	counts [histBuckets]atomic.Uint64
	total  atomic.Uint64
	max    atomic.Int64
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

// Record adds one duration (negative counts as 0).
func (h *DurationHistogram) Record(d time.Duration) {
	d = max(d, 0)
	h.counts[histBucket(uint64(d))].Add(1)
	h.total.Add(1)
	for {
		m := h.max.Load()
		if int64(d) <= m || h.max.CompareAndSwap(m, int64(d)) {
			return
		}
	}
}

// Count is the number of durations recorded.
func (h *DurationHistogram) Count() uint64 { return h.total.Load() }

// Max is the largest duration recorded.
func (h *DurationHistogram) Max() time.Duration { return time.Duration(h.max.Load()) }

// Quantile returns the upper bound of the bucket holding the q-quantile,
// capped at the maximum seen (0 when empty).
func (h *DurationHistogram) Quantile(q float64) time.Duration {
	total := h.total.Load()
	if total == 0 {
		return 0
	}
	mx := h.Max()
	rank := uint64(q*float64(total-1)) + 1
	var seen uint64
	for b := range h.counts {
		if seen += h.counts[b].Load(); seen >= rank {
			return min(time.Duration(histUpper(b)), mx)
		}
	}
	return mx
}

// Reset empties the histogram. Records that race with it may survive.
func (h *DurationHistogram) Reset() {
	for b := range h.counts {
		h.counts[b].Store(0)
	}
	h.total.Store(0)
	h.max.Store(0)
}
