package agones

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/url"
	"slices"
	"strconv"
	"time"
)

// Counters and Lists (beta, feature gate CountsAndLists, on by default
// since Agones 1.41) are the GameServer's Status.Counters and
// Status.Lists, by key. Every key must be declared in the GameServer
// spec (deploy/fleet.yaml declares Tickwire's); the sidecar refuses the
// others. Allocations select GameServers by them: a List's containsValue
// finds the GameServer that hosts a room, a Counter's minAvailable one
// with room for more.

// The keys RoomCounts reports under.
const (
	// CounterPlayers counts the players in all the process's rooms; its
	// capacity is the sum of the rooms' capacities.
	CounterPlayers = "players"
	// CounterRooms counts the rooms open; its capacity is MaxRooms.
	CounterRooms = "rooms"
	// ListRooms holds the IDs of the rooms open here; its capacity is
	// MaxRooms, at most MaxListCapacity.
	ListRooms = "rooms"
)

// MaxListCapacity is Agones' bound on a List's capacity (and so on its
// length).
const MaxListCapacity = 1000

// Counter is a Counter's count and capacity (0 <= Count <= Capacity).
type Counter struct {
	Count, Capacity int64
}

// List is a List's capacity and values (distinct, at most Capacity).
type List struct {
	Capacity int64
	Values   []string
}

// Counts is what a process reports through Counters and Lists, by key.
type Counts struct {
	Counters map[string]Counter
	Lists    map[string]List
}

// Room is one of the process's rooms, as RoomCounts counts it.
type Room struct {
	ID                string
	Players, Capacity int
}

// RoomCounts is what a process hosting rooms reports: the Counter
// CounterPlayers (players in every room; capacity, the sum of the rooms'
// capacities), the Counter CounterRooms (rooms open; capacity maxRooms)
// and the List ListRooms (the rooms' IDs, sorted; capacity maxRooms, at
// most MaxListCapacity: beyond it, the IDs that sort first). A draining
// process has no space left: both Counters' capacities drop to their
// counts, so that an allocation asking for minAvailable passes it by. A
// count is never reported above its capacity (Agones refuses that).
func RoomCounts(rooms []Room, maxRooms int, draining bool) Counts {
	var players, seats int64
	var ids []string
	for _, r := range rooms {
		players += int64(max(r.Players, 0))
		seats += int64(max(r.Capacity, 0))
		ids = append(ids, r.ID)
	}
	slices.Sort(ids)
	ids = slices.Compact(ids)
	open := int64(len(ids))
	players = min(players, seats)
	roomSlots := max(int64(maxRooms), open)
	listCap := min(max(int64(maxRooms), 0), MaxListCapacity)
	if int64(len(ids)) > listCap {
		ids = ids[:listCap]
	}
	if draining {
		seats, roomSlots = players, open
	}
	return Counts{
		Counters: map[string]Counter{
			CounterPlayers: {Count: players, Capacity: seats},
			CounterRooms:   {Count: open, Capacity: roomSlots},
		},
		Lists: map[string]List{ListRooms: {Capacity: listCap, Values: ids}},
	}
}

// GetCounter reads a Counter (beta, GET /v1beta1/counters/{key}). The
// sidecar answers with the count and capacity including its updates
// not yet written to the GameServer.
func (c *Client) GetCounter(ctx context.Context, key string) (Counter, error) {
	path := "/v1beta1/counters/" + url.PathEscape(key)
	body, err := c.call(ctx, "GET", path, nil)
	if err != nil {
		return Counter{}, err
	}
	ctr, err := decodeCounter(key, body)
	if err != nil {
		return Counter{}, fmt.Errorf("agones: GET %s: %w", path, err)
	}
	return ctr, nil
}

// UpdateCounter sets a Counter's count, capacity or both (beta, PATCH
// /v1beta1/counters/{key}); nil leaves one as it is. The sidecar applies
// the capacity first, then checks the count against it.
func (c *Client) UpdateCounter(ctx context.Context, key string, count, capacity *int64) error {
	// int64 as a JSON string, as protojson writes it (it reads both).
	return c.do(ctx, "PATCH", "/v1beta1/counters/"+url.PathEscape(key), struct {
		Count    *int64 `json:"count,omitempty,string"`
		Capacity *int64 `json:"capacity,omitempty,string"`
	}{count, capacity})
}

// GetList reads a List (beta, GET /v1beta1/lists/{key}), including the
// sidecar's updates not yet written to the GameServer.
func (c *Client) GetList(ctx context.Context, key string) (List, error) {
	path := "/v1beta1/lists/" + url.PathEscape(key)
	body, err := c.call(ctx, "GET", path, nil)
	if err != nil {
		return List{}, err
	}
	l, err := decodeList(key, body)
	if err != nil {
		return List{}, fmt.Errorf("agones: GET %s: %w", path, err)
	}
	return l, nil
}

// SetListCapacity sets a List's capacity (beta, PATCH
// /v1beta1/lists/{key} with only "capacity": grpc-gateway makes the
// update mask of the fields sent, so the values stay).
func (c *Client) SetListCapacity(ctx context.Context, key string, n int64) error {
	return c.do(ctx, "PATCH", "/v1beta1/lists/"+url.PathEscape(key), struct {
		Capacity int64 `json:"capacity,string"`
	}{n})
}

type listValue struct {
	Value string `json:"value"`
}

// AddListValue adds v to a List (beta, POST /v1beta1/lists/{key}:addValue);
// the sidecar refuses a value already there or a full List.
func (c *Client) AddListValue(ctx context.Context, key, v string) error {
	return c.do(ctx, "POST", "/v1beta1/lists/"+url.PathEscape(key)+":addValue", listValue{v})
}

// RemoveListValue removes v from a List (beta, POST
// /v1beta1/lists/{key}:removeValue); the sidecar refuses a value not
// there.
func (c *Client) RemoveListValue(ctx context.Context, key, v string) error {
	return c.do(ctx, "POST", "/v1beta1/lists/"+url.PathEscape(key)+":removeValue", listValue{v})
}

// jsonInt64 reads a proto3 int64 as protojson writes it, a JSON string
// of decimal digits ("12"), or as a JSON number (12); null is 0.
type jsonInt64 int64

func (n *jsonInt64) UnmarshalJSON(b []byte) error {
	s := string(b)
	if s == "null" {
		return nil
	}
	if len(b) > 0 && b[0] == '"' {
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
	}
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return fmt.Errorf("want an int64: %w", err)
	}
	*n = jsonInt64(v)
	return nil
}

// decodeCounter decodes and checks the sidecar's Counter of key:
// {"name":"players","count":"3","capacity":"100"}. A field left out is
// 0 (proto3); a name other than key, a negative count or capacity, or
// anything but an object is an error, and comes with the zero Counter.
func decodeCounter(key string, body []byte) (Counter, error) {
	var msg *struct {
		Name     string    `json:"name"`
		Count    jsonInt64 `json:"count"`
		Capacity jsonInt64 `json:"capacity"`
	}
	if err := json.Unmarshal(body, &msg); err != nil {
		return Counter{}, fmt.Errorf("decoding counter: %w", err)
	}
	if msg == nil {
		return Counter{}, errors.New("decoding counter: null")
	}
	if msg.Name != "" && msg.Name != key {
		return Counter{}, fmt.Errorf("asked for counter %q, got %q", key, truncate(msg.Name, 64))
	}
	if msg.Count < 0 || msg.Capacity < 0 {
		return Counter{}, fmt.Errorf("counter %q: count %d, capacity %d: want both at least 0", key, msg.Count, msg.Capacity)
	}
	return Counter{Count: int64(msg.Count), Capacity: int64(msg.Capacity)}, nil
}

// decodeList decodes and checks the sidecar's List of key:
// {"name":"rooms","capacity":"64","values":["a","b"]}. A field left out
// is empty; a name other than key, a capacity outside [0,
// MaxListCapacity], more than MaxListCapacity values or anything but an
// object is an error, and comes with the zero List. No values is a nil
// Values.
func decodeList(key string, body []byte) (List, error) {
	var msg *struct {
		Name     string    `json:"name"`
		Capacity jsonInt64 `json:"capacity"`
		Values   []string  `json:"values"`
	}
	if err := json.Unmarshal(body, &msg); err != nil {
		return List{}, fmt.Errorf("decoding list: %w", err)
	}
	if msg == nil {
		return List{}, errors.New("decoding list: null")
	}
	if msg.Name != "" && msg.Name != key {
		return List{}, fmt.Errorf("asked for list %q, got %q", key, truncate(msg.Name, 64))
	}
	if msg.Capacity < 0 || msg.Capacity > MaxListCapacity {
		return List{}, fmt.Errorf("list %q: capacity %d out of [0, %d]", key, msg.Capacity, MaxListCapacity)
	}
	if len(msg.Values) > MaxListCapacity {
		return List{}, fmt.Errorf("list %q: %d values, at most %d", key, len(msg.Values), MaxListCapacity)
	}
	if len(msg.Values) == 0 {
		msg.Values = nil
	}
	return List{Capacity: int64(msg.Capacity), Values: msg.Values}, nil
}

// countSync brings the sidecar's Counters and Lists to the Counts it is
// given, sending only what differs from what the sidecar holds. What it
// holds is read (GET) at first, after a failed update and after forget;
// otherwise it is what countSync last sent. A failure ends the update of
// that Counter or List for this round (but for a List's capacity, see
// syncList), is logged (once, until the error changes or the update
// succeeds) and is never fatal: the next round reads it again and
// retries.
type countSync struct {
	client   *Client
	log      *slog.Logger
	counters map[string]Counter // what the sidecar holds; absent: unknown
	lists    map[string]List
	failing  map[string]string // "counter players" → the error last logged
}

func newCountSync(c *Client, log *slog.Logger) *countSync {
	return &countSync{
		client: c, log: log,
		counters: make(map[string]Counter), lists: make(map[string]List), failing: make(map[string]string),
	}
}

// forget makes the next sync read every Counter and List again, to catch
// changes made elsewhere (an allocation's counter or list actions).
func (s *countSync) forget() {
	clear(s.counters)
	clear(s.lists)
}

// sync sends what differs between want and the sidecar, Counters then
// Lists, each in key order.
func (s *countSync) sync(ctx context.Context, want Counts) {
	for _, key := range slices.Sorted(maps.Keys(want.Counters)) {
		s.report(ctx, "counter "+key, s.syncCounter(ctx, key, want.Counters[key]))
	}
	for _, key := range slices.Sorted(maps.Keys(want.Lists)) {
		s.report(ctx, "list "+key, s.syncList(ctx, key, want.Lists[key]))
	}
}

func (s *countSync) report(ctx context.Context, item string, err error) {
	if err == nil {
		if _, was := s.failing[item]; was {
			delete(s.failing, item)
			s.log.Info("agones: " + item + " reported again")
		}
		return
	}
	if ctx.Err() != nil || s.failing[item] == err.Error() {
		return // stopping, or said already
	}
	s.failing[item] = err.Error()
	s.log.Warn("agones: reporting "+item+" failed; retrying on every poll "+
		"(is the CountsAndLists feature gate on, and the key declared in the GameServer spec?)", "err", err)
}

func (s *countSync) syncCounter(ctx context.Context, key string, want Counter) error {
	have, known := s.counters[key]
	if !known {
		got, err := s.client.GetCounter(ctx, key)
		if err != nil {
			return err
		}
		have = got
		s.counters[key] = got
	}
	var count, capacity *int64
	if want.Capacity != have.Capacity {
		capacity = &want.Capacity
	}
	if want.Count != have.Count {
		count = &want.Count
	}
	if count == nil && capacity == nil {
		return nil
	}
	if err := s.client.UpdateCounter(ctx, key, count, capacity); err != nil {
		delete(s.counters, key) // it may or may not have been applied
		return err
	}
	s.counters[key] = want
	return nil
}

// syncList removes the values not wanted (making room), then sets the
// capacity, then adds the values wanted, in want's order. Values
// repeated in want count once; those beyond want.Capacity are left out.
func (s *countSync) syncList(ctx context.Context, key string, want List) error {
	have, known := s.lists[key]
	if !known {
		got, err := s.client.GetList(ctx, key)
		if err != nil {
			return err
		}
		have = got
	}
	wanted := make(map[string]bool, len(want.Values))
	var values []string
	for _, v := range want.Values {
		if !wanted[v] && int64(len(values)) < want.Capacity {
			wanted[v] = true
			values = append(values, v)
		}
	}
	held := make(map[string]bool, len(have.Values))
	for _, v := range have.Values {
		held[v] = true
	}
	// have is updated as each call succeeds; on an error the List is
	// read again next time.
	fail := func(err error) error {
		delete(s.lists, key)
		return err
	}
	for _, v := range slices.Clone(have.Values) {
		if wanted[v] || !held[v] {
			continue
		}
		if err := s.client.RemoveListValue(ctx, key, v); err != nil {
			return fail(err)
		}
		delete(held, v)
	}
	have.Values = slices.DeleteFunc(have.Values, func(v string) bool { return !held[v] })
	s.lists[key] = have
	// A refused capacity (some Agones versions refuse List capacity
	// updates they cannot check) still lets the values in, as far as the
	// List's capacity goes.
	var capErr error
	if want.Capacity != have.Capacity {
		if err := s.client.SetListCapacity(ctx, key, want.Capacity); err != nil {
			capErr = err
		} else {
			have.Capacity = want.Capacity
			s.lists[key] = have
		}
	}
	for _, v := range values {
		if held[v] {
			continue
		}
		if int64(len(have.Values)) >= have.Capacity {
			break
		}
		if err := s.client.AddListValue(ctx, key, v); err != nil {
			return fail(err)
		}
		held[v] = true
		have.Values = append(have.Values, v)
		s.lists[key] = have
	}
	if capErr != nil {
		return fail(capErr)
	}
	return nil
}

// syncCounts runs countSync on l.Counts every CountsInterval until ctx
// is done, reading everything back every CountsResync.
func (l *Lifecycle) syncCounts(ctx context.Context) {
	interval := l.CountsInterval
	if interval <= 0 {
		interval = time.Second
	}
	resync := l.CountsResync
	if resync <= 0 {
		resync = 30 * time.Second
	}
	s := newCountSync(l.Client, l.log())
	t := time.NewTicker(interval)
	defer t.Stop()
	read := time.Now()
	for {
		s.sync(ctx, l.Counts())
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			if now.Sub(read) >= resync {
				s.forget()
				read = now
			}
		}
	}
}
