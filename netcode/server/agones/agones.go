// Package agones speaks the Agones SDK sidecar's REST API
// (https://agones.dev/site/docs/guides/client-sdks/rest/) with net/http,
// since the Agones Go SDK cannot be a dependency here. It covers what a
// Tickwire server needs: Ready once listening, Health on a ticker, a watch
// of the GameServer (for Allocated), the process's rooms and players as
// Counters and a List (beta; counts.go), and Shutdown once drained. Player
// tracking (alpha, which Agones means to remove in favour of Counters and
// Lists) is still here for callers that use it; cmd/server does not.
//
// No real Agones runs on the development machine: the tests (here and in
// cmd/server) speak to fake sidecars that follow the REST API as the
// Agones documentation and sdkserver source describe it.
//
// The sidecar listens on localhost at AGONES_SDK_HTTP_PORT (default 9358)
// and may start after the game server, so Ready is retried.
package agones

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"time"
)

// EnvPort is the variable Agones sets to the sidecar's HTTP port.
const EnvPort = "AGONES_SDK_HTTP_PORT"

// DefaultPort is the sidecar's HTTP port when EnvPort is unset.
const DefaultPort = 9358

// Client calls the sidecar. The zero value is not usable: use New or
// FromEnv.
type Client struct {
	base string
	http *http.Client
}

// New returns a client of the sidecar at base ("http://localhost:9358").
func New(base string) *Client {
	return &Client{base: base, http: &http.Client{Timeout: 10 * time.Second}}
}

// FromEnv returns a client of the sidecar on localhost at EnvPort, and
// whether EnvPort was set (Agones runs the process).
func FromEnv() (*Client, bool) {
	port, ok := os.LookupEnv(EnvPort)
	if !ok {
		return New("http://localhost:" + strconv.Itoa(DefaultPort)), false
	}
	return New("http://localhost:" + port), true
}

// do sends body as JSON and checks the status. The sidecar's 2xx replies
// to writes ({}, {"bool":true} or the updated Counter or List) carry
// nothing Tickwire reads, so they are not decoded: a reply that is read
// gets its own decode function and fuzz target (decodeWatchLine,
// decodeCounter, decodeList).
func (c *Client) do(ctx context.Context, method, path string, body any) error {
	b, err := json.Marshal(body)
	if err != nil {
		return fmt.Errorf("agones: %s %s: encoding: %w", method, path, err)
	}
	_, err = c.call(ctx, method, path, bytes.NewReader(b))
	return err
}

// maxReplyBytes bounds a reply the client reads (a List of 1000 values).
const maxReplyBytes = 1 << 20

// call sends a request (body may be nil) and returns the reply's body
// if the status is 2xx; a longer reply than maxReplyBytes is an error.
func (c *Client) call(ctx context.Context, method, path string, body io.Reader) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, body)
	if err != nil {
		return nil, fmt.Errorf("agones: %s %s: %w", method, path, err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("agones: %s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxReplyBytes+1))
	if resp.StatusCode/100 != 2 {
		// grpc-gateway's error body: {"code":..,"message":..,"details":[]}.
		return nil, fmt.Errorf("agones: %s %s: %s: %s", method, path, resp.Status, sidecarError(bytes.TrimSpace(data)))
	}
	if err != nil {
		return nil, fmt.Errorf("agones: %s %s: reading the reply: %w", method, path, err)
	}
	if len(data) > maxReplyBytes {
		return nil, fmt.Errorf("agones: %s %s: reply over %d bytes", method, path, maxReplyBytes)
	}
	return data, nil
}

type empty struct{}

// Ready marks the GameServer Ready (POST /ready).
func (c *Client) Ready(ctx context.Context) error { return c.do(ctx, "POST", "/ready", empty{}) }

// Health sends one health ping (POST /health).
func (c *Client) Health(ctx context.Context) error { return c.do(ctx, "POST", "/health", empty{}) }

// Shutdown asks Agones to shut the GameServer down (POST /shutdown).
func (c *Client) Shutdown(ctx context.Context) error {
	return c.do(ctx, "POST", "/shutdown", empty{})
}

// SetPlayerCapacity sets Status.Players.Capacity (alpha, PUT
// /alpha/player/capacity).
func (c *Client) SetPlayerCapacity(ctx context.Context, n int64) error {
	return c.do(ctx, "PUT", "/alpha/player/capacity", struct {
		Count int64 `json:"count"`
	}{n})
}

type playerID struct {
	PlayerID string `json:"playerID"`
}

// PlayerConnect records a player (alpha, POST /alpha/player/connect).
func (c *Client) PlayerConnect(ctx context.Context, id string) error {
	return c.do(ctx, "POST", "/alpha/player/connect", playerID{id})
}

// PlayerDisconnect forgets a player (alpha, POST /alpha/player/disconnect).
func (c *Client) PlayerDisconnect(ctx context.Context, id string) error {
	return c.do(ctx, "POST", "/alpha/player/disconnect", playerID{id})
}

// GameServer is the part of the GameServer resource Tickwire reads.
type GameServer struct {
	ObjectMeta struct {
		Name string `json:"name"`
	} `json:"object_meta"`
	Status struct {
		State   string `json:"state"`
		Address string `json:"address"`
		Ports   []Port `json:"ports"`
	} `json:"status"`
}

// Port is one of a GameServer's allocated ports (host side).
type Port struct {
	Name string `json:"name"`
	Port int    `json:"port"`
}

// PublicAddr is the GameServer's address and first port ("host:port"),
// or "" before Agones has assigned them.
func (gs GameServer) PublicAddr() string {
	if gs.Status.Address == "" || len(gs.Status.Ports) == 0 || gs.Status.Ports[0].Port == 0 {
		return ""
	}
	return net.JoinHostPort(gs.Status.Address, strconv.Itoa(gs.Status.Ports[0].Port))
}

// WatchGameServer streams GameServer updates (GET /watch/gameserver,
// newline-delimited {"result": GameServer}) to fn until ctx is done or
// the stream ends. A line that is not a valid update (bad JSON, an
// {"error": ...} line from the sidecar, an out-of-range port or address)
// ends the watch with an error rather than reaching fn.
func (c *Client) WatchGameServer(ctx context.Context, fn func(GameServer)) error {
	req, err := http.NewRequestWithContext(ctx, "GET", c.base+"/watch/gameserver", nil)
	if err != nil {
		return fmt.Errorf("agones: watch: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := (&http.Client{}).Do(req) // no timeout: a stream
	if err != nil {
		return fmt.Errorf("agones: watch: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("agones: watch: %s", resp.Status)
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 0, 64<<10), maxWatchLineBytes)
	for sc.Scan() {
		if len(bytes.TrimSpace(sc.Bytes())) == 0 {
			continue
		}
		gs, err := decodeWatchLine(sc.Bytes())
		if err != nil {
			return fmt.Errorf("agones: watch: %w", err)
		}
		fn(gs)
	}
	if err := sc.Err(); err != nil && ctx.Err() == nil {
		return fmt.Errorf("agones: watch: %w", err)
	}
	return ctx.Err()
}

// maxWatchLineBytes bounds one line of the watch stream (one GameServer);
// a longer line ends the watch (bufio.ErrTooLong).
const maxWatchLineBytes = 1 << 20

// Bounds of the GameServer fields. Kubernetes caps object names at 253
// bytes (a DNS subdomain) and node addresses are IPs or DNS names (at
// most 253 bytes); Agones' states are short CamelCase words, so 64 bytes
// only rejects nonsense.
const (
	maxNameBytes    = 253
	maxAddressBytes = 253
	maxStateBytes   = 64
	maxPort         = 65535
)

// decodeWatchLine decodes and validates one line of the watch stream:
// {"result": GameServer}. grpc-gateway reports a failed stream as an
// {"error": {...}} line, which has no result; decoding that (or null, or
// {}) into a zero GameServer would hand fn an update with no state and
// no address, so it is an error instead. On error the GameServer is the
// zero value.
func decodeWatchLine(line []byte) (GameServer, error) {
	var msg struct {
		Result *GameServer      `json:"result"`
		Error  *json.RawMessage `json:"error"`
	}
	if err := json.Unmarshal(line, &msg); err != nil {
		return GameServer{}, fmt.Errorf("decoding update: %w", err)
	}
	if msg.Error != nil { // "error": null leaves it nil
		return GameServer{}, fmt.Errorf("sidecar reported an error: %s", sidecarError(*msg.Error))
	}
	if msg.Result == nil {
		return GameServer{}, errors.New("update has no result")
	}
	if err := msg.Result.validate(); err != nil {
		return GameServer{}, fmt.Errorf("update of GameServer %q: %w", truncate(msg.Result.ObjectMeta.Name, 64), err)
	}
	return *msg.Result, nil
}

// sidecarError is the quoted message of a grpc-gateway error object (or
// the raw object, shortened, when it has none).
func sidecarError(raw json.RawMessage) string {
	var e struct {
		Message string `json:"message"`
	}
	if json.Unmarshal(raw, &e) == nil && e.Message != "" {
		return strconv.Quote(truncate(e.Message, 200))
	}
	return strconv.Quote(truncate(string(raw), 200))
}

// truncate shortens s to at most n bytes for an error message.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

// validate checks what PublicAddr and Tickwire's callbacks rely on: the
// address and first port become the public URL the lobby hands to
// players ("https://" + PublicAddr()), so the address must be a bare IP
// or DNS name (not "evil.example/x?" or "user@host") and every port a
// real port number, 0 meaning not yet assigned.
func (gs GameServer) validate() error {
	if len(gs.ObjectMeta.Name) > maxNameBytes {
		return fmt.Errorf("name: %d bytes, at most %d", len(gs.ObjectMeta.Name), maxNameBytes)
	}
	if len(gs.Status.State) > maxStateBytes {
		return fmt.Errorf("state: %d bytes, at most %d", len(gs.Status.State), maxStateBytes)
	}
	if a := gs.Status.Address; a != "" && !validAddress(a) {
		return fmt.Errorf("address %q: want an IP address or a DNS name", truncate(a, 64))
	}
	for i, p := range gs.Status.Ports {
		if p.Port < 0 || p.Port > maxPort {
			return fmt.Errorf("port %d (%q): %d out of [0, %d]", i, truncate(p.Name, 64), p.Port, maxPort)
		}
	}
	return nil
}

// validAddress reports whether a is an IP address without a zone or a
// DNS name of letters, digits, '-' and '_' (underscores occur in node
// names), in dot-separated labels of 1 to 63 bytes not starting or
// ending with '-'.
func validAddress(a string) bool {
	if ip, err := netip.ParseAddr(a); err == nil {
		return ip.Zone() == ""
	}
	if a == "" || len(a) > maxAddressBytes {
		return false
	}
	for label := range strings.SplitSeq(a, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
				return false
			}
		}
	}
	return true
}

// Lifecycle runs a game server's side of the Agones protocol.
type Lifecycle struct {
	// Client is the sidecar. Required.
	Client *Client
	// HealthInterval is the time between health pings. Default 2s
	// (Agones' default health period is 5s).
	HealthInterval time.Duration
	// RetryInterval is the time between Ready attempts while the sidecar
	// is not up. Default 1s.
	RetryInterval time.Duration
	// Capacity, if positive, is reported as the player capacity (alpha
	// player tracking; see Player).
	Capacity int64
	// Counts, if set, is polled every CountsInterval from its own
	// goroutine once the GameServer is Ready, and what changed is sent
	// to the sidecar's Counters and Lists (see RoomCounts). Sidecar
	// errors are logged and retried on the next poll.
	Counts func() Counts
	// CountsInterval is the time between polls of Counts. Default 1s.
	CountsInterval time.Duration
	// CountsResync is how often the Counters and Lists are read back from
	// the sidecar, to undo changes made elsewhere (an allocation's counter
	// or list actions). Default 30s.
	CountsResync time.Duration
	// OnGameServer, if set, is called with every GameServer the watch
	// reports (Status.State "Allocated" when a matchmaker took this
	// server; PublicAddr once ports are assigned).
	OnGameServer func(GameServer)
	// Logger receives the few log lines. Default slog.Default().
	Logger *slog.Logger

	players chan playerEvent
}

type playerEvent struct {
	id     string
	joined bool
}

// Player queues a player tracking update; it never blocks (beyond 1024
// pending updates it drops them and says so in the log).
func (l *Lifecycle) Player(id string, joined bool) {
	select {
	case l.playerChan() <- playerEvent{id, joined}:
	default:
		l.log().Warn("agones: player tracking queue full; update dropped", "player", id)
	}
}

func (l *Lifecycle) playerChan() chan playerEvent {
	if l.players == nil {
		panic("agones: Lifecycle.Player called before Run")
	}
	return l.players
}

func (l *Lifecycle) log() *slog.Logger {
	if l.Logger != nil {
		return l.Logger
	}
	return slog.Default()
}

// Init prepares l so that Player may be called before Run.
func (l *Lifecycle) Init() { l.players = make(chan playerEvent, 1024) }

// Run waits for listening, marks the server Ready (retrying until the
// sidecar answers), then pings Health, watches the GameServer, sends
// player updates and keeps the Counters and Lists in step with Counts
// until drained is closed; then it stops the updates, sends Shutdown and
// returns. It returns early if ctx is done, or (with nil) if drained is
// closed before the GameServer is Ready.
func (l *Lifecycle) Run(ctx context.Context, listening, drained <-chan struct{}) error {
	if l.players == nil {
		l.Init()
	}
	health := l.HealthInterval
	if health <= 0 {
		health = 2 * time.Second
	}
	retry := l.RetryInterval
	if retry <= 0 {
		retry = time.Second
	}
	log := l.log()
	select {
	case <-listening:
	case <-drained:
		select {
		case <-listening: // both: Ready, then at once Shutdown
		default:
			return nil // the server never listened
		}
	case <-ctx.Done():
		return ctx.Err()
	}
	for {
		err := l.Client.Ready(ctx)
		if err == nil {
			break
		}
		log.Warn("agones: Ready failed; retrying", "err", err, "in", retry)
		select {
		case <-time.After(retry):
		case <-drained:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	log.Info("agones: GameServer marked Ready")
	if l.Capacity > 0 {
		if err := l.Client.SetPlayerCapacity(ctx, l.Capacity); err != nil {
			log.Warn("agones: setting player capacity (is the PlayerTracking feature gate on?)", "err", err)
		}
	}
	wctx, stopWatch := context.WithCancel(ctx)
	defer stopWatch()
	go func() {
		err := l.Client.WatchGameServer(wctx, func(gs GameServer) {
			if l.OnGameServer != nil {
				l.OnGameServer(gs)
			}
		})
		if err != nil && !errors.Is(err, context.Canceled) {
			log.Warn("agones: watching the GameServer", "err", err)
		}
	}()
	cctx, stopCounts := context.WithCancel(ctx)
	defer stopCounts()
	countsDone := make(chan struct{})
	if l.Counts != nil {
		go func() {
			defer close(countsDone)
			l.syncCounts(cctx)
		}()
	} else {
		close(countsDone)
	}
	t := time.NewTicker(health)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
			if err := l.Client.Health(ctx); err != nil {
				log.Warn("agones: health ping", "err", err)
			}
		case ev := <-l.players:
			var err error
			if ev.joined {
				err = l.Client.PlayerConnect(ctx, ev.id)
			} else {
				err = l.Client.PlayerDisconnect(ctx, ev.id)
			}
			if err != nil {
				log.Warn("agones: player tracking", "err", err)
			}
		case <-drained:
			stopWatch()
			stopCounts()
			<-countsDone // no update after Shutdown
			if err := l.Client.Shutdown(ctx); err != nil {
				return err
			}
			log.Info("agones: Shutdown sent")
			return nil
		}
	}
}
