// Package lobby is the lobby's HTTP API, both sides of it: the paths,
// the request and response bodies with their strict decoders (the server
// decodes what players send with them), and Client, which every Tickwire
// client (desktop, browser, bots) uses to list rooms, create one, join one
// or quick-play.
//
// A join answers with everything a client needs to reach the room on
// whichever process owns it: that process's URL, its certificate hashes
// (when self-signed) and a join token. Any process's lobby answers for
// every process sharing its directory.
package lobby

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/tickwire/tickwire/game"
	"github.com/tickwire/tickwire/netcode/wire"
)

// Paths of the lobby on a server's TCP side.
const (
	PathRooms     = "/rooms"     // GET: list the listed rooms; POST: create (placed on the least-loaded process)
	PathQuickPlay = "/quickplay" // POST: a seat in the fullest matching room, or a new room
	// POST PathRooms + "/{id}/join": a seat in room id (private rooms too).
)

// MaxBodyBytes bounds a lobby request body.
const MaxBodyBytes = 4 << 10

// MaxCreatedRoomPlayers bounds max_players of a room created through the
// lobby.
const MaxCreatedRoomPlayers = 1000

// RoomState is what a room's owning process says of it (and publishes
// in the room directory).
type RoomState struct {
	ID string `json:"id"`
	// Players counts seats taken: players playing, players the room keeps
	// for their reconnect, and seats held for players the lobby sent.
	Players  int `json:"players"`
	Capacity int `json:"capacity"`
	// Spectators counts the sessions watching the room; they take no
	// seat (see JoinRequest.Spectate).
	Spectators int  `json:"spectators"`
	TickRate   int  `json:"tick_rate"`
	AOI        bool `json:"aoi"`
	// Private rooms are joinable by ID but never listed.
	Private bool `json:"private,omitempty"`
}

// Room is one room as the lobby lists it: its state and where it runs.
type Room struct {
	RoomState
	// Process names the process that runs the room, Region where it runs
	// (if its operator said), URL its base URL.
	Process string `json:"process"`
	Region  string `json:"region,omitempty"`
	URL     string `json:"url"`
}

// Rooms is the body of GET /rooms.
type Rooms struct {
	Rooms []Room `json:"rooms"`
}

// CreateRequest is the body of POST /rooms. Every field is optional;
// zero means the server's default.
type CreateRequest struct {
	ID         string  `json:"id,omitempty"`
	MaxPlayers int     `json:"max_players,omitempty"`
	TickRate   int     `json:"tick_rate,omitempty"`
	AOIRadius  float64 `json:"aoi_radius,omitempty"`
	Seed       uint64  `json:"seed,omitempty"`
	Private    bool    `json:"private,omitempty"`
	// Record asks the server to record the match (it must run with a
	// recordings directory; the room is refused otherwise).
	Record bool `json:"record,omitempty"`
}

// JoinRequest is the body of POST /rooms/{id}/join; it may be empty.
type JoinRequest struct {
	PlayerID   string `json:"player_id,omitempty"`
	PlayerName string `json:"player_name,omitempty"`
	// Spectate asks to watch rather than play: no seat is held (the room
	// may be full of players), and the client says hello with spectate
	// set. The room's spectator cap still applies.
	Spectate bool `json:"spectate,omitempty"`
}

// QuickPlayRequest is the body of POST /quickplay; it may be empty. A
// zero TickRate matches the server's default tick rate.
type QuickPlayRequest struct {
	TickRate   int    `json:"tick_rate,omitempty"`
	PlayerID   string `json:"player_id,omitempty"`
	PlayerName string `json:"player_name,omitempty"`
}

// Join is everything a client needs to join a room: dial URL (or one of
// the transport URLs, which name the room), pin CertHashes (when the
// owning process's certificate is self-signed) and send Token in the
// hello. The owning process holds the seat for SeatHold.
type Join struct {
	Room            string    `json:"room"`
	Process         string    `json:"process"`
	URL             string    `json:"url"`
	WebTransportURL string    `json:"webtransport_url"`
	WebSocketURL    string    `json:"websocket_url"`
	CertHashes      []string  `json:"cert_hashes,omitempty"`
	Token           string    `json:"token,omitempty"`
	TokenExpires    time.Time `json:"token_expires,omitzero"`
	// Created is set when quick play opened the room for this player.
	Created bool `json:"created,omitempty"`
	// Spectate echoes JoinRequest.Spectate: the client must say hello as a
	// spectator.
	Spectate bool `json:"spectate,omitempty"`
}

// SeatHold is how long the owning process keeps a seat for a player the
// lobby sent to it, counted against the room's capacity, before the
// player's connection arrives.
const SeatHold = 15 * time.Second

// ErrorBody is the body of every lobby error.
type ErrorBody struct {
	Error string `json:"error"`
}

// DecodeCreate decodes and validates a POST /rooms body (empty means all
// defaults). Errors name the bad field.
func DecodeCreate(body []byte) (CreateRequest, error) {
	var req CreateRequest
	if err := decodeStrict(body, &req); err != nil {
		return req, err
	}
	if req.ID != "" && !wire.ValidRoomID(req.ID) {
		return req, errors.New("id: want 1 to 32 of a-z 0-9 - _")
	}
	if req.MaxPlayers < 0 || req.MaxPlayers > MaxCreatedRoomPlayers {
		return req, fmt.Errorf("max_players: %d out of [1, %d]", req.MaxPlayers, MaxCreatedRoomPlayers)
	}
	if err := checkTickRate(req.TickRate); err != nil {
		return req, err
	}
	if req.AOIRadius < 0 || req.AOIRadius > game.MaxArenaSize || req.AOIRadius != req.AOIRadius {
		return req, fmt.Errorf("aoi_radius: %v out of [0, %d]", req.AOIRadius, game.MaxArenaSize)
	}
	return req, nil
}

// DecodeJoin decodes and validates a POST /rooms/{id}/join body (empty
// is allowed).
func DecodeJoin(body []byte) (JoinRequest, error) {
	var req JoinRequest
	if err := decodeStrict(body, &req); err != nil {
		return req, err
	}
	return req, checkPlayer(req.PlayerID, req.PlayerName)
}

// DecodeQuickPlay decodes and validates a POST /quickplay body (empty is
// allowed).
func DecodeQuickPlay(body []byte) (QuickPlayRequest, error) {
	var req QuickPlayRequest
	if err := decodeStrict(body, &req); err != nil {
		return req, err
	}
	if err := checkTickRate(req.TickRate); err != nil {
		return req, err
	}
	return req, checkPlayer(req.PlayerID, req.PlayerName)
}

func checkTickRate(hz int) error {
	if err := (game.Config{TickRate: hz}).Validate(); err != nil {
		return fmt.Errorf("tick_rate: %d not 20, 30 or 60", hz)
	}
	return nil
}

// MaxPlayerIDBytes bounds a player id in a join.
const MaxPlayerIDBytes = 128

func checkPlayer(id, name string) error {
	if len(id) > MaxPlayerIDBytes {
		return fmt.Errorf("player_id: %d bytes, at most %d", len(id), MaxPlayerIDBytes)
	}
	if name != "" {
		if err := wire.ValidatePlayerName(name); err != nil {
			return fmt.Errorf("player_name: %w", err)
		}
	}
	return nil
}

// decodeStrict decodes one JSON object with no unknown fields; an empty
// body leaves v as it is.
func decodeStrict(body []byte, v any) error {
	if len(bytes.TrimSpace(body)) == 0 {
		return nil
	}
	if len(body) > MaxBodyBytes {
		return fmt.Errorf("body: %d bytes, at most %d", len(body), MaxBodyBytes)
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
