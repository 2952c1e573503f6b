// Package netcode is the folder of Tickwire's networking packages; it
// holds no code of its own. Each package below owns one concern, and
// imports run one way, from the top of this list to the bottom (the
// import rules are checked by this folder's test):
//
//	wire        packet kinds and their hand-rolled codecs, player-name and
//	            room-id rules: the bytes of the protocol (imports proto, game)
//	snapshot    the arena's snapshot payload: quantization, deltas against
//	            a baseline, bit packing, the area-of-interest index
//	transport   Conn (datagrams plus a reliable channel) over WebTransport
//	            and WebSocket, native and in the browser; dialing with
//	            fallback; the one-port Endpoint; certificates; per-address
//	            admission. It knows nothing of rooms or packets.
//	linksim     a seeded simulated link (latency, jitter, loss) around a Conn
//	jointoken   signed join tokens, minted by a lobby or a game's backend
//	lobby       the lobby's HTTP API: its bodies, their strict decoders,
//	            and the Client every game client uses to list, create,
//	            join and quick-play rooms (natively and in the browser)
//	client      the client session: Client, clock sync, the snapshot inbox,
//	            interpolation, prediction, shared decoding for swarms
//	server      rooms, sessions, the snapshot fan-out, resume, the lobby,
//	            metrics and health routes; beneath it directory (rooms
//	            across processes), directory/redisdir, agones (the Agones
//	            sidecar), recording (a room's match to files, and /replays),
//	            dashboard (the live view's page, event stream and who may
//	            see it; the server samples) and servertest (running
//	            servers for tests)
//
// The server and the client session never import each other; the
// browser build of the game reaches neither the server nor the native
// sockets.
package netcode
