package server

import (
	"testing"
	"time"
)

var epoch0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func TestPacketBudgetDropsExcessAndFlagsSustainedAbuse(t *testing.T) {
	b := PacketBudget{}.withDefaults(30) // 62/s, burst 62, abuse after 310 drops in 10 s
	l := newPacketLimiter(b)

	// An honest client: 31 packets a second for a minute never drops.
	now := epoch0
	for i := 0; i < 60*31; i++ {
		if ok, _ := l.allow(now); !ok {
			t.Fatalf("honest packet %d dropped", i)
		}
		now = now.Add(time.Second / 31)
	}

	// A flood: 1000 packets a second. The burst passes, the excess drops,
	// and the session becomes abusive within a second.
	passed, dropped := 0, 0
	abusiveAt := -1
	for i := 0; i < 1000; i++ {
		ok, abusive := l.allow(now)
		if ok {
			passed++
		} else {
			dropped++
		}
		if abusive && abusiveAt < 0 {
			abusiveAt = i
		}
		now = now.Add(time.Millisecond)
	}
	if passed > b.Burst+int(b.PerSecond)+1 {
		t.Errorf("flood passed %d packets in 1 s, budget is burst %d + %v/s", passed, b.Burst, b.PerSecond)
	}
	if abusiveAt < 0 {
		t.Fatalf("1000 packets/s for 1 s (%d dropped) not flagged as abuse", dropped)
	}
	if l.dropped != int64(dropped) {
		t.Errorf("dropped counter %d, want %d", l.dropped, dropped)
	}
}

func TestPacketBudgetForgivesShortBurstsSpreadOverTime(t *testing.T) {
	l := newPacketLimiter(PacketBudget{PerSecond: 10, Burst: 10, AbuseDrops: 20, AbuseWindow: 10 * time.Second})
	now := epoch0
	// Every 30 s, a burst of 25 packets: 15 drop each time, never more
	// than 20 within one window, so the session is never abusive.
	for round := 0; round < 5; round++ {
		for i := 0; i < 25; i++ {
			if _, abusive := l.allow(now); abusive {
				t.Fatalf("round %d packet %d: short burst flagged as abuse", round, i)
			}
		}
		now = now.Add(30 * time.Second)
	}
}
