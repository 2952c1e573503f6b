package replay

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"slices"

	"github.com/tickwire/tickwire/game"
	"github.com/tickwire/tickwire/netcode/snapshot"
)

// WriterOptions tune a Writer. The zero value means a key frame every
// 5 s and a block every second.
type WriterOptions struct {
	// KeyEvery is the distance between key frames in ticks: the most a
	// seek decodes. Zero means 5 s worth.
	KeyEvery uint32
	// FlushEvery is how many ticks go in one block: the most a crash
	// loses. Zero means 1 s worth.
	FlushEvery uint32
	// Uncompressed stores blocks as they are (tests, and what a server
	// sends a client that cannot decompress).
	Uncompressed bool
}

// Writer writes one recording. Call Join and Leave as players come and
// go, WriteTick for every tick (in increasing order; ticks may be
// skipped), and Close at the end. It is not safe for concurrent use: the
// server gives it a goroutine of its own. Each block goes to the
// underlying writer in one Write, so a file holds whole blocks but for
// the last one a crash cut.
type Writer struct {
	w    io.Writer
	hdr  Header
	opts WriterOptions
	enc  snapshot.Encoder
	zc   *compressor

	roster  map[game.EntityID]string
	prev    game.Snapshot // the last tick written: the next delta's baseline
	hasPrev bool
	lastKey uint32

	chunk                  []byte // records of the block being filled
	chunkFirst, chunkLast  uint32
	chunkKey, chunkHasSnap bool
	block                  []byte // scratch: header and stored bytes
	payload                []byte // scratch: one snapshot payload

	size   int64
	err    error // sticky: a failed write ends the recording
	closed bool
}

// NewWriter writes the file's magic, version and header block to w. The
// header's KeyEvery is set from opts.
func NewWriter(w io.Writer, h Header, opts WriterOptions) (*Writer, error) {
	if err := h.Params.Validate(); err != nil {
		return nil, fmt.Errorf("replay writer: %w", err)
	}
	rate := uint32(h.Params.TickRate)
	if opts.KeyEvery == 0 {
		opts.KeyEvery = 5 * rate
	}
	if opts.FlushEvery == 0 {
		opts.FlushEvery = rate
	}
	h.KeyEvery = opts.KeyEvery
	wr := &Writer{w: w, hdr: h, opts: opts, roster: map[game.EntityID]string{}}
	wr.enc.Params = h.Params
	if !opts.Uncompressed {
		zc, err := newCompressor()
		if err != nil {
			return nil, err
		}
		wr.zc = zc
	}
	raw, err := h.marshal()
	if err != nil {
		return nil, err
	}
	start := append([]byte(Magic), Version)
	if err := wr.write(start); err != nil {
		return nil, err
	}
	if err := wr.writeBlock(kindHeader, 0, 0, 0, raw, false); err != nil {
		return nil, err
	}
	return wr, nil
}

// Header is the recording's header.
func (w *Writer) Header() Header { return w.hdr }

// Size is how many bytes have gone to the underlying writer.
func (w *Writer) Size() int64 { return w.size }

// Join notes that player id, named name, is in the game from tick on (a
// second Join renames it).
func (w *Writer) Join(tick uint32, id game.EntityID, name string) {
	if len(name) > maxNameLen {
		name = name[:maxNameLen]
	}
	w.roster[id] = name
	w.chunk = append(w.chunk, recJoin)
	w.chunk = binary.LittleEndian.AppendUint32(w.chunk, tick)
	w.chunk = binary.LittleEndian.AppendUint32(w.chunk, uint32(id))
	w.chunk = append(w.chunk, byte(len(name)))
	w.chunk = append(w.chunk, name...)
}

// Leave notes that player id left at tick.
func (w *Writer) Leave(tick uint32, id game.EntityID) {
	delete(w.roster, id)
	w.chunk = append(w.chunk, recLeave)
	w.chunk = binary.LittleEndian.AppendUint32(w.chunk, tick)
	w.chunk = binary.LittleEndian.AppendUint32(w.chunk, uint32(id))
}

// WriteTick records the world at s.Tick, which must be newer than the
// last tick written: a full snapshot when a key frame is due (then it
// starts a block of its own), else a delta against the last tick
// written. The block goes out once it holds FlushEvery ticks.
func (w *Writer) WriteTick(s *game.Snapshot) error {
	if w.err != nil {
		return w.err
	}
	if w.closed {
		return errors.New("replay writer: closed")
	}
	if w.hasPrev && s.Tick <= w.prev.Tick {
		return fmt.Errorf("replay writer: tick %d not after %d", s.Tick, w.prev.Tick)
	}
	key := !w.hasPrev || s.Tick-w.lastKey >= w.opts.KeyEvery
	if key && w.chunkHasSnap {
		// A key frame starts a block, so that a seek starts reading there.
		if err := w.Flush(); err != nil {
			return err
		}
	}
	var base *game.Snapshot
	if !key {
		base = &w.prev
	}
	p, err := w.enc.Encode(w.payload[:0], s, base, 0)
	if err != nil {
		return fmt.Errorf("replay writer: tick %d: %w", s.Tick, err)
	}
	w.payload = p
	if key {
		w.lastKey, w.chunkKey = s.Tick, true
		w.appendRoster(s.Tick)
	}
	w.chunk = append(w.chunk, recSnapshot)
	w.chunk = binary.LittleEndian.AppendUint32(w.chunk, s.Tick)
	baseTick := uint32(0)
	if base != nil {
		baseTick = base.Tick
	}
	w.chunk = binary.LittleEndian.AppendUint32(w.chunk, baseTick)
	w.chunk = binary.AppendUvarint(w.chunk, uint64(len(p)))
	w.chunk = append(w.chunk, p...)
	if !w.chunkHasSnap {
		w.chunkFirst, w.chunkHasSnap = s.Tick, true
	}
	w.chunkLast = s.Tick
	// The baseline is kept as the server has it; the encoder quantizes
	// both sides the same way, so the delta is what the reader needs.
	w.prev.CopyFrom(s)
	w.hasPrev = true
	if s.Tick-w.chunkFirst+1 >= w.opts.FlushEvery {
		return w.Flush()
	}
	return nil
}

// appendRoster writes the whole roster, by entity, before a key frame's
// snapshot: a reader that starts there knows every name.
func (w *Writer) appendRoster(tick uint32) {
	ids := make([]game.EntityID, 0, len(w.roster))
	for id := range w.roster {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	w.chunk = append(w.chunk, recRoster)
	w.chunk = binary.LittleEndian.AppendUint32(w.chunk, tick)
	w.chunk = binary.AppendUvarint(w.chunk, uint64(len(ids)))
	for _, id := range ids {
		name := w.roster[id]
		w.chunk = binary.LittleEndian.AppendUint32(w.chunk, uint32(id))
		w.chunk = append(w.chunk, byte(len(name)))
		w.chunk = append(w.chunk, name...)
	}
}

// Flush writes the block being filled, if it holds a tick. Roster
// changes after the last tick wait for the next one.
func (w *Writer) Flush() error {
	if w.err != nil {
		return w.err
	}
	if !w.chunkHasSnap {
		return nil
	}
	var flags uint8
	if w.chunkKey {
		flags = flagKey
	}
	err := w.writeBlock(kindChunk, flags, w.chunkFirst, w.chunkLast, w.chunk, w.zc != nil)
	w.chunk, w.chunkHasSnap, w.chunkKey = w.chunk[:0], false, false
	return err
}

// Close flushes and writes the end block. It does not close the
// underlying writer.
func (w *Writer) Close() error {
	if w.closed {
		return w.err
	}
	err := w.Flush()
	w.closed = true
	if w.zc != nil {
		defer w.zc.close()
	}
	if err != nil {
		return err
	}
	return w.writeBlock(kindEnd, 0, w.prev.Tick, w.prev.Tick, nil, false)
}

// writeBlock frames raw as one block and writes it in one call.
func (w *Writer) writeBlock(kind, flags uint8, first, last uint32, raw []byte, compress bool) error {
	h := blockHeader{kind: kind, flags: flags, first: first, last: last, rawLen: uint32(len(raw))}
	b := append(w.block[:0], make([]byte, blockHeaderSize)...)
	if compress {
		h.codec = codecZstd
		b = w.zc.compress(b, raw)
	} else {
		b = append(b, raw...)
	}
	h.storedLen = uint32(len(b) - blockHeaderSize)
	h.put(b)
	h.crc = checksum(b, b[blockHeaderSize:])
	h.put(b)
	w.block = b
	return w.write(b)
}

func (w *Writer) write(b []byte) error {
	n, err := w.w.Write(b)
	w.size += int64(n)
	if err != nil {
		w.err = fmt.Errorf("replay writer: %w", err)
		return w.err
	}
	return nil
}
