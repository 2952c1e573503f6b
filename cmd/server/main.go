// Command server runs a dedicated Tickwire arena server.
//
//	go run ./cmd/server                      # localhost:4433, 30 Hz, self-signed cert
//	go run ./cmd/server -addr :4433 -tick-rate 60 -cert cert.pem -key key.pem
//	TICKWIRE_TOKEN_SECRET=... go run ./cmd/server -require-tokens -redis redis://localhost:6379/0
//
// It listens on one port number: TCP for HTTP (/ws, /cert-hash, /rooms,
// /metrics, /healthz, /readyz) and UDP for HTTP/3 + WebTransport (/wt).
// Settings come from flags, then TICKWIRE_* variables, then a JSON config
// file, then defaults (see config.go and docs/HOSTING.md).
//
// SIGTERM or SIGINT drains: no new players, /readyz 503, players keep
// playing for up to -drain-timeout, then are told the server is shutting
// down, and the process exits 0. A second signal ends the drain at once.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/tickwire/tickwire/internal/cpuprofile"
	"github.com/tickwire/tickwire/netcode/lobby"
	"github.com/tickwire/tickwire/netcode/server"
	"github.com/tickwire/tickwire/netcode/server/directory/redisdir"
	"github.com/tickwire/tickwire/netcode/transport"
)

func main() {
	if err := run(); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return
		}
		fmt.Fprintln(os.Stderr, "server:", err)
		os.Exit(1)
	}
}

func run() error {
	cfg, err := loadConfig(os.Args[1:], os.LookupEnv, os.Stderr)
	if err != nil {
		return err
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: cfg.LogLevel}))
	if unknown := unknownEnv(os.Environ()); len(unknown) > 0 {
		logger.Warn("ignoring environment variables that name no setting", "vars", unknown)
	}
	if cfg.CPUProfile != "" {
		stop, err := cpuprofile.Start(cfg.CPUProfile)
		if err != nil {
			return err
		}
		defer stop()
	}
	srv := cfg.server(logger)
	if cfg.RequireTokens && cfg.LobbyKey == "" {
		logger.Warn("-require-tokens without -lobby-key: anyone can get a join token from POST /rooms/{id}/join")
	}

	if cfg.Redis != "" {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		dir, err := redisdir.Open(ctx, cfg.Redis)
		cancel()
		if err != nil {
			return fmt.Errorf("-redis: %w", err)
		}
		defer dir.Close()
		srv.Directory = dir
	}

	// The first signal drains; a second one ends the drain at once.
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sigs)
	ctx, drain := context.WithCancel(context.Background())
	defer drain()
	go func() {
		s := <-sigs
		logger.Info("signal: draining", "signal", s.String(), "drain_timeout", cfg.DrainTimeout)
		drain()
		<-sigs
		logger.Info("second signal: stopping now")
		srv.StopNow()
	}()

	// SIGHUP reads -cert and -key again now (they are also reloaded when
	// they change); with the self-signed default it rotates the
	// certificate. Open sessions keep theirs.
	hups := make(chan os.Signal, 1)
	signal.Notify(hups, syscall.SIGHUP)
	defer signal.Stop(hups)
	go func() {
		for range hups {
			<-srv.Ready()
			if err := srv.Endpoint().CertManager().Rotate(); err != nil {
				logger.Error("SIGHUP: certificate not replaced", "err", err)
			}
		}
	}()

	lifecycle := startAgones(cfg, srv, logger) // nil unless Agones runs the process (agones.go)

	errc := make(chan error, 1)
	go func() { errc <- srv.Run(ctx) }()
	select {
	case err := <-errc:
		return err
	case <-srv.Ready():
	}
	if cfg.HTTPAddr != "" {
		_, stopRedirect, err := serveRedirect(cfg.HTTPAddr, srv.Endpoint(), logger)
		if err != nil {
			srv.StopNow()
			<-errc
			return err
		}
		defer stopRedirect()
	}
	players := srv.Endpoint().PlayerURLs()
	logger.Info("tickwire server listening",
		"url", srv.URL(), "players", strings.Join(players, " "), "webtransport", srv.URL()+"/wt", "websocket", srv.URL()+"/ws",
		"lobby", srv.URL()+lobby.PathRooms, "metrics", srv.URL()+server.PathMetrics,
		"tick_rate", srv.Room().Params().TickRate, "process", srv.ProcessID, "agones", lifecycle != nil)
	if srv.Endpoint().CertManager().SelfSigned() && slices.ContainsFunc(players, offLoopback) {
		logger.Info("players on other machines open the page over plain http, which browsers do not treat as a secure context off localhost: " +
			"they play over WebSocket; for WebTransport give the server a certificate browsers trust (-cert and -key)")
	}
	err = <-errc
	lifecycle.stop() // Shutdown, once drained
	if err == nil {
		logger.Info("server stopped")
	}
	return err
}

// offLoopback reports whether a player URL names a host other than this
// machine's loopback: a player who opens it is on another machine.
func offLoopback(u string) bool {
	p, err := url.Parse(u)
	if err != nil {
		return false
	}
	h := p.Hostname()
	if ip, err := netip.ParseAddr(h); err == nil {
		return !ip.IsLoopback()
	}
	return !strings.EqualFold(h, "localhost")
}

// serveRedirect listens on addr (usually :80) for plain HTTP: the ACME
// CA's HTTP-01 checks are answered there, and every other request is
// sent to the same path over https on the endpoint's port.
func serveRedirect(addr string, ep *transport.Endpoint, logger *slog.Logger) (bound net.Addr, stop func(), err error) {
	port := strconv.Itoa(ep.Port())
	redirect := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host, _, err := net.SplitHostPort(r.Host)
		if err != nil {
			host = r.Host
		}
		if port != "443" {
			host = net.JoinHostPort(host, port)
		}
		http.Redirect(w, r, "https://"+host+r.URL.RequestURI(), http.StatusMovedPermanently)
	})
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, nil, fmt.Errorf("-http-addr: %w", err)
	}
	hs := &http.Server{Handler: ep.CertManager().HTTPHandler(redirect), ReadHeaderTimeout: 5 * time.Second}
	go func() {
		if err := hs.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
			logger.Error("http-addr listener", "err", err)
		}
	}()
	logger.Info("plain http redirecting to https", "addr", l.Addr().String())
	return l.Addr(), func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_ = hs.Shutdown(ctx)
	}, nil
}
