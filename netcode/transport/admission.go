//go:build !js

package transport

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// IPLimits bounds what one network address may open: new connections per
// second and sessions at once. IPv6 addresses count per /64, the block a
// single host usually owns. The zero value applies the defaults below.
type IPLimits struct {
	// ConnsPerSecond is the sustained rate of new connections from one
	// address. Default 5.
	ConnsPerSecond float64
	// ConnBurst is how many connections one address may open at once.
	// Default 20.
	ConnBurst int
	// MaxConcurrent is how many connections one address may hold open.
	// Default 16.
	MaxConcurrent int
	// LimitLoopback applies the limits to loopback addresses too. By
	// default loopback is exempt: local load tests open thousands of
	// sessions from 127.0.0.1.
	LimitLoopback bool
	// MaxTracked bounds the addresses remembered at once; beyond it, idle
	// entries are forgotten first, and new addresses are refused only
	// when every tracked one is busy. Default 65536.
	MaxTracked int
}

// Errors returned by ipLimiter.admit; the endpoint answers both with
// HTTP 429.
var (
	ErrConnRate    = errors.New("too many new connections from this address")
	ErrConnsPerIP  = errors.New("too many open connections from this address")
	ErrIPTableFull = errors.New("too many addresses connected")
)

// ipLimiter enforces IPLimits. Safe for concurrent use.
type ipLimiter struct {
	limits IPLimits
	mu     sync.Mutex
	hosts  map[netip.Prefix]*ipEntry
}

type ipEntry struct {
	lim      *rate.Limiter
	open     int
	lastSeen time.Time
}

func newIPLimiter(l IPLimits) *ipLimiter {
	if l.ConnsPerSecond <= 0 {
		l.ConnsPerSecond = 5
	}
	if l.ConnBurst <= 0 {
		l.ConnBurst = 20
	}
	if l.MaxConcurrent <= 0 {
		l.MaxConcurrent = 16
	}
	if l.MaxTracked <= 0 {
		l.MaxTracked = 65536
	}
	return &ipLimiter{limits: l, hosts: make(map[netip.Prefix]*ipEntry)}
}

// hostKey groups an address: itself for IPv4, its /64 for IPv6. ok is
// false for an address that cannot be parsed.
func hostKey(remote string) (key netip.Prefix, loopback, ok bool) {
	host, _, err := net.SplitHostPort(remote)
	if err != nil {
		host = remote
	}
	addr, err := netip.ParseAddr(host)
	if err != nil {
		return netip.Prefix{}, false, false
	}
	addr = addr.Unmap().WithZone("")
	bits := 32
	if addr.Is6() {
		bits = 64
	}
	key, _ = addr.Prefix(bits)
	return key, addr.IsLoopback(), true
}

// admit counts a new connection from remote (host:port) at now. On
// success the caller must call release exactly once when the connection
// ends.
func (l *ipLimiter) admit(remote string, now time.Time) (release func(), err error) {
	key, loopback, ok := hostKey(remote)
	if !ok {
		return nil, fmt.Errorf("netcode: unparseable remote address %q", remote)
	}
	if loopback && !l.limits.LimitLoopback {
		return func() {}, nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	e := l.hosts[key]
	if e == nil {
		if len(l.hosts) >= l.limits.MaxTracked && !l.forgetIdle(now) {
			return nil, ErrIPTableFull
		}
		e = &ipEntry{lim: rate.NewLimiter(rate.Limit(l.limits.ConnsPerSecond), l.limits.ConnBurst)}
		l.hosts[key] = e
	}
	e.lastSeen = now
	if e.open >= l.limits.MaxConcurrent {
		return nil, ErrConnsPerIP
	}
	if !e.lim.AllowN(now, 1) {
		return nil, ErrConnRate
	}
	e.open++
	var once sync.Once
	return func() { once.Do(func() { l.release(key) }) }, nil
}

func (l *ipLimiter) release(key netip.Prefix) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if e := l.hosts[key]; e != nil && e.open > 0 {
		e.open--
	}
}

// forgetIdle drops entries with no open connection whose rate bucket has
// refilled, so forgetting them changes no decision. It reports whether
// anything was forgotten.
func (l *ipLimiter) forgetIdle(now time.Time) bool {
	refill := time.Duration(float64(l.limits.ConnBurst) / l.limits.ConnsPerSecond * float64(time.Second))
	forgot := false
	for k, e := range l.hosts {
		if e.open == 0 && now.Sub(e.lastSeen) >= refill {
			delete(l.hosts, k)
			forgot = true
		}
	}
	return forgot
}

// tracked is the number of addresses remembered (for tests and metrics).
func (l *ipLimiter) tracked() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.hosts)
}
