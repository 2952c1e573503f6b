package dashboard

import (
	"encoding/json"
	"fmt"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/tickwire/tickwire/netcode/lobby"
)

// Event is one event of PathEvents (JSON; the page reads these names).
type Event struct {
	Time     time.Time `json:"time"`
	Process  string    `json:"process"`
	Region   string    `json:"region,omitempty"`
	Draining bool      `json:"draining"`
	UptimeS  float64   `json:"uptime_s"`
	// Players are the sessions playing now, in every room; Reconnecting
	// the players parked for their resume.
	Players      int    `json:"players"`
	Reconnecting int    `json:"reconnecting"`
	Rooms        []Room `json:"rooms"`
	// Sessions counts sessions by transport ("webtransport", "websocket").
	Sessions map[string]int `json:"sessions"`
	// BytesInPerS and BytesOutPerS are packet bytes over the last
	// second, every transport.
	BytesInPerS  float64 `json:"bytes_in_per_s"`
	BytesOutPerS float64 `json:"bytes_out_per_s"`
	Tick         Ticks   `json:"tick"`
	// Disconnects are the recent ones, newest first (Publish sets them).
	Disconnects []Disconnect `json:"disconnects"`
}

// Room is one room: what the lobby says of it (its seats taken as
// "players", capacity, tick rate; whatever a room comes to report there
// shows up here too) and what it did in the last second.
type Room struct {
	lobby.RoomState
	Playing     int     `json:"playing"` // sessions connected
	TickP50Ms   float64 `json:"tick_p50_ms"`
	TickP99Ms   float64 `json:"tick_p99_ms"`
	MissedTicks uint64  `json:"missed_ticks"`
}

// Ticks are the tick durations of every room: p50 and p99 of each second
// of the last minute (at most Window), oldest first, and of the minute
// as a whole.
type Ticks struct {
	P50Ms       []float64 `json:"p50_ms"`
	P99Ms       []float64 `json:"p99_ms"`
	MinuteP50Ms float64   `json:"minute_p50_ms"`
	MinuteP99Ms float64   `json:"minute_p99_ms"`
}

// Disconnect is one session that ended, or one hello refused.
type Disconnect struct {
	Time    time.Time `json:"time"`
	Room    string    `json:"room,omitempty"` // empty for a refused hello
	Reason  string    `json:"reason"`         // as in tickwire_handshakes_total: "timeout", "client_left", ...
	Text    string    `json:"text,omitempty"`
	Refused bool      `json:"refused,omitempty"`
}

// Window is how many seconds of tick durations the chart shows.
const Window = 60

// Quantile estimates the q-quantile from cumulative bucket counts (the
// last one the total, the +Inf bucket) and the finite buckets' upper
// bounds, interpolating within the bucket as Prometheus's
// histogram_quantile does; 0 when there is nothing.
func Quantile(q float64, cum []uint64, bounds []float64) float64 {
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
	ring [recentDisconnects]Disconnect
	n    int // recorded in all
}

func (l *disconnectLog) add(d Disconnect) {
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
func (l *disconnectLog) recent() []Disconnect {
	l.mu.Lock()
	defer l.mu.Unlock()
	k := min(l.n, recentDisconnects)
	out := make([]Disconnect, 0, k)
	for i := 1; i <= k; i++ {
		out = append(out, l.ring[(l.n-i)%recentDisconnects])
	}
	return out
}
