package agones

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// A watch line as the fake sidecar of agones_test.go sends it.
const watchLineReady = `{"result":{"object_meta":{"name":"gs-1"},"status":{"state":"Ready","address":"10.0.0.1","ports":[{"name":"game","port":7001}]}}}`

// A watch line as a real sidecar sends it: the whole GameServer, most of
// which Tickwire does not read.
const watchLineFull = `{"result":{"object_meta":{"name":"tickwire-7xk2p-9qz4c","namespace":"default",` +
	`"uid":"0b1c6f7e-2f55-4a57-9d0e-6c1c0c8f1f2a","resource_version":"183204","generation":"3",` +
	`"creation_timestamp":"1717171717","annotations":{"agones.dev/sdk-version":"1.41.0"},` +
	`"labels":{"agones.dev/fleet":"tickwire"}},"spec":{"health":{"period_seconds":5,` +
	`"failure_threshold":3,"initial_delay_seconds":5}},"status":{"state":"Allocated",` +
	`"address":"node-3.eu-west.example.net","ports":[{"name":"default","port":7654},` +
	`{"name":"metrics","port":7655}],"players":{"count":"2","capacity":"100","ids":["p1","p2"]}}}}`

// A failed stream as grpc-gateway reports it.
const watchLineError = `{"error":{"grpc_code":14,"http_code":503,"message":"transport is closing","http_status":"Service Unavailable"}}`

func TestDecodeWatchLine(t *testing.T) {
	for _, tc := range []struct {
		name, line string
		wantAddr   string // PublicAddr of an accepted update
		wantErr    string // substring of the error; "" accepts
	}{
		{name: "fake sidecar", line: watchLineReady, wantAddr: "10.0.0.1:7001"},
		{name: "real sidecar", line: watchLineFull, wantAddr: "node-3.eu-west.example.net:7654"},
		{name: "before ports", line: `{"result":{"object_meta":{"name":"gs"},"status":{"state":"Scheduled"}}}`},
		{name: "port 0 is unassigned", line: `{"result":{"status":{"address":"10.0.0.1","ports":[{"port":0}]}}}`},
		{name: "IPv6", line: `{"result":{"status":{"address":"2001:db8::7","ports":[{"port":7001}]}}}`, wantAddr: "[2001:db8::7]:7001"},
		{name: "underscore in node name", line: `{"result":{"status":{"address":"gke_pool-1","ports":[{"port":1}]}}}`, wantAddr: "gke_pool-1:1"},
		{name: "error null", line: `{"error":null,"result":{"status":{"state":"Ready"}}}`},

		{name: "sidecar error", line: watchLineError, wantErr: `sidecar reported an error: "transport is closing"`},
		{name: "error without message", line: `{"error":{"code":2}}`, wantErr: `sidecar reported an error: "{\"code\":2}"`},
		{name: "error beside a result", line: `{"result":{},"error":{"message":"x"}}`, wantErr: "sidecar reported an error"},
		{name: "no result", line: `{}`, wantErr: "no result"},
		{name: "null result", line: `{"result":null}`, wantErr: "no result"},
		{name: "null", line: `null`, wantErr: "no result"},
		{name: "truncated", line: watchLineReady[:len(watchLineReady)/2], wantErr: "decoding update"},
		{name: "trailing garbage", line: watchLineReady + `x`, wantErr: "decoding update"},
		{name: "array", line: `[]`, wantErr: "decoding update"},
		{name: "port as string", line: `{"result":{"status":{"ports":[{"port":"7001"}]}}}`, wantErr: "decoding update"},
		{name: "negative port", line: `{"result":{"status":{"address":"10.0.0.1","ports":[{"name":"game","port":-1}]}}}`, wantErr: `port 0 ("game"): -1 out of [0, 65535]`},
		{name: "port too big", line: `{"result":{"status":{"address":"10.0.0.1","ports":[{"port":7001},{"port":65536}]}}}`, wantErr: "port 1"},
		{name: "path in address", line: `{"result":{"status":{"address":"evil.example/x?","ports":[{"port":1}]}}}`, wantErr: "address"},
		{name: "userinfo in address", line: `{"result":{"status":{"address":"user@10.0.0.1","ports":[{"port":1}]}}}`, wantErr: "address"},
		{name: "address with port", line: `{"result":{"status":{"address":"10.0.0.1:80"}}}`, wantErr: "address"},
		{name: "IPv6 zone", line: `{"result":{"status":{"address":"fe80::1%eth0"}}}`, wantErr: "address"},
		{name: "empty label", line: `{"result":{"status":{"address":"a..b"}}}`, wantErr: "address"},
		{name: "label starts with -", line: `{"result":{"status":{"address":"-a.b"}}}`, wantErr: "address"},
		{name: "label of 64", line: `{"result":{"status":{"address":"` + strings.Repeat("a", 64) + `.b"}}}`, wantErr: "address"},
		{name: "address of 254", line: `{"result":{"status":{"address":"` + strings.Repeat("a.", 127) + `"}}}`, wantErr: "address"},
		{name: "huge state", line: `{"result":{"status":{"state":"` + strings.Repeat("S", 65) + `"}}}`, wantErr: "state: 65 bytes"},
		{name: "huge name", line: `{"result":{"object_meta":{"name":"` + strings.Repeat("n", 254) + `"}}}`, wantErr: "name: 254 bytes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			gs, err := decodeWatchLine([]byte(tc.line))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, tc.wantErr)
				}
				if !reflect.DeepEqual(gs, GameServer{}) {
					t.Errorf("an error came with %+v, want the zero GameServer", gs)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := gs.PublicAddr(); got != tc.wantAddr {
				t.Errorf("PublicAddr = %q, want %q", got, tc.wantAddr)
			}
		})
	}
}

// TestWatchGameServerEndsOnAnErrorLine: an {"error": ...} line used to
// decode as a zero GameServer and reach the callback as an update with
// no state; now it ends the watch with the sidecar's message.
func TestWatchGameServerEndsOnAnErrorLine(t *testing.T) {
	sidecar := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, watchLineReady+"\n\n"+watchLineError+"\n"+watchLineFull+"\n")
	}))
	defer sidecar.Close()
	var got []string
	err := New(sidecar.URL).WatchGameServer(context.Background(), func(gs GameServer) {
		got = append(got, gs.Status.State)
	})
	if err == nil || !strings.Contains(err.Error(), "agones: watch: sidecar reported an error") {
		t.Errorf("err = %v, want the sidecar's error", err)
	}
	if !reflect.DeepEqual(got, []string{"Ready"}) {
		t.Errorf("updates = %q, want only the one before the error", got)
	}
}

// FuzzDecodeWatchLine feeds decodeWatchLine, the decoder WatchGameServer
// applies to every line the sidecar streams.
func FuzzDecodeWatchLine(f *testing.F) {
	for _, s := range []string{
		watchLineReady,
		watchLineFull,
		watchLineError,
		watchLineReady[:len(watchLineReady)/2],
		watchLineFull[:len(watchLineFull)-3],
		`{"result":{"status":{"address":"2001:db8::7","ports":[{"port":7001}]}}}`,
		`{"result":{"status":{"address":"fe80::1%eth0","ports":[{"port":7001}]}}}`,
		`{"result":{"status":{"address":"evil.example/x?","ports":[{"port":1}]}}}`,
		`{"result":{"status":{"address":"10.0.0.1","ports":[{"port":-1}]}}}`,
		`{"result":{"status":{"address":"10.0.0.1","ports":[{"port":1e9}]}}}`,
		`{"RESULT":{"Status":{"Address":"a","Ports":[{"Port":1}]}}}`,
		`{"result":{},"result":null}`,
		`{"result":null}`,
		`{}`,
		`null`,
		`[]`,
		"",
		"{\"result\":{\"object_meta\":{\"name\":\"\xff\"}}}",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		gs, err := decodeWatchLine(line)
		if err != nil {
			if !reflect.DeepEqual(gs, GameServer{}) {
				t.Fatalf("error %v came with %+v, want the zero GameServer", err, gs)
			}
			return
		}
		if !json.Valid(line) {
			t.Fatalf("accepted invalid JSON %q", line)
		}
		if len(gs.ObjectMeta.Name) > maxNameBytes || len(gs.Status.State) > maxStateBytes {
			t.Fatalf("accepted a name of %d or a state of %d bytes", len(gs.ObjectMeta.Name), len(gs.Status.State))
		}
		for _, p := range gs.Status.Ports {
			if p.Port < 0 || p.Port > 65535 {
				t.Fatalf("accepted port %d from %q", p.Port, line)
			}
		}
		// cmd/server makes the lobby's public URL of PublicAddr: it must
		// name exactly the address and port, nothing more.
		if addr := gs.PublicAddr(); addr != "" {
			u, err := url.Parse("https://" + addr)
			if err != nil {
				t.Fatalf("public URL of %q: %v", addr, err)
			}
			if u.Hostname() != gs.Status.Address || u.Port() != strconv.Itoa(gs.Status.Ports[0].Port) ||
				u.User != nil || u.Path != "" || u.RawQuery != "" || u.Fragment != "" {
				t.Fatalf("public URL of address %q, port %d is %#v", gs.Status.Address, gs.Status.Ports[0].Port, u)
			}
			if host, _, err := net.SplitHostPort(addr); err != nil || host != gs.Status.Address {
				t.Fatalf("SplitHostPort(%q) = %q, %v", addr, host, err)
			}
		}
		// What is accepted survives encoding and decoding unchanged.
		again, err := json.Marshal(struct {
			Result GameServer `json:"result"`
		}{gs})
		if err != nil {
			t.Fatal(err)
		}
		gs2, err := decodeWatchLine(again)
		if err != nil {
			t.Fatalf("re-encoded %s rejected: %v", again, err)
		}
		if !reflect.DeepEqual(gs, gs2) {
			t.Fatalf("round trip: %+v became %+v", gs, gs2)
		}
	})
}

// Counters and Lists as the sidecar answers GET /v1beta1/counters/{key}
// and /v1beta1/lists/{key} (protojson: int64 as strings, every field).
const (
	counterReply = `{"name":"players","count":"3","capacity":"100"}`
	listReply    = `{"name":"rooms","capacity":"64","values":["default","duel-7"]}`
)

func TestDecodeAgonesCounter(t *testing.T) {
	for _, tc := range []struct {
		name, body string
		want       Counter
		wantErr    string
	}{
		{name: "sidecar", body: counterReply, want: Counter{3, 100}},
		{name: "numbers", body: `{"name":"players","count":3,"capacity":100}`, want: Counter{3, 100}},
		{name: "fields left out are 0", body: `{"capacity":"5"}`, want: Counter{0, 5}},
		{name: "null fields are 0", body: `{"name":null,"count":null,"capacity":"5"}`, want: Counter{0, 5}},
		{name: "unknown fields ignored", body: `{"name":"players","count":"1","capacity":"2","x":{}}`, want: Counter{1, 2}},
		{name: "largest int64", body: `{"capacity":"9223372036854775807"}`, want: Counter{0, 1<<63 - 1}},

		{name: "another counter", body: `{"name":"rooms","count":"1","capacity":"2"}`, wantErr: `asked for counter "players", got "rooms"`},
		{name: "negative count", body: `{"count":"-1","capacity":"2"}`, wantErr: "want both at least 0"},
		{name: "negative capacity", body: `{"capacity":-2}`, wantErr: "want both at least 0"},
		{name: "int64 overflow", body: `{"capacity":"9223372036854775808"}`, wantErr: "want an int64"},
		{name: "fraction", body: `{"count":1.5}`, wantErr: "want an int64"},
		{name: "exponent", body: `{"count":"1e3"}`, wantErr: "want an int64"},
		{name: "empty string", body: `{"count":""}`, wantErr: "want an int64"},
		{name: "bool", body: `{"count":true}`, wantErr: "want an int64"},
		{name: "null", body: `null`, wantErr: "null"},
		{name: "array", body: `[]`, wantErr: "decoding counter"},
		{name: "empty", body: ``, wantErr: "decoding counter"},
		{name: "truncated", body: counterReply[:20], wantErr: "decoding counter"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := decodeCounter("players", []byte(tc.body))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, tc.wantErr)
				}
				if got != (Counter{}) {
					t.Errorf("an error came with %+v, want the zero Counter", got)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("decodeCounter = %+v, %v; want %+v", got, err, tc.want)
			}
		})
	}
}

func TestDecodeAgonesList(t *testing.T) {
	thousand := `{"capacity":"1000","values":["v"` + strings.Repeat(`,"v"`, 999) + `]}`
	for _, tc := range []struct {
		name, body string
		want       List
		wantErr    string
	}{
		{name: "sidecar", body: listReply, want: List{64, []string{"default", "duel-7"}}},
		{name: "empty values are nil", body: `{"name":"rooms","capacity":"64","values":[]}`, want: List{64, nil}},
		{name: "fields left out", body: `{}`, want: List{}},
		{name: "capacity as number", body: `{"capacity":1000}`, want: List{1000, nil}},
		{name: "1000 values", body: thousand, want: List{1000, slices.Repeat([]string{"v"}, 1000)}},

		{name: "another list", body: `{"name":"players"}`, wantErr: `asked for list "rooms", got "players"`},
		{name: "capacity over 1000", body: `{"capacity":"1001"}`, wantErr: "capacity 1001 out of [0, 1000]"},
		{name: "negative capacity", body: `{"capacity":"-1"}`, wantErr: "out of [0, 1000]"},
		{name: "1001 values", body: strings.Replace(thousand, `"v"`, `"v","w"`, 1), wantErr: "1001 values"},
		{name: "value not a string", body: `{"values":[1]}`, wantErr: "decoding list"},
		{name: "values not an array", body: `{"values":"a"}`, wantErr: "decoding list"},
		{name: "null", body: `null`, wantErr: "null"},
		{name: "trailing garbage", body: listReply + "x", wantErr: "decoding list"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := decodeList("rooms", []byte(tc.body))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, tc.wantErr)
				}
				if !reflect.DeepEqual(got, List{}) {
					t.Errorf("an error came with %+v, want the zero List", got)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("decodeList = %+v, %v; want %+v", got, err, tc.want)
			}
		})
	}
}

// FuzzDecodeAgonesCounter feeds decodeCounter, the decoder of the sidecar's
// answer to GET /v1beta1/counters/{key}.
func FuzzDecodeAgonesCounter(f *testing.F) {
	for _, s := range []string{
		counterReply,
		`{"name":"players","count":3,"capacity":100}`,
		`{"count":"-1","capacity":"2"}`,
		`{"capacity":"9223372036854775808"}`,
		`{"count":"+7","capacity":"0x10"}`,
		`{"count":"\u0031"}`,
		`{"code":5,"message":"counter not found: players"}`,
		`{"name":"rooms"}`,
		`{"NAME":"players","Count":"1"}`,
		`null`, `[]`, ``, `{`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		c, err := decodeCounter("players", body)
		if err != nil {
			if c != (Counter{}) {
				t.Fatalf("error %v came with %+v", err, c)
			}
			return
		}
		if !json.Valid(body) {
			t.Fatalf("accepted invalid JSON %q", body)
		}
		if c.Count < 0 || c.Capacity < 0 {
			t.Fatalf("accepted %+v from %q", c, body)
		}
		// What is accepted reads the same once written as the sidecar
		// writes it.
		again, err := decodeCounter("players", counterJSON("players", c))
		if err != nil || again != c {
			t.Fatalf("round trip of %+v: %+v, %v", c, again, err)
		}
	})
}

// FuzzDecodeAgonesList feeds decodeList, the decoder of the sidecar's answer
// to GET /v1beta1/lists/{key}.
func FuzzDecodeAgonesList(f *testing.F) {
	for _, s := range []string{
		listReply,
		`{"name":"rooms","capacity":"64","values":[]}`,
		`{"capacity":1000,"values":null}`,
		`{"capacity":"1001"}`,
		`{"values":["a","a","\u00e9","\ud800"]}`,
		"{\"values\":[\"\xff\"]}",
		`{"values":[1]}`,
		`{"name":"players"}`,
		`null`, `[]`, ``, `{"values":[`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		l, err := decodeList("rooms", body)
		if err != nil {
			if !reflect.DeepEqual(l, List{}) {
				t.Fatalf("error %v came with %+v", err, l)
			}
			return
		}
		if !json.Valid(body) {
			t.Fatalf("accepted invalid JSON %q", body)
		}
		if l.Capacity < 0 || l.Capacity > MaxListCapacity || len(l.Values) > MaxListCapacity {
			t.Fatalf("accepted capacity %d with %d values", l.Capacity, len(l.Values))
		}
		if l.Values != nil && len(l.Values) == 0 {
			t.Fatal("empty Values not nil")
		}
		again, err := decodeList("rooms", listJSON("rooms", l))
		if err != nil || !reflect.DeepEqual(again, l) {
			t.Fatalf("round trip of %+v: %+v, %v", l, again, err)
		}
	})
}
