package client

import "github.com/tickwire/tickwire/game"

// PlaybackView draws recorded snapshots (a replay) with the very
// interpolation a live session uses (interpBuffer's frame): remote
// players between two snapshots, projectiles from their spawn data,
// deaths and respawns not slid across the arena. What differs is only
// the render clock, which the caller drives (play, pause, speed, seek)
// instead of the arrival of packets, and that there is no own player:
// every player is remote. Not safe for concurrent use.
type PlaybackView struct {
	b    interpBuffer
	ring [playbackRing]game.Snapshot // copies the buffer points into
	next int
}

// playbackRing outlasts the interpolation buffer's interpRing, so every
// snapshot the buffer points at is still this view's copy.
const playbackRing = interpRing + 8

// NewPlaybackView returns a view for a recording of arena p.
func NewPlaybackView(p game.Params) *PlaybackView {
	v := &PlaybackView{}
	v.b.init(p, 0)
	return v
}

// Reset forgets every snapshot, before a seek.
func (v *PlaybackView) Reset() {
	p := v.b.params
	v.b = interpBuffer{}
	v.b.init(p, 0)
}

// Add copies the next recorded snapshot in; ticks must increase (older
// ones are ignored, as a live session ignores them).
func (v *PlaybackView) Add(s *game.Snapshot) {
	if v.b.n > 0 && s.Tick <= v.b.snaps[v.b.head].tick {
		return
	}
	c := &v.ring[v.next]
	v.next = (v.next + 1) % playbackRing
	c.CopyFrom(s)
	// interpBuffer.add without the arrival bookkeeping, which a
	// recording has none of.
	b := &v.b
	if b.n > 0 {
		b.head = (b.head + 1) % interpRing
	}
	b.n = min(b.n+1, interpRing)
	b.snaps[b.head] = interpSnap{tick: c.Tick, Snapshot: c}
}

// Newest is the newest tick added (0 when none).
func (v *PlaybackView) Newest() uint32 {
	if v.b.n == 0 {
		return 0
	}
	return v.b.snaps[v.b.head].tick
}

// Frame fills f at the (fractional) render tick: every player in
// f.Remote, none as Own.
func (v *PlaybackView) Frame(renderTick float64, f *Frame) {
	v.b.frame(renderTick, f)
	f.HasOwn, f.Span, f.Delay = false, v.b.lastGap, 0
}
