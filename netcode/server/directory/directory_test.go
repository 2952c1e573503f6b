package directory

import (
	"context"
	"testing"
	"time"
)

func TestMemoryRecordsExpireAfterTheirTTLAndWithdrawRemovesAtOnce(t *testing.T) {
	now := time.Unix(1000, 0)
	m := &Memory{Now: func() time.Time { return now }}
	ctx := context.Background()
	_ = m.Publish(ctx, Process{ID: "b", URL: "http://b", Rooms: []Room{{ID: "z"}, {ID: "a"}}}, 2*time.Second)
	_ = m.Publish(ctx, Process{ID: "a", URL: "http://a"}, 10*time.Second)
	ps, _ := m.Processes(ctx)
	if len(ps) != 2 || ps[0].ID != "a" || ps[1].Rooms[0].ID != "a" {
		t.Fatalf("processes = %+v, want a then b, rooms sorted", ps)
	}
	now = now.Add(2 * time.Second)
	ps, _ = m.Processes(ctx)
	if len(ps) != 1 || ps[0].ID != "a" {
		t.Fatalf("after b's TTL: %+v", ps)
	}
	_ = m.Publish(ctx, Process{ID: "a", URL: "http://a2"}, 10*time.Second) // heartbeat replaces
	ps, _ = m.Processes(ctx)
	if ps[0].URL != "http://a2" {
		t.Errorf("heartbeat did not replace the record: %+v", ps[0])
	}
	_ = m.Withdraw(ctx, "a")
	if ps, _ = m.Processes(ctx); len(ps) != 0 {
		t.Errorf("after withdraw: %+v", ps)
	}
}
