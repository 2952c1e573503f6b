package server

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/tickwire/tickwire/netcode/jointoken"
	"github.com/tickwire/tickwire/netcode/lobby"
	"github.com/tickwire/tickwire/netcode/server/dashboard"
	"github.com/tickwire/tickwire/netcode/server/directory"
	"github.com/tickwire/tickwire/netcode/server/recording"
	"github.com/tickwire/tickwire/netcode/transport"
	"github.com/tickwire/tickwire/netcode/wire"
)

// Operations paths on the TCP side (the lobby's are lobby.PathRooms and
// lobby.PathQuickPlay).
const (
	PathMetrics = "/metrics" // Prometheus text format
	PathHealthz = "/healthz" // 200 while the process runs
	PathReadyz  = "/readyz"  // 200 while accepting players, 503 starting or draining
)

// routes is the server's TCP-side HTTP handler (the endpoint adds /ws and
// /cert-hash; Handler, if set, serves everything else).
func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+PathHealthz, func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("GET "+PathReadyz, func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		switch {
		case s.ready.Load():
			fmt.Fprintln(w, "ready")
		case s.draining.Load():
			http.Error(w, "draining", http.StatusServiceUnavailable)
		default:
			http.Error(w, "starting", http.StatusServiceUnavailable)
		}
	})
	mux.Handle("GET "+PathMetrics, promhttp.HandlerFor(s.metrics.reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET "+dashboard.Path, s.dash.ServePage)
	mux.HandleFunc("GET "+dashboard.PathEvents, s.dash.ServeEvents)
	mux.HandleFunc("GET "+lobby.PathRooms, s.serveListRooms)
	mux.HandleFunc("POST "+lobby.PathRooms, s.lobbyPost(s.serveCreateRoom))
	mux.HandleFunc("POST "+lobby.PathRooms+"/{id}/join", s.lobbyPost(s.serveJoin))
	mux.HandleFunc("POST "+lobby.PathQuickPlay, s.lobbyPost(s.serveQuickPlay))
	if s.Record.Dir != "" {
		recording.Handle(mux, s.Record.Dir, s.log)
	}
	if s.Handler != nil {
		mux.Handle("/", s.Handler)
	}
	return mux
}

// lobbyPost guards the lobby's POSTs: LobbyKey, when set, is required as
// a bearer token; callers without it are rate limited per address (a
// game's backend, which holds the key, speaks for many players).
func (s *Server) lobbyPost(h http.HandlerFunc) http.HandlerFunc {
	want := sha256.Sum256([]byte("Bearer " + s.LobbyKey))
	return func(w http.ResponseWriter, r *http.Request) {
		got := sha256.Sum256([]byte(r.Header.Get("Authorization")))
		keyed := s.LobbyKey != "" && subtle.ConstantTimeCompare(got[:], want[:]) == 1
		if s.LobbyKey != "" && !keyed {
			w.Header().Set("WWW-Authenticate", `Bearer realm="tickwire lobby"`)
			writeError(w, http.StatusUnauthorized, errors.New("lobby key required (Authorization: Bearer ...)"))
			return
		}
		if !keyed && !s.lobbyLimit.allow(r.RemoteAddr, s.clock.Now()) {
			w.Header().Set("Retry-After", "1")
			writeError(w, http.StatusTooManyRequests, errors.New("too many lobby requests from this address: retry in a second"))
			return
		}
		r = r.WithContext(context.WithValue(r.Context(), keyedRequest{}, keyed))
		h(w, r)
	}
}

func (s *Server) serveListRooms(w http.ResponseWriter, r *http.Request) {
	rooms := s.allRooms(r.Context())
	listed := rooms[:0]
	for _, rm := range rooms {
		if !rm.Private {
			listed = append(listed, rm)
		}
	}
	writeJSON(w, http.StatusOK, lobby.Rooms{Rooms: listed})
}

// allRooms lists this process's rooms (live) and the directory's rooms of
// the other processes that are not draining, private ones included.
func (s *Server) allRooms(ctx context.Context) []lobby.Room {
	self := s.processRecord()
	out := []lobby.Room{}
	for _, ri := range self.Rooms {
		out = append(out, lobbyRoom(ri, self))
	}
	for _, p := range s.peers(ctx) {
		for _, ri := range p.Rooms {
			out = append(out, lobbyRoom(ri, p))
		}
	}
	return out
}

// peers are the directory's records of the other processes that take
// players (not draining). A directory that cannot be read leaves this
// process on its own, said in the log.
func (s *Server) peers(ctx context.Context) []directory.Process {
	procs, err := s.dir.Processes(ctx)
	if err != nil {
		s.log.Warn("lobby: reading the room directory; acting for this process only", "err", err)
	}
	return slices.DeleteFunc(procs, func(p directory.Process) bool { return p.ID == s.ProcessID || p.Draining })
}

func lobbyRoom(ri directory.Room, p directory.Process) lobby.Room {
	return lobby.Room{RoomState: ri, Process: p.ID, Region: p.Region, URL: p.URL}
}

// keyedRequest marks a request's context: true when it carried the
// lobby key.
type keyedRequest struct{}

func (s *Server) serveCreateRoom(w http.ResponseWriter, r *http.Request) {
	req, ok := decodeBody(w, r, lobby.DecodeCreate)
	if !ok {
		return
	}
	// Rooms are counted against the address of the player who asked,
	// at the lobby it asked; another process's placement has been.
	placed := r.Header.Get(placedHeader) != ""
	if keyed, _ := r.Context().Value(keyedRequest{}).(bool); !keyed && !placed && !s.createLimit.allow(r.RemoteAddr, s.clock.Now()) {
		w.Header().Set("Retry-After", "5")
		writeError(w, http.StatusTooManyRequests, errors.New("too many rooms opened from this address: retry in a few seconds"))
		return
	}
	var (
		room   lobby.Room
		status int
		err    error
	)
	if placed { // another process's lobby chose this one
		room, status, err = s.createHere(req)
	} else {
		room, status, err = s.place(r.Context(), req, r.Header.Get("Authorization"))
	}
	if err != nil {
		writeError(w, status, err)
		return
	}
	writeJSON(w, http.StatusCreated, room)
}

func (s *Server) serveJoin(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if !wire.ValidRoomID(id) {
		writeError(w, http.StatusBadRequest, errors.New("room id must be 1 to 32 of a-z 0-9 - _"))
		return
	}
	req, ok := decodeBody(w, r, lobby.DecodeJoin)
	if !ok {
		return
	}
	resp, status, err := s.join(r.Context(), id, req, r.Header.Get("Authorization"), r.Header.Get(placedHeader) != "")
	if err != nil {
		writeError(w, status, err)
		return
	}
	writeJSON(w, http.StatusOK, resp)
}

func (s *Server) serveQuickPlay(w http.ResponseWriter, r *http.Request) {
	req, ok := decodeBody(w, r, lobby.DecodeQuickPlay)
	if !ok {
		return
	}
	resp, status, err := s.quickPlay(r.Context(), req, r.Header.Get("Authorization"))
	if err != nil {
		writeError(w, status, err)
		return
	}
	writeJSON(w, http.StatusOK, resp)
}

// decodeBody reads and decodes a lobby request body, answering the
// request itself when it is too large or invalid.
func decodeBody[T any](w http.ResponseWriter, r *http.Request, decode func([]byte) (T, error)) (T, bool) {
	var zero T
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, lobby.MaxBodyBytes))
	if err != nil {
		writeError(w, http.StatusRequestEntityTooLarge, fmt.Errorf("request body: %w", err))
		return zero, false
	}
	v, err := decode(b)
	if err != nil {
		writeError(w, http.StatusBadRequest, err)
		return zero, false
	}
	return v, true
}

// join gives a seat in room id: here, when this process runs it, or on
// the process that owns it, asked through its lobby (which decides).
// placed says another process's lobby sent the request: then the room
// must be here.
func (s *Server) join(ctx context.Context, id string, req lobby.JoinRequest, auth string, placed bool) (lobby.Join, int, error) {
	if s.draining.Load() {
		return lobby.Join{}, http.StatusServiceUnavailable, ErrDraining
	}
	if rm := s.lookupRoom(id); rm != nil {
		return s.seat(rm, req)
	}
	if placed {
		return lobby.Join{}, http.StatusNotFound, fmt.Errorf("no room %q on process %s", id, s.ProcessID)
	}
	rm, ok := s.findRoom(ctx, id)
	if !ok {
		return lobby.Join{}, http.StatusNotFound, fmt.Errorf("no room %q", id)
	}
	return s.joinOn(ctx, rm, req, auth)
}

// findRoom is room id on another process, from the directory or the
// rooms this lobby placed moments ago.
func (s *Server) findRoom(ctx context.Context, id string) (lobby.Room, bool) {
	for _, p := range s.peers(ctx) {
		for _, r := range p.Rooms {
			if r.ID == id {
				return lobbyRoom(r, p), true
			}
		}
	}
	return s.placed.find(id, s.clock.Now())
}

// seat holds a seat in rm, here, and issues the join.
// A spectator's join holds no seat: the hello is what counts it against
// the room's spectator cap, which is only checked here.
func (s *Server) seat(rm *room, req lobby.JoinRequest) (lobby.Join, int, error) {
	switch {
	case req.Spectate:
		if n := rm.spectators(); n >= s.MaxSpectators {
			return lobby.Join{}, http.StatusConflict, fmt.Errorf("room %q has no place left to watch from (%d spectators)", rm.id, n)
		}
	case !rm.hold(s.clock.Now()):
		return lobby.Join{}, http.StatusConflict, fmt.Errorf("room %q is full (%d players)", rm.id, rm.opts.Game.Capacity())
	}
	proc := s.processRecord()
	resp := lobby.Join{
		Spectate:        req.Spectate,
		Room:            rm.id,
		Process:         proc.ID,
		URL:             proc.URL,
		WebTransportURL: transportURL(proc.URL, transport.PathWebTransport, rm.id),
		WebSocketURL:    transportURL(proc.URL, transport.PathWebSocket, rm.id),
		CertHashes:      proc.CertHashes,
	}
	if s.signer != nil {
		exp := s.clock.Now().Add(s.TokenTTL).Truncate(time.Second)
		tok, err := s.signer.Sign(jointoken.Claims{Room: rm.id, PlayerID: req.PlayerID, PlayerName: req.PlayerName, Expires: exp.Unix()})
		if err != nil {
			return lobby.Join{}, http.StatusInternalServerError, err
		}
		resp.Token, resp.TokenExpires = tok, exp.UTC()
	}
	return resp, 0, nil
}

// transportURL is base's URL for path (/wt or /ws) naming room.
func transportURL(base, path, room string) string {
	u, err := url.Parse(base)
	if err != nil {
		return ""
	}
	if path == transport.PathWebSocket {
		u.Scheme = map[string]string{"https": "wss"}[u.Scheme]
		if u.Scheme == "" {
			u.Scheme = "ws"
		}
	} else {
		u.Scheme = "https"
	}
	u.Path = path
	u.RawQuery = url.Values{"room": {room}}.Encode()
	return u.String()
}

func writeError(w http.ResponseWriter, status int, err error) {
	writeJSON(w, status, lobby.ErrorBody{Error: err.Error()})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
