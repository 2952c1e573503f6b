package server_test

import (
	"bytes"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/tickwire/tickwire/game"
	"github.com/tickwire/tickwire/netcode/lobby"
	replayfile "github.com/tickwire/tickwire/netcode/replay"
	"github.com/tickwire/tickwire/netcode/server"
	"github.com/tickwire/tickwire/netcode/server/servertest"
)

// TestServerListsAndServesItsRecordings runs a server that records the
// rooms asked to (All false): the recording of a room created with
// "record": true, still being written, is listed at /replays and served
// as it is and uncompressed (?stored=raw), and both play up to their
// last whole block, reported as truncated; the default room, not asked,
// is not recorded.
func TestServerListsAndServesItsRecordings(t *testing.T) {
	dir := t.TempDir()
	srv := servertest.Start(t, &server.Server{Game: game.Config{MaxPlayers: 4}, Record: server.RecordOptions{Dir: dir, MaxBytes: 1 << 20}})
	code, b := lobbyDo(t, "POST", srv.URL()+lobby.PathRooms, `{"id":"taped","record":true}`)
	if code != http.StatusCreated {
		t.Fatalf("create a recorded room: %d %s", code, b)
	}
	var list replayfile.Listing
	servertest.WaitFor(t, 10*time.Second, func() bool {
		code, b := lobbyDo(t, "GET", srv.URL()+replayfile.Path, "")
		if code != http.StatusOK {
			t.Fatalf("GET %s: %d %s", replayfile.Path, code, b)
		}
		list = decode[replayfile.Listing](t, b)
		// A file with a whole block (a second of ticks).
		return len(list.Replays) == 1 && list.Replays[0].Bytes > 200
	})
	rooms := map[string]bool{}
	for _, e := range list.Replays {
		rooms[e.Room] = true
		for _, q := range []string{"", "?" + replayfile.StoredRaw} {
			code, body := lobbyDo(t, "GET", srv.URL()+replayfile.Path+"/"+e.Name+q, "")
			if code != http.StatusOK {
				t.Fatalf("GET %s%s: %d", e.Name, q, code)
			}
			r, err := replayfile.Open(bytes.NewReader(body), int64(len(body)))
			if err != nil {
				t.Fatalf("%s%s: %v", e.Name, q, err)
			}
			var s game.Snapshot
			if err := r.StateAt(r.LastTick(), &s); err != nil || s.Tick != r.LastTick() {
				t.Fatalf("%s%s: tick %d of %d: %v", e.Name, q, s.Tick, r.LastTick(), err)
			}
			if !errors.Is(r.Err(), replayfile.ErrTruncated) {
				t.Fatalf("%s%s, still being written: Err() = %v, want ErrTruncated", e.Name, q, r.Err())
			}
			_ = r.Close()
		}
	}
	if len(rooms) != 1 || !rooms["taped"] {
		t.Fatalf("recordings of rooms %v", rooms)
	}
	for _, bad := range []string{"../x.twr", "nope.twr", ".hidden.twr", "x.txt"} {
		if code, _ := lobbyDo(t, "GET", srv.URL()+replayfile.Path+"/"+bad, ""); code != http.StatusNotFound {
			t.Errorf("GET %s: %d, want 404", bad, code)
		}
	}
}

func TestRecordingAskedOfAServerThatDoesNotRecordIsRefused(t *testing.T) {
	srv := servertest.Start(t, &server.Server{})
	if code, b := lobbyDo(t, "POST", srv.URL()+lobby.PathRooms, `{"id":"taped","record":true}`); code != http.StatusBadRequest {
		t.Fatalf("got %d %s, want 400", code, b)
	}
	if code, _ := lobbyDo(t, "GET", srv.URL()+replayfile.Path, ""); code != http.StatusNotFound {
		t.Fatalf("GET %s on a server that does not record: %d, want 404", replayfile.Path, code)
	}
}
