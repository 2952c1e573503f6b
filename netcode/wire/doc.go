// Package wire owns the bytes of Tickwire's protocol (proto/tickwire/v1):
// the packet kinds, the hand-rolled protowire codecs of the per-tick
// packets (inputs, snapshot envelopes, pings) that allocate nothing, the
// control messages (hello, welcome, disconnect, roster) through the
// generated code, the arena's rules as the welcome carries them, and the
// rules for player names and room ids that every side applies.
//
// Every decoder here treats its input as hostile: bounded, validated,
// and failing with an error that wraps ErrMalformed, never a panic. The
// package does no I/O and keeps no state; it knows nothing of
// connections, rooms or the snapshot payload (package snapshot).
package wire
