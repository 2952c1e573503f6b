package server

import (
	"testing"
	"time"
)

func TestResumeBookHandsBackAParkedPlayerOnceWithinGrace(t *testing.T) {
	var b resumeBook // the zero value works
	tok := newToken()
	b.park(tok, parkedPlayer{Room: "default", Entity: 7, Name: "ada", Until: epoch0.Add(DefaultResumeGrace)})

	if _, ok := b.take(newToken(), epoch0); ok {
		t.Fatal("an unknown token resumed a player")
	}
	p, ok := b.take(tok, epoch0.Add(DefaultResumeGrace-time.Millisecond))
	if !ok || p.Entity != 7 || p.Room != "default" || p.Name != "ada" {
		t.Fatalf("take within grace = %+v, %v; want entity 7 in default", p, ok)
	}
	if _, ok := b.take(tok, epoch0); ok {
		t.Fatal("a token resumed twice")
	}
	if got := b.expire(epoch0.Add(time.Hour), nil); len(got) != 0 {
		t.Fatalf("a resumed player expired later: %+v", got)
	}
}

func TestResumeBookExpiresEachPlayerExactlyOnce(t *testing.T) {
	var b resumeBook
	late, early := newToken(), newToken()
	b.park(early, parkedPlayer{Entity: 1, Until: epoch0.Add(time.Second)})
	b.park(late, parkedPlayer{Entity: 2, Until: epoch0.Add(time.Minute)})

	if _, ok := b.take(early, epoch0.Add(time.Second)); ok {
		t.Fatal("a token resumed at the end of its grace")
	}
	got := b.expire(epoch0.Add(2*time.Second), nil)
	if len(got) != 1 || got[0].Entity != 1 {
		t.Fatalf("expire after 2 s = %+v, want entity 1 only", got)
	}
	if got := b.expire(epoch0.Add(3*time.Second), nil); len(got) != 0 {
		t.Fatalf("entity expired twice: %+v", got)
	}
	if b.len() != 1 {
		t.Fatalf("%d parked, want 1", b.len())
	}
	if got := b.drain(nil); len(got) != 1 || got[0].Entity != 2 || b.len() != 0 {
		t.Fatalf("drain = %+v, left %d", got, b.len())
	}
}

func TestResumeBookIgnoresEmptyToken(t *testing.T) {
	var b resumeBook
	b.park(nil, parkedPlayer{Entity: 1, Until: epoch0.Add(time.Minute)})
	if _, ok := b.take(nil, epoch0); ok {
		t.Fatal("an empty resume token resumed a player")
	}
}
