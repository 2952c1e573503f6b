//go:build !js

package client

import "github.com/tickwire/tickwire/netcode/lobby"

func newLobbyAPI(base, key string) lobbyAPI { return &lobby.Client{Base: base, Key: key} }
