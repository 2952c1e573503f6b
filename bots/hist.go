package bots

import (
	"math/bits"
	"sync/atomic"
	"time"
)

// histogram counts durations in logarithmic buckets, eight per power of
// two, with atomic counters: any goroutine may record, without locks or
// allocation. Quantiles are bucket upper bounds (within 1/8), capped at
// the largest value recorded.
type histogram struct {
	counts [histBuckets]atomic.Uint64
	total  atomic.Uint64
	max    atomic.Int64
}

const (
	histSubBits = 3
	histSub     = 1 << histSubBits
	histBuckets = (64-histSubBits)*histSub + histSub
)

func histBucket(ns uint64) int {
	if ns < histSub {
		return int(ns)
	}
	e := bits.Len64(ns) - histSubBits - 1
	return (e+1)*histSub + int((ns>>e)&(histSub-1))
}

func histUpper(b int) uint64 {
	if b < histSub {
		return uint64(b)
	}
	e := b/histSub - 1
	m := uint64(histSub + b%histSub)
	return (m+1)<<e - 1
}

func (h *histogram) record(d time.Duration) {
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

func (h *histogram) count() uint64 { return h.total.Load() }

// quantile returns the q-quantile (0 when empty).
func (h *histogram) quantile(q float64) time.Duration {
	total := h.total.Load()
	if total == 0 {
		return 0
	}
	mx := time.Duration(h.max.Load())
	rank := uint64(q*float64(total-1)) + 1
	var seen uint64
	for b := range h.counts {
		if seen += h.counts[b].Load(); seen >= rank {
			return min(time.Duration(histUpper(b)), mx)
		}
	}
	return mx
}
