package server

import (
	"context"
	"net"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/tickwire/tickwire/netcode/transport"
	"github.com/tickwire/tickwire/netcode/wire"
)

// Metric names served at /metrics (Prometheus text format, the server's own
// registry). Per-tick and per-packet updates go to label children resolved
// once (per room, per transport), so they allocate nothing.
//
//	tickwire_tick_duration_seconds{room}       histogram  one tick: inputs, step, snapshots to every client
//	tickwire_tick_duration_max_seconds{room}   gauge      longest tick since the room started
//	tickwire_ticks_total{room}                 counter    ticks simulated
//	tickwire_missed_ticks_total{room}          counter    ticks skipped because the loop woke too late
//	tickwire_players{room}                     gauge      players in the room
//	tickwire_spectators{room}                  gauge      spectators watching the room
//	tickwire_rooms                             gauge      rooms open
//	tickwire_sessions{transport}               gauge      sessions by transport ("webtransport", "websocket")
//	tickwire_inputs_total{room,result}         counter    inputs: applied, late, duplicate, dropped (buffer full), future
//	tickwire_datagrams_total{direction,transport}  counter  datagrams in/out (input, ping, pong in; snapshot, ping, pong out)
//	tickwire_messages_total{direction,transport}   counter  reliable messages in/out (hello, welcome, roster, disconnect)
//	tickwire_bytes_total{direction,transport}      counter  payload bytes of both
//	tickwire_dropped_total{reason}             counter    packets dropped: send_queue_full, malformed, rate_limited, spectator_input (a spectator's input packet that carried inputs: the inputs are refused)
//	tickwire_snapshot_bytes{transport}         histogram  size of each snapshot datagram sent to a client
//	tickwire_rtt_seconds                       histogram  round trip of the server's pings (every second per session)
//	tickwire_input_lead_seconds                histogram  how early inputs arrive before their tick (sampled every second per session; negative: late)
//	tickwire_handshakes_total{result}          counter    hellos: accepted, or the refusal reason
//	tickwire_lag_compensation_rewind_seconds   histogram  how far back lag compensation took the target of each rewound hit
//	tickwire_hits_total{room,rewind}           counter    projectile hits: rewound ("applied") or judged where the target is ("none")
//	tickwire_draining                          gauge      1 once the server drains
//
// plus the Go runtime and process collectors (go_*, process_*).
type serverMetrics struct {
	reg *prometheus.Registry

	tickDuration *prometheus.HistogramVec
	rooms        prometheus.Gauge
	draining     prometheus.Gauge
	handshakes   *prometheus.CounterVec
	rtt          prometheus.Histogram
	inputLead    prometheus.Histogram
	lagRewind    prometheus.Histogram
	malformed    prometheus.Counter
	queueFull    prometheus.Counter
	rateLimited  prometheus.Counter
	// spectatorInput counts spectators' input packets that carried
	// inputs (refused; their acks and follow targets still count).
	spectatorInput prometheus.Counter
	transports     map[transport.Kind]*transportMetrics
}

// transportMetrics are one transport's pre-resolved children.
type transportMetrics struct {
	sessions                  prometheus.Gauge
	datagramsIn, datagramsOut prometheus.Counter
	messagesIn, messagesOut   prometheus.Counter
	bytesIn, bytesOut         prometheus.Counter
	snapshotBytes             prometheus.Observer
	queueFull                 prometheus.Counter
}

func newServerMetrics(rooms func() []*room) *serverMetrics {
	reg := prometheus.NewRegistry()
	m := &serverMetrics{reg: reg, transports: make(map[transport.Kind]*transportMetrics)}
	f := func(c prometheus.Collector) { reg.MustRegister(c) }
	m.tickDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "tickwire_tick_duration_seconds",
		Help:    "Duration of one tick: inputs, world step and every client's snapshot.",
		Buckets: prometheus.ExponentialBuckets(50e-6, 1.25, 40),
	}, []string{"room"})
	f(m.tickDuration)
	m.rooms = prometheus.NewGauge(prometheus.GaugeOpts{Name: "tickwire_rooms", Help: "Rooms open."})
	f(m.rooms)
	m.draining = prometheus.NewGauge(prometheus.GaugeOpts{Name: "tickwire_draining", Help: "1 while the server drains."})
	f(m.draining)
	m.handshakes = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "tickwire_handshakes_total", Help: "Hellos, by result: accepted or the refusal reason.",
	}, []string{"result"})
	f(m.handshakes)
	m.rtt = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name: "tickwire_rtt_seconds", Help: "Round-trip time of the server's pings.",
		Buckets: prometheus.ExponentialBuckets(0.5e-3, 1.5, 20),
	})
	f(m.rtt)
	m.inputLead = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name: "tickwire_input_lead_seconds", Help: "How early inputs arrive before their tick, sampled per session (negative: late).",
		Buckets: []float64{-0.1, -0.05, -0.02, -0.01, 0, 0.01, 0.02, 0.033, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.5},
	})
	f(m.inputLead)
	m.lagRewind = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name: "tickwire_lag_compensation_rewind_seconds",
		Help: "How far in the past lag compensation took the target of each rewound hit (at most 0.4 s).",
		// Ends at the bound, game.MaxRewind: the +Inf bucket must stay
		// level with the 0.4 one.
		Buckets: []float64{0.025, 0.05, 0.075, 0.1, 0.125, 0.15, 0.175, 0.2, 0.225, 0.25, 0.3, 0.35, 0.4},
	})
	f(m.lagRewind)
	sessions := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "tickwire_sessions", Help: "Sessions, by transport."}, []string{"transport"})
	dgrams := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "tickwire_datagrams_total", Help: "Datagrams, by direction and transport."}, []string{"direction", "transport"})
	msgs := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "tickwire_messages_total", Help: "Reliable messages, by direction and transport."}, []string{"direction", "transport"})
	bytes := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "tickwire_bytes_total", Help: "Packet bytes (datagrams and messages), by direction and transport."}, []string{"direction", "transport"})
	dropped := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "tickwire_dropped_total", Help: "Packets dropped, by reason."}, []string{"reason"})
	snap := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "tickwire_snapshot_bytes", Help: "Size of each snapshot datagram sent to a client.",
		Buckets: prometheus.ExponentialBuckets(16, 2, 14),
	}, []string{"transport"})
	for _, c := range []prometheus.Collector{sessions, dgrams, msgs, bytes, dropped, snap} {
		f(c)
	}
	m.malformed = dropped.WithLabelValues("malformed")
	m.queueFull = dropped.WithLabelValues("send_queue_full")
	m.rateLimited = dropped.WithLabelValues("rate_limited")
	m.spectatorInput = dropped.WithLabelValues("spectator_input")
	for _, k := range []transport.Kind{transport.WebTransport, transport.WebSocket} {
		t := string(k)
		m.transports[k] = &transportMetrics{
			sessions:      sessions.WithLabelValues(t),
			datagramsIn:   dgrams.WithLabelValues("in", t),
			datagramsOut:  dgrams.WithLabelValues("out", t),
			messagesIn:    msgs.WithLabelValues("in", t),
			messagesOut:   msgs.WithLabelValues("out", t),
			bytesIn:       bytes.WithLabelValues("in", t),
			bytesOut:      bytes.WithLabelValues("out", t),
			snapshotBytes: snap.WithLabelValues(t),
			queueFull:     m.queueFull,
		}
	}
	f(&roomCollector{rooms: rooms})
	f(collectors.NewGoCollector())
	f(collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// roomCollector reads every room's counters at scrape time: nothing is
// updated on the tick for these.
type roomCollector struct {
	rooms func() []*room
}

var (
	descTicks   = prometheus.NewDesc("tickwire_ticks_total", "Ticks simulated.", []string{"room"}, nil)
	descMissed  = prometheus.NewDesc("tickwire_missed_ticks_total", "Ticks skipped because the loop woke more than a period late.", []string{"room"}, nil)
	descTickMax = prometheus.NewDesc("tickwire_tick_duration_max_seconds", "Longest tick since the room started.", []string{"room"}, nil)
	descPlayers = prometheus.NewDesc("tickwire_players", "Players in the room.", []string{"room"}, nil)
	descSpect   = prometheus.NewDesc("tickwire_spectators", "Spectators watching the room.", []string{"room"}, nil)
	descInputs  = prometheus.NewDesc("tickwire_inputs_total", "Inputs by result: applied, late (applied after their tick), stale (dropped: a quarter second or more late), duplicate, dropped (buffer full), future (too far ahead).", []string{"room", "result"}, nil)
	descHits    = prometheus.NewDesc("tickwire_hits_total", "Projectile hits, by whether lag compensation rewound the target (applied) or judged it where it is (none).", []string{"room", "rewind"}, nil)
)

func (c *roomCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descTicks, descMissed, descTickMax, descPlayers, descSpect, descInputs, descHits} {
		ch <- d
	}
}

func (c *roomCollector) Collect(ch chan<- prometheus.Metric) {
	for _, r := range c.rooms() {
		st := r.game.Stats()
		ch <- prometheus.MustNewConstMetric(descTicks, prometheus.CounterValue, float64(st.Ticks), r.id)
		ch <- prometheus.MustNewConstMetric(descMissed, prometheus.CounterValue, float64(st.MissedTicks), r.id)
		ch <- prometheus.MustNewConstMetric(descTickMax, prometheus.GaugeValue, st.TickMax.Seconds(), r.id)
		ch <- prometheus.MustNewConstMetric(descPlayers, prometheus.GaugeValue, float64(r.players()), r.id)
		ch <- prometheus.MustNewConstMetric(descSpect, prometheus.GaugeValue, float64(r.spectators()), r.id)
		for _, in := range []struct {
			result string
			n      uint64
		}{{"applied", st.InputsApplied}, {"late", st.InputsLate}, {"stale", st.InputsStale}, {"duplicate", st.InputsDuplicate}, {"dropped", st.InputsDropped}, {"future", st.InputsFuture}} {
			ch <- prometheus.MustNewConstMetric(descInputs, prometheus.CounterValue, float64(in.n), r.id, in.result)
		}
		lc := r.game.LagCompStats()
		ch <- prometheus.MustNewConstMetric(descHits, prometheus.CounterValue, float64(lc.HitsRewound), r.id, "applied")
		ch <- prometheus.MustNewConstMetric(descHits, prometheus.CounterValue, float64(lc.Hits-lc.HitsRewound), r.id, "none")
	}
}

// meteredConn counts what passes through a server-side Conn.
type meteredConn struct {
	transport.Conn
	m *transportMetrics
}

func (c *meteredConn) SendDatagram(p []byte) error {
	err := c.Conn.SendDatagram(p)
	if err != nil {
		if err == transport.ErrDropped {
			c.m.queueFull.Inc()
		}
		return err
	}
	c.m.datagramsOut.Inc()
	c.m.bytesOut.Add(float64(len(p)))
	if len(p) > 0 && p[0] == snapshotTag {
		c.m.snapshotBytes.Observe(float64(len(p)))
	}
	return nil
}

func (c *meteredConn) SendMessage(p []byte) error {
	err := c.Conn.SendMessage(p)
	if err == nil {
		c.m.messagesOut.Inc()
		c.m.bytesOut.Add(float64(len(p)))
	}
	return err
}

func (c *meteredConn) Receive(ctx context.Context) ([]byte, bool, error) {
	p, reliable, err := c.Conn.Receive(ctx)
	if err != nil {
		return p, reliable, err
	}
	c.m.bytesIn.Add(float64(len(p)))
	if len(p) > 0 && (p[0] == inputTag || p[0] == pingTag || p[0] == pongTag) {
		c.m.datagramsIn.Inc()
	} else {
		c.m.messagesIn.Inc()
	}
	return p, reliable, nil
}

func (c *meteredConn) RemoteAddr() net.Addr { return c.Conn.RemoteAddr() }

// First bytes of packets: field number << 3 | wire type 2 (length-delimited).
const (
	inputTag    = byte(wire.KindInput)<<3 | 2
	snapshotTag = byte(wire.KindSnapshot)<<3 | 2
	pingTag     = byte(wire.KindPing)<<3 | 2
	pongTag     = byte(wire.KindPong)<<3 | 2
)
