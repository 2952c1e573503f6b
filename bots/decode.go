package bots

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
)

// DecodeReports reads the reports in r, one after the other: a file
// written by WriteJSON, or the JSON lines of several shards. It is
// strict, since a merge of reports it misread would look right: every
// value must be a report of ReportVersion with no field it does not
// know, whole histograms of the swarm's geometry and no negative count.
func DecodeReports(r io.Reader) ([]*Report, error) {
	dec := json.NewDecoder(r)
	var out []*Report
	for {
		var raw json.RawMessage
		err := dec.Decode(&raw)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("report %d: %w", len(out)+1, err)
		}
		rep, err := decodeReport(raw)
		if err != nil {
			return nil, fmt.Errorf("report %d: %w", len(out)+1, err)
		}
		out = append(out, rep)
	}
	if len(out) == 0 {
		return nil, errors.New("no report")
	}
	return out, nil
}

// decodeReport decodes one JSON value. The version is read first, so
// that a report of another version is refused for that and not for the
// first field this version lacks.
func decodeReport(raw json.RawMessage) (*Report, error) {
	var v struct {
		Version *int `json:"version"`
	}
	if err := json.Unmarshal(raw, &v); err != nil {
		return nil, fmt.Errorf("not a report: %w", err)
	}
	switch {
	case v.Version == nil:
		return nil, errors.New("no version: not a report of the bots")
	case *v.Version != ReportVersion:
		return nil, fmt.Errorf("version %d, this bots reads version %d", *v.Version, ReportVersion)
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	rep := &Report{}
	if err := dec.Decode(rep); err != nil {
		return nil, err
	}
	if err := rep.validate(); err != nil {
		return nil, err
	}
	return rep, nil
}

// validate checks what the JSON types cannot: presence, ranges.
func (r *Report) validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	c := r.Config
	if c.Shards < 1 || c.Shards > MaxShards || c.Shard < 0 || c.Shard >= c.Shards || c.Bots < 0 || c.FirstBot < 0 {
		bad("config: shard %d of %d, bots %d from %d", c.Shard, c.Shards, c.Bots, c.FirstBot)
	}
	if r.Histograms.InputAck == nil || r.Histograms.RTT == nil {
		bad("histograms: input_ack_us and rtt_us are required")
	}
	for name, n := range map[string]int64{
		"connected": int64(r.Connected), "bots_measured": int64(r.BotsMeasured),
		"connect_failures": int64(r.ConnectFailures), "send_errors": r.SendErrors,
		"snapshots_received": r.SnapshotsReceived, "snapshots_expected": r.SnapshotsExpected,
		"totals.app_bytes_down": r.Totals.AppBytesDown, "totals.app_bytes_up": r.Totals.AppBytesUp,
		"totals.wire_bytes_down": deref(r.Totals.WireBytesDown), "totals.wire_bytes_up": deref(r.Totals.WireBytesUp),
		"totals.wire_bytes_total": deref(r.Totals.WireBytesTotal), "totals.frames_extrapolated": deref(r.Totals.FramesExtrapolated),
		"totals.frames_held": deref(r.Totals.FramesHeld), "frames_total": deref(r.FramesTotal), "corrections": deref(r.Corrections),
	} {
		if n < 0 {
			bad("%s: %d is negative", name, n)
		}
	}
	if h := r.Hits; h != nil {
		for name, n := range map[string]int64{
			"hits.shots_predicted": h.ShotsPredicted, "hits.shots_unconfirmed": h.ShotsUnconfirmed,
			"hits.seen": h.Seen, "hits.confirmed": h.Confirmed, "hits.server_only": h.ServerOnly,
		} {
			if n < 0 {
				bad("%s: %d is negative", name, n)
			}
		}
		if h.Confirmed > h.Seen {
			bad("hits: %d confirmed of %d seen", h.Confirmed, h.Seen)
		}
	}
	for name, m := range map[string]map[string]int{
		"bots_by_transport": r.BotsByTransport, "connect_failure_reasons": r.ConnectFailureReasons, "dropped": r.Dropped,
	} {
		for k, n := range m {
			if n < 0 {
				bad("%s[%s]: %d is negative", name, k, n)
			}
		}
	}
	for name, f := range map[string]float64{
		"window_seconds": r.WindowSeconds, "totals.bot_seconds": r.Totals.BotSeconds,
		"totals.swarm_cpu_seconds": deref(r.Totals.SwarmCPUSeconds),
	} {
		if !(f >= 0) || math.IsInf(f, 0) {
			bad("%s: %v is not a duration", name, f)
		}
	}
	if _, err := bucketMap(r.Server.TickBuckets); err != nil {
		bad("server: %w", err)
	}
	for _, b := range r.Server.TickBuckets {
		if !(b.Count >= 0) {
			bad("server: tick bucket %s counts %v", b.Le, b.Count)
		}
	}
	return errors.Join(errs...)
}

func deref[T int64 | float64](p *T) T {
	if p == nil {
		return 0
	}
	return *p
}
