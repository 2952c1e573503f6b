package replay

import (
	"encoding/binary"
	"fmt"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/tickwire/tickwire/netcode/wire"
	pb "github.com/tickwire/tickwire/proto/tickwire/v1"
)

// The header block's raw bytes:
//
//	tickRate:2 keyEvery:4 segment:4 startUnixMs:8 roomLen:1 room arenaLen:uvarint arena
//
// arena is the protobuf encoding of tickwire.v1.Arena, the very message
// the welcome gives players: a replay is drawn with their rules.

func (h *Header) marshal() ([]byte, error) {
	if len(h.Room) > maxNameLen {
		return nil, fmt.Errorf("replay header: room id of %d bytes", len(h.Room))
	}
	arena, err := proto.Marshal(wire.ArenaMessage(h.Params, h.Seed))
	if err != nil {
		return nil, fmt.Errorf("replay header: arena: %w", err)
	}
	b := make([]byte, 0, 32+len(h.Room)+len(arena))
	b = binary.LittleEndian.AppendUint16(b, uint16(h.Params.TickRate))
	b = binary.LittleEndian.AppendUint32(b, h.KeyEvery)
	b = binary.LittleEndian.AppendUint32(b, h.Segment)
	b = binary.LittleEndian.AppendUint64(b, uint64(h.Start.UnixMilli()))
	b = append(b, byte(len(h.Room)))
	b = append(b, h.Room...)
	b = binary.AppendUvarint(b, uint64(len(arena)))
	return append(b, arena...), nil
}

func (h *Header) unmarshal(b []byte) error {
	const fixed = 2 + 4 + 4 + 8 + 1
	if len(b) < fixed {
		return corruptf("header of %d bytes", len(b))
	}
	tickRate := int(binary.LittleEndian.Uint16(b))
	h.KeyEvery = binary.LittleEndian.Uint32(b[2:])
	h.Segment = binary.LittleEndian.Uint32(b[6:])
	h.Start = time.UnixMilli(int64(binary.LittleEndian.Uint64(b[10:])))
	n := int(b[18])
	b = b[fixed:]
	if len(b) < n {
		return corruptf("header: room id past the end")
	}
	h.Room, b = string(b[:n]), b[n:]
	l, k := binary.Uvarint(b)
	if k <= 0 || l != uint64(len(b)-k) {
		return corruptf("header: arena length %d of %d bytes", l, len(b)-k)
	}
	var a pb.Arena
	if err := proto.Unmarshal(b[k:], &a); err != nil {
		return corruptf("header: arena: %v", err)
	}
	p, err := wire.ParamsFromArena(&a, tickRate)
	if err != nil {
		return corruptf("header: %v", err)
	}
	if h.KeyEvery == 0 {
		return corruptf("header: key frames every 0 ticks")
	}
	h.Params, h.Seed = p, a.GetSeed()
	return nil
}
