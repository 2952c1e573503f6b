package dashboard

import (
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/tickwire/tickwire/netcode/wire"
	pb "github.com/tickwire/tickwire/proto/tickwire/v1"
)

func TestQuantileInterpolatesLikeHistogramQuantile(t *testing.T) {
	bounds := []float64{1, 2, 4}
	for _, tt := range []struct {
		name string
		q    float64
		cum  []uint64 // cumulative, +Inf last
		want float64
	}{
		{"empty", 0.5, []uint64{0, 0, 0, 0}, 0},
		{"first bucket starts at zero", 0.5, []uint64{10, 10, 10, 10}, 0.5},
		{"middle of the second bucket", 0.5, []uint64{0, 10, 10, 10}, 1.5},
		{"across buckets", 0.75, []uint64{5, 5, 10, 10}, 3},
		{"all in +Inf: the largest bound", 0.99, []uint64{0, 0, 0, 7}, 4},
		{"p99 of two slow ticks in a hundred", 0.99, []uint64{98, 98, 100, 100}, 3},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := Quantile(tt.q, tt.cum, bounds); math.Abs(got-tt.want) > 1e-9 {
				t.Errorf("Quantile(%v, %v) = %v, want %v", tt.q, tt.cum, got, tt.want)
			}
		})
	}
}

func TestDisconnectLogKeepsTheNewestFirstAndBoundsTheText(t *testing.T) {
	var l disconnectLog
	for i := range recentDisconnects + 5 {
		l.add(Disconnect{Room: "r", Reason: wire.ReasonName(pb.DisconnectReason_DISCONNECT_REASON_TIMEOUT), Text: strings.Repeat("é", i*10)})
	}
	got := l.recent()
	if len(got) != recentDisconnects {
		t.Fatalf("kept %d, want %d", len(got), recentDisconnects)
	}
	if got[0].Reason != "timeout" {
		t.Errorf("reason %q, want timeout", got[0].Reason)
	}
	if n := len(got[0].Text); n > maxDisconnectText+len("…") || !strings.HasSuffix(got[0].Text, "…") {
		t.Errorf("newest text is %d bytes %q..., want at most %d and cut", n, got[0].Text[:8], maxDisconnectText)
	}
	if !strings.HasPrefix(got[0].Text, "é") || strings.ContainsRune(got[0].Text, '\uFFFD') {
		t.Error("text cut inside a character")
	}
	if got[len(got)-1].Text != strings.Repeat("é", 50) { // the 6th added (index 5) is the oldest kept
		t.Errorf("oldest kept has %d bytes of text", len(got[len(got)-1].Text))
	}
}

func TestEventFeedWakesViewersAndALateOneGetsTheNewest(t *testing.T) {
	f := newEventFeed()
	_, seq, next := f.current()
	if seq != 0 {
		t.Fatalf("seq %d before any event", seq)
	}
	for i := range 3 {
		if err := f.publish(map[string]int{"n": i}); err != nil {
			t.Fatal(err)
		}
	}
	select {
	case <-next:
	default:
		t.Fatal("publishing did not wake a waiting viewer")
	}
	ev, seq, _ := f.current()
	if seq != 3 || string(ev) != "data: {\"n\":2}\n\n" {
		t.Errorf("current = %d %q, want the third event", seq, ev)
	}
}

func TestDashboardAuthorization(t *testing.T) {
	const key = "k3y-for-the-dashboard"
	for _, tt := range []struct {
		name     string
		lobbyKey string
		remote   string
		header   map[string]string
		query    string
		cookie   string
		want     int
	}{
		{"no key, loopback v4", "", "127.0.0.1:5000", nil, "", "", http.StatusOK},
		{"no key, loopback v6", "", "[::1]:5000", nil, "", "", http.StatusOK},
		{"no key, another machine", "", "192.0.2.7:5000", nil, "", "", http.StatusForbidden},
		{"no key, relayed by a local proxy", "", "127.0.0.1:5000", map[string]string{"X-Forwarded-For": "192.0.2.7"}, "", "", http.StatusForbidden},
		{"no key, Forwarded header", "", "127.0.0.1:5000", map[string]string{"Forwarded": "for=192.0.2.7"}, "", "", http.StatusForbidden},
		{"key, none given, even locally", key, "127.0.0.1:5000", nil, "", "", http.StatusUnauthorized},
		{"key as bearer", key, "192.0.2.7:5000", map[string]string{"Authorization": "Bearer " + key}, "", "", http.StatusOK},
		{"key in the query", key, "192.0.2.7:5000", nil, "?key=" + key, "", http.StatusOK},
		{"key in the cookie", key, "192.0.2.7:5000", nil, "", key, http.StatusOK},
		{"wrong key", key, "192.0.2.7:5000", map[string]string{"Authorization": "Bearer nope"}, "", "", http.StatusUnauthorized},
		{"a prefix of the key", key, "192.0.2.7:5000", nil, "?key=" + key[:5], "", http.StatusUnauthorized},
		{"wrong cookie", key, "192.0.2.7:5000", nil, "", "x", http.StatusUnauthorized},
	} {
		t.Run(tt.name, func(t *testing.T) {
			d := New(Config{LobbyKey: tt.lobbyKey})
			r := httptest.NewRequest("GET", PathEvents+tt.query, nil)
			r.RemoteAddr = tt.remote
			for k, v := range tt.header {
				r.Header.Set(k, v)
			}
			if tt.cookie != "" {
				r.AddCookie(&http.Cookie{Name: Cookie, Value: tt.cookie})
			}
			w := httptest.NewRecorder()
			ok := d.authorize(w, r)
			got := http.StatusOK
			if !ok {
				got = w.Code
			}
			if got != tt.want {
				t.Errorf("status %d, want %d (%s)", got, tt.want, strings.TrimSpace(w.Body.String()))
			}
			if !ok && !strings.Contains(w.Body.String(), "key") {
				t.Errorf("refusal does not say what is missing: %q", w.Body.String())
			}
		})
	}
}

// TestDashboardPageWithKeyInQuerySetsCookieAndDropsTheKeyFromTheURL: the
// page opened with ?key= keeps it in a cookie and redirects to itself
// without it.
func TestDashboardPageWithKeyInQuerySetsCookieAndDropsTheKeyFromTheURL(t *testing.T) {
	d := New(Config{LobbyKey: "secret-key-1"})
	r := httptest.NewRequest("GET", Path+"?key=secret-key-1", nil)
	r.RemoteAddr = "192.0.2.7:5000"
	w := httptest.NewRecorder()
	d.ServePage(w, r)
	if w.Code != http.StatusSeeOther || w.Header().Get("Location") != "dashboard" {
		t.Fatalf("status %d, Location %q; want 303 to dashboard", w.Code, w.Header().Get("Location"))
	}
	c := w.Result().Cookies()
	if len(c) != 1 || c[0].Name != Cookie || c[0].Value != "secret-key-1" || !c[0].HttpOnly || c[0].SameSite != http.SameSiteStrictMode {
		t.Fatalf("cookies %+v", c)
	}
	r = httptest.NewRequest("GET", Path, nil)
	r.RemoteAddr = "192.0.2.7:5000"
	r.AddCookie(c[0])
	w = httptest.NewRecorder()
	d.ServePage(w, r)
	if w.Code != http.StatusOK || !strings.Contains(w.Body.String(), "dashboard/events") {
		t.Fatalf("page with the cookie: %d", w.Code)
	}
	if csp := w.Header().Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") {
		t.Errorf("CSP %q", csp)
	}
}

// The page is self-contained: no script, style, font or image from
// anywhere.
func TestDashboardPageLoadsNothingFromElsewhere(t *testing.T) {
	page := string(page)
	for _, bad := range []string{"src=\"http", "href=\"http", "src=\"//", "href=\"//", "@import", "url(http", "<link "} {
		if strings.Contains(page, bad) {
			t.Errorf("the page contains %q", bad)
		}
	}
}
