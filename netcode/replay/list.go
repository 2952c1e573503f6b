package replay

import (
	"strings"
	"time"
)

// Path is where a server that records lists its recordings (GET, a
// Listing as JSON) and serves each (GET Path/NAME; with ?stored=raw,
// every block uncompressed, as WriteStored writes it).
const Path = "/replays"

// StoredRaw is the query that asks for a recording stored uncompressed.
const StoredRaw = "stored=raw"

// Listing is the body of GET Path: the recordings, newest first.
type Listing struct {
	Replays []Entry `json:"replays"`
}

// Entry is one recording file.
type Entry struct {
	Name     string    `json:"name"`
	Room     string    `json:"room"`
	Bytes    int64     `json:"bytes"`
	Modified time.Time `json:"modified"`
}

// ValidName reports whether name can be a recording's file name: 1 to
// 128 of a-z A-Z 0-9 . _ -, not starting with a dot, ending with Ext. A
// server serves no other name, so no path can leave its directory.
func ValidName(name string) bool {
	if len(name) <= len(Ext) || len(name) > 128 || name[0] == '.' || !strings.HasSuffix(name, Ext) {
		return false
	}
	for _, c := range []byte(name) {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '.', c == '_', c == '-':
		default:
			return false
		}
	}
	return true
}

// RoomOf is the room a recording's name (ROOM-START-SEGMENT.twr) says.
func RoomOf(name string) string {
	s := strings.TrimSuffix(name, Ext)
	for range 2 {
		if i := strings.LastIndexByte(s, '-'); i > 0 {
			s = s[:i]
		}
	}
	return s
}
