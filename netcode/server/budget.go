package server

import (
	"time"

	"golang.org/x/time/rate"
)

// PacketBudget bounds how many packets one session may send. An honest
// client sends one input packet per tick and a ping a second; the budget
// allows twice that with a second's burst, drops the excess before it is
// decoded, and calls a session abusive once it has dropped more than
// AbuseDrops packets within one AbuseWindow.
type PacketBudget struct {
	// PerSecond is the sustained packet rate allowed. Default: set by the
	// server to twice the room's tick rate plus the ping rate.
	PerSecond float64
	// Burst is how many packets may arrive at once. Default PerSecond
	// (one second of packets).
	Burst int
	// AbuseDrops packets dropped within AbuseWindow end the session with
	// RATE_LIMITED. Default 5 seconds' worth of PerSecond.
	AbuseDrops int
	// AbuseWindow is the window AbuseDrops is counted over. Default 10s.
	AbuseWindow time.Duration
}

func (b PacketBudget) withDefaults(tickRate int) PacketBudget {
	if b.PerSecond <= 0 {
		b.PerSecond = float64(2*tickRate + 2)
	}
	if b.Burst <= 0 {
		b.Burst = int(b.PerSecond)
	}
	if b.AbuseDrops <= 0 {
		b.AbuseDrops = int(5 * b.PerSecond)
	}
	if b.AbuseWindow <= 0 {
		b.AbuseWindow = 10 * time.Second
	}
	return b
}

// packetLimiter applies a PacketBudget to one session. It is used only by
// the session's read goroutine and allocates nothing per packet.
type packetLimiter struct {
	budget      PacketBudget
	lim         *rate.Limiter
	windowStart time.Time
	windowDrops int
	dropped     int64 // total, for metrics and logs
}

func newPacketLimiter(b PacketBudget) *packetLimiter {
	return &packetLimiter{budget: b, lim: rate.NewLimiter(rate.Limit(b.PerSecond), b.Burst)}
}

// allow reports whether a packet arriving at now is within budget, and
// whether the session has become abusive (dropped too many too fast).
func (l *packetLimiter) allow(now time.Time) (ok, abusive bool) {
	if l.lim.AllowN(now, 1) {
		return true, false
	}
	l.dropped++
	if now.Sub(l.windowStart) > l.budget.AbuseWindow {
		l.windowStart, l.windowDrops = now, 0
	}
	l.windowDrops++
	return false, l.windowDrops > l.budget.AbuseDrops
}
