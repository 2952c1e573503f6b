//go:build !js

package transport

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/quic-go/webtransport-go"
)

// The tests here run both transports over real loopback sockets.

var bothKinds = []Kind{WebTransport, WebSocket}

// transportLog discards logs unless TICKWIRE_TEST_LOG is set. (t.Log is
// not usable: connections log from goroutines that may outlive a test.)
func transportLog() *slog.Logger {
	if os.Getenv("TICKWIRE_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

// testEndpoint is an Endpoint serving on loopback for one test. By
// default every accepted Conn is sent on accepted and kept open until the
// endpoint shuts down.
type testEndpoint struct {
	*Endpoint
	accepted chan Conn
	stop     func() // shuts the endpoint down; idempotent
}

func serveTestEndpoint(t testing.TB, ep *Endpoint) *testEndpoint {
	t.Helper()
	te := &testEndpoint{Endpoint: ep, accepted: make(chan Conn, 64)}
	if ep.Addr == "" {
		ep.Addr = "127.0.0.1:0"
	}
	if ep.Logger == nil {
		ep.Logger = transportLog()
	}
	if ep.OnConn == nil {
		ep.OnConn = func(ctx context.Context, c Conn, _ *http.Request) {
			te.accepted <- c
			<-ctx.Done()
		}
	}
	if err := ep.Listen(); err != nil {
		t.Fatalf("Listen: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- ep.Serve(ctx) }()
	var once sync.Once
	te.stop = func() {
		once.Do(func() {
			cancel()
			if err := <-errc; err != nil {
				t.Errorf("Serve: %v", err)
			}
		})
	}
	t.Cleanup(te.stop)
	return te
}

func (te *testEndpoint) accept(t testing.TB) Conn {
	t.Helper()
	select {
	case c := <-te.accepted:
		return c
	case <-time.After(10 * time.Second):
		t.Fatal("no connection accepted")
		return nil
	}
}

// dial connects a client over kind and returns both ends.
func (te *testEndpoint) dial(t testing.TB, kind Kind) (client, server Conn) {
	t.Helper()
	return te.dialWith(t, DialOptions{Transport: kind, TrustServerCertHash: true})
}

func (te *testEndpoint) dialWith(t testing.TB, opts DialOptions) (client, server Conn) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if opts.Logger == nil {
		opts.Logger = transportLog()
	}
	c, err := Dial(ctx, te.URL(), opts)
	if err != nil {
		t.Fatalf("Dial %s: %v", opts.Transport, err)
	}
	t.Cleanup(func() { c.Close() })
	return c, te.accept(t)
}

func mustReceive(t testing.TB, c Conn) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	p, _, err := c.Receive(ctx)
	if err != nil {
		t.Fatalf("Receive on %s: %v", c.Kind(), err)
	}
	return p
}

// receiveEnd reads until c reports its end and returns that error.
func receiveEnd(t testing.TB, c Conn) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for {
		if _, _, err := c.Receive(ctx); err != nil {
			if ctx.Err() != nil {
				t.Fatalf("%s connection still open", c.Kind())
			}
			return err
		}
	}
}

// exchange sends a datagram and a message from one end and checks that
// both come out of the other end's Receive, each marked with the channel
// it travelled (over WebSocket, both reliable).
func exchange(t testing.TB, from, to Conn, tag string) {
	t.Helper()
	d, m := "datagram "+tag, "message "+tag
	if err := from.SendDatagram([]byte(d)); err != nil {
		t.Fatalf("SendDatagram: %v", err)
	}
	if err := from.SendMessage([]byte(m)); err != nil {
		t.Fatalf("SendMessage: %v", err)
	}
	got := map[string]bool{} // packet -> reliable
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for range 2 {
		p, reliable, err := to.Receive(ctx)
		if err != nil {
			t.Fatalf("Receive on %s: %v", to.Kind(), err)
		}
		got[string(p)] = reliable
	}
	wantDatagramReliable := to.Kind() == WebSocket
	if r, ok := got[d]; !ok || r != wantDatagramReliable {
		t.Fatalf("received %v, want %q with reliable=%v", got, d, wantDatagramReliable)
	}
	if r, ok := got[m]; !ok || !r {
		t.Fatalf("received %v, want %q with reliable=true", got, m)
	}
}

// pollUntil checks cond every few milliseconds until it holds or timeout
// passes (for states that offer no signal to wait on).
func pollUntil(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestBothTransportsCarryDatagramsAndMessagesBothWays(t *testing.T) {
	te := serveTestEndpoint(t, &Endpoint{})
	for _, kind := range bothKinds {
		t.Run(string(kind), func(t *testing.T) {
			cli, srv := te.dial(t, kind)
			if cli.Kind() != kind || srv.Kind() != kind {
				t.Fatalf("kinds: client %s, server %s, want %s", cli.Kind(), srv.Kind(), kind)
			}
			if cli.RemoteAddr() == nil || srv.RemoteAddr() == nil {
				t.Fatal("RemoteAddr is nil")
			}
			exchange(t, cli, srv, "up")
			exchange(t, srv, cli, "down")
		})
	}
}

func TestReceiveMergesDatagramsAndMessagesKeepingMessageOrder(t *testing.T) {
	te := serveTestEndpoint(t, &Endpoint{})
	for _, kind := range bothKinds {
		t.Run(string(kind), func(t *testing.T) {
			cli, srv := te.dial(t, kind)
			const n = 20
			for i := range n {
				if err := cli.SendDatagram(fmt.Appendf(nil, "d%02d", i)); err != nil {
					t.Fatal(err)
				}
				if err := cli.SendMessage(fmt.Appendf(nil, "m%02d", i)); err != nil {
					t.Fatal(err)
				}
			}
			var msgs []string
			datagrams := map[string]bool{}
			for len(msgs) < n || len(datagrams) < n {
				p := string(mustReceive(t, srv))
				if strings.HasPrefix(p, "m") {
					msgs = append(msgs, p)
				} else {
					datagrams[p] = true
				}
			}
			for i, m := range msgs {
				if want := fmt.Sprintf("m%02d", i); m != want {
					t.Fatalf("message %d = %q, want %q (order lost)", i, m, want)
				}
			}
		})
	}
}

func TestLargestDatagramIsCarriedAndLargerOnesAreRefused(t *testing.T) {
	te := serveTestEndpoint(t, &Endpoint{})
	cli, srv := te.dial(t, WebTransport)
	big := bytes.Repeat([]byte{7}, MaxDatagramSize)
	if err := cli.SendDatagram(big); err != nil {
		t.Fatalf("SendDatagram(%d bytes): %v", len(big), err)
	}
	if got := mustReceive(t, srv); !bytes.Equal(got, big) {
		t.Fatalf("received %d bytes, want the %d sent", len(got), len(big))
	}
	if err := cli.SendDatagram(append(big, 0)); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("SendDatagram(%d bytes) = %v, want ErrTooLarge", len(big)+1, err)
	}
	if s, _ := StatsOf(cli); s.DatagramsTooLarge != 0 {
		t.Fatalf("QUIC refused %d datagrams within the budget", s.DatagramsTooLarge)
	}

	// Over WebSocket a "datagram" is a message: snapshots of any size up
	// to the message limit go through.
	wcli, wsrv := te.dial(t, WebSocket)
	huge := bytes.Repeat([]byte{9}, 100<<10)
	if err := wsrv.SendDatagram(huge); err != nil {
		t.Fatal(err)
	}
	if got := mustReceive(t, wcli); len(got) != len(huge) {
		t.Fatalf("received %d bytes, want %d", len(got), len(huge))
	}
	if err := wsrv.SendDatagram(make([]byte, MaxServerMessageSize+1)); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("oversized websocket datagram: %v, want ErrTooLarge", err)
	}
}

func TestCloseDeliversEveryQueuedMessageBeforeTheEnd(t *testing.T) {
	te := serveTestEndpoint(t, &Endpoint{})
	for _, kind := range bothKinds {
		for _, closer := range []string{"server", "client"} {
			t.Run(string(kind)+"/"+closer+"Closes", func(t *testing.T) {
				cli, srv := te.dial(t, kind)
				from, to := srv, cli
				if closer == "client" {
					from, to = cli, srv
				}
				const n = 100
				for i := range n {
					if err := from.SendMessage(fmt.Appendf(nil, "m%03d", i)); err != nil {
						t.Fatal(err)
					}
				}
				start := time.Now()
				if err := from.Close(); err != nil {
					t.Fatal(err)
				}
				t.Logf("Close took %v", time.Since(start))
				for i := range n {
					if got, want := string(mustReceive(t, to)), fmt.Sprintf("m%03d", i); got != want {
						t.Fatalf("got %q, want %q", got, want)
					}
				}
				if err := receiveEnd(t, to); !errors.Is(err, ErrClosed) {
					t.Fatalf("end = %v, want ErrClosed", err)
				}
				// The closed end refuses everything.
				if err := from.SendMessage([]byte("x")); !errors.Is(err, ErrClosed) {
					t.Fatalf("SendMessage after Close = %v", err)
				}
				if err := from.SendDatagram([]byte("x")); !errors.Is(err, ErrClosed) {
					t.Fatalf("SendDatagram after Close = %v", err)
				}
				if _, _, err := from.Receive(context.Background()); !errors.Is(err, ErrClosed) {
					t.Fatalf("Receive after Close = %v", err)
				}
				if err := to.SendMessage([]byte("x")); !errors.Is(err, ErrClosed) {
					t.Fatalf("peer's SendMessage after the end = %v", err)
				}
			})
		}
	}
}

func TestWebTransportSendDatagramNeverBlocksAndCountsDrops(t *testing.T) {
	te := serveTestEndpoint(t, &Endpoint{})
	cli, _ := te.dial(t, WebTransport)
	p := make([]byte, 1100)
	var slowest time.Duration
	var drops int64
	for range 20000 {
		start := time.Now()
		err := cli.SendDatagram(p)
		slowest = max(slowest, time.Since(start))
		switch {
		case errors.Is(err, ErrDropped):
			drops++
		case err != nil:
			t.Fatal(err)
		}
	}
	if slowest > 100*time.Millisecond {
		t.Errorf("slowest SendDatagram took %v", slowest)
	}
	if drops == 0 {
		t.Error("20000 back-to-back datagrams and none dropped: is the queue bounded?")
	}
	if s, _ := StatsOf(cli); s.DatagramsDroppedOut != drops {
		t.Errorf("Stats().DatagramsDroppedOut = %d, want %d", s.DatagramsDroppedOut, drops)
	}
	t.Logf("dropped %d of 20000, slowest call %v", drops, slowest)
}

// A receiver that falls behind may lose datagrams (quic-go's queues drop
// them) but never reliable messages: those wait, pushing back on the
// sender, and arrive in order among whatever datagrams survived.
func TestFullReceiveQueueDropsDatagramsButNotMessages(t *testing.T) {
	te := serveTestEndpoint(t, &Endpoint{Conn: ConnConfig{ReceiveQueue: 8}})
	cli, srv := te.dial(t, WebTransport)
	p := make([]byte, 500)
	for range 300 {
		for errors.Is(cli.SendDatagram(p), ErrDropped) {
			runtime.Gosched() // let the writer drain the send queue
		}
	}
	const n = 50
	for i := range n {
		if err := cli.SendMessage(fmt.Appendf(nil, "m%02d", i)); err != nil {
			t.Fatal(err)
		}
	}
	var msgs []string
	datagrams := 0
	for len(msgs) < n {
		if p := mustReceive(t, srv); len(p) == 3 {
			msgs = append(msgs, string(p))
		} else {
			datagrams++
		}
	}
	for i, m := range msgs {
		if want := fmt.Sprintf("m%02d", i); m != want {
			t.Fatalf("message %d = %q, want %q", i, m, want)
		}
	}
	t.Logf("receiver got %d of 300 datagrams before the last message", datagrams)
}

// A WebSocket peer that stops reading must not stall the sender: datagrams
// are dropped at once, and after WriteTimeout the peer is cut off.
func TestWebSocketSlowReaderIsDroppedWithoutBlockingTheSender(t *testing.T) {
	te := serveTestEndpoint(t, &Endpoint{Conn: ConnConfig{WriteTimeout: 300 * time.Millisecond}})
	_, srv := te.dialWith(t, DialOptions{Transport: WebSocket, Conn: ConnConfig{ReceiveQueue: 1}})
	p := make([]byte, 60<<10)
	var slowest time.Duration
	var drops int
	deadline := time.Now().Add(10 * time.Second)
	for {
		start := time.Now()
		err := srv.SendDatagram(p)
		slowest = max(slowest, time.Since(start))
		if errors.Is(err, ErrDropped) {
			drops++
			continue
		}
		if errors.Is(err, ErrClosed) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if time.Now().After(deadline) {
			t.Fatal("the stalled reader was never cut off")
		}
	}
	if drops == 0 {
		t.Error("no datagram was dropped before the connection closed")
	}
	if slowest > 100*time.Millisecond {
		t.Errorf("slowest SendDatagram took %v", slowest)
	}
	if err := srv.SendMessage([]byte("x")); !errors.Is(err, ErrClosed) {
		t.Errorf("SendMessage after the cut = %v, want ErrClosed", err)
	}
	t.Logf("%d drops, slowest call %v", drops, slowest)
}

func TestWebSocketSendMessageGivesUpAfterWriteTimeout(t *testing.T) {
	te := serveTestEndpoint(t, &Endpoint{Conn: ConnConfig{WriteTimeout: 200 * time.Millisecond, SendQueue: 1}})
	_, srv := te.dialWith(t, DialOptions{Transport: WebSocket, Conn: ConnConfig{ReceiveQueue: 1}})
	p := make([]byte, 60<<10)
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		start := time.Now()
		err := srv.SendMessage(p)
		if took := time.Since(start); took > 200*time.Millisecond+time.Second {
			t.Fatalf("SendMessage took %v with a 200ms write timeout", took)
		}
		if err != nil {
			if !errors.Is(err, ErrClosed) {
				t.Fatalf("SendMessage = %v, want an error wrapping ErrClosed", err)
			}
			return
		}
	}
	t.Fatal("SendMessage to a peer that reads nothing never failed")
}

// hostileWT opens a raw WebTransport session to te, without the Conn
// machinery, for tests that misbehave.
func hostileWT(t *testing.T, te *testEndpoint, hdr http.Header) *webtransport.Session {
	t.Helper()
	d, err := newDialer(te.URL(), DialOptions{CertHashes: te.CertManager().Hashes()})
	if err != nil {
		t.Fatal(err)
	}
	tr := &webtransport.Transport{TLSClientConfig: d.tlsConfig(d.opts.CertHashes)}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, sess, err := tr.Dial(ctx, d.endpointURL("https", PathWebTransport), hdr)
	if err != nil {
		t.Fatalf("raw webtransport dial: %v", err)
	}
	t.Cleanup(func() {
		sess.CloseWithError(0, "")
		tr.Close()
	})
	return sess
}

// sessionEnd waits for sess to be closed and returns why.
func sessionEnd(t *testing.T, sess *webtransport.Session) error {
	t.Helper()
	select {
	case <-sess.Context().Done():
	case <-time.After(10 * time.Second):
		t.Fatal("session still open")
	}
	_, err := sess.AcceptStream(context.Background())
	return err
}

func wantSessionCode(t *testing.T, err error, code webtransport.SessionErrorCode) {
	t.Helper()
	var se *webtransport.SessionError
	if !errors.As(err, &se) || se.ErrorCode != code || !se.Remote {
		t.Fatalf("session ended with %v, want the server's close code %d", err, code)
	}
}

func totalAlloc() uint64 {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.TotalAlloc
}

func TestOversizedWebTransportFrameClosesTheSessionWithoutAllocatingIt(t *testing.T) {
	te := serveTestEndpoint(t, &Endpoint{})
	sess := hostileWT(t, te, nil)
	str, err := sess.OpenStreamSync(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	const claimed = 1 << 30
	before := totalAlloc()
	if _, err := str.Write(append(binary.AppendUvarint(nil, claimed), "abc"...)); err != nil {
		t.Fatal(err)
	}
	srv := te.accept(t)
	err = receiveEnd(t, srv)
	if !errors.Is(err, ErrClosed) || !strings.Contains(err.Error(), "protocol violation") {
		t.Fatalf("server conn ended with %v, want a protocol violation", err)
	}
	wantSessionCode(t, sessionEnd(t, sess), wtCodeProtocol)
	if grew := totalAlloc() - before; grew > claimed/4 {
		t.Fatalf("allocated %d bytes while refusing a %d-byte frame", grew, claimed)
	}
}

func TestOversizedMessageFromAClientClosesItsConnection(t *testing.T) {
	te := serveTestEndpoint(t, &Endpoint{})
	for _, kind := range bothKinds {
		t.Run(string(kind), func(t *testing.T) {
			cli, srv := te.dial(t, kind)
			if err := cli.SendMessage(make([]byte, MaxClientMessageSize+1)); err != nil {
				t.Fatal(err) // the client may send it; the server must refuse it
			}
			if err := receiveEnd(t, srv); !errors.Is(err, ErrClosed) {
				t.Fatalf("server end = %v", err)
			}
			if err := receiveEnd(t, cli); !errors.Is(err, ErrClosed) {
				t.Fatalf("client end = %v", err)
			}
		})
	}
}

func hostileWS(t *testing.T, te *testEndpoint) *websocket.Conn {
	t.Helper()
	u := strings.Replace(te.URL(), "http://", "ws://", 1) + PathWebSocket
	ws, _, err := (&websocket.Dialer{}).Dial(u, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ws.Close() })
	return ws
}

func wantCloseCode(t *testing.T, ws *websocket.Conn, code int) {
	t.Helper()
	ws.SetReadDeadline(time.Now().Add(10 * time.Second))
	for {
		_, _, err := ws.ReadMessage()
		if err == nil {
			continue
		}
		if !websocket.IsCloseError(err, code) {
			t.Fatalf("websocket ended with %v, want close code %d", err, code)
		}
		return
	}
}

func TestOversizedWebSocketFrameClosesTheConnectionWithoutAllocatingIt(t *testing.T) {
	te := serveTestEndpoint(t, &Endpoint{})
	ws := hostileWS(t, te)
	srv := te.accept(t)
	// A masked binary frame header claiming 2^40 bytes, and 3 of them.
	frame := []byte{0x82, 0x80 | 127}
	frame = binary.BigEndian.AppendUint64(frame, 1<<40)
	frame = append(frame, 1, 2, 3, 4, 'a', 'b', 'c')
	before := totalAlloc()
	if _, err := ws.NetConn().Write(frame); err != nil {
		t.Fatal(err)
	}
	if err := receiveEnd(t, srv); !errors.Is(err, ErrClosed) || !strings.Contains(err.Error(), "protocol violation") {
		t.Fatalf("server conn ended with %v, want a protocol violation", err)
	}
	wantCloseCode(t, ws, websocket.CloseMessageTooBig)
	if grew := totalAlloc() - before; grew > 1<<28 {
		t.Fatalf("allocated %d bytes while refusing the frame", grew)
	}
}

func TestWebSocketTextMessageIsAProtocolViolation(t *testing.T) {
	te := serveTestEndpoint(t, &Endpoint{})
	ws := hostileWS(t, te)
	srv := te.accept(t)
	if err := ws.WriteMessage(websocket.TextMessage, []byte("hello")); err != nil {
		t.Fatal(err)
	}
	if err := receiveEnd(t, srv); !errors.Is(err, ErrClosed) {
		t.Fatalf("server conn ended with %v", err)
	}
	wantCloseCode(t, ws, websocket.CloseUnsupportedData)
}

func TestReadFrameChecksTheClaimedLengthBeforeAllocating(t *testing.T) {
	hdr := binary.AppendUvarint(nil, 1<<40)
	src := bytes.NewReader(hdr)
	br := bufio.NewReader(src)
	var err error
	allocs := testing.AllocsPerRun(100, func() {
		src.Reset(hdr)
		br.Reset(src)
		_, err = readFrame(br, 4096)
	})
	var tooLarge *errFrameTooLarge
	if !errors.As(err, &tooLarge) {
		t.Fatalf("readFrame = %v, want errFrameTooLarge", err)
	}
	if allocs > 1 { // the error value
		t.Fatalf("refusing a frame allocated %v times", allocs)
	}

	cases := []struct {
		name string
		in   []byte
		want error
	}{
		{"clean end", nil, io.EOF},
		{"end inside the length", []byte{0x80}, io.ErrUnexpectedEOF},
		{"end inside the payload", []byte{5, 'a', 'b'}, io.ErrUnexpectedEOF},
		{"overlong varint", bytes.Repeat([]byte{0xff}, 11), nil},
	}
	for _, c := range cases {
		_, err = readFrame(bufio.NewReader(bytes.NewReader(c.in)), 4096)
		if err == nil || (c.want != nil && !errors.Is(err, c.want)) {
			t.Errorf("%s: err = %v, want %v", c.name, err, c.want)
		}
	}
	p, err := readFrame(bufio.NewReader(bytes.NewReader(appendFrame(nil, []byte("hi")))), 4096)
	if err != nil || string(p) != "hi" {
		t.Errorf("round trip = %q, %v", p, err)
	}
}

// TestNoGoroutineOutlivesItsConnection closes connections every way they
// can end (local Close, peer's Close, protocol violation, endpoint
// shutdown) and checks that every goroutine they started has exited.
func TestNoGoroutineOutlivesItsConnection(t *testing.T) {
	base := runtime.NumGoroutine()
	func() {
		te := serveTestEndpoint(t, &Endpoint{})
		for _, kind := range bothKinds {
			cli, srv := te.dial(t, kind)
			exchange(t, cli, srv, "1")
			cli.Close()
			receiveEnd(t, srv)

			cli, srv = te.dial(t, kind)
			exchange(t, srv, cli, "2")
			srv.Close()
			receiveEnd(t, cli)

			cli, srv = te.dial(t, kind)
			cli.SendMessage(make([]byte, MaxClientMessageSize+1))
			receiveEnd(t, srv)
			receiveEnd(t, cli)

			cli, _ = te.dial(t, kind) // left open: shutdown ends it
			defer cli.Close()
		}
		te.stop()
	}()
	deadline := time.Now().Add(15 * time.Second)
	for runtime.NumGoroutine() > base {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			t.Fatalf("%d goroutines, %d before:\n%s", runtime.NumGoroutine(), base, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Queueing a datagram is the per-tick path: it must not allocate once the
// buffer pool is warm. (The connections here have no goroutines; the test
// plays the writer.)
func TestQueueingADatagramAllocatesNothing(t *testing.T) {
	p := make([]byte, 900)
	wt := &wtConn{dgOut: make(chan *[]byte, 1)}
	ws := &wsConn{out: make(chan *[]byte, 1)}
	for name, c := range map[string]struct {
		send  func([]byte) error
		queue chan *[]byte
	}{"webtransport": {wt.SendDatagram, wt.dgOut}, "websocket": {ws.SendDatagram, ws.out}} {
		allocs := testing.AllocsPerRun(1000, func() {
			if err := c.send(p); err != nil {
				t.Fatal(err)
			}
			putBuf(<-c.queue)
		})
		if allocs != 0 {
			t.Errorf("%s: SendDatagram allocates %v times per call", name, allocs)
		}
	}
}

// Connections dialled on one shared Socket are separate connections:
// each carries its own datagrams, and closing one leaves the other up.
func TestConnectionsOnASharedSocketAreIndependent(t *testing.T) {
	te := serveTestEndpoint(t, &Endpoint{})
	sock, err := ListenSocket("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer sock.Close()
	opts := DialOptions{Transport: WebTransport, TrustServerCertHash: true, Socket: sock}
	cli1, srv1 := te.dialWith(t, opts)
	cli2, srv2 := te.dialWith(t, opts)
	for i, c := range []Conn{cli1, cli2} {
		if err := c.SendDatagram([]byte{byte('a' + i)}); err != nil {
			t.Fatal(err)
		}
	}
	if p := mustReceive(t, srv1); string(p) != "a" {
		t.Fatalf("first server conn got %q, want \"a\"", p)
	}
	if p := mustReceive(t, srv2); string(p) != "b" {
		t.Fatalf("second server conn got %q, want \"b\"", p)
	}
	cli1.Close()
	if err := srv2.SendDatagram([]byte("still")); err != nil {
		t.Fatal(err)
	}
	if p := mustReceive(t, cli2); string(p) != "still" {
		t.Fatalf("second client got %q after the first closed, want \"still\"", p)
	}
}

// BenchmarkDatagramRoundTrip is one datagram from a client to the server
// and one back over loopback, through the real transports: the queues,
// writers and readers of both Conns and their libraries (quic-go's
// allocations included in allocs/op).
func BenchmarkDatagramRoundTrip(b *testing.B) {
	for _, kind := range []Kind{WebTransport, WebSocket} {
		b.Run(string(kind), func(b *testing.B) {
			te := serveTestEndpoint(b, &Endpoint{})
			cli, srv := te.dial(b, kind)
			ctx := context.Background()
			p := make([]byte, 100)
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				if err := cli.SendDatagram(p); err != nil {
					b.Fatal(err)
				}
				q, _, err := srv.Receive(ctx)
				if err != nil {
					b.Fatal(err)
				}
				if err := srv.SendDatagram(q); err != nil {
					b.Fatal(err)
				}
				if _, _, err := cli.Receive(ctx); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
