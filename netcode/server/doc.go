// Package server is the Tickwire game server: a Server serves one port
// (package transport) and hosts rooms, each a fixed-rate game.Room.
//
//   - Sessions: the hello, admission (join tokens, capacity, draining),
//     the welcome, inputs queued for the room, acks, pings, timeouts,
//     packet budgets, and the goodbye; a dropped player is parked for
//     the resume grace and comes back with its resume token.
//   - The snapshot fan-out, on each room's goroutine: a baseline per
//     client, one encoding per distinct baseline (or per view with
//     interest management), fragments over WebTransport, sends that
//     never block.
//   - The lobby (/rooms: list, create, join), the room directory shared
//     across processes (directory, directory/redisdir), the Agones
//     sidecar (agones), Prometheus metrics, /healthz and /readyz, drain.
//   - The live view: /dashboard, a page built in, fed once a second by
//     /dashboard/events (Server-Sent Events) from what the metrics
//     already measure: the server samples, package dashboard serves.
//   - Match recording: RecordOptions; package recording records a room
//     and serves /replays.
//
// servertest starts servers for tests. The server never imports the
// client session (package client).
package server
