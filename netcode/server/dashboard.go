package server

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	_ "embed"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/tickwire/tickwire/game"
	pb "github.com/tickwire/tickwire/proto/tickwire/v1"
)

// The live view: GET /dashboard is one self-contained page (no external
// script, style or font) that follows GET /dashboard/events, a stream of
// Server-Sent Events, one JSON event a second (dashEvent).
//
// Who may look: with a LobbyKey, whoever presents it (Authorization:
// Bearer KEY, ?key=KEY, or the cookie the page sets from ?key=), since
// EventSource cannot send headers; without one, only this machine
// (a loopback address, not relayed by a proxy). A first-time user on
// localhost opens the page with nothing to set up, and a public host
// does not show its rooms, traffic and disconnects to anyone who finds
// the URL.
const (
	PathDashboard       = "/dashboard"
	PathDashboardEvents = "/dashboard/events"
	// DashboardKeyParam is the query parameter that carries the lobby
	// key to the dashboard, for browsers: EventSource sends no headers.
	DashboardKeyParam = "key"
	// DashboardCookie holds the key once the page was opened with it, so
	// that it leaves the address bar and the event stream sends it.
	DashboardCookie = "tickwire_dashboard"
)

// MaxDashboardViewers bounds the event streams open at once; more are
// refused with 503. Each costs a goroutine and a write a second.
const MaxDashboardViewers = 32

// dashboardWriteTimeout is how long one event may take to reach a
// viewer before its stream is closed: a stalled viewer holds nothing
// for long.
const dashboardWriteTimeout = 10 * time.Second

//go:embed dashboard/index.html
var dashboardPage []byte

// dashboard samples the server once a second for the live view.
type dashboard struct {
	srv         *Server
	feed        *eventFeed
	viewers     atomic.Int64
	disconnects disconnectLog
	keyHash     [sha256.Size]byte
}

func newDashboard(s *Server) *dashboard {
	return &dashboard{srv: s, feed: newEventFeed(), keyHash: sha256.Sum256([]byte(s.LobbyKey))}
}

// start runs the sampler until the returned stop is called; stop ends
// the viewers' streams too and waits for the sampler.
func (d *dashboard) start(clock game.Clock) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); d.run(ctx, clock) }()
	return func() {
		cancel()
		<-done
		d.feed.close()
	}
}

func (d *dashboard) run(ctx context.Context, clock game.Clock) {
	t := clock.NewTicker(time.Second)
	defer t.Stop()
	var (
		win      tickWindow
		dm       dto.Metric
		perRoom  = make(map[*room]roomSecond)
		last     = readTransports(d.srv.metrics.transports, &dm)
		lastTime = clock.Now()
	)
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C():
			ev := d.sample(now, &win, perRoom, &dm, &last, &lastTime)
			if err := d.feed.publish(ev); err != nil {
				d.srv.log.Error("dashboard", "err", err)
			}
		}
	}
}

// sample builds one event: the rooms, the transports' gauges and byte
// rates since the last sample, the tick window moved on by a second.
func (d *dashboard) sample(now time.Time, win *tickWindow, perRoom map[*room]roomSecond, dm *dto.Metric,
	last *transportTotals, lastTime *time.Time) *dashEvent {
	s := d.srv
	rooms := s.roomList()
	clear(perRoom)
	win.sample(rooms, perRoom)
	tr := readTransports(s.metrics.transports, dm)
	ev := &dashEvent{
		Time:         now,
		Process:      s.ProcessID,
		Region:       s.Region,
		Draining:     s.draining.Load(),
		UptimeS:      float64(time.Since(s.epoch).Round(time.Second) / time.Second),
		Reconnecting: s.resume.len(),
		Rooms:        make([]dashRoom, 0, len(rooms)),
		Sessions:     tr.sessions,
		Tick:         win.ticks(),
		Disconnects:  d.disconnects.recent(),
	}
	if dt := now.Sub(*lastTime).Seconds(); dt > 0 {
		ev.BytesInPerS = max(tr.in-last.in, 0) / dt
		ev.BytesOutPerS = max(tr.out-last.out, 0) / dt
	}
	*last, *lastTime = tr, now
	for _, r := range rooms {
		q := perRoom[r]
		dr := dashRoom{RoomState: r.info(), Playing: r.players(), TickP50Ms: ms(q.p50), TickP99Ms: ms(q.p99),
			MissedTicks: r.game.Stats().MissedTicks}
		ev.Players += dr.Playing
		ev.Rooms = append(ev.Rooms, dr)
	}
	return ev
}

// noteDisconnect records a session's end (room set) or a refused hello
// for the dashboard's list.
func (d *dashboard) noteDisconnect(room string, reason pb.DisconnectReason, text string, refused bool) {
	d.noteDisconnectReason(room, reasonName(reason), text, refused)
}

func (d *dashboard) noteDisconnectReason(room, reason, text string, refused bool) {
	d.disconnects.add(dashDisconnect{Time: d.srv.clock.Now(), Room: room, Reason: reason, Text: text, Refused: refused})
}

// authorize answers false, having written the refusal, when r may not
// see the dashboard.
func (d *dashboard) authorize(w http.ResponseWriter, r *http.Request) bool {
	if d.srv.LobbyKey == "" {
		if isLocalRequest(r) {
			return true
		}
		http.Error(w, "the dashboard is served to this machine only: the server has no lobby key. "+
			"Start it with -lobby-key (TICKWIRE_LOBBY_KEY) and open /dashboard?key=KEY, or reach it through an SSH tunnel.",
			http.StatusForbidden)
		return false
	}
	if d.keyOK(presentedKey(r)) {
		return true
	}
	w.Header().Set("WWW-Authenticate", `Bearer realm="tickwire dashboard"`)
	http.Error(w, "lobby key required: open /dashboard?key=KEY, or send Authorization: Bearer KEY", http.StatusUnauthorized)
	return false
}

// keyOK compares in constant time (of the hashes: the key's length does
// not show either).
func (d *dashboard) keyOK(key string) bool {
	got := sha256.Sum256([]byte(key))
	return key != "" && subtle.ConstantTimeCompare(got[:], d.keyHash[:]) == 1
}

// presentedKey is the key a request carries: the bearer token, else the
// query parameter, else the cookie.
func presentedKey(r *http.Request) string {
	if a := r.Header.Get("Authorization"); a != "" {
		if k, ok := strings.CutPrefix(a, "Bearer "); ok {
			return k
		}
	}
	if k := r.URL.Query().Get(DashboardKeyParam); k != "" {
		return k
	}
	if c, err := r.Cookie(DashboardCookie); err == nil {
		return c.Value
	}
	return ""
}

// isLocalRequest reports whether r comes from this machine: a loopback
// peer that no proxy relayed (a reverse proxy on the same host connects
// from loopback for everyone, and says so in these headers).
func isLocalRequest(r *http.Request) bool {
	for _, h := range []string{"Forwarded", "X-Forwarded-For", "X-Real-Ip"} {
		if r.Header.Get(h) != "" {
			return false
		}
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func (d *dashboard) servePage(w http.ResponseWriter, r *http.Request) {
	if !d.authorize(w, r) {
		return
	}
	if k := r.URL.Query().Get(DashboardKeyParam); k != "" {
		// Keep the key in a cookie the event stream sends, and out of
		// the address bar, the history and the Referer.
		http.SetCookie(w, &http.Cookie{Name: DashboardCookie, Value: k, HttpOnly: true, Secure: r.TLS != nil,
			SameSite: http.SameSiteStrictMode, MaxAge: 12 * 3600})
		q := r.URL.Query()
		q.Del(DashboardKeyParam)
		to := strings.TrimPrefix(PathDashboard, "/") // relative: right behind a proxy's path prefix too
		if len(q) > 0 {
			to += "?" + q.Encode()
		}
		// Not http.Redirect: it would make the path absolute.
		w.Header().Set("Location", to)
		w.WriteHeader(http.StatusSeeOther)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Security-Policy", "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	_, _ = w.Write(dashboardPage)
}

// serveEvents streams the events until the viewer goes away (its
// request's context), the server stops, or a write stalls.
func (d *dashboard) serveEvents(w http.ResponseWriter, r *http.Request) {
	if !d.authorize(w, r) {
		return
	}
	if n := d.viewers.Add(1); n > MaxDashboardViewers {
		d.viewers.Add(-1)
		w.Header().Set("Retry-After", "10")
		http.Error(w, fmt.Sprintf("too many dashboard viewers (at most %d): retry later", MaxDashboardViewers), http.StatusServiceUnavailable)
		return
	}
	defer d.viewers.Add(-1)
	rc := http.NewResponseController(w)
	// The server's read timeout would end the stream's request after
	// 30 s: nothing more is read on it.
	if err := rc.SetReadDeadline(time.Time{}); err != nil && !errors.Is(err, http.ErrNotSupported) {
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no") // proxies: pass each event on at once
	w.WriteHeader(http.StatusOK)
	if err := d.write(w, rc, []byte("retry: 2000\n\n")); err != nil {
		return
	}
	var sent uint64
	for {
		ev, seq, next := d.feed.current()
		if seq > sent {
			if err := d.write(w, rc, ev); err != nil {
				d.srv.log.Debug("dashboard viewer gone", "remote", r.RemoteAddr, "err", err)
				return
			}
			sent = seq
		}
		select {
		case <-next:
		case <-r.Context().Done():
			return
		case <-d.feed.closed:
			return
		}
	}
}

func (d *dashboard) write(w http.ResponseWriter, rc *http.ResponseController, b []byte) error {
	if err := rc.SetWriteDeadline(time.Now().Add(dashboardWriteTimeout)); err != nil && !errors.Is(err, http.ErrNotSupported) {
		return fmt.Errorf("setting the write deadline: %w", err)
	}
	if _, err := w.Write(b); err != nil {
		return fmt.Errorf("writing an event: %w", err)
	}
	if err := rc.Flush(); err != nil {
		return fmt.Errorf("flushing an event: %w", err)
	}
	return nil
}
