package reconnect

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"github.com/tickwire/tickwire/netcode/client"
	pb "github.com/tickwire/tickwire/proto/tickwire/v1"
)

func TestBackoffDoublesUpToTheCapAndJitterOnlyShortens(t *testing.T) {
	b := Backoff{Initial: 100 * time.Millisecond, Max: time.Second, Jitter: 0.5}
	tests := []struct {
		n    int
		u    float64
		want time.Duration
	}{
		{0, 0, 100 * time.Millisecond},
		{1, 0, 200 * time.Millisecond},
		{3, 0, 800 * time.Millisecond},
		{4, 0, time.Second},
		{40, 0, time.Second},
		{2, 0.5, 300 * time.Millisecond},
		{40, 0.999999, 500*time.Millisecond + 1000},
	}
	for _, tt := range tests {
		if got := b.Delay(tt.n, tt.u); got != tt.want && (tt.want-got > time.Microsecond || got-tt.want > time.Microsecond) {
			t.Errorf("Delay(%d, %v) = %v, want %v", tt.n, tt.u, got, tt.want)
		}
	}
	if got := (Backoff{}).Delay(100, 0); got != 10*time.Second {
		t.Errorf("zero Backoff caps at %v, want 10s", got)
	}
}

type fakeConn struct {
	token []byte
	done  chan struct{}
	err   error
}

func (f *fakeConn) Done() <-chan struct{} { return f.done }
func (f *fakeConn) Err() error            { return f.err }
func (f *fakeConn) Close() error          { return nil }
func (f *fakeConn) ResumeToken() []byte   { return f.token }

func (f *fakeConn) end(err error) { f.err = err; close(f.done) }

func TestLostSessionReconnectsWithResumeTokenAndPermanentRefusalStops(t *testing.T) {
	first := &fakeConn{token: []byte("tok-1"), done: make(chan struct{})}
	second := &fakeConn{token: []byte("tok-2"), done: make(chan struct{})}
	var resumes [][]byte
	dials := 0
	statuses := make(chan Status, 32)
	m := New(Config[*fakeConn]{
		Dial: func(ctx context.Context, resume []byte) (*fakeConn, error) {
			resumes = append(resumes, resume)
			dials++
			switch dials {
			case 1:
				return first, nil
			case 2:
				return nil, errors.New("connection refused")
			default:
				return second, nil
			}
		},
		Backoff:  Backoff{Initial: time.Millisecond, Max: 2 * time.Millisecond},
		OnChange: func(s Status) { statuses <- s },
	})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	errc := make(chan error, 1)
	go func() { errc <- m.Run(ctx) }()

	want := func(st State) Status {
		t.Helper()
		select {
		case s := <-statuses:
			if s.State != st {
				t.Fatalf("state %v (%+v), want %v", s.State, s, st)
			}
			return s
		case <-ctx.Done():
			t.Fatalf("no %v", st)
		}
		return Status{}
	}
	want(Connecting)
	want(Connected)
	first.end(&client.DisconnectError{Reason: pb.DisconnectReason_DISCONNECT_REASON_TIMEOUT, Text: "silence"})
	if s := want(Reconnecting); s.Attempt != 1 || s.Reason == "" {
		t.Fatalf("after a timeout: %+v, want attempt 1 with the reason", s)
	}
	want(Reconnecting) // attempt starts
	if s := want(Reconnecting); s.Attempt != 2 {
		t.Fatalf("after a refused dial: %+v, want attempt 2", s)
	}
	want(Reconnecting)
	want(Connected)
	second.end(&client.DisconnectError{Reason: pb.DisconnectReason_DISCONNECT_REASON_VERSION_MISMATCH, Text: "v2"})
	s := want(Disconnected)
	if err := <-errc; err == nil {
		t.Fatal("Run returned nil after a permanent refusal")
	}
	if !bytes.Contains([]byte(s.Reason), []byte("v2")) {
		t.Errorf("reason %q does not carry the server's text", s.Reason)
	}
	if resumes[0] != nil || string(resumes[1]) != "tok-1" || string(resumes[2]) != "tok-1" {
		t.Errorf("resume tokens offered: %q, want none then tok-1 twice", resumes)
	}
}

func TestCancelClosesAndReportsDisconnected(t *testing.T) {
	c := &fakeConn{done: make(chan struct{})}
	m := New(Config[*fakeConn]{Dial: func(context.Context, []byte) (*fakeConn, error) { return c, nil }})
	ctx, cancel := context.WithCancel(context.Background())
	connected := make(chan struct{})
	m.cfg.OnChange = func(s Status) {
		if s.State == Connected {
			close(connected)
		}
	}
	errc := make(chan error, 1)
	go func() { errc <- m.Run(ctx) }()
	<-connected
	if cur, ok := m.Current(); !ok || cur != c {
		t.Fatal("Current is not the live session")
	}
	cancel()
	if err := <-errc; err != nil {
		t.Fatalf("Run after cancel: %v", err)
	}
	if st := m.Status(); st.State != Disconnected {
		t.Fatalf("state %v after cancel", st.State)
	}
	if _, ok := m.Current(); ok {
		t.Fatal("a session is still current after cancel")
	}
}
