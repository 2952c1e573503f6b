package server

import (
	"slices"
	"testing"

	"github.com/tickwire/tickwire/game"
	"github.com/tickwire/tickwire/netcode/wire"
)

// TestHitReportNamesAShootersHitsForHalfASecondNewestFirst: a shooter's
// snapshots name the shots of its that hit, newest first, at most four,
// from the tick of the hit until the window has passed; other shooters'
// hits are not theirs.
func TestHitReportNamesAShootersHitsForHalfASecondNewestFirst(t *testing.T) {
	const window = 15
	var r hitReport
	shots := func(tick uint32, shooter game.EntityID) []uint32 {
		var h wire.SnapshotHeader
		r.advance(tick, window)
		r.fill(&h, shooter)
		return slices.Clone(h.HitShots[:h.NumHitShots])
	}
	r.add(game.Hit{Shooter: 1, Shot: 100, Target: 2})
	r.add(game.Hit{Shooter: 2, Shot: 101, Target: 1})
	for _, tc := range []struct {
		tick    uint32
		add     []game.Hit
		shooter game.EntityID
		want    []uint32
	}{
		{tick: 10, shooter: 1, want: []uint32{100}},
		{tick: 10, shooter: 2, want: []uint32{101}},
		{tick: 10, shooter: 3, want: nil},
		{tick: 12, add: []game.Hit{{Shooter: 1, Shot: 110}}, shooter: 1, want: []uint32{110, 100}},
		{tick: 24, shooter: 1, want: []uint32{110, 100}},
		{tick: 25, shooter: 1, want: []uint32{110}}, // 100 was reported for 15 ticks
		{tick: 26, add: []game.Hit{{Shooter: 1, Shot: 120}, {Shooter: 1, Shot: 121}, {Shooter: 1, Shot: 122}, {Shooter: 1, Shot: 123}},
			shooter: 1, want: []uint32{123, 122, 121, 120}},
		{tick: 60, shooter: 1, want: nil},
	} {
		for _, h := range tc.add {
			r.add(h)
		}
		if got := shots(tc.tick, tc.shooter); !slices.Equal(got, tc.want) {
			t.Errorf("tick %d shooter %d: hit shots %v, want %v", tc.tick, tc.shooter, got, tc.want)
		}
	}
}

// TestHitReportKeepsTheNewestWhenFull: past hitReportCap hits in a window
// the oldest are forgotten, not the newest.
func TestHitReportKeepsTheNewestWhenFull(t *testing.T) {
	var r hitReport
	for i := range hitReportCap + 10 {
		r.add(game.Hit{Shooter: game.EntityID(1 + i%2), Shot: game.EntityID(1000 + i)})
	}
	r.advance(5, 15)
	var h wire.SnapshotHeader
	r.fill(&h, 2)
	if want := []uint32{1000 + hitReportCap + 9, 1000 + hitReportCap + 7, 1000 + hitReportCap + 5, 1000 + hitReportCap + 3}; !slices.Equal(h.HitShots[:h.NumHitShots], want) {
		t.Fatalf("hit shots %v, want %v", h.HitShots[:h.NumHitShots], want)
	}
	if r.n != hitReportCap {
		t.Fatalf("holds %d hits, want %d", r.n, hitReportCap)
	}
}
