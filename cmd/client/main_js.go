//go:build js

package main

// The browser build: the page's URL configures the game. Without room
// or play it opens on the lobby.
//
//	/?name=ann            player name (default "player")
//	/?room=duel           join room duel at once, skipping the lobby
//	/?play=now            quick-play at once: the lobby picks (or opens) a room
//	/?spectate=duel       watch room duel at once (Tab: next player, F: free camera)
//	/?replay=NAME         play the server's recording NAME (listed at /replays)
//	/?transport=ws        force WebSocket (wt forces WebTransport)
//	/?debug=1             net graph on from the start
//	/?zoom=0.5            screen pixels per world unit
//
// The server is the page's own origin, so the page trusts the
// certificate hash that origin lists when the page came over plain http
// (a development server); over https the certificate is verified by the
// browser as usual.

import (
	"context"
	"log/slog"
	"net/url"
	"strconv"
	"strings"
	"syscall/js"

	"github.com/tickwire/tickwire/client"
	"github.com/tickwire/tickwire/netcode/transport"
)

func main() {
	loc := js.Global().Get("location")
	q, _ := url.ParseQuery(strings.TrimPrefix(loc.Get("search").String(), "?"))
	cfg := client.Config{
		Server:        loc.Get("origin").String(),
		Name:          q.Get("name"),
		Room:          q.Get("room"),
		Replay:        q.Get("replay"),
		Quick:         q.Get("room") == "" && q.Get("spectate") == "" && q.Get("play") == "now",
		TrustCertHash: loc.Get("protocol").String() == "http:",
		Debug:         q.Get("debug") == "1" || q.Get("debug") == "true",
	}
	if cfg.Name == "" {
		cfg.Name = "player"
	}
	if room := q.Get("spectate"); room != "" && cfg.Room == "" {
		cfg.Room, cfg.Spectate = room, true
	}
	switch q.Get("transport") {
	case "ws":
		cfg.Transport = transport.WebSocket
	case "wt":
		cfg.Transport = transport.WebTransport
	}
	if z, err := strconv.ParseFloat(q.Get("zoom"), 64); err == nil && z > 0 {
		cfg.Zoom = z
	}
	if err := client.Run(context.Background(), cfg); err != nil {
		slog.Error("client stopped", "err", err)
	}
}
