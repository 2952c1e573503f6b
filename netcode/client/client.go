package client

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/url"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tickwire/tickwire/game"
	"github.com/tickwire/tickwire/netcode/transport"
	"github.com/tickwire/tickwire/netcode/wire"
	pb "github.com/tickwire/tickwire/proto/tickwire/v1"
)

// Config configures a client session. The zero value with Server
// and Name set connects over WebTransport, falling back to WebSocket.
type Config struct {
	// Server is the server's base URL, e.g. "http://localhost:4433".
	Server string
	// Name is the player name shown to others (1 to 32 bytes).
	Name string
	// Room is the room to join. Empty joins the server's default room (or
	// the join token's).
	Room string
	// ResumeToken, when set, is sent in the hello to take back the session
	// that issued it (ServerWelcome.resume_token) after a dropped
	// connection. Whether the server honours it is the server's business.
	ResumeToken []byte
	// Spectate asks to watch rather than play (ClientHello.spectate): the
	// session gets snapshots but no entity (Entity is 0), and after every
	// snapshot it sends the server an input packet without inputs, which
	// acknowledges it and names the player it follows (Follow). Inputs it
	// is asked to send anyway go out, and the server refuses them.
	Spectate bool
	// AuthToken is the join token sent in the hello (from a lobby's join
	// response); empty for an open server.
	AuthToken string
	// Dial chooses and configures the transport.
	Dial transport.DialOptions
	// HandshakeTimeout bounds dialing plus hello/welcome. Default 10s.
	HandshakeTimeout time.Duration
	// InputRedundancy fixes how many inputs each input packet carries (the
	// newest and the unacknowledged ones before it), at most
	// wire.MaxInputsPerPacket. Zero means adaptive: at least 3, more as the
	// measured loss grows, so that losing every copy of an input is a
	// one-in-a-million event.
	InputRedundancy int
	// PingInterval is the heartbeat and RTT sampling period. Default 1s.
	PingInterval time.Duration
	// ServerTimeout ends the session when nothing has arrived from the
	// server for this long (a crashed server or a cut network say nothing;
	// the transport alone would notice only after its idle timeout).
	// Checked every PingInterval. Default 2s.
	ServerTimeout time.Duration
	// OnSnapshot, if set, is called on the session's reader goroutine for
	// every snapshot newer than the previous one. s is valid only during
	// the call.
	OnSnapshot func(s *game.Snapshot, h *wire.SnapshotHeader)
	// Share, if set, is where the session decodes its snapshots: clients
	// of one process that receive the same bytes against the same
	// baseline decode them once (see SnapshotShare). The snapshots given
	// to OnSnapshot are then shared and must not be modified.
	Share *SnapshotShare
	// WrapConn, if set, is applied to the dialed connection before the
	// hello, e.g. linksim.Link.Wrap to impair it.
	WrapConn func(transport.Conn) transport.Conn
	// Clock is where the session reads the time (SendInput, packet
	// arrivals, pings). Default the real clock.
	Clock game.Clock
	// OnRoster, if set, is called on the session's reader goroutine with
	// every roster (the room's players and their names) the server sends.
	OnRoster func(r *wire.Roster)
	// Logger receives the session's logs. Default slog.Default().
	Logger *slog.Logger
}

// DisconnectError is how a session ended when the server said why.
type DisconnectError struct {
	Reason pb.DisconnectReason
	Text   string
}

func (e *DisconnectError) Error() string {
	return fmt.Sprintf("disconnected by server: %s: %s", e.Reason, e.Text)
}

// Stats are a client session's counters.
type Stats struct {
	SnapshotsReceived int64 // decoded snapshots, in order
	SnapshotsLate     int64 // arrived after a newer one; ignored
	SnapshotsNoBase   int64 // delta against a baseline the client lacks
	SnapshotsBad      int64 // undecodable
	FragmentsDropped  int64 // pieces of snapshots that never completed
	BytesIn, BytesOut int64 // application bytes (packets), both channels
	PacketsIn         int64
	PacketsOut        int64
	// InputResends counts input packets sent a second time, half a tick
	// after the first, on a lossy link (Client.InputsDue).
	InputResends int64
}

// NetStats describe how a session's network and netcode are doing, for a
// net graph or a bot's report.
type NetStats struct {
	Transport transport.Kind
	// RTT is the smoothed round-trip time; Jitter the interarrival jitter
	// of snapshots (RFC 3550).
	RTT, Jitter time.Duration
	// LossDown is the share of the last 256 snapshot ticks not received
	// (in order). LossUp is estimated from the pings that got no pong and
	// LossDown.
	LossDown, LossUp float64
	// BytesInPerSec and BytesOutPerSec count application bytes (packets),
	// over the last second.
	BytesInPerSec, BytesOutPerSec float64
	SnapshotsPerSec               float64
	// InterpDelay is how far behind the arrival of snapshots remote
	// entities are rendered, at the last Frame.
	InterpDelay time.Duration
	// Frames counts Frame calls by how remote entities were placed.
	FramesInterpolated, FramesExtrapolated, FramesHeld int64
	// Corrections counts reconciliations that moved the predicted own
	// player; CorrectionP50 (over the last 1024) and CorrectionMax are
	// their sizes in world units. Deaths and respawns are not corrections.
	Corrections                  int64
	CorrectionP50, CorrectionMax float64
	// Redundancy is how many inputs an input packet carries now.
	Redundancy int
	// InputAckP50 and InputAckP99 are the time from sending input k to
	// receiving the first snapshot whose LastInputTick >= k, over the
	// last 1024 inputs.
	InputAckP50, InputAckP99 time.Duration
	// Shots are the own player's shots and hits, predicted and confirmed.
	Shots ShotStats
}

// Sizes of the client's measurement windows.
const (
	lossWindow    = 256 // snapshot ticks
	pingWindow    = 64  // pings
	ackWindow     = 512 // input ticks whose send time is kept
	ackSamples    = 1024
	minRedundancy = 3
	// lossEvery is how often SendInput re-measures the loss that steers
	// the input lead and the redundancy.
	lossEvery = 250 * time.Millisecond
)

// Client is one player's session with a server: the code every client
// (the Ebiten game, the bots, tests) shares. Its reader goroutine decodes
// snapshots into the interpolation buffer and reconciles the prediction;
// the caller sends inputs (InputsDue, SendInput) and draws frames (Frame)
// from its own goroutine.
type Client struct {
	cfg     Config
	log     *slog.Logger
	clock   game.Clock
	conn    transport.Conn
	welcome *pb.ServerWelcome
	params  game.Params
	entity  game.EntityID
	epoch   time.Time // zero of the client's microsecond clock

	parent  context.Context // the caller's: when it ends, the session says goodbye
	ctx     context.Context
	cancel  context.CancelFunc
	goodbye sync.Once
	done    chan struct{}
	errMu   sync.Mutex
	err     error

	ack       atomic.Uint32 // newest decoded snapshot tick
	follow    atomic.Uint32 // spectators: the entity followed (0: free camera)
	rttNs     atomic.Int64
	lastHeard atomic.Int64 // clock time of the newest packet from the server, UnixNano
	// serverSilent is set when the session ends for ServerTimeout.
	serverSilent atomic.Bool
	stats        clientCounters
	inbox        snapshotInbox // reader goroutine only

	mu     sync.Mutex // guards everything below
	sync   clockSync
	interp interpBuffer
	pred   predictor
	shots  ownShots
	view   Frame // remote players as drawn, for own shots' hits

	recent   [wire.MaxInputsPerPacket]game.Input // newest inputs sent, ring
	recentAt int
	recentN  int
	ackedIn  uint32 // newest LastInputTick seen
	outBuf   []byte
	pkt      wire.InputPacket

	seen      [lossWindow]uint32 // snapshot ticks received, by tick % lossWindow
	firstTick uint32

	pings     [pingWindow]pingRecord
	pingNonce uint32
	pingBuf   []byte

	inputSent     [ackWindow]inputSend
	ackLat        [ackSamples]time.Duration
	ackLatN       int
	ackLatAt      int
	inMeter       rateMeter
	outMeter      rateMeter
	snapMeter     rateMeter
	redundancy    int
	lastInputSend time.Time
	resendAt      time.Time // when the last input packet goes again (zero: it does not)
	lossAt        time.Time // when sync.loss was last measured
}

type pingRecord struct {
	nonce  uint32
	sentAt time.Time
	ponged bool
}

type inputSend struct {
	tick   uint32
	sentAt time.Time
}

// rateMeter measures a rate over whole one-second periods.
type rateMeter struct {
	start time.Time
	count float64
	rate  float64
}

func (m *rateMeter) add(now time.Time, n float64) {
	if m.start.IsZero() {
		m.start = now
	}
	if d := now.Sub(m.start); d >= time.Second {
		m.rate = m.count / d.Seconds()
		m.count, m.start = 0, now
	}
	m.count += n
}

type clientCounters struct {
	received, late, noBase, bad, fragDropped, bytesIn, bytesOut, packetsIn, packetsOut atomic.Int64
	rostersSkipped, inputResends                                                       atomic.Int64
}

// Connect dials the server, says hello and waits for the welcome. The
// session runs until ctx is done or Close is called (either way it says
// goodbye, so the server frees the player's place at once instead of
// holding it for a resume) or until the server ends it.
func Connect(ctx context.Context, cfg Config) (*Client, error) {
	c := newClient(cfg)
	hctx, cancel := context.WithTimeout(ctx, c.cfg.HandshakeTimeout)
	defer cancel()
	dial := cfg.Dial
	if cfg.Room != "" {
		dial.Query = url.Values{"room": {cfg.Room}}
	}
	conn, err := transport.Dial(hctx, cfg.Server, dial)
	if err != nil {
		return nil, fmt.Errorf("netcode: connecting to %s: %w", cfg.Server, err)
	}
	if cfg.WrapConn != nil {
		conn = cfg.WrapConn(conn)
	}
	c.conn = conn
	if err := c.handshake(hctx); err != nil {
		conn.Close()
		return nil, fmt.Errorf("netcode: joining %s over %s: %w", cfg.Server, conn.Kind(), err)
	}
	c.parent = ctx
	c.ctx, c.cancel = context.WithCancel(ctx)
	c.lastHeard.Store(c.clock.Now().UnixNano())
	go c.readLoop()
	go c.pingLoop()
	return c, nil
}

// newClient builds a session with its defaults, not yet connected.
func newClient(cfg Config) *Client {
	c := &Client{cfg: cfg, log: cfg.Logger, clock: cfg.Clock, done: make(chan struct{})}
	if c.log == nil {
		c.log = slog.Default()
	}
	if c.clock == nil {
		c.clock = game.RealClock{}
	}
	c.epoch = c.clock.Now()
	if c.cfg.HandshakeTimeout == 0 {
		c.cfg.HandshakeTimeout = 10 * time.Second
	}
	c.cfg.InputRedundancy = min(max(c.cfg.InputRedundancy, 0), wire.MaxInputsPerPacket)
	if c.cfg.ServerTimeout <= 0 {
		c.cfg.ServerTimeout = 2 * time.Second
	}
	if c.cfg.PingInterval == 0 {
		c.cfg.PingInterval = time.Second
	}
	c.redundancy = max(c.cfg.InputRedundancy, minRedundancy)
	if c.cfg.InputRedundancy > 0 {
		c.redundancy = c.cfg.InputRedundancy
	}
	c.pkt.Inputs = make([]game.Input, 0, wire.MaxInputsPerPacket)
	c.outBuf = make([]byte, 0, 256)
	c.pingBuf = make([]byte, 0, 32)
	return c
}

// hello is the session's first packet.
func (c *Client) hello() []byte {
	return wire.MarshalControl(&pb.Packet{Body: &pb.Packet_Hello{Hello: &pb.ClientHello{
		ProtocolVersion: wire.ProtocolVersion,
		PlayerName:      c.cfg.Name,
		AuthToken:       c.cfg.AuthToken,
		ResumeToken:     c.cfg.ResumeToken,
		Spectate:        c.cfg.Spectate,
	}}})
}

func (c *Client) handshake(ctx context.Context) error {
	sent := c.clock.Now()
	if err := c.conn.SendMessage(c.hello()); err != nil {
		return fmt.Errorf("sending hello: %w", err)
	}
	for {
		raw, _, err := c.conn.Receive(ctx)
		if err != nil {
			return fmt.Errorf("waiting for welcome: %w", err)
		}
		if joined, err := c.awaitWelcome(raw, sent, c.clock.Now()); joined || err != nil {
			return err
		}
	}
}

// awaitWelcome takes a packet that arrived at now while the hello sent
// at sent is unanswered: the welcome (joined), a refusal (an error), or
// something else, ignored (a snapshot may overtake the welcome; it is
// useless before it).
func (c *Client) awaitWelcome(raw []byte, sent, now time.Time) (joined bool, err error) {
	kind, _, err := wire.SplitPacket(raw)
	if err != nil {
		return false, fmt.Errorf("waiting for welcome: %w", err)
	}
	if kind != wire.KindWelcome && kind != wire.KindDisconnect {
		return false, nil
	}
	if err := c.acceptWelcome(raw, sent, now); err != nil {
		return false, err
	}
	return true, nil
}

// acceptWelcome takes the server's answer to a hello sent at sent.
func (c *Client) acceptWelcome(raw []byte, sent, now time.Time) error {
	p, err := wire.UnmarshalControl(raw)
	if err != nil {
		return fmt.Errorf("waiting for welcome: %w", err)
	}
	if d := p.GetDisconnect(); d != nil {
		return &DisconnectError{Reason: d.GetReason(), Text: d.GetText()}
	}
	w := p.GetWelcome()
	if w == nil {
		return fmt.Errorf("waiting for welcome: got %T", p.GetBody())
	}
	params, err := wire.ParamsFromArena(w.GetArena(), int(w.GetTickRate()))
	if err != nil {
		return fmt.Errorf("welcome: %w", err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.welcome, c.params = w, params
	c.entity = game.EntityID(w.GetPlayerEntityId())
	c.sync.init(params.TickRate, w.GetServerTick(), now, now.Sub(sent))
	c.rttNs.Store(int64(c.sync.srtt))
	c.inbox.init(params, c.cfg.Share)
	c.interp.init(params, c.entity)
	c.pred.init(params)
	c.shots.init(params, c.entity)
	return nil
}

// Welcome is the server's welcome: entity, tick rate, arena.
func (c *Client) Welcome() *pb.ServerWelcome { return c.welcome }

// Spectator says whether the session watches (Config.Spectate).
func (c *Client) Spectator() bool { return c.cfg.Spectate }

// Follow tells the server which player a spectator follows (0: a free
// camera). With interest management the server then sends that player's
// view (the whole arena to a free camera); the first snapshot of a new
// view is a full one. It goes out with the next acknowledgement, after
// the next snapshot. Players need not call it: the server ignores it
// from them.
func (c *Client) Follow(id game.EntityID) { c.follow.Store(uint32(id)) }

// Following is the entity Follow last named.
func (c *Client) Following() game.EntityID { return game.EntityID(c.follow.Load()) }

// Entity is the entity this client controls.
func (c *Client) Entity() game.EntityID { return c.entity }

// Params are the rules of the server's arena, for prediction.
func (c *Client) Params() game.Params { return c.params }

// Transport says what carries this session.
func (c *Client) Transport() transport.Kind { return c.conn.Kind() }

// RTT is the smoothed round-trip time.
func (c *Client) RTT() time.Duration { return time.Duration(c.rttNs.Load()) }

// AckTick is the newest snapshot tick received.
func (c *Client) AckTick() uint32 { return c.ack.Load() }

// Done is closed when the session has ended; Err then says why.
func (c *Client) Done() <-chan struct{} { return c.done }

// Err is why the session ended (a *DisconnectError when the server said),
// or nil while it runs.
func (c *Client) Err() error {
	c.errMu.Lock()
	defer c.errMu.Unlock()
	return c.err
}

// Stats returns the session's counters.
func (c *Client) Stats() Stats {
	s := &c.stats
	return Stats{
		SnapshotsReceived: s.received.Load(), SnapshotsLate: s.late.Load(),
		SnapshotsNoBase: s.noBase.Load(), SnapshotsBad: s.bad.Load(),
		FragmentsDropped: s.fragDropped.Load(),
		BytesIn:          s.bytesIn.Load(), BytesOut: s.bytesOut.Load(),
		PacketsIn: s.packetsIn.Load(), PacketsOut: s.packetsOut.Load(),
		InputResends: s.inputResends.Load(),
	}
}

func (c *Client) elapsed(now time.Time) time.Duration { return now.Sub(c.epoch) }

// Frame fills f for display time now, reusing f's slices (0 allocs in
// steady state): remote players interpolated at f.RenderTick, projectiles
// simulated from their spawn to the same tick, the own player predicted.
// It is safe to call from a goroutine other than the session's reader,
// and counts the frame as interpolated, extrapolated or held.
func (c *Client) Frame(now time.Time, f *Frame) {
	c.mu.Lock()
	defer c.mu.Unlock()
	r := c.interp.advance(c.sync.arrival(now), now)
	c.interp.frame(r, f)
	f.Delay, f.Span = c.interp.delay(), c.interp.lastGap
	f.Own, f.HasOwn = c.pred.own(now)
	if f.HasOwn {
		f.OwnTick = c.pred.displayTick(now)
		c.shots.draw(f, f.OwnTick, now)
	}
}

// CountFrame does a display frame's bookkeeping at now without placing
// any entity: the render clock advances and the frame counts as
// interpolated, extrapolated or held exactly as Frame would count it. For
// clients that do not draw, such as bots, at a fraction of Frame's cost
// in a crowded room.
func (c *Client) CountFrame(now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.interp.frame(c.interp.advance(c.sync.arrival(now), now), nil)
}

// InputsDue says how many inputs the caller should send now (usually 0 or
// 1) so that inputs follow the client's dilated input clock; call it every
// frame or loop turn and call SendInput that many times.
//
// On a lossy link it also sends the last input packet again half a tick
// after it first went, when no newer input has gone since: a lost
// packet's inputs then reach the server half a tick later instead of a
// whole tick later with the next packet, and the input lead needs only
// half a tick per likely loss.
func (c *Client) InputsDue(now time.Time) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	due := c.sync.inputsDue(now)
	if due == 0 && !c.resendAt.IsZero() && !now.Before(c.resendAt) {
		c.resendAt = time.Time{}
		c.stats.inputResends.Add(1)
		_ = c.sendDatagram(c.outBuf, now) // a failure shows on the next send
	}
	return due
}

// NextInputAt is when InputsDue will next say an input is due (now if
// one is due already), at the input clock's current rate. A caller that
// drives many sessions can sleep until then instead of polling each one;
// the clock may be steered meanwhile, so it should check InputsDue when it
// wakes and ask again.
func (c *Client) NextInputAt(now time.Time) time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	next := c.sync.nextInputAt(now)
	if !c.resendAt.IsZero() && c.resendAt.Before(next) {
		next = c.resendAt
		if next.Before(now) {
			next = now
		}
	}
	return next
}

// SendInput stamps an input with the server tick at which it should apply
// (the next tick of the input clock), quantizes it exactly as the server
// will see it, predicts it at once, and sends it together with the
// previous unacknowledged ones (so that a lost datagram loses no input).
// It returns the input as sent.
func (c *Client) SendInput(moveX, moveY, aimRad float64, fire bool) (game.Input, error) {
	now := c.clock.Now()
	c.mu.Lock()
	defer c.mu.Unlock()
	tick := c.sync.stampInput(now)
	in := game.QuantizeInput(tick, moveX, moveY, aimRad, fire)
	if fire {
		in.ViewLag = c.viewLag(tick, now)
	}
	if shot, fired := c.pred.apply(in, now); fired {
		c.shots.predict(shot, in.Tick)
	}
	c.seeOwnShots(now)
	c.recent[c.recentAt] = in
	c.recentAt = (c.recentAt + 1) % wire.MaxInputsPerPacket
	c.recentN = min(c.recentN+1, wire.MaxInputsPerPacket)
	c.inputSent[tick%ackWindow] = inputSend{tick: tick, sentAt: now}

	if now.Sub(c.lossAt) >= lossEvery || now.Before(c.lossAt) {
		// Both scan their windows: once per input would be most of an
		// input's cost, and the loss moves slowly.
		c.sync.loss = max(c.lossDown(), c.lossUp(now))
		c.lossAt = now
	}
	return in, c.sendInputs(now)
}

// seeOwnShots tests the own shots' flight up to the prediction's tick
// against the remote players as a frame drawn at now shows them: the hits
// the shooter sees (ShotStats.HitsSeen). Once per input, not per frame,
// so that a client that does not draw (a bot) counts them too. The
// caller holds mu.
func (c *Client) seeOwnShots(now time.Time) {
	if !c.pred.has || !c.shots.live() {
		return
	}
	c.interp.place(c.interp.renderTickAt(c.sync.arrival(now), now), &c.view)
	c.shots.see(c.pred.tick, c.view.Remote)
}

// viewLag is the lag compensation an input for tick produced at now
// asks for (game.Input.ViewLag): how far behind tick the remote entities
// a frame drawn now would show are (the render clock at now; the own
// player is predicted at the input clock). Only inputs that fire carry
// it: the server has no use for it otherwise, and it would cost bytes in
// every packet. The caller holds mu.
func (c *Client) viewLag(tick uint32, now time.Time) uint16 {
	return game.ViewLagFromTicks(float64(tick) - c.interp.renderTickAt(c.sync.arrival(now), now))
}

// sendInputs sends the newest input with up to K-1 unacknowledged ones
// before it. The caller holds mu.
func (c *Client) sendInputs(now time.Time) error {
	c.redundancy = c.chooseRedundancy()
	k := min(c.redundancy, c.recentN)
	c.pkt.Inputs = c.pkt.Inputs[:0]
	for i := k; i >= 1; i-- {
		old := c.recent[(c.recentAt-i+wire.MaxInputsPerPacket)%wire.MaxInputsPerPacket]
		if old.Tick > c.ackedIn || i == 1 {
			c.pkt.Inputs = append(c.pkt.Inputs, old)
		}
	}
	return c.sendInputPacket(now)
}

// sendInputPacket sends c.pkt's inputs with the ack and, from a
// spectator, the entity it follows. The caller holds mu.
func (c *Client) sendInputPacket(now time.Time) error {
	c.pkt.AckTick = c.ack.Load()
	c.pkt.ClientTimeUs = uint64(c.elapsed(now).Microseconds())
	c.pkt.Follow = 0
	if c.cfg.Spectate {
		c.pkt.Follow = game.EntityID(c.follow.Load())
	}
	c.outBuf = wire.AppendInputPacket(c.outBuf[:0], &c.pkt)
	c.lastInputSend = now
	c.resendAt = time.Time{}
	if c.sync.lossy() {
		c.resendAt = now.Add(c.sync.interval / 2)
	}
	return c.sendDatagram(c.outBuf, now)
}

// sendWatch acknowledges a spectator's snapshot: an input packet without
// inputs. The caller holds mu.
func (c *Client) sendWatch(now time.Time) {
	c.pkt.Inputs = c.pkt.Inputs[:0]
	if err := c.sendInputPacket(now); err != nil {
		c.log.Debug("ack not sent", "err", err)
	}
}

// chooseRedundancy is the number of inputs per packet: fixed if
// configured, else the smallest K >= 3 for which losing K packets in a
// row has a probability under 1e-6 at the measured loss.
func (c *Client) chooseRedundancy() int {
	if c.cfg.InputRedundancy > 0 {
		return c.cfg.InputRedundancy
	}
	p := c.sync.loss
	if c.firstTick == 0 || c.ack.Load()-c.firstTick < lossWindow/4 {
		p = max(p, 0.1) // loss not measured yet: be generous
	}
	if p <= 0.001 {
		return minRedundancy
	}
	if p >= 0.9 {
		return wire.MaxInputsPerPacket
	}
	k := int(math.Ceil(math.Log(1e-6) / math.Log(p)))
	return min(max(k, minRedundancy), wire.MaxInputsPerPacket)
}

// sendDatagram sends b; the caller holds mu.
func (c *Client) sendDatagram(b []byte, now time.Time) error {
	c.stats.packetsOut.Add(1)
	c.stats.bytesOut.Add(int64(len(b)))
	c.outMeter.add(now, float64(len(b)))
	if err := c.conn.SendDatagram(b); err != nil && !errors.Is(err, transport.ErrDropped) {
		return fmt.Errorf("netcode: sending: %w", err)
	}
	return nil
}

// Close says goodbye to the server and ends the session.
func (c *Client) Close() error {
	c.sayGoodbye()
	c.end(nil)
	<-c.done
	return nil
}

// sayGoodbye tells the server the player left, once, whether the session
// ends by Close or by the caller's context.
func (c *Client) sayGoodbye() {
	c.goodbye.Do(func() {
		_ = c.conn.SendMessage(wire.DisconnectPacket(pb.DisconnectReason_DISCONNECT_REASON_CLIENT_LEFT, "client closed"))
	})
}

// end records why the session ended (first reason wins) and stops it.
func (c *Client) end(err error) {
	c.errMu.Lock()
	if c.err == nil {
		if err == nil {
			err = errors.New("netcode: session closed")
		}
		c.err = err
	}
	c.errMu.Unlock()
	c.cancel()
}

func (c *Client) readLoop() {
	defer func() {
		if c.serverSilent.Load() {
			// Nobody will answer the goodbye: do not make the caller wait
			// out the transport's flush timeout before it reconnects.
			go c.conn.Close()
		} else {
			c.conn.Close()
		}
		close(c.done)
	}()
	for {
		raw, _, err := c.conn.Receive(c.ctx)
		if err != nil {
			if c.parent.Err() != nil && !c.serverSilent.Load() {
				// The caller is done with the session: leave as Close does.
				c.sayGoodbye()
				c.end(fmt.Errorf("netcode: session closed: %w", context.Cause(c.parent)))
				return
			}
			c.end(fmt.Errorf("netcode: connection lost: %w", err))
			return
		}
		if err := c.handlePacket(raw, c.clock.Now()); err != nil {
			var de *DisconnectError
			if errors.As(err, &de) {
				c.log.Info("server ended the session", "reason", de.Reason.String(), "text", de.Text)
				c.end(de)
				return
			}
			c.log.Debug("dropped packet", "err", err)
		}
	}
}

// handlePacket processes one packet that arrived at now. Only the reader
// (one goroutine) calls it.
func (c *Client) handlePacket(raw []byte, now time.Time) error {
	c.lastHeard.Store(now.UnixNano())
	c.stats.packetsIn.Add(1)
	c.stats.bytesIn.Add(int64(len(raw)))
	c.mu.Lock()
	c.inMeter.add(now, float64(len(raw)))
	c.mu.Unlock()
	kind, body, err := wire.SplitPacket(raw)
	if err != nil {
		return err
	}
	switch kind {
	case wire.KindSnapshot:
		return c.handleSnapshot(body, now)
	case wire.KindPing:
		// The server measures RTT with its own pings: echo them.
		var p wire.Ping
		if err := wire.DecodePing(body, &p); err != nil {
			return err
		}
		c.mu.Lock()
		err := c.sendDatagram(wire.AppendPing(nil, wire.KindPong, &p), now) // once a second: not worth a buffer
		c.mu.Unlock()
		return err
	case wire.KindPong:
		var p wire.Ping
		if err := wire.DecodePing(body, &p); err != nil {
			return err
		}
		c.mu.Lock()
		if r := &c.pings[p.Nonce%pingWindow]; r.nonce == p.Nonce && !r.ponged && !r.sentAt.IsZero() {
			r.ponged = true
			c.sync.observeRTT(now.Sub(r.sentAt))
			c.rttNs.Store(int64(c.sync.srtt))
		}
		c.mu.Unlock()
	case wire.KindRoster:
		// A roster names every player; the server sends one to every
		// session after joins and leaves, coalesced to at most one per
		// room per second (rosterEvery, netcode/server/room_roster.go).
		// Decoding it for nobody would still cost a crowd of sessions in
		// one process (bots) O(players²) per roster.
		if c.cfg.OnRoster == nil {
			c.stats.rostersSkipped.Add(1)
			return nil
		}
		r, err := wire.DecodeRoster(raw)
		if err != nil {
			return err
		}
		c.cfg.OnRoster(r)
	case wire.KindDisconnect:
		p, err := wire.UnmarshalControl(raw)
		if err != nil {
			return err
		}
		return &DisconnectError{Reason: p.GetDisconnect().GetReason(), Text: p.GetDisconnect().GetText()}
	}
	return nil
}

func (c *Client) handleSnapshot(body []byte, now time.Time) error {
	var h wire.SnapshotHeader
	payload, err := wire.DecodeSnapshotPacket(body, &h)
	if err != nil {
		c.stats.bad.Add(1)
		return err
	}
	if c.inbox.share == nil && h.ServerTick > c.ack.Load() {
		// The inbox may decode into the slot of a snapshot the
		// interpolation buffer still holds (shared snapshots are never
		// reused).
		c.mu.Lock()
		c.interp.forgetRecycled(h.ServerTick)
		c.mu.Unlock()
	}
	snap, res := c.inbox.accept(&h, payload, c.ack.Load())
	switch res {
	case inboxIncomplete:
		return nil
	case inboxLate:
		c.stats.late.Add(1)
		return nil
	case inboxNoBase:
		c.stats.noBase.Add(1)
		return nil
	case inboxBad:
		c.stats.bad.Add(1)
		return wire.Malformedf("snapshot %d undecodable", h.ServerTick)
	}
	c.stats.fragDropped.Store(c.inbox.fragmentsDropped)
	c.stats.received.Add(1)
	c.ack.Store(h.ServerTick)
	c.mu.Lock()
	c.noteSnapshot(snap, &h, now)
	c.mu.Unlock()
	if c.cfg.OnSnapshot != nil {
		c.cfg.OnSnapshot(snap, &h)
	}
	return nil
}

// noteSnapshot feeds one in-order snapshot to the clocks, the
// interpolation buffer and the prediction. The caller holds mu.
func (c *Client) noteSnapshot(snap *game.Snapshot, h *wire.SnapshotHeader, now time.Time) {
	c.snapMeter.add(now, 1)
	if c.firstTick == 0 {
		c.firstTick = h.ServerTick
	}
	c.seen[h.ServerTick%lossWindow] = h.ServerTick
	c.interp.add(snap, c.sync.arrival(now), now)
	c.sync.observeSnapshot(h.ServerTick, now)
	if h.LastInputTick != 0 {
		if h.LastInputTick > c.ackedIn {
			c.sync.leadAt = now // the report covers an input just applied
		}
		c.sync.observeLeadDev(h.InputLeadDevMs)
		c.sync.observeLead(h.InputLeadMs, now)
		c.sync.observeBacklog(h.InputBacklog, now)
		c.noteInputAck(h.LastInputTick, now)
	}
	if c.cfg.Spectate {
		c.sendWatch(now)
		return // no player of its own to reconcile
	}
	c.repeatInputTail(now)
	if i, ok := slices.BinarySearchFunc(snap.Players, c.entity, func(p game.Player, id game.EntityID) int {
		return cmp.Compare(p.ID, id)
	}); ok {
		own := snap.Players[i]
		own.CooldownQuarterTicks = int32(h.FireCooldown) // the payload leaves it out
		c.pred.reconcile(own, h.ServerTick, h.LastInputTick, now, &c.shots)
	}
	c.shots.observe(snap, h, now)
}

// repeatInputTail resends the last input packet when the caller has sent
// nothing for two ticks and the server has not applied the newest input:
// no later packet will carry that tail. The caller holds mu.
func (c *Client) repeatInputTail(now time.Time) {
	if c.recentN == 0 || now.Sub(c.lastInputSend) < 2*c.sync.interval {
		return
	}
	if newest := c.recent[(c.recentAt-1+wire.MaxInputsPerPacket)%wire.MaxInputsPerPacket]; newest.Tick > c.ackedIn {
		_ = c.sendInputs(now)
	}
}

// noteInputAck records the ack latency of every input the server applied
// since the last snapshot.
func (c *Client) noteInputAck(last uint32, now time.Time) {
	if last <= c.ackedIn {
		return
	}
	from := c.ackedIn + 1
	if last-c.ackedIn > ackWindow {
		from = last - ackWindow + 1
	}
	for k := from; k <= last; k++ {
		s := &c.inputSent[k%ackWindow]
		if s.tick != k {
			continue
		}
		c.ackLat[c.ackLatAt] = now.Sub(s.sentAt)
		c.ackLatAt = (c.ackLatAt + 1) % ackSamples
		c.ackLatN = min(c.ackLatN+1, ackSamples)
	}
	c.ackedIn = last
}

// lossDown is the share of the last lossWindow snapshot ticks that did
// not arrive in order. The caller holds mu.
func (c *Client) lossDown() float64 {
	newest := c.ack.Load()
	if c.firstTick == 0 || newest < c.firstTick {
		return 0
	}
	span := min(newest-c.firstTick+1, lossWindow)
	got := 0
	for _, t := range c.seen {
		if t != 0 && t <= newest && newest-t < span {
			got++
		}
	}
	return 1 - float64(got)/float64(span)
}

// lossUp estimates the uplink's loss from the round trips of pings (those
// older than two RTTs and a second that got no pong) less the downlink's
// share. The caller holds mu.
func (c *Client) lossUp(now time.Time) float64 {
	cutoff := now.Add(-2*c.sync.srtt - time.Second)
	sent, lost := 0, 0
	for i := range c.pings {
		r := &c.pings[i]
		if r.sentAt.IsZero() || r.sentAt.After(cutoff) {
			continue
		}
		sent++
		if !r.ponged {
			lost++
		}
	}
	if sent < 8 {
		return 0
	}
	rt := float64(lost) / float64(sent)
	return max(0, 1-(1-rt)/(1-min(c.lossDown(), 0.99)))
}

// sendPing sends one heartbeat and RTT probe.
func (c *Client) sendPing(now time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.pingNonce++
	c.pings[c.pingNonce%pingWindow] = pingRecord{nonce: c.pingNonce, sentAt: now}
	// The RTT rides along so that the server need not ping us to learn it.
	rttUs := uint32(min(c.sync.srtt.Microseconds(), math.MaxUint32))
	c.pingBuf = wire.AppendPing(c.pingBuf[:0], wire.KindPing, &wire.Ping{Nonce: c.pingNonce, SentUs: uint64(c.elapsed(now).Microseconds()), RttUs: rttUs})
	return c.sendDatagram(c.pingBuf, now)
}

// pingLoop sends a Ping every PingInterval: the heartbeat that keeps the
// session alive when the player sends no input, and the RTT sample.
func (c *Client) pingLoop() {
	t := c.clock.NewTicker(c.cfg.PingInterval)
	defer t.Stop()
	prev := c.clock.Now()
	for {
		select {
		case <-c.ctx.Done():
			return
		case now := <-t.C():
			// A tick that comes long after the last one, or is read long
			// after it fired, means this process did not run this loop (a
			// swarm of sessions saturating its cores, a GC pause, a
			// suspended laptop): the reader did not run either, and what
			// the server sent waits unread. Judge silence only on a tick
			// on time, once the reader has had an interval to catch up.
			starved := now.Sub(prev) > c.cfg.PingInterval*3/2 ||
				c.clock.Now().Sub(now) > c.cfg.PingInterval/2
			prev = now
			if silent := now.Sub(time.Unix(0, c.lastHeard.Load())); silent > c.cfg.ServerTimeout && !starved {
				c.serverSilent.Store(true)
				c.end(fmt.Errorf("netcode: server silent for %v", silent.Round(time.Millisecond)))
				return
			}
			// A failed send means the connection is ending: the reader
			// ends the session, after any goodbye the server sent first.
			if err := c.sendPing(now); err != nil {
				c.log.Debug("ping not sent", "err", err)
			}
		}
	}
}

// NetStats returns the session's network and netcode figures.
func (c *Client) NetStats() NetStats {
	now := c.clock.Now()
	c.mu.Lock()
	defer c.mu.Unlock()
	s := NetStats{
		Transport:          c.conn.Kind(),
		RTT:                c.sync.srtt,
		Jitter:             time.Duration(c.sync.jitter * float64(time.Second)),
		LossDown:           c.lossDown(),
		LossUp:             c.lossUp(now),
		BytesInPerSec:      c.inMeter.rate,
		BytesOutPerSec:     c.outMeter.rate,
		SnapshotsPerSec:    c.snapMeter.rate,
		InterpDelay:        c.interp.delay(),
		FramesInterpolated: c.interp.interpolated,
		FramesExtrapolated: c.interp.extrapolated,
		FramesHeld:         c.interp.held,
		Redundancy:         c.redundancy,
		Shots:              c.shots.stats,
	}
	s.Corrections, s.CorrectionP50, s.CorrectionMax = c.pred.correctionStats()
	if c.ackLatN > 0 {
		lat := slices.Clone(c.ackLat[:c.ackLatN])
		slices.Sort(lat)
		s.InputAckP50 = lat[len(lat)/2]
		s.InputAckP99 = lat[min(len(lat)-1, int(float64(len(lat))*0.99))]
	}
	return s
}
