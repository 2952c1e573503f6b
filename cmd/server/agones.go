package main

import (
	"context"
	"log/slog"
	"time"

	"github.com/tickwire/tickwire/netcode/server"
	"github.com/tickwire/tickwire/netcode/server/agones"
)

// agonesRun is the Agones side of a process that an Agones GameServer
// runs (see docs/HOSTING.md): Ready once listening, health pings, the
// GameServer's address as the lobby's public URL, the process's rooms
// and players as Counters and a List, Shutdown after the drain.
type agonesRun struct {
	drained chan struct{}
	done    chan error
	logger  *slog.Logger
}

// startAgones starts speaking to the Agones SDK sidecar, if -agones says
// so (by default: when AGONES_SDK_HTTP_PORT is set); nil if not. Call it
// before srv.Run; its stop after srv.Run has returned.
func startAgones(cfg *config, srv *server.Server, logger *slog.Logger) *agonesRun {
	client, inPod := agones.FromEnv()
	if !cfg.agones(inPod) {
		return nil
	}
	a := &agonesRun{drained: make(chan struct{}), done: make(chan error, 1), logger: logger}
	l := &agones.Lifecycle{
		Client: client, HealthInterval: cfg.AgonesHealth, Logger: logger,
		// Polled from its own goroutine once srv is Ready (srv.MaxRooms is
		// set by then).
		Counts: func() agones.Counts { return agonesCounts(srv) },
	}
	var lastState, lastAddr string // the watch's goroutine only
	l.OnGameServer = func(gs agones.GameServer) {
		if gs.Status.State != lastState {
			lastState = gs.Status.State
			logger.Info("agones: GameServer state", "state", lastState)
		}
		// Unless told otherwise, the lobby hands out the pod's public
		// address (the certificate is pinned by hash, not by name).
		if addr := gs.PublicAddr(); addr != "" && addr != lastAddr && cfg.PublicURL == "" {
			lastAddr = addr
			srv.SetPublicURL(cfg.scheme() + "://" + addr)
			logger.Info("agones: public address", "url", cfg.scheme()+"://"+addr)
		}
	}
	go func() { a.done <- l.Run(context.Background(), srv.Ready(), a.drained) }()
	return a
}

// agonesCounts is what the process reports through Agones' Counters and
// Lists: its rooms and their players (agones.RoomCounts). Once it drains
// it has no space left for allocations.
func agonesCounts(srv *server.Server) agones.Counts {
	infos := srv.Rooms()
	rooms := make([]agones.Room, len(infos))
	for i, r := range infos {
		rooms[i] = agones.Room{ID: r.ID, Players: r.Players, Capacity: r.Capacity}
	}
	draining := false
	select {
	case <-srv.Draining():
		draining = true
	default:
	}
	return agones.RoomCounts(rooms, srv.MaxRooms, draining)
}

// stop tells the sidecar to shut the GameServer down, waiting up to 5s
// for it; a nil a does nothing.
func (a *agonesRun) stop() {
	if a == nil {
		return
	}
	close(a.drained)
	select {
	case err := <-a.done:
		if err != nil {
			a.logger.Warn("agones: shutdown", "err", err)
		}
	case <-time.After(5 * time.Second):
		a.logger.Warn("agones: sidecar did not answer Shutdown in 5s")
	}
}
