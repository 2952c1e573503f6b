package lobbyui

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tickwire/tickwire/client/reconnect"
	"github.com/tickwire/tickwire/netcode/client"
	"github.com/tickwire/tickwire/netcode/lobby"
	pb "github.com/tickwire/tickwire/proto/tickwire/v1"
)

func TestServerOf(t *testing.T) {
	for _, tc := range []struct {
		name, lobby, join, want string
	}{
		{"another process", "http://play.example:4433", "http://eu-2.example:4434", "http://eu-2.example:4434"},
		{"the same process", "https://play.example", "https://play.example", "https://play.example"},
		{"no URL in the join: the lobby's own process", "http://10.0.0.5:4433", "", "http://10.0.0.5:4433"},
		{"localhost from a lobby elsewhere: the lobby's host, the join's port",
			"http://10.77.0.1:4433", "http://localhost:4434", "http://10.77.0.1:4434"},
		{"127.0.0.1 likewise", "http://game.lan:4433", "http://127.0.0.1:5000", "http://game.lan:5000"},
		{"an IPv6 lobby host", "http://[fd00::1]:4433", "http://[::1]:4433", "http://[fd00::1]:4433"},
		{"a loopback join without a port", "http://10.0.0.5:4433", "https://localhost", "https://10.0.0.5"},
		{"a loopback lobby keeps loopback joins", "http://localhost:4433", "http://127.0.0.1:4434", "http://127.0.0.1:4434"},
	} {
		if got := ServerOf(tc.lobby, tc.join); got != tc.want {
			t.Errorf("%s: ServerOf(%q, %q) = %q, want %q", tc.name, tc.lobby, tc.join, got, tc.want)
		}
	}
}

func TestFromJoinPinsHashesOnlyWhenTrusted(t *testing.T) {
	h := sha256.Sum256([]byte("cert"))
	j := lobby.Join{Room: "duel", URL: "http://localhost:4434", Token: "tok", CertHashes: []string{base64.StdEncoding.EncodeToString(h[:])}}
	for _, tc := range []struct {
		name    string
		base    string
		trusted bool
		pins    int
	}{
		{"a trusted (loopback) server", "http://localhost:4433", true, 1},
		{"a lobby over https", "https://play.example", false, 1},
		{"plain http, not trusted: verify by chain", "http://play.example:4433", false, 0},
	} {
		got, err := FromJoin(tc.base, j, tc.trusted)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if got.Room != "duel" || got.Token != "tok" || len(got.CertHashes) != tc.pins {
			t.Errorf("%s: %+v, want room duel, token tok, %d pinned hashes", tc.name, got, tc.pins)
		}
		if tc.pins > 0 && got.CertHashes[0] != h {
			t.Errorf("%s: pinned %x, want %x", tc.name, got.CertHashes[0], h)
		}
	}
	j.CertHashes = []string{"not base64!"}
	if _, err := FromJoin("http://localhost:4433", j, true); err == nil {
		t.Error("a join with a malformed hash: no error")
	}
}

func TestLobbyMissing(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{&lobby.Error{Status: 404, Reason: "404 page not found"}, true},
		{&lobby.Error{Status: 405, Reason: "Method Not Allowed"}, true},
		{fmt.Errorf("joining: %w", &lobby.Error{Status: 404, Reason: `no room "x"`}), true},
		{&lobby.Error{Status: 401, Reason: "lobby key required"}, false},
		{&lobby.Error{Status: 409, Reason: "full"}, false},
		{&url.Error{Op: "Post", URL: "http://x/rooms/a/join", Err: errors.New("connection refused")}, false},
		{nil, false},
	} {
		if got := LobbyMissing(tc.err); got != tc.want {
			t.Errorf("LobbyMissing(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
}

func disconnect(r pb.DisconnectReason, text string) error {
	return &client.DisconnectError{Reason: r, Text: text}
}

func TestDescribeSaysWhatFailedInPlainWords(t *testing.T) {
	refused := &url.Error{Op: "Get", URL: "http://localhost:1/rooms", Err: &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}}
	for _, tc := range []struct {
		what string
		err  error
		want string
	}{
		{"join room duel", &lobby.Error{Status: 409, Reason: `room "duel" is full (2 players)`},
			`Could not join room duel: room "duel" is full (2 players)`},
		{"join room gone", &lobby.Error{Status: 404, Reason: `no room "gone"`}, `Could not join room gone: no room "gone"`},
		{"quick-play", &lobby.Error{Status: 404, Reason: "404 page not found"}, "Could not quick-play: this server's lobby does not offer that"},
		{"quick-play", &lobby.Error{Status: 405, Reason: "Method Not Allowed"}, "Could not quick-play: this server's lobby does not offer that"},
		{"create a room", &lobby.Error{Status: 401, Reason: "lobby key required"},
			"Could not create a room: this server's lobby takes requests only from its game's backend (it wants a lobby key)"},
		{"create a room", &lobby.Error{Status: 503, Reason: "too many rooms"}, "Could not create a room: the server is busy or shutting down (too many rooms)"},
		{"create a room", &lobby.Error{Status: 400, Reason: `body: json: unknown field "private"`},
			`Could not create a room: the lobby refused the request (body: json: unknown field "private")`},
		{"list the rooms", &lobby.Error{Status: 502, Reason: "bad gateway"}, "Could not list the rooms: the lobby answered 502 (bad gateway)"},
		{"list the rooms", fmt.Errorf("lobby: GET /rooms: %w", refused), "Could not list the rooms: cannot reach the server (dial tcp: connection refused)"},
		{"list the rooms", fmt.Errorf("lobby: GET /rooms: %w", &url.Error{Op: "Get", URL: "x", Err: errors.New("net/http: fetch() failed: Failed to fetch")}),
			"Could not list the rooms: cannot reach the server (net/http: fetch() failed: Failed to fetch)"},
		{"join room duel", fmt.Errorf("lobby: POST: %w", context.DeadlineExceeded), "Could not join room duel: the server did not answer in time"},
		{"join room duel", errors.New("something odd"), "Could not join room duel: something odd"},
		{"anything", nil, ""},
	} {
		if got := Describe(tc.what, tc.err); got != tc.want {
			t.Errorf("Describe(%q, %v) =\n  %q, want\n  %q", tc.what, tc.err, got, tc.want)
		}
	}
}

func TestEndedSaysWhyTheGameWentBackToTheLobby(t *testing.T) {
	for _, tc := range []struct {
		room string
		err  error
		want string
	}{
		{"duel", disconnect(pb.DisconnectReason_DISCONNECT_REASON_AUTH_FAILED, "token expired"),
			"Left the game in room duel: the server refused to let this player in (token expired); join again from the lobby"},
		{"duel", disconnect(pb.DisconnectReason_DISCONNECT_REASON_BAD_HELLO, `no room "duel" on this server`),
			`Left the game in room duel: no room "duel" on this server`},
		{"duel", disconnect(pb.DisconnectReason_DISCONNECT_REASON_SERVER_FULL, `room "duel" is full`), "Left the game in room duel: the room is full"},
		{"duel", disconnect(pb.DisconnectReason_DISCONNECT_REASON_REPLACED, "the same player connected again"),
			"Left the game in room duel: the same player joined again from elsewhere"},
		{"duel", disconnect(pb.DisconnectReason_DISCONNECT_REASON_VERSION_MISMATCH, "v2"),
			"Left the game in room duel: this game is another version than the server's; reload or update it"},
		{"", disconnect(pb.DisconnectReason_DISCONNECT_REASON_UNSPECIFIED, ""), "Left the game: the server ended the session"},
		{"duel", &reconnect.GaveUpError{For: 45*time.Second + 300*time.Millisecond, Err: disconnect(pb.DisconnectReason_DISCONNECT_REASON_SERVER_SHUTDOWN, "bye")},
			"Left the game in room duel: no connection to the server for 45s (the server shut down)"},
	} {
		if got := Ended(tc.room, tc.err); got != tc.want {
			t.Errorf("Ended(%q, %v) =\n  %q, want\n  %q", tc.room, tc.err, got, tc.want)
		}
	}
}

func TestRetryGivesUpOnAFullRoomAndFollowsRetryableOtherwise(t *testing.T) {
	for r := range pb.DisconnectReason_name {
		reason := pb.DisconnectReason(r)
		err := disconnect(reason, "x")
		want := reconnect.Retryable(err) && reason != pb.DisconnectReason_DISCONNECT_REASON_SERVER_FULL
		if got := Retry(err); got != want {
			t.Errorf("Retry(%s) = %v, want %v", reason, got, want)
		}
	}
	if !Retry(errors.New("connection reset")) {
		t.Error("a network error is not retried")
	}
	if Retry(fmt.Errorf("joining: %w", disconnect(pb.DisconnectReason_DISCONNECT_REASON_SERVER_FULL, ""))) {
		t.Error("a wrapped full-room refusal is retried")
	}
	if !strings.Contains(Ended("x", disconnect(pb.DisconnectReason_DISCONNECT_REASON_SERVER_SHUTDOWN, "")), "shut down") {
		t.Error("shutdown not described")
	}
}
