package server

import (
	"time"

	"github.com/tickwire/tickwire/game"
	"github.com/tickwire/tickwire/netcode/snapshot"
	"github.com/tickwire/tickwire/netcode/transport"
	"github.com/tickwire/tickwire/netcode/wire"
)

// fragmentPayloadSize is the most snapshot payload one datagram carries:
// the datagram budget less the envelope (tag and length, three ticks,
// the lead and its deviation, the backlog, the cooldown, the payload's
// tag and length, the fragment fields: at most 52 bytes).
const fragmentPayloadSize = transport.MaxDatagramSize - 56

// snapshotOutbox is one session's part of the snapshot fan-out: what the
// fan-out must know of its transport. It is used only from the room
// goroutine.
type snapshotOutbox struct {
	// reliable: every packet queued reaches the client, in order
	// (WebSocket), so payloads delta against the newest tick queued and
	// travel whole; otherwise datagrams, with a budget (WebTransport).
	reliable  bool
	tooLarge  bool // logged once
	encodeErr bool // logged once
	// fullTick is the tick of the last full snapshot sent, which later
	// payloads delta against until the client acks it (see baseline).
	fullTick uint32
	// queued is the newest tick queued whole to a reliable transport.
	queued uint32
	// viewer is whose view a spectator's payloads are, with AOI (0: the
	// whole arena, a free camera), since the tick viewSince: no baseline
	// before it is the client's reconstruction of the same view, so none
	// is used (see watch).
	viewer    game.EntityID
	viewSince uint32
}

// watch sets, with AOI, whose view a spectator's payloads carry from
// tick on: the player it follows, or the whole arena for a free camera
// (0). The client reconstructed its earlier snapshots with the old view,
// which the server cannot recompute from the new one, so after a change
// the next payload is a full snapshot and later deltas only use ticks
// from then on. A change within minGap ticks of the last one waits (the
// client repeats its choice in every packet): a spectator that flips its
// target every packet gets at most one full snapshot per minGap ticks,
// as a player whose acks stop does. Players never call it: their view
// is their own entity's.
func (o *snapshotOutbox) watch(viewer game.EntityID, tick, minGap uint32) {
	if viewer == o.viewer && o.viewSince != 0 {
		return
	}
	if o.viewSince != 0 && tick-o.viewSince < minGap {
		return
	}
	o.viewer, o.viewSince = viewer, tick
	o.fullTick, o.queued = 0, 0
}

// ackStall is how long the input packets of a reliable session may keep
// an ack that stands still while snapshots go out before the fan-out
// stops trusting that the client holds every snapshot queued to it (a
// client that failed to decode one never acks again) and falls back to
// the ack. It is counted in packets, not time: a client that only lags (a
// slow device, a saturated swarm) sends late inputs too, with acks that
// still advance; a time bound was tripped by saturated bots, which then
// got bigger payloads.
const ackStall = 3 * time.Second

// fullRetry is how long the fan-out deltas against an unacknowledged full
// snapshot before it sends another: a little more than a round trip.
const fullRetry = 250 * time.Millisecond

// baselineRules are ackStall and fullRetry for one room's tick rate.
type baselineRules struct {
	ackStall  uint32 // input packets (one a tick)
	fullRetry uint32 // ticks
}

func rulesFor(tickRate int) baselineRules {
	return baselineRules{
		ackStall:  uint32(ackStall.Seconds() * float64(tickRate)),
		fullRetry: uint32(max(2, int(fullRetry.Seconds()*float64(tickRate)))),
	}
}

// baseline is the snapshot the session's payload at cur deltas against:
// the newest tick the client acknowledged while the history holds it.
// Without one (a new client, or one whose acks lag the history) a full
// snapshot goes out, and then, rather than a full snapshot every tick
// until one is acknowledged, deltas against that one, on the bet that it
// arrived: a lagging client would otherwise get tens of times its usual
// bytes every tick, and lag further behind. If no ack of it comes within
// fullRetry, the bet is lost (the snapshot was lost, or the client is too
// far behind) and another full snapshot goes out. nil: a full snapshot.
//
// Over a reliable transport the client will hold every snapshot queued to
// it, so the newest one queued is the baseline, without waiting for its
// ack: payloads delta against the previous tick (the smallest deltas, one
// encoding shared by every such client) and a client whose acks lag does
// not get bigger payloads. Only if ackStall's worth of its input packets
// (staleAcks of them) carried no newer ack does the ack rule below take
// over.
func (o *snapshotOutbox) baseline(ack, staleAcks uint32, cur *game.Snapshot, history *game.History, r baselineRules) *game.Snapshot {
	stalled := o.queued > ack && staleAcks >= r.ackStall
	if ack < o.viewSince {
		ack = 0 // a tick of another view (watch)
	}
	if o.reliable && o.queued != 0 && o.queued < cur.Tick && !stalled {
		if b, ok := history.At(o.queued); ok {
			return b
		}
	}
	if ack != 0 && ack < cur.Tick {
		if b, ok := history.At(ack); ok {
			return b
		}
	}
	if o.fullTick != 0 && o.fullTick < cur.Tick && cur.Tick-o.fullTick < r.fullRetry {
		if b, ok := history.At(o.fullTick); ok {
			return b
		}
	}
	return nil
}

// chose records that the payload at cur deltas against base.
func (o *snapshotOutbox) chose(base, cur *game.Snapshot) {
	if base == nil {
		o.fullTick = cur.Tick
	}
}

// sent records that the snapshot of tick went to the transport whole
// (err nil: queued).
func (o *snapshotOutbox) sent(tick uint32, err error) {
	if o.reliable && err == nil {
		o.queued = tick
	}
}

func (o *snapshotOutbox) init(_ *Server, kind transport.Kind) {
	o.reliable = kind == transport.WebSocket
}

// fanoutRoom is what the fan-out needs of the room it serves.
type fanoutRoom interface {
	Params() game.Params
	InputLead(id game.EntityID) (game.InputLead, bool)
}

// snapshotFanout is a room's per-tick snapshot work: for every session,
// pick the baseline (snapshotOutbox.baseline), encode the snapshot
// against it, wrap it in the envelope and send it, in fragments when it
// exceeds one datagram. It runs on the room goroutine only, and
// allocates nothing once its buffers have grown.
//
// Without interest management a payload depends only on the tick and the
// baseline, not on the client: the fan-out encodes once per distinct
// baseline per tick and every session that acknowledged that baseline
// gets the same bytes (at 30 Hz most clients ack one of a handful of
// recent ticks). With interest management each client's payload is its
// own, but the interest filter runs on AOIIndex grids shared by all
// clients: one is built per tick, for the new snapshot, and kept while
// that tick may serve as a baseline, so no client scans the whole world.
// Either way the bytes are exactly those snapshot.Encoder.Encode writes
// for that client alone.
type snapshotFanout struct {
	enc    snapshot.Encoder // AOIRadius stays 0: the filter is the indexes'
	params game.Params
	rules  baselineRules
	radius float64
	ready  bool

	shared  []sharedPayload // without AOI: this tick's payloads, by baseline
	nShared int
	payload []byte // with AOI: the current session's payload
	packet  []byte
	indexes [game.DefaultHistoryTicks]snapshot.AOIIndex // with AOI: by tick, mod 64
	hits    hitReport

	// observe is Server.OnTick, set when the room is made: when not nil
	// it sees every tick's snapshot before anything is sent.
	observe func(cur *game.Snapshot)
}

// sharedPayload is one tick's payload against one baseline (0: full).
type sharedPayload struct {
	baseline uint32
	payload  []byte
	err      error
}

func (f *snapshotFanout) setup(params game.Params, radius float64) {
	f.params, f.radius, f.ready = params, radius, true
	f.rules = rulesFor(params.TickRate)
	f.enc = snapshot.Encoder{Params: params}
	f.indexes = [len(f.indexes)]snapshot.AOIIndex{}
	if f.packet == nil {
		f.packet = make([]byte, 0, transport.MaxDatagramSize+64)
		f.payload = make([]byte, 0, 4096)
	}
}

// tick sends every session its snapshot of cur. radius is the room's AOI
// radius (≤ 0: the whole world).
func (f *snapshotFanout) tick(cur *game.Snapshot, history *game.History, sessions []*session, room fanoutRoom, radius float64) {
	if f.observe != nil {
		f.observe(cur)
	}
	if !(radius > 0) {
		radius = 0 // NaN and negatives mean the whole world, as in VisibleSet
	}
	if p := room.Params(); !f.ready || f.params != p || f.radius != radius {
		f.setup(p, radius)
	}
	f.nShared = 0
	f.hits.advance(cur.Tick, uint32(f.params.TickRate)/2)
	var curIx *snapshot.AOIIndex
	if f.radius > 0 {
		curIx = f.index(cur, true)
	}
	for _, ss := range sessions {
		hdr := wire.SnapshotHeader{ServerTick: cur.Tick}
		viewer := ss.entity
		if ss.spectator && curIx != nil {
			ss.out.watch(game.EntityID(ss.follow.Load()), cur.Tick, f.rules.fullRetry)
			viewer = ss.out.viewer
		}
		base := ss.out.baseline(ss.ackTick.Load(), ss.staleAcks.Load(), cur, history, f.rules)
		ss.out.chose(base, cur)
		if base != nil {
			hdr.BaselineTick = base.Tick
		}
		if !ss.spectator {
			ownState(&hdr, cur, ss.entity)
			f.hits.fill(&hdr, ss.entity)
			if lead, ok := room.InputLead(ss.entity); ok {
				setLead(&hdr, lead)
			}
		}
		var payload []byte
		var err error
		if curIx != nil && viewer != 0 {
			var baseIx *snapshot.AOIIndex
			if base != nil {
				baseIx = f.index(base, false)
			}
			payload, err = f.enc.EncodeIndexed(f.payload[:0], curIx, baseIx, viewer)
			f.payload = payload
		} else { // without AOI, or a spectator's free camera: the whole arena
			payload, err = f.sharedPayload(cur, base)
		}
		if err != nil {
			if !ss.out.encodeErr {
				ss.out.encodeErr = true
				ss.log.Error("encoding snapshot", "err", err, "tick", cur.Tick)
			}
			continue
		}
		f.send(ss, &hdr, payload)
	}
}

// index returns the AOIIndex of s, building it when the slot of its tick
// holds another snapshot's (or always, when fresh: s is a new tick's).
func (f *snapshotFanout) index(s *game.Snapshot, fresh bool) *snapshot.AOIIndex {
	ix := &f.indexes[s.Tick%uint32(len(f.indexes))]
	if fresh || !ix.BuiltFor(s, f.radius, f.params) {
		ix.Build(s, f.radius, f.params)
	}
	return ix
}

// sharedPayload returns this tick's payload against base, encoding it on
// first use.
func (f *snapshotFanout) sharedPayload(cur, base *game.Snapshot) ([]byte, error) {
	var bt uint32
	if base != nil {
		bt = base.Tick
	}
	for i := range f.nShared {
		if sp := &f.shared[i]; sp.baseline == bt {
			return sp.payload, sp.err
		}
	}
	if f.nShared == len(f.shared) {
		f.shared = append(f.shared, sharedPayload{})
	}
	sp := &f.shared[f.nShared]
	f.nShared++
	sp.baseline = bt
	sp.payload, sp.err = f.enc.Encode(sp.payload[:0], cur, base, 0)
	return sp.payload, sp.err
}

// send wraps payload in the envelope and hands it to the transport:
// whole over WebSocket or when it fits one datagram, else in fragments.
// Sends never block; a full queue drops the datagram.
func (f *snapshotFanout) send(ss *session, hdr *wire.SnapshotHeader, payload []byte) {
	if ss.out.reliable || len(payload) <= fragmentPayloadSize {
		f.packet = wire.AppendSnapshotPacket(f.packet[:0], hdr, payload)
		ss.out.sent(hdr.ServerTick, ss.conn.SendDatagram(f.packet))
		return
	}
	count := (len(payload) + fragmentPayloadSize - 1) / fragmentPayloadSize
	if count > wire.MaxFragments {
		if !ss.out.tooLarge {
			ss.out.tooLarge = true
			ss.log.Error("snapshot too large to send; enable AOI", "bytes", len(payload), "max_fragments", wire.MaxFragments)
		}
		return
	}
	hdr.FragmentCount = uint32(count)
	for i := range count {
		chunk := payload[i*fragmentPayloadSize : min(len(payload), (i+1)*fragmentPayloadSize)]
		hdr.FragmentIndex = uint32(i)
		f.packet = wire.AppendSnapshotPacket(f.packet[:0], hdr, chunk)
		_ = ss.conn.SendDatagram(f.packet)
	}
}

// ownState puts what the payload leaves out of the session's own player
// into its header: the newest input applied and the fire cooldown.
func ownState(hdr *wire.SnapshotHeader, s *game.Snapshot, id game.EntityID) {
	if i, ok := game.FindPlayer(s.Players, id); ok {
		hdr.LastInputTick = s.Players[i].LastInputTick
		hdr.FireCooldown = uint32(max(0, s.Players[i].CooldownQuarterTicks))
	}
}

// setLead reports a session's input lead in its snapshot header.
func setLead(hdr *wire.SnapshotHeader, lead game.InputLead) {
	hdr.InputLeadMs = int32(lead.Mean.Round(time.Millisecond).Milliseconds())
	hdr.InputLeadDevMs = uint32(max(0, lead.Dev.Round(time.Millisecond).Milliseconds()))
	hdr.InputBacklog = uint32(lead.Backlog)
}
