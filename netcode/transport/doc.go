// Package transport owns Tickwire's connections: Conn, one peer's
// unreliable datagrams plus one reliable ordered channel, over
// WebTransport (HTTP/3, UDP) or WebSocket (TCP).
//
//   - Dial connects to a server, WebTransport first with a fall back to
//     WebSocket; natively (quic-go, gorilla/websocket) or, in the browser
//     (js/wasm), through the browser's WebTransport and WebSocket objects.
//   - Endpoint serves both transports and the certificate hashes on one
//     port, checks origins, admits connections per address (IPLimits),
//     and hands each to its OnConn with the request that opened it.
//   - CertManager provides the endpoint's certificate: self-signed and
//     rotated for local play (its hashes pinned by clients), or files.
//
// It knows nothing of packets, rooms or players: it moves byte slices,
// says which channel each came on, and leaves their meaning to the
// layers above. The files for native sockets are built only outside the
// browser (//go:build !js); the browser's are built only in it.
package transport
