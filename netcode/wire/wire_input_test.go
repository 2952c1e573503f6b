package wire

import (
	"errors"
	"math"
	"testing"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/tickwire/tickwire/game"
)

// inputBody builds the body of a Packet{input} holding one Input message
// with the given raw fields, so that tests can send what no honest
// encoder writes: other wire types, huge varints, float bit patterns.
func inputBody(fields func(b []byte) []byte) []byte {
	in := fields(nil)
	b := protowire.AppendTag(nil, 1, protowire.BytesType)
	return protowire.AppendBytes(b, in)
}

func varintField(num protowire.Number, v uint64) func([]byte) []byte {
	return func(b []byte) []byte {
		b = protowire.AppendTag(b, protowire.Number(1), protowire.VarintType)
		b = protowire.AppendVarint(b, 7) // tick 7
		b = protowire.AppendTag(b, num, protowire.VarintType)
		return protowire.AppendVarint(b, v)
	}
}

// TestInputValuesOutsideTheRulesNeverDecode: the move and aim of an input
// are integers on the wire, range-checked by the decoder, so NaN,
// infinities and out-of-range values cannot reach the room. A float bit
// pattern sent with a float wire type is an unknown field to the decoder
// and is skipped (the component stays 0).
func TestInputValuesOutsideTheRulesNeverDecode(t *testing.T) {
	rejected := map[string][]byte{
		"moveX 128":           inputBody(varintField(2, protowire.EncodeZigZag(128))),
		"moveX -128":          inputBody(varintField(2, protowire.EncodeZigZag(-128))),
		"moveY -129":          inputBody(varintField(3, protowire.EncodeZigZag(-129))),
		"moveY max int64":     inputBody(varintField(3, protowire.EncodeZigZag(math.MaxInt64))),
		"moveX min int64":     inputBody(varintField(2, protowire.EncodeZigZag(math.MinInt64))),
		"aim 65536":           inputBody(varintField(4, game.AngleSteps)),
		"aim max uint64":      inputBody(varintField(4, math.MaxUint64)),
		"tick beyond 32 bits": inputBody(varintField(1, 1<<32)),
	}
	for name, body := range rejected {
		t.Run(name, func(t *testing.T) {
			var p InputPacket
			if err := DecodeInputPacket(body, &p); !errors.Is(err, ErrMalformed) {
				t.Fatalf("decoded %+v (err %v), want malformed", p.Inputs, err)
			}
		})
	}
	floats := map[string]func([]byte) []byte{
		"NaN as fixed32": func(b []byte) []byte {
			b = protowire.AppendTag(b, 2, protowire.Fixed32Type)
			return protowire.AppendFixed32(b, math.Float32bits(float32(math.NaN())))
		},
		"+Inf as fixed64": func(b []byte) []byte {
			b = protowire.AppendTag(b, 3, protowire.Fixed64Type)
			return protowire.AppendFixed64(b, math.Float64bits(math.Inf(1)))
		},
		"-Inf aim as fixed64": func(b []byte) []byte {
			b = protowire.AppendTag(b, 4, protowire.Fixed64Type)
			return protowire.AppendFixed64(b, math.Float64bits(math.Inf(-1)))
		},
	}
	for name, f := range floats {
		t.Run(name, func(t *testing.T) {
			var p InputPacket
			if err := DecodeInputPacket(inputBody(f), &p); err != nil {
				t.Fatalf("unknown wire type not skipped: %v", err)
			}
			if in := p.Inputs[0]; in.MoveX != 0 || in.MoveY != 0 || in.Aim != 0 {
				t.Fatalf("a float bit pattern became %+v", in)
			}
		})
	}
	for _, v := range []int64{-127, 0, 127} {
		var p InputPacket
		if err := DecodeInputPacket(inputBody(varintField(2, protowire.EncodeZigZag(v))), &p); err != nil || p.Inputs[0].MoveX != int8(v) {
			t.Fatalf("move %d: %+v, %v", v, p.Inputs, err)
		}
	}
}

// TestInputViewLagIsBoundedNeverRefused: view_lag is an optional field
// added to Input; the decoder refuses no packet for it (a decoder that did
// not know the field accepted them all), reads values beyond 16 bits,
// negative numbers sent as huge varints included, as the largest, and
// skips it sent with another wire type.
func TestInputViewLagIsBoundedNeverRefused(t *testing.T) {
	for _, tt := range []struct {
		name string
		body []byte
		want uint16
	}{
		{"absent (an older client)", inputBody(varintField(2, 0)), 0},
		{"120", inputBody(varintField(fieldInputViewLag, 120)), 120},
		{"65535", inputBody(varintField(fieldInputViewLag, math.MaxUint16)), math.MaxUint16},
		{"65536", inputBody(varintField(fieldInputViewLag, 1<<16)), math.MaxUint16},
		{"beyond 32 bits", inputBody(varintField(fieldInputViewLag, 1<<40)), math.MaxUint16},
		{"-1 as an int64 varint", inputBody(varintField(fieldInputViewLag, math.MaxUint64)), math.MaxUint16},
		{"as fixed32", inputBody(func(b []byte) []byte {
			b = protowire.AppendTag(b, fieldInputViewLag, protowire.Fixed32Type)
			return protowire.AppendFixed32(b, 7)
		}), 0},
		{"as bytes", inputBody(func(b []byte) []byte {
			b = protowire.AppendTag(b, fieldInputViewLag, protowire.BytesType)
			return protowire.AppendBytes(b, []byte{1, 2, 3})
		}), 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var p InputPacket
			if err := DecodeInputPacket(tt.body, &p); err != nil {
				t.Fatalf("refused: %v", err)
			}
			if len(p.Inputs) != 1 || p.Inputs[0].ViewLag != tt.want {
				t.Fatalf("decoded %+v, want view lag %d", p.Inputs, tt.want)
			}
		})
	}
}
