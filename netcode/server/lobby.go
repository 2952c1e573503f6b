package server

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/tickwire/tickwire/game"
	"github.com/tickwire/tickwire/netcode/jointoken"
	"github.com/tickwire/tickwire/netcode/server/directory"
	"github.com/tickwire/tickwire/netcode/transport"
	"github.com/tickwire/tickwire/netcode/wire"
)

// Lobby and operations paths on the TCP side.
const (
	PathRooms   = "/rooms"   // GET: list; POST: create
	PathMetrics = "/metrics" // Prometheus text format
	PathHealthz = "/healthz" // 200 while the process runs
	PathReadyz  = "/readyz"  // 200 while accepting players, 503 starting or draining
)

// MaxLobbyBodyBytes bounds a lobby request body.
const MaxLobbyBodyBytes = 4 << 10

// MaxCreatedRoomPlayers bounds max_players of a room created through the
// lobby.
const MaxCreatedRoomPlayers = 1000

// LobbyRoom is one room in GET /rooms.
type LobbyRoom struct {
	directory.Room
	// Process names the process that runs the room; URL is its base URL.
	Process string `json:"process"`
	URL     string `json:"url"`
}

// LobbyRooms is the body of GET /rooms.
type LobbyRooms struct {
	Rooms []LobbyRoom `json:"rooms"`
}

// CreateRoomRequest is the body of POST /rooms. Every field is optional;
// zero means the server's default.
type CreateRoomRequest struct {
	ID         string  `json:"id,omitempty"`
	MaxPlayers int     `json:"max_players,omitempty"`
	TickRate   int     `json:"tick_rate,omitempty"`
	AOIRadius  float64 `json:"aoi_radius,omitempty"`
	Seed       uint64  `json:"seed,omitempty"`
}

// JoinRequest is the body of POST /rooms/{id}/join; it may be empty.
type JoinRequest struct {
	PlayerID   string `json:"player_id,omitempty"`
	PlayerName string `json:"player_name,omitempty"`
}

// JoinResponse is everything a client needs to join a room: dial URL (or
// one of the transport URLs, which name the room), pin CertHashes (when
// the server's certificate is self-signed) and send Token in the hello.
type JoinResponse struct {
	Room            string    `json:"room"`
	Process         string    `json:"process"`
	URL             string    `json:"url"`
	WebTransportURL string    `json:"webtransport_url"`
	WebSocketURL    string    `json:"websocket_url"`
	CertHashes      []string  `json:"cert_hashes,omitempty"`
	Token           string    `json:"token,omitempty"`
	TokenExpires    time.Time `json:"token_expires,omitzero"`
}

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
	mux.HandleFunc("GET "+PathRooms, s.serveListRooms)
	mux.HandleFunc("POST "+PathRooms, s.lobbyKeyed(s.serveCreateRoom))
	mux.HandleFunc("POST "+PathRooms+"/{id}/join", s.lobbyKeyed(s.serveJoin))
	if s.Handler != nil {
		mux.Handle("/", s.Handler)
	}
	return mux
}

// lobbyKeyed requires LobbyKey, when set, as a bearer token.
func (s *Server) lobbyKeyed(h http.HandlerFunc) http.HandlerFunc {
	if s.LobbyKey == "" {
		return h
	}
	want := sha256.Sum256([]byte("Bearer " + s.LobbyKey))
	return func(w http.ResponseWriter, r *http.Request) {
		got := sha256.Sum256([]byte(r.Header.Get("Authorization")))
		if subtle.ConstantTimeCompare(got[:], want[:]) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="tickwire lobby"`)
			writeError(w, http.StatusUnauthorized, errors.New("lobby key required (Authorization: Bearer ...)"))
			return
		}
		h(w, r)
	}
}

func (s *Server) serveListRooms(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, LobbyRooms{Rooms: s.allRooms(r.Context())})
}

// allRooms lists this process's rooms (live) and the directory's rooms of
// the other processes that are not draining.
func (s *Server) allRooms(ctx context.Context) []LobbyRoom {
	out := []LobbyRoom{}
	for _, ri := range s.Rooms() {
		out = append(out, LobbyRoom{Room: ri, Process: s.ProcessID, URL: s.publicBase()})
	}
	procs, err := s.dir.Processes(ctx)
	if err != nil {
		s.log.Warn("lobby: reading the room directory; listing this process only", "err", err)
		return out
	}
	for _, p := range procs {
		if p.ID == s.ProcessID || p.Draining {
			continue
		}
		for _, ri := range p.Rooms {
			out = append(out, LobbyRoom{Room: ri, Process: p.ID, URL: p.URL})
		}
	}
	return out
}

func (s *Server) serveCreateRoom(w http.ResponseWriter, r *http.Request) {
	body, err := readLobbyBody(w, r)
	if err != nil {
		writeError(w, http.StatusRequestEntityTooLarge, err)
		return
	}
	req, err := DecodeCreateRoom(body)
	if err != nil {
		writeError(w, http.StatusBadRequest, err)
		return
	}
	opts := RoomOptions{ID: req.ID, Game: s.Game, AOIRadius: s.AOIRadius}
	if req.MaxPlayers != 0 {
		opts.Game.MaxPlayers, opts.Game.Size = req.MaxPlayers, 0
	}
	if req.TickRate != 0 {
		opts.Game.TickRate = req.TickRate
	}
	if req.AOIRadius != 0 {
		opts.AOIRadius = req.AOIRadius
	}
	if req.Seed != 0 {
		opts.Game.Seed = req.Seed
	}
	info, err := s.CreateRoom(opts)
	switch {
	case errors.Is(err, ErrRoomExists):
		writeError(w, http.StatusConflict, err)
	case errors.Is(err, ErrTooManyRooms), errors.Is(err, ErrDraining):
		writeError(w, http.StatusServiceUnavailable, err)
	case err != nil:
		writeError(w, http.StatusBadRequest, err)
	default:
		writeJSON(w, http.StatusCreated, LobbyRoom{Room: info, Process: s.ProcessID, URL: s.publicBase()})
	}
}

func (s *Server) serveJoin(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if !wire.ValidRoomID(id) {
		writeError(w, http.StatusBadRequest, errors.New("room id must be 1 to 32 of a-z 0-9 - _"))
		return
	}
	body, err := readLobbyBody(w, r)
	if err != nil {
		writeError(w, http.StatusRequestEntityTooLarge, err)
		return
	}
	req, err := DecodeJoinRequest(body)
	if err != nil {
		writeError(w, http.StatusBadRequest, err)
		return
	}
	if s.draining.Load() {
		writeError(w, http.StatusServiceUnavailable, ErrDraining)
		return
	}
	resp, status, err := s.join(r.Context(), id, req)
	if err != nil {
		writeError(w, status, err)
		return
	}
	writeJSON(w, http.StatusOK, resp)
}

// join finds room id here or, through the directory, on another process,
// and issues the join.
func (s *Server) join(ctx context.Context, id string, req JoinRequest) (JoinResponse, int, error) {
	var proc directory.Process
	var found *directory.Room
	if rm := s.lookupRoom(id); rm != nil {
		ri := rm.info()
		proc, found = s.processRecord(), &ri
	} else {
		procs, err := s.dir.Processes(ctx)
		if err != nil {
			return JoinResponse{}, http.StatusServiceUnavailable, fmt.Errorf("room directory: %w", err)
		}
		for _, p := range procs {
			if p.ID == s.ProcessID || p.Draining {
				continue
			}
			for i := range p.Rooms {
				if p.Rooms[i].ID == id && (found == nil || p.Rooms[i].Players < p.Rooms[i].Capacity) {
					proc, found = p, &p.Rooms[i]
				}
			}
		}
	}
	if found == nil {
		return JoinResponse{}, http.StatusNotFound, fmt.Errorf("no room %q", id)
	}
	if found.Players >= found.Capacity {
		return JoinResponse{}, http.StatusConflict, fmt.Errorf("room %q is full (%d players)", id, found.Capacity)
	}
	resp := JoinResponse{
		Room:            id,
		Process:         proc.ID,
		URL:             proc.URL,
		WebTransportURL: transportURL(proc.URL, transport.PathWebTransport, id),
		WebSocketURL:    transportURL(proc.URL, transport.PathWebSocket, id),
		CertHashes:      proc.CertHashes,
	}
	if s.signer != nil {
		exp := time.Now().Add(s.TokenTTL).Truncate(time.Second)
		tok, err := s.signer.Sign(jointoken.Claims{Room: id, PlayerID: req.PlayerID, PlayerName: req.PlayerName, Expires: exp.Unix()})
		if err != nil {
			return JoinResponse{}, http.StatusInternalServerError, err
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

func readLobbyBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxLobbyBodyBytes))
	if err != nil {
		return nil, fmt.Errorf("request body: %w", err)
	}
	return b, nil
}

// DecodeCreateRoom decodes and validates a POST /rooms body (empty means
// all defaults). Errors name the bad field.
func DecodeCreateRoom(body []byte) (CreateRoomRequest, error) {
	var req CreateRoomRequest
	if err := decodeStrict(body, &req); err != nil {
		return req, err
	}
	if req.ID != "" && !wire.ValidRoomID(req.ID) {
		return req, errors.New("id: want 1 to 32 of a-z 0-9 - _")
	}
	if req.MaxPlayers < 0 || req.MaxPlayers > MaxCreatedRoomPlayers {
		return req, fmt.Errorf("max_players: %d out of [1, %d]", req.MaxPlayers, MaxCreatedRoomPlayers)
	}
	if err := (game.Config{TickRate: req.TickRate}).Validate(); err != nil {
		return req, fmt.Errorf("tick_rate: %d not 20, 30 or 60", req.TickRate)
	}
	if req.AOIRadius < 0 || req.AOIRadius > game.MaxArenaSize || req.AOIRadius != req.AOIRadius {
		return req, fmt.Errorf("aoi_radius: %v out of [0, %d]", req.AOIRadius, game.MaxArenaSize)
	}
	return req, nil
}

// DecodeJoinRequest decodes and validates a POST /rooms/{id}/join body
// (empty is allowed).
func DecodeJoinRequest(body []byte) (JoinRequest, error) {
	var req JoinRequest
	if err := decodeStrict(body, &req); err != nil {
		return req, err
	}
	if len(req.PlayerID) > 128 {
		return req, fmt.Errorf("player_id: %d bytes, at most 128", len(req.PlayerID))
	}
	if req.PlayerName != "" {
		if err := wire.ValidatePlayerName(req.PlayerName); err != nil {
			return req, fmt.Errorf("player_name: %w", err)
		}
	}
	return req, nil
}

// decodeStrict decodes one JSON object with no unknown fields; an empty
// body leaves v as it is.
func decodeStrict(body []byte, v any) error {
	if len(bytes.TrimSpace(body)) == 0 {
		return nil
	}
	if len(body) > MaxLobbyBodyBytes {
		return fmt.Errorf("body: %d bytes, at most %d", len(body), MaxLobbyBodyBytes)
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("body: %w", err)
	}
	if dec.More() {
		return errors.New("body: more than one JSON value")
	}
	return nil
}

type errorBody struct {
	Error string `json:"error"`
}

func writeError(w http.ResponseWriter, status int, err error) {
	writeJSON(w, status, errorBody{Error: err.Error()})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
