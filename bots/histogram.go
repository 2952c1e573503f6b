package bots

import (
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
)

// The geometry of every Histogram: microseconds from 1 µs to an hour, at
// 3 significant digits (a value is known within 0.1 %). Reports of one
// geometry merge exactly: merging adds bucket counts, so the quantiles
// of a merged histogram are those of one histogram fed every sample.
const (
	histLowestUs  = 1
	histHighestUs = int64(time.Hour / time.Microsecond)
	histDigits    = 3
)

// Histogram is a mergeable distribution of durations (an HdrHistogram of
// microseconds). Any goroutine may record; recording takes a mutex and
// never allocates once the histogram holds its counts. The zero value is
// empty and ready. It encodes in JSON as HdrHistogram's compressed V2
// snapshot in base64, the form other HdrHistogram tools read.
type Histogram struct {
	mu  sync.Mutex
	hdr *hdrhistogram.Histogram // nil until the first record or merge
}

func newHdr() *hdrhistogram.Histogram {
	return hdrhistogram.New(histLowestUs, histHighestUs, histDigits)
}

// Record adds one duration. Durations outside [0, 1 h] count as the
// nearest bound: a report must count every sample it was given.
func (h *Histogram) Record(d time.Duration) {
	us := min(max(int64(d/time.Microsecond), 0), histHighestUs)
	h.mu.Lock()
	if h.hdr == nil {
		h.hdr = newHdr()
	}
	_ = h.hdr.RecordValue(us) // in range by construction: no error, no allocation
	h.mu.Unlock()
}

// Merge adds every sample of o to h. It fails only when a count would
// overflow (a corrupt report): then h is left with part of o.
func (h *Histogram) Merge(o *Histogram) error {
	if o == nil || o == h {
		return nil
	}
	o.mu.Lock()
	var src *hdrhistogram.Histogram
	if o.hdr != nil {
		src = o.hdr.Clone() // never hold both locks
	}
	o.mu.Unlock()
	if src == nil {
		return nil
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.hdr == nil {
		h.hdr = newHdr()
	}
	if dropped := h.hdr.Merge(src); dropped != 0 {
		return fmt.Errorf("histogram: %d samples overflow the counts", dropped)
	}
	return nil
}

// Clone returns an independent copy of h.
func (h *Histogram) Clone() *Histogram {
	c := &Histogram{}
	_ = c.Merge(h) // into an empty histogram of the same geometry: nothing overflows
	return c
}

// Count is the number of samples recorded.
func (h *Histogram) Count() int64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.hdr == nil {
		return 0
	}
	return h.hdr.TotalCount()
}

// Quantile returns the q-quantile (0 < q <= 1): the largest value
// equivalent, at the histogram's precision, to the sample of that rank;
// for q = 0 the smallest value equivalent to the smallest sample; 0 when
// empty.
func (h *Histogram) Quantile(q float64) time.Duration {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.hdr == nil {
		return 0
	}
	return time.Duration(h.hdr.ValueAtQuantile(q*100)) * time.Microsecond
}

// MarshalJSON encodes h as a base64 string of HdrHistogram's compressed
// V2 encoding.
func (h *Histogram) MarshalJSON() ([]byte, error) {
	h.mu.Lock()
	src := h.hdr
	if src == nil {
		src = newHdr()
	}
	enc, err := src.Encode(hdrhistogram.V2CompressedEncodingCookieBase)
	h.mu.Unlock()
	if err != nil {
		return nil, fmt.Errorf("encoding histogram: %w", err)
	}
	return json.Marshal(string(enc))
}

// UnmarshalJSON decodes what MarshalJSON wrote, refusing a histogram of
// another geometry: merged with ours, its samples would be dropped or
// counted at another precision.
func (h *Histogram) UnmarshalJSON(data []byte) error {
	var s string
	if err := json.Unmarshal(data, &s); err != nil {
		return fmt.Errorf("histogram: want a base64 string: %w", err)
	}
	if s == "" {
		return errors.New("histogram: empty")
	}
	dec, err := hdrhistogram.Decode([]byte(s))
	if err != nil {
		return fmt.Errorf("histogram: %w", err)
	}
	if dec.LowestTrackableValue() != histLowestUs || dec.HighestTrackableValue() != histHighestUs || dec.SignificantFigures() != histDigits {
		return fmt.Errorf("histogram: geometry %d..%d µs at %d digits, want %d..%d at %d",
			dec.LowestTrackableValue(), dec.HighestTrackableValue(), dec.SignificantFigures(), histLowestUs, histHighestUs, histDigits)
	}
	h.mu.Lock()
	h.hdr = dec
	h.mu.Unlock()
	return nil
}
