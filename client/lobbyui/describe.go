package lobbyui

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/tickwire/tickwire/client/reconnect"
	"github.com/tickwire/tickwire/netcode/client"
	"github.com/tickwire/tickwire/netcode/lobby"
	pb "github.com/tickwire/tickwire/proto/tickwire/v1"
)

// Describe says in plain words what went wrong while doing what (a
// phrase such as "join room duel", "quick play", "list the rooms" or "go
// on playing in room duel"): "Could not join room duel: the room is
// full". The server's own reason is kept: it names the room or field.
func Describe(what string, err error) string {
	if err == nil {
		return ""
	}
	return "Could not " + what + ": " + cause(err)
}

// Ended says why a game went back to the lobby.
func Ended(room string, err error) string {
	where := "the game"
	if room != "" {
		where = "the game in room " + room
	}
	return "Left " + where + ": " + cause(err)
}

func cause(err error) string {
	var (
		le *lobby.Error
		de *client.DisconnectError
		gu *reconnect.GaveUpError
		ue *url.Error
	)
	switch {
	case errors.As(err, &gu):
		return fmt.Sprintf("no connection to the server for %v (%s)", gu.For.Round(1e9), cause(gu.Err))
	case errors.As(err, &le):
		return lobbyCause(le)
	case errors.As(err, &de):
		return disconnectCause(de)
	case errors.Is(err, context.DeadlineExceeded):
		return "the server did not answer in time"
	case errors.As(err, &ue):
		return "cannot reach the server (" + ue.Err.Error() + ")"
	}
	return err.Error()
}

// lobbyCause is a lobby refusal in plain words.
func lobbyCause(e *lobby.Error) string {
	reason := strings.TrimSpace(e.Reason)
	switch e.Status {
	case http.StatusUnauthorized, http.StatusForbidden:
		return "this server's lobby takes requests only from its game's backend (it wants a lobby key)"
	case http.StatusNotFound, http.StatusMethodNotAllowed:
		if reason == "" || strings.Contains(reason, "page not found") || strings.Contains(reason, "Method Not Allowed") {
			return "this server's lobby does not offer that"
		}
		return reason
	case http.StatusConflict:
		return reason
	case http.StatusServiceUnavailable:
		return "the server is busy or shutting down (" + reason + ")"
	case http.StatusTooManyRequests:
		return "too many requests; wait a moment"
	case http.StatusBadRequest, http.StatusRequestEntityTooLarge:
		return "the lobby refused the request (" + reason + ")"
	}
	return fmt.Sprintf("the lobby answered %d (%s)", e.Status, reason)
}

// disconnectCause is a server's goodbye in plain words.
func disconnectCause(e *client.DisconnectError) string {
	text := e.Text
	switch e.Reason {
	case pb.DisconnectReason_DISCONNECT_REASON_AUTH_FAILED:
		return "the server refused to let this player in (" + text + "); join again from the lobby"
	case pb.DisconnectReason_DISCONNECT_REASON_SERVER_FULL:
		return "the room is full"
	case pb.DisconnectReason_DISCONNECT_REASON_SERVER_SHUTDOWN:
		return "the server shut down"
	case pb.DisconnectReason_DISCONNECT_REASON_TIMEOUT:
		return "the server heard nothing from this game for too long"
	case pb.DisconnectReason_DISCONNECT_REASON_REPLACED:
		return "the same player joined again from elsewhere"
	case pb.DisconnectReason_DISCONNECT_REASON_RATE_LIMITED:
		return "this game sent more than the server allows"
	case pb.DisconnectReason_DISCONNECT_REASON_VERSION_MISMATCH:
		return "this game is another version than the server's; reload or update it"
	case pb.DisconnectReason_DISCONNECT_REASON_PROTOCOL_VIOLATION:
		return "the server could not understand this game (" + text + ")"
	}
	if text == "" {
		return "the server ended the session"
	}
	return text // BAD_HELLO and others: the server's words ("no room \"x\" on this server")
}

// Retry is the reconnection policy of a game placed by the lobby:
// reconnect.Retryable, except that a full room is final too. The lobby
// held a seat for the player; if the room is full anyway (the seat was
// lost during a long outage), waiting will not bring it back, and the
// lobby shows rooms with room in them.
func Retry(err error) bool {
	var de *client.DisconnectError
	if errors.As(err, &de) && de.Reason == pb.DisconnectReason_DISCONNECT_REASON_SERVER_FULL {
		return false
	}
	return reconnect.Retryable(err)
}
