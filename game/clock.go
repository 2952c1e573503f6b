package game

import (
	"sync"
	"time"
)

// Clock is where the room (and anything else that must run faster than
// real time in tests) gets time from.
type Clock interface {
	Now() time.Time
	// NewTicker returns a ticker that fires every d, like time.NewTicker:
	// its channel holds at most one tick, and ticks the receiver is too
	// slow for are dropped.
	NewTicker(d time.Duration) Ticker
}

// Ticker is the part of time.Ticker the room needs.
type Ticker interface {
	C() <-chan time.Time
	Stop()
}

// RealClock is the system clock.
type RealClock struct{}

// Now returns time.Now().
func (RealClock) Now() time.Time { return time.Now() }

// NewTicker returns a time.Ticker.
func (RealClock) NewTicker(d time.Duration) Ticker { return realTicker{time.NewTicker(d)} }

type realTicker struct{ t *time.Ticker }

func (t realTicker) C() <-chan time.Time { return t.t.C }
func (t realTicker) Stop()               { t.t.Stop() }

// ManualClock is a Clock that moves only when told to (Advance), so tests
// run time-driven code faster than real time and deterministically. Its
// zero value starts at the zero time.Time; it is safe for concurrent use.
type ManualClock struct {
	mu      sync.Mutex
	now     time.Time
	tickers []*manualTicker
	changed chan struct{} // closed and replaced when tickers change
}

// NewManualClock returns a ManualClock reading start.
func NewManualClock(start time.Time) *ManualClock {
	return &ManualClock{now: start}
}

// Now returns the clock's current time.
func (c *ManualClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// NewTicker returns a ticker whose first tick is due d from now.
func (c *ManualClock) NewTicker(d time.Duration) Ticker {
	if d <= 0 {
		panic("game: non-positive interval for ManualClock.NewTicker")
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &manualTicker{clock: c, period: d, next: c.now.Add(d), ch: make(chan time.Time, 1)}
	c.tickers = append(c.tickers, t)
	c.notifyLocked()
	return t
}

// Advance moves the clock forward by d, then fires every ticker that had a
// tick due: as with time.Ticker, each sends at most one tick (the current
// time) however many periods passed, and drops it if its channel is full.
// The time moves before any tick is sent, so a receiver that reads Now
// sees the time after the whole advance.
func (c *ManualClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	for _, t := range c.tickers {
		if t.next.After(c.now) {
			continue
		}
		periods := c.now.Sub(t.next)/t.period + 1
		t.next = t.next.Add(periods * t.period)
		select {
		case t.ch <- c.now:
		default:
		}
	}
}

// Tickers is the number of tickers created and not stopped.
func (c *ManualClock) Tickers() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.tickers)
}

// WaitTickers blocks until at least n tickers are running, so a test can
// be sure the code under test has started its ticker before it advances
// the clock. It returns false if done is closed first.
func (c *ManualClock) WaitTickers(n int, done <-chan struct{}) bool {
	for {
		c.mu.Lock()
		if len(c.tickers) >= n {
			c.mu.Unlock()
			return true
		}
		if c.changed == nil {
			c.changed = make(chan struct{})
		}
		ch := c.changed
		c.mu.Unlock()
		select {
		case <-ch:
		case <-done:
			return false
		}
	}
}

func (c *ManualClock) notifyLocked() {
	if c.changed != nil {
		close(c.changed)
		c.changed = nil
	}
}

type manualTicker struct {
	clock  *ManualClock
	period time.Duration
	next   time.Time // guarded by clock.mu
	ch     chan time.Time
}

func (t *manualTicker) C() <-chan time.Time { return t.ch }

func (t *manualTicker) Stop() {
	c := t.clock
	c.mu.Lock()
	defer c.mu.Unlock()
	for i, o := range c.tickers {
		if o == t {
			c.tickers = append(c.tickers[:i], c.tickers[i+1:]...)
			c.notifyLocked()
			return
		}
	}
}
