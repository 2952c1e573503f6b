//go:build !js

package replay

import (
	"fmt"

	"github.com/klauspost/compress/zstd"
)

// decompressor undoes compressor, bounded by maxBlockRaw whatever a
// frame claims.
type decompressor struct{ dec *zstd.Decoder }

func newDecompressor() (*decompressor, error) {
	dec, err := zstd.NewReader(nil, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxMemory(maxBlockRaw),
		zstd.WithDecoderMaxWindow(maxBlockRaw))
	if err != nil {
		return nil, fmt.Errorf("replay: zstd decoder: %w", err)
	}
	return &decompressor{dec: dec}, nil
}

func (d *decompressor) decompress(dst, src []byte) ([]byte, error) {
	out, err := d.dec.DecodeAll(src, dst[:0])
	if err != nil {
		return dst, fmt.Errorf("zstd: %w", err)
	}
	return out, nil
}

func (d *decompressor) close() { d.dec.Close() }
