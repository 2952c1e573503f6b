//go:build js

package replay

import "errors"

// The browser's build leaves the zstd codec out: it would add about
// 130 KB to the compressed download for a format the snapshot codec has
// already packed to the bit (zstd saves about 15 % of a recording). The
// server sends the browser its recordings with every block stored as it
// is (ServeUncompressed in the server's handler, Reader.WriteStored),
// and HTTP compression does the rest.

var errNoZstd = errors.New("replay: this build reads uncompressed recordings only (ask the server for ?stored=raw)")

type compressor struct{}

func newCompressor() (*compressor, error)             { return nil, errNoZstd }
func (c *compressor) compress(dst, src []byte) []byte { return dst }
func (c *compressor) close()                          {}

type decompressor struct{}

func newDecompressor() (*decompressor, error) { return nil, errNoZstd }
func (d *decompressor) decompress(dst, src []byte) ([]byte, error) {
	return dst, errNoZstd
}
func (d *decompressor) close() {}
