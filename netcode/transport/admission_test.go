//go:build !js

package transport

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"
)

var epoch0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func TestIPLimiter(t *testing.T) {
	limits := IPLimits{ConnsPerSecond: 1, ConnBurst: 3, MaxConcurrent: 2}
	tests := []struct {
		name  string
		addrs []string // connections opened at the same instant, none released
		want  []error
	}{
		{"concurrency per IPv4 address", []string{"203.0.113.5:1", "203.0.113.5:2", "203.0.113.5:3"},
			[]error{nil, nil, ErrConnsPerIP}},
		{"addresses are independent", []string{"203.0.113.5:1", "203.0.113.5:2", "203.0.113.6:1"},
			[]error{nil, nil, nil}},
		{"IPv6 counts per /64", []string{"[2001:db8::1]:1", "[2001:db8::2]:1", "[2001:db8::3]:1", "[2001:db8:0:1::1]:1"},
			[]error{nil, nil, ErrConnsPerIP, nil}},
		{"IPv4-mapped IPv6 is the IPv4 address", []string{"203.0.113.5:1", "[::ffff:203.0.113.5]:2", "203.0.113.5:3"},
			[]error{nil, nil, ErrConnsPerIP}},
		{"loopback is exempt by default", []string{"127.0.0.1:1", "127.0.0.1:2", "127.0.0.1:3", "[::1]:4"},
			[]error{nil, nil, nil, nil}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := newIPLimiter(limits)
			for i, a := range tt.addrs {
				_, err := l.admit(a, epoch0)
				if !errors.Is(err, tt.want[i]) {
					t.Errorf("connection %d from %s: err %v, want %v", i, a, err, tt.want[i])
				}
			}
		})
	}
}

func TestIPLimiterRateRefillsAndReleaseFreesASlot(t *testing.T) {
	l := newIPLimiter(IPLimits{ConnsPerSecond: 1, ConnBurst: 3, MaxConcurrent: 10, LimitLoopback: true})
	addr := "127.0.0.1:9"
	now := epoch0
	for i := 0; i < 3; i++ {
		release, err := l.admit(addr, now)
		if err != nil {
			t.Fatalf("burst connection %d refused: %v", i, err)
		}
		release()
		release() // a second release is harmless
	}
	if _, err := l.admit(addr, now); !errors.Is(err, ErrConnRate) {
		t.Fatalf("4th connection in the same instant: %v, want ErrConnRate", err)
	}
	if _, err := l.admit(addr, now.Add(time.Second)); err != nil {
		t.Fatalf("a second later the bucket has a token again: %v", err)
	}
}

func TestIPLimiterForgetsIdleAddressesWhenFull(t *testing.T) {
	l := newIPLimiter(IPLimits{ConnsPerSecond: 10, ConnBurst: 10, MaxConcurrent: 1, MaxTracked: 2})
	relA, err := l.admit("198.51.100.1:1", epoch0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.admit("198.51.100.2:1", epoch0); err != nil {
		t.Fatal(err)
	}
	// Both tracked addresses are busy: a third is refused.
	if _, err := l.admit("198.51.100.3:1", epoch0); !errors.Is(err, ErrIPTableFull) {
		t.Fatalf("third address while the table is full of busy ones: %v", err)
	}
	// Once A is released and its bucket has refilled, it is forgotten.
	relA()
	if _, err := l.admit("198.51.100.3:1", epoch0.Add(2*time.Second)); err != nil {
		t.Fatalf("third address after an idle one could be forgotten: %v", err)
	}
	if n := l.tracked(); n != 2 {
		t.Errorf("tracked %d addresses, want 2", n)
	}
}

func TestIPLimiterRejectsUnparseableAddress(t *testing.T) {
	if _, err := newIPLimiter(IPLimits{}).admit("not-an-address", epoch0); err == nil {
		t.Fatal("unparseable address admitted")
	}
}

func TestEndpointAnswers429BeyondAnAddressesConnectionLimits(t *testing.T) {
	accepted := make(chan Conn, 4)
	te := serveTestEndpoint(t, &Endpoint{
		IPLimits: IPLimits{LimitLoopback: true, MaxConcurrent: 2, ConnBurst: 100, ConnsPerSecond: 100},
		OnConn: func(ctx context.Context, c Conn, _ *http.Request) {
			accepted <- c
			for { // until the connection ends
				if _, _, err := c.Receive(ctx); err != nil {
					return
				}
			}
		}})
	te.accepted = accepted
	first, _ := te.dial(t, WebSocket)
	second, _ := te.dial(t, WebTransport)
	for _, kind := range bothKinds {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		_, err := Dial(ctx, te.URL(), DialOptions{Transport: kind, TrustServerCertHash: true, Logger: transportLog()})
		cancel()
		if err == nil || !strings.Contains(err.Error(), "429") {
			t.Fatalf("%s: third connection from one address: %v, want a 429", kind, err)
		}
	}
	first.Close()
	// The slot is freed when the handler returns: poll, nothing signals it.
	pollUntil(t, 5*time.Second, "the slot to be freed", func() bool { return te.nconns.Load() == 1 })
	third, _ := te.dial(t, WebSocket)
	third.Close()
	second.Close()
	te.stop()
}
