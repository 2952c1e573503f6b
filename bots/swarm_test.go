package bots

import (
	"strings"
	"testing"
	"time"

	"github.com/tickwire/tickwire/netcode/transport"
	"github.com/tickwire/tickwire/netcode/wire"
)

// TestInputAckLatencyEndsAtFirstSnapshotPastTheInput feeds one bot's
// ring with sent inputs and checks which snapshots acknowledge which.
func TestInputAckLatencyEndsAtFirstSnapshotPastTheInput(t *testing.T) {
	s := &swarm{epoch: time.Now().Add(-time.Minute)}
	s.measur.Store(true)
	b := &bot{}
	now := s.now()
	for i, tick := range []uint32{10, 11, 12, 14} {
		b.ring[tick%ackRing] = sentInput{tick: tick, at: now - int64(time.Duration(100-10*i)*time.Millisecond)}
	}
	s.onSnapshot(b, &wire.SnapshotHeader{ServerTick: 20, LastInputTick: 11})
	if n := s.ack.Count(); n != 2 {
		t.Fatalf("snapshot acking 11 recorded %d latencies, want 2 (inputs 10 and 11)", n)
	}
	if lo := s.ack.Quantile(0); lo < 90*time.Millisecond*999/1000 { // within the histogram's 0.1 %
		t.Fatalf("input 11 was sent 90ms before; latency recorded %v", lo)
	}
	s.onSnapshot(b, &wire.SnapshotHeader{ServerTick: 21, LastInputTick: 11})
	if n := s.ack.Count(); n != 2 {
		t.Fatalf("a second snapshot acking 11 recorded again: %d", n)
	}
	// 13 was never sent; 14 is acknowledged by a snapshot saying 14.
	s.onSnapshot(b, &wire.SnapshotHeader{ServerTick: 22, LastInputTick: 14})
	if n := s.ack.Count(); n != 4 {
		t.Fatalf("%d latencies after acking 14, want 4", n)
	}
	s.measur.Store(false)
	b.ring[15%ackRing] = sentInput{tick: 15, at: s.now()}
	s.onSnapshot(b, &wire.SnapshotHeader{ServerTick: 23, LastInputTick: 15})
	if n := s.ack.Count(); n != 4 {
		t.Fatal("an input acknowledged outside the window was recorded")
	}
}

func TestInputAckSkipsInputsOverwrittenInTheRing(t *testing.T) {
	s := &swarm{epoch: time.Now()}
	s.measur.Store(true)
	b := &bot{}
	b.ring[5%ackRing] = sentInput{tick: 5, at: 1}
	b.ring[(5+ackRing)%ackRing] = sentInput{tick: 5 + ackRing, at: 2} // overwrote 5
	s.onSnapshot(b, &wire.SnapshotHeader{LastInputTick: 5})
	if n := s.ack.Count(); n != 0 {
		t.Fatalf("recorded %d latencies for an input the ring forgot", n)
	}
	s.onSnapshot(b, &wire.SnapshotHeader{LastInputTick: 10 * ackRing})
	if n := s.ack.Count(); n != 0 {
		t.Fatalf("a jump far ahead recorded %d", n)
	}
}

func TestBotSeedsDiffer(t *testing.T) {
	seen := map[uint64]bool{}
	for i := range 1000 {
		seen[botSeed(1, i)] = true
	}
	if len(seen) != 1000 || botSeed(1, 0) == botSeed(2, 0) {
		t.Fatal("bot seeds collide")
	}
}

func TestConfigDefaultsAndTransportMix(t *testing.T) {
	c := Config{Server: "http://127.0.0.1:1", Transport: TransportMixed}
	if err := c.applyDefaults(); err != nil {
		t.Fatal(err)
	}
	if c.Bots != 50 || c.Duration != 10*time.Second || c.MetricsURL != "http://127.0.0.1:1/metrics" {
		t.Fatalf("defaults %+v", c)
	}
	if c.transportOf(0) != transport.WebTransport || c.transportOf(1) != transport.WebSocket {
		t.Fatal("mixed does not alternate WebTransport and WebSocket")
	}
	bad := Config{Server: "x", Transport: "carrier-pigeon"}
	if err := bad.applyDefaults(); err == nil {
		t.Fatal("unknown transport accepted")
	}
}

func TestThresholdsNameWhatBroke(t *testing.T) {
	ack := 150.0
	missed := 4.0
	r := &Report{
		InputAckP99Ms: &ack, SnapshotsReceived: 900, SnapshotsExpected: 1000, SnapshotRatio: 0.9,
		ConnectFailures: 2, ConnectFailureReasons: map[string]int{"SERVER_FULL": 2},
		Server: ServerReport{MissedTicks: &missed},
	}
	cases := []struct {
		name string
		th   Thresholds
		want string
	}{
		{"ack", Thresholds{MaxAckP99: 100 * time.Millisecond, MaxMissedTicks: -1, MaxConnectFailures: -1}, "-max-ack-p99"},
		{"missed", Thresholds{MaxMissedTicks: 3, MaxConnectFailures: -1}, "-max-missed-ticks"},
		{"ratio", Thresholds{MinSnapshotRatio: 0.99, MaxMissedTicks: -1, MaxConnectFailures: -1}, "-min-snapshot-ratio"},
		{"connect", Thresholds{MaxConnectFailures: 1, MaxMissedTicks: -1}, "SERVER_FULL:2"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if r.Check(c.th) || len(r.Failures) != 1 || !strings.Contains(r.Failures[0], c.want) {
				t.Fatalf("failures %q, want one naming %s", r.Failures, c.want)
			}
		})
	}
	if !r.Check(Thresholds{MaxAckP99: time.Second, MaxMissedTicks: 4, MinSnapshotRatio: 0.9, MaxConnectFailures: 2}) {
		t.Fatalf("thresholds at the measured values broke: %q", r.Failures)
	}
	r.Server.MissedTicks = nil
	if !r.Check(Thresholds{MaxMissedTicks: 0, MaxConnectFailures: -1}) || len(r.Unchecked) != 1 {
		t.Fatalf("missing server metrics: failures %q unchecked %q", r.Failures, r.Unchecked)
	}
	if r.Check(Thresholds{MaxMissedTicks: 0, MaxConnectFailures: -1, RequireServerMetrics: true}) {
		t.Fatal("missing server metrics passed with RequireServerMetrics")
	}
}

func TestWireCounters(t *testing.T) {
	dev := []byte(`Inter-|   Receive                                                |  Transmit
 face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed
    lo: 123456     100    0    0    0     0          0         0   123456     100    0    0    0     0       0          0
  eth0: 999 1 0 0 0 0 0 0 999 1 0 0 0 0 0 0
`)
	w, err := parseNetDev(dev, "lo")
	if err != nil || w.Split || w.total() != 123456 {
		t.Fatalf("lo: %+v %v", w, err)
	}
	if _, err := parseNetDev(dev, "wlan0"); err == nil {
		t.Fatal("missing interface read")
	}
	w, err = parseWireOutput([]byte("100 40\n"), "cmd")
	if err != nil || !w.Split || w.Down != 100 || w.Up != 40 || w.total() != 140 {
		t.Fatalf("split: %+v %v", w, err)
	}
	for _, bad := range []string{"", "1 2 3", "-5", "x"} {
		if _, err := parseWireOutput([]byte(bad), "cmd"); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	r := Report{Histograms: Histograms{InputAck: &Histogram{}, RTT: &Histogram{}}}
	r.fillWire(wireCount{Split: true, Down: 1000, Up: 100}, wireCount{Split: true, Down: 21000, Up: 2100})
	r.Totals.BotSeconds = 2 * 10 // 2 bots for 10 s
	r.derive()
	if *r.WireDownBytesPerClientSec != 1000 || *r.WireUpBytesPerClientSec != 100 || *r.WireTotalBytesPerClientSec != 1100 {
		t.Fatalf("wire per client per s: down %v up %v total %v", *r.WireDownBytesPerClientSec, *r.WireUpBytesPerClientSec, *r.WireTotalBytesPerClientSec)
	}
}

// TestLinkFlagsReachTheClientSession: an impaired link is a valid
// swarm configuration, and each bot's connection is then wrapped in a
// linksim.Link; an unimpaired bot's is left alone.
func TestLinkFlagsReachTheClientSession(t *testing.T) {
	c := Config{Server: "http://127.0.0.1:1", Up: Link{Loss: 0.05}, Down: Link{Latency: 75 * time.Millisecond}}
	if err := c.applyDefaults(); err != nil {
		t.Fatalf("impaired config refused: %v", err)
	}
	if (botClientConfig{Up: c.Up, Down: c.Down}).clientConfig().WrapConn == nil {
		t.Error("an impaired bot's connection is not wrapped in a simulated link")
	}
	if (botClientConfig{}).clientConfig().WrapConn != nil {
		t.Error("an unimpaired bot's connection is wrapped")
	}
}

// BenchmarkOnSnapshot is the swarm's per-bot, per-snapshot work: 0 allocs.
func BenchmarkOnSnapshot(b *testing.B) {
	s := &swarm{epoch: time.Now()}
	s.measur.Store(true)
	bt := &bot{}
	b.ReportAllocs()
	tick := uint32(0)
	for b.Loop() {
		tick++
		bt.ring[tick%ackRing] = sentInput{tick: tick, at: s.now()}
		s.onSnapshot(bt, &wire.SnapshotHeader{ServerTick: tick, LastInputTick: tick})
	}
}

func TestRoomsSpreadBotsRoundRobinAndExcludeRoom(t *testing.T) {
	for _, tc := range []struct {
		cfg  Config
		ok   bool
		want []string // rooms of bots 0..3
	}{
		{Config{Server: "http://x"}, true, []string{"", "", "", ""}},
		{Config{Server: "http://x", Room: "duel"}, true, []string{"duel", "duel", "duel", "duel"}},
		{Config{Server: "http://x", Rooms: 3}, true, []string{"bots-1", "bots-2", "bots-3", "bots-1"}},
		{Config{Server: "http://x", Rooms: 2, Room: "duel"}, false, nil},
		{Config{Server: "http://x", Rooms: -1}, false, nil},
	} {
		err := tc.cfg.applyDefaults()
		if (err == nil) != tc.ok {
			t.Errorf("%+v: applyDefaults = %v, want ok %v", tc.cfg, err, tc.ok)
			continue
		}
		for i, want := range tc.want {
			if got := tc.cfg.roomOf(i); got != want {
				t.Errorf("rooms %d room %q: bot %d joins %q, want %q", tc.cfg.Rooms, tc.cfg.Room, i, got, want)
			}
		}
	}
}

// TestShardsSplitBotsSeedsAndRooms: the shards of a swarm run every bot
// once, each keeping its id (hence its name and seed), and with rooms
// each shard fills rooms of its own.
func TestShardsSplitBotsSeedsAndRooms(t *testing.T) {
	for _, tc := range []struct{ bots, shards, rooms int }{
		{50, 1, 0}, {50, 1, 3}, {10, 3, 0}, {10000, 7, 0}, {10, 2, 2}, {100, 4, 10}, {7, 7, 7},
	} {
		ranBy := make([]int, tc.bots)
		roomOwner := map[string]int{}
		for i := range ranBy {
			ranBy[i] = -1
		}
		for shard := range tc.shards {
			c := Config{Server: "http://x", Bots: tc.bots, Rooms: tc.rooms, Shard: shard, Shards: tc.shards}
			if err := c.applyDefaults(); err != nil {
				t.Fatalf("%+v: %v", tc, err)
			}
			first, end := c.botRange()
			if end-first < tc.bots/tc.shards || end-first > tc.bots/tc.shards+1 {
				t.Errorf("%+v: shard %d runs %d bots", tc, shard, end-first)
			}
			for i := first; i < end; i++ {
				if ranBy[i] != -1 {
					t.Fatalf("%+v: bot %d run by shards %d and %d", tc, i, ranBy[i], shard)
				}
				ranBy[i] = shard
				if room := c.roomOf(i); tc.rooms > 0 {
					if owner, ok := roomOwner[room]; ok && owner != shard {
						t.Fatalf("%+v: room %s filled by shards %d and %d", tc, room, owner, shard)
					}
					roomOwner[room] = shard
				}
			}
		}
		for i, s := range ranBy {
			if s == -1 {
				t.Fatalf("%+v: bot %d run by no shard", tc, i)
			}
		}
		if len(roomOwner) != tc.rooms {
			t.Errorf("%+v: %d rooms filled, want %d", tc, len(roomOwner), tc.rooms)
		}
	}
	for _, bad := range []Config{
		{Server: "http://x", Bots: 10, Shard: 2, Shards: 2},
		{Server: "http://x", Bots: 10, Shard: -1, Shards: 2},
		{Server: "http://x", Bots: 3, Shards: 4},
		{Server: "http://x", Bots: 10, Rooms: 3, Shards: 4},
	} {
		if err := bad.applyDefaults(); err == nil {
			t.Errorf("%+v accepted", bad)
		}
	}
}
