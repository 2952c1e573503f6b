package server_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/tickwire/tickwire/netcode/client"
	"github.com/tickwire/tickwire/netcode/server"
	"github.com/tickwire/tickwire/netcode/server/servertest"
	"github.com/tickwire/tickwire/netcode/transport"
	"github.com/tickwire/tickwire/netcode/wire"
)

func TestRosterNamesEveryPlayerOnJoinAndLeave(t *testing.T) {
	srv := servertest.Start(t, &server.Server{})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	rosters := make(chan *wire.Roster, 16)
	a, err := client.Connect(ctx, client.Config{
		Server: srv.URL(), Name: "ann", Dial: transport.DialOptions{Transport: transport.WebSocket}, Logger: servertest.Logger(t),
		OnRoster: func(r *wire.Roster) { rosters <- r },
	})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	// names waits for the newest roster that lists exactly want.
	var rev uint64
	names := func(want ...string) {
		t.Helper()
		for {
			select {
			case r := <-rosters:
				if r.Revision <= rev {
					continue // an older one overtaken by a newer
				}
				rev = r.Revision
				var got []string
				for _, p := range r.Players {
					got = append(got, p.Name)
				}
				slices.Sort(got)
				if slices.Equal(got, want) {
					return
				}
			case <-ctx.Done():
				t.Fatalf("no roster listing %q", want)
			}
		}
	}
	names("ann")
	b, err := client.Connect(ctx, client.Config{Server: srv.URL(), Name: "bob", Dial: transport.DialOptions{Transport: transport.WebSocket}, Logger: servertest.Logger(t)})
	if err != nil {
		t.Fatal(err)
	}
	names("ann", "bob")
	b.Close()
	names("ann")
}
