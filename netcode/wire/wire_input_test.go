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
