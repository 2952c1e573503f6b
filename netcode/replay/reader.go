package replay

import (
	"encoding/binary"
	"fmt"
	"io"
	"sort"

	"github.com/tickwire/tickwire/game"
	"github.com/tickwire/tickwire/netcode/snapshot"
)

// blockInfo is one chunk of the index the Reader builds on open.
type blockInfo struct {
	off         int64 // of the stored bytes
	first, last uint32
	key         bool
	codec       uint8
	rawLen      uint32
	storedLen   uint32
}

// Reader plays a recording back. Open indexes its blocks (checking
// every checksum); Seek and Next then decode ticks in order. It is not
// safe for concurrent use.
type Reader struct {
	src    io.ReaderAt
	hdr    Header
	blocks []blockInfo
	keys   []int // indexes of blocks that start with a key frame
	err    error // why the index stops: nil after an end block
	ended  bool

	zd     *decompressor
	dec    snapshot.Decoder
	stored []byte
	raw    []byte // the current block, decompressed
	pos    int    // next record in raw
	bi     int    // index of the current block; len(blocks) when done

	cur, prev game.Snapshot // prev: the last tick decoded
	hasPrev   bool
	started   bool   // Seek has run
	skipTo    uint32 // Seek's target: ticks before it are decoded, not returned
	roster    map[game.EntityID]string
}

// Open reads a recording's header and indexes its blocks. A recording
// cut short opens and plays up to its last whole block; Err says where
// it stops. Open fails when not even the header and one key frame are
// whole (an error wrapping ErrTruncated) or the file is not a recording
// (ErrCorrupt).
func Open(src io.ReaderAt, size int64) (*Reader, error) {
	r := &Reader{src: src, roster: map[game.EntityID]string{}}
	var start [len(Magic) + 1]byte
	if n, _ := src.ReadAt(start[:], 0); n < len(start) {
		if n < len(Magic) && string(start[:n]) != Magic[:n] {
			return nil, corruptf("not a recording")
		}
		return nil, &TruncatedError{Offset: int64(n), Why: "in the magic"}
	}
	if string(start[:len(Magic)]) != Magic {
		return nil, corruptf("not a recording")
	}
	if start[len(Magic)] != Version {
		return nil, corruptf("version %d, this reader reads %d", start[len(Magic)], Version)
	}
	if err := r.index(int64(len(start)), size); err != nil {
		return nil, err
	}
	r.dec.Params = r.hdr.Params
	if len(r.keys) == 0 {
		if r.err == nil {
			r.err = corruptf("no key frame")
		}
		return nil, fmt.Errorf("replay: nothing to play: %w", r.err)
	}
	return r, nil
}

// index walks the blocks from off, verifying each; it stops at the end
// block, at the first block that is not whole (r.err: TruncatedError) or
// at the first that is wrong (r.err: ErrCorrupt, or the error returned
// when the header itself is).
func (r *Reader) index(off, size int64) error {
	var hb [blockHeaderSize]byte
	last := uint32(0)
	haveHeader := false
	for {
		if off == size {
			r.err = &TruncatedError{LastTick: last, Offset: off, Why: "no end block"}
			break
		}
		if n, _ := r.src.ReadAt(hb[:], off); n < len(hb) {
			r.err = &TruncatedError{LastTick: last, Offset: off, Why: "in a block header"}
			break
		}
		var h blockHeader
		h.parse(hb[:])
		if h.storedLen > maxBlockStored || h.rawLen > maxBlockRaw {
			r.err = corruptf("block at byte %d: %d bytes stored, %d raw", off, h.storedLen, h.rawLen)
			break
		}
		body := off + blockHeaderSize
		if size-body < int64(h.storedLen) {
			r.err = &TruncatedError{LastTick: last, Offset: off, Why: "in a block"}
			break
		}
		r.stored = grow(r.stored, int(h.storedLen))
		if n, err := r.src.ReadAt(r.stored, body); n < len(r.stored) {
			r.err = &TruncatedError{LastTick: last, Offset: off, Why: fmt.Sprintf("reading a block: %v", err)}
			break
		}
		if checksum(hb[:], r.stored) != h.crc {
			r.err = corruptf("block at byte %d: checksum mismatch", off)
			break
		}
		if err := checkBlock(&h, haveHeader, last); err != nil {
			r.err = fmt.Errorf("block at byte %d: %w", off, err)
			break
		}
		switch h.kind {
		case kindHeader:
			if h.codec != codecNone || h.rawLen != h.storedLen {
				r.err = corruptf("compressed header")
				break
			}
			if err := r.hdr.unmarshal(r.stored); err != nil {
				return err
			}
			haveHeader = true
		case kindChunk:
			r.blocks = append(r.blocks, blockInfo{off: body, first: h.first, last: h.last, key: h.flags&flagKey != 0,
				codec: h.codec, rawLen: h.rawLen, storedLen: h.storedLen})
			if h.flags&flagKey != 0 {
				r.keys = append(r.keys, len(r.blocks)-1)
			}
			last = h.last
		case kindEnd:
			r.ended = true
			return nil
		}
		if r.err != nil {
			break
		}
		off = body + int64(h.storedLen)
	}
	if !haveHeader {
		return fmt.Errorf("replay: no header: %w", r.err)
	}
	return nil
}

// checkBlock holds a block to the order of the format: the header
// first, then chunks of increasing ticks, the first of them a key frame.
func checkBlock(h *blockHeader, haveHeader bool, last uint32) error {
	switch {
	case h.kind < kindHeader || h.kind > kindEnd:
		return corruptf("unknown block kind %d", h.kind)
	case h.codec > codecZstd:
		return corruptf("unknown codec %d", h.codec)
	case h.codec == codecNone && h.rawLen != h.storedLen:
		return corruptf("stored block of %d bytes claims %d", h.storedLen, h.rawLen)
	case (h.kind == kindHeader) == haveHeader:
		return corruptf("header block out of place")
	case h.kind == kindChunk && (h.first > h.last || (last != 0 && h.first <= last) || h.first == 0):
		return corruptf("chunk of ticks %d..%d after tick %d", h.first, h.last, last)
	case h.kind == kindChunk && last == 0 && h.flags&flagKey == 0:
		return corruptf("first chunk without a key frame")
	}
	return nil
}

func grow(b []byte, n int) []byte {
	if cap(b) < n {
		return make([]byte, n)
	}
	return b[:n]
}

// Header is the recording's header.
func (r *Reader) Header() Header { return r.hdr }

// Params are the arena's rules (Header().Params).
func (r *Reader) Params() game.Params { return r.hdr.Params }

// FirstTick and LastTick bound the ticks the recording holds whole.
func (r *Reader) FirstTick() uint32 { return r.blocks[0].first }

// LastTick is the last tick the recording holds whole.
func (r *Reader) LastTick() uint32 { return r.blocks[len(r.blocks)-1].last }

// Err is nil for a recording that ended cleanly, else why it stops where
// it does: a *TruncatedError (errors.Is ErrTruncated) for one cut short,
// or an error wrapping ErrCorrupt. Next can also fail with ErrCorrupt
// inside a block whose checksum held (a forged file).
func (r *Reader) Err() error { return r.err }

// KeyFrames lists the ticks of the key frames, where seeks start.
func (r *Reader) KeyFrames() []uint32 {
	t := make([]uint32, len(r.keys))
	for i, k := range r.keys {
		t[i] = r.blocks[k].first
	}
	return t
}

// Name is the name of player id at the last tick Next returned.
func (r *Reader) Name(id game.EntityID) (string, bool) {
	n, ok := r.roster[id]
	return n, ok
}

// Roster calls f for each player in the roster at the last tick Next
// returned (in no particular order).
func (r *Reader) Roster(f func(id game.EntityID, name string)) {
	for id, n := range r.roster {
		f(id, n)
	}
}

// Seek positions the reader so that Next returns the first recorded
// tick at or after tick (the first tick of all when tick is before it;
// io.EOF when after the last). It starts from the key frame at or before
// tick and decodes up to it: at most Header().KeyEvery ticks.
func (r *Reader) Seek(tick uint32) error {
	k := sort.Search(len(r.keys), func(i int) bool { return r.blocks[r.keys[i]].first > tick })
	k = max(k-1, 0)
	if err := r.load(r.keys[k]); err != nil {
		return err
	}
	r.hasPrev, r.skipTo, r.started = false, tick, true
	clear(r.roster)
	return nil
}

// load decompresses block i.
func (r *Reader) load(i int) error {
	b := &r.blocks[i]
	r.bi, r.pos = i, 0
	r.stored = grow(r.stored, int(b.storedLen))
	if n, err := r.src.ReadAt(r.stored, b.off); n < len(r.stored) {
		return fmt.Errorf("replay: reading block of ticks %d..%d: %w", b.first, b.last, err)
	}
	switch b.codec {
	case codecNone:
		r.raw = append(r.raw[:0], r.stored...)
	case codecZstd:
		if r.zd == nil {
			zd, err := newDecompressor()
			if err != nil {
				return err
			}
			r.zd = zd
		}
		raw, err := r.zd.decompress(r.raw, r.stored)
		if err != nil {
			return corruptf("block of ticks %d..%d: %v", b.first, b.last, err)
		}
		r.raw = raw
	}
	if len(r.raw) != int(b.rawLen) {
		return corruptf("block of ticks %d..%d: %d bytes, header says %d", b.first, b.last, len(r.raw), b.rawLen)
	}
	return nil
}

// Next decodes the next recorded tick into dst (its slices reused) and
// returns io.EOF after the last one the recording holds whole; Err then
// says whether it ended cleanly. Before the first Seek it starts at the
// first tick.
func (r *Reader) Next(dst *game.Snapshot) error {
	if !r.started {
		if err := r.Seek(0); err != nil {
			return err
		}
	}
	for {
		if r.pos == len(r.raw) {
			if r.bi+1 >= len(r.blocks) {
				return io.EOF
			}
			if err := r.load(r.bi + 1); err != nil {
				return err
			}
			continue
		}
		got, err := r.record()
		if err != nil {
			return fmt.Errorf("replay: block of ticks %d..%d: %w", r.blocks[r.bi].first, r.blocks[r.bi].last, err)
		}
		if got && r.prev.Tick >= r.skipTo {
			r.skipTo = 0
			dst.CopyFrom(&r.prev)
			return nil
		}
	}
}

// StateAt decodes the recorded tick at or after tick into dst: Seek and
// Next.
func (r *Reader) StateAt(tick uint32, dst *game.Snapshot) error {
	if err := r.Seek(tick); err != nil {
		return err
	}
	return r.Next(dst)
}

// record reads one record at r.pos; got says it was a snapshot, now in
// r.prev.
func (r *Reader) record() (got bool, err error) {
	b := r.raw[r.pos:]
	if len(b) < 5 {
		return false, corruptf("record of %d bytes", len(b))
	}
	typ, tick := b[0], binary.LittleEndian.Uint32(b[1:])
	b = b[5:]
	switch typ {
	case recSnapshot:
		if len(b) < 4 {
			return false, corruptf("snapshot record cut")
		}
		base := binary.LittleEndian.Uint32(b)
		l, k := binary.Uvarint(b[4:])
		if k <= 0 || l > uint64(len(b)-4-k) {
			return false, corruptf("snapshot payload length")
		}
		payload := b[4+k : 4+k+int(l)]
		var bs *game.Snapshot
		switch {
		case base == 0:
		case r.hasPrev && base == r.prev.Tick:
			bs = &r.prev
		default:
			return false, corruptf("tick %d deltas against tick %d, which is not the last one read", tick, base)
		}
		if err := r.dec.Decode(&r.cur, payload, bs); err != nil {
			return false, fmt.Errorf("%w: tick %d: %w", ErrCorrupt, tick, err)
		}
		if r.cur.Tick != tick || (r.hasPrev && tick <= r.prev.Tick) {
			return false, corruptf("tick %d after %d holds tick %d", tick, r.prev.Tick, r.cur.Tick)
		}
		r.cur, r.prev = r.prev, r.cur
		r.hasPrev = true
		r.pos += 5 + 4 + k + int(l)
		return true, nil
	case recJoin:
		id, name, n, err := entry(b)
		if err != nil {
			return false, err
		}
		r.roster[id] = name
		r.pos += 5 + n
	case recLeave:
		if len(b) < 4 {
			return false, corruptf("leave record cut")
		}
		delete(r.roster, game.EntityID(binary.LittleEndian.Uint32(b)))
		r.pos += 5 + 4
	case recRoster:
		c, k := binary.Uvarint(b)
		if k <= 0 || c > maxRoster {
			return false, corruptf("roster of %d", c)
		}
		clear(r.roster)
		n := k
		for range c {
			id, name, m, err := entry(b[n:])
			if err != nil {
				return false, err
			}
			r.roster[id] = name
			n += m
		}
		r.pos += 5 + n
	default:
		return false, corruptf("unknown record %d", typ)
	}
	return false, nil
}

// entry reads entity:4 nameLen:1 name.
func entry(b []byte) (game.EntityID, string, int, error) {
	if len(b) < 5 || len(b) < 5+int(b[4]) {
		return 0, "", 0, corruptf("roster entry cut")
	}
	n := int(b[4])
	return game.EntityID(binary.LittleEndian.Uint32(b)), string(b[5 : 5+n]), 5 + n, nil
}

// Close releases the decompressor.
func (r *Reader) Close() error {
	if r.zd != nil {
		r.zd.close()
		r.zd = nil
	}
	return nil
}

// WriteStored writes the recording to w with every block stored
// uncompressed: what the server sends a browser, whose build has no
// zstd (HTTP compression takes its place). Only the blocks the reader
// indexed go out, so a truncated recording stays truncated, and says so.
// It moves the reader: Seek before the next Next.
func (r *Reader) WriteStored(w io.Writer) error {
	raw, err := r.hdr.marshal()
	if err != nil {
		return err
	}
	out := &Writer{w: w}
	if err := out.write(append([]byte(Magic), Version)); err != nil {
		return err
	}
	if err := out.writeBlock(kindHeader, 0, 0, 0, raw, false); err != nil {
		return err
	}
	r.started = false
	for i, b := range r.blocks {
		if err := r.load(i); err != nil {
			return err
		}
		var flags uint8
		if b.key {
			flags = flagKey
		}
		if err := out.writeBlock(kindChunk, flags, b.first, b.last, r.raw, false); err != nil {
			return err
		}
	}
	if r.ended {
		return out.writeBlock(kindEnd, 0, r.LastTick(), r.LastTick(), nil, false)
	}
	return nil
}
