package redisdir

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tickwire/tickwire/game"
	"github.com/tickwire/tickwire/netcode/server/directory"
	"github.com/tickwire/tickwire/netcode/server/directory/redisdir/redistest"
	"github.com/tickwire/tickwire/netcode/wire"
)

// A record as a server with a self-signed certificate publishes it.
const recordA = `{"id":"a","url":"https://127.0.0.1:4433",` +
	`"cert_hashes":["LXEWQrcmsEQBYnyp+6wy9chTD7GQPMTbAiWHF5IaSIE=","ofzkNjhU/4iM/0uOeHXWAMJoI5BBKoz3mzfQsRFIsPo="],` +
	`"rooms":[{"id":"default","players":3,"capacity":100,"tick_rate":30,"aoi":true},` +
	`{"id":"duel","players":2,"capacity":2,"tick_rate":60,"aoi":false}]}`

// The record cmd/server published to a real Redis (-process-id e2e,
// self-signed, listening on plain-http loopback).
const recordE2E = `{"id":"e2e","url":"http://127.0.0.1:35941","cert_hashes":["7f5AFjPAIU3tFo9hpB0Prj823mfBQc107aD9KWIZ83I="],` +
	`"rooms":[{"id":"default","players":0,"capacity":100,"tick_rate":30,"aoi":false}]}`

// A draining process behind a CA certificate (no hashes), rooms unsorted.
const recordB = `{"id":"b","url":"http://game-b.example:8080","draining":true,` +
	`"rooms":[{"id":"on-b","players":0,"capacity":1,"tick_rate":20,"aoi":false},` +
	`{"id":"default","players":0,"capacity":65536,"tick_rate":30,"aoi":false}]}`

// withRoom is recordA with its rooms replaced by room.
func withRoom(room string) string {
	return `{"id":"a","url":"https://127.0.0.1:4433","rooms":[` + room + `]}`
}

func TestDecodeProcess(t *testing.T) {
	for _, tc := range []struct {
		name, id, record string
		wantRooms        []string // room IDs of an accepted record
		wantErr          string   // substring of the error; "" accepts
	}{
		{name: "self-signed", id: "a", record: recordA, wantRooms: []string{"default", "duel"}},
		{name: "cmd/server's record", id: "e2e", record: recordE2E, wantRooms: []string{"default"}},
		{name: "draining, rooms sorted", id: "b", record: recordB, wantRooms: []string{"default", "on-b"}},
		{name: "no rooms", id: "c", record: `{"id":"c","url":"https://c:1","rooms":null}`},
		{name: "unknown field of a newer process", id: "c", record: `{"id":"c","url":"https://c:1","rooms":[],"region":"eu"}`, wantRooms: []string{}},
		{name: "path in the url", id: "c", record: `{"id":"c","url":"https://c/game","rooms":[]}`, wantRooms: []string{}},

		{name: "null", id: "a", record: `null`, wantErr: `id "" stored under the key of "a"`},
		{name: "empty object", id: "a", record: `{}`, wantErr: `id "" stored under the key of "a"`},
		{name: "empty id and key", id: "", record: `{}`, wantErr: `process id ""`},
		{name: "empty", id: "a", record: ``, wantErr: "decoding"},
		{name: "truncated", id: "a", record: recordA[:len(recordA)/2], wantErr: "decoding"},
		{name: "trailing garbage", id: "a", record: recordA + "}", wantErr: "decoding"},
		{name: "players as string", id: "a", record: withRoom(`{"id":"r","players":"1","capacity":2,"tick_rate":30}`), wantErr: "decoding"},
		{name: "players beyond int", id: "a", record: withRoom(`{"id":"r","players":1e30,"capacity":2,"tick_rate":30}`), wantErr: "decoding"},
		{name: "key of another", id: "b", record: recordA, wantErr: `id "a" stored under the key of "b"`},
		{name: "bad process id", id: "A.1", record: `{"id":"A.1","url":"https://a:1"}`, wantErr: `process id "A.1"`},
		{name: "no url", id: "a", record: `{"id":"a"}`, wantErr: `url "": want http(s)://host[:port]`},
		{name: "relative url", id: "a", record: `{"id":"a","url":"a:4433"}`, wantErr: "want http(s)://host[:port]"},
		{name: "ftp url", id: "a", record: `{"id":"a","url":"ftp://a"}`, wantErr: "want http(s)://host[:port]"},
		{name: "user in url", id: "a", record: `{"id":"a","url":"https://u@a"}`, wantErr: "want http(s)://host[:port]"},
		{name: "fragment in url", id: "a", record: `{"id":"a","url":"https://a/#x"}`, wantErr: "want http(s)://host[:port]"},
		{name: "unparsable url", id: "a", record: `{"id":"a","url":"https://a:port"}`, wantErr: `url "https://a:port": invalid port`},
		{name: "short cert hash", id: "a", record: `{"id":"a","url":"https://a","cert_hashes":["AAAA"]}`, wantErr: "cert hash 0"},
		{name: "cert hash not base64", id: "a", record: `{"id":"a","url":"https://a","cert_hashes":["` + strings.Repeat("!", 44) + `"]}`, wantErr: "cert hash 0"},
		{name: "cert hash with a newline", id: "a", record: `{"id":"a","url":"https://a","cert_hashes":["LXEWQrcmsEQBYnyp+6wy9chTD7GQ\nPMTbAiWHF5IaSIE="]}`, wantErr: "cert hash 0"},
		{name: "cert hash URL base64", id: "a", record: `{"id":"a","url":"https://a","cert_hashes":["ofzkNjhU_4iM_0uOeHXWAMJoI5BBKoz3mzfQsRFIsPo="]}`, wantErr: "cert hash 0"},
		{name: "bad room id", id: "a", record: withRoom(`{"id":"Duel","players":0,"capacity":2,"tick_rate":30}`), wantErr: `room id "Duel"`},
		{name: "empty room id", id: "a", record: withRoom(`{"players":0,"capacity":2,"tick_rate":30}`), wantErr: `room id ""`},
		{name: "long room id", id: "a", record: withRoom(`{"id":"` + strings.Repeat("r", 33) + `","players":0,"capacity":2,"tick_rate":30}`), wantErr: "room id"},
		{name: "room twice", id: "a", record: withRoom(`{"id":"r","capacity":2,"tick_rate":30},{"id":"r","capacity":4,"tick_rate":30}`), wantErr: `room "r" listed twice`},
		{name: "negative players", id: "a", record: withRoom(`{"id":"r","players":-1,"capacity":2,"tick_rate":30}`), wantErr: `room "r": players -1 out of [0, 65536]`},
		{name: "absurd players", id: "a", record: withRoom(`{"id":"r","players":65537,"capacity":2,"tick_rate":30}`), wantErr: "players 65537"},
		{name: "zero capacity", id: "a", record: withRoom(`{"id":"r","players":0,"capacity":0,"tick_rate":30}`), wantErr: `room "r": capacity 0 out of [1, 65536]`},
		{name: "negative capacity", id: "a", record: withRoom(`{"id":"r","players":0,"capacity":-5,"tick_rate":30}`), wantErr: "capacity -5"},
		{name: "absurd capacity", id: "a", record: withRoom(`{"id":"r","players":0,"capacity":9007199254740993,"tick_rate":30}`), wantErr: "capacity 9007199254740993"},
		{name: "no tick rate", id: "a", record: withRoom(`{"id":"r","players":0,"capacity":2}`), wantErr: `room "r": tick rate 0 out of [1, 1000]`},
		{name: "absurd tick rate", id: "a", record: withRoom(`{"id":"r","players":0,"capacity":2,"tick_rate":100000}`), wantErr: "tick rate 100000"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := decodeProcess(tc.id, tc.record)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, tc.wantErr)
				}
				if !reflect.DeepEqual(p, directory.Process{}) {
					t.Errorf("an error came with %+v, want the zero Process", p)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var rooms []string
			for _, r := range p.Rooms {
				rooms = append(rooms, r.ID)
			}
			if !slices.Equal(rooms, tc.wantRooms) || p.ID != tc.id {
				t.Errorf("decoded %+v, want id %q and rooms %q", p, tc.id, tc.wantRooms)
			}
		})
	}
}

// FuzzDecodeProcess feeds decodeProcess, the decoder Processes applies to
// every record it reads from Redis under the key of process id.
func FuzzDecodeProcess(f *testing.F) {
	for _, s := range [][2]string{
		{"a", recordA},
		{"b", recordB},
		{"e2e", recordE2E},
		{"b", recordA},
		{"a", recordA[:len(recordA)-2]},
		{"a", strings.Replace(recordA, `"players":3`, `"players":-3`, 1)},
		{"a", strings.Replace(recordA, `"duel"`, `"default"`, 1)},
		{"a", strings.Replace(recordA, `https://127.0.0.1:4433`, `https://127.0.0.1:4433/#x`, 1)},
		{"a", withRoom(`{"id":"r","players":0,"capacity":1e3,"tick_rate":30}`)},
		{"a", `{"ID":"a","URL":"http://a","Rooms":[{"ID":"r","Capacity":1,"Tick_Rate":1}]}`},
		{"a", `{"id":"a","id":"b","url":"http://a"}`},
		{"a", `{"id":"a","url":"http://a","cert_hashes":[]}`},
		{"a", "{\"id\":\"a\",\"url\":\"http://\xff\"}"},
		{"a", `null`},
		{"a", `{}`},
		{"", ``},
	} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, id, record string) {
		p, err := decodeProcess(id, record)
		if err != nil {
			if !reflect.DeepEqual(p, directory.Process{}) {
				t.Fatalf("error %v came with %+v, want the zero Process", err, p)
			}
			return
		}
		if !json.Valid([]byte(record)) {
			t.Fatalf("accepted invalid JSON %q", record)
		}
		if p.ID != id || !wire.ValidRoomID(p.ID) {
			t.Fatalf("accepted process id %q under the key of %q", p.ID, id)
		}
		u, err := url.Parse(p.URL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil || u.Fragment != "" {
			t.Fatalf("accepted url %q (%v)", p.URL, err)
		}
		for _, h := range p.CertHashes {
			if b, err := base64.StdEncoding.DecodeString(h); err != nil || len(b) != 32 {
				t.Fatalf("accepted cert hash %q", h)
			}
		}
		for i, r := range p.Rooms {
			if !wire.ValidRoomID(r.ID) || i > 0 && r.ID <= p.Rooms[i-1].ID {
				t.Fatalf("accepted rooms %+v: ids must be valid, sorted and distinct", p.Rooms)
			}
			if r.Players < 0 || r.Players > game.MaxPlayersLimit || r.Capacity < 1 || r.Capacity > game.MaxPlayersLimit ||
				r.TickRate < 1 || r.TickRate > maxTickRate {
				t.Fatalf("accepted room %+v", r)
			}
		}
		// What is accepted is what Publish writes and reads back the same.
		if err := checkProcess(p); err != nil {
			t.Fatalf("Publish would refuse accepted %+v: %v", p, err)
		}
		again, err := json.Marshal(p)
		if err != nil {
			t.Fatal(err)
		}
		p2, err := decodeProcess(id, string(again))
		if err != nil {
			t.Fatalf("re-encoded %s rejected: %v", again, err)
		}
		if len(p.CertHashes) == 0 {
			p.CertHashes = nil // omitempty: [] comes back as nil
		}
		if !reflect.DeepEqual(p, p2) {
			t.Fatalf("round trip: %+v became %+v", p, p2)
		}
	})
}

// startRedis is a client of a throwaway Redis server.
func startRedis(t *testing.T) *redis.Client {
	t.Helper()
	rdb := redis.NewClient(&redis.Options{Addr: redistest.Start(t)})
	t.Cleanup(func() { _ = rdb.Close() })
	return rdb
}

// TestPublishRefusesWhatProcessesRejects: a record Processes would reject
// is never written (it would break every lobby's listing), and one that
// gets into Redis anyway is reported with its key.
func TestPublishRefusesWhatProcessesRejects(t *testing.T) {
	rdb := startRedis(t)
	ctx := context.Background()
	d := New(rdb, "")
	var a directory.Process
	if err := json.Unmarshal([]byte(recordA), &a); err != nil {
		t.Fatal(err)
	}
	if err := d.Publish(ctx, a, time.Minute); err != nil {
		t.Fatal(err)
	}
	bad := a
	bad.ID = "b"
	bad.Rooms = []directory.Room{{ID: "r", Players: -1, Capacity: 2, TickRate: 30}}
	if err := d.Publish(ctx, bad, time.Minute); err == nil || !strings.Contains(err.Error(), `redisdir: publishing "b": room "r": players -1`) {
		t.Errorf("publishing a negative player count: err = %v", err)
	}
	ps, err := d.Processes(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(ps, []directory.Process{a}) {
		t.Fatalf("processes = %+v, want only %+v", ps, a)
	}

	if err := rdb.Set(ctx, DefaultPrefix+"process:c", `{"id":"c","url":"https://c","rooms":[{"id":"r","capacity":-1,"tick_rate":30}]}`, time.Minute).Err(); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Processes(ctx); err == nil || !strings.Contains(err.Error(), "redisdir: record "+DefaultPrefix+"process:c: room \"r\": capacity -1") {
		t.Errorf("reading a negative capacity: err = %v", err)
	}
}

// TestRoomClaimsAreUniqueAcrossProcessesAndLiveWithTheirHeartbeat: the
// first process to claim a room ID holds it; another is told who does;
// the holder's heartbeat (Publish listing the room) keeps the claim past
// its first TTL; a release by another process changes nothing; once
// released (or expired) the ID is free.
func TestRoomClaimsAreUniqueAcrossProcessesAndLiveWithTheirHeartbeat(t *testing.T) {
	rdb := startRedis(t)
	ctx := context.Background()
	d := New(rdb, "")
	claim := func(room, proc string, ttl time.Duration) string {
		t.Helper()
		owner, err := d.ClaimRoom(ctx, room, proc, ttl)
		if err != nil {
			t.Fatal(err)
		}
		return owner
	}
	if got := claim("duel", "a", time.Minute); got != "a" {
		t.Fatalf("first claim: owner %q, want a", got)
	}
	if got := claim("duel", "b", time.Minute); got != "a" {
		t.Fatalf("b's claim on a's room: owner %q, want a", got)
	}
	if got := claim("duel", "a", time.Minute); got != "a" {
		t.Fatalf("a claiming its own room again: owner %q", got)
	}
	if err := d.ReleaseRoom(ctx, "duel", "b"); err != nil {
		t.Fatal(err)
	}
	if got := claim("duel", "b", time.Minute); got != "a" {
		t.Fatalf("after b's release of a's claim: owner %q, want a", got)
	}
	// A heartbeat extends the claims of the rooms the record lists.
	if err := rdb.PExpire(ctx, DefaultPrefix+"room:duel", 50*time.Millisecond).Err(); err != nil {
		t.Fatal(err)
	}
	if err := d.Publish(ctx, directory.Process{ID: "a", URL: "http://a:1", Rooms: []directory.Room{{ID: "duel", Capacity: 2, TickRate: 30}}}, time.Minute); err != nil {
		t.Fatal(err)
	}
	if ttl := rdb.PTTL(ctx, DefaultPrefix+"room:duel").Val(); ttl < 30*time.Second {
		t.Fatalf("claim TTL after a heartbeat: %v, want about a minute", ttl)
	}
	if err := d.ReleaseRoom(ctx, "duel", "a"); err != nil {
		t.Fatal(err)
	}
	if got := claim("duel", "b", time.Minute); got != "b" {
		t.Fatalf("after a released it: owner %q, want b", got)
	}
	// b's heartbeat does not take a room a holds.
	if got := claim("solo", "a", time.Minute); got != "a" {
		t.Fatal(got)
	}
	if err := d.Publish(ctx, directory.Process{ID: "b", URL: "http://b:1", Rooms: []directory.Room{{ID: "solo", Capacity: 2, TickRate: 30}}}, time.Minute); err != nil {
		t.Fatal(err)
	}
	if got := rdb.Get(ctx, DefaultPrefix+"room:solo").Val(); got != "a" {
		t.Fatalf("b's heartbeat changed a's claim to %q", got)
	}
}
