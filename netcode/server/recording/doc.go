// Package recording records a room's match to files (docs/HOSTING.md,
// "Recordings"): one Recorder per room, one file per segment,
// ROOM-YYYYMMDDTHHMMSSZ-N.twr, in the replay format (package replay).
//
// It owns the hand-off from the room's goroutine (Offer notes which slot
// of the room's history holds the tick: no copy, no encoding, no I/O, no
// allocation) and the writer goroutine that copies ticks out of the
// history, encodes, compresses, writes, and starts a new segment past
// the size limit. It must never
// block or slow the tick: when the writer falls behind, ticks are
// dropped from the recording and counted. It knows nothing of sessions,
// the lobby or which rooms are recorded (the server decides). Handle
// serves a directory's recordings over HTTP (/replays).
package recording
