package netcode

import (
	"sort"

	"github.com/tickwire/tickwire/game"
)

// fragmentPayloadSize is the most snapshot payload one datagram carries:
// the datagram budget less the envelope (tag, ticks, lead, fragment
// fields: at most 40 bytes).
const fragmentPayloadSize = MaxDatagramSize - 40

// snapshotOutbox is one session's snapshot sender. It is used only from
// the room goroutine and reuses its buffers, so sending a snapshot
// allocates nothing in steady state.
type snapshotOutbox struct {
	enc       SnapshotEncoder
	payload   []byte
	packet    []byte
	fragments bool // the transport has a datagram budget (WebTransport)
	tooLarge  bool // logged once
}

func (o *snapshotOutbox) init(srv *Server, kind TransportKind) {
	o.enc = srv.newEncoder()
	o.fragments = kind == WebTransport
	o.payload = make([]byte, 0, 4096)
	o.packet = make([]byte, 0, MaxDatagramSize+64)
}

// send encodes the snapshot of cur for ss against the newest tick it has
// acknowledged (a full snapshot when that tick is no longer in history)
// and sends it, split into fragments when it exceeds one datagram.
func (o *snapshotOutbox) send(ss *session, cur *game.Snapshot, history *game.History, room *game.Room) {
	hdr := SnapshotHeader{ServerTick: cur.Tick, LastInputTick: lastInputTick(cur, ss.entity)}
	var base *game.Snapshot
	if ack := ss.ackTick.Load(); ack != 0 && ack < cur.Tick {
		if b, ok := history.At(ack); ok {
			base, hdr.BaselineTick = b, ack
		}
	}
	if lead, ok := room.InputLead(ss.entity); ok {
		hdr.InputLeadMs = int32(lead.Milliseconds())
	}
	payload, err := o.enc.Encode(o.payload[:0], cur, base, ss.entity)
	if err != nil {
		ss.log.Error("encoding snapshot", "err", err, "tick", cur.Tick)
		return
	}
	o.payload = payload
	if !o.fragments || len(payload) <= fragmentPayloadSize {
		o.packet = AppendSnapshotPacket(o.packet[:0], &hdr, payload)
		_ = ss.conn.SendDatagram(o.packet)
		return
	}
	count := (len(payload) + fragmentPayloadSize - 1) / fragmentPayloadSize
	if count > maxFragments {
		if !o.tooLarge {
			o.tooLarge = true
			ss.log.Error("snapshot too large to send; enable AOI", "bytes", len(payload), "max_fragments", maxFragments)
		}
		return
	}
	hdr.FragmentCount = uint32(count)
	for i := 0; i < count; i++ {
		chunk := payload[i*fragmentPayloadSize : min(len(payload), (i+1)*fragmentPayloadSize)]
		hdr.FragmentIndex = uint32(i)
		o.packet = AppendSnapshotPacket(o.packet[:0], &hdr, chunk)
		_ = ss.conn.SendDatagram(o.packet)
	}
}

// lastInputTick finds the tick of the newest input applied to the player.
func lastInputTick(s *game.Snapshot, id game.EntityID) uint32 {
	i := sort.Search(len(s.Players), func(i int) bool { return s.Players[i].ID >= id })
	if i < len(s.Players) && s.Players[i].ID == id {
		return s.Players[i].LastInputTick
	}
	return 0
}
