// Package redisdir is a directory.Directory shared through Redis: each
// process's record is one JSON string key with an expiry, so a process
// that dies without withdrawing disappears when its key expires.
package redisdir

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tickwire/tickwire/netcode/server/directory"
)

// DefaultPrefix starts every key the directory writes.
const DefaultPrefix = "tickwire:process:"

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

// Publish implements directory.Directory.
func (d *Dir) Publish(ctx context.Context, p directory.Process, ttl time.Duration) error {
	b, err := json.Marshal(p)
	if err != nil {
		return fmt.Errorf("redisdir: %w", err)
	}
	if err := d.rdb.Set(ctx, d.prefix+p.ID, b, ttl).Err(); err != nil {
		return fmt.Errorf("redisdir: publishing %s: %w", p.ID, err)
	}
	return nil
}

// Withdraw implements directory.Directory.
func (d *Dir) Withdraw(ctx context.Context, id string) error {
	if err := d.rdb.Del(ctx, d.prefix+id).Err(); err != nil {
		return fmt.Errorf("redisdir: withdrawing %s: %w", id, err)
	}
	return nil
}

// Processes implements directory.Directory. It scans the prefix, so it
// suits the tens of processes a lobby lists, not thousands.
func (d *Dir) Processes(ctx context.Context) ([]directory.Process, error) {
	var keys []string
	iter := d.rdb.Scan(ctx, 0, d.prefix+"*", 256).Iterator()
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
		var p directory.Process
		if err := json.Unmarshal([]byte(s), &p); err != nil {
			return nil, fmt.Errorf("redisdir: record %s: %w", keys[i], err)
		}
		out = append(out, p)
	}
	directory.SortProcesses(out)
	return out, nil
}
