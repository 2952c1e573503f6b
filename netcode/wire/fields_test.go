package wire

import (
	"testing"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/reflect/protoreflect"

	pb "github.com/tickwire/tickwire/proto/tickwire/v1"
)

// TestFieldNumbersMatchTheSchema holds the hand-rolled codecs' field
// numbers to the schema the generated code was made from: a field
// renumbered in the .proto fails here, not on the wire.
func TestFieldNumbersMatchTheSchema(t *testing.T) {
	for _, tc := range []struct {
		msg   protoreflect.ProtoMessage
		field protoreflect.Name
		num   protowire.Number
	}{
		{&pb.Input{}, "tick", fieldInputTick},
		{&pb.Input{}, "move_x", fieldInputMoveX},
		{&pb.Input{}, "move_y", fieldInputMoveY},
		{&pb.Input{}, "aim", fieldInputAim},
		{&pb.Input{}, "fire", fieldInputFire},
		{&pb.Input{}, "view_lag", fieldInputViewLag},
		{&pb.InputPacket{}, "inputs", fieldInputPacketInputs},
		{&pb.InputPacket{}, "ack_tick", fieldInputPacketAckTick},
		{&pb.InputPacket{}, "client_time_us", fieldInputPacketClientTimeUs},
		{&pb.InputPacket{}, "follow", fieldInputPacketFollow},
		{&pb.Snapshot{}, "server_tick", fieldSnapshotServerTick},
		{&pb.Snapshot{}, "baseline_tick", fieldSnapshotBaselineTick},
		{&pb.Snapshot{}, "last_input_tick", fieldSnapshotLastInputTick},
		{&pb.Snapshot{}, "input_lead_ms", fieldSnapshotInputLeadMs},
		{&pb.Snapshot{}, "payload", fieldSnapshotPayload},
		{&pb.Snapshot{}, "fragment_index", fieldSnapshotFragmentIndex},
		{&pb.Snapshot{}, "fragment_count", fieldSnapshotFragmentCount},
		{&pb.Snapshot{}, "input_lead_dev_ms", fieldSnapshotInputLeadDev},
		{&pb.Snapshot{}, "input_backlog", fieldSnapshotInputBacklog},
		{&pb.Snapshot{}, "fire_cooldown", fieldSnapshotFireCooldown},
		{&pb.Snapshot{}, "hit_shots", fieldSnapshotHitShots},
		{&pb.Ping{}, "nonce", fieldPingNonce},
		{&pb.Ping{}, "sent_us", fieldPingSentUs},
		{&pb.Ping{}, "rtt_us", fieldPingRttUs},
		{&pb.Pong{}, "nonce", fieldPingNonce},
		{&pb.Pong{}, "echo_us", fieldPingSentUs},
		{&pb.Pong{}, "server_tick", fieldPongServerTick},
	} {
		d := tc.msg.ProtoReflect().Descriptor()
		f := d.Fields().ByName(tc.field)
		if f == nil {
			t.Errorf("%s has no field %s", d.FullName(), tc.field)
			continue
		}
		if got := protowire.Number(f.Number()); got != tc.num {
			t.Errorf("%s.%s is field %d in the schema, %d in the codec", d.FullName(), tc.field, got, tc.num)
		}
	}
	for kind, field := range map[PacketKind]protoreflect.Name{
		KindInput: "input", KindSnapshot: "snapshot", KindPing: "ping", KindPong: "pong",
	} {
		f := (&pb.Packet{}).ProtoReflect().Descriptor().Fields().ByName(field)
		if f == nil || protowire.Number(f.Number()) != protowire.Number(kind) {
			t.Errorf("packet kind %v is not Packet.%s in the schema", kind, field)
		}
	}
}
