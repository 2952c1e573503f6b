package agones

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// countsSidecar fakes the sidecar's Counters and Lists (REST, beta) as
// Agones' sdkserver implements them: undeclared keys are not found, a
// count outside [0, capacity] and a List capacity outside [0, 1000] are
// out of range, an added value already there is refused, as is a
// removed value not there and an addition to a full List. Errors are
// grpc-gateway's: HTTP 500 with {"code":2,"message":...}. It records
// the calls ("PATCH counters/players count=1 capacity=100").
type countsSidecar struct {
	t        *testing.T
	mu       sync.Mutex
	counters map[string]Counter
	lists    map[string]List
	calls    []string
	// fail makes the next calls starting with a key fail: "refuse"
	// without applying them, "lose" applying them but answering 503 (a
	// lost reply).
	fail map[string]string
	// pending is the change serve validated, applied by apply.
	pending func()
}

func newCountsSidecar(t *testing.T, declared Counts) *countsSidecar {
	f := &countsSidecar{t: t, counters: map[string]Counter{}, lists: map[string]List{}, fail: map[string]string{}}
	for k, c := range declared.Counters {
		f.counters[k] = c
	}
	for k, l := range declared.Lists {
		f.lists[k] = List{Capacity: l.Capacity, Values: slices.Clone(l.Values)}
	}
	return f
}

// state is what the sidecar holds, as Counts.
func (f *countsSidecar) state() Counts {
	f.mu.Lock()
	defer f.mu.Unlock()
	s := Counts{Counters: map[string]Counter{}, Lists: map[string]List{}}
	for k, c := range f.counters {
		s.Counters[k] = c
	}
	for k, l := range f.lists {
		s.Lists[k] = List{Capacity: l.Capacity, Values: slices.Clone(l.Values)}
	}
	return s
}

// takeCalls returns the calls recorded since the last takeCalls.
func (f *countsSidecar) takeCalls() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := f.calls
	f.calls = nil
	return c
}

func (f *countsSidecar) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if r.Header.Get("Content-Type") != "application/json" {
		f.t.Errorf("%s %s: Content-Type %q", r.Method, r.URL.Path, r.Header.Get("Content-Type"))
	}
	body, _ := io.ReadAll(r.Body)
	call, reply, err := f.serve(r.Method, r.URL.Path, body)
	mode := ""
	for prefix, m := range f.fail {
		if strings.HasPrefix(call, prefix) {
			mode = m
			delete(f.fail, prefix)
		}
	}
	f.calls = append(f.calls, call)
	switch {
	case mode == "refuse":
		http.Error(w, `{"code":14,"message":"injected failure","details":[]}`, http.StatusServiceUnavailable)
	case err != nil:
		w.WriteHeader(http.StatusInternalServerError)
		fmt.Fprintf(w, `{"code":2,"message":%q,"details":[]}`, err.Error())
	case mode == "lose":
		f.apply()
		http.Error(w, `{"code":14,"message":"reply lost","details":[]}`, http.StatusServiceUnavailable)
	default:
		f.apply()
		w.Header().Set("Content-Type", "application/json")
		w.Write(reply)
	}
}

func (f *countsSidecar) apply() {
	if f.pending != nil {
		f.pending()
		f.pending = nil
	}
}

// serve validates a call and stages its change in pending; it returns
// the call's record and the reply.
func (f *countsSidecar) serve(method, path string, body []byte) (string, []byte, error) {
	f.pending = nil
	if key, ok := strings.CutPrefix(path, "/v1beta1/counters/"); ok {
		call := method + " counters/" + key
		c, declared := f.counters[key]
		switch method {
		case "GET":
			if !declared {
				return call, nil, fmt.Errorf("counter not found: %s", key)
			}
			return call, counterJSON(key, c), nil
		case "PATCH":
			fields := f.int64Fields(call, body, "count", "capacity")
			for _, name := range []string{"count", "capacity"} {
				if v, ok := fields[name]; ok {
					call += " " + name + "=" + strconv.FormatInt(v, 10)
				}
			}
			if !declared {
				return call, nil, fmt.Errorf("counter not found: %s", key)
			}
			if len(fields) == 0 {
				return call, nil, fmt.Errorf("invalid argument. Malformed CounterUpdateRequest")
			}
			next := c
			if v, ok := fields["capacity"]; ok {
				if v < 0 {
					return call, nil, fmt.Errorf("out of range. Capacity must be greater than or equal to 0")
				}
				next.Capacity = v
			}
			if v, ok := fields["count"]; ok {
				if v < 0 || v > next.Capacity {
					return call, nil, fmt.Errorf("out of range. Count must be within range [0,Capacity]. Found Count: %d, Capacity: %d", v, next.Capacity)
				}
				next.Count = v
			}
			f.pending = func() { f.counters[key] = next }
			return call, counterJSON(key, next), nil
		}
	}
	if rest, ok := strings.CutPrefix(path, "/v1beta1/lists/"); ok {
		key, verb, _ := strings.Cut(rest, ":")
		call := method + " lists/" + rest
		l, declared := f.lists[key]
		switch {
		case method == "GET" && verb == "":
			if !declared {
				return call, nil, fmt.Errorf("list not found: %s", key)
			}
			return call, listJSON(key, l), nil
		case method == "PATCH" && verb == "":
			fields := f.int64Fields(call, body, "capacity")
			if v, ok := fields["capacity"]; ok {
				call += " capacity=" + strconv.FormatInt(v, 10)
			}
			if !declared {
				return call, nil, fmt.Errorf("list not found: %s", key)
			}
			v, ok := fields["capacity"]
			if !ok {
				f.t.Errorf("%s: %s, want only a capacity", call, body)
				return call, nil, fmt.Errorf("invalid argument")
			}
			if v < 0 || v > MaxListCapacity {
				return call, nil, fmt.Errorf("out of range. Capacity must be within range [0,1000]. Found Capacity: %d", v)
			}
			f.pending = func() {
				l := f.lists[key]
				l.Capacity = v
				f.lists[key] = l
			}
			return call, []byte("{}"), nil
		case method == "POST" && (verb == "addValue" || verb == "removeValue"):
			var req struct {
				Value *string `json:"value"`
			}
			if err := json.Unmarshal(body, &req); err != nil || req.Value == nil {
				f.t.Errorf("%s: body %s, want {\"value\": ...}", call, body)
				return call, nil, fmt.Errorf("invalid argument")
			}
			v := *req.Value
			call += " " + v
			if !declared {
				return call, nil, fmt.Errorf("list not found: %s", key)
			}
			has := slices.Contains(l.Values, v)
			if verb == "addValue" {
				if int64(len(l.Values)) >= l.Capacity {
					return call, nil, fmt.Errorf("out of range. No available capacity. Current Capacity: %d, List Size: %d", l.Capacity, len(l.Values))
				}
				if has {
					return call, nil, fmt.Errorf("already exists. Value: %s already in List: %s", v, key)
				}
				f.pending = func() {
					l := f.lists[key]
					l.Values = append(slices.Clone(l.Values), v)
					f.lists[key] = l
				}
			} else {
				if !has {
					return call, nil, fmt.Errorf("not found: value %s not in list %s", v, key)
				}
				f.pending = func() {
					l := f.lists[key]
					l.Values = slices.DeleteFunc(slices.Clone(l.Values), func(x string) bool { return x == v })
					f.lists[key] = l
				}
			}
			return call, []byte("{}"), nil
		}
	}
	f.t.Errorf("unexpected call %s %s", method, path)
	return method + " " + path, nil, fmt.Errorf("Not Found")
}

// int64Fields reads the named int64 fields of a body, checking that
// they are sent as protojson writes int64: JSON strings of digits.
func (f *countsSidecar) int64Fields(call string, body []byte, names ...string) map[string]int64 {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(body, &raw); err != nil {
		f.t.Errorf("%s: body %q: %v", call, body, err)
		return nil
	}
	out := map[string]int64{}
	for k, v := range raw {
		if !slices.Contains(names, k) {
			f.t.Errorf("%s: unexpected field %q in %s", call, k, body)
			continue
		}
		var s string
		if err := json.Unmarshal(v, &s); err != nil {
			f.t.Errorf("%s: %s = %s, want an int64 as a JSON string", call, k, v)
			continue
		}
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			f.t.Errorf("%s: %s = %s: %v", call, k, v, err)
			continue
		}
		out[k] = n
	}
	return out
}

// counterJSON and listJSON answer as the sidecar does (protojson with
// proto names and unpopulated fields: int64 as strings).
func counterJSON(key string, c Counter) []byte {
	return fmt.Appendf(nil, `{"name":%q,"count":"%d","capacity":"%d"}`, key, c.Count, c.Capacity)
}

func listJSON(key string, l List) []byte {
	values, _ := json.Marshal(append([]string{}, l.Values...))
	return fmt.Appendf(nil, `{"name":%q,"capacity":"%d","values":%s}`, key, l.Capacity, values)
}

// fleetDeclared is what deploy/fleet.yaml declares, with MaxRooms 64.
func fleetDeclared() Counts {
	return Counts{
		Counters: map[string]Counter{CounterPlayers: {0, 0}, CounterRooms: {0, 64}},
		Lists:    map[string]List{ListRooms: {Capacity: 64}},
	}
}

// logCounter counts log records by level.
type logCounter struct {
	mu     sync.Mutex
	counts map[slog.Level]int
	lines  []string
}

func (l *logCounter) Enabled(context.Context, slog.Level) bool { return true }
func (l *logCounter) WithAttrs([]slog.Attr) slog.Handler       { return l }
func (l *logCounter) WithGroup(string) slog.Handler            { return l }
func (l *logCounter) Handle(_ context.Context, r slog.Record) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.counts == nil {
		l.counts = map[slog.Level]int{}
	}
	l.counts[r.Level]++
	l.lines = append(l.lines, r.Level.String()+" "+r.Message)
	return nil
}

func (l *logCounter) count(level slog.Level) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.counts[level]
}

// rooms builds RoomCounts of "id:players/capacity" rooms.
func rooms(maxRooms int, draining bool, specs ...string) Counts {
	var rs []Room
	for _, s := range specs {
		id, rest, _ := strings.Cut(s, ":")
		p, c, _ := strings.Cut(rest, "/")
		players, _ := strconv.Atoi(p)
		capacity, _ := strconv.Atoi(c)
		rs = append(rs, Room{ID: id, Players: players, Capacity: capacity})
	}
	return RoomCounts(rs, maxRooms, draining)
}

// TestCountSyncSendsOnlyWhatChanged runs countSync through sequences of
// states against the fake sidecar: each step is one poll, with what the
// sidecar must receive and hold afterwards.
func TestCountSyncSendsAgonesOnlyWhatChanged(t *testing.T) {
	type step struct {
		name   string
		before func(f *countsSidecar) // failures to inject, changes made elsewhere
		forget bool                   // a resync: read everything back first
		want   Counts                 // what the process reports
		calls  []string               // what the sidecar receives
		holds  *Counts                // what it holds afterwards; nil: want
	}
	for _, tc := range []struct {
		name     string
		declared Counts
		steps    []step
		warnings int // logged in all
		infos    int
	}{
		{
			name:     "a process's life",
			declared: fleetDeclared(),
			steps: []step{
				{
					name: "first poll reads each, then sets what differs",
					want: rooms(64, false, "default:0/100"),
					calls: []string{
						"GET counters/players", "PATCH counters/players capacity=100",
						"GET counters/rooms", "PATCH counters/rooms count=1",
						"GET lists/rooms", "POST lists/rooms:addValue default",
					},
				},
				{name: "nothing changed, nothing sent", want: rooms(64, false, "default:0/100")},
				{
					name:  "a player joins",
					want:  rooms(64, false, "default:1/100"),
					calls: []string{"PATCH counters/players count=1"},
				},
				{
					name: "a room opens",
					want: rooms(64, false, "default:1/100", "duel:0/2"),
					calls: []string{
						"PATCH counters/players capacity=102", "PATCH counters/rooms count=2",
						"POST lists/rooms:addValue duel",
					},
				},
				{
					name:  "players join and leave, same rooms",
					want:  rooms(64, false, "default:0/100", "duel:2/2"),
					calls: []string{"PATCH counters/players count=2"},
				},
				{
					name: "a room closes",
					want: rooms(64, false, "default:0/100"),
					calls: []string{
						"PATCH counters/players count=0 capacity=100", "PATCH counters/rooms count=1",
						"POST lists/rooms:removeValue duel",
					},
				},
				{
					name:  "draining: no space left for allocations",
					want:  rooms(64, true, "default:0/100"),
					calls: []string{"PATCH counters/players capacity=0", "PATCH counters/rooms capacity=1"},
				},
			},
		},
		{
			name:     "a refused update is retried after reading back",
			declared: fleetDeclared(),
			steps: []step{
				{
					name:   "players refused",
					before: func(f *countsSidecar) { f.fail["PATCH counters/players"] = "refuse" },
					want:   rooms(64, false, "default:0/100"),
					calls: []string{
						"GET counters/players", "PATCH counters/players capacity=100",
						"GET counters/rooms", "PATCH counters/rooms count=1",
						"GET lists/rooms", "POST lists/rooms:addValue default",
					},
					holds: &Counts{
						Counters: map[string]Counter{CounterPlayers: {0, 0}, CounterRooms: {1, 64}},
						Lists:    map[string]List{ListRooms: {64, []string{"default"}}},
					},
				},
				{
					name:  "retried",
					want:  rooms(64, false, "default:0/100"),
					calls: []string{"GET counters/players", "PATCH counters/players capacity=100"},
				},
			},
			warnings: 1, infos: 1,
		},
		{
			name:     "a lost reply: read back, not sent twice",
			declared: fleetDeclared(),
			steps: []step{
				{
					name: "the addition is applied, its reply lost",
					before: func(f *countsSidecar) {
						f.fail["POST lists/rooms:addValue a"] = "lose"
					},
					want: rooms(64, false, "a:0/4", "b:0/4"),
					calls: []string{
						"GET counters/players", "PATCH counters/players capacity=8",
						"GET counters/rooms", "PATCH counters/rooms count=2",
						"GET lists/rooms", "POST lists/rooms:addValue a",
					},
					holds: &Counts{
						Counters: map[string]Counter{CounterPlayers: {0, 8}, CounterRooms: {2, 64}},
						Lists:    map[string]List{ListRooms: {64, []string{"a"}}},
					},
				},
				{
					name:  "read back: only b is added",
					want:  rooms(64, false, "a:0/4", "b:0/4"),
					calls: []string{"GET lists/rooms", "POST lists/rooms:addValue b"},
				},
			},
			warnings: 1, infos: 1,
		},
		{
			name: "what others changed is undone once read back",
			declared: Counts{
				// An allocation's actions: a room counted, a value added.
				Counters: map[string]Counter{CounterPlayers: {0, 0}, CounterRooms: {3, 64}},
				Lists:    map[string]List{ListRooms: {Capacity: 64, Values: []string{"stale"}}},
			},
			steps: []step{
				{
					name: "first poll",
					want: rooms(64, false, "default:0/100"),
					calls: []string{
						"GET counters/players", "PATCH counters/players capacity=100",
						"GET counters/rooms", "PATCH counters/rooms count=1",
						"GET lists/rooms", "POST lists/rooms:removeValue stale", "POST lists/rooms:addValue default",
					},
				},
				{
					name: "changed elsewhere: unseen until a resync",
					before: func(f *countsSidecar) {
						f.counters[CounterRooms] = Counter{2, 64}
						f.lists[ListRooms] = List{64, []string{"default", "x"}}
					},
					want: rooms(64, false, "default:0/100"),
					holds: &Counts{
						Counters: map[string]Counter{CounterPlayers: {0, 100}, CounterRooms: {2, 64}},
						Lists:    map[string]List{ListRooms: {64, []string{"default", "x"}}},
					},
				},
				{
					name:   "resync",
					forget: true,
					want:   rooms(64, false, "default:0/100"),
					calls: []string{
						"GET counters/players", "GET counters/rooms", "PATCH counters/rooms count=1",
						"GET lists/rooms", "POST lists/rooms:removeValue x",
					},
				},
			},
		},
		{
			name: "list: removals, then the capacity, then additions",
			declared: Counts{Lists: map[string]List{
				"l": {Capacity: 2, Values: []string{"a", "b"}},
				"m": {Capacity: 5, Values: []string{"a", "b", "c"}},
			}},
			steps: []step{
				{
					name: "grow l, shrink m",
					want: Counts{Lists: map[string]List{
						"l": {Capacity: 3, Values: []string{"b", "c", "d"}},
						"m": {Capacity: 1, Values: []string{"c"}},
					}},
					calls: []string{
						"GET lists/l", "POST lists/l:removeValue a", "PATCH lists/l capacity=3",
						"POST lists/l:addValue c", "POST lists/l:addValue d",
						"GET lists/m", "POST lists/m:removeValue a", "POST lists/m:removeValue b", "PATCH lists/m capacity=1",
					},
				},
				{
					name: "repeated values count once; those past the capacity are left out",
					want: Counts{Lists: map[string]List{
						"l": {Capacity: 3, Values: []string{"b", "b", "c", "e", "f"}},
						"m": {Capacity: 1, Values: []string{"c"}},
					}},
					calls: []string{"POST lists/l:removeValue d", "POST lists/l:addValue e"},
					holds: &Counts{Lists: map[string]List{
						"l": {Capacity: 3, Values: []string{"b", "c", "e"}},
						"m": {Capacity: 1, Values: []string{"c"}},
					}},
				},
			},
		},
		{
			name:     "a refused List capacity still lets values in, as far as the List holds",
			declared: Counts{Lists: map[string]List{"l": {Capacity: 2}}},
			steps: []step{
				{
					name:   "capacity refused",
					before: func(f *countsSidecar) { f.fail["PATCH lists/l"] = "refuse" },
					want:   Counts{Lists: map[string]List{"l": {Capacity: 3, Values: []string{"a", "b", "c"}}}},
					calls: []string{
						"GET lists/l", "PATCH lists/l capacity=3", "POST lists/l:addValue a", "POST lists/l:addValue b",
					},
					holds: &Counts{Lists: map[string]List{"l": {Capacity: 2, Values: []string{"a", "b"}}}},
				},
				{
					name:  "retried",
					want:  Counts{Lists: map[string]List{"l": {Capacity: 3, Values: []string{"a", "b", "c"}}}},
					calls: []string{"GET lists/l", "PATCH lists/l capacity=3", "POST lists/l:addValue c"},
				},
			},
			warnings: 1, infos: 1,
		},
		{
			name: "a counter shrinking below its count: one PATCH, capacity first",
			declared: Counts{Counters: map[string]Counter{
				"c": {Count: 5, Capacity: 10},
			}},
			steps: []step{{
				want:  Counts{Counters: map[string]Counter{"c": {Count: 2, Capacity: 3}}},
				calls: []string{"GET counters/c", "PATCH counters/c count=2 capacity=3"},
			}},
		},
		{
			name:     "undeclared keys (or the feature gate off): read on every poll, logged once",
			declared: Counts{},
			steps: []step{
				{
					name:  "first poll",
					want:  rooms(64, false, "default:0/100"),
					calls: []string{"GET counters/players", "GET counters/rooms", "GET lists/rooms"},
					holds: &Counts{},
				},
				{
					name:  "second poll",
					want:  rooms(64, false, "default:0/100"),
					calls: []string{"GET counters/players", "GET counters/rooms", "GET lists/rooms"},
					holds: &Counts{},
				},
				{
					name: "declared at last",
					before: func(f *countsSidecar) {
						d := fleetDeclared()
						f.counters, f.lists = d.Counters, d.Lists
					},
					want: rooms(64, false, "default:0/100"),
					calls: []string{
						"GET counters/players", "PATCH counters/players capacity=100",
						"GET counters/rooms", "PATCH counters/rooms count=1",
						"GET lists/rooms", "POST lists/rooms:addValue default",
					},
				},
			},
			warnings: 3, infos: 3,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newCountsSidecar(t, tc.declared)
			ts := httptest.NewServer(f)
			defer ts.Close()
			logs := &logCounter{}
			s := newCountSync(New(ts.URL), slog.New(logs))
			for i, st := range tc.steps {
				if st.before != nil {
					f.mu.Lock()
					st.before(f)
					f.mu.Unlock()
				}
				if st.forget {
					s.forget()
				}
				s.sync(context.Background(), st.want)
				if got := f.takeCalls(); !slices.Equal(got, st.calls) {
					t.Errorf("step %d (%s): calls\n  %q\nwant\n  %q", i, st.name, got, st.calls)
				}
				holds := st.want
				if st.holds != nil {
					holds = *st.holds
				}
				if got := f.state(); !sameCounts(got, holds) {
					t.Errorf("step %d (%s): sidecar holds %+v, want %+v", i, st.name, got, holds)
				}
			}
			if w, i := logs.count(slog.LevelWarn), logs.count(slog.LevelInfo); w != tc.warnings || i != tc.infos {
				t.Errorf("logged %d warnings and %d infos, want %d and %d: %q", w, i, tc.warnings, tc.infos, logs.lines)
			}
		})
	}
}

// sameCounts compares Counts, a nil map or slice equal to an empty one,
// List values as sets beyond the capacity (see syncList's doc).
func sameCounts(a, b Counts) bool {
	norm := func(c Counts) Counts {
		out := Counts{Counters: map[string]Counter{}, Lists: map[string]List{}}
		for k, v := range c.Counters {
			out.Counters[k] = v
		}
		for k, l := range c.Lists {
			v := slices.Clone(l.Values)
			slices.Sort(v)
			v = slices.Compact(v)
			if len(v) == 0 {
				v = nil
			}
			out.Lists[k] = List{Capacity: l.Capacity, Values: v}
		}
		return out
	}
	return reflect.DeepEqual(norm(a), norm(b))
}

func TestRoomCountsForAgones(t *testing.T) {
	many := make([]Room, 1001)
	var manyIDs []string
	for i := range many {
		many[i] = Room{ID: fmt.Sprintf("r%04d", 1000-i), Players: 1, Capacity: 2}
		manyIDs = append(manyIDs, fmt.Sprintf("r%04d", i))
	}
	for _, tc := range []struct {
		name     string
		rooms    []Room
		maxRooms int
		draining bool
		players  Counter
		roomsC   Counter
		list     List
	}{
		{name: "no rooms", maxRooms: 64, players: Counter{0, 0}, roomsC: Counter{0, 64}, list: List{64, nil}},
		{
			name:     "rooms sorted",
			rooms:    []Room{{"b", 3, 10}, {"a", 1, 100}},
			maxRooms: 64, players: Counter{4, 110}, roomsC: Counter{2, 64}, list: List{64, []string{"a", "b"}},
		},
		{
			name:     "draining: capacities drop to the counts",
			rooms:    []Room{{"b", 3, 10}, {"a", 1, 100}},
			maxRooms: 64, draining: true, players: Counter{4, 4}, roomsC: Counter{2, 2}, list: List{64, []string{"a", "b"}},
		},
		{
			name:     "never a count above its capacity",
			rooms:    []Room{{"a", 7, 5}, {"b", -1, -3}, {"c", 0, 0}},
			maxRooms: 2, players: Counter{5, 5}, roomsC: Counter{3, 3}, list: List{2, []string{"a", "b"}},
		},
		{
			name:     "a List holds 1000 values at most",
			rooms:    many,
			maxRooms: 2000, players: Counter{1001, 2002}, roomsC: Counter{1001, 2000}, list: List{1000, manyIDs[:1000]},
		},
		{name: "one ID once", rooms: []Room{{"a", 1, 2}, {"a", 1, 2}}, maxRooms: 4, players: Counter{2, 4}, roomsC: Counter{1, 4}, list: List{4, []string{"a"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := RoomCounts(tc.rooms, tc.maxRooms, tc.draining)
			want := Counts{
				Counters: map[string]Counter{CounterPlayers: tc.players, CounterRooms: tc.roomsC},
				Lists:    map[string]List{ListRooms: tc.list},
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("RoomCounts = %+v\nwant %+v", got, want)
			}
		})
	}
}

// TestLifecycleKeepsCountsInStepUntilShutdown: with Counts set, Run
// reports each new state, and sends nothing after Shutdown.
func TestLifecycleKeepsAgonesCountsInStepUntilShutdown(t *testing.T) {
	counts := newCountsSidecar(t, fleetDeclared())
	var mu sync.Mutex
	var calls []string
	mux := http.NewServeMux()
	mux.Handle("/v1beta1/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		calls = append(calls, "counts")
		mu.Unlock()
		counts.ServeHTTP(w, r)
	}))
	for _, p := range []string{"/ready", "/health", "/shutdown"} {
		mux.HandleFunc("POST "+p, func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			calls = append(calls, p)
			mu.Unlock()
			fmt.Fprint(w, "{}")
		})
	}
	mux.HandleFunc("GET /watch/gameserver", func(w http.ResponseWriter, r *http.Request) {
		w.(http.Flusher).Flush()
		<-r.Context().Done()
	})
	sidecar := httptest.NewServer(mux)
	defer sidecar.Close()

	var stateMu sync.Mutex
	state := []Room{{ID: "default", Capacity: 100}}
	setState := func(rs ...Room) {
		stateMu.Lock()
		state = rs
		stateMu.Unlock()
	}
	l := &Lifecycle{
		Client:         New(sidecar.URL),
		HealthInterval: time.Hour,
		CountsInterval: 5 * time.Millisecond,
		Counts: func() Counts {
			stateMu.Lock()
			defer stateMu.Unlock()
			return RoomCounts(state, 64, false)
		},
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
	listening, drained := make(chan struct{}), make(chan struct{})
	close(listening)
	done := make(chan error, 1)
	go func() { done <- l.Run(context.Background(), listening, drained) }()

	waitHolds := func(want Counts) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for !sameCounts(counts.state(), want) {
			if time.Now().After(deadline) {
				t.Fatalf("sidecar holds %+v, want %+v", counts.state(), want)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	waitHolds(RoomCounts([]Room{{ID: "default", Capacity: 100}}, 64, false))
	setState(Room{ID: "default", Players: 1, Capacity: 100}, Room{ID: "x", Players: 2, Capacity: 4})
	waitHolds(RoomCounts([]Room{{ID: "default", Players: 1, Capacity: 100}, {ID: "x", Players: 2, Capacity: 4}}, 64, false))
	close(drained)
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after drain")
	}
	mu.Lock()
	defer mu.Unlock()
	if calls[0] != "/ready" || calls[len(calls)-1] != "/shutdown" || !slices.Contains(calls, "counts") {
		t.Errorf("calls = %q; want /ready, counts updates, /shutdown last", calls)
	}
}

func TestAgonesRunWithoutListeningReturnsOnDrain(t *testing.T) {
	l := &Lifecycle{Client: New("http://127.0.0.1:1"), Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	drained := make(chan struct{})
	close(drained)
	if err := l.Run(context.Background(), make(chan struct{}), drained); err != nil {
		t.Fatalf("Run = %v, want nil: the server never listened", err)
	}
}
