//go:build !js

// Command client is the Tickwire game on the desktop. It opens on the
// lobby of the server (localhost:4433 by default): its rooms, quick play,
// a panel to create one; -room or -quick skip the lobby.
//
//	go run ./cmd/client                                   # the lobby; WebTransport then WebSocket
//	go run ./cmd/client -server http://host:4433 -name ann -transport ws
//	go run ./cmd/client -room duel                        # straight into room duel
//	go run ./cmd/client -quick                            # straight into whatever room the lobby picks
//	go run ./cmd/client -spectate duel                    # watch room duel: Tab follows the next player, F the free camera
//	go run ./cmd/client -replay rec/default-20260102T030405Z-0.twr   # play a recorded match
//
// Esc in a game goes back to the lobby. In the lobby, W watches the
// selected room instead of playing in it.
//
// Against a self-signed server it pins the hashes the server lists at
// /cert-hash, but only when told to trust that server: -trust-cert-hash,
// on by default for loopback hosts. Certificates are always verified,
// by pin or by chain. In a browser the same game runs from main_js.go.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/tickwire/tickwire/client"
	"github.com/tickwire/tickwire/netcode/transport"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "client:", err)
		os.Exit(1)
	}
}

func run() error {
	var (
		cfg      client.Config
		via      string
		logLevel slog.Level
	)
	flag.StringVar(&cfg.Server, "server", "http://localhost:4433", "server base `URL`")
	flag.StringVar(&cfg.Name, "name", "player", "player `name` (1 to 32 bytes)")
	flag.StringVar(&cfg.Room, "room", "", "`id` of a room to join at once, skipping the lobby")
	spectate := flag.String("spectate", "", "`id` of a room to watch at once as a spectator, skipping the lobby (Tab: next player, F: free camera)")
	flag.BoolVar(&cfg.Quick, "quick", false, "quick-play at once, skipping the lobby: the lobby picks (or opens) a room")
	flag.StringVar(&cfg.Replay, "replay", "", "play the recorded match in `file` (a server's -record directory holds them) instead of joining a game")
	flag.StringVar(&cfg.LobbyKey, "lobby-key", "", "the server's lobby `key`, for a lobby that wants one (its -lobby-key)")
	flag.StringVar(&via, "transport", "auto", "transport: wt, ws or auto (WebTransport, falling back to WebSocket)")
	flag.BoolVar(&cfg.TrustCertHash, "trust-cert-hash", false, "pin the certificate hashes the server lists at /cert-hash (default true for loopback servers)")
	flag.BoolVar(&cfg.Debug, "debug", false, "show the net graph from the start (F3 toggles it)")
	flag.Float64Var(&cfg.Zoom, "zoom", 1, "screen pixels per world unit")
	flag.TextVar(&logLevel, "log-level", slog.LevelInfo, "log `level`: debug, info, warn, error")
	flag.Parse()
	if *spectate != "" {
		if cfg.Room != "" || cfg.Quick {
			return errors.New("-spectate watches a room: drop -room and -quick")
		}
		cfg.Room, cfg.Spectate = *spectate, true
	}
	if cfg.Room != "" && cfg.Quick {
		return errors.New("-room and -quick: choose one")
	}
	if cfg.Replay != "" && (cfg.Room != "" || cfg.Quick) {
		return errors.New("-replay plays a recording: drop -room, -quick and -spectate")
	}
	trustSet := false
	flag.Visit(func(f *flag.Flag) { trustSet = trustSet || f.Name == "trust-cert-hash" })
	if !trustSet {
		cfg.TrustCertHash = client.IsLoopback(cfg.Server)
	}
	switch via {
	case "wt":
		cfg.Transport = transport.WebTransport
	case "ws":
		cfg.Transport = transport.WebSocket
	case "auto", "":
	default:
		return fmt.Errorf("-transport %q: want wt, ws or auto", via)
	}
	cfg.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: logLevel}))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return client.Run(ctx, cfg)
}
