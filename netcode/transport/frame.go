package transport

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// The reliable channel of a WebTransport connection is one stream of
// frames: a uvarint length, then that many bytes. The native conn reads it
// through a bufio.Reader (readFrame); the browser's conn gets the stream in
// chunks of whatever size the browser hands over and splits them
// (splitFrame). Both refuse a claimed length over the limit before
// allocating it.

// errFrameTooLarge is a peer's frame exceeding our read limit.
type errFrameTooLarge struct{ claimed, limit uint64 }

func (e *errFrameTooLarge) Error() string {
	return fmt.Sprintf("frame of %d bytes exceeds the limit of %d", e.claimed, e.limit)
}

// readFrame reads one uvarint-length-prefixed frame. The claimed length is
// checked against limit before anything is allocated, so a hostile peer
// cannot make us allocate more than limit bytes. A clean end of stream
// between frames is io.EOF; inside a frame, io.ErrUnexpectedEOF.
func readFrame(r *bufio.Reader, limit int) ([]byte, error) {
	n, err := binary.ReadUvarint(r)
	if err != nil {
		return nil, err
	}
	if n > uint64(limit) {
		return nil, &errFrameTooLarge{claimed: n, limit: uint64(limit)}
	}
	p := make([]byte, n)
	if _, err := io.ReadFull(r, p); err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return nil, err
	}
	return p, nil
}

// appendFrame appends p framed as uvarint length + bytes.
func appendFrame(dst, p []byte) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(p)))
	return append(dst, p...)
}

// splitFrame takes the first complete frame off buf. ok is false when buf
// does not yet hold a whole frame (wait for more bytes); err is set when
// the length prefix is malformed or claims more than limit, after which
// the stream cannot be resynchronised.
func splitFrame(buf []byte, limit int) (frame, rest []byte, ok bool, err error) {
	n, k := binary.Uvarint(buf)
	switch {
	case k == 0:
		return nil, buf, false, nil // the length itself is incomplete
	case k < 0:
		return nil, buf, false, errors.New("frame length overflows 64 bits")
	case n > uint64(limit):
		return nil, buf, false, &errFrameTooLarge{claimed: n, limit: uint64(limit)}
	case uint64(len(buf)-k) < n:
		return nil, buf, false, nil
	}
	end := k + int(n)
	return buf[k:end], buf[end:], true, nil
}
