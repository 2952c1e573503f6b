package linksim

import (
	"context"
	"net"
	"sync"
	"time"

	"github.com/tickwire/tickwire/netcode/transport"
)

// Config impairs one direction of a link. The zero value is a perfect
// link (no delay, nothing lost).
type Config struct {
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

// Link is a seeded, deterministic link simulator for tests and bots:
// the same Seed makes the same decisions (which datagram is lost,
// duplicated, reordered, and each one's delay) for the same sequence of
// packets. Up impairs what the wrapped side sends, Down what it receives.
// Reliable messages are delayed (latency, jitter, a retransmission for a
// loss) but never lost and never reordered.
type Link struct {
	Up, Down Config
	Seed     int64
}

// Wrap returns c with the link's impairments applied on the real clock.
// A packet's channel is the one it travels: what is sent with
// SendMessage, and what Receive reports as reliable, is a reliable
// message; over WebSocket every packet travels as TCP would carry it (see
// Config). Closing the returned Conn flushes the delayed reliable
// messages (within a second), then closes c.
func (l Link) Wrap(c transport.Conn) transport.Conn {
	stream := c.Kind() == transport.WebSocket
	s := &simConn{
		inner:  c,
		out:    NewQueue(l.Up, l.Seed, stream),
		in:     NewQueue(l.Down, l.Seed+1, stream),
		closed: make(chan struct{}),
		sent:   make(chan struct{}),
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	go s.sendLoop()
	go s.readLoop()
	return s
}

// simConn is a Conn seen through a Link on the real clock.
type simConn struct {
	inner transport.Conn

	mu      sync.Mutex
	out, in *Queue
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
	if len(p) > transport.MaxDatagramSize && s.inner.Kind() == transport.WebTransport {
		return s.inner.SendDatagram(p) // let the transport refuse it
	}
	return s.send(p, false)
}

func (s *simConn) SendMessage(p []byte) error { return s.send(p, true) }

func (s *simConn) send(p []byte, reliable bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing {
		return transport.ErrClosed
	}
	s.out.Send(time.Now(), append([]byte(nil), p...), reliable)
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
		p, reliable, ok := s.out.Pop(now)
		closing := s.closing
		next, pending := s.out.Next()
		s.mu.Unlock()
		if ok {
			if reliable {
				_ = s.inner.SendMessage(p)
			} else if !closing {
				_ = s.inner.SendDatagram(p)
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
		p, reliable, err := s.inner.Receive(s.ctx)
		s.mu.Lock()
		if err != nil {
			s.readErr = err
			s.notify(1)
			s.mu.Unlock()
			return
		}
		s.in.Send(time.Now(), p, reliable)
		s.notify(1)
		s.mu.Unlock()
	}
}

func (s *simConn) Receive(ctx context.Context) ([]byte, bool, error) {
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
		p, reliable, ok := s.in.Pop(now)
		next, pending := s.in.Next()
		err := s.readErr
		s.mu.Unlock()
		if ok {
			return p, reliable, nil
		}
		if !pending && err != nil {
			return nil, false, err
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
			return nil, false, ctx.Err()
		case <-s.closed:
			return nil, false, transport.ErrClosed
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

func (s *simConn) Kind() transport.Kind { return s.inner.Kind() }
func (s *simConn) RemoteAddr() net.Addr { return s.inner.RemoteAddr() }
