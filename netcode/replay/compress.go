//go:build !js

package replay

import (
	"fmt"

	"github.com/klauspost/compress/zstd"
)

// compressor compresses chunks, one zstd frame each: every block
// decompresses on its own, so a reader can start at any key frame and a
// crash costs at most the block being filled.
type compressor struct{ enc *zstd.Encoder }

func newCompressor() (*compressor, error) {
	// One goroutine, no window beyond a block: blocks are small and
	// independent, and the writer runs beside the game's rooms.
	enc, err := zstd.NewWriter(nil, zstd.WithEncoderConcurrency(1), zstd.WithEncoderLevel(zstd.SpeedDefault),
		zstd.WithWindowSize(1<<20), zstd.WithZeroFrames(true))
	if err != nil {
		return nil, fmt.Errorf("replay: zstd encoder: %w", err)
	}
	return &compressor{enc: enc}, nil
}

func (c *compressor) compress(dst, src []byte) []byte { return c.enc.EncodeAll(src, dst) }

func (c *compressor) close() { _ = c.enc.Close() }
