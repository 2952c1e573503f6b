package e2e

import (
	"encoding/binary"
	"fmt"
	"image"
	"image/color"
	"math/bits"
)

// decodeXWD decodes an X window dump (xwd -root) in ZPixmap format with 24
// or 32 bits per pixel, the format of an Xvfb screen of depth 24.
func decodeXWD(b []byte) (image.Image, error) {
	if len(b) < 100 {
		return nil, fmt.Errorf("xwd: %d bytes, too short for a header", len(b))
	}
	h := make([]uint32, 25)
	for i := range h {
		h[i] = binary.BigEndian.Uint32(b[4*i:])
	}
	headerSize, version, format := h[0], h[1], h[2]
	width, height := int(h[4]), int(h[5])
	byteOrder, bpp, bpl := h[7], int(h[11]), int(h[12])
	rmask, gmask, bmask := h[14], h[15], h[16]
	ncolors := int(h[19])
	if version != 7 || format != 2 || (bpp != 32 && bpp != 24) {
		return nil, fmt.Errorf("xwd: version %d format %d bpp %d not supported", version, format, bpp)
	}
	off := int(headerSize) + 12*ncolors
	if width <= 0 || height <= 0 || width > 1<<14 || height > 1<<14 || off+height*bpl > len(b) || bpl < width*bpp/8 {
		return nil, fmt.Errorf("xwd: %dx%d, %d bytes per line, does not fit %d bytes", width, height, bpl, len(b))
	}
	channel := func(v, mask uint32) uint8 {
		if mask == 0 {
			return 0
		}
		return uint8((v & mask) >> bits.TrailingZeros32(mask))
	}
	img := image.NewRGBA(image.Rect(0, 0, width, height))
	for y := range height {
		row := b[off+y*bpl:]
		for x := range width {
			var v uint32
			p := row[x*bpp/8:]
			switch {
			case bpp == 32 && byteOrder == 0:
				v = binary.LittleEndian.Uint32(p)
			case bpp == 32:
				v = binary.BigEndian.Uint32(p)
			case byteOrder == 0:
				v = uint32(p[0]) | uint32(p[1])<<8 | uint32(p[2])<<16
			default:
				v = uint32(p[2]) | uint32(p[1])<<8 | uint32(p[0])<<16
			}
			img.SetRGBA(x, y, color.RGBA{channel(v, rmask), channel(v, gmask), channel(v, bmask), 0xff})
		}
	}
	return img, nil
}

// countColour counts the pixels within tol of c on every channel.
func countColour(img image.Image, c color.RGBA, tol int) int {
	n := 0
	r := img.Bounds()
	near := func(a, b uint8) bool { d := int(a) - int(b); return d <= tol && d >= -tol }
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			p := color.RGBAModel.Convert(img.At(x, y)).(color.RGBA)
			if near(p.R, c.R) && near(p.G, c.G) && near(p.B, c.B) {
				n++
			}
		}
	}
	return n
}
