package client

import (
	"context"

	"github.com/tickwire/tickwire/netcode/lobby"
)

// lobbyAPI is the server's lobby as the game calls it: lobby.Client on
// the desktop; in a browser the page's own fetch (lobbyapi_js.go), since
// calling lobby.Client there would link net/http's whole client (its
// transports, HTTP/2) into the wasm, some 1.3 MB more for every player
// to download, to end up in fetch anyway.
type lobbyAPI interface {
	Rooms(ctx context.Context) ([]lobby.Room, error)
	Create(ctx context.Context, req lobby.CreateRequest) (lobby.Room, error)
	Join(ctx context.Context, id string, req lobby.JoinRequest) (lobby.Join, error)
	QuickPlay(ctx context.Context, req lobby.QuickPlayRequest) (lobby.Join, error)
}
