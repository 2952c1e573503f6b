package server_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tickwire/tickwire/netcode/client"
	"github.com/tickwire/tickwire/netcode/server"
	"github.com/tickwire/tickwire/netcode/server/servertest"
	"github.com/tickwire/tickwire/netcode/transport"
	"github.com/tickwire/tickwire/netcode/wire"
)

// pingSpy counts the pings a client sends (those that carry its RTT
// apart) and the pings the server sends it. With hideRTT it strips the
// RTT from the client's pings, as a client built before rtt_us does.
type pingSpy struct {
	transport.Conn
	hideRTT                     bool
	sent, sentWithRTT, received atomic.Int64
}

func (s *pingSpy) SendDatagram(p []byte) error {
	kind, body, err := wire.SplitPacket(p)
	if err != nil || kind != wire.KindPing {
		return s.Conn.SendDatagram(p)
	}
	var ping wire.Ping
	if err := wire.DecodePing(body, &ping); err != nil {
		return s.Conn.SendDatagram(p)
	}
	if s.hideRTT {
		ping.RttUs = 0
		p = wire.AppendPing(nil, wire.KindPing, &ping)
	}
	if ping.RttUs > 0 {
		s.sentWithRTT.Add(1)
	}
	s.sent.Add(1)
	return s.Conn.SendDatagram(p)
}

func (s *pingSpy) Receive(ctx context.Context) ([]byte, bool, error) {
	p, reliable, err := s.Conn.Receive(ctx)
	if kind, _, serr := wire.SplitPacket(p); err == nil && serr == nil && kind == wire.KindPing {
		s.received.Add(1)
	}
	return p, reliable, err
}

// TestAClientThatReportsItsRTTIsNotPinged: a client's pings carry its
// RTT, so the server records that and stops pinging it (one heartbeat
// exchange a second instead of two); a client whose pings do not carry
// it (an older build) is pinged every second as before.
func TestAClientThatReportsItsRTTIsNotPinged(t *testing.T) {
	srv := servertest.Start(t, &server.Server{})
	for _, tc := range []struct {
		name    string
		hideRTT bool
	}{{"reports its RTT", false}, {"older client", true}} {
		t.Run(tc.name, func(t *testing.T) {
			spy := &pingSpy{hideRTT: tc.hideRTT}
			connectPlayerWith(t, srv, "pinger", transport.WebTransport, func(cfg *client.Config) {
				cfg.PingInterval = 250 * time.Millisecond
				cfg.WrapConn = func(c transport.Conn) transport.Conn { spy.Conn = c; return spy }
			})
			rttBefore, _ := value(scrape(t, srv.URL()), "tickwire_rtt_seconds", nil)
			// Two pings after the client has an RTT, the server has read
			// the first of them.
			servertest.WaitFor(t, 10*time.Second, func() bool { return spy.sent.Load() >= 4 })
			pingedBefore, sentBefore := spy.received.Load(), spy.sent.Load()
			// Twelve more client pings: three seconds, in which the
			// server's housekeeping runs about three times.
			servertest.WaitFor(t, 15*time.Second, func() bool { return spy.sent.Load() >= sentBefore+12 })
			pinged := spy.received.Load() - pingedBefore
			rtt, _ := value(scrape(t, srv.URL()), "tickwire_rtt_seconds", nil)
			if tc.hideRTT {
				if pinged < 2 {
					t.Errorf("the server pinged a client that does not report its RTT %d times in 3 s, want every second", pinged)
				}
				if spy.sentWithRTT.Load() != 0 {
					t.Fatal("the spy let an RTT through")
				}
				return
			}
			if pinged != 0 {
				t.Errorf("the server pinged a client that reports its RTT %d times", pinged)
			}
			if spy.sentWithRTT.Load() < 12 {
				t.Errorf("%d of %d pings carried the RTT", spy.sentWithRTT.Load(), spy.sent.Load())
			}
			if rtt-rttBefore < 12 {
				t.Errorf("the RTT histogram grew by %v samples over 12 reports", rtt-rttBefore)
			}
		})
	}
}
