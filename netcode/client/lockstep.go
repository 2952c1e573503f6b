package client

import (
	"fmt"
	"time"

	"github.com/tickwire/tickwire/netcode/transport"
)

// Lockstep is a Client that its caller drives instead of its own
// goroutines: the caller hands it every packet that arrives and says when
// to ping, all at times of the caller's clock (Config.Clock). A
// simulation uses it to run a server and many clients in one goroutine,
// in time order, so that the same seed gives the same run. Everything
// else (SendInput, InputsDue, Frame, NetStats) is the Client's own.
type Lockstep struct {
	*Client
	helloSent time.Time
	joined    bool
}

// NewLockstep returns a client that sends on conn and reads nothing by
// itself. Send its hello with SendHello, then Deliver what arrives.
func NewLockstep(cfg Config, conn transport.Conn) *Lockstep {
	c := newClient(cfg)
	c.conn = conn
	return &Lockstep{Client: c}
}

// SendHello sends the hello (on the reliable channel), sent at now.
func (l *Lockstep) SendHello(now time.Time) error {
	l.helloSent = now
	if err := l.conn.SendMessage(l.hello()); err != nil {
		return fmt.Errorf("sending hello: %w", err)
	}
	return nil
}

// Joined reports whether the welcome has been delivered.
func (l *Lockstep) Joined() bool { return l.joined }

// Deliver processes one packet that arrived at now. Before the welcome,
// packets that overtook it are ignored; a refusal is returned as a
// *DisconnectError.
func (l *Lockstep) Deliver(raw []byte, now time.Time) error {
	if l.joined {
		return l.handlePacket(raw, now)
	}
	joined, err := l.awaitWelcome(raw, l.helloSent, now)
	l.joined = joined
	return err
}

// SendPing sends a ping at now (a connected Client pings every
// PingInterval on its own).
func (l *Lockstep) SendPing(now time.Time) error { return l.sendPing(now) }
