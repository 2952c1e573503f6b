package server

import (
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/tickwire/tickwire/netcode/lobby"
	"github.com/tickwire/tickwire/netcode/transport"
	pb "github.com/tickwire/tickwire/proto/tickwire/v1"
)

// The dashboard's data: once a second one goroutine (dashboard.run)
// reads what the server measures anyway (the rooms' tick-duration
// histograms and the transport counters of /metrics, the rooms' state,
// the recent disconnects), encodes one event and hands the same bytes to
// every viewer (eventFeed). Nothing here runs on a room's tick.

// dashEvent is one event of /dashboard/events (JSON).
type dashEvent struct {
	Time     time.Time `json:"time"`
	Process  string    `json:"process"`
	Region   string    `json:"region,omitempty"`
	Draining bool      `json:"draining"`
	UptimeS  float64   `json:"uptime_s"`
	// Players are the sessions playing now, in every room; Reconnecting
	// the players parked for their resume.
	Players      int        `json:"players"`
	Reconnecting int        `json:"reconnecting"`
	Rooms        []dashRoom `json:"rooms"`
	// Sessions counts sessions by transport ("webtransport", "websocket").
	Sessions map[string]int `json:"sessions"`
	// BytesInPerS and BytesOutPerS are packet bytes over the last
	// second, every transport.
	BytesInPerS  float64          `json:"bytes_in_per_s"`
	BytesOutPerS float64          `json:"bytes_out_per_s"`
	Tick         dashTicks        `json:"tick"`
	Disconnects  []dashDisconnect `json:"disconnects"`
}

// dashRoom is one room: what the lobby says of it (its seats taken as
// "players", capacity, tick rate; whatever a room comes to report there
// shows up here too) and what it did in the last second.
type dashRoom struct {
	lobby.RoomState
	Playing     int     `json:"playing"` // sessions connected
	TickP50Ms   float64 `json:"tick_p50_ms"`
	TickP99Ms   float64 `json:"tick_p99_ms"`
	MissedTicks uint64  `json:"missed_ticks"`
}

// dashTicks are the tick durations of every room: p50 and p99 of each
// second of the last minute, oldest first, and of the minute as a whole.
type dashTicks struct {
	P50Ms       []float64 `json:"p50_ms"`
	P99Ms       []float64 `json:"p99_ms"`
	MinuteP50Ms float64   `json:"minute_p50_ms"`
	MinuteP99Ms float64   `json:"minute_p99_ms"`
}

// dashDisconnect is one session that ended, or one hello refused.
type dashDisconnect struct {
	Time    time.Time `json:"time"`
	Room    string    `json:"room,omitempty"` // empty for a refused hello
	Reason  string    `json:"reason"`         // as in tickwire_handshakes_total: "timeout", "client_left", ...
	Text    string    `json:"text,omitempty"`
	Refused bool      `json:"refused,omitempty"`
}

// dashWindow is how many seconds of tick durations the chart shows.
const dashWindow = 60

// tickWindow turns the rooms' cumulative tick-duration histograms (the
// Prometheus histograms /metrics serves) into quantiles of each second
// and of the last minute. The rooms observe into those histograms as
// they always do; reading them once a second is the whole cost. Owned by
// the sampling goroutine.
type tickWindow struct {
	bounds []float64            // upper bounds of the finite buckets, seconds
	prev   map[*room]*roomTicks // each room's counts at the last sample
	secs   [dashWindow][]uint64 // cumulative counts of each second, every room; a ring
	p50    [dashWindow]float64  // seconds; aligned with secs
	p99    [dashWindow]float64
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
		out[r] = roomSecond{bucketQuantile(0.5, rt.delta, w.bounds), bucketQuantile(0.99, rt.delta, w.bounds)}
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
	w.p50[w.head] = bucketQuantile(0.5, w.cur, w.bounds)
	w.p99[w.head] = bucketQuantile(0.99, w.cur, w.bounds)
	w.head = (w.head + 1) % dashWindow
	w.filled = min(w.filled+1, dashWindow)
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
func (w *tickWindow) ticks() dashTicks {
	t := dashTicks{P50Ms: make([]float64, 0, w.filled), P99Ms: make([]float64, 0, w.filled)}
	clear(w.sum)
	for i := range w.filled {
		k := (w.head - w.filled + i + dashWindow) % dashWindow
		t.P50Ms = append(t.P50Ms, ms(w.p50[k]))
		t.P99Ms = append(t.P99Ms, ms(w.p99[k]))
		for j, c := range w.secs[k] {
			w.sum[j] += c
		}
	}
	if w.bounds != nil {
		t.MinuteP50Ms = ms(bucketQuantile(0.5, w.sum, w.bounds))
		t.MinuteP99Ms = ms(bucketQuantile(0.99, w.sum, w.bounds))
	}
	return t
}

// ms rounds seconds to microseconds and says them in milliseconds.
func ms(s float64) float64 { return float64(int64(s*1e6+0.5)) / 1e3 }

// bucketQuantile estimates the q-quantile from cumulative bucket counts (the
// last one the total), interpolating within the bucket as Prometheus's
// histogram_quantile does; 0 when there is nothing.
func bucketQuantile(q float64, cum []uint64, bounds []float64) float64 {
	total := cum[len(cum)-1]
	if total == 0 {
		return 0
	}
	rank := q * float64(total)
	for i, ub := range bounds {
		c := cum[i]
		if float64(c) < rank {
			continue
		}
		lo, below := 0.0, uint64(0)
		if i > 0 {
			lo, below = bounds[i-1], cum[i-1]
		}
		if c == below {
			return ub
		}
		return lo + (ub-lo)*(rank-float64(below))/float64(c-below)
	}
	return bounds[len(bounds)-1] // in the +Inf bucket: the largest finite bound
}

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

// eventFeed holds the newest encoded event and wakes the viewers waiting
// for it. Publishing costs the same for one viewer or a hundred: it
// replaces a pointer and closes a channel; each viewer then writes the
// newest event at its own pace, and one that falls behind skips events
// rather than queueing them.
type eventFeed struct {
	mu     sync.Mutex
	event  []byte // "data: {...}\n\n"; never modified once published
	seq    uint64
	next   chan struct{} // closed when event is replaced
	closed chan struct{} // closed when the feed stops: viewers leave
	once   sync.Once
}

func newEventFeed() *eventFeed {
	return &eventFeed{next: make(chan struct{}), closed: make(chan struct{})}
}

func (f *eventFeed) publish(v any) error {
	body, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encoding the dashboard event: %w", err)
	}
	ev := make([]byte, 0, len(body)+8)
	ev = append(append(append(ev, "data: "...), body...), "\n\n"...)
	f.mu.Lock()
	defer f.mu.Unlock()
	f.event, f.seq = ev, f.seq+1
	close(f.next)
	f.next = make(chan struct{})
	return nil
}

// current is the newest event, its number (0: none yet) and the channel
// closed when a newer one is published.
func (f *eventFeed) current() ([]byte, uint64, <-chan struct{}) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.event, f.seq, f.next
}

func (f *eventFeed) close() { f.once.Do(func() { close(f.closed) }) }

// recentDisconnects is how many ended sessions the dashboard lists.
const recentDisconnects = 20

// maxDisconnectText bounds the text kept with a disconnect: a leaving
// client chooses its own.
const maxDisconnectText = 120

// disconnectLog keeps the last recentDisconnects disconnects. Sessions
// end on their own goroutines, never on a tick.
type disconnectLog struct {
	mu   sync.Mutex
	ring [recentDisconnects]dashDisconnect
	n    int // recorded in all
}

func (l *disconnectLog) add(d dashDisconnect) {
	if len(d.Text) > maxDisconnectText {
		cut := maxDisconnectText
		for cut > 0 && !utf8.RuneStart(d.Text[cut]) {
			cut--
		}
		d.Text = d.Text[:cut] + "…"
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.ring[l.n%recentDisconnects] = d
	l.n++
}

// recent lists the disconnects kept, newest first.
func (l *disconnectLog) recent() []dashDisconnect {
	l.mu.Lock()
	defer l.mu.Unlock()
	k := min(l.n, recentDisconnects)
	out := make([]dashDisconnect, 0, k)
	for i := 1; i <= k; i++ {
		out = append(out, l.ring[(l.n-i)%recentDisconnects])
	}
	return out
}

// reasonName is a disconnect reason as the metrics label it.
func reasonName(r pb.DisconnectReason) string {
	return strings.ToLower(strings.TrimPrefix(r.String(), "DISCONNECT_REASON_"))
}
