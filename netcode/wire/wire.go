package wire

import (
	"errors"
	"fmt"
	"math"
	"strings"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"github.com/tickwire/tickwire/game"
	pb "github.com/tickwire/tickwire/proto/tickwire/v1"
)

// ProtocolVersion is the version of the wire schema this code speaks.
const ProtocolVersion = 1

// MaxInputsPerPacket bounds the redundant inputs one InputPacket may carry.
const MaxInputsPerPacket = 16

// PacketKind is the field number of a Packet's body, i.e. its message type.
type PacketKind protowire.Number

// Packet kinds, as numbered in proto/tickwire/v1 Packet.body.
const (
	KindHello      PacketKind = 1
	KindWelcome    PacketKind = 2
	KindInput      PacketKind = 3
	KindSnapshot   PacketKind = 4
	KindPing       PacketKind = 5
	KindPong       PacketKind = 6
	KindDisconnect PacketKind = 7
	KindRoster     PacketKind = 8
)

func (k PacketKind) String() string {
	switch k {
	case KindHello:
		return "hello"
	case KindWelcome:
		return "welcome"
	case KindInput:
		return "input"
	case KindSnapshot:
		return "snapshot"
	case KindPing:
		return "ping"
	case KindPong:
		return "pong"
	case KindDisconnect:
		return "disconnect"
	case KindRoster:
		return "roster"
	}
	return fmt.Sprintf("kind(%d)", int(k))
}

// ErrMalformed wraps every decoding failure of bytes read from the network.
var ErrMalformed = errors.New("malformed packet")

// Malformedf returns an error that wraps ErrMalformed; the codecs above
// this package (the snapshot payload) use it so that one errors.Is check
// counts every malformed packet.
func Malformedf(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrMalformed, fmt.Sprintf(format, args...))
}

// SplitPacket returns the kind and body of an encoded Packet. A Packet is
// exactly one length-delimited field; anything else is malformed.
func SplitPacket(b []byte) (PacketKind, []byte, error) {
	num, typ, n := protowire.ConsumeTag(b)
	if n < 0 {
		return 0, nil, Malformedf("packet tag: %v", protowire.ParseError(n))
	}
	if typ != protowire.BytesType || num < protowire.Number(KindHello) || num > protowire.Number(KindRoster) {
		return 0, nil, Malformedf("unknown packet field %d (wire type %d)", num, typ)
	}
	body, m := protowire.ConsumeBytes(b[n:])
	if m < 0 {
		return 0, nil, Malformedf("packet body: %v", protowire.ParseError(m))
	}
	if n+m != len(b) {
		return 0, nil, Malformedf("%d trailing bytes after packet", len(b)-n-m)
	}
	return PacketKind(num), body, nil
}

// beginField appends the tag of a length-delimited field and a one-byte
// length placeholder; endField fixes the length once the body is written.
// This encodes nested messages in place, without a scratch buffer.
func beginField(b []byte, num protowire.Number) ([]byte, int) {
	b = protowire.AppendTag(b, num, protowire.BytesType)
	return append(b, 0), len(b) + 1
}

func endField(b []byte, bodyStart int) []byte {
	n := len(b) - bodyStart
	if n < 0x80 {
		b[bodyStart-1] = byte(n)
		return b
	}
	extra := protowire.SizeVarint(uint64(n)) - 1
	b = append(b, make([]byte, extra)...)
	copy(b[bodyStart+extra:], b[bodyStart:bodyStart+n])
	protowire.AppendVarint(b[:bodyStart-1], uint64(n))
	return b
}

func appendUint(b []byte, num protowire.Number, v uint64) []byte {
	if v == 0 {
		return b
	}
	b = protowire.AppendTag(b, num, protowire.VarintType)
	return protowire.AppendVarint(b, v)
}

func appendSint(b []byte, num protowire.Number, v int64) []byte {
	return appendUint(b, num, protowire.EncodeZigZag(v))
}

// fieldReader walks the fields of one message body, failing on the first
// malformed one. Unknown fields are skipped, as proto3 requires.
type fieldReader struct {
	b   []byte
	err error
}

// next returns the next field's number, type and value bytes (for varints,
// the decoded value in v).
func (r *fieldReader) next() (num protowire.Number, typ protowire.Type, v uint64, raw []byte, ok bool) {
	if r.err != nil || len(r.b) == 0 {
		return 0, 0, 0, nil, false
	}
	num, typ, n := protowire.ConsumeTag(r.b)
	if n < 0 {
		r.err = Malformedf("tag: %v", protowire.ParseError(n))
		return 0, 0, 0, nil, false
	}
	r.b = r.b[n:]
	switch typ {
	case protowire.VarintType:
		v, n = protowire.ConsumeVarint(r.b)
	case protowire.BytesType:
		raw, n = protowire.ConsumeBytes(r.b)
	default:
		n = protowire.ConsumeFieldValue(num, typ, r.b)
	}
	if n < 0 {
		r.err = Malformedf("field %d: %v", num, protowire.ParseError(n))
		return 0, 0, 0, nil, false
	}
	r.b = r.b[n:]
	return num, typ, v, raw, true
}

// InputPacket is the decoded form of pb.InputPacket. Inputs reuses its
// capacity between decodes.
type InputPacket struct {
	Inputs       []game.Input
	AckTick      uint32
	ClientTimeUs uint64
	// Follow is the entity a spectator follows (0: free camera); players
	// leave it 0.
	Follow game.EntityID
}

// AppendInputPacket appends a Packet{input} to b.
func AppendInputPacket(b []byte, p *InputPacket) []byte {
	b, outer := beginField(b, protowire.Number(KindInput))
	for i := range p.Inputs {
		in := &p.Inputs[i]
		var mark int
		b, mark = beginField(b, fieldInputPacketInputs)
		b = appendUint(b, fieldInputTick, uint64(in.Tick))
		b = appendSint(b, fieldInputMoveX, int64(in.MoveX))
		b = appendSint(b, fieldInputMoveY, int64(in.MoveY))
		b = appendUint(b, fieldInputAim, uint64(in.Aim))
		if in.Fire {
			b = appendUint(b, fieldInputFire, 1)
		}
		b = appendUint(b, fieldInputViewLag, uint64(in.ViewLag))
		b = endField(b, mark)
	}
	b = appendUint(b, fieldInputPacketAckTick, uint64(p.AckTick))
	b = appendUint(b, fieldInputPacketClientTimeUs, p.ClientTimeUs)
	b = appendUint(b, fieldInputPacketFollow, uint64(p.Follow))
	return endField(b, outer)
}

// DecodeInputPacket decodes the body of a Packet{input} into p, validating
// every value: at most MaxInputsPerPacket inputs, strictly increasing
// ticks, move components in [-127, 127], aim within 16 bits. A view lag
// beyond 16 bits is read as the largest (the game bounds the rewind much
// lower): the field is optional, so nothing a decoder that did not know
// it accepted is refused.
func DecodeInputPacket(body []byte, p *InputPacket) error {
	p.Inputs = p.Inputs[:0]
	p.AckTick, p.ClientTimeUs, p.Follow = 0, 0, 0
	r := fieldReader{b: body}
	for {
		num, typ, v, raw, ok := r.next()
		if !ok {
			break
		}
		switch {
		case num == fieldInputPacketInputs && typ == protowire.BytesType:
			if len(p.Inputs) == MaxInputsPerPacket {
				return Malformedf("more than %d inputs", MaxInputsPerPacket)
			}
			in, err := decodeInput(raw)
			if err != nil {
				return err
			}
			if n := len(p.Inputs); n > 0 && in.Tick <= p.Inputs[n-1].Tick {
				return Malformedf("input ticks not increasing (%d after %d)", in.Tick, p.Inputs[n-1].Tick)
			}
			p.Inputs = append(p.Inputs, in)
		case num == fieldInputPacketAckTick && typ == protowire.VarintType:
			if v > 1<<32-1 {
				return Malformedf("ack tick %d out of range", v)
			}
			p.AckTick = uint32(v)
		case num == fieldInputPacketClientTimeUs && typ == protowire.VarintType:
			p.ClientTimeUs = v
		case num == fieldInputPacketFollow && typ == protowire.VarintType:
			if v > 1<<32-1 {
				return Malformedf("follow %d out of range", v)
			}
			p.Follow = game.EntityID(v)
		}
	}
	if r.err != nil {
		return fmt.Errorf("input packet: %w", r.err)
	}
	return nil
}

func decodeInput(body []byte) (game.Input, error) {
	var in game.Input
	r := fieldReader{b: body}
	for {
		num, typ, v, _, ok := r.next()
		if !ok {
			break
		}
		if typ != protowire.VarintType {
			continue
		}
		switch num {
		case fieldInputTick:
			if v > 1<<32-1 {
				return in, Malformedf("input tick %d out of range", v)
			}
			in.Tick = uint32(v)
		case fieldInputMoveX, fieldInputMoveY:
			m := protowire.DecodeZigZag(v)
			if m < -game.MoveSteps || m > game.MoveSteps {
				return in, Malformedf("move component %d out of range", m)
			}
			if num == fieldInputMoveX {
				in.MoveX = int8(m)
			} else {
				in.MoveY = int8(m)
			}
		case fieldInputAim:
			if v >= game.AngleSteps {
				return in, Malformedf("aim %d out of range", v)
			}
			in.Aim = uint16(v)
		case fieldInputFire:
			in.Fire = v != 0
		case fieldInputViewLag:
			in.ViewLag = uint16(min(v, math.MaxUint16))
		}
	}
	if r.err != nil {
		return in, fmt.Errorf("input: %w", r.err)
	}
	return in, nil
}

// MaxFragments bounds how many datagrams one snapshot may be split into;
// a client reassembles at most this many pieces per tick (at most
// 64 × 1094 bytes, about 70 KB). A full snapshot of 1000 players without
// interest management is about 16 KB (15 fragments).
const MaxFragments = 64

// SnapshotHeader is the envelope of a Packet{snapshot} without its payload.
type SnapshotHeader struct {
	ServerTick    uint32
	BaselineTick  uint32
	LastInputTick uint32
	InputLeadMs   int32
	// InputLeadDevMs is the input lead's mean absolute deviation.
	InputLeadDevMs uint32
	// InputBacklog counts inputs queued after their tick had passed.
	InputBacklog uint32
	// FireCooldown is the own player's fire cooldown after ServerTick, in
	// quarter ticks (game.Player.CooldownQuarterTicks).
	FireCooldown uint32
	// HitShots[:NumHitShots] are the ids of the own player's projectiles
	// that hit someone in the last half second, newest first.
	HitShots      [MaxHitShots]uint32
	NumHitShots   int
	FragmentIndex uint32
	FragmentCount uint32
}

// MaxHitShots is how many projectile ids a snapshot header reports as
// hits (Snapshot.hit_shots): a player fires at most 2 shots in the half
// second they are reported for; ids past it are ignored.
const MaxHitShots = 4

// AddHitShot reports one more projectile of the own player as a hit; it
// reports false when the header holds MaxHitShots already.
func (h *SnapshotHeader) AddHitShot(id uint32) bool {
	if h.NumHitShots == MaxHitShots {
		return false
	}
	h.HitShots[h.NumHitShots] = id
	h.NumHitShots++
	return true
}

// AppendSnapshotPacket appends a Packet{snapshot} carrying payload to b.
func AppendSnapshotPacket(b []byte, h *SnapshotHeader, payload []byte) []byte {
	b, outer := beginField(b, protowire.Number(KindSnapshot))
	b = appendUint(b, fieldSnapshotServerTick, uint64(h.ServerTick))
	b = appendUint(b, fieldSnapshotBaselineTick, uint64(h.BaselineTick))
	b = appendUint(b, fieldSnapshotLastInputTick, uint64(h.LastInputTick))
	b = appendSint(b, fieldSnapshotInputLeadMs, int64(h.InputLeadMs))
	if len(payload) > 0 {
		b = protowire.AppendTag(b, fieldSnapshotPayload, protowire.BytesType)
		b = protowire.AppendBytes(b, payload)
	}
	b = appendUint(b, fieldSnapshotFragmentIndex, uint64(h.FragmentIndex))
	b = appendUint(b, fieldSnapshotFragmentCount, uint64(h.FragmentCount))
	b = appendUint(b, fieldSnapshotInputLeadDev, uint64(h.InputLeadDevMs))
	b = appendUint(b, fieldSnapshotInputBacklog, uint64(h.InputBacklog))
	b = appendUint(b, fieldSnapshotFireCooldown, uint64(h.FireCooldown))
	if n := min(h.NumHitShots, MaxHitShots); n > 0 {
		size := 0
		for _, id := range h.HitShots[:n] {
			size += protowire.SizeVarint(uint64(id))
		}
		b = protowire.AppendTag(b, fieldSnapshotHitShots, protowire.BytesType) // packed
		b = protowire.AppendVarint(b, uint64(size))
		for _, id := range h.HitShots[:n] {
			b = protowire.AppendVarint(b, uint64(id))
		}
	}
	return endField(b, outer)
}

// DecodeSnapshotPacket decodes the body of a Packet{snapshot}. The payload
// aliases body.
func DecodeSnapshotPacket(body []byte, h *SnapshotHeader) (payload []byte, err error) {
	*h = SnapshotHeader{}
	r := fieldReader{b: body}
	for {
		num, typ, v, raw, ok := r.next()
		if !ok {
			break
		}
		if num == fieldSnapshotPayload && typ == protowire.BytesType {
			payload = raw
			continue
		}
		if num == fieldSnapshotHitShots && typ == protowire.BytesType {
			if err := decodeHitShots(raw, h); err != nil {
				return nil, err
			}
			continue
		}
		if typ != protowire.VarintType {
			continue
		}
		switch num {
		case fieldSnapshotServerTick:
			h.ServerTick = uint32(v)
		case fieldSnapshotBaselineTick:
			h.BaselineTick = uint32(v)
		case fieldSnapshotLastInputTick:
			h.LastInputTick = uint32(v)
		case fieldSnapshotInputLeadMs:
			h.InputLeadMs = int32(protowire.DecodeZigZag(v))
		case fieldSnapshotFragmentIndex:
			h.FragmentIndex = uint32(v)
		case fieldSnapshotFragmentCount:
			h.FragmentCount = uint32(v)
		case fieldSnapshotInputLeadDev:
			h.InputLeadDevMs = uint32(v)
		case fieldSnapshotInputBacklog:
			h.InputBacklog = uint32(v)
		case fieldSnapshotFireCooldown:
			h.FireCooldown = uint32(v)
		case fieldSnapshotHitShots: // unpacked, as a decoder must accept
			h.AddHitShot(uint32(v))
		}
	}
	if r.err != nil {
		return nil, fmt.Errorf("snapshot: %w", r.err)
	}
	if h.FragmentCount > MaxFragments || (h.FragmentCount > 0 && h.FragmentIndex >= h.FragmentCount) {
		return nil, Malformedf("fragment %d of %d", h.FragmentIndex, h.FragmentCount)
	}
	return payload, nil
}

// decodeHitShots reads a packed hit_shots field into h, keeping the
// first MaxHitShots ids.
func decodeHitShots(packed []byte, h *SnapshotHeader) error {
	for len(packed) > 0 {
		v, n := protowire.ConsumeVarint(packed)
		if n < 0 {
			return Malformedf("snapshot hit_shots: %v", protowire.ParseError(n))
		}
		h.AddHitShot(uint32(v))
		packed = packed[n:]
	}
	return nil
}

// Ping is the decoded form of pb.Ping and pb.Pong (a Pong echoes SentUs).
type Ping struct {
	Nonce      uint32
	SentUs     uint64
	ServerTick uint32 // Pong only
	RttUs      uint32 // Ping only: the client's newest RTT (0: none)
}

// AppendPing appends a Packet{ping} (kind KindPing) or Packet{pong}.
func AppendPing(b []byte, kind PacketKind, p *Ping) []byte {
	b, outer := beginField(b, protowire.Number(kind))
	b = appendUint(b, fieldPingNonce, uint64(p.Nonce))
	b = appendUint(b, fieldPingSentUs, p.SentUs)
	if kind == KindPong {
		b = appendUint(b, fieldPongServerTick, uint64(p.ServerTick))
	} else {
		b = appendUint(b, fieldPingRttUs, uint64(p.RttUs))
	}
	return endField(b, outer)
}

// DecodePing decodes the body of a Packet{ping} or Packet{pong}.
func DecodePing(body []byte, p *Ping) error {
	*p = Ping{}
	r := fieldReader{b: body}
	for {
		num, typ, v, _, ok := r.next()
		if !ok {
			break
		}
		if typ != protowire.VarintType {
			continue
		}
		switch num {
		case fieldPingNonce:
			p.Nonce = uint32(v)
		case fieldPingSentUs:
			p.SentUs = v
		case fieldPongServerTick:
			p.ServerTick = uint32(v)
		case fieldPingRttUs:
			p.RttUs = uint32(v)
		}
	}
	if r.err != nil {
		return fmt.Errorf("ping: %w", r.err)
	}
	return nil
}

// The control messages are rare; they use the generated code.

// MarshalControl encodes a control packet (hello, welcome, disconnect,
// roster).
func MarshalControl(p *pb.Packet) []byte {
	b, err := proto.Marshal(p)
	if err != nil {
		// Marshal fails only for invalid UTF-8 in strings, which the
		// callers never construct from unchecked input.
		panic(fmt.Sprintf("netcode: marshal %T: %v", p.Body, err))
	}
	return b
}

// UnmarshalControl decodes a whole control packet with the generated code.
func UnmarshalControl(b []byte) (*pb.Packet, error) {
	var p pb.Packet
	if err := proto.Unmarshal(b, &p); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	return &p, nil
}

// ReasonName is a disconnect reason without its enum prefix, in lower
// case ("server_full"): how metrics, the dashboard and reports name it.
func ReasonName(r pb.DisconnectReason) string {
	return strings.ToLower(strings.TrimPrefix(r.String(), "DISCONNECT_REASON_"))
}

// DisconnectPacket builds the control packet that ends a session.
func DisconnectPacket(reason pb.DisconnectReason, text string) []byte {
	text = strings.ToValidUTF8(text, "?")
	return MarshalControl(&pb.Packet{Body: &pb.Packet_Disconnect{Disconnect: &pb.Disconnect{Reason: reason, Text: text}}})
}
