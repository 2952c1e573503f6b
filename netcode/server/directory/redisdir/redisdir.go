// Package redisdir is a directory.Directory shared through Redis: each
// process's record is one JSON string key with an expiry, so a process
// that dies without withdrawing disappears when its key expires.
package redisdir

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tickwire/tickwire/game"
	"github.com/tickwire/tickwire/netcode/server/directory"
	"github.com/tickwire/tickwire/netcode/wire"
)

// DefaultPrefix starts every key the directory writes: process records
// under PREFIX "process:" ID, room claims under PREFIX "room:" ID.
const DefaultPrefix = "tickwire:"

// maxRecordBytes bounds a record read back from Redis.
const maxRecordBytes = 1 << 20

// Dir is a Redis-backed directory.Directory.
type Dir struct {
	rdb    redis.UniversalClient
	prefix string
}

// New returns a directory on rdb. An empty prefix means DefaultPrefix.
func New(rdb redis.UniversalClient, prefix string) *Dir {
	if prefix == "" {
		prefix = DefaultPrefix
	}
	return &Dir{rdb: rdb, prefix: prefix}
}

// Open connects to the Redis at url ("redis://host:port/db") and checks
// that it answers.
func Open(ctx context.Context, url string) (*Dir, error) {
	opts, err := redis.ParseURL(url)
	if err != nil {
		return nil, fmt.Errorf("redisdir: %w", err)
	}
	rdb := redis.NewClient(opts)
	if err := rdb.Ping(ctx).Err(); err != nil {
		rdb.Close()
		return nil, fmt.Errorf("redisdir: connecting to %s: %w", opts.Addr, err)
	}
	return New(rdb, ""), nil
}

// Close closes the Redis client.
func (d *Dir) Close() error { return d.rdb.Close() }

// Publish implements directory.Directory. It refuses a record that
// Processes would reject, so that a misconfigured process fails here, in
// its own log, instead of writing a record that breaks every lobby's
// listing.
func (d *Dir) Publish(ctx context.Context, p directory.Process, ttl time.Duration) error {
	if err := checkProcess(p); err != nil {
		return fmt.Errorf("redisdir: publishing %q: %w", p.ID, err)
	}
	b, err := json.Marshal(p)
	if err != nil {
		return fmt.Errorf("redisdir: %w", err)
	}
	keys := []string{d.processKey(p.ID)}
	for _, r := range p.Rooms {
		keys = append(keys, d.roomKey(r.ID))
	}
	if err := publishScript.Run(ctx, d.rdb, keys, b, p.ID, ttl.Milliseconds()).Err(); err != nil && !errors.Is(err, redis.Nil) {
		return fmt.Errorf("redisdir: publishing %s: %w", p.ID, err)
	}
	return nil
}

// publishScript stores the record (KEYS[1] = ARGV[1]) and extends the
// process's claims on its rooms (KEYS[2:]): a claim held by another
// process is left alone.
var publishScript = redis.NewScript(`
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[3])
for i = 2, #KEYS do
	local owner = redis.call('GET', KEYS[i])
	if not owner or owner == ARGV[2] then
		redis.call('SET', KEYS[i], ARGV[2], 'PX', ARGV[3])
	end
end
return 1
`)

// releaseScript deletes KEYS[1] if ARGV[1] holds it.
var releaseScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then
	return redis.call('DEL', KEYS[1])
end
return 0
`)

// ClaimRoom implements directory.Directory.
func (d *Dir) ClaimRoom(ctx context.Context, room, process string, ttl time.Duration) (string, error) {
	for range 3 { // the holder's claim may expire between SET NX and GET
		ok, err := d.rdb.SetNX(ctx, d.roomKey(room), process, ttl).Result()
		if err != nil {
			return "", fmt.Errorf("redisdir: claiming room %s: %w", room, err)
		}
		if ok {
			return process, nil
		}
		owner, err := d.rdb.Get(ctx, d.roomKey(room)).Result()
		if errors.Is(err, redis.Nil) {
			continue
		}
		if err != nil {
			return "", fmt.Errorf("redisdir: claiming room %s: %w", room, err)
		}
		if owner == process {
			return owner, d.rdb.PExpire(ctx, d.roomKey(room), ttl).Err()
		}
		return owner, nil
	}
	return "", fmt.Errorf("redisdir: claiming room %s: its claim keeps changing hands", room)
}

// ReleaseRoom implements directory.Directory.
func (d *Dir) ReleaseRoom(ctx context.Context, room, process string) error {
	if err := releaseScript.Run(ctx, d.rdb, []string{d.roomKey(room)}, process).Err(); err != nil && !errors.Is(err, redis.Nil) {
		return fmt.Errorf("redisdir: releasing room %s: %w", room, err)
	}
	return nil
}

func (d *Dir) processKey(id string) string { return d.prefix + "process:" + id }
func (d *Dir) roomKey(id string) string    { return d.prefix + "room:" + id }

// Withdraw implements directory.Directory.
func (d *Dir) Withdraw(ctx context.Context, id string) error {
	if err := d.rdb.Del(ctx, d.processKey(id)).Err(); err != nil {
		return fmt.Errorf("redisdir: withdrawing %s: %w", id, err)
	}
	return nil
}

// Processes implements directory.Directory. It scans the prefix, so it
// suits the tens of processes a lobby lists, not thousands.
func (d *Dir) Processes(ctx context.Context) ([]directory.Process, error) {
	var keys []string
	iter := d.rdb.Scan(ctx, 0, d.processKey("*"), 256).Iterator()
	for iter.Next(ctx) {
		keys = append(keys, iter.Val())
	}
	if err := iter.Err(); err != nil {
		return nil, fmt.Errorf("redisdir: listing: %w", err)
	}
	if len(keys) == 0 {
		return nil, nil
	}
	vals, err := d.rdb.MGet(ctx, keys...).Result()
	if err != nil {
		return nil, fmt.Errorf("redisdir: reading: %w", err)
	}
	out := make([]directory.Process, 0, len(vals))
	for i, v := range vals {
		s, ok := v.(string)
		if !ok || len(s) > maxRecordBytes {
			continue // expired between SCAN and MGET, or not ours
		}
		p, err := decodeProcess(strings.TrimPrefix(keys[i], d.processKey("")), s)
		if err != nil {
			return nil, fmt.Errorf("redisdir: record %s: %w", keys[i], err)
		}
		out = append(out, p)
	}
	directory.SortProcesses(out)
	return out, nil
}

// decodeProcess decodes and checks the record stored under the key of
// process id. Unknown fields are ignored, so a newer process may add
// some. On error the Process is the zero value: JSON null or {} decode
// without error into an empty record, which must not reach the lobby.
// The rooms come back sorted by ID.
func decodeProcess(id, record string) (directory.Process, error) {
	var p directory.Process
	if err := json.Unmarshal([]byte(record), &p); err != nil {
		return directory.Process{}, fmt.Errorf("decoding: %w", err)
	}
	// A record stored under another process's key would list twice, or
	// pass for this process and be skipped by its own lobby.
	if p.ID != id {
		return directory.Process{}, fmt.Errorf("id %q stored under the key of %q", truncate(p.ID), truncate(id))
	}
	if err := checkProcess(p); err != nil {
		return directory.Process{}, err
	}
	slices.SortFunc(p.Rooms, func(a, b directory.Room) int { return strings.Compare(a.ID, b.ID) })
	return p, nil
}

// maxTickRate bounds a room's tick rate. The games tick at 20, 30 or
// 60 Hz; the bound only rejects nonsense, so that a newer process with
// another rate still lists.
const maxTickRate = 1000

// Bounds of the rest of a record: a region is a short label; no process
// runs more rooms than this.
const (
	maxRegionBytes = 64
	maxRooms       = 1 << 16
)

// checkProcess checks what the lobby relies on when it lists p's rooms
// and sends players to them:
//   - the process ID follows the room ID rule that cmd/server's
//     -process-id enforces (and random IDs meet): it ends the Redis key
//     and the lobby hands it out;
//   - the URL is an absolute http(s) URL with a host, from which the
//     lobby derives the WebTransport and WebSocket URLs (without user
//     info or a fragment: browsers refuse a WebTransport URL with a
//     fragment, and user info would change what players dial);
//   - each certificate hash is canonical standard base64 of a SHA-256
//     hash (32 bytes), which clients pin;
//   - each room's ID is a valid room ID, listed once (players join by
//     it; the lobby would pick one of two namesakes), its players
//     are in [0, game.MaxPlayersLimit], its capacity in [1,
//     game.MaxPlayersLimit] (the lobby compares the two to refuse full
//     rooms) and its tick rate in [1, maxTickRate].
func checkProcess(p directory.Process) error {
	if !wire.ValidRoomID(p.ID) {
		return fmt.Errorf("process id %q: want 1 to 32 of a-z 0-9 - _", truncate(p.ID))
	}
	if len(p.Region) > maxRegionBytes || strings.ContainsFunc(p.Region, func(r rune) bool { return r < ' ' || r == 0x7f }) {
		return fmt.Errorf("region %q: want at most %d printable bytes", truncate(p.Region), maxRegionBytes)
	}
	if p.MaxRooms < 0 || p.MaxRooms > maxRooms {
		return fmt.Errorf("max rooms %d out of [0, %d]", p.MaxRooms, maxRooms)
	}
	u, err := url.Parse(p.URL)
	if err != nil {
		var ue *url.Error // its message repeats the whole URL
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return fmt.Errorf("url %q: %w", truncate(p.URL), err)
	}
	if u.Scheme != "http" && u.Scheme != "https" || u.Host == "" || u.User != nil || u.Fragment != "" {
		return fmt.Errorf("url %q: want http(s)://host[:port]", truncate(p.URL))
	}
	for i, h := range p.CertHashes {
		b, err := base64.StdEncoding.DecodeString(h)
		if err != nil || len(b) != 32 || base64.StdEncoding.EncodeToString(b) != h {
			return fmt.Errorf("cert hash %d %q: want the standard base64 of 32 bytes", i, truncate(h))
		}
	}
	seen := make(map[string]bool, len(p.Rooms))
	for _, r := range p.Rooms {
		if !wire.ValidRoomID(r.ID) {
			return fmt.Errorf("room id %q: want 1 to 32 of a-z 0-9 - _", truncate(r.ID))
		}
		if seen[r.ID] {
			return fmt.Errorf("room %q listed twice", r.ID)
		}
		seen[r.ID] = true
		if r.Players < 0 || r.Players > game.MaxPlayersLimit {
			return fmt.Errorf("room %q: players %d out of [0, %d]", r.ID, r.Players, game.MaxPlayersLimit)
		}
		if r.Capacity < 1 || r.Capacity > game.MaxPlayersLimit {
			return fmt.Errorf("room %q: capacity %d out of [1, %d]", r.ID, r.Capacity, game.MaxPlayersLimit)
		}
		if r.TickRate < 1 || r.TickRate > maxTickRate {
			return fmt.Errorf("room %q: tick rate %d out of [1, %d]", r.ID, r.TickRate, maxTickRate)
		}
	}
	return nil
}

// truncate shortens s for an error message.
func truncate(s string) string {
	if len(s) <= 64 {
		return s
	}
	return s[:64] + "..."
}
