package linksim

import (
	"container/heap"
	"context"
	"math/rand"
	"net"
	"sync"
	"time"
)

// LinkConfig impairs one direction of a link. The zero value is a perfect
// link (no delay, nothing lost).
type LinkConfig struct {
	// Latency is the one-way delay of every packet.
	Latency time.Duration
	// Jitter adds to each packet's delay a uniform random amount in
	// [-Jitter, +Jitter] (the delay never goes below zero).
	Jitter time.Duration
	// Loss, Duplicate and Reorder are probabilities in [0, 1] and apply to
	// datagrams only: a datagram is lost, delivered twice (the copy with
	// its own jitter), or held back long enough to arrive after the ones
	// sent just after it. Reliable messages, and every packet over
	// WebSocket (TCP, one ordered stream), are never lost, duplicated or
	// reordered: a loss costs a retransmission (retransmit more delay)
	// and every later packet of the stream waits behind it.
	Loss, Duplicate, Reorder float64
}

// LinkSim is a seeded, deterministic link simulator for tests and bots:
// the same Seed makes the same decisions (which datagram is lost,
// duplicated, reordered, and each one's delay) for the same sequence of
// packets. Up impairs what the wrapped side sends, Down what it receives.
// Reliable messages are delayed (latency, jitter, a retransmission for a
// loss) but never lost and never reordered.
type LinkSim struct {
	Up, Down LinkConfig
	Seed     int64
}

// Wrap returns c with the link's impairments applied on the real clock.
// Packets are classified by kind: hello, welcome and disconnect travel the
// reliable channel, everything else (inputs, snapshots, pings) is a
// datagram; over WebSocket every packet travels as TCP would carry it
// (see LinkConfig). Closing the returned Conn flushes the delayed reliable
// messages (within a second), then closes c.
func (l LinkSim) Wrap(c Conn) Conn {
	s := &simConn{
		inner:  c,
		stream: c.Kind() == WebSocket,
		up:     newLinkDir(l.Up, l.Seed),
		down:   newLinkDir(l.Down, l.Seed+1),
		out:    newDelayQueue(),
		in:     newDelayQueue(),
		closed: make(chan struct{}),
		sent:   make(chan struct{}),
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	go s.sendLoop()
	go s.readLoop()
	return s
}

// linkDir decides the fate of the packets of one direction. Every
// datagram consumes the same number of random draws whatever happens to
// it, and reliable messages draw from their own stream, so each decision
// depends only on the packet's position in its sequence.
type linkDir struct {
	cfg          LinkConfig
	rng          *rand.Rand // datagrams
	rrng         *rand.Rand // reliable messages
	lastReliable time.Time  // due time of the newest reliable message
}

func newLinkDir(cfg LinkConfig, seed int64) *linkDir {
	return &linkDir{
		cfg:  cfg,
		rng:  rand.New(rand.NewSource(seed)),
		rrng: rand.New(rand.NewSource(seed ^ 0x5deece66d)),
	}
}

// delay is Latency plus the jitter drawn from u in [0, 1).
func (d *linkDir) delay(u float64) time.Duration {
	j := time.Duration((2*u - 1) * float64(d.cfg.Jitter))
	return max(0, d.cfg.Latency+j)
}

// plan fills due with the delivery times of a datagram sent at now and
// returns how many copies arrive (0, 1 or 2).
func (d *linkDir) plan(now time.Time, due *[2]time.Time) int {
	r := d.rng
	uLoss, uJit, uReo, uExtra, uDup, uDupJit := r.Float64(), r.Float64(), r.Float64(), r.Float64(), r.Float64(), r.Float64()
	if uLoss < d.cfg.Loss {
		return 0
	}
	dl := d.delay(uJit)
	if uReo < d.cfg.Reorder {
		// Held back by more than the spread of the others' delays, so
		// that it lands behind packets sent after it.
		extra := max(10*time.Millisecond, d.cfg.Latency/2+2*d.cfg.Jitter)
		dl += time.Duration(float64(extra) * (1 + uExtra))
	}
	due[0] = now.Add(dl)
	if uDup < d.cfg.Duplicate {
		due[1] = now.Add(d.delay(uDupJit))
		return 2
	}
	return 1
}

// retransmit is what a lost segment costs a reliable stream (TCP, or a
// QUIC stream): Linux's minimum retransmission timeout, plus the trip.
const retransmit = 200 * time.Millisecond

// planReliable is the delivery time of a packet sent at now on a reliable,
// ordered stream: delayed like a datagram, plus a retransmission when the
// link loses it, and never before the previous packet of the stream.
func (d *linkDir) planReliable(now time.Time) time.Time {
	dl := d.delay(d.rrng.Float64())
	if d.rrng.Float64() < d.cfg.Loss {
		dl += retransmit + d.cfg.Latency
	}
	due := now.Add(dl)
	if due.Before(d.lastReliable) {
		due = d.lastReliable
	}
	d.lastReliable = due
	return due
}

// delayed is one packet waiting for its delivery time.
type delayed struct {
	due      time.Time
	seq      uint64
	reliable bool
	p        []byte
}

type delayHeap []delayed

func (h delayHeap) Len() int { return len(h) }
func (h delayHeap) Less(i, j int) bool {
	if !h[i].due.Equal(h[j].due) {
		return h[i].due.Before(h[j].due)
	}
	return h[i].seq < h[j].seq
}
func (h delayHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *delayHeap) Push(x any)   { *h = append(*h, x.(delayed)) }
func (h *delayHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// delayQueue holds packets until they are due, in due order (ties in
// the order pushed). It is not synchronised; callers lock.
type delayQueue struct {
	h   delayHeap
	seq uint64
}

func newDelayQueue() *delayQueue { return &delayQueue{} }

func (q *delayQueue) push(due time.Time, reliable bool, p []byte) {
	q.seq++
	heap.Push(&q.h, delayed{due: due, seq: q.seq, reliable: reliable, p: p})
}

// next returns the earliest packet's due time.
func (q *delayQueue) next() (time.Time, bool) {
	if len(q.h) == 0 {
		return time.Time{}, false
	}
	return q.h[0].due, true
}

// pop removes and returns the earliest packet if it is due at now.
func (q *delayQueue) pop(now time.Time) (delayed, bool) {
	if len(q.h) == 0 || q.h[0].due.After(now) {
		return delayed{}, false
	}
	return heap.Pop(&q.h).(delayed), true
}

// reliableKind reports whether a packet travels the reliable channel,
// from its kind.
func reliableKind(p []byte) bool {
	kind, _, err := SplitPacket(p)
	if err != nil {
		return true // unknown bytes: do not lose them
	}
	switch kind {
	case KindHello, KindWelcome, KindDisconnect:
		return true
	}
	return false
}

// simConn is a Conn seen through a LinkSim on the real clock.
type simConn struct {
	inner    Conn
	stream   bool // one reliable, ordered stream (WebSocket)
	up, down *linkDir

	mu      sync.Mutex
	out, in *delayQueue
	readErr error
	wake    [2]chan struct{} // out, in: something was pushed
	closing bool

	ctx    context.Context
	cancel context.CancelFunc
	once   sync.Once
	closed chan struct{}
	sent   chan struct{} // closed when sendLoop has flushed and exited
}

func (s *simConn) wakeCh(i int) chan struct{} {
	if s.wake[i] == nil {
		s.wake[i] = make(chan struct{}, 1)
	}
	return s.wake[i]
}

func (s *simConn) notify(i int) {
	select {
	case s.wakeCh(i) <- struct{}{}:
	default:
	}
}

func (s *simConn) SendDatagram(p []byte) error {
	if len(p) > MaxDatagramSize && s.inner.Kind() == WebTransport {
		return s.inner.SendDatagram(p) // let the transport refuse it
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing {
		return ErrClosed
	}
	if s.stream {
		s.out.push(s.up.planReliable(time.Now()), false, append([]byte(nil), p...))
		s.notify(0)
		return nil
	}
	var due [2]time.Time
	n := s.up.plan(time.Now(), &due)
	for i := 0; i < n; i++ {
		s.out.push(due[i], false, append([]byte(nil), p...))
	}
	s.notify(0)
	return nil
}

func (s *simConn) SendMessage(p []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing {
		return ErrClosed
	}
	s.out.push(s.up.planReliable(time.Now()), true, append([]byte(nil), p...))
	s.notify(0)
	return nil
}

// sendLoop hands each outgoing packet to the real Conn when it is due.
// After Close it keeps going until the reliable messages are out.
func (s *simConn) sendLoop() {
	defer close(s.sent)
	s.mu.Lock()
	wake := s.wakeCh(0)
	s.mu.Unlock()
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	var flushBy time.Time
	for {
		s.mu.Lock()
		now := time.Now()
		pk, ok := s.out.pop(now)
		closing := s.closing
		next, pending := s.out.next()
		s.mu.Unlock()
		if ok {
			if pk.reliable {
				_ = s.inner.SendMessage(pk.p)
			} else if !closing {
				_ = s.inner.SendDatagram(pk.p)
			}
			continue
		}
		if closing {
			if flushBy.IsZero() {
				flushBy = now.Add(time.Second)
			}
			if !pending || now.After(flushBy) {
				return
			}
		}
		wait := time.Hour
		if pending {
			wait = next.Sub(now)
		}
		timer.Reset(wait)
		select {
		case <-timer.C:
		case <-wake:
		case <-s.closed:
		}
	}
}

// readLoop takes packets from the real Conn and queues each for the time
// the simulated link would deliver it.
func (s *simConn) readLoop() {
	for {
		p, err := s.inner.Receive(s.ctx)
		s.mu.Lock()
		if err != nil {
			s.readErr = err
			s.notify(1)
			s.mu.Unlock()
			return
		}
		now := time.Now()
		switch reliable := reliableKind(p); {
		case s.stream || reliable:
			s.in.push(s.down.planReliable(now), reliable, p)
		default:
			var due [2]time.Time
			n := s.down.plan(now, &due)
			for i := 0; i < n; i++ {
				q := p
				if i > 0 {
					q = append([]byte(nil), p...)
				}
				s.in.push(due[i], false, q)
			}
		}
		s.notify(1)
		s.mu.Unlock()
	}
}

func (s *simConn) Receive(ctx context.Context) ([]byte, error) {
	s.mu.Lock()
	wake := s.wakeCh(1)
	s.mu.Unlock()
	var timer *time.Timer
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	for {
		s.mu.Lock()
		now := time.Now()
		pk, ok := s.in.pop(now)
		next, pending := s.in.next()
		err := s.readErr
		s.mu.Unlock()
		if ok {
			return pk.p, nil
		}
		if !pending && err != nil {
			return nil, err
		}
		var tc <-chan time.Time
		if pending {
			if timer == nil {
				timer = time.NewTimer(next.Sub(now))
			} else {
				timer.Reset(next.Sub(now))
			}
			tc = timer.C
		}
		select {
		case <-tc:
		case <-wake:
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-s.closed:
			return nil, ErrClosed
		}
	}
}

func (s *simConn) Close() error {
	s.once.Do(func() {
		s.mu.Lock()
		s.closing = true
		s.mu.Unlock()
		close(s.closed)
	})
	<-s.sent
	err := s.inner.Close()
	s.cancel()
	return err
}

func (s *simConn) Kind() TransportKind  { return s.inner.Kind() }
func (s *simConn) RemoteAddr() net.Addr { return s.inner.RemoteAddr() }
