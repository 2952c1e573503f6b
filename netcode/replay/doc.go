// Package replay records a room's match and plays it back: a Writer
// turns each tick's world into the snapshot codec's payloads (a full
// snapshot at every key frame, deltas against the previous recorded tick
// in between) with the roster's changes, and writes them in compressed
// blocks of about a second each; a Reader indexes the key frames when it
// opens a recording, seeks to any tick from the nearest key frame before
// it, and decodes tick after tick.
//
// The format (docs/PROTOCOL.md, "Replay files") is versioned and framed
// so that a recording cut short (a crash, a full disk, a download that
// stopped) plays up to its last whole block: the Reader reports the cut
// as ErrTruncated with the last complete tick, never as garbage. Every
// block carries a checksum; the reader treats the whole file as hostile.
//
// What a replay reconstructs for tick T is what a client with full view
// would: snapshot.QuantizeForClient of the server's state, without the
// server-only fields. The package imports the codecs only (snapshot,
// wire, game), never the server, so the browser game links it.
package replay
