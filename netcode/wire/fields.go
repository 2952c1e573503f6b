package wire

import "google.golang.org/protobuf/encoding/protowire"

// Field numbers of the messages the hand-rolled codecs write and read, as
// proto/tickwire/v1/tickwire.proto numbers them (TestFieldNumbersMatchTheSchema
// holds them to the schema).
const (
	fieldInputTick    protowire.Number = 1 // Input.tick
	fieldInputMoveX   protowire.Number = 2 // Input.move_x
	fieldInputMoveY   protowire.Number = 3 // Input.move_y
	fieldInputAim     protowire.Number = 4 // Input.aim
	fieldInputFire    protowire.Number = 5 // Input.fire
	fieldInputViewLag protowire.Number = 6 // Input.view_lag

	fieldInputPacketInputs       protowire.Number = 1 // InputPacket.inputs
	fieldInputPacketAckTick      protowire.Number = 2 // InputPacket.ack_tick
	fieldInputPacketClientTimeUs protowire.Number = 3 // InputPacket.client_time_us
	fieldInputPacketFollow       protowire.Number = 4 // InputPacket.follow

	fieldSnapshotServerTick    protowire.Number = 1  // Snapshot.server_tick
	fieldSnapshotBaselineTick  protowire.Number = 2  // Snapshot.baseline_tick
	fieldSnapshotLastInputTick protowire.Number = 3  // Snapshot.last_input_tick
	fieldSnapshotInputLeadMs   protowire.Number = 4  // Snapshot.input_lead_ms
	fieldSnapshotPayload       protowire.Number = 5  // Snapshot.payload
	fieldSnapshotFragmentIndex protowire.Number = 6  // Snapshot.fragment_index
	fieldSnapshotFragmentCount protowire.Number = 7  // Snapshot.fragment_count
	fieldSnapshotInputLeadDev  protowire.Number = 8  // Snapshot.input_lead_dev_ms
	fieldSnapshotInputBacklog  protowire.Number = 9  // Snapshot.input_backlog
	fieldSnapshotFireCooldown  protowire.Number = 10 // Snapshot.fire_cooldown
	fieldSnapshotHitShots      protowire.Number = 11 // Snapshot.hit_shots

	fieldPingNonce      protowire.Number = 1 // Ping.nonce, Pong.nonce
	fieldPingSentUs     protowire.Number = 2 // Ping.sent_us, Pong.echo_us
	fieldPongServerTick protowire.Number = 3 // Pong.server_tick
	fieldPingRttUs      protowire.Number = 4 // Ping.rtt_us
)
