// Package client is the client side of a Tickwire session, shared by the
// game (desktop and browser) and the bot swarm:
//
//   - Connect dials a server (package transport), says hello and runs the
//     session: it acks snapshots, pings, and ends on silence or goodbye;
//   - the clock sync estimates the server's tick and paces inputs on a
//     dilated input clock so that they arrive just before their tick;
//   - the inbox reassembles fragments and decodes each snapshot against
//     the baseline it names (package snapshot), keeping recent ones;
//   - the interpolation buffer renders remote entities a little in the
//     past (Frame); prediction shows the own player ahead and reconciles
//     it with the server's state, fading corrections out;
//   - SnapshotShare lets the clients of one process decode each distinct
//     payload once;
//   - Lockstep is the same client driven packet by packet on the
//     caller's clock, for deterministic simulations.
//
// It never imports the server and draws nothing: what to show and which
// inputs to send are the caller's.
package client
