package dashboard

import (
	"crypto/sha256"
	"crypto/subtle"
	_ "embed"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/tickwire/tickwire/netcode/wire"
	pb "github.com/tickwire/tickwire/proto/tickwire/v1"
)

// The routes, and how a browser hands over the lobby key.
//
// Who may look: with a lobby key, whoever presents it (Authorization:
// Bearer KEY, ?key=KEY, or the cookie the page sets from ?key=), since
// EventSource cannot send headers; without one, only this machine
// (a loopback address, not relayed by a proxy). A first-time user on
// localhost opens the page with nothing to set up, and a public host
// does not show its rooms, traffic and disconnects to anyone who finds
// the URL.
const (
	Path       = "/dashboard"
	PathEvents = "/dashboard/events"
	// KeyParam is the query parameter that carries the lobby key to the
	// dashboard, for browsers: EventSource sends no headers.
	KeyParam = "key"
	// Cookie holds the key once the page was opened with it, so that it
	// leaves the address bar and the event stream sends it.
	Cookie = "tickwire_dashboard"
)

// MaxViewers bounds the event streams open at once; more are refused
// with 503. Each costs a goroutine and a write a second.
const MaxViewers = 32

// writeTimeout is how long one event may take to reach a viewer before
// its stream is closed: a stalled viewer holds nothing for long.
const writeTimeout = 10 * time.Second

//go:embed index.html
var page []byte

// Config configures a Handler.
type Config struct {
	// LobbyKey, if set, is required to see the dashboard; if empty, only
	// this machine may.
	LobbyKey string
	// Logger receives the viewers' comings and goings (debug). Default
	// slog.Default().
	Logger *slog.Logger
	// Now stamps the disconnects. Default time.Now.
	Now func() time.Time
}

// Handler serves the page and the event stream, and keeps the newest
// event and the recent disconnects. Its methods may be called from any
// goroutine.
type Handler struct {
	log         *slog.Logger
	now         func() time.Time
	keyed       bool
	keyHash     [sha256.Size]byte
	feed        *eventFeed
	viewers     atomic.Int64
	disconnects disconnectLog
}

// New returns a Handler with no event yet; Close ends its streams.
func New(cfg Config) *Handler {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Handler{log: cfg.Logger, now: cfg.Now, keyed: cfg.LobbyKey != "",
		keyHash: sha256.Sum256([]byte(cfg.LobbyKey)), feed: newEventFeed()}
}

// Publish encodes ev, with the recent disconnects (it sets
// ev.Disconnects), and wakes every viewer to send it. It costs the same
// for one viewer or MaxViewers.
func (d *Handler) Publish(ev *Event) error {
	ev.Disconnects = d.disconnects.recent()
	return d.feed.publish(ev)
}

// Close ends the event streams open and any opened later: call it when
// the server stops, before it waits on its HTTP requests.
func (d *Handler) Close() { d.feed.close() }

// Viewers is how many event streams are open.
func (d *Handler) Viewers() int64 { return d.viewers.Load() }

// NoteDisconnect records a session's end in room, or (refused, room
// empty) a refused hello, for the list of recent disconnects.
func (d *Handler) NoteDisconnect(room string, reason pb.DisconnectReason, text string, refused bool) {
	d.note(room, wire.ReasonName(reason), text, refused)
}

// NoteConnectionLost records a session in room whose connection ended
// without a goodbye.
func (d *Handler) NoteConnectionLost(room string) {
	d.note(room, "connection_lost", "", false)
}

func (d *Handler) note(room, reason, text string, refused bool) {
	d.disconnects.add(Disconnect{Time: d.now(), Room: room, Reason: reason, Text: text, Refused: refused})
}

// authorize answers false, having written the refusal, when r may not
// see the dashboard.
func (d *Handler) authorize(w http.ResponseWriter, r *http.Request) bool {
	if !d.keyed {
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
func (d *Handler) keyOK(key string) bool {
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
	if k := r.URL.Query().Get(KeyParam); k != "" {
		return k
	}
	if c, err := r.Cookie(Cookie); err == nil {
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

// ServePage serves GET Path: the page, or, opened with ?key=, the
// cookie and a redirect to the page without the key.
func (d *Handler) ServePage(w http.ResponseWriter, r *http.Request) {
	if !d.authorize(w, r) {
		return
	}
	if k := r.URL.Query().Get(KeyParam); k != "" {
		// Keep the key in a cookie the event stream sends, and out of
		// the address bar, the history and the Referer.
		http.SetCookie(w, &http.Cookie{Name: Cookie, Value: k, HttpOnly: true, Secure: r.TLS != nil,
			SameSite: http.SameSiteStrictMode, MaxAge: 12 * 3600})
		q := r.URL.Query()
		q.Del(KeyParam)
		to := strings.TrimPrefix(Path, "/") // relative: right behind a proxy's path prefix too
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
	_, _ = w.Write(page)
}

// ServeEvents serves GET PathEvents: it streams the events until the
// viewer goes away (its request's context), Close, or a write stalls.
func (d *Handler) ServeEvents(w http.ResponseWriter, r *http.Request) {
	if !d.authorize(w, r) {
		return
	}
	if n := d.viewers.Add(1); n > MaxViewers {
		d.viewers.Add(-1)
		w.Header().Set("Retry-After", "10")
		http.Error(w, fmt.Sprintf("too many dashboard viewers (at most %d): retry later", MaxViewers), http.StatusServiceUnavailable)
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
	if err := write(w, rc, []byte("retry: 2000\n\n")); err != nil {
		return
	}
	var sent uint64
	for {
		ev, seq, next := d.feed.current()
		if seq > sent {
			if err := write(w, rc, ev); err != nil {
				d.log.Debug("dashboard viewer gone", "remote", r.RemoteAddr, "err", err)
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

func write(w http.ResponseWriter, rc *http.ResponseController, b []byte) error {
	if err := rc.SetWriteDeadline(time.Now().Add(writeTimeout)); err != nil && !errors.Is(err, http.ErrNotSupported) {
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
