// Package game is the arena of docs/GAME.md as a deterministic, pure
// simulation, and the room loop that runs it at a fixed rate.
//
// The simulation (World, Params, the state types) owns the rules: players
// move, aim and fire; projectiles fly, hit and vanish; the dead respawn.
// It has no clock, no goroutines, no I/O and no network: World.Step
// advances exactly one tick from the inputs it is given, and the same
// seed and inputs give the same state, bit for bit, on every platform.
// The same code runs in the server (the authority), in the client
// (prediction, through Params.MovePlayer and Projectile.PositionAt) and in
// tests. Floating-point expressions round every product explicitly, so no
// compiler can fuse them into multiply-adds differently on amd64, arm64 or
// wasm.
//
// The room (Room) is the one part with time in it, and it gets time only
// through the Clock it is handed: it ticks a World at the configured rate,
// drains the inputs that network goroutines queue, records a short
// History of snapshots and hands each new state to a SnapshotSink.
//
// This package never imports netcode or proto: it knows nothing of the
// wire, and whoever sends snapshots implements SnapshotSink.
package game
