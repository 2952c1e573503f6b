package client

import (
	"math"
	"time"
)

// Clock sync tuning.
const (
	// arrivalGain is the weight of one snapshot arrival in the arrival
	// clock's offset (an EWMA over about 16 snapshots).
	arrivalGain = 1.0 / 16
	// maxDilation bounds how much faster or slower than the server the
	// input clock runs while it converges: ±5 %.
	maxDilation = 0.05
	// dilationHorizon is the time over which a lead error is corrected:
	// the input clock's rate changes by error/dilationHorizon. Too little
	// lead is corrected faster (raiseHorizon): late inputs cost a
	// misprediction, an early one only a few ms of latency.
	dilationHorizon = 1500 * time.Millisecond
	raiseHorizon    = 400 * time.Millisecond
	// scheduleMargin is the lead kept on a link without jitter: what the
	// timers of both ends add (a tick's wake-up, a send's wake-up).
	scheduleMargin = 2 * time.Millisecond
	// lateBudget is the share of inputs allowed to reach the server
	// after their tick (1 %: 99 % on time). A late input is not lost (the
	// room applies it a tick later, the client skips a tick number to
	// drain it, prediction stays exact); it costs that input a tick.
	lateBudget = 0.01
	// madToSigma turns a mean absolute deviation into the standard
	// deviation of a normal spread.
	madToSigma = 1.25
	// jitterToSigma turns the snapshots' interarrival jitter, the spread
	// used until the server reports the lead's, into a standard
	// deviation: twice the jitter was the 99 % margin.
	jitterToSigma = 2 / 2.33
	// resendLoss is the measured loss above which input packets are sent
	// twice (Client.InputsDue).
	resendLoss = 0.001
	// leadDevFall is the weight of a lower deviation report: the margin
	// grows at once with the jitter and falls back over about 32 reports.
	leadDevFall = 1.0 / 32
	// clockJump is the error beyond which a clock jumps instead of
	// slewing (a server pause, a stall of the client).
	clockJump = 250 * time.Millisecond
	// maxInputBacklog is how many ticks of input a caller may still send
	// after falling behind the input clock; older ticks are skipped.
	maxInputBacklog = 3
	// firstLeadDevMax bounds the lead's spread assumed before the server
	// reports it: a handshake that stalled (an RTT sample of 600 ms on a
	// 1 ms link) must not send the first inputs half a second early for
	// the many seconds the dilation takes to undo it.
	firstLeadDevMax = 50 * time.Millisecond
	// leadStale is how long without the server applying a new input
	// before its lead reports no longer steer alone and the arrival
	// clock may move the input clock.
	leadStale = time.Second
)

// clockSync keeps the client's view of the server's clock and runs the
// client's input clock. All times are passed in (now), so tests drive it
// on simulated time. Not safe for concurrent use; the Client locks.
//
// Two clocks, both in server ticks:
//
//   - The arrival clock A(now): the tick of the snapshot that arrives
//     around now, i.e. the server's clock delayed by the one-way latency.
//     It is an EWMA of (tick - now·rate) over snapshot arrivals. Remote
//     entities are rendered an interpolation delay behind it.
//   - The input clock I(now): the tick an input produced now is stamped
//     with. It should run ahead of the server by half an RTT plus a small
//     margin, so that inputs arrive just before their tick. The server
//     reports how early they arrive before their tick is due, and how much
//     that jitters (SnapshotHeader.InputLeadMs, InputLeadDevMs); the
//     client steers toward a target lead (targetLead) by running its input
//     clock up to ±5 % faster or slower (time dilation), and jumps only
//     when the error exceeds 250 ms.
type clockSync struct {
	rate     float64 // ticks per second
	interval time.Duration
	epoch    time.Time

	hasArrival bool
	arrOffset  float64 // A(now) = arrOffset + seconds(now-epoch)·rate

	srtt, rttvar time.Duration
	hasRTT       bool

	// Interarrival jitter of snapshots (RFC 3550), in seconds.
	jitter      float64
	lastArrTick uint32
	lastArrAt   time.Time

	// Input clock: I(now) = inBase + seconds(now-inAt)·rate·(1+dilation).
	hasInput bool
	inBase   float64
	inAt     time.Time
	dilation float64
	lastSent uint32
	holdoff  time.Time // lead reports before this predate the last jump
	leadAt   time.Time // when the server last applied a new input (its lead report is fresh)

	loss float64 // measured packet loss, set by the Client

	// leadDev is the server's measure of how much this client's input
	// lead jitters (seconds), risen at once and fallen slowly.
	leadDev    float64
	hasLeadDev bool
	// leadFor caches targetLead's bisection for the inputs it last had.
	leadFor leadInputs
	lead    time.Duration
	// skipHoldoff: backlog reports before this predate the last skip.
	skipHoldoff time.Time
}

func (c *clockSync) init(tickRate int, serverTick uint32, now time.Time, rtt time.Duration) {
	c.rate = float64(tickRate)
	c.interval = time.Second / time.Duration(tickRate)
	c.epoch = now
	c.observeRTT(rtt)
	// Until the server has measured how this client's lead spreads, take
	// the handshake's round trip as TCP takes its first sample: varying
	// by half of itself (rttvar), split between the two directions, at
	// most firstLeadDevMax. On a 150 ms link the first inputs then go
	// about 150 ms early instead of 2 ms; the lead falls to what the
	// server measures within seconds (observeLeadDev, then the input
	// clock's dilation). Starting low, the first inputs over a stalling
	// link (TCP's retransmissions) came more than a quarter second late
	// and the server dropped them: the player's first second had
	// corrections.
	c.leadDev = min(c.rttvar.Seconds()/math.Sqrt2, firstLeadDevMax.Seconds())
	c.hasLeadDev = true
	c.hasArrival = true
	c.arrOffset = float64(serverTick)
	c.resetInput(now)
}

func (c *clockSync) secs(now time.Time) float64 { return now.Sub(c.epoch).Seconds() }

// arrival is A(now), in ticks.
func (c *clockSync) arrival(now time.Time) float64 {
	return c.arrOffset + c.secs(now)*c.rate
}

// serverTick estimates the tick the server is computing at now: the
// arrival clock plus half an RTT.
func (c *clockSync) serverTick(now time.Time) float64 {
	return c.arrival(now) + c.srtt.Seconds()/2*c.rate
}

// observeSnapshot folds one in-order snapshot arrival into the arrival
// clock and the jitter estimate.
func (c *clockSync) observeSnapshot(tick uint32, now time.Time) {
	sample := float64(tick) - c.secs(now)*c.rate
	d := sample - c.arrOffset
	if !c.hasArrival || math.Abs(d) > clockJump.Seconds()*c.rate {
		c.arrOffset = sample
		c.hasArrival = true
	} else {
		c.arrOffset += d * arrivalGain
	}
	if !c.lastArrAt.IsZero() && tick > c.lastArrTick {
		transit := now.Sub(c.lastArrAt).Seconds() - float64(tick-c.lastArrTick)/c.rate
		c.jitter += (math.Abs(transit) - c.jitter) / 16
	}
	c.lastArrTick, c.lastArrAt = tick, now
	// The input clock free-runs between lead reports; when the server's
	// ticks drift from real time (an overloaded server skips ticks) or no
	// report can come (inputs refused as too far ahead), the arrival clock
	// still tells where the server is. Too far from that, jump. Only
	// then: while fresh reports come, they are the truth, and the
	// estimate leans on the smoothed RTT, which a stall of the client's
	// reader inflates for many seconds (its pongs wait behind a backlog).
	// Jumping to it then fights the lead steering, and inputs arrive
	// hundreds of ms early until the RTT decays.
	if c.hasInput && now.Sub(c.leadAt) > leadStale {
		est := c.inputEstimate(now)
		if math.Abs(c.inputTick(now)-est) > clockJump.Seconds()*c.rate {
			c.inBase, c.inAt, c.dilation = est, now, 0
			c.holdoff = now.Add(c.srtt + 500*time.Millisecond)
		}
	}
}

// observeRTT folds one round-trip sample in, as TCP does (RFC 6298).
func (c *clockSync) observeRTT(sample time.Duration) {
	if sample <= 0 || sample > time.Minute {
		return
	}
	if !c.hasRTT {
		c.srtt, c.rttvar, c.hasRTT = sample, sample/2, true
		return
	}
	dev := c.srtt - sample
	if dev < 0 {
		dev = -dev
	}
	c.rttvar += (dev - c.rttvar) / 4
	c.srtt += (sample - c.srtt) / 8
}

// targetLead is how early inputs should reach the server before their
// tick is due: the least lead that has an input arrive on time with
// probability 1-lateBudget (leadLateShare), at the spread of the lead the
// server measures (or, until it has reported one, of the snapshots'
// interarrival jitter) and the measured loss, plus the scheduling margin.
func (c *clockSync) targetLead() time.Duration {
	sigma := jitterToSigma * c.jitter
	if c.hasLeadDev {
		sigma = madToSigma * c.leadDev
	}
	spacing := c.interval // the next input packet carries it again
	if c.lossy() {
		spacing = c.interval / 2 // the packet goes again half a tick later
	}
	// Called per input and per snapshot, and the spread moves a little
	// with every report: the answer is kept until the spread or the loss
	// moves by more than leadQuantum (a 0.1 ms change of σ moves the lead
	// by 0.25 ms at most). Recomputed per report, the bisection was 2 % of
	// a bot swarm's CPU.
	in := leadInputs{quantize(sigma), quantize(c.loss), spacing}
	if in == c.leadFor && c.lead != 0 {
		return c.lead
	}
	sigma = in.sigma
	// Bisect: the late share only falls as the lead grows. The answer is
	// at most a copy per loss in a row worth counting, plus 4σ.
	lo, hi := 0.0, 4*sigma+float64(maxCopies)*spacing.Seconds()
	for range 24 {
		mid := (lo + hi) / 2
		if leadLateShare(mid, sigma, in.loss, spacing.Seconds()) > lateBudget {
			lo = mid
		} else {
			hi = mid
		}
	}
	c.leadFor, c.lead = in, scheduleMargin+time.Duration(hi*float64(time.Second))
	return c.lead
}

// leadQuantum is the step to which targetLead rounds the spread (in
// seconds: 0.1 ms) and the loss (a share: 0.01 %) before it computes.
const leadQuantum = 1e-4

// quantize rounds x to the nearest leadQuantum.
func quantize(x float64) float64 { return math.Round(x/leadQuantum) * leadQuantum }

// leadInputs are what targetLead's answer depends on.
type leadInputs struct {
	sigma, loss float64
	spacing     time.Duration
}

// maxCopies bounds the copies of an input that leadLateShare counts: the
// first packet that carries it and the ones after it, spacing apart.
const maxCopies = 8

// leadLateShare is the share of inputs that reach the server after their
// tick when they are sent lead seconds early: an input's first copy is
// lost with probability loss, and each later copy (spacing seconds
// later: the half-tick resend on a lossy link, else the next packet's
// redundancy) likewise; a copy that arrives is late when the lead's
// normal spread (sigma) is less than its delay. A late copy is as bad
// as a lost one.
func leadLateShare(lead, sigma, loss, spacing float64) float64 {
	loss = min(max(loss, 0), 0.5)
	late, reach := 0.0, 1.0 // reach: probability that every earlier copy was lost
	for j := range maxCopies {
		slack := lead - float64(j)*spacing
		late += reach * (1 - loss) * normalTail(slack, sigma)
		reach *= loss
	}
	return late + reach
}

// normalTail is P(X > slack) for X normal with mean 0 and deviation sigma.
func normalTail(slack, sigma float64) float64 {
	if sigma <= 0 {
		if slack >= 0 {
			return 0
		}
		return 1
	}
	return 0.5 * math.Erfc(slack/(sigma*math.Sqrt2))
}

// lossy reports whether the link loses enough packets that input
// packets are sent twice, half a tick apart.
func (c *clockSync) lossy() bool { return c.loss > resendLoss }

// observeBacklog leaves backlog tick numbers without input when the
// server reports that many of this client's inputs queued after their
// tick: it applies one input a tick, so they delay every later input
// until a tick passes without one. The next input is stamped backlog
// ticks later (the input clock itself does not move); the server drains
// the backlog meanwhile. Reports within a round trip of a skip describe
// the backlog before it and are ignored.
func (c *clockSync) observeBacklog(backlog uint32, now time.Time) {
	if backlog == 0 || c.lastSent == 0 || now.Before(c.skipHoldoff) {
		return
	}
	c.lastSent += min(backlog, maxSkip)
	c.skipHoldoff = now.Add(c.srtt + 2*c.interval)
}

// maxSkip bounds the tick numbers one backlog report skips.
const maxSkip = 8

// observeLeadDev folds the server's report of the lead's deviation in.
func (c *clockSync) observeLeadDev(devMs uint32) {
	d := float64(devMs) / 1000
	switch {
	case !c.hasLeadDev || d > c.leadDev:
		c.leadDev, c.hasLeadDev = d, true
	default:
		c.leadDev += (d - c.leadDev) * leadDevFall
	}
}

// inputTick is I(now), fractional.
func (c *clockSync) inputTick(now time.Time) float64 {
	return c.inBase + now.Sub(c.inAt).Seconds()*c.rate*(1+c.dilation)
}

// inputEstimate is where the input clock should be by the estimate of the
// server's clock: half an RTT ahead of it, plus the target lead.
func (c *clockSync) inputEstimate(now time.Time) float64 {
	return c.serverTick(now) + (c.srtt.Seconds()/2+c.targetLead().Seconds())*c.rate
}

// resetInput sets the input clock to inputEstimate.
func (c *clockSync) resetInput(now time.Time) {
	c.inBase = c.inputEstimate(now)
	c.inAt = now
	c.dilation = 0
	c.hasInput = true
}

// observeLead steers the input clock from the server's report of how
// early this client's inputs arrive.
func (c *clockSync) observeLead(leadMs int32, now time.Time) {
	if !c.hasInput || now.Before(c.holdoff) {
		return
	}
	errSec := c.targetLead().Seconds() - float64(leadMs)/1000
	c.inBase, c.inAt = c.inputTick(now), now
	if math.Abs(errSec) > clockJump.Seconds() {
		c.inBase += errSec * c.rate
		c.dilation = 0
		// The next reports still describe inputs sent before the jump.
		c.holdoff = now.Add(c.srtt + 500*time.Millisecond)
		return
	}
	horizon := dilationHorizon
	if errSec > 0 {
		horizon = raiseHorizon
	}
	c.dilation = max(-maxDilation, min(maxDilation, errSec/horizon.Seconds()))
}

// inputsDue is how many inputs should be sent at now to keep up with the
// input clock.
func (c *clockSync) inputsDue(now time.Time) int {
	if !c.hasInput {
		return 0
	}
	cur := int64(math.Floor(c.inputTick(now)))
	if c.lastSent == 0 {
		return 1
	}
	return int(max(0, min(cur-int64(c.lastSent), maxInputBacklog)))
}

// nextInputAt is the earliest time at or after now at which inputsDue
// will be positive, if the input clock keeps its current rate (a lead
// report may move it a little either way: callers re-check then).
func (c *clockSync) nextInputAt(now time.Time) time.Time {
	if !c.hasInput || c.lastSent == 0 {
		return now
	}
	ahead := float64(c.lastSent+1) - c.inputTick(now) // ticks still to go
	if ahead <= 0 {
		return now
	}
	return now.Add(time.Duration(ahead / (c.rate * (1 + c.dilation)) * float64(time.Second)))
}

// stampInput returns the tick for the next input sent at now: the one
// after the last, unless the caller fell more than maxInputBacklog ticks
// behind the input clock, in which case the ticks in between are skipped
// (they would arrive too late to matter).
func (c *clockSync) stampInput(now time.Time) uint32 {
	cur := int64(math.Floor(c.inputTick(now)))
	next := int64(c.lastSent) + 1
	switch {
	case c.lastSent == 0:
		next = max(cur, 1)
	case next < cur-maxInputBacklog+1:
		next = cur - maxInputBacklog + 1
	}
	c.lastSent = uint32(next)
	return c.lastSent
}
