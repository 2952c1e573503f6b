package transport

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"testing"
)

// FuzzReadFrame: a WebTransport stream from a hostile peer, read as
// length-prefixed frames by the native reader (readFrame) and, in chunks,
// by the browser's splitter (splitFrame), yields the same frames within
// the limit or an error from both; neither panics nor allocates more than
// the limit per frame.
func FuzzReadFrame(f *testing.F) {
	f.Add(appendFrame(appendFrame(nil, []byte("hello")), nil), uint8(3))
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}, uint8(1))
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}, uint8(4))
	f.Add([]byte{0x05, 'a', 'b'}, uint8(0))
	f.Add(appendFrame(nil, bytes.Repeat([]byte{7}, 65)), uint8(9))
	const limit = 64
	f.Fuzz(func(t *testing.T, b []byte, chunk uint8) {
		var native [][]byte
		var nativeErr error
		r := bufio.NewReader(bytes.NewReader(b))
		for {
			p, err := readFrame(r, limit)
			if err != nil {
				if !errors.Is(err, io.EOF) {
					nativeErr = err
				}
				break
			}
			if len(p) > limit {
				t.Fatalf("frame of %d bytes passed a limit of %d", len(p), limit)
			}
			native = append(native, p)
		}

		// The browser hands the stream over in chunks of any size.
		step := int(chunk)%16 + 1
		var split [][]byte
		var splitErr error
		var buf []byte
		for off := 0; off < len(b) && splitErr == nil; off += step {
			buf = append(buf, b[off:min(off+step, len(b))]...)
			for {
				frame, rest, ok, err := splitFrame(buf, limit)
				if err != nil {
					splitErr = err
					break
				}
				if !ok {
					break
				}
				split = append(split, append([]byte(nil), frame...))
				buf = rest
			}
		}

		// Where the native reader fails on a bad length, so does the
		// splitter; a stream that merely ends mid-frame is only pending
		// for the splitter.
		var tooLarge *errFrameTooLarge
		if errors.As(nativeErr, &tooLarge) && splitErr == nil {
			t.Fatalf("native reader refused %v, splitter accepted", nativeErr)
		}
		if splitErr == nil && nativeErr == nil && len(buf) != 0 {
			t.Fatalf("splitter left %d bytes the native reader consumed", len(buf))
		}
		if len(split) != len(native) {
			t.Fatalf("splitter found %d frames, native reader %d (native err %v, split err %v)", len(split), len(native), nativeErr, splitErr)
		}
		for i := range native {
			if !bytes.Equal(split[i], native[i]) {
				t.Fatalf("frame %d differs: %x vs %x", i, split[i], native[i])
			}
		}
	})
}
