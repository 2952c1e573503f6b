package server_test

import (
	"fmt"
	"math"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/tickwire/tickwire/game"
	"github.com/tickwire/tickwire/netcode/client"
	"github.com/tickwire/tickwire/netcode/server"
	"github.com/tickwire/tickwire/netcode/server/servertest"
	"github.com/tickwire/tickwire/netcode/transport"
	"github.com/tickwire/tickwire/netcode/wire"
)

// lyingConn is a modified client: every input it sends claims the
// largest view lag the wire carries (4096 ticks, over a minute at 60 Hz),
// for as much lag compensation as the server will give.
type lyingConn struct {
	transport.Conn
	in  wire.InputPacket
	out []byte
}

func (c *lyingConn) SendDatagram(p []byte) error {
	kind, body, err := wire.SplitPacket(p)
	if err != nil || kind != wire.KindInput {
		return c.Conn.SendDatagram(p)
	}
	if err := wire.DecodeInputPacket(body, &c.in); err != nil {
		return fmt.Errorf("lying conn: %w", err)
	}
	for i := range c.in.Inputs {
		c.in.Inputs[i].ViewLag = math.MaxUint16
	}
	c.out = wire.AppendInputPacket(c.out[:0], &c.in)
	return c.Conn.SendDatagram(c.out)
}

// histogramOf returns the one histogram of the family name.
func histogramOf(t *testing.T, fams map[string]*dto.MetricFamily, name string) *dto.Histogram {
	t.Helper()
	f := fams[name]
	if f == nil || len(f.GetMetric()) != 1 || f.GetMetric()[0].Histogram == nil {
		t.Fatalf("no histogram %s", name)
	}
	return f.GetMetric()[0].Histogram
}

// TestLagCompensationRewindsNoFurtherThanTheBound: a shooter fires at a
// player standing still in a small arena, over a real server, until it
// has hit it a few times. A modified client claiming a huge view lag gets
// every hit rewound by exactly game.MaxRewind and no more; an honest one
// gets less (on loopback: the input's lead and the interpolation delay);
// with compensation off (-lag-compensation=false) no hit is rewound. The
// histogram tickwire_lag_compensation_rewind_seconds and
// tickwire_hits_total tell.
func TestLagCompensationRewindsNoFurtherThanTheBound(t *testing.T) {
	arena := game.Config{MaxPlayers: 4, Size: 200}
	off := arena
	off.NoLagCompensation = true
	for _, tt := range []struct {
		name  string
		game  game.Config
		lying bool
	}{
		{"a client claiming a huge view lag", arena, true},
		{"an honest client", arena, false},
		{"compensation off, a client claiming a huge lag", off, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			srv := servertest.Start(t, &server.Server{Game: tt.game})
			target := connectPlayer(t, srv, "target", transport.WebSocket)
			target.waitSeen(t)
			shooter := connectPlayerWith(t, srv, "shooter", transport.WebTransport, func(cfg *client.Config) {
				if tt.lying {
					cfg.WrapConn = func(c transport.Conn) transport.Conn { return &lyingConn{Conn: c} }
				}
			})
			shooter.waitSeen(t)

			const wantHits = 6
			applied, none := 0.0, 0.0
			var f client.Frame
			tick := time.NewTicker(time.Second / 60)
			defer tick.Stop()
			deadline := time.Now().Add(60 * time.Second)
			for next := time.Now(); applied+none < wantHits; {
				now := <-tick.C
				if now.After(deadline) {
					t.Fatalf("only %v hits in a minute", applied+none)
				}
				shooter.Frame(now, &f)
				aim, ok := 0.0, false
				for _, pl := range f.Remote {
					if pl.ID == target.Entity() && pl.Alive && f.HasOwn {
						aim, ok = math.Atan2(pl.Y-f.Own.Y, pl.X-f.Own.X), true
					}
				}
				for range shooter.InputsDue(now) {
					if _, err := shooter.SendInput(0, 0, aim, ok); err != nil {
						t.Fatal(err)
					}
				}
				if now.Before(next) {
					continue
				}
				next = now.Add(250 * time.Millisecond)
				fams := scrape(t, srv.URL())
				applied, _ = value(fams, "tickwire_hits_total", map[string]string{"room": server.DefaultRoom, "rewind": "applied"})
				none, _ = value(fams, "tickwire_hits_total", map[string]string{"room": server.DefaultRoom, "rewind": "none"})
			}

			h := histogramOf(t, scrape(t, srv.URL()), "tickwire_lag_compensation_rewind_seconds")
			n, sum := float64(h.GetSampleCount()), h.GetSampleSum()
			within := 0.0 // samples at or under the bound
			under := 0.0  // samples under the last bucket below the bound
			for _, b := range h.GetBucket() {
				if b.GetUpperBound() == game.MaxRewind.Seconds() {
					within = float64(b.GetCumulativeCount())
				}
				if b.GetUpperBound() < game.MaxRewind.Seconds() {
					under = float64(b.GetCumulativeCount())
				}
			}
			t.Logf("%v hits rewound, %v not; rewinds: %v, mean %.3f s", applied, none, n, sum/max(n, 1))
			if within != n {
				t.Fatalf("%v of %v rewinds beyond %v", n-within, n, game.MaxRewind)
			}
			switch {
			case tt.game.NoLagCompensation:
				if n != 0 || applied != 0 {
					t.Fatalf("compensation off, yet %v hits rewound", n)
				}
			case tt.lying:
				// Every hit, rewound by exactly the bound: more was claimed.
				if n < wantHits || none != 0 || under != 0 || math.Abs(sum-n*game.MaxRewind.Seconds()) > 1e-9 {
					t.Fatalf("%v rewinds summing to %v s (%v under the bound), %v hits not rewound; want each of %v", n, sum, under, none, game.MaxRewind)
				}
			default:
				if n < wantHits || none != 0 || sum >= n*game.MaxRewind.Seconds() {
					t.Fatalf("%v rewinds summing to %v s, %v hits not rewound", n, sum, none)
				}
			}
		})
	}
}
