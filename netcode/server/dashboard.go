package server

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/tickwire/tickwire/game"
	"github.com/tickwire/tickwire/netcode/server/dashboard"
	"github.com/tickwire/tickwire/netcode/transport"
)

// The live view's sampler: once a second one goroutine reads what the
// server measures anyway (the rooms' tick-duration histograms and the
// transport counters of /metrics, the rooms' state), builds one
// dashboard.Event and publishes it; package dashboard serves the page,
// the stream and the recent disconnects. Nothing here runs on a room's
// tick.

// startDashboard runs the sampler until the returned stop is called;
// stop ends the viewers' streams too and waits for the sampler.
func (s *Server) startDashboard() (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); s.sampleDashboard(ctx, s.clock) }()
	return func() {
		cancel()
		<-done
		s.dash.Close()
	}
}

// dashSampler is the sampling goroutine's state.
type dashSampler struct {
	win      tickWindow
	dm       dto.Metric
	perRoom  map[*room]roomSecond
	last     transportTotals
	lastTime time.Time
}

func (s *Server) sampleDashboard(ctx context.Context, clock game.Clock) {
	t := clock.NewTicker(time.Second)
	defer t.Stop()
	smp := &dashSampler{perRoom: make(map[*room]roomSecond), lastTime: clock.Now()}
	smp.last = readTransports(s.metrics.transports, &smp.dm)
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C():
			if err := s.dash.Publish(s.dashEvent(now, smp)); err != nil {
				s.log.Error("dashboard", "err", err)
			}
		}
	}
}

// dashEvent builds one event: the rooms, the transports' gauges and byte
// rates since the last sample, the tick window moved on by a second.
func (s *Server) dashEvent(now time.Time, smp *dashSampler) *dashboard.Event {
	rooms := s.roomList()
	clear(smp.perRoom)
	smp.win.sample(rooms, smp.perRoom)
	tr := readTransports(s.metrics.transports, &smp.dm)
	ev := &dashboard.Event{
		Time:         now,
		Process:      s.ProcessID,
		Region:       s.Region,
		Draining:     s.draining.Load(),
		UptimeS:      float64(time.Since(s.epoch).Round(time.Second) / time.Second),
		Reconnecting: s.resume.len(),
		Rooms:        make([]dashboard.Room, 0, len(rooms)),
		Sessions:     tr.sessions,
		Tick:         smp.win.ticks(),
	}
	if dt := now.Sub(smp.lastTime).Seconds(); dt > 0 {
		ev.BytesInPerS = max(tr.in-smp.last.in, 0) / dt
		ev.BytesOutPerS = max(tr.out-smp.last.out, 0) / dt
	}
	smp.last, smp.lastTime = tr, now
	for _, r := range rooms {
		q := smp.perRoom[r]
		dr := dashboard.Room{RoomState: r.info(), Playing: r.players(), TickP50Ms: ms(q.p50), TickP99Ms: ms(q.p99),
			MissedTicks: r.game.Stats().MissedTicks}
		ev.Players += dr.Playing
		ev.Rooms = append(ev.Rooms, dr)
	}
	return ev
}

// tickWindow turns the rooms' cumulative tick-duration histograms (the
// Prometheus histograms /metrics serves) into quantiles of each second
// and of the last minute. The rooms observe into those histograms as
// they always do; reading them once a second is the whole cost. Owned by
// the sampling goroutine.
type tickWindow struct {
	bounds []float64                  // upper bounds of the finite buckets, seconds
	prev   map[*room]*roomTicks       // each room's counts at the last sample
	secs   [dashboard.Window][]uint64 // cumulative counts of each second, every room; a ring
	p50    [dashboard.Window]float64  // seconds; aligned with secs
	p99    [dashboard.Window]float64
	head   int // next slot of the ring
	filled int
	gen    uint64
	cur    []uint64 // scratch: this second's counts, every room
	sum    []uint64 // scratch: the minute's
	dm     dto.Metric
}

type roomTicks struct {
	counts []uint64 // cumulative, per bucket, +Inf last
	delta  []uint64 // scratch: this second's
	gen    uint64   // last sample that saw the room
}

// roomSecond is what a room's tick took in the last second.
type roomSecond struct {
	p50, p99 float64 // seconds
}

// sample reads every room's histogram and moves the window on by one
// second; it returns each room's quantiles of that second.
func (w *tickWindow) sample(rooms []*room, out map[*room]roomSecond) {
	w.gen++
	if w.prev == nil {
		w.prev = make(map[*room]*roomTicks)
	}
	clear(w.cur)
	for _, r := range rooms {
		m, ok := r.tickObs.(prometheus.Metric)
		if !ok {
			continue
		}
		w.dm.Reset()
		if err := m.Write(&w.dm); err != nil || w.dm.GetHistogram() == nil {
			continue
		}
		h := w.dm.GetHistogram()
		if w.bounds == nil {
			w.init(h)
		}
		if len(h.GetBucket()) != len(w.bounds) {
			continue // not the layout of the others: cannot be merged
		}
		rt := w.prev[r]
		if rt == nil {
			rt = &roomTicks{counts: make([]uint64, len(w.bounds)+1), delta: make([]uint64, len(w.bounds)+1)}
			w.prev[r] = rt
		}
		rt.gen = w.gen
		for i, b := range h.GetBucket() {
			rt.delta[i] = since(b.GetCumulativeCount(), rt.counts[i])
			rt.counts[i] = b.GetCumulativeCount()
		}
		n := len(w.bounds)
		rt.delta[n] = since(h.GetSampleCount(), rt.counts[n])
		rt.counts[n] = h.GetSampleCount()
		for i, d := range rt.delta {
			w.cur[i] += d
		}
		out[r] = roomSecond{dashboard.Quantile(0.5, rt.delta, w.bounds), dashboard.Quantile(0.99, rt.delta, w.bounds)}
	}
	for r, rt := range w.prev {
		if rt.gen != w.gen { // closed
			delete(w.prev, r)
		}
	}
	if w.bounds == nil {
		return
	}
	copy(w.secs[w.head], w.cur)
	w.p50[w.head] = dashboard.Quantile(0.5, w.cur, w.bounds)
	w.p99[w.head] = dashboard.Quantile(0.99, w.cur, w.bounds)
	w.head = (w.head + 1) % dashboard.Window
	w.filled = min(w.filled+1, dashboard.Window)
}

func (w *tickWindow) init(h *dto.Histogram) {
	for _, b := range h.GetBucket() {
		w.bounds = append(w.bounds, b.GetUpperBound())
	}
	n := len(w.bounds) + 1
	for i := range w.secs {
		w.secs[i] = make([]uint64, n)
	}
	w.cur = make([]uint64, n)
	w.sum = make([]uint64, n)
}

// since is now-before for a counter that only a reset (a room's
// histogram deleted and made anew) can take back.
func since(now, before uint64) uint64 {
	if now < before {
		return now
	}
	return now - before
}

// ticks is the window as the event carries it, in milliseconds.
func (w *tickWindow) ticks() dashboard.Ticks {
	t := dashboard.Ticks{P50Ms: make([]float64, 0, w.filled), P99Ms: make([]float64, 0, w.filled)}
	clear(w.sum)
	for i := range w.filled {
		k := (w.head - w.filled + i + dashboard.Window) % dashboard.Window
		t.P50Ms = append(t.P50Ms, ms(w.p50[k]))
		t.P99Ms = append(t.P99Ms, ms(w.p99[k]))
		for j, c := range w.secs[k] {
			w.sum[j] += c
		}
	}
	if w.bounds != nil {
		t.MinuteP50Ms = ms(dashboard.Quantile(0.5, w.sum, w.bounds))
		t.MinuteP99Ms = ms(dashboard.Quantile(0.99, w.sum, w.bounds))
	}
	return t
}

// ms rounds seconds to microseconds and says them in milliseconds.
func ms(s float64) float64 { return float64(int64(s*1e6+0.5)) / 1e3 }

// transportTotals reads the sessions gauge and the byte counters of each
// transport, as /metrics serves them.
type transportTotals struct {
	sessions map[string]int
	in, out  float64
}

func readTransports(m map[transport.Kind]*transportMetrics, dm *dto.Metric) transportTotals {
	t := transportTotals{sessions: make(map[string]int, len(m))}
	for k, tm := range m {
		t.sessions[string(k)] = int(metricValue(tm.sessions, dm))
		t.in += metricValue(tm.bytesIn, dm)
		t.out += metricValue(tm.bytesOut, dm)
	}
	return t
}

// metricValue is a counter's or a gauge's value (0 for anything else).
func metricValue(c prometheus.Collector, dm *dto.Metric) float64 {
	m, ok := c.(prometheus.Metric)
	if !ok {
		return 0
	}
	dm.Reset()
	if m.Write(dm) != nil {
		return 0
	}
	switch {
	case dm.Counter != nil:
		return dm.Counter.GetValue()
	case dm.Gauge != nil:
		return dm.Gauge.GetValue()
	}
	return 0
}
