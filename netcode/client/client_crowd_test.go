package client

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tickwire/tickwire/game"
	"github.com/tickwire/tickwire/netcode/transport"
	"github.com/tickwire/tickwire/netcode/wire"
)

// Tests of the client's behaviour when many sessions share one process
// (the bot swarm): work nobody asked for must not be done per session.

func bigRoster(n int) []byte {
	r := &wire.Roster{Revision: 7}
	for i := range n {
		r.Players = append(r.Players, wire.RosterEntry{Entity: game.EntityID(i + 1), Name: fmt.Sprintf("bot-%d", i)})
	}
	return wire.RosterPacket(r)
}

func TestRosterWithoutListenerIsNotDecoded(t *testing.T) {
	c := newOfflineClient(t)
	raw := bigRoster(500)
	allocs := testing.AllocsPerRun(20, func() {
		if err := c.handlePacket(raw, t0); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Errorf("a roster nobody listens to cost %v allocations: it was decoded", allocs)
	}
	if got := c.stats.rostersSkipped.Load(); got < 20 {
		t.Errorf("%d rosters counted as skipped, want >= 20", got)
	}
}

func TestRosterWithListenerIsDelivered(t *testing.T) {
	c := newOfflineClient(t)
	var got *wire.Roster
	c.cfg.OnRoster = func(r *wire.Roster) { got = r }
	if err := c.handlePacket(bigRoster(3), t0); err != nil {
		t.Fatal(err)
	}
	if got == nil || got.Revision != 7 || len(got.Players) != 3 || got.Players[2].Name != "bot-2" {
		t.Fatalf("listener got %+v", got)
	}
}

// TestInterpDelayQuantileMatchesSortedWindow checks the incrementally
// sorted window of needed delays against sorting the last lateWindow
// arrivals afresh, through a delay spike that enters and leaves it.
func TestInterpDelayQuantileMatchesSortedWindow(t *testing.T) {
	var b interpBuffer
	b.init(game.Config{}.Params(), 1)
	rng := rand.New(rand.NewPCG(1, 2))
	var all []float32
	now := t0
	for i := range 3 * lateWindow {
		need := 0.5 + rng.Float64()
		if i >= 300 && i < 310 {
			need = 5 // a burst of late arrivals
		}
		if i%7 == 0 {
			need = 1 // duplicates
		}
		now = now.Add(33 * time.Millisecond)
		b.noteNeed(need, now)
		all = append(all, float32(need))
		want := slices.Clone(all[max(0, len(all)-lateWindow):])
		slices.Sort(want)
		if !slices.Equal(b.sorted[:b.needN], want) {
			t.Fatalf("arrival %d: window %v, want %v", i, b.sorted[:b.needN], want)
		}
	}
}

// TestNextInputAtIsWhenTheNextInputFallsDue: a driver of many sessions
// sleeps until NextInputAt instead of polling InputsDue; the input must
// not be due before then and must be due at it, whatever the dilation.
func TestNextInputAtIsWhenTheNextInputFallsDue(t *testing.T) {
	for _, dil := range []float64{0, maxDilation, -maxDilation} {
		c := newOfflineClient(t)
		c.sync.dilation = dil
		now := t0
		if got := c.NextInputAt(now); !got.Equal(now) {
			t.Fatalf("dilation %v: before the first input, NextInputAt = %v, want now", dil, got.Sub(now))
		}
		for i := range 50 {
			for range c.InputsDue(now) {
				if _, err := c.SendInput(1, 0, 0, false); err != nil {
					t.Fatal(err)
				}
			}
			next := c.NextInputAt(now)
			if d := next.Sub(now); d <= 0 || d > 2*c.sync.interval {
				t.Fatalf("dilation %v, input %d: next input in %v, want within (0, 2 ticks]", dil, i, d)
			}
			if n := c.InputsDue(next.Add(-time.Millisecond)); n != 0 {
				t.Fatalf("dilation %v, input %d: %d due 1ms before NextInputAt", dil, i, n)
			}
			if n := c.InputsDue(next.Add(time.Microsecond)); n != 1 {
				t.Fatalf("dilation %v, input %d: %d due at NextInputAt, want 1", dil, i, n)
			}
			clock := c.clock.(*game.ManualClock)
			clock.Advance(next.Add(time.Microsecond).Sub(clock.Now()))
			now = clock.Now()
		}
	}
}

// TestInflatedRTTDoesNotPushInputsEarly: a stall of the client's reader
// (a swarm's core saturated, a GC pause) leaves the smoothed RTT hundreds
// of ms too high for many seconds, since pongs come once a second. While
// the server keeps reporting how early the inputs arrive, the input clock
// must follow those reports, not jump back to the RTT-based estimate.
func TestInflatedRTTDoesNotPushInputsEarly(t *testing.T) {
	var c clockSync
	now := t0
	c.init(30, 100, now, 600*time.Millisecond) // the real RTT is ~1 ms
	serverTick := func(at time.Time) float64 { return 100 + at.Sub(t0).Seconds()*30 }
	lead := int32(0)
	worst := time.Duration(0)
	for i := range 30 * 10 {
		now = now.Add(time.Second / 30)
		c.observeSnapshot(uint32(serverTick(now)), now)
		if i > 0 {
			c.leadAt = now      // an input was applied since the last snapshot
			c.observeLeadDev(1) // a clean link: the lead hardly spreads
			c.observeLead(lead, now)
		}
		for range c.inputsDue(now) {
			lead = int32((float64(c.stampInput(now)) - serverTick(now)) / 30 * 1000)
		}
		if i%30 == 0 {
			c.observeRTT(time.Millisecond) // one pong a second
		}
		if d := time.Duration(lead) * time.Millisecond; now.Sub(t0) > 2*time.Second && d > worst {
			worst = d
		}
	}
	if worst > 150*time.Millisecond {
		t.Errorf("after 2 s, inputs still reached the server up to %v early (target %v): the input clock followed the inflated RTT", worst, c.targetLead())
	}
}

// TestReaderStallDoesNotHoldFramesAfterward: when the client's reader
// stalls for 2 s (its process saturated) and then drains the backlog at
// once, the arrivals look seconds late. The interpolation delay must not
// keep that: a delay beyond the snapshots held would show every later
// frame as held, for minutes (the delay shrinks 5 ms a second).
func TestReaderStallDoesNotHoldFramesAfterward(t *testing.T) {
	c := newOfflineClient(t)
	p := c.Params()
	at := func(tick uint32) time.Time { return t0.Add(time.Duration(tick-100) * time.Second / 30) }
	feed := func(tick uint32, now time.Time) {
		h := wire.SnapshotHeader{ServerTick: tick}
		c.mu.Lock()
		c.noteSnapshot(movingSnapshot(p, tick, 3), &h, now)
		c.mu.Unlock()
	}
	var f Frame
	tick := uint32(101)
	for ; tick < 190; tick++ { // 3 s of a clean link
		feed(tick, at(tick))
	}
	stallEnd := at(tick + 60)
	for ; tick < 250; tick++ { // 2 s of backlog, drained at once
		feed(tick, stallEnd)
	}
	var held, n int64
	for ; tick < 400; tick++ {
		feed(tick, at(tick))
		if tick%3 == 0 { // 10 frames a second
			h0 := c.interp.held
			c.Frame(at(tick).Add(10*time.Millisecond), &f)
			if tick >= 280 { // from 1 s after the stall
				held += c.interp.held - h0
				n++
			}
		}
	}
	if held > 0 {
		t.Fatalf("%d of %d frames held between 1 and 5 s after the stall (interpolation delay %v)", held, n, c.interp.delay())
	}
}

// BenchmarkSendInput is one input of one session: stamping, prediction,
// loss bookkeeping and the packet (into a sink).
func BenchmarkSendInput(b *testing.B) {
	c := newOfflineClient(b)
	c.conn = discardConn{kind: transport.WebSocket}
	clock := c.clock.(*game.ManualClock)
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		clock.Advance(time.Second / 30)
		if _, err := c.SendInput(1, 0, 0.5, false); err != nil {
			b.Fatal(err)
		}
	}
}

// pingConn reports every datagram the client sends.
type pingConn struct {
	discardConn
	sent chan struct{}
}

func (c pingConn) SendDatagram([]byte) error { c.sent <- struct{}{}; return nil }

// TestStalledProcessIsNotAServerGoneSilent: when the whole client process
// stops running for longer than ServerTimeout (a swarm saturating its
// core), the heartbeat loop wakes to find nothing heard for that long,
// but the reader has not run either: the server's packets wait unread.
// The session must survive that wake; a server really silent across
// heartbeats on time still ends it.
func TestStalledProcessIsNotAServerGoneSilent(t *testing.T) {
	c := newOfflineClient(t)
	clock := c.clock.(*game.ManualClock)
	conn := pingConn{discardConn{kind: transport.WebSocket}, make(chan struct{}, 16)}
	c.conn = conn
	c.ctx, c.cancel = context.WithCancel(context.Background())
	defer c.cancel()
	c.lastHeard.Store(clock.Now().UnixNano())
	loopDone := make(chan struct{})
	go func() { defer close(loopDone); c.pingLoop() }()
	if !clock.WaitTickers(1, loopDone) {
		t.Fatal("ping loop ended before starting its ticker")
	}
	ping := func(what string) {
		t.Helper()
		select {
		case <-conn.sent:
		case <-loopDone:
			t.Fatalf("%s: the session ended: %v", what, c.Err())
		case <-time.After(10 * time.Second):
			t.Fatalf("%s: no heartbeat", what)
		}
	}
	clock.Advance(time.Second)
	ping("first heartbeat")
	clock.Advance(5 * time.Second) // the process stalls 5 s
	ping("heartbeat after the stall")
	// The reader catches up: a packet from the server.
	if err := c.handlePacket(wire.AppendPing(nil, wire.KindPing, &wire.Ping{Nonce: 1}), clock.Now()); err != nil {
		t.Fatal(err)
	}
	<-conn.sent // the pong
	clock.Advance(time.Second)
	ping("heartbeat after catching up")
	// Now the server really says nothing, heartbeat after heartbeat.
	for i := 0; ; i++ {
		clock.Advance(time.Second)
		select {
		case <-conn.sent:
			if i > 3 {
				t.Fatal("session still up 4 s after the server fell silent")
			}
			continue
		case <-loopDone:
		case <-time.After(10 * time.Second):
			t.Fatal("heartbeat loop stuck")
		}
		break
	}
	if err := c.Err(); err == nil || !strings.Contains(err.Error(), "silent") {
		t.Fatalf("session ended with %v, want server silent", err)
	}
}
