// Package directory lists the rooms of every Tickwire server process, so
// that the lobby on any process can send a player to the process that
// owns a room. Each process publishes its record (URL, certificate
// hashes, rooms and their load) with a time to live and republishes it
// as a heartbeat; a process that stops publishing vanishes when its
// record expires.
//
// Memory is the default, for one process; redisdir shares a directory
// between processes through Redis. A Directory holds no game state and
// never talks to players.
package directory

import (
	"context"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/tickwire/tickwire/netcode/lobby"
)

// Room is one room as the directory lists it.
type Room = lobby.RoomState

// Process is one server process and its rooms.
type Process struct {
	// ID names the process; unique among the processes sharing a
	// directory.
	ID string `json:"id"`
	// URL is the base URL clients dial (http(s)://host:port).
	URL string `json:"url"`
	// CertHashes are the base64 SHA-256 hashes of its certificates, for
	// browsers' serverCertificateHashes (self-signed certificates only).
	CertHashes []string `json:"cert_hashes,omitempty"`
	// Region says where the process runs, as its operator names it
	// (for players choosing a room); may be empty.
	Region string `json:"region,omitempty"`
	// MaxRooms is how many rooms the process may open; the lobby places
	// new rooms only where one more fits.
	MaxRooms int `json:"max_rooms,omitempty"`
	// Draining is set once the process accepts no new players.
	Draining bool `json:"draining,omitempty"`
	// Rooms are its rooms, sorted by ID.
	Rooms []Room `json:"rooms"`
}

// Players is the number of players in the process's rooms: its load,
// by which the lobby places new rooms.
func (p Process) Players() int {
	n := 0
	for _, r := range p.Rooms {
		n += r.Players
	}
	return n
}

// HasRoomSlot reports whether the process may open one more room.
func (p Process) HasRoomSlot() bool {
	return !p.Draining && (p.MaxRooms == 0 || len(p.Rooms) < p.MaxRooms)
}

// Directory is where processes publish themselves, and where room IDs
// are claimed so that they are unique across processes. Implementations
// are safe for concurrent use.
type Directory interface {
	// Publish stores p, replacing the previous record of p.ID, for ttl,
	// and extends p.ID's claims on the rooms p lists for as long.
	Publish(ctx context.Context, p Process, ttl time.Duration) error
	// ClaimRoom claims room for process for ttl, unless another process
	// holds it; it returns the process that holds the claim afterwards
	// (process itself when the claim succeeded or was already its own).
	ClaimRoom(ctx context.Context, room, process string, ttl time.Duration) (owner string, err error)
	// ReleaseRoom drops process's claim on room (not another's).
	ReleaseRoom(ctx context.Context, room, process string) error
	// Withdraw removes the record of a process (on a clean shutdown).
	Withdraw(ctx context.Context, processID string) error
	// Processes lists the records that have not expired, sorted by ID.
	Processes(ctx context.Context) ([]Process, error)
}

// Memory is a Directory inside one process. The zero value is ready.
type Memory struct {
	// Now is the clock; nil means time.Now.
	Now func() time.Time

	mu     sync.Mutex
	m      map[string]memEntry
	claims map[string]memClaim
}

type memClaim struct {
	owner   string
	expires time.Time
}

type memEntry struct {
	p       Process
	expires time.Time
}

func (m *Memory) now() time.Time {
	if m.Now != nil {
		return m.Now()
	}
	return time.Now()
}

// Publish implements Directory.
func (m *Memory) Publish(_ context.Context, p Process, ttl time.Duration) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.m == nil {
		m.m = make(map[string]memEntry)
	}
	p.Rooms = slices.Clone(p.Rooms)
	p.CertHashes = slices.Clone(p.CertHashes)
	m.m[p.ID] = memEntry{p: p, expires: m.now().Add(ttl)}
	for _, r := range p.Rooms {
		m.claimLocked(r.ID, p.ID, ttl)
	}
	return nil
}

// ClaimRoom implements Directory.
func (m *Memory) ClaimRoom(_ context.Context, room, process string, ttl time.Duration) (string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.claimLocked(room, process, ttl), nil
}

func (m *Memory) claimLocked(room, process string, ttl time.Duration) string {
	if m.claims == nil {
		m.claims = make(map[string]memClaim)
	}
	now := m.now()
	if c, ok := m.claims[room]; ok && c.owner != process && now.Before(c.expires) {
		return c.owner
	}
	m.claims[room] = memClaim{owner: process, expires: now.Add(ttl)}
	return process
}

// ReleaseRoom implements Directory.
func (m *Memory) ReleaseRoom(_ context.Context, room, process string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.claims[room].owner == process {
		delete(m.claims, room)
	}
	return nil
}

// Withdraw implements Directory.
func (m *Memory) Withdraw(_ context.Context, id string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.m, id)
	return nil
}

// Processes implements Directory.
func (m *Memory) Processes(context.Context) ([]Process, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.now()
	out := make([]Process, 0, len(m.m))
	for id, e := range m.m {
		if !now.Before(e.expires) {
			delete(m.m, id)
			continue
		}
		p := e.p
		p.Rooms = slices.Clone(p.Rooms)
		out = append(out, p)
	}
	SortProcesses(out)
	return out, nil
}

// SortProcesses sorts ps by ID and each one's rooms by ID.
func SortProcesses(ps []Process) {
	slices.SortFunc(ps, func(a, b Process) int { return strings.Compare(a.ID, b.ID) })
	for _, p := range ps {
		slices.SortFunc(p.Rooms, func(a, b Room) int { return strings.Compare(a.ID, b.ID) })
	}
}
