package wire

import (
	"bytes"
	"errors"
	"math"
	"slices"
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"github.com/tickwire/tickwire/game"
	pb "github.com/tickwire/tickwire/proto/tickwire/v1"
)

func marshalDeterministic(t testing.TB, m proto.Message) []byte {
	t.Helper()
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestHandEncodedInputPacketMatchesSchema(t *testing.T) {
	p := InputPacket{
		Inputs: []game.Input{
			{Tick: 7, MoveX: -127, MoveY: 0, Aim: 0, Fire: false},
			{Tick: 8, MoveX: 127, MoveY: -3, Aim: 65535, Fire: true, ViewLag: 130},
			{Tick: 300, MoveX: 1, MoveY: 64, Aim: 100},
			{Tick: 301, Fire: true, ViewLag: 65535},
		},
		AckTick:      299,
		ClientTimeUs: 1 << 40,
		Follow:       42,
	}
	want := marshalDeterministic(t, &pb.Packet{Body: &pb.Packet_Input{Input: &pb.InputPacket{
		Inputs: []*pb.Input{
			{Tick: 7, MoveX: -127},
			{Tick: 8, MoveX: 127, MoveY: -3, Aim: 65535, Fire: true, ViewLag: 130},
			{Tick: 300, MoveX: 1, MoveY: 64, Aim: 100},
			{Tick: 301, Fire: true, ViewLag: 65535},
		},
		AckTick:      299,
		ClientTimeUs: 1 << 40,
		Follow:       42,
	}}})
	got := AppendInputPacket(nil, &p)
	if !bytes.Equal(got, want) {
		t.Fatalf("hand encoding differs from schema:\n got %x\nwant %x", got, want)
	}
	kind, body, err := SplitPacket(got)
	if err != nil || kind != KindInput {
		t.Fatalf("SplitPacket = %v, %v", kind, err)
	}
	var back InputPacket
	if err := DecodeInputPacket(body, &back); err != nil {
		t.Fatal(err)
	}
	if back.AckTick != p.AckTick || back.ClientTimeUs != p.ClientTimeUs || back.Follow != p.Follow || len(back.Inputs) != len(p.Inputs) {
		t.Fatalf("round trip = %+v, want %+v", back, p)
	}
	for i := range p.Inputs {
		if back.Inputs[i] != p.Inputs[i] {
			t.Fatalf("input %d = %+v, want %+v", i, back.Inputs[i], p.Inputs[i])
		}
	}
}

func TestHandEncodedSnapshotMatchesSchema(t *testing.T) {
	for _, size := range []int{0, 10, 127, 128, 1100, 20000} {
		payload := bytes.Repeat([]byte{0xAB}, size)
		h := SnapshotHeader{ServerTick: 1000, BaselineTick: 990, LastInputTick: 1002, InputLeadMs: -40, FragmentIndex: 1, FragmentCount: 3,
			InputLeadDevMs: 3, InputBacklog: 2, FireCooldown: 26, HitShots: [MaxHitShots]uint32{4000, 77}, NumHitShots: 2}
		want := marshalDeterministic(t, &pb.Packet{Body: &pb.Packet_Snapshot{Snapshot: &pb.Snapshot{
			ServerTick: 1000, BaselineTick: 990, LastInputTick: 1002, InputLeadMs: -40, Payload: payload,
			FragmentIndex: 1, FragmentCount: 3, InputLeadDevMs: 3, InputBacklog: 2, FireCooldown: 26,
			HitShots: []uint32{4000, 77},
		}}})
		got := AppendSnapshotPacket(nil, &h, payload)
		if !bytes.Equal(got, want) {
			t.Fatalf("payload %d: hand encoding differs from schema", size)
		}
		_, body, err := SplitPacket(got)
		if err != nil {
			t.Fatal(err)
		}
		var back SnapshotHeader
		gotPayload, err := DecodeSnapshotPacket(body, &back)
		if err != nil || back != h || !bytes.Equal(gotPayload, payload) {
			t.Fatalf("payload %d: round trip = %+v, %v", size, back, err)
		}
	}
}

func TestHandEncodedPingPongMatchSchema(t *testing.T) {
	// Each kind carries only its own fields: a pong no RTT, a ping no tick.
	p := Ping{Nonce: 5, SentUs: 123456789, ServerTick: 77, RttUs: 20500}
	want := marshalDeterministic(t, &pb.Packet{Body: &pb.Packet_Pong{Pong: &pb.Pong{Nonce: 5, EchoUs: 123456789, ServerTick: 77}}})
	if got := AppendPing(nil, KindPong, &p); !bytes.Equal(got, want) {
		t.Fatalf("pong: got %x want %x", got, want)
	}
	want = marshalDeterministic(t, &pb.Packet{Body: &pb.Packet_Ping{Ping: &pb.Ping{Nonce: 5, SentUs: 123456789, RttUs: 20500}}})
	got := AppendPing(nil, KindPing, &p)
	if !bytes.Equal(got, want) {
		t.Fatalf("ping: got %x want %x", got, want)
	}
	kind, body, err := SplitPacket(got)
	if err != nil || kind != KindPing {
		t.Fatalf("split: %v %v", kind, err)
	}
	var back Ping
	if err := DecodePing(body, &back); err != nil || back != (Ping{Nonce: 5, SentUs: 123456789, RttUs: 20500}) {
		t.Fatalf("decoded %+v, %v", back, err)
	}
}

func TestDecodeRejectsBadInput(t *testing.T) {
	encode := func(in ...*pb.Input) []byte {
		b := marshalDeterministic(t, &pb.InputPacket{Inputs: in})
		return b
	}
	many := make([]*pb.Input, MaxInputsPerPacket+1)
	for i := range many {
		many[i] = &pb.Input{Tick: uint32(i + 1)}
	}
	tests := []struct {
		name string
		body []byte
		want string
	}{
		{"move out of range", encode(&pb.Input{Tick: 1, MoveX: 128}), "move component"},
		{"aim out of range", encode(&pb.Input{Tick: 1, Aim: 70000}), "aim"},
		{"ticks not increasing", encode(&pb.Input{Tick: 5}, &pb.Input{Tick: 5}), "not increasing"},
		{"too many inputs", encode(many...), "more than"},
		{"truncated", encode(&pb.Input{Tick: 1, MoveX: 3})[:3], "malformed"},
		{"garbage", []byte{0xff, 0xff, 0xff}, "malformed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var p InputPacket
			err := DecodeInputPacket(tt.body, &p)
			if err == nil || !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want malformed containing %q", err, tt.want)
			}
		})
	}
}

func TestSplitPacketRejectsNonPackets(t *testing.T) {
	good := AppendPing(nil, KindPing, &Ping{Nonce: 1})
	for name, b := range map[string][]byte{
		"empty":         nil,
		"unknown field": {0x4a, 0x00},
		"varint field":  {0x08, 0x01},
		"trailing":      append(append([]byte{}, good...), 0),
		"truncated":     good[:len(good)-1],
	} {
		if _, _, err := SplitPacket(b); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: err = %v, want ErrMalformed", name, err)
		}
	}
}

func TestEncodeInputPacketAllocatesNothing(t *testing.T) {
	p := InputPacket{Inputs: []game.Input{{Tick: 1}, {Tick: 2, MoveX: 5}, {Tick: 3, Fire: true}}, AckTick: 9}
	buf := make([]byte, 0, 256)
	var back InputPacket
	back.Inputs = make([]game.Input, 0, MaxInputsPerPacket)
	allocs := testing.AllocsPerRun(100, func() {
		b := AppendInputPacket(buf[:0], &p)
		_, body, _ := SplitPacket(b)
		_ = DecodeInputPacket(body, &back)
	})
	if allocs != 0 {
		t.Fatalf("allocs = %v, want 0", allocs)
	}
}

func BenchmarkInputPacketRoundTrip(b *testing.B) {
	p := InputPacket{Inputs: []game.Input{{Tick: 100}, {Tick: 101, MoveX: 5}, {Tick: 102, Fire: true, Aim: 999}}, AckTick: 99}
	buf := make([]byte, 0, 256)
	back := InputPacket{Inputs: make([]game.Input, 0, MaxInputsPerPacket)}
	b.ReportAllocs()
	for b.Loop() {
		out := AppendInputPacket(buf[:0], &p)
		_, body, _ := SplitPacket(out)
		if err := DecodeInputPacket(body, &back); err != nil {
			b.Fatal(err)
		}
	}
}

func FuzzDecodePacket(f *testing.F) {
	f.Add(AppendInputPacket(nil, &InputPacket{Inputs: []game.Input{{Tick: 1, MoveX: 3}, {Tick: 2, Fire: true}}, AckTick: 1}))
	f.Add(AppendInputPacket(nil, &InputPacket{Inputs: []game.Input{{Tick: 9, Fire: true, ViewLag: 120}, {Tick: 10, Fire: true, ViewLag: 65535}}, AckTick: 8}))
	f.Add(appendPacket(KindInput, inputBody(varintField(fieldInputViewLag, math.MaxUint64))))
	f.Add(appendPacket(KindInput, inputBody(varintField(fieldInputViewLag, 1<<16))))
	f.Add(AppendSnapshotPacket(nil, &SnapshotHeader{ServerTick: 5, FragmentCount: 2, FragmentIndex: 1}, []byte("xyz")))
	f.Add(AppendPing(nil, KindPing, &Ping{Nonce: 3, SentUs: 99}))
	f.Add(MarshalControl(&pb.Packet{Body: &pb.Packet_Hello{Hello: &pb.ClientHello{ProtocolVersion: 1, PlayerName: "bot"}}}))
	f.Add(DisconnectPacket(pb.DisconnectReason_DISCONNECT_REASON_TIMEOUT, "idle"))
	f.Add([]byte{0x1a, 0x80})
	in := InputPacket{Inputs: make([]game.Input, 0, MaxInputsPerPacket)}
	f.Fuzz(func(t *testing.T, b []byte) {
		kind, body, err := SplitPacket(b)
		if err != nil {
			return
		}
		switch kind {
		case KindInput:
			if DecodeInputPacket(body, &in) != nil {
				return
			}
			if len(in.Inputs) > MaxInputsPerPacket {
				t.Fatalf("%d inputs accepted", len(in.Inputs))
			}
			// What was accepted encodes, and decodes back the same.
			again := InputPacket{Inputs: make([]game.Input, 0, MaxInputsPerPacket)}
			_, body2, err := SplitPacket(AppendInputPacket(nil, &in))
			if err != nil {
				t.Fatal(err)
			}
			if err := DecodeInputPacket(body2, &again); err != nil || !slices.Equal(again.Inputs, in.Inputs) {
				t.Fatalf("re-encoded inputs %+v decode as %+v (%v)", in.Inputs, again.Inputs, err)
			}
		case KindSnapshot:
			var h SnapshotHeader
			if payload, err := DecodeSnapshotPacket(body, &h); err == nil && len(payload) > len(body) {
				t.Fatal("payload longer than body")
			}
		case KindPing, KindPong:
			var p Ping
			_ = DecodePing(body, &p)
		default:
			_, _ = UnmarshalControl(b)
		}
	})
}

// appendPacket wraps a body in a Packet of the given kind.
func appendPacket(kind PacketKind, body []byte) []byte {
	b := protowire.AppendTag(nil, protowire.Number(kind), protowire.BytesType)
	return protowire.AppendBytes(b, body)
}

// TestHitShotsDecodePackedOrNotAndKeepTheFirstFour: a decoder must take a
// repeated field packed or not; ids past MaxHitShots are dropped, and a
// truncated packed list is malformed.
func TestHitShotsDecodePackedOrNotAndKeepTheFirstFour(t *testing.T) {
	packed := func(ids ...uint64) []byte {
		var inner []byte
		for _, id := range ids {
			inner = protowire.AppendVarint(inner, id)
		}
		b := protowire.AppendTag(nil, fieldSnapshotHitShots, protowire.BytesType)
		return protowire.AppendBytes(b, inner)
	}
	unpacked := func(ids ...uint64) []byte {
		var b []byte
		for _, id := range ids {
			b = protowire.AppendTag(b, fieldSnapshotHitShots, protowire.VarintType)
			b = protowire.AppendVarint(b, id)
		}
		return b
	}
	for _, tc := range []struct {
		name    string
		body    []byte
		want    []uint32
		wantErr bool
	}{
		{"packed", packed(9, 300), []uint32{9, 300}, false},
		{"unpacked", unpacked(9, 300), []uint32{9, 300}, false},
		{"both", append(packed(1), unpacked(2)...), []uint32{1, 2}, false},
		{"six kept four", packed(1, 2, 3, 4, 5, 6), []uint32{1, 2, 3, 4}, false},
		{"truncated varint", protowire.AppendBytes(protowire.AppendTag(nil, fieldSnapshotHitShots, protowire.BytesType), []byte{0x80}), nil, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var h SnapshotHeader
			_, err := DecodeSnapshotPacket(tc.body, &h)
			if tc.wantErr {
				if err == nil {
					t.Fatalf("decoded %v, want an error", h.HitShots[:h.NumHitShots])
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := h.HitShots[:h.NumHitShots]; !slices.Equal(got, tc.want) {
				t.Fatalf("hit shots = %v, want %v", got, tc.want)
			}
		})
	}
}
