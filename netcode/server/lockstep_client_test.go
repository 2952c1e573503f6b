package server

import (
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/tickwire/tickwire/netcode/client"
	"github.com/tickwire/tickwire/netcode/linksim"
)

// sim5 is the reference link: 150 ms RTT, ±30 ms of RTT jitter
// (±15 ms each way, uniform), 5 % loss both ways.
var sim5 = linksim.Config{Latency: 75 * time.Millisecond, Jitter: 15 * time.Millisecond, Loss: 0.05}

// simSeeds are the seeds of the strict simulated runs; TICKWIRE_MEASURE=1
// runs more.
func simSeeds(n int) []int64 {
	if os.Getenv("TICKWIRE_MEASURE") != "" {
		n *= 4
	}
	s := make([]int64, n)
	for i := range s {
		s[i] = int64(i + 1)
	}
	return s
}

// frameShares are the frames of the measurement window (after the
// warm-up, before inputs stop: without inputs a client acks nothing), and
// the share that extrapolated or held.
func frameShares(p *simClient) (frames int64, bad float64) {
	s := p.end
	frames = (s.FramesInterpolated + s.FramesExtrapolated + s.FramesHeld) -
		(p.base.FramesInterpolated + p.base.FramesExtrapolated + p.base.FramesHeld)
	n := (s.FramesExtrapolated + s.FramesHeld) - (p.base.FramesExtrapolated + p.base.FramesHeld)
	return frames, float64(n) / float64(max(frames, 1))
}

func logSim(t *testing.T, name string, seed int64, res *simResult) {
	t.Helper()
	for i, p := range res.clients {
		s := p.c.NetStats()
		frames, bad := frameShares(p)
		t.Logf("%s seed %d client %d: delay p50 %.1f p95 %.1f max %.1f ms; %d frames, %.3f%% extrapolated or held; render error %.4f over %d clean frames; corrections %d p50 %.2f max %.2f; K %d; loss down %.3f up %.3f; rtt %v jitter %v; input ack p50 %v p99 %v",
			name, seed, i, quantile(p.delays, 0.5), quantile(p.delays, 0.95), quantile(p.delays, 1),
			frames, 100*bad, p.maxRenderErr, p.cleanFrames,
			s.Corrections, s.CorrectionP50, s.CorrectionMax, s.Redundancy, s.LossDown, s.LossUp,
			s.RTT.Round(time.Millisecond), s.Jitter.Round(100*time.Microsecond),
			s.InputAckP50.Round(time.Millisecond), s.InputAckP99.Round(time.Millisecond))
	}
	st := res.roomStats
	t.Logf("%s seed %d server: inputs sent %d applied %d (late %d) duplicate copies %d dropped %d future %d", name, seed,
		res.sent, st.InputsApplied, st.InputsLate, st.InputsDuplicate, st.InputsDropped, st.InputsFuture)
}

// assertNoInputLost checks that the server applied every input every
// client sent, exactly once, the newest last.
func assertNoInputLost(t *testing.T, res *simResult) {
	t.Helper()
	st := res.roomStats
	if st.InputsApplied != uint64(res.sent) || st.InputsDropped != 0 || st.InputsFuture != 0 {
		t.Errorf("clients sent %d inputs; server applied %d, dropped %d, refused %d as too far ahead",
			res.sent, st.InputsApplied, st.InputsDropped, st.InputsFuture)
	}
	for i, p := range res.clients {
		if got, want := res.finalTicks[p.ss.entity], p.sent[len(p.sent)-1].Tick; got != want {
			t.Errorf("client %d: server's last applied input %d, last sent %d", i, got, want)
		}
	}
}

// TestSimReferenceLinkMeetsTheInterpolationAndInputTargets runs 60
// simulated seconds of four players over 150 ms RTT ±30 ms, 5 % loss
// both ways, at 30 Hz: the interpolation delay settles at 100 ms or less,
// under 1 % of frames extrapolate or hold, the server applies every
// input, remote players are drawn exactly where the server's history puts
// them at the render tick, and prediction corrections stay under a unit.
func TestSimReferenceLinkMeetsTheInterpolationAndInputTargets(t *testing.T) {
	for _, seed := range simSeeds(3) {
		res := runSim(t, simConfig{seed: seed, link: sim5, clients: 4, duration: 60 * time.Second, warmup: 10 * time.Second})
		logSim(t, "5% loss", seed, res)
		assertNoInputLost(t, res)
		for i, p := range res.clients {
			if d := quantile(p.delays, 0.5); d > 100 {
				t.Errorf("seed %d client %d: interpolation delay settled at %.1f ms, want <= 100", seed, i, d)
			}
			if frames, bad := frameShares(p); bad >= 0.01 || frames < 2500 {
				t.Errorf("seed %d client %d: %.2f%% of %d frames extrapolated or held, want < 1%%", seed, i, 100*bad, frames)
			}
			if p.cleanFrames < 1000 || p.maxRenderErr > 1.0/16 {
				t.Errorf("seed %d client %d: render error up to %v over %d frames between consecutive snapshots, want <= 1/16",
					seed, i, p.maxRenderErr, p.cleanFrames)
			}
			if s := p.c.NetStats(); s.CorrectionP50 >= 1 {
				t.Errorf("seed %d client %d: median correction %.2f units, want < 1", seed, i, s.CorrectionP50)
			}
		}
	}
}

// TestSimCleanLinkNeverMispredicts: over a link with latency and jitter
// but no loss, a minute of random inputs never needs a correction.
func TestSimCleanLinkNeverMispredicts(t *testing.T) {
	clean := linksim.Config{Latency: 75 * time.Millisecond, Jitter: 15 * time.Millisecond}
	for _, seed := range simSeeds(1) {
		res := runSim(t, simConfig{seed: seed, link: clean, clients: 4, duration: 60 * time.Second, warmup: 5 * time.Second})
		logSim(t, "clean", seed, res)
		assertNoInputLost(t, res)
		for i, p := range res.clients {
			if s := p.c.NetStats(); s.Corrections != 0 {
				t.Errorf("seed %d client %d: %d corrections (max %.2f units) on a clean link", seed, i, s.Corrections, s.CorrectionMax)
			}
		}
	}
}

// TestSimHeavyLossStaysPlayable: with 20 % loss both ways the session
// never goes silent long enough to time out, snapshots keep coming, and
// no correction exceeds one player radius; no input is lost either.
func TestSimHeavyLossStaysPlayable(t *testing.T) {
	lossy := sim5
	lossy.Loss = 0.20
	for _, seed := range simSeeds(1) {
		res := runSim(t, simConfig{seed: seed, link: lossy, clients: 4, duration: 60 * time.Second, warmup: 10 * time.Second})
		logSim(t, "20% loss", seed, res)
		assertNoInputLost(t, res)
		for i, p := range res.clients {
			s := p.c.NetStats()
			radius := p.c.Params().PlayerRadius
			if s.CorrectionMax > radius {
				t.Errorf("seed %d client %d: correction of %.2f units, want <= %v", seed, i, s.CorrectionMax, radius)
			}
			if p.maxSilence > 2*time.Second || p.maxSnapGap > time.Second {
				t.Errorf("seed %d client %d: server heard nothing for %v, client got no snapshot for %v", seed, i, p.maxSilence, p.maxSnapGap)
			}
			if _, bad := frameShares(p); bad > 0.05 {
				t.Errorf("seed %d client %d: %.2f%% of frames extrapolated or held", seed, i, 100*bad)
			}
			t.Logf("seed %d client %d: max silence %v, max snapshot gap %v", seed, i, p.maxSilence, p.maxSnapGap)
		}
	}
}

// TestSimIsDeterministic: the same seed gives the same run.
func TestSimIsDeterministic(t *testing.T) {
	run := func() (client.NetStats, int) {
		res := runSim(t, simConfig{seed: 7, link: sim5, clients: 2, duration: 10 * time.Second, warmup: 2 * time.Second})
		return res.clients[0].c.NetStats(), res.sent
	}
	a, na := run()
	b, nb := run()
	if a != b || na != nb {
		t.Errorf("two runs with one seed differ:\n%+v (%d inputs)\n%+v (%d inputs)", a, na, b, nb)
	}
}

// TestSimDuplicatedAndReorderedPacketsApplyEachInputExactlyOnce: with 5 %
// of datagrams duplicated and 5 % reordered on top of the reference link,
// the server still applies every input once (the copies are dropped as
// duplicates) and prediction never mispredicts.
func TestSimDuplicatedAndReorderedPacketsApplyEachInputExactlyOnce(t *testing.T) {
	link := sim5
	link.Duplicate, link.Reorder = 0.05, 0.05
	res := runSim(t, simConfig{seed: 11, link: link, clients: 3, duration: 20 * time.Second, warmup: 5 * time.Second})
	logSim(t, "dup+reorder", 11, res)
	assertNoInputLost(t, res)
	if res.roomStats.InputsDuplicate == 0 {
		t.Error("no duplicate copy reached the server")
	}
	for i, p := range res.clients {
		if s := p.c.NetStats(); s.Corrections != 0 {
			t.Errorf("client %d: %d corrections", i, s.Corrections)
		}
	}
}

// TestSimOtherTickRatesKeepTheTargets: the server also runs at 20 and
// 60 Hz; nothing in the client assumes 30.
func TestSimOtherTickRatesKeepTheTargets(t *testing.T) {
	for _, rate := range []int{20, 60} {
		res := runSim(t, simConfig{seed: 5, link: sim5, clients: 3, duration: 30 * time.Second, warmup: 10 * time.Second, tickRate: rate})
		logSim(t, fmt.Sprintf("%d Hz", rate), 5, res)
		assertNoInputLost(t, res)
		for i, p := range res.clients {
			if _, bad := frameShares(p); bad >= 0.01 {
				t.Errorf("%d Hz client %d: %.2f%% of frames extrapolated or held", rate, i, 100*bad)
			}
			if s := p.c.NetStats(); s.Corrections != 0 {
				t.Errorf("%d Hz client %d: %d corrections", rate, i, s.Corrections)
			}
		}
	}
}

// TestSimCleanLinkAtEveryTickRate: over a link with latency but no
// jitter or loss, at 20, 30 and 60 Hz, the interpolation delay settles
// near one tick, inputs are acknowledged a little over a round trip after
// they are sent, almost none is late, and nothing mispredicts. The
// simulated client produces inputs at 60 frames a second, as the game
// does: an input waits up to a frame for its frame, and the lead covers
// that spread (bots, which send at the input clock's time, need less).
func TestSimCleanLinkAtEveryTickRate(t *testing.T) {
	const rtt = 40 * time.Millisecond
	clean := linksim.Config{Latency: rtt / 2}
	for _, rate := range []int{20, 30, 60} {
		res := runSim(t, simConfig{seed: 3, link: clean, clients: 3, duration: 30 * time.Second, warmup: 10 * time.Second, tickRate: rate})
		logSim(t, fmt.Sprintf("clean %d Hz", rate), 3, res)
		assertNoInputLost(t, res)
		tick := float64(time.Second/time.Duration(rate)) / 1e6
		for i, p := range res.clients {
			s := p.c.NetStats()
			if d := quantile(p.delays, 0.5); d > tick+10 {
				t.Errorf("%d Hz client %d: interpolation delay %.1f ms, want one tick (%.1f ms) plus at most 10", rate, i, d, tick)
			}
			if s.InputAckP50 > rtt+35*time.Millisecond || s.Corrections != 0 {
				t.Errorf("%d Hz client %d: input ack p50 %v over a %v round trip, %d corrections", rate, i, s.InputAckP50, rtt, s.Corrections)
			}
		}
		if st := res.roomStats; float64(st.InputsLate) > 0.03*float64(st.InputsApplied) {
			t.Errorf("%d Hz: %d of %d inputs late on a clean link", rate, st.InputsLate, st.InputsApplied)
		}
	}
}

// TestSimShotsAreSeenAtOnceAndHitWhatTheShooterSaw runs the issue's
// long-distance case: 30 benchmark bots (docs/GAME.md) over 150 ms RTT
// ±15 ms each way with 5 % loss both ways, 30 s, with lag compensation
// and without; then 12 shooters who aim at the nearest player they draw
// and fire whenever they can. Every shot a client predicts is drawn in
// the frame of its fire press; 100 ms after the server's copy took over,
// a shot is drawn where the server has it (closer than the projectile
// radius); every input is applied once; corrections stay under 0.05 per
// client-second and frames that extrapolate or hold under 0.5 %. With
// lag compensation at least 95 % of the hits the bots saw are the
// server's hits too. The log gives the agreement without compensation,
// and for the shooters, whose targets often die to another shot before
// the server judges the hit (docs/CLIENT_NETCODE.md).
func TestSimShotsAreSeenAtOnceAndHitWhatTheShooterSaw(t *testing.T) {
	for _, tc := range []struct {
		name      string
		clients   int
		shooters  bool
		noLagComp bool
		agreement float64 // the least required; 0: only logged
	}{
		{"bots", 30, false, false, 0.95},
		{"bots without lag compensation", 30, false, true, 0},
		{"shooters", 12, true, false, 0},
		{"shooters without lag compensation", 12, true, true, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if testing.Short() && tc.agreement == 0 {
				t.Skip("a comparison for the log")
			}
			const d, warm = 30 * time.Second, 5 * time.Second
			res := runSim(t, simConfig{seed: 5, link: sim5, clients: tc.clients, duration: d, warmup: warm,
				shooters: tc.shooters, noLagComp: tc.noLagComp})
			assertNoInputLost(t, res)
			var sum client.ShotStats
			var corrections int64
			for i, p := range res.clients {
				sum = sum.Add(p.c.NetStats().Shots)
				corrections += p.end.Corrections - p.base.Corrections
				if p.shotAtPress != p.shotPresses {
					t.Errorf("client %d: %d of %d fire presses that predicted a shot drew it in the next frame", i, p.shotAtPress, p.shotPresses)
				}
				if p.shotErrMax >= p.c.Params().ProjectileRadius {
					t.Errorf("client %d: own shots drawn up to %.2f from the server's 100 ms after it arrived (%d draws), want < %.0f",
						i, p.shotErrMax, p.shotFrames, p.c.Params().ProjectileRadius)
				}
				if frames, bad := frameShares(p); bad >= 0.005 {
					t.Errorf("client %d: %.2f%% of %d frames extrapolated or held, want < 0.5%%", i, 100*bad, frames)
				}
			}
			agreement := float64(sum.HitsConfirmed) / float64(max(sum.HitsSeen, 1))
			perClientSec := float64(corrections) / (float64(tc.clients) * (d - warm).Seconds())
			t.Logf("%s: %d clients, %v: shots predicted %d, confirmed %d, never fired %d, server-only %d; hits seen %d, confirmed %d (agreement %.1f%%), server-only %d, seen on shots never fired %d; corrections %.3f per client-second",
				tc.name, tc.clients, d, sum.Predicted, sum.Confirmed, sum.Unconfirmed, sum.ServerOnly,
				sum.HitsSeen, sum.HitsConfirmed, 100*agreement, sum.HitsServerOnly, sum.HitsSeenNotFired, perClientSec)
			if perClientSec > 0.05 {
				t.Errorf("%.3f corrections per client-second, want <= 0.05", perClientSec)
			}
			if sum.Predicted < 100 || sum.HitsSeen < 50 {
				t.Fatalf("%d shots predicted, %d hits seen: too few to judge", sum.Predicted, sum.HitsSeen)
			}
			if agreement < tc.agreement {
				t.Errorf("hit agreement %.1f%%, want >= %.0f%%", 100*agreement, 100*tc.agreement)
			}
		})
	}
}
