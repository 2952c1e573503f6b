// Package snapshottest holds what the tests of the snapshot codec's users
// (the server's fan-out, the client session) check decoded snapshots
// against. Test support: nothing but tests imports it.
package snapshottest

import (
	"github.com/tickwire/tickwire/game"
	"github.com/tickwire/tickwire/netcode/snapshot"
)

// ExpectedView is what a client playing viewer must reconstruct from the
// server's snapshot s: the entities within radius (all, when radius is
// 0), quantized as the wire carries them.
func ExpectedView(p game.Params, s *game.Snapshot, viewer game.EntityID, radius float64) *game.Snapshot {
	var vis, want game.Snapshot
	snapshot.VisibleSet(&vis, s, viewer, radius, p)
	snapshot.QuantizeForClient(&want, &vis)
	return &want
}
