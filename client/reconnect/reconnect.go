// Package reconnect keeps a client connected: it dials, reports the
// connection's state for the screen, and after a drop reconnects with
// capped exponential backoff and jitter, offering the server the resume
// token of the session it lost. It owns no netcode logic and draws
// nothing.
package reconnect

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/tickwire/tickwire/netcode/client"
	pb "github.com/tickwire/tickwire/proto/tickwire/v1"
)

// State is where the connection stands.
type State int

const (
	Connecting   State = iota // first attempt in progress
	Connected                 // a session is up
	Reconnecting              // lost or refused; trying again after a delay
	Disconnected              // given up (permanent refusal) or closed
)

func (s State) String() string {
	switch s {
	case Connecting:
		return "connecting"
	case Connected:
		return "connected"
	case Reconnecting:
		return "reconnecting"
	case Disconnected:
		return "disconnected"
	}
	return fmt.Sprintf("state(%d)", int(s))
}

// Conn is a live session as the manager needs it.
type Conn interface {
	// Done is closed when the session has ended; Err then says why.
	Done() <-chan struct{}
	Err() error
	Close() error
	// ResumeToken is offered to the server on the next reconnect.
	ResumeToken() []byte
}

// Status is a snapshot of the manager's state for display.
type Status struct {
	State State
	// Attempt counts failed attempts since the last successful one.
	Attempt int
	// Reason is why the last session or attempt ended ("" while fine).
	Reason string
	// RetryAt is when the next attempt starts (Reconnecting only).
	RetryAt time.Time
}

// Backoff is capped exponential backoff with jitter. The zero value
// waits 250ms, then doubles up to 10s, each delay reduced by up to half
// at random.
type Backoff struct {
	// Initial is the first delay. Default 250ms.
	Initial time.Duration
	// Max caps the delay. Default 10s.
	Max time.Duration
	// Jitter is the fraction of the delay taken away at random, in [0, 1].
	// Default 0.5 (set a negative value for none).
	Jitter float64
}

// Delay is the wait before attempt n (0-based); u is a uniform random
// number in [0, 1).
func (b Backoff) Delay(n int, u float64) time.Duration {
	initial, maxD, jitter := b.Initial, b.Max, b.Jitter
	if initial <= 0 {
		initial = 250 * time.Millisecond
	}
	if maxD <= 0 {
		maxD = 10 * time.Second
	}
	maxD = max(maxD, initial)
	switch {
	case jitter == 0:
		jitter = 0.5
	case jitter < 0:
		jitter = 0
	case jitter > 1:
		jitter = 1
	}
	d := initial
	for i := 0; i < n && d < maxD; i++ {
		d *= 2
	}
	d = min(d, maxD)
	return d - time.Duration(float64(d)*jitter*u)
}

// Config configures a Manager.
type Config[C Conn] struct {
	// Dial opens one session, offering resume (nil on the first attempt).
	Dial func(ctx context.Context, resume []byte) (C, error)
	// Backoff spaces the attempts.
	Backoff Backoff
	// Retry says whether an error (a failed attempt, or why a session
	// ended) is worth another attempt. Default: see Retryable.
	Retry func(error) bool
	// OnChange, if set, is called after every change of Status (on the
	// manager's goroutine; keep it short).
	OnChange func(Status)
	// Rand returns uniform numbers in [0, 1) for jitter. Default
	// math/rand/v2.Float64.
	Rand func() float64
	// GiveUpAfter, when positive, ends Run with a *GaveUpError once the
	// attempts have failed for this long since the last session ended
	// (or since the first attempt failed). A game that came from a lobby
	// sets it: a process that stays unreachable is gone, and the lobby
	// knows where else to play. Zero: retry as long as Retry says.
	GiveUpAfter time.Duration
	// Now is the clock GiveUpAfter is measured on. Default time.Now.
	Now func() time.Time
}

// GaveUpError is why Run stopped after Config.GiveUpAfter.
type GaveUpError struct {
	// For is how long the attempts had been failing.
	For time.Duration
	// Err is why the last one failed.
	Err error
}

func (e *GaveUpError) Error() string {
	return fmt.Sprintf("no connection for %v: %v", e.For.Round(time.Second), e.Err)
}

func (e *GaveUpError) Unwrap() error { return e.Err }

// Retryable is the default retry policy: everything but a refusal the
// server will repeat (wrong version, bad hello, failed auth, taken over
// by another connection, a protocol violation) and the client's own
// goodbye.
func Retryable(err error) bool {
	var de *client.DisconnectError
	if !errors.As(err, &de) {
		return true
	}
	switch de.Reason {
	case pb.DisconnectReason_DISCONNECT_REASON_VERSION_MISMATCH,
		pb.DisconnectReason_DISCONNECT_REASON_BAD_HELLO,
		pb.DisconnectReason_DISCONNECT_REASON_AUTH_FAILED,
		pb.DisconnectReason_DISCONNECT_REASON_REPLACED,
		pb.DisconnectReason_DISCONNECT_REASON_PROTOCOL_VIOLATION,
		pb.DisconnectReason_DISCONNECT_REASON_CLIENT_LEFT:
		return false
	}
	return true
}

// Manager keeps one session up. Create it with New and run it with Run.
type Manager[C Conn] struct {
	cfg Config[C]

	mu     sync.Mutex
	status Status
	cur    C
	has    bool
}

// New returns a manager in state Connecting.
func New[C Conn](cfg Config[C]) *Manager[C] {
	if cfg.Retry == nil {
		cfg.Retry = Retryable
	}
	if cfg.Rand == nil {
		cfg.Rand = rand.Float64
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Manager[C]{cfg: cfg}
}

// Status is the current status.
func (m *Manager[C]) Status() Status {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.status
}

// Current is the live session, if any.
func (m *Manager[C]) Current() (C, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.cur, m.has
}

func (m *Manager[C]) set(st Status, cur C, has bool) {
	m.mu.Lock()
	m.status, m.cur, m.has = st, cur, has
	m.mu.Unlock()
	if m.cfg.OnChange != nil {
		m.cfg.OnChange(st)
	}
}

// Run connects and keeps reconnecting until ctx is done (then it closes
// the session and returns nil), the server refuses for good (then it
// returns that error) or the attempts have failed for GiveUpAfter (then
// a *GaveUpError); either way the status is then Disconnected with the
// reason.
func (m *Manager[C]) Run(ctx context.Context) error {
	var zero C
	var resume []byte
	state := Connecting
	attempt := 0
	var failingSince time.Time // zero while a session is up
	for {
		m.set(Status{State: state, Attempt: attempt, Reason: m.Status().Reason}, zero, false)
		c, err := m.cfg.Dial(ctx, resume)
		if ctx.Err() != nil {
			if err == nil {
				_ = c.Close()
			}
			m.set(Status{State: Disconnected, Reason: "closed"}, zero, false)
			return nil
		}
		if err == nil {
			attempt, failingSince = 0, time.Time{}
			resume = c.ResumeToken()
			m.set(Status{State: Connected}, c, true)
			select {
			case <-ctx.Done():
				_ = c.Close()
				m.set(Status{State: Disconnected, Reason: "closed"}, zero, false)
				return nil
			case <-c.Done():
			}
			err = c.Err()
			if err == nil {
				err = errors.New("session ended")
			}
		}
		if failingSince.IsZero() {
			failingSince = m.cfg.Now()
		}
		if stop := m.final(err, failingSince); stop != nil {
			m.set(Status{State: Disconnected, Attempt: attempt, Reason: stop.Error()}, zero, false)
			return stop
		}
		delay := m.cfg.Backoff.Delay(attempt, m.cfg.Rand())
		attempt++
		state = Reconnecting
		m.set(Status{State: Reconnecting, Attempt: attempt, Reason: err.Error(), RetryAt: time.Now().Add(delay)}, zero, false)
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			m.set(Status{State: Disconnected, Reason: "closed"}, zero, false)
			return nil
		case <-t.C:
		}
	}
}

// final is the error that ends Run after err (a failed attempt or a lost
// session, the attempts failing since failingSince), or nil to try again.
func (m *Manager[C]) final(err error, failingSince time.Time) error {
	if !m.cfg.Retry(err) {
		return err
	}
	if failed := m.cfg.Now().Sub(failingSince); m.cfg.GiveUpAfter > 0 && failed >= m.cfg.GiveUpAfter {
		return &GaveUpError{For: failed, Err: err}
	}
	return nil
}
