package reconnect

import (
	"context"
	"errors"
	"testing"
	"time"
)

// TestGiveUpAfterEndsRunOnceAttemptsHaveFailedThatLong: with a fake clock
// that moves 10 s per attempt and GiveUpAfter 25 s, Run tries the first
// time and then again at 10 s and 20 s, and gives up at the attempt that
// sees 30 s of failure, with a *GaveUpError that wraps the last failure.
// A session that comes up in between starts the count again.
func TestGiveUpAfterEndsRunOnceAttemptsHaveFailedThatLong(t *testing.T) {
	refused := errors.New("connection refused")
	for _, tc := range []struct {
		name      string
		succeedAt int // the dial (0-based) that succeeds and whose session then drops; -1 none
		wantDials int
	}{
		{"never connects", -1, 4},
		{"a session in between restarts the count", 2, 6}, // 2 failures, the session, then 3 more
	} {
		t.Run(tc.name, func(t *testing.T) {
			now := time.Unix(1000, 0)
			dials := 0
			m := New(Config[*fakeConn]{
				Dial: func(context.Context, []byte) (*fakeConn, error) {
					defer func() { dials++ }()
					now = now.Add(10 * time.Second)
					if dials == tc.succeedAt {
						c := &fakeConn{done: make(chan struct{})}
						c.end(errors.New("connection lost"))
						return c, nil
					}
					return nil, refused
				},
				Backoff:     Backoff{Initial: time.Microsecond, Max: time.Microsecond},
				GiveUpAfter: 25 * time.Second,
				Now:         func() time.Time { return now },
			})
			err := m.Run(context.Background())
			var gu *GaveUpError
			if !errors.As(err, &gu) || !errors.Is(err, refused) {
				t.Fatalf("Run = %v, want a *GaveUpError wrapping %v", err, refused)
			}
			if gu.For < 25*time.Second {
				t.Errorf("gave up after %v of failure, want at least 25s", gu.For)
			}
			if dials != tc.wantDials {
				t.Errorf("%d dials, want %d", dials, tc.wantDials)
			}
			if st := m.Status(); st.State != Disconnected || st.Reason != err.Error() {
				t.Errorf("status %+v, want Disconnected with %q", st, err.Error())
			}
		})
	}
}

// TestGiveUpAfterZeroKeepsTrying: without GiveUpAfter an hour of failures
// is no reason to stop; only the context ends Run.
func TestGiveUpAfterZeroKeepsTrying(t *testing.T) {
	now := time.Unix(1000, 0)
	ctx, cancel := context.WithCancel(context.Background())
	dials := 0
	m := New(Config[*fakeConn]{
		Dial: func(context.Context, []byte) (*fakeConn, error) {
			dials++
			now = now.Add(time.Hour)
			if dials == 50 {
				cancel()
			}
			return nil, errors.New("connection refused")
		},
		Backoff: Backoff{Initial: time.Microsecond, Max: time.Microsecond},
		Now:     func() time.Time { return now },
	})
	if err := m.Run(ctx); err != nil || dials != 50 {
		t.Fatalf("Run = %v after %d dials, want nil after 50 (ended by the context)", err, dials)
	}
}
