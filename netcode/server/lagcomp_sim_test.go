package server

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/tickwire/tickwire/game"
	"github.com/tickwire/tickwire/netcode/linksim"
)

// TestSimViewLagIsTheRoundTripPlusLeadPlusDelay: over simulated links of
// 50, 150 and 250 ms RTT, the view lag the clients' shots claim is what
// lag compensation must undo: the round trip (the input travels half of
// it, the snapshot the client draws from the other half), the input's
// lead at the server and the interpolation delay. Its log tells what
// share of shots game.MaxRewind covers in full (docs/CLIENT_NETCODE.md,
// "Lag compensation").
func TestSimViewLagIsTheRoundTripPlusLeadPlusDelay(t *testing.T) {
	for _, rtt := range []time.Duration{50 * time.Millisecond, 150 * time.Millisecond, 250 * time.Millisecond} {
		t.Run(fmt.Sprint(rtt), func(t *testing.T) {
			link := linksim.Config{Latency: rtt / 2, Jitter: rtt / 10, Loss: 0.01}
			res := runSim(t, simConfig{seed: 9, link: link, clients: 2, duration: 20 * time.Second, warmup: 8 * time.Second})
			tickMs := 1000.0 / 30
			for i, p := range res.clients {
				var lags []float64 // ms
				for _, in := range p.sent[len(p.sent)/2:] {
					if in.Fire {
						lags = append(lags, float64(in.ViewLag)/game.ViewLagScale*tickMs)
					}
				}
				if len(lags) < 50 {
					t.Fatalf("client %d: %d shots", i, len(lags))
				}
				slices.Sort(lags)
				covered := 0
				for _, l := range lags {
					if l <= float64(game.MaxRewind.Milliseconds()) {
						covered++
					}
				}
				s := p.end
				delay := quantile(p.delays, 0.5)
				lag := quantile(lags, 0.5)
				t.Logf("RTT %v client %d: view lag p50 %.0f ms (p5 %.0f, p95 %.0f); srtt %v, interpolation delay p50 %.0f ms; %.0f%% of shots within %v",
					rtt, i, lag, quantile(lags, 0.05), quantile(lags, 0.95), s.RTT.Round(time.Millisecond), delay,
					100*float64(covered)/float64(len(lags)), game.MaxRewind)
				// The lead is a tick and a margin, which the input clock's
				// steering sets (clocksync.go): this only asks that it be
				// there and sane.
				if lo, hi := float64(s.RTT.Milliseconds())+delay, float64(s.RTT.Milliseconds())+delay+150; lag < lo || lag > hi {
					t.Errorf("client %d: view lag p50 %.0f ms, want RTT + delay + lead in [%.0f, %.0f]", i, lag, lo, hi)
				}
			}
		})
	}
}
