package server

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math"
	"math/rand"
	"net"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/tickwire/tickwire/game"
	"github.com/tickwire/tickwire/netcode/client"
	"github.com/tickwire/tickwire/netcode/linksim"
	"github.com/tickwire/tickwire/netcode/transport"
	"github.com/tickwire/tickwire/netcode/wire"
	pb "github.com/tickwire/tickwire/proto/tickwire/v1"
)

// The tests here run whole sessions on simulated time: a real game.Room
// on a game.ManualClock, the server's real session and snapshot code,
// and real clients (client.Lockstep), joined by in-memory links that
// linksim.Queue impairs on the same clock. One goroutine drives
// everything in time order (the room's goroutine runs in lockstep through
// Room.WaitTick), so a run is deterministic: the same seed gives the same
// figures.

// simLink is one direction of an in-memory link: a linksim.Queue on the
// simulation's clock.
type simLink struct {
	mu    sync.Mutex
	clock *game.ManualClock
	q     *linksim.Queue
}

func newSimLink(clock *game.ManualClock, cfg linksim.Config, seed int64) *simLink {
	return &simLink{clock: clock, q: linksim.NewQueue(cfg, seed, false)}
}

func (l *simLink) send(p []byte, reliable bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.q.Send(l.clock.Now(), append([]byte(nil), p...), reliable)
}

func (l *simLink) next() (time.Time, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.q.Next()
}

func (l *simLink) pop(now time.Time) ([]byte, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	p, _, ok := l.q.Pop(now)
	return p, ok
}

// memConn is the sending end of a simLink; the driver delivers what it
// carries, so Receive is never used.
type memConn struct{ link *simLink }

func (c memConn) SendDatagram(p []byte) error { c.link.send(p, false); return nil }
func (c memConn) SendMessage(p []byte) error  { c.link.send(p, true); return nil }
func (c memConn) Receive(ctx context.Context) ([]byte, bool, error) {
	<-ctx.Done()
	return nil, false, ctx.Err()
}
func (c memConn) Close() error         { return nil }
func (c memConn) Kind() transport.Kind { return transport.WebTransport }
func (c memConn) RemoteAddr() net.Addr { return &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)} }

// simClient is one player: a client.Lockstep, its two links, its server
// session, and a seeded bot that decides its inputs as the benchmark
// bots of docs/GAME.md do.
type simClient struct {
	c         *client.Lockstep
	name      string
	epoch     time.Time // when the client was made
	up, down  *simLink
	ss        *session
	helloSent time.Time

	rng          *rand.Rand
	mx, my, aim  float64
	fire         bool
	nextChange   time.Time
	frame        client.Frame
	sent         []game.Input
	lastHeard    time.Time // at the server
	maxSilence   time.Duration
	lastSnap     time.Time
	maxSnapGap   time.Duration
	delays       []float64 // ms, after warm-up
	cleanFrames  int
	maxRenderErr float64
	base         client.NetStats // at the end of warm-up
	end          client.NetStats // at the last frame measured (inputs then stop)
	playFor      time.Duration   // from the start; then it stops sending inputs

	aimAtNearest bool                              // a shooter: aims at the nearest player drawn, fires at will
	serverShots  map[game.EntityID]game.Projectile // own projectiles as the server sent them
	shotMatched  map[game.EntityID]time.Time       // when each was first drawn as the server's
	shotErrMax   float64                           // drawn minus server position, 100 ms after the match
	shotFrames   int                               // own-shot draws measured
	shotAtPress  int                               // fire presses whose next frame drew a new own shot
	shotPresses  int                               // fire presses that predicted a shot
}

func (p *simClient) decide(now time.Time) {
	if now.Before(p.nextChange) {
		return
	}
	a := p.rng.Float64() * 2 * math.Pi
	p.mx, p.my = math.Cos(a), math.Sin(a)
	p.aim = p.rng.Float64() * 2 * math.Pi
	p.fire = p.rng.Intn(2) == 0
	p.nextChange = now.Add(time.Second + time.Duration(p.rng.Int63n(int64(2*time.Second))))
}

type simConfig struct {
	seed     int64
	link     linksim.Config // both directions
	clients  int
	duration time.Duration // of play; then 3 s to drain
	warmup   time.Duration
	tickRate int // 0: 30 Hz
	// shooters aim at the nearest player they draw and fire whenever the
	// cooldown allows, instead of at random.
	shooters bool
	// noLagComp switches lag compensation off.
	noLagComp bool
}

type simResult struct {
	clients    []*simClient
	sent       int
	roomStats  game.RoomStats
	finalTicks map[game.EntityID]uint32 // server's LastInputTick per player at the end
}

// truthRing keeps the server's players of recent ticks, by tick.
type truthRing struct {
	ticks   [128]uint32
	players [128][]game.Player
}

func (t *truthRing) at(tick uint32, id game.EntityID) (game.Player, bool) {
	i := tick % 128
	if t.ticks[i] != tick {
		return game.Player{}, false
	}
	for _, p := range t.players[i] {
		if p.ID == id {
			return p, true
		}
	}
	return game.Player{}, false
}

func runSim(t *testing.T, cfg simConfig) *simResult {
	t.Helper()
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	clock := game.NewManualClock(start)
	discard := slog.New(slog.NewTextHandler(io.Discard, nil))
	srv := &Server{Clock: clock, Logger: discard, Game: game.Config{Seed: uint64(cfg.seed), TickRate: cfg.tickRate, NoLagCompensation: cfg.noLagComp}}
	if err := srv.init(); err != nil {
		t.Fatal(err)
	}
	r, err := srv.newRoom(RoomOptions{ID: DefaultRoom, Game: srv.Game})
	if err != nil {
		t.Fatal(err)
	}
	srv.rooms[DefaultRoom] = r
	room := r.game
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	roomDone := make(chan error, 1)
	go func() { roomDone <- room.Run(ctx) }()
	defer func() { cancel(); <-roomDone }()
	if !clock.WaitTickers(1, nil) {
		t.Fatal("room did not start")
	}

	var clients []*simClient
	for i := 0; i < cfg.clients; i++ {
		s := cfg.seed*1000 + int64(i)*10
		p := &simClient{
			up:   newSimLink(clock, cfg.link, s+1),
			down: newSimLink(clock, cfg.link, s+2),
			rng:  rand.New(rand.NewSource(s + 3)),
		}
		p.name, p.epoch = fmt.Sprintf("sim%d", i), clock.Now()
		p.aimAtNearest = cfg.shooters
		p.serverShots, p.shotMatched = map[game.EntityID]game.Projectile{}, map[game.EntityID]time.Time{}
		p.c = client.NewLockstep(client.Config{Name: p.name, Clock: clock, Logger: discard,
			OnSnapshot: p.keepServerShots}, memConn{p.up})
		p.playFor = cfg.duration
		// Players join 100 ms apart; each sends its hello now.
		p.helloSent = start.Add(time.Duration(i) * 100 * time.Millisecond)
		clients = append(clients, p)
	}

	period := room.Period()
	frameEvery := time.Second / 60
	now := start
	nextTick := start.Add(period)
	// Frames keep a phase of their own: a frame at the very instant a
	// tick is due would order events by the loop, not by time.
	nextFrame := start.Add(frameEvery + 3*time.Millisecond)
	nextPing := start.Add(time.Second)
	stopInputs := start.Add(cfg.duration)
	end := stopInputs.Add(3 * time.Second)
	warm := start.Add(cfg.warmup)
	var tick uint32
	var truth truthRing
	hellos := 0
	res := &simResult{clients: clients, finalTicks: map[game.EntityID]uint32{}}

	for now.Before(end) {
		t1 := slices.MinFunc([]time.Time{nextTick, nextFrame, nextPing, end}, time.Time.Compare)
		if hellos < len(clients) && clients[hellos].helloSent.Before(t1) {
			t1 = clients[hellos].helloSent
		}
		for _, p := range clients {
			for _, l := range []*simLink{p.up, p.down} {
				if d, ok := l.next(); ok && d.Before(t1) {
					t1 = d
				}
			}
		}
		if t1.Before(now) {
			t1 = now
		}
		clock.Advance(t1.Sub(now))
		now = t1

		if hellos < len(clients) && !clients[hellos].helloSent.After(now) {
			p := clients[hellos]
			if err := p.c.SendHello(now); err != nil {
				t.Fatal(err)
			}
			hellos++
		}
		if now.Equal(nextTick) {
			tick++
			if err := room.WaitTick(ctx, tick); err != nil {
				t.Fatal(err)
			}
			i := tick % 128
			truth.ticks[i] = tick
			truth.players[i] = truth.players[i][:0]
			for _, p := range clients {
				if p.ss != nil {
					if pl, ok := room.Player(p.ss.entity); ok {
						truth.players[i] = append(truth.players[i], pl)
					}
				}
			}
			nextTick = nextTick.Add(period)
		}
		for _, p := range clients {
			for raw, ok := p.up.pop(now); ok; raw, ok = p.up.pop(now) {
				deliverUp(t, srv, p, raw, now, discard)
			}
			for raw, ok := p.down.pop(now); ok; raw, ok = p.down.pop(now) {
				deliverDown(t, p, raw, now)
			}
		}
		if now.Equal(nextPing) {
			for _, p := range clients {
				if p.c.Joined() {
					if err := p.c.SendPing(now); err != nil {
						t.Fatal(err)
					}
				}
			}
			nextPing = nextPing.Add(time.Second)
		}
		if now.Equal(nextFrame) {
			for _, p := range clients {
				if !p.c.Joined() {
					continue
				}
				due := p.c.InputsDue(now)
				predicted := p.c.NetStats().Shots.Predicted
				if now.Before(stopInputs) {
					p.decide(now)
					p.aimNearest()
					for range due {
						in, err := p.c.SendInput(p.mx, p.my, p.aim, p.fire)
						if err != nil {
							t.Fatal(err)
						}
						p.sent = append(p.sent, in)
					}
				}
				p.c.Frame(now, &p.frame)
				p.measureShots(now, predicted)
				if !now.Before(warm) && now.Before(stopInputs) {
					p.measureFrame(&truth)
					p.end = p.c.NetStats()
				}
			}
			if !now.After(warm) && now.Add(frameEvery).After(warm) {
				for _, p := range clients {
					p.base = p.c.NetStats()
				}
			}
			nextFrame = nextFrame.Add(frameEvery)
		}
	}
	for _, p := range clients {
		if !p.c.Joined() {
			t.Fatalf("a client never joined")
		}
		res.sent += len(p.sent)
		pl, _ := room.Player(p.ss.entity)
		res.finalTicks[p.ss.entity] = pl.LastInputTick
	}
	res.roomStats = room.Stats()
	return res
}

func helloPacket(name string) *pb.Packet {
	return &pb.Packet{Body: &pb.Packet_Hello{Hello: &pb.ClientHello{ProtocolVersion: wire.ProtocolVersion, PlayerName: name}}}
}

// deliverUp hands a packet from a client to the server side.
func deliverUp(t *testing.T, srv *Server, p *simClient, raw []byte, now time.Time, log *slog.Logger) {
	t.Helper()
	if !p.lastHeard.IsZero() && len(p.sent) > 0 && now.Sub(p.epoch) < p.playFor {
		p.maxSilence = max(p.maxSilence, now.Sub(p.lastHeard))
	}
	p.lastHeard = now
	if p.ss == nil {
		// The hello: what Server.handleConn does, on simulated time.
		r := srv.rooms[DefaultRoom]
		entity, err := r.game.AddPlayer()
		if err != nil {
			t.Fatal(err)
		}
		ss := &session{
			id: srv.nextID.Add(1), entity: entity, name: p.name, conn: memConn{p.down}, room: r,
			kick: make(chan kickReason, 1), in: wire.InputPacket{Inputs: make([]game.Input, 0, wire.MaxInputsPerPacket)},
			log:    log,
			budget: newPacketLimiter(srv.PacketBudget.withDefaults(r.game.Params().TickRate)),
		}
		ss.out.init(srv, transport.WebTransport)
		if err := ss.conn.SendMessage(wire.MarshalControl(srv.welcome(r, ss))); err != nil {
			t.Fatal(err)
		}
		r.addSession(ss)
		p.ss = ss
		return
	}
	if k, ok := p.ss.handlePacket(srv, raw); !ok {
		t.Fatalf("server ended the session: %v %s", k.reason, k.text)
	}
}

// deliverDown hands a packet from the server to a client.
func deliverDown(t *testing.T, p *simClient, raw []byte, now time.Time) {
	t.Helper()
	if !p.c.Joined() {
		if err := p.c.Deliver(raw, now); err != nil {
			t.Fatal(err)
		}
		return
	}
	kind, _, _ := wire.SplitPacket(raw)
	if kind == wire.KindSnapshot {
		if !p.lastSnap.IsZero() && now.Sub(p.epoch) < p.playFor {
			p.maxSnapGap = max(p.maxSnapGap, now.Sub(p.lastSnap))
		}
		p.lastSnap = now
	}
	if err := p.c.Deliver(raw, now); err != nil {
		t.Fatalf("client: %v", err)
	}
}

// measureFrame records the frame's delay and, when it interpolated
// between two consecutive ticks, how far each remote player is from
// where the server's history puts it at the render tick.
func (p *simClient) measureFrame(truth *truthRing) {
	p.delays = append(p.delays, float64(p.frame.Delay)/float64(time.Millisecond))
	if p.frame.Span != 1 {
		return
	}
	p.cleanFrames++
	r := p.frame.RenderTick
	t0 := uint32(math.Floor(r))
	u := r - float64(t0)
	for _, rp := range p.frame.Remote {
		a, ok1 := truth.at(t0, rp.ID)
		b, ok2 := truth.at(t0+1, rp.ID)
		if !ok1 || !ok2 || a.Alive != b.Alive {
			continue
		}
		x, y := a.X+(b.X-a.X)*u, a.Y+(b.Y-a.Y)*u
		p.maxRenderErr = max(p.maxRenderErr, math.Hypot(rp.X-x, rp.Y-y))
	}
}

// aimNearest points a shooter at the nearest remote player of its last
// frame, firing while one is drawn.
func (p *simClient) aimNearest() {
	if !p.aimAtNearest || !p.frame.HasOwn {
		return
	}
	best := math.Inf(1)
	p.fire = false
	for _, rp := range p.frame.Remote {
		if d := math.Hypot(rp.X-p.frame.Own.X, rp.Y-p.frame.Own.Y); rp.Alive && d < best {
			best, p.fire = d, true
			p.aim = math.Atan2(rp.Y-p.frame.Own.Y, rp.X-p.frame.Own.X)
		}
	}
}

// keepServerShots records the own projectiles of every snapshot (the
// client's OnSnapshot).
func (p *simClient) keepServerShots(s *game.Snapshot, _ *wire.SnapshotHeader) {
	own := p.c.Entity()
	for _, pr := range s.Projectiles {
		if pr.Owner == own {
			p.serverShots[pr.ID] = pr
		}
	}
}

// measureShots checks the own projectiles of the frame just drawn at
// now: a fire press that predicted a shot (predicted is the count before
// it) drew one at once, and a shot the server's copy took over 100 ms
// ago or more is drawn where the server has it.
func (p *simClient) measureShots(now time.Time, predicted int64) {
	if p.c.NetStats().Shots.Predicted > predicted {
		p.shotPresses++
		for _, fp := range p.frame.Projectiles {
			if fp.Owner == p.c.Entity() && fp.ID == 0 {
				p.shotAtPress++
				break
			}
		}
	}
	params := p.c.Params()
	for _, fp := range p.frame.Projectiles {
		pr, ok := p.serverShots[fp.ID]
		if fp.Owner != p.c.Entity() || fp.ID == 0 || !ok {
			continue
		}
		at, seen := p.shotMatched[fp.ID]
		if !seen {
			p.shotMatched[fp.ID] = now
			continue
		}
		if now.Sub(at) < 100*time.Millisecond {
			continue
		}
		t := max(p.frame.OwnTick, float64(pr.SpawnTick))
		k := math.Floor(t)
		x0, y0 := pr.PositionAt(params, uint32(k))
		x1, y1 := pr.PositionAt(params, uint32(k)+1)
		x, y := x0+(x1-x0)*(t-k), y0+(y1-y0)*(t-k)
		p.shotErrMax = max(p.shotErrMax, math.Hypot(fp.X-x, fp.Y-y))
		p.shotFrames++
	}
}

func quantile(v []float64, q float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	return s[min(len(s)-1, int(q*float64(len(s))))]
}
