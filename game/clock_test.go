package game

import (
	"testing"
	"time"
)

func TestManualClockFiresTickersOnlyWhenDue(t *testing.T) {
	start := time.Unix(100, 0)
	c := NewManualClock(start)
	tk := c.NewTicker(10 * time.Millisecond)
	defer tk.Stop()
	c.Advance(9 * time.Millisecond)
	select {
	case <-tk.C():
		t.Fatal("ticked early")
	default:
	}
	c.Advance(time.Millisecond)
	select {
	case got := <-tk.C():
		if want := start.Add(10 * time.Millisecond); !got.Equal(want) {
			t.Errorf("tick carries %v, want %v", got, want)
		}
	default:
		t.Fatal("no tick when due")
	}
}

func TestManualClockDropsTicksLikeTimeTicker(t *testing.T) {
	c := NewManualClock(time.Time{})
	tk := c.NewTicker(time.Second)
	c.Advance(5 * time.Second) // five periods: one tick waits, the rest are dropped
	c.Advance(time.Second)     // channel still full: dropped
	<-tk.C()
	select {
	case <-tk.C():
		t.Fatal("more than one tick buffered")
	default:
	}
	c.Advance(time.Second) // the schedule kept its phase: due again now
	select {
	case <-tk.C():
	default:
		t.Fatal("no tick on schedule after dropping")
	}
}

func TestManualClockStoppedTickerNeverFires(t *testing.T) {
	c := NewManualClock(time.Time{})
	tk := c.NewTicker(time.Second)
	if c.Tickers() != 1 {
		t.Fatalf("%d tickers", c.Tickers())
	}
	tk.Stop()
	c.Advance(time.Hour)
	select {
	case <-tk.C():
		t.Fatal("stopped ticker fired")
	default:
	}
	if c.Tickers() != 0 {
		t.Fatalf("%d tickers after Stop", c.Tickers())
	}
}

func TestWaitTickersReturnsOnceTheTickerExists(t *testing.T) {
	c := NewManualClock(time.Time{})
	go c.NewTicker(time.Second)
	if !c.WaitTickers(1, nil) {
		t.Fatal("WaitTickers gave up")
	}
	done := make(chan struct{})
	close(done)
	if c.WaitTickers(2, done) {
		t.Fatal("WaitTickers found a second ticker")
	}
}

func TestTickDurationPercentilesWithinAnEighth(t *testing.T) {
	var h DurationHistogram
	for i := 1; i <= 1000; i++ {
		h.Record(time.Duration(i) * time.Microsecond)
	}
	tests := []struct {
		q    float64
		want time.Duration
	}{{0.5, 500 * time.Microsecond}, {0.99, 990 * time.Microsecond}, {1, 1000 * time.Microsecond}}
	for _, tt := range tests {
		got := h.Quantile(tt.q)
		if got < tt.want || float64(got) > float64(tt.want)*1.125 {
			t.Errorf("q%v = %v, want within [%v, +1/8]", tt.q, got, tt.want)
		}
	}
	if h.Max() != time.Millisecond {
		t.Errorf("max %v", h.Max())
	}
	if n := testing.AllocsPerRun(100, func() { h.Record(time.Millisecond) }); n != 0 {
		t.Errorf("record allocates %v times", n)
	}
}

func TestHistogramBucketsCoverEveryDuration(t *testing.T) {
	prev := -1
	for _, ns := range []uint64{0, 1, 7, 8, 9, 15, 16, 17, 1000, 1 << 40, 1<<64 - 1} {
		b := histBucket(ns)
		if b < prev || b >= histBuckets {
			t.Fatalf("%d ns in bucket %d (previous %d)", ns, b, prev)
		}
		if ns > histUpper(b) || (b > 0 && ns <= histUpper(b-1)) {
			t.Fatalf("%d ns in bucket %d, which spans (%d, %d]", ns, b, histUpper(b-1), histUpper(b))
		}
		prev = b
	}
}
