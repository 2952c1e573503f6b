//go:build !js

package client_test

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tickwire/tickwire/game"
	"github.com/tickwire/tickwire/netcode/client"
	"github.com/tickwire/tickwire/netcode/internal/arenatest"
	"github.com/tickwire/tickwire/netcode/internal/snapshottest"
	"github.com/tickwire/tickwire/netcode/server"
	"github.com/tickwire/tickwire/netcode/server/servertest"
	"github.com/tickwire/tickwire/netcode/transport"
	"github.com/tickwire/tickwire/netcode/wire"
)

// lossyRelay is a user-space UDP relay between one client and a server's
// UDP port that impairs both directions independently: it drops,
// duplicates and reorders datagrams with seeded randomness. The kernel has
// no netem here, and a relay in the test keeps it self-contained.
type lossyRelay struct {
	front    *net.UDPConn // the client sends here
	back     *net.UDPConn // connected to the server
	client   atomic.Pointer[net.UDPAddr]
	up, down impairment
	wg       sync.WaitGroup
}

// impairment is one direction's behaviour and what it did.
type impairment struct {
	rng                    *rand.Rand
	loss, dup, reorder     float64
	held                   []byte // a datagram held back to follow the next one
	forwarded, dropped     atomic.Int64
	duplicated, reorderedN atomic.Int64
}

func newLossyRelay(t *testing.T, server string, seed uint64, loss, dup, reorder float64) *lossyRelay {
	t.Helper()
	front, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	raddr, err := net.ResolveUDPAddr("udp", server)
	if err != nil {
		t.Fatal(err)
	}
	back, err := net.DialUDP("udp", nil, raddr)
	if err != nil {
		t.Fatal(err)
	}
	r := &lossyRelay{front: front, back: back}
	r.up = impairment{rng: rand.New(rand.NewPCG(seed, 1)), loss: loss, dup: dup, reorder: reorder}
	r.down = impairment{rng: rand.New(rand.NewPCG(seed, 2)), loss: loss, dup: dup, reorder: reorder}
	r.wg.Add(2)
	go r.pump(front, &r.up, func(p []byte, from *net.UDPAddr) error {
		r.client.Store(from)
		_, err := back.Write(p)
		return err
	})
	go r.pump(back, &r.down, func(p []byte, _ *net.UDPAddr) error {
		if c := r.client.Load(); c != nil {
			_, err := front.WriteToUDP(p, c)
			return err
		}
		return nil
	})
	t.Cleanup(func() {
		front.Close()
		back.Close()
		r.wg.Wait()
	})
	return r
}

func (r *lossyRelay) Addr() string { return r.front.LocalAddr().String() }

// pump reads datagrams from c and forwards each through the impairment.
// A datagram held back for reordering goes out after the next one that
// passes, or after 20 ms of silence.
func (r *lossyRelay) pump(c *net.UDPConn, im *impairment, send func([]byte, *net.UDPAddr) error) {
	defer r.wg.Done()
	buf := make([]byte, 64<<10)
	var last *net.UDPAddr
	for {
		_ = c.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
		n, from, err := c.ReadFromUDP(buf)
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				if im.held != nil {
					_ = send(im.held, last)
					im.held = nil
				}
				continue
			}
			return
		}
		last = from
		p := buf[:n]
		switch x := im.rng.Float64(); {
		case x < im.loss:
			im.dropped.Add(1)
			continue
		case x < im.loss+im.reorder && im.held == nil:
			im.held = append([]byte(nil), p...)
			im.reorderedN.Add(1)
			continue
		case x < im.loss+im.reorder+im.dup:
			im.duplicated.Add(1)
			_ = send(p, from)
		}
		im.forwarded.Add(1)
		if send(p, from) != nil {
			return
		}
		if im.held != nil {
			_ = send(im.held, from)
			im.held = nil
		}
	}
}

// recordedTicks keeps the server's world at every tick, as the fan-out
// sees it just before it sends.
type recordedTicks struct {
	mu    sync.Mutex
	ticks map[uint32]*game.Snapshot
}

func (r *recordedTicks) observe(cur *game.Snapshot) {
	var s game.Snapshot
	s.CopyFrom(cur)
	r.mu.Lock()
	r.ticks[cur.Tick] = &s
	r.mu.Unlock()
}

func (r *recordedTicks) at(tick uint32) (*game.Snapshot, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	s, ok := r.ticks[tick]
	return s, ok
}

// received is one snapshot a client decoded, copied.
type received struct {
	snap     game.Snapshot
	baseline uint32
}

// driveBot sends inputs like those of the benchmark bot (docs/GAME.md)
// once per tick until ctx ends: a direction held for a while, fire held
// half of the time.
func driveBot(ctx context.Context, c *client.Client, seed uint64, period time.Duration) {
	rng := rand.New(rand.NewPCG(seed, 3))
	t := time.NewTicker(period)
	defer t.Stop()
	var dir, aim float64
	fire, hold := false, 0
	for {
		select {
		case <-ctx.Done():
			return
		case <-c.Done():
			return
		case <-t.C:
		}
		if hold--; hold <= 0 {
			dir, aim = rng.Float64()*2*math.Pi, rng.Float64()*2*math.Pi
			fire, hold = rng.IntN(2) == 0, 15+rng.IntN(30)
		}
		if _, err := c.SendInput(math.Cos(dir), math.Sin(dir), aim, fire); err != nil {
			return
		}
	}
}

// TestLossyLinkReconstructsTheServerStateAtEveryTick runs a real server
// with a few bots on WebSocket and one WebTransport client behind a relay
// that drops 20 % of the datagrams, duplicates 5 % and reorders 5 %, both
// ways. Every snapshot that client decodes must equal, field for field,
// the server's state at that tick as the client may see it (quantized,
// filtered by interest when AOI is on); most ticks must get through.
func TestLossyLinkReconstructsTheServerStateAtEveryTick(t *testing.T) {
	if testing.Short() {
		t.Skip("real sockets for several seconds")
	}
	for _, tc := range []struct {
		name string
		aoi  float64
		seed uint64
	}{
		{"full_visibility", 0, 1},
		{"aoi", 500, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			runLossyLink(t, tc.aoi, tc.seed)
		})
	}
}

func runLossyLink(t *testing.T, aoi float64, seed uint64) {
	const want = 150 // snapshots the lossy client must decode (about 6 s)
	rec := &recordedTicks{ticks: map[uint32]*game.Snapshot{}}
	srv := &server.Server{AOIRadius: aoi, Game: game.Config{MaxPlayers: 20, Seed: seed}}
	srv.OnTick = rec.observe
	servertest.Start(t, srv)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var drivers sync.WaitGroup
	defer drivers.Wait()
	defer cancel()
	period := srv.Room().Period()
	for i := range 6 {
		bot, err := client.Connect(ctx, client.Config{Server: srv.URL(), Name: "bot", Logger: servertest.Logger(t),
			Dial: transport.DialOptions{Transport: transport.WebSocket}})
		if err != nil {
			t.Fatal(err)
		}
		defer bot.Close()
		drivers.Add(1)
		go func() { defer drivers.Done(); driveBot(ctx, bot, seed*100+uint64(i), period) }()
	}

	relay := newLossyRelay(t, srv.Endpoint().Addrs()[0].String(), seed, 0.20, 0.05, 0.05)
	var mu sync.Mutex
	var got []received
	enough := make(chan struct{})
	cctx, ccancel := context.WithTimeout(ctx, 30*time.Second)
	defer ccancel()
	lossy, err := client.Connect(cctx, client.Config{
		Server: "http://" + relay.Addr(),
		Name:   "lossy",
		Dial: transport.DialOptions{
			Transport:  transport.WebTransport,
			CertHashes: srv.Endpoint().CertManager().Hashes(),
			Logger:     servertest.Logger(t),
		},
		Logger: servertest.Logger(t),
		OnSnapshot: func(s *game.Snapshot, h *wire.SnapshotHeader) {
			mu.Lock()
			defer mu.Unlock()
			var r received
			r.snap.CopyFrom(s)
			r.baseline = h.BaselineTick
			got = append(got, r)
			if len(got) == want {
				close(enough)
			}
		},
	})
	if err != nil {
		t.Fatalf("connecting through the relay: %v", err)
	}
	defer lossy.Close()
	drivers.Add(1)
	go func() { defer drivers.Done(); driveBot(ctx, lossy, seed, period) }()

	select {
	case <-enough:
	case <-lossy.Done():
		t.Fatalf("lossy client's session ended: %v", lossy.Err())
	case <-time.After(90 * time.Second):
		mu.Lock()
		n := len(got)
		mu.Unlock()
		t.Fatalf("only %d snapshots decoded in 90 s", n)
	}
	cancel()

	mu.Lock()
	defer mu.Unlock()
	params := srv.Room().Params()
	viewer := lossy.Entity()
	deltas := 0
	for _, r := range got {
		server, ok := rec.at(r.snap.Tick)
		if !ok {
			t.Fatalf("client decoded tick %d, which the server never sent", r.snap.Tick)
		}
		if diff := arenatest.Diff(&r.snap, snapshottest.ExpectedView(params, server, viewer, aoi)); diff != "" {
			t.Fatalf("tick %d (baseline %d): %s", r.snap.Tick, r.baseline, diff)
		}
		if r.baseline != 0 {
			deltas++
		}
	}
	first, last := got[0].snap.Tick, got[len(got)-1].snap.Tick
	span := int(last-first) + 1
	t.Logf("decoded %d of %d ticks (%d deltas); relay up: %d forwarded, %d dropped, %d duplicated, %d reordered; down: %d, %d, %d, %d",
		len(got), span, deltas,
		relay.up.forwarded.Load(), relay.up.dropped.Load(), relay.up.duplicated.Load(), relay.up.reorderedN.Load(),
		relay.down.forwarded.Load(), relay.down.dropped.Load(), relay.down.duplicated.Load(), relay.down.reorderedN.Load())
	// 80 % of the datagrams arrive; on a loaded machine the server's
	// queue may drop a few more. Half of the ticks is a loose floor.
	if len(got)*2 < span {
		t.Errorf("decoded %d snapshots over %d ticks: less than half got through", len(got), span)
	}
	if len(got) == span {
		t.Errorf("all %d ticks arrived: the loss never hit a snapshot", span)
	}
	if deltas*2 < len(got) {
		t.Errorf("only %d of %d snapshots were deltas: acks are not getting through", deltas, len(got))
	}
	for name, im := range map[string]*impairment{"client to server": &relay.up, "server to client": &relay.down} {
		if im.dropped.Load() == 0 || im.duplicated.Load() == 0 || im.reorderedN.Load() == 0 {
			t.Errorf("%s: the relay dropped %d, duplicated %d, reordered %d: the link was not impaired",
				name, im.dropped.Load(), im.duplicated.Load(), im.reorderedN.Load())
		}
	}
}
