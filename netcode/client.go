package netcode

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tickwire/tickwire/game"
	pb "github.com/tickwire/tickwire/proto/tickwire/v1"
)

// ClientConfig configures a client session. The zero value with Server
// and Name set connects over WebTransport, falling back to WebSocket.
type ClientConfig struct {
	// Server is the server's base URL, e.g. "http://localhost:4433".
	Server string
	// Name is the player name shown to others (1 to 32 bytes).
	Name string
	// ResumeToken, when set, is sent in the hello to take back the session
	// that issued it (ServerWelcome.resume_token) after a dropped
	// connection. Whether the server honours it is the server's business.
	ResumeToken []byte
	// Dial chooses and configures the transport.
	Dial DialOptions
	// HandshakeTimeout bounds dialing plus hello/welcome. Default 10s.
	HandshakeTimeout time.Duration
	// InputRedundancy is how many inputs each input packet carries (the
	// newest and the ones before it). Default 4; at least 1.
	InputRedundancy int
	// PingInterval is the heartbeat and RTT sampling period. Default 1s.
	PingInterval time.Duration
	// OnSnapshot, if set, is called on the session's reader goroutine for
	// every snapshot newer than the previous one. s is valid only during
	// the call.
	OnSnapshot func(s *game.Snapshot, h *SnapshotHeader)
	// OnRoster, if set, is called on the session's reader goroutine with
	// every roster (the room's players and their names) the server sends.
	OnRoster func(r *Roster)
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

// ClientStats are a client session's counters.
type ClientStats struct {
	SnapshotsReceived int64 // decoded snapshots, in order
	SnapshotsLate     int64 // arrived after a newer one; ignored
	SnapshotsNoBase   int64 // delta against a baseline the client lacks
	SnapshotsBad      int64 // undecodable
	FragmentsDropped  int64 // pieces of snapshots that never completed
	BytesIn, BytesOut int64 // application bytes (packets), both channels
	PacketsIn         int64
	PacketsOut        int64
}

// Client is one player's session with a server: the code every client
// (the Ebiten game, the bots, tests) shares.
type Client struct {
	cfg     ClientConfig
	log     *slog.Logger
	conn    Conn
	welcome *pb.ServerWelcome
	params  game.Params
	epoch   time.Time // zero of the client's microsecond clock

	ctx    context.Context
	cancel context.CancelFunc
	done   chan struct{}
	errMu  sync.Mutex
	err    error

	ack     atomic.Uint32 // newest decoded snapshot tick
	rttNs   atomic.Int64
	stats   clientCounters
	ticks   tickClock
	inbox   snapshotInbox // reader goroutine only
	sendMu  sync.Mutex
	pending []game.Input // newest last, at most InputRedundancy
	lastIn  uint32
	outBuf  []byte
	pkt     InputPacket
}

type clientCounters struct {
	received, late, noBase, bad, fragDropped, bytesIn, bytesOut, packetsIn, packetsOut atomic.Int64
}

// Connect dials the server, says hello and waits for the welcome. The
// session runs until ctx is done, Close is called or the server ends it.
func Connect(ctx context.Context, cfg ClientConfig) (*Client, error) {
	c := &Client{cfg: cfg, log: cfg.Logger, done: make(chan struct{}), epoch: time.Now()}
	c.applyDefaults()
	hctx, cancel := context.WithTimeout(ctx, c.cfg.HandshakeTimeout)
	defer cancel()
	conn, err := Dial(hctx, cfg.Server, cfg.Dial)
	if err != nil {
		return nil, fmt.Errorf("netcode: connecting to %s: %w", cfg.Server, err)
	}
	c.conn = conn
	if err := c.handshake(hctx); err != nil {
		conn.Close()
		return nil, fmt.Errorf("netcode: joining %s over %s: %w", cfg.Server, conn.Kind(), err)
	}
	c.ctx, c.cancel = context.WithCancel(ctx)
	go c.readLoop()
	go c.pingLoop()
	return c, nil
}

func (c *Client) applyDefaults() {
	if c.log == nil {
		c.log = slog.Default()
	}
	if c.cfg.HandshakeTimeout == 0 {
		c.cfg.HandshakeTimeout = 10 * time.Second
	}
	if c.cfg.InputRedundancy <= 0 {
		c.cfg.InputRedundancy = 4
	}
	c.cfg.InputRedundancy = min(c.cfg.InputRedundancy, MaxInputsPerPacket)
	if c.cfg.PingInterval == 0 {
		c.cfg.PingInterval = time.Second
	}
	c.pending = make([]game.Input, 0, c.cfg.InputRedundancy)
	c.pkt.Inputs = make([]game.Input, 0, MaxInputsPerPacket)
	c.outBuf = make([]byte, 0, 256)
}

func (c *Client) handshake(ctx context.Context) error {
	sent := time.Now()
	hello := MarshalControl(&pb.Packet{Body: &pb.Packet_Hello{Hello: &pb.ClientHello{
		ProtocolVersion: ProtocolVersion,
		PlayerName:      c.cfg.Name,
		ResumeToken:     c.cfg.ResumeToken,
	}}})
	if err := c.conn.SendMessage(hello); err != nil {
		return fmt.Errorf("sending hello: %w", err)
	}
	for {
		raw, err := c.conn.Receive(ctx)
		if err != nil {
			return fmt.Errorf("waiting for welcome: %w", err)
		}
		kind, _, err := SplitPacket(raw)
		if err != nil {
			return fmt.Errorf("waiting for welcome: %w", err)
		}
		if kind != KindWelcome && kind != KindDisconnect {
			continue // a snapshot may overtake the welcome; it is useless before it
		}
		p, err := UnmarshalControl(raw)
		if err != nil {
			return fmt.Errorf("waiting for welcome: %w", err)
		}
		if d := p.GetDisconnect(); d != nil {
			return &DisconnectError{Reason: d.GetReason(), Text: d.GetText()}
		}
		w := p.GetWelcome()
		params, err := ParamsFromArena(w.GetArena(), int(w.GetTickRate()))
		if err != nil {
			return fmt.Errorf("welcome: %w", err)
		}
		c.welcome, c.params = w, params
		c.rttNs.Store(int64(time.Since(sent)))
		c.ticks.init(float64(params.TickRate), w.GetServerTick(), c.elapsed())
		c.inbox.init(params)
		return nil
	}
}

// Welcome is the server's welcome: entity, tick rate, arena.
func (c *Client) Welcome() *pb.ServerWelcome { return c.welcome }

// Entity is the entity this client controls.
func (c *Client) Entity() game.EntityID { return game.EntityID(c.welcome.GetPlayerEntityId()) }

// Params are the rules of the server's arena, for prediction.
func (c *Client) Params() game.Params { return c.params }

// Transport says what carries this session.
func (c *Client) Transport() TransportKind { return c.conn.Kind() }

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
func (c *Client) Stats() ClientStats {
	s := &c.stats
	return ClientStats{
		SnapshotsReceived: s.received.Load(), SnapshotsLate: s.late.Load(),
		SnapshotsNoBase: s.noBase.Load(), SnapshotsBad: s.bad.Load(),
		FragmentsDropped: s.fragDropped.Load(),
		BytesIn:          s.bytesIn.Load(), BytesOut: s.bytesOut.Load(),
		PacketsIn: s.packetsIn.Load(), PacketsOut: s.packetsOut.Load(),
	}
}

func (c *Client) elapsed() time.Duration { return time.Since(c.epoch) }

// SendInput stamps an input for the server tick at which it should apply,
// quantizes it exactly as the server will see it, and sends it together
// with the previous few (so one lost datagram loses no input). Call it
// once per server tick; it returns the input as sent, for prediction.
func (c *Client) SendInput(moveX, moveY, aimRad float64, fire bool) (game.Input, error) {
	c.sendMu.Lock()
	defer c.sendMu.Unlock()
	tick := c.ticks.inputTick(c.elapsed(), c.RTT())
	if tick <= c.lastIn {
		tick = c.lastIn + 1
	}
	c.lastIn = tick
	in := game.QuantizeInput(tick, moveX, moveY, aimRad, fire)
	if len(c.pending) == cap(c.pending) {
		copy(c.pending, c.pending[1:])
		c.pending = c.pending[:len(c.pending)-1]
	}
	c.pending = append(c.pending, in)
	c.pkt.Inputs = append(c.pkt.Inputs[:0], c.pending...)
	c.pkt.AckTick = c.ack.Load()
	c.pkt.ClientTimeUs = uint64(c.elapsed().Microseconds())
	c.outBuf = AppendInputPacket(c.outBuf[:0], &c.pkt)
	return in, c.sendDatagram(c.outBuf)
}

func (c *Client) sendDatagram(b []byte) error {
	c.stats.packetsOut.Add(1)
	c.stats.bytesOut.Add(int64(len(b)))
	if err := c.conn.SendDatagram(b); err != nil && !errors.Is(err, ErrDropped) {
		return fmt.Errorf("netcode: sending: %w", err)
	}
	return nil
}

// Close says goodbye to the server and ends the session.
func (c *Client) Close() error {
	c.sendMu.Lock()
	_ = c.conn.SendMessage(DisconnectPacket(pb.DisconnectReason_DISCONNECT_REASON_CLIENT_LEFT, "client closed"))
	c.sendMu.Unlock()
	c.end(nil)
	<-c.done
	return nil
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
	defer close(c.done)
	defer c.conn.Close()
	for {
		raw, err := c.conn.Receive(c.ctx)
		if err != nil {
			c.end(fmt.Errorf("netcode: connection lost: %w", err))
			return
		}
		c.stats.packetsIn.Add(1)
		c.stats.bytesIn.Add(int64(len(raw)))
		if err := c.handlePacket(raw); err != nil {
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

func (c *Client) handlePacket(raw []byte) error {
	kind, body, err := SplitPacket(raw)
	if err != nil {
		return err
	}
	switch kind {
	case KindSnapshot:
		return c.handleSnapshot(body)
	case KindPong:
		var p Ping
		if err := DecodePing(body, &p); err != nil {
			return err
		}
		c.noteRTT(c.elapsed() - time.Duration(p.SentUs)*time.Microsecond)
	case KindRoster:
		r, err := DecodeRoster(raw)
		if err != nil {
			return err
		}
		if c.cfg.OnRoster != nil {
			c.cfg.OnRoster(r)
		}
	case KindDisconnect:
		p, err := UnmarshalControl(raw)
		if err != nil {
			return err
		}
		return &DisconnectError{Reason: p.GetDisconnect().GetReason(), Text: p.GetDisconnect().GetText()}
	}
	return nil
}

func (c *Client) handleSnapshot(body []byte) error {
	var h SnapshotHeader
	payload, err := DecodeSnapshotPacket(body, &h)
	if err != nil {
		c.stats.bad.Add(1)
		return err
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
		return malformed("snapshot %d undecodable", h.ServerTick)
	}
	c.stats.fragDropped.Store(c.inbox.fragmentsDropped)
	c.stats.received.Add(1)
	c.ack.Store(h.ServerTick)
	c.ticks.observe(h.ServerTick, c.elapsed(), c.RTT())
	if c.cfg.OnSnapshot != nil {
		c.cfg.OnSnapshot(snap, &h)
	}
	return nil
}

// noteRTT folds one round-trip sample into the smoothed RTT (as TCP's
// SRTT does, gain 1/8).
func (c *Client) noteRTT(sample time.Duration) {
	if sample <= 0 || sample > time.Minute {
		return
	}
	old := time.Duration(c.rttNs.Load())
	c.rttNs.Store(int64(old + (sample-old)/8))
}

// pingLoop sends a Ping every PingInterval: the heartbeat that keeps the
// session alive when the player sends no input, and the RTT sample.
func (c *Client) pingLoop() {
	t := time.NewTicker(c.cfg.PingInterval)
	defer t.Stop()
	var nonce uint32
	buf := make([]byte, 0, 32)
	for {
		select {
		case <-c.ctx.Done():
			return
		case <-t.C:
			nonce++
			buf = AppendPing(buf[:0], KindPing, &Ping{Nonce: nonce, SentUs: uint64(c.elapsed().Microseconds())})
			c.sendMu.Lock()
			err := c.sendDatagram(buf)
			c.sendMu.Unlock()
			if err != nil {
				c.end(err)
				return
			}
		}
	}
}

// tickClock estimates the server's tick from snapshot arrivals so that
// inputs can be stamped with the tick at which they will arrive.
type tickClock struct {
	mu     sync.Mutex
	rate   float64 // ticks per second
	offset float64 // server tick at local elapsed 0, smoothed
}

func (t *tickClock) init(rate float64, serverTick uint32, now time.Duration) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.rate = rate
	t.offset = float64(serverTick) - now.Seconds()*rate
}

// observe folds in that tick was simulated about half an RTT before now.
func (t *tickClock) observe(tick uint32, now, rtt time.Duration) {
	t.mu.Lock()
	defer t.mu.Unlock()
	sample := float64(tick) + (rtt/2).Seconds()*t.rate - now.Seconds()*t.rate
	t.offset += (sample - t.offset) / 16
}

// inputTick is the server tick an input sent now should be stamped with:
// the tick the server will be at when it arrives (half an RTT from now),
// plus a margin of two ticks for jitter.
func (t *tickClock) inputTick(now, rtt time.Duration) uint32 {
	t.mu.Lock()
	defer t.mu.Unlock()
	est := t.offset + now.Seconds()*t.rate + (rtt/2).Seconds()*t.rate + 2
	return uint32(math.Max(1, math.Ceil(est)))
}
