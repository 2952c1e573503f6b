package server

import (
	"errors"
	"time"

	"github.com/tickwire/tickwire/netcode/server/recording"
)

// RecordOptions configure the recording of matches (docs/HOSTING.md,
// "Recordings"). The zero value records nothing.
type RecordOptions struct {
	// Dir is where recordings go, one file per room and segment:
	// ROOM-YYYYMMDDTHHMMSSZ-N.twr. Empty: nothing is recorded.
	Dir string
	// All records every room; otherwise only rooms created with
	// "record": true through the lobby (RoomOptions.Record).
	All bool
	// MaxBytes is the size past which a room's recording goes on in a
	// new file (the next segment). Default 64 MiB.
	MaxBytes int64
	// KeyEvery is the time between key frames, where seeks start.
	// Default 5 s.
	KeyEvery time.Duration
}

// errNotRecording is the lobby's answer to a room asked to record on a
// server without a recordings directory.
var errNotRecording = errors.New("this server does not record matches (no -record directory)")

// startRecorder starts r's recorder (package recording) when the server
// records it.
func (s *Server) startRecorder(r *room) error {
	opts := s.Record
	if opts.Dir == "" {
		if r.opts.Record {
			return errNotRecording
		}
		return nil
	}
	if !opts.All && !r.opts.Record {
		return nil
	}
	rc, err := recording.New(recording.Config{
		Dir: opts.Dir, MaxBytes: opts.MaxBytes, KeyEvery: opts.KeyEvery,
		Room: r.id, Params: r.game.Params(), Seed: r.opts.Game.Seed,
		Logger: s.log.With("room", r.id), Now: s.clock.Now,
	})
	if err != nil {
		return err
	}
	r.rec = rc
	return nil
}
