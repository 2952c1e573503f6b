package replay

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"time"

	"github.com/tickwire/tickwire/game"
)

// The file's layout, byte by byte, is in docs/PROTOCOL.md ("Replay
// files"); the constants below are its names.

// Magic opens every recording; Version follows it. A reader refuses
// other versions rather than guess.
const (
	Magic   = "TWREPLAY"
	Version = 1
	// Ext ends the name of every recording file.
	Ext = ".twr"
)

// Block kinds.
const (
	kindHeader = 1 // the match: room, start, tick rate, arena rules
	kindChunk  = 2 // records of about a second of ticks
	kindEnd    = 3 // the recording ended cleanly
)

// Block codecs: how a block's stored bytes hold its raw bytes.
const (
	codecNone = 0 // stored as they are
	codecZstd = 1 // one zstd frame
)

// flagKey marks a chunk that starts with a key frame: the whole roster,
// then a full snapshot. Seeking starts at such a chunk.
const flagKey = 1

// Record types inside a chunk.
const (
	recSnapshot = 1 // tick:4 base:4 len:uvarint payload
	recJoin     = 2 // tick:4 entity:4 nameLen:1 name
	recLeave    = 3 // tick:4 entity:4
	recRoster   = 4 // tick:4 count:uvarint (entity:4 nameLen:1 name)*
)

// blockHeaderSize is kind, codec, flags, first and last tick, raw and
// stored lengths, and the checksum.
const blockHeaderSize = 3 + 4*5

// Bounds the reader holds every block to, whatever the file says: a
// hostile length cannot make it allocate without bound. A chunk of a
// second of a 1000-player room without interest management is about
// 30 × 16 KB raw; these leave a wide margin.
const (
	maxBlockRaw    = 16 << 20
	maxBlockStored = 16 << 20
	maxNameLen     = 255
	maxRoster      = 1 << 16
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// blockHeader is the fixed part of a block.
type blockHeader struct {
	kind, codec, flags uint8
	first, last        uint32 // ticks of the block's first and last snapshot
	rawLen, storedLen  uint32
	crc                uint32 // CRC-32C of the header's first 19 bytes and the stored bytes
}

func (h *blockHeader) put(b []byte) {
	b[0], b[1], b[2] = h.kind, h.codec, h.flags
	binary.LittleEndian.PutUint32(b[3:], h.first)
	binary.LittleEndian.PutUint32(b[7:], h.last)
	binary.LittleEndian.PutUint32(b[11:], h.rawLen)
	binary.LittleEndian.PutUint32(b[15:], h.storedLen)
	binary.LittleEndian.PutUint32(b[19:], h.crc)
}

func (h *blockHeader) parse(b []byte) {
	h.kind, h.codec, h.flags = b[0], b[1], b[2]
	h.first = binary.LittleEndian.Uint32(b[3:])
	h.last = binary.LittleEndian.Uint32(b[7:])
	h.rawLen = binary.LittleEndian.Uint32(b[11:])
	h.storedLen = binary.LittleEndian.Uint32(b[15:])
	h.crc = binary.LittleEndian.Uint32(b[19:])
}

// checksum is the block's CRC over its header (without the CRC field)
// and its stored bytes: a bit flipped anywhere in the block is caught.
func checksum(hdr, stored []byte) uint32 {
	c := crc32.Update(0, castagnoli, hdr[:blockHeaderSize-4])
	return crc32.Update(c, castagnoli, stored)
}

// Header describes the match a recording holds.
type Header struct {
	// Room is the room's ID.
	Room string
	// Start is when the recording started (kept to the millisecond).
	Start time.Time
	// Params are the arena's rules, the tick rate among them: a replay
	// decodes and draws with exactly what its clients were told.
	Params game.Params
	// Seed is the world's seed, for the record.
	Seed uint64
	// KeyEvery is the distance between key frames, in ticks.
	KeyEvery uint32
	// Segment counts the files of one room's recording from 0: a room
	// that outgrew the size limit goes on in a new file.
	Segment uint32
}

// ErrTruncated is wrapped by the error of a recording that ends before
// its end block: cut off by a crash, or still being written. It plays up
// to the last complete tick (TruncatedError).
var ErrTruncated = errors.New("replay: recording truncated")

// ErrCorrupt is wrapped by the error of a recording whose bytes are
// wrong where they are whole: a checksum mismatch, an unknown version,
// block or record, a payload the snapshot codec rejects.
var ErrCorrupt = errors.New("replay: recording corrupt")

// TruncatedError says where a recording stops: LastTick is the last
// tick it holds whole (0 when it holds none), Offset the first byte that
// is not part of a whole block.
type TruncatedError struct {
	LastTick uint32
	Offset   int64
	Why      string
}

func (e *TruncatedError) Error() string {
	return fmt.Sprintf("replay: recording truncated at byte %d (%s): it plays to tick %d", e.Offset, e.Why, e.LastTick)
}

// Unwrap makes errors.Is(err, ErrTruncated) hold.
func (e *TruncatedError) Unwrap() error { return ErrTruncated }

func corruptf(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrCorrupt, fmt.Sprintf(format, args...))
}
