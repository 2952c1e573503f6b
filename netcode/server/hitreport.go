package server

import (
	"github.com/tickwire/tickwire/game"
	"github.com/tickwire/tickwire/netcode/wire"
)

// hitReportCap bounds the room's hits held for reporting: every player of
// a full room (100) hitting with both shots a half second allows.
const hitReportCap = 256

// hitReport keeps a room's recent projectile hits so that each shooter's
// snapshots can name the shots of its that hit (Snapshot.hit_shots) for
// half a second: long enough to survive a few lost snapshots, short
// enough that a header holds them all. The room's goroutine only.
type hitReport struct {
	hits  [hitReportCap]reportedHit // ring, oldest at first
	first int
	n     int
}

type reportedHit struct {
	tick    uint32 // 0 until the tick's fan-out stamps it
	shooter game.EntityID
	shot    game.EntityID
}

// add records a hit of the tick being stepped.
func (r *hitReport) add(h game.Hit) {
	if r.n == hitReportCap {
		r.first = (r.first + 1) % hitReportCap
		r.n--
	}
	r.hits[(r.first+r.n)%hitReportCap] = reportedHit{shooter: h.Shooter, shot: h.Shot}
	r.n++
}

// advance stamps the hits added since the last call with tick and
// forgets those reported for window ticks already.
func (r *hitReport) advance(tick, window uint32) {
	for k := r.n - 1; k >= 0; k-- {
		h := &r.hits[(r.first+k)%hitReportCap]
		if h.tick != 0 {
			break
		}
		h.tick = tick
	}
	for r.n > 0 && r.hits[r.first].tick+window <= tick {
		r.first = (r.first + 1) % hitReportCap
		r.n--
	}
}

// fill puts the shots of shooter among the recent hits into hdr, newest
// first.
func (r *hitReport) fill(hdr *wire.SnapshotHeader, shooter game.EntityID) {
	for k := r.n - 1; k >= 0; k-- {
		if h := &r.hits[(r.first+k)%hitReportCap]; h.shooter == shooter && !hdr.AddHitShot(uint32(h.shot)) {
			return
		}
	}
}
