package linksim

import (
	"context"
	"math"
	"net"
	"testing"
	"time"

	"github.com/tickwire/tickwire/netcode/transport"
	"github.com/tickwire/tickwire/netcode/wire"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func TestLinkSimSameSeedMakesTheSameDecisions(t *testing.T) {
	cfg := Config{Latency: 50 * time.Millisecond, Jitter: 20 * time.Millisecond, Loss: 0.1, Duplicate: 0.05, Reorder: 0.05}
	a, b, c := newLinkDir(cfg, 42), newLinkDir(cfg, 42), newLinkDir(cfg, 43)
	differs := false
	for i := 0; i < 1000; i++ {
		now := t0.Add(time.Duration(i) * 33 * time.Millisecond)
		var da, db, dc [2]time.Time
		na, nb, nc := a.plan(now, &da), b.plan(now, &db), c.plan(now, &dc)
		if na != nb || da != db {
			t.Fatalf("packet %d: same seed planned %d %v and %d %v", i, na, da, nb, db)
		}
		differs = differs || na != nc || da != dc
	}
	if !differs {
		t.Error("another seed made the same 1000 decisions")
	}
}

func TestLinkSimLossDuplicationAndDelayFollowTheConfig(t *testing.T) {
	cfg := Config{Latency: 75 * time.Millisecond, Jitter: 15 * time.Millisecond, Loss: 0.2, Duplicate: 0.1}
	d := newLinkDir(cfg, 7)
	const n = 20000
	lost, copies := 0, 0
	for i := 0; i < n; i++ {
		var due [2]time.Time
		k := d.plan(t0, &due)
		if k == 0 {
			lost++
		}
		copies += k
		for j := 0; j < k; j++ {
			if dl := due[j].Sub(t0); dl < 60*time.Millisecond || dl > 90*time.Millisecond {
				t.Fatalf("delay %v outside 75 ms ± 15 ms", dl)
			}
		}
	}
	if l := float64(lost) / n; math.Abs(l-0.2) > 0.015 {
		t.Errorf("lost %.3f of datagrams, want 0.2", l)
	}
	if dup := float64(copies-(n-lost))/float64(n-lost) - 0; math.Abs(dup-0.1) > 0.015 {
		t.Errorf("duplicated %.3f of delivered datagrams, want 0.1", dup)
	}
}

func TestLinkSimReorderedDatagramsLandBehindLaterOnes(t *testing.T) {
	d := newLinkDir(Config{Latency: 40 * time.Millisecond, Jitter: 5 * time.Millisecond, Reorder: 0.1}, 3)
	var prev time.Time
	overtaken := 0
	for i := 0; i < 1000; i++ {
		var due [2]time.Time
		d.plan(t0.Add(time.Duration(i)*20*time.Millisecond), &due)
		if due[0].Before(prev) {
			overtaken++
		}
		prev = due[0]
	}
	if overtaken < 50 || overtaken > 150 {
		t.Errorf("%d of 1000 datagrams overtaken by a later one, want about 100", overtaken)
	}
}

func TestLinkSimReliableMessagesAreDelayedInOrderAndNeverLost(t *testing.T) {
	d := newLinkDir(Config{Latency: 50 * time.Millisecond, Jitter: 40 * time.Millisecond, Loss: 1}, 5)
	var prev time.Time
	for i := 0; i < 1000; i++ {
		now := t0.Add(time.Duration(i) * time.Millisecond)
		due := d.planReliable(now)
		if due.Before(prev) || due.Before(now.Add(10*time.Millisecond)) {
			t.Fatalf("message %d due %v after one due %v", i, due.Sub(t0), prev.Sub(t0))
		}
		prev = due
	}
}

// pipeConn is one end of an in-memory Conn pair that keeps each
// packet's channel, as the real transports do.
type pipeConn struct {
	in, out chan sent
	closed  chan struct{}
	kind    transport.Kind
}

type sent struct {
	p        []byte
	reliable bool
}

// newPipe connects two in-memory Conns that say they are WebTransport
// (datagrams: a Link around them may lose, duplicate, reorder).
func newPipe() (*pipeConn, *pipeConn) {
	a, b := make(chan sent, 1024), make(chan sent, 1024)
	return &pipeConn{in: a, out: b, closed: make(chan struct{}), kind: transport.WebTransport},
		&pipeConn{in: b, out: a, closed: make(chan struct{}), kind: transport.WebTransport}
}

func (p *pipeConn) SendDatagram(b []byte) error {
	p.out <- sent{append([]byte(nil), b...), p.kind == transport.WebSocket}
	return nil
}
func (p *pipeConn) SendMessage(b []byte) error {
	p.out <- sent{append([]byte(nil), b...), true}
	return nil
}
func (p *pipeConn) Receive(ctx context.Context) ([]byte, bool, error) {
	select {
	case s := <-p.in:
		return s.p, s.reliable, nil
	case <-ctx.Done():
		return nil, false, ctx.Err()
	case <-p.closed:
		return nil, false, transport.ErrClosed
	}
}
func (p *pipeConn) Close() error         { close(p.closed); return nil }
func (p *pipeConn) Kind() transport.Kind { return p.kind }
func (p *pipeConn) RemoteAddr() net.Addr { return &net.TCPAddr{} }

// datagram and message are test packets: the link never looks inside.
func datagram(i int) []byte { return []byte{'d', byte(i)} }
func message(i int) []byte  { return []byte{'m', byte(i)} }

func TestLinkSimWrapImpairsBothDirectionsOfARealConn(t *testing.T) {
	a, b := newPipe()
	cfg := Config{Latency: 30 * time.Millisecond, Loss: 0.5}
	wa := Link{Up: cfg, Down: Config{Latency: 20 * time.Millisecond}, Seed: 9}.Wrap(a)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	// Up: half the datagrams are lost, every message arrives, in order,
	// no sooner than the latency, on the channel it was sent on.
	start := time.Now()
	for i := range 100 {
		if err := wa.SendDatagram(datagram(i)); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 3 {
		if err := wa.SendMessage(message(i)); err != nil {
			t.Fatal(err)
		}
	}
	datagrams, msgs := 0, 0
	for msgs < 3 {
		raw, reliable, err := b.Receive(ctx)
		if err != nil {
			t.Fatalf("after %d datagrams and %d messages: %v", datagrams, msgs, err)
		}
		if time.Since(start) < 30*time.Millisecond {
			t.Fatalf("packet arrived after %v, before the link's latency", time.Since(start))
		}
		if reliable != (raw[0] == 'm') {
			t.Fatalf("packet %q arrived with reliable=%v", raw, reliable)
		}
		if raw[0] == 'm' {
			if int(raw[1]) != msgs {
				t.Fatalf("message %d arrived as number %d", raw[1], msgs)
			}
			msgs++
		} else {
			datagrams++
		}
	}
	if datagrams < 30 || datagrams > 70 {
		t.Errorf("%d of 100 datagrams crossed a link losing half", datagrams)
	}
	// Down: delayed by 20 ms.
	sentAt := time.Now()
	if err := b.SendDatagram(datagram(1)); err != nil {
		t.Fatal(err)
	}
	if _, _, err := wa.Receive(ctx); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(sentAt); d < 20*time.Millisecond {
		t.Errorf("received after %v through a 20 ms link", d)
	}
	if err := wa.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestLinkSimNeverLosesWhatThePeerSentReliably: on a link that loses
// every datagram, what the peer sent on the reliable channel (a roster, a
// welcome: whatever its content) still arrives, in order, and reports
// its channel; the datagrams do not. The link learns the channel from the
// transport, not from the packet's bytes.
func TestLinkSimNeverLosesWhatThePeerSentReliably(t *testing.T) {
	a, b := newPipe()
	wa := Link{Down: Config{Latency: 5 * time.Millisecond, Loss: 1}, Seed: 2}.Wrap(a)
	defer wa.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	// Rosters are real packets of a kind that is not a handshake: a link
	// that classified packets by kind took them for datagrams.
	roster := func(i int) []byte { return wire.RosterPacket(&wire.Roster{Revision: uint64(i + 1)}) }
	for i := range 20 {
		if err := b.SendDatagram(datagram(i)); err != nil {
			t.Fatal(err)
		}
		if err := b.SendMessage(roster(i)); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 20 {
		raw, reliable, err := wa.Receive(ctx)
		if err != nil {
			t.Fatalf("after %d messages: %v", i, err)
		}
		r, err := wire.DecodeRoster(raw)
		if err != nil || r.Revision != uint64(i+1) || !reliable {
			t.Fatalf("packet %d: %q reliable=%v (%v), want roster %d on the reliable channel", i, raw, reliable, err, i+1)
		}
	}
}

// TestLinkSimOverWebSocketLosesNothingAndKeepsOrder: over a stream a
// lost packet is retransmitted, later: every packet arrives, in order,
// and the lost ones (and those behind them) a retransmission late.
func TestLinkSimOverWebSocketLosesNothingAndKeepsOrder(t *testing.T) {
	a, b := newPipe()
	a.kind, b.kind = transport.WebSocket, transport.WebSocket
	wa := Link{Up: Config{Latency: 10 * time.Millisecond, Jitter: 5 * time.Millisecond, Loss: 0.3, Duplicate: 0.3, Reorder: 0.3}, Seed: 4}.Wrap(a)
	defer wa.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	start := time.Now()
	const n = 50
	for i := range n {
		if err := wa.SendDatagram(datagram(i)); err != nil {
			t.Fatal(err)
		}
	}
	for i := range n {
		raw, _, err := b.Receive(ctx)
		if err != nil {
			t.Fatalf("after %d packets: %v", i, err)
		}
		if int(raw[1]) != i {
			t.Fatalf("packet %d arrived as number %d", raw[1], i)
		}
	}
	if d := time.Since(start); d < retransmit {
		t.Errorf("50 packets over a stream losing 30 %% all arrived within %v, sooner than a retransmission", d)
	}
}
