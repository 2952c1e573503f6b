package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/tickwire/tickwire/client/web"
	"github.com/tickwire/tickwire/game"
	"github.com/tickwire/tickwire/netcode/jointoken"
	"github.com/tickwire/tickwire/netcode/server"
	"github.com/tickwire/tickwire/netcode/transport"
	"github.com/tickwire/tickwire/netcode/wire"
)

// config is the server's whole configuration. Every field is one flag;
// the same setting can come from the environment (TICKWIRE_ + the flag
// name in capitals, '-' as '_') or from a JSON config file (the flag name
// with '_' for '-'). Precedence, highest first:
//
//	command-line flag > TICKWIRE_* environment variable > config file > default
//
// The config file is named by -config or TICKWIRE_CONFIG; without one the
// defaults (a local server on localhost:4433) apply.
type config struct {
	Addr          string
	TickRate      int
	MaxPlayers    int
	MaxSpectators int
	Seed          uint64
	AOI           float64
	Cert, Key     string
	Domain        string
	ACMEDirectory string
	ACMECache     string
	ACMEEmail     string
	HTTPAddr      string
	Origins       string
	Web           string
	LogLevel      slog.Level
	MaxRooms      int
	RoomGrace     time.Duration
	TokenSecret   string
	RequireTokens bool
	TokenTTL      time.Duration
	LobbyKey      string
	DrainTimeout  time.Duration
	Redis         string
	DirectoryTTL  time.Duration
	ProcessID     string
	Region        string
	PublicURL     string
	Agones        string
	AgonesHealth  time.Duration
	// LagCompensation rewinds shots to what the shooter saw (-lag-compensation).
	LagCompensation bool
	// Recording (-record and its companions; docs/HOSTING.md, "Recordings").
	Record         string
	RecordAll      bool
	RecordMaxBytes int64
	RecordKeyEvery time.Duration
	// CPUProfile writes the process's CPU profile to a file until exit
	// (-cpuprofile; for benchmarks, scripts/bench.sh -p).
	CPUProfile string

	source map[string]string // flag name -> where its value came from
}

// maxSpectators bounds -max-spectators: each spectator costs the room's
// tick as much as a player does.
const maxSpectators = 4096

// envPrefix starts every environment variable the server reads.
const envPrefix = "TICKWIRE_"

func newFlagSet(c *config) *flag.FlagSet {
	fs := flag.NewFlagSet("server", flag.ContinueOnError)
	fs.String("config", "", "JSON config `file` (keys are flag names with _ for -); also TICKWIRE_CONFIG")
	fs.StringVar(&c.Addr, "addr", "localhost:4433", "listen `host:port` for TCP and UDP; localhost means 127.0.0.1 and ::1")
	fs.IntVar(&c.TickRate, "tick-rate", 30, "simulation rate in Hz: 20, 30 or 60")
	fs.IntVar(&c.MaxPlayers, "max-players", 100, "most players per room (also sizes the arena)")
	fs.IntVar(&c.MaxSpectators, "max-spectators", server.DefaultMaxSpectators, "most spectators per room, who take no player's seat (0: none)")
	fs.Uint64Var(&c.Seed, "seed", 1, "seed of the world's randomness")
	fs.Float64Var(&c.AOI, "aoi", 0, "send each client only entities within this `radius` of its player (0: everything)")
	fs.StringVar(&c.Cert, "cert", "", "TLS certificate `file` (default: self-signed, rotated)")
	fs.StringVar(&c.Key, "key", "", "TLS key `file`")
	fs.StringVar(&c.Domain, "domain", "", "comma-separated DNS `names` to get a certificate for from an ACME CA (Let's Encrypt by default): the CA checks them on TCP port 443, or on -http-addr :80")
	fs.StringVar(&c.ACMEDirectory, "acme-directory", "", "ACME directory `URL` (default Let's Encrypt's)")
	fs.StringVar(&c.ACMECache, "acme-cache", "", "`dir` the ACME account and certificates are kept in (default tickwire/acme in the user cache directory)")
	fs.StringVar(&c.ACMEEmail, "acme-email", "", "contact `address` given to the ACME CA (optional)")
	fs.StringVar(&c.HTTPAddr, "http-addr", "", "plain-HTTP listen `host:port` (usually :80) that answers the ACME CA's HTTP-01 checks and redirects everything else to https")
	fs.StringVar(&c.Origins, "origins", "", "comma-separated `origins` of pages hosted elsewhere allowed to connect and to use the lobby (the pages this server serves are always allowed, at any host)")
	fs.StringVar(&c.Web, "web", "", "serve the browser client at / from `dir` (client.wasm and wasm_exec.js; scripts/serve.sh builds it)")
	fs.TextVar(&c.LogLevel, "log-level", slog.LevelInfo, "log `level`: debug, info, warn, error")
	fs.IntVar(&c.MaxRooms, "max-rooms", 64, "most rooms open at once, the default room included")
	fs.DurationVar(&c.RoomGrace, "room-grace", time.Minute, "how long a lobby-created room stays open while empty")
	fs.StringVar(&c.TokenSecret, "token-secret", "", "HMAC `secret` (16+ bytes) for join tokens; set, the lobby issues tokens (prefer TICKWIRE_TOKEN_SECRET)")
	fs.BoolVar(&c.RequireTokens, "require-tokens", false, "refuse players without a valid join token (needs -token-secret)")
	fs.DurationVar(&c.TokenTTL, "token-ttl", 2*time.Minute, "validity of the join tokens the lobby issues")
	fs.StringVar(&c.LobbyKey, "lobby-key", "", "bearer `key` required by the lobby's POST /rooms and join (the game backend's); prefer TICKWIRE_LOBBY_KEY")
	fs.DurationVar(&c.DrainTimeout, "drain-timeout", 30*time.Second, "on SIGTERM, how long players may keep playing before they are told the server is shutting down")
	fs.StringVar(&c.Redis, "redis", "", "Redis `URL` (redis://host:port/db) of a room directory shared with other processes (default: this process only)")
	fs.DurationVar(&c.DirectoryTTL, "directory-ttl", 15*time.Second, "lifetime of this process's record in the room directory; republished every third")
	fs.StringVar(&c.ProcessID, "process-id", "", "this process's name in the room directory (default: random)")
	fs.StringVar(&c.Region, "region", "", "where this process runs (e.g. eu-west), shown beside its rooms in the lobby")
	fs.StringVar(&c.PublicURL, "public-url", "", "base `URL` other processes' lobbies send players to (default: the listen URL)")
	fs.StringVar(&c.Agones, "agones", "auto", "speak to the Agones SDK sidecar: auto (when AGONES_SDK_HTTP_PORT is set), on, off")
	fs.DurationVar(&c.AgonesHealth, "agones-health", 2*time.Second, "interval of Agones health pings")
	fs.BoolVar(&c.LagCompensation, "lag-compensation", true, "judge each shot against its targets where the shooter saw them, up to 400 ms back (false: where they are now)")
	fs.StringVar(&c.Record, "record", "", "record matches into `dir` (one file per room, a new one past -record-max-bytes) and list them at /replays")
	fs.BoolVar(&c.RecordAll, "record-all", true, "with -record: record every room (false: only rooms created with \"record\": true)")
	fs.Int64Var(&c.RecordMaxBytes, "record-max-bytes", 64<<20, "with -record: size in `bytes` past which a room's recording goes on in a new file")
	fs.DurationVar(&c.RecordKeyEvery, "record-key-every", 5*time.Second, "with -record: time between key frames, where playback seeks from")
	fs.StringVar(&c.CPUProfile, "cpuprofile", "", "write the process's CPU profile to `file` until it exits (go tool pprof reads it)")
	return fs
}

// envName is the environment variable of a flag.
func envName(flagName string) string {
	return envPrefix + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// unknownEnv lists the TICKWIRE_* variables of environ that name no
// setting (typos would otherwise pass silently).
func unknownEnv(environ []string) []string {
	known := map[string]bool{envPrefix + "CONFIG": true}
	newFlagSet(&config{}).VisitAll(func(f *flag.Flag) { known[envName(f.Name)] = true })
	var out []string
	for _, kv := range environ {
		name, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(name, envPrefix) && !known[name] {
			out = append(out, name)
		}
	}
	return out
}

// loadConfig reads args, the environment (getenv) and the config file.
func loadConfig(args []string, getenv func(string) (string, bool), stderr io.Writer) (*config, error) {
	c := &config{source: map[string]string{}}
	fs := newFlagSet(c)
	fs.SetOutput(stderr)
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q (flags only)", fs.Arg(0))
	}
	fs.Visit(func(f *flag.Flag) { c.source[f.Name] = "-" + f.Name })
	path := fs.Lookup("config").Value.String()
	if path == "" {
		path, _ = getenv(envPrefix + "CONFIG")
	}
	if path != "" {
		if err := c.applyFile(fs, path); err != nil {
			return nil, err
		}
	}
	var envErr error
	fs.VisitAll(func(f *flag.Flag) {
		v, ok := getenv(envName(f.Name))
		if !ok || f.Name == "config" || strings.HasPrefix(c.source[f.Name], "-") {
			return
		}
		if err := fs.Set(f.Name, v); err != nil && envErr == nil {
			envErr = fmt.Errorf("%s: %w", envName(f.Name), err)
		}
		c.source[f.Name] = envName(f.Name)
	})
	if envErr != nil {
		return nil, envErr
	}
	if err := c.validate(); err != nil {
		return nil, err
	}
	return c, nil
}

// applyFile sets, from a JSON object, every setting not given by a flag.
func (c *config) applyFile(fs *flag.FlagSet, path string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("config file: %w", err)
	}
	var m map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(&m); err != nil {
		return fmt.Errorf("config file %s: %w", path, err)
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, key := range keys {
		name := strings.ReplaceAll(key, "_", "-")
		if fs.Lookup(name) == nil || name == "config" {
			return fmt.Errorf("config file %s: unknown key %q", path, key)
		}
		if strings.HasPrefix(c.source[name], "-") {
			continue
		}
		var v any
		if err := json.Unmarshal(m[key], &v); err != nil {
			return fmt.Errorf("config file %s: key %q: %w", path, key, err)
		}
		var s string
		switch v := v.(type) {
		case string:
			s = v
		case float64:
			s = strconv.FormatFloat(v, 'f', -1, 64)
		case bool:
			s = strconv.FormatBool(v)
		case []any:
			parts := make([]string, len(v))
			for i, p := range v {
				parts[i] = fmt.Sprint(p)
			}
			s = strings.Join(parts, ",")
		default:
			return fmt.Errorf("config file %s: key %q: want a string, number, boolean or list", path, key)
		}
		if err := fs.Set(name, s); err != nil {
			return fmt.Errorf("config file %s: key %q: %w", path, key, err)
		}
		c.source[name] = "config file key " + strconv.Quote(key)
	}
	return nil
}

// field names a setting and where its value came from, for errors.
func (c *config) field(name string) string {
	if src, ok := c.source[name]; ok && src != "-"+name {
		return "-" + name + " (from " + src + ")"
	}
	return "-" + name
}

func (c *config) validate() error {
	var errs []error
	bad := func(name, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", c.field(name), fmt.Sprintf(format, args...)))
	}
	switch c.TickRate {
	case 20, 30, 60:
	default:
		bad("tick-rate", "%d Hz not supported (20, 30 or 60)", c.TickRate)
	}
	if c.MaxPlayers < 1 || c.MaxPlayers > game.MaxPlayersLimit {
		bad("max-players", "%d out of [1, %d]", c.MaxPlayers, game.MaxPlayersLimit)
	}
	if c.MaxSpectators < 0 || c.MaxSpectators > maxSpectators {
		bad("max-spectators", "%d out of [0, %d]", c.MaxSpectators, maxSpectators)
	}
	if c.AOI < 0 {
		bad("aoi", "radius %v is negative", c.AOI)
	}
	if (c.Cert == "") != (c.Key == "") {
		bad("cert", "-cert and -key go together")
	}
	if c.Domain != "" && c.Cert != "" {
		bad("domain", "-domain (ACME) and -cert/-key are alternatives")
	}
	if c.HTTPAddr != "" && c.Domain == "" && c.Cert == "" {
		bad("http-addr", "redirects to https, which needs -domain or -cert/-key")
	}
	if c.Web != "" {
		if err := web.Check(c.Web); err != nil {
			bad("web", "%v (scripts/serve.sh builds it)", err)
		}
	}
	if c.MaxRooms < 1 {
		bad("max-rooms", "%d, want at least 1", c.MaxRooms)
	}
	if c.RoomGrace <= 0 {
		bad("room-grace", "%v, want positive", c.RoomGrace)
	}
	if c.TokenSecret != "" && len(c.TokenSecret) < jointoken.MinSecretBytes {
		bad("token-secret", "%d bytes, want at least %d", len(c.TokenSecret), jointoken.MinSecretBytes)
	}
	if c.RequireTokens && c.TokenSecret == "" {
		bad("require-tokens", "needs -token-secret")
	}
	if c.TokenTTL <= 0 {
		bad("token-ttl", "%v, want positive", c.TokenTTL)
	}
	if c.DrainTimeout < 0 {
		bad("drain-timeout", "%v is negative", c.DrainTimeout)
	}
	if c.DirectoryTTL < 3*time.Second/10 {
		bad("directory-ttl", "%v, want at least 300ms", c.DirectoryTTL)
	}
	if c.Redis != "" && !strings.HasPrefix(c.Redis, "redis://") && !strings.HasPrefix(c.Redis, "rediss://") {
		bad("redis", "%q is not a redis:// or rediss:// URL", c.Redis)
	}
	if len(c.Region) > 64 || strings.ContainsFunc(c.Region, func(r rune) bool { return r < ' ' || r == 0x7f }) {
		bad("region", "%q: want at most 64 printable bytes", c.Region)
	}
	if c.ProcessID != "" && !wire.ValidRoomID(c.ProcessID) {
		bad("process-id", "%q: want 1 to 32 of a-z 0-9 - _", c.ProcessID)
	}
	switch c.Agones {
	case "auto", "on", "off":
	default:
		bad("agones", "%q: want auto, on or off", c.Agones)
	}
	if c.RecordMaxBytes < 64<<10 {
		bad("record-max-bytes", "%d, want at least 65536", c.RecordMaxBytes)
	}
	if c.RecordKeyEvery < 50*time.Millisecond || c.RecordKeyEvery > time.Minute {
		bad("record-key-every", "%v, want 50ms to 1m", c.RecordKeyEvery)
	}
	if c.AgonesHealth <= 0 {
		bad("agones-health", "%v, want positive", c.AgonesHealth)
	}
	return errors.Join(errs...)
}

// agones reports whether to speak to the Agones sidecar, given whether
// AGONES_SDK_HTTP_PORT is set.
func (c *config) agones(inPod bool) bool {
	return c.Agones == "on" || c.Agones == "auto" && inPod
}

// scheme is how clients reach the TCP side: https with configured
// certificate files, http with the self-signed one.
func (c *config) scheme() string {
	if c.Cert != "" {
		return "https"
	}
	return "http"
}

// server builds the server.Server the configuration describes.
func (c *config) server(logger *slog.Logger) *server.Server {
	srv := &server.Server{
		Addr:          c.Addr,
		Game:          game.Config{TickRate: c.TickRate, MaxPlayers: c.MaxPlayers, Seed: c.Seed, NoLagCompensation: !c.LagCompensation},
		AOIRadius:     c.AOI,
		MaxSpectators: c.MaxSpectators,
		MaxRooms:      c.MaxRooms,
		RoomGrace:     c.RoomGrace,
		RequireTokens: c.RequireTokens,
		TokenTTL:      c.TokenTTL,
		LobbyKey:      c.LobbyKey,
		DirectoryTTL:  c.DirectoryTTL,
		ProcessID:     c.ProcessID,
		Region:        c.Region,
		PublicURL:     c.PublicURL,
		DrainTimeout:  c.DrainTimeout,
		CertFile:      c.Cert,
		KeyFile:       c.Key,
		ACME:          transport.ACME{Directory: c.ACMEDirectory, Cache: c.ACMECache, Email: c.ACMEEmail},
		Record:        server.RecordOptions{Dir: c.Record, All: c.RecordAll, MaxBytes: c.RecordMaxBytes, KeyEvery: c.RecordKeyEvery},
		Logger:        logger,
	}
	if c.MaxSpectators == 0 {
		srv.MaxSpectators = -1 // none; Server's zero is its default
	}
	if c.TokenSecret != "" {
		srv.TokenSecret = []byte(c.TokenSecret)
	}
	if c.Origins != "" {
		srv.AllowedOrigins = strings.Split(c.Origins, ",")
	}
	if c.Domain != "" {
		srv.ACME.Domains = strings.Split(c.Domain, ",")
	}
	if c.Web != "" {
		srv.Handler = web.Handler(c.Web)
	}
	return srv
}
