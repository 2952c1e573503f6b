package game

// History is a ring of the last few snapshots, one per tick: the
// baselines the snapshot codec deltas against. Storing a snapshot reuses
// the slices of the one it replaces, so keeping history allocates nothing
// once every slot has grown to the world's size.
//
// The room writes its History on its own goroutine and lends it to the
// SnapshotSink for the duration of OnTick; its methods are not safe for
// concurrent use. A slot is written only when the ring comes round to
// it: the snapshot of tick t stays as it is until tick t+Len is stored.
// Another goroutine may read it until then, if it synchronises with the
// room's goroutine (a recorder copies ticks out this way, off the tick).
type History struct {
	ring   []Snapshot
	newest uint32
	filled bool
}

// NewHistory returns an empty history holding up to n ticks (at least 1).
func NewHistory(n int) *History {
	return &History{ring: make([]Snapshot, max(n, 1))}
}

// Len is the number of ticks the history holds when full.
func (h *History) Len() int { return len(h.ring) }

// Add stores a copy of s, which must be newer than Latest.
func (h *History) Add(s *Snapshot) {
	h.slot(s.Tick).CopyFrom(s)
	h.commit(s.Tick)
}

// At returns the snapshot of the given tick, if it is still held.
func (h *History) At(tick uint32) (*Snapshot, bool) {
	if !h.filled || tick > h.newest || h.newest-tick >= uint32(len(h.ring)) {
		return nil, false
	}
	s := &h.ring[tick%uint32(len(h.ring))]
	return s, s.Tick == tick
}

// Latest returns the newest snapshot, or nil if there is none yet.
func (h *History) Latest() *Snapshot {
	if !h.filled {
		return nil
	}
	return &h.ring[h.newest%uint32(len(h.ring))]
}

// slot is where the snapshot of tick goes; the caller fills it, then
// calls commit. Splitting the two lets the room write the world's state
// straight into the ring with no intermediate copy.
func (h *History) slot(tick uint32) *Snapshot {
	return &h.ring[tick%uint32(len(h.ring))]
}

func (h *History) commit(tick uint32) {
	h.newest, h.filled = tick, true
}
