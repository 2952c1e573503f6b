// Command server runs a dedicated Tickwire arena server.
//
//	go run ./cmd/server                      # localhost:4433, 30 Hz, self-signed cert
//	go run ./cmd/server -addr :4433 -tick-rate 60 -cert cert.pem -key key.pem
//
// It listens on one port number: TCP for HTTP (/ws, /cert-hash, /healthz)
// and UDP for HTTP/3 + WebTransport (/wt). SIGINT or SIGTERM tells every
// client the server is shutting down, then exits.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/tickwire/tickwire/client/web"
	"github.com/tickwire/tickwire/game"
	"github.com/tickwire/tickwire/netcode"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "server:", err)
		os.Exit(1)
	}
}

func run() error {
	var (
		srv      netcode.Server
		origins  string
		webDir   string
		logLevel slog.Level
	)
	flag.StringVar(&srv.Addr, "addr", "localhost:4433", "listen `host:port` for TCP and UDP; localhost means 127.0.0.1 and ::1")
	flag.IntVar(&srv.Game.TickRate, "tick-rate", 30, "simulation rate in Hz: 20, 30 or 60")
	flag.IntVar(&srv.Game.MaxPlayers, "max-players", 100, "most players in the room (also sizes the arena)")
	flag.Uint64Var(&srv.Game.Seed, "seed", 1, "seed of the world's randomness")
	flag.Float64Var(&srv.AOIRadius, "aoi", 0, "send each client only entities within this `radius` of its player (0: everything)")
	flag.StringVar(&srv.CertFile, "cert", "", "TLS certificate `file` (default: self-signed, rotated)")
	flag.StringVar(&srv.KeyFile, "key", "", "TLS key `file`")
	flag.StringVar(&origins, "origins", "", "comma-separated browser `origins` allowed to connect (default: the server's own)")
	flag.StringVar(&webDir, "web", "", "serve the browser client at / from `dir` (client.wasm and wasm_exec.js; see scripts/serve.sh)")
	flag.TextVar(&logLevel, "log-level", slog.LevelInfo, "log `level`: debug, info, warn, error")
	flag.Parse()
	if (srv.CertFile == "") != (srv.KeyFile == "") {
		return errors.New("-cert and -key go together")
	}
	if origins != "" {
		srv.AllowedOrigins = strings.Split(origins, ",")
	}
	if err := (game.Config{TickRate: srv.Game.TickRate, MaxPlayers: srv.Game.MaxPlayers}).Validate(); err != nil {
		return err
	}
	if webDir != "" {
		if err := web.Check(webDir); err != nil {
			return fmt.Errorf("-web: %w (scripts/serve.sh builds it)", err)
		}
		srv.Handler = web.Handler(webDir)
	}
	srv.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: logLevel}))

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	errc := make(chan error, 1)
	go func() { errc <- srv.Run(ctx) }()
	select {
	case err := <-errc:
		return err
	case <-srv.Ready():
	}
	srv.Logger.Info("tickwire server listening",
		"url", srv.URL(), "webtransport", srv.URL()+"/wt", "websocket", srv.URL()+"/ws",
		"cert_hash", srv.URL()+"/cert-hash", "tick_rate", srv.Room().Params().TickRate)
	return <-errc
}
