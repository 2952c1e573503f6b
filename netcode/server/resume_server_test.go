package server_test

import (
	"context"
	"errors"
	"math"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tickwire/tickwire/game"
	"github.com/tickwire/tickwire/netcode/client"
	"github.com/tickwire/tickwire/netcode/jointoken"
	"github.com/tickwire/tickwire/netcode/server"
	"github.com/tickwire/tickwire/netcode/server/servertest"
	"github.com/tickwire/tickwire/netcode/transport"
	pb "github.com/tickwire/tickwire/proto/tickwire/v1"
)

// scoreAKill has shooter fire at target, which stands still, until the
// room credits shooter with a kill.
func scoreAKill(t *testing.T, srv *server.Server, shooter, target *player) {
	t.Helper()
	room := srv.Room()
	ticker := time.NewTicker(room.Period())
	defer ticker.Stop()
	deadline := time.Now().Add(30 * time.Second)
	for {
		s, _ := room.Player(shooter.Entity())
		if s.Score >= 1 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no kill within 30 s (shooter %+v)", s)
		}
		<-ticker.C
		tg, _ := room.Player(target.Entity())
		aim := math.Atan2(tg.Y-s.Y, tg.X-s.X)
		if aim < 0 {
			aim += 2 * math.Pi
		}
		if _, err := shooter.SendInput(0, 0, aim, true); err != nil {
			t.Fatal(err)
		}
	}
}

// cutAndWaitParked cuts p's connection without a goodbye and waits until
// the server has ended its session.
func cutAndWaitParked(t *testing.T, srv *server.Server, p *player) {
	t.Helper()
	id := p.Entity()
	_ = p.conn.Close()
	servertest.WaitFor(t, 15*time.Second, func() bool {
		for _, s := range srv.Sessions() {
			if s.Entity == id {
				return false
			}
		}
		return true
	})
}

func reconnect(t *testing.T, srv *server.Server, token []byte, kind transport.Kind) *client.Client {
	t.Helper()
	// The session lives as long as the context it connects with, so not a
	// deadline that ends when this helper returns.
	c, err := client.Connect(t.Context(), client.Config{Server: srv.URL(), Name: "shooter", ResumeToken: token,
		Dial: transport.DialOptions{Transport: kind, TrustServerCertHash: true}, Logger: servertest.Logger(t)})
	if err != nil {
		t.Fatalf("reconnect over %s: %v", kind, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func TestResumeWithinGraceKeepsEntityPositionHealthAndScore(t *testing.T) {
	for _, kinds := range [][2]transport.Kind{{transport.WebTransport, transport.WebSocket}, {transport.WebSocket, transport.WebTransport}} {
		t.Run(string(kinds[0])+"_then_"+string(kinds[1]), func(t *testing.T) {
			srv := servertest.Start(t, &server.Server{Game: game.Config{Size: 200, MaxPlayers: 4}})
			shooter := connectPlayer(t, srv, "shooter", kinds[0])
			target := connectPlayer(t, srv, "target", kinds[0])
			shooter.waitSeen(t)
			target.waitSeen(t)
			scoreAKill(t, srv, shooter, target)

			token := shooter.Welcome().GetResumeToken()
			cutAndWaitParked(t, srv, shooter)
			before, ok := srv.Room().Player(shooter.Entity())
			if !ok {
				t.Fatal("the dropped player left the world at once; want it parked")
			}
			c := reconnect(t, srv, token, kinds[1])
			if c.Entity() != shooter.Entity() {
				t.Fatalf("resumed as entity %d, want %d", c.Entity(), shooter.Entity())
			}
			after, _ := srv.Room().Player(c.Entity())
			if after.Score != 1 || after.X != before.X || after.Y != before.Y || after.Health != before.Health {
				t.Fatalf("after resume %+v, before %+v", after, before)
			}
			if got := c.Welcome().GetResumeToken(); string(got) == string(token) {
				t.Error("the resumed session reuses the old resume token")
			}
		})
	}
}

func TestResumeAfterGraceJoinsAsANewPlayer(t *testing.T) {
	srv := servertest.Start(t, &server.Server{Game: game.Config{Size: 200, MaxPlayers: 4}, ResumeGrace: time.Second})
	shooter := connectPlayer(t, srv, "shooter", transport.WebSocket)
	target := connectPlayer(t, srv, "target", transport.WebSocket)
	shooter.waitSeen(t)
	target.waitSeen(t)
	scoreAKill(t, srv, shooter, target)

	token := shooter.Welcome().GetResumeToken()
	cutAndWaitParked(t, srv, shooter)
	// The housekeeping pass that runs every second removes it once the
	// grace has run out.
	servertest.WaitFor(t, 10*time.Second, func() bool { _, ok := srv.Room().Player(shooter.Entity()); return !ok })
	c := reconnect(t, srv, token, transport.WebTransport)
	if c.Entity() == shooter.Entity() {
		t.Fatal("a token past its grace resumed the old entity")
	}
	if p, _ := srv.Room().Player(c.Entity()); p.Score != 0 {
		t.Fatalf("new player starts with score %d", p.Score)
	}
}

func TestAHalfOpenSessionIsReplacedByItsResume(t *testing.T) {
	srv := servertest.Start(t, &server.Server{})
	p := connectPlayer(t, srv, "twice", transport.WebSocket)
	p.waitSeen(t)
	// The old connection is still open (say its client lost the network
	// and the server has not noticed); the client comes back on another.
	c := reconnect(t, srv, p.Welcome().GetResumeToken(), transport.WebTransport)
	if c.Entity() != p.Entity() {
		t.Fatalf("resumed as entity %d, want %d", c.Entity(), p.Entity())
	}
	select {
	case <-p.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("the replaced session is still open")
	}
	var de *client.DisconnectError
	if !errors.As(p.Err(), &de) || de.Reason != pb.DisconnectReason_DISCONNECT_REASON_REPLACED {
		t.Fatalf("old session ended with %v, want REPLACED", p.Err())
	}
	// The server registers the new session just after sending its welcome.
	servertest.WaitFor(t, 10*time.Second, func() bool { return len(srv.Sessions()) == 1 })
}

// TestResumeTokenBringsBackAPlayerWhoseJoinTokenHasExpired: under
// RequireTokens, a player admitted by a short-lived join token drops; by
// the time it comes back the join token has expired, yet its resume token
// alone brings it back within the grace, to its room, entity and player
// id. A newcomer with the same expired token is refused, and so is the
// resume once the grace is over.
func TestResumeTokenBringsBackAPlayerWhoseJoinTokenHasExpired(t *testing.T) {
	// The grace must outlast the wall-clock wait for the join token to
	// expire (up to 3 s: its expiry is a whole second) with room to spare.
	const grace = 6 * time.Second
	srv := servertest.Start(t, &server.Server{TokenSecret: testSecret, RequireTokens: true, ResumeGrace: grace})
	if _, err := srv.CreateRoom(server.RoomOptions{ID: "blue"}); err != nil {
		t.Fatal(err)
	}
	expires := time.Now().Add(time.Second)
	tok, err := mustSigner(t).Sign(jointoken.Claims{Room: "blue", PlayerID: "p7", PlayerName: "seven", Expires: expires.Unix() + 1})
	if err != nil {
		t.Fatal(err)
	}
	// dial joins with tok and resume; the transport connection lands in
	// *conn, for the test to drop it. The session lives as long as the
	// context it connects with: the test's, not a handshake deadline.
	dial := func(resume []byte, conn *transport.Conn) (*client.Client, error) {
		return client.Connect(t.Context(), client.Config{Server: srv.URL(), Name: "x", AuthToken: tok, ResumeToken: resume,
			Dial: transport.DialOptions{Transport: transport.WebSocket}, Logger: servertest.Logger(t),
			WrapConn: func(c transport.Conn) transport.Conn { *conn = c; return c }})
	}
	var firstConn, backConn, spare transport.Conn
	first, err := dial(nil, &firstConn)
	if err != nil {
		t.Fatalf("joining with a fresh token: %v", err)
	}
	entity, resume := first.Entity(), first.Welcome().GetResumeToken()
	_ = firstConn.Close() // dropped, no goodbye
	servertest.WaitFor(t, 10*time.Second, func() bool { return len(srv.Sessions()) == 0 })
	for time.Now().Before(time.Unix(expires.Unix()+2, 0)) { // the token's expiry is a wall-clock second
		time.Sleep(50 * time.Millisecond)
	}

	if _, err := dial(nil, &spare); err == nil {
		t.Fatal("a newcomer with an expired join token was let in")
	}
	back, err := dial(resume, &backConn)
	if err != nil {
		t.Fatalf("resuming within the grace with an expired join token: %v", err)
	}
	defer back.Close()
	if back.Entity() != entity {
		t.Errorf("resumed as entity %d, want %d", back.Entity(), entity)
	}
	if s := onlySession(t, srv); s.Room != "blue" || s.PlayerID != "p7" || s.Name != "seven" {
		t.Errorf("resumed session %+v, want room blue, player p7, name seven", s)
	}

	// Dropped again, and back only after the grace: the resume token is
	// worth nothing then, and the expired join token is refused.
	second := back.Welcome().GetResumeToken()
	_ = backConn.Close()
	servertest.WaitFor(t, 10*time.Second, func() bool { return srv.ParkedPlayers() == 1 })
	servertest.WaitFor(t, grace+5*time.Second, func() bool { return srv.ParkedPlayers() == 0 })
	var de *client.DisconnectError
	if _, err := dial(second, &spare); !errors.As(err, &de) || de.Reason != pb.DisconnectReason_DISCONNECT_REASON_AUTH_FAILED {
		t.Fatalf("resuming after the grace: %v, want AUTH_FAILED (the expired join token)", err)
	}
}

// TestUnderRequiredTokensAPlayerWhoseTokenExpiredLongAgoResumesWithinTheGrace:
// a player admitted by a 2-minute join token plays for 7 minutes (on a
// clock the test moves), scores, drops, and comes back 10 s later: its
// join token expired 5 minutes ago, yet its resume token brings back its
// entity and score. Dropped again and back after the 30 s grace, it is
// refused with a reason that says so.
func TestUnderRequiredTokensAPlayerWhoseTokenExpiredLongAgoResumesWithinTheGrace(t *testing.T) {
	clk := &jumpClock{}
	srv := servertest.Start(t, &server.Server{TokenSecret: testSecret, RequireTokens: true, Clock: clk,
		IdleTimeout: time.Hour, // the clock's jumps are not silences
		Game:        game.Config{Size: 200, MaxPlayers: 4}})
	signer := mustSigner(t)
	tokenFor := func(name string) string {
		tok, err := signer.Sign(jointoken.Claims{Room: server.DefaultRoom, PlayerID: name, PlayerName: name, Expires: clk.Now().Add(2 * time.Minute).Unix()})
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	withToken := func(tok string) func(*client.Config) { return func(c *client.Config) { c.AuthToken = tok } }
	shooterToken := tokenFor("shooter")
	shooter := connectPlayerWith(t, srv, "shooter", transport.WebSocket, withToken(shooterToken))
	target := connectPlayerWith(t, srv, "target", transport.WebSocket, withToken(tokenFor("target")))
	shooter.waitSeen(t)
	target.waitSeen(t)
	scoreAKill(t, srv, shooter, target)
	before, _ := srv.Room().Player(shooter.Entity())

	clk.jump(7*time.Minute - 10*time.Second)
	_ = shooter.conn.Close() // dropped, no goodbye
	servertest.WaitFor(t, 10*time.Second, func() bool { return srv.ParkedPlayers() == 1 })
	clk.jump(10 * time.Second)
	var backConn transport.Conn
	back, err := client.Connect(t.Context(), client.Config{Server: srv.URL(), Name: "shooter", AuthToken: shooterToken,
		ResumeToken: shooter.Welcome().GetResumeToken(), Logger: servertest.Logger(t),
		Dial:     transport.DialOptions{Transport: transport.WebTransport, TrustServerCertHash: true},
		WrapConn: func(c transport.Conn) transport.Conn { backConn = c; return c }})
	if err != nil {
		t.Fatalf("resuming 10 s after the drop, 5 min after the join token expired: %v", err)
	}
	defer back.Close()
	after, _ := srv.Room().Player(back.Entity())
	if back.Entity() != shooter.Entity() || after.Score != before.Score || before.Score < 1 {
		t.Fatalf("resumed as entity %d with score %d; want entity %d with score %d", back.Entity(), after.Score, shooter.Entity(), before.Score)
	}

	_ = backConn.Close()
	servertest.WaitFor(t, 10*time.Second, func() bool { return srv.ParkedPlayers() == 1 })
	clk.jump(server.DefaultResumeGrace + time.Second)
	servertest.WaitFor(t, 10*time.Second, func() bool { return srv.ParkedPlayers() == 0 })
	_, err = client.Connect(t.Context(), client.Config{Server: srv.URL(), Name: "shooter", AuthToken: shooterToken,
		ResumeToken: back.Welcome().GetResumeToken(), Logger: servertest.Logger(t),
		Dial: transport.DialOptions{Transport: transport.WebSocket}})
	var de *client.DisconnectError
	if !errors.As(err, &de) || de.Reason != pb.DisconnectReason_DISCONNECT_REASON_AUTH_FAILED ||
		!strings.Contains(de.Text, "cannot resume") || !strings.Contains(de.Text, "expired") {
		t.Fatalf("resuming after the grace: %v; want AUTH_FAILED saying the grace passed and the token expired", err)
	}
}

// jumpClock is the real clock moved forward by the test's jumps, tickers
// included (their ticks carry the jumped time).
type jumpClock struct{ offset atomic.Int64 }

func (c *jumpClock) jump(d time.Duration) { c.offset.Add(int64(d)) }

func (c *jumpClock) Now() time.Time { return time.Now().Add(time.Duration(c.offset.Load())) }

func (c *jumpClock) NewTicker(d time.Duration) game.Ticker {
	t := &jumpTicker{real: time.NewTicker(d), c: make(chan time.Time, 1), stop: make(chan struct{})}
	go func() {
		for {
			select {
			case now := <-t.real.C:
				select {
				case t.c <- now.Add(time.Duration(c.offset.Load())):
				default: // like time.Ticker: a slow receiver misses ticks
				}
			case <-t.stop:
				return
			}
		}
	}()
	return t
}

type jumpTicker struct {
	real *time.Ticker
	c    chan time.Time
	stop chan struct{}
	once sync.Once
}

func (t *jumpTicker) C() <-chan time.Time { return t.c }

func (t *jumpTicker) Stop() { t.once.Do(func() { t.real.Stop(); close(t.stop) }) }

// TestAPlayerWhoseContextEndsLeavesWithAGoodbye: a client that stops by
// cancelling the context it connected with (as a quitting player's
// reconnect loop and a swarm's shutdown do) says goodbye as Close does,
// so the server frees its place at once instead of holding it for a
// resume.
func TestAPlayerWhoseContextEndsLeavesWithAGoodbye(t *testing.T) {
	for _, kind := range []transport.Kind{transport.WebTransport, transport.WebSocket} {
		t.Run(string(kind), func(t *testing.T) {
			srv := servertest.Start(t, &server.Server{ResumeGrace: time.Minute})
			ctx, cancel := context.WithCancel(t.Context())
			c, err := client.Connect(ctx, client.Config{Server: srv.URL(), Name: "quitter", Logger: servertest.Logger(t),
				Dial: transport.DialOptions{Transport: kind, TrustServerCertHash: true}})
			if err != nil {
				t.Fatal(err)
			}
			id := c.Entity()
			servertest.WaitFor(t, 10*time.Second, func() bool { _, ok := srv.Room().Player(id); return ok })
			cancel()
			<-c.Done()
			if err := c.Err(); !errors.Is(err, context.Canceled) {
				t.Errorf("session ended with %v, want it to name the cancelled context", err)
			}
			// Held for a resume, the player would stay in the room for the
			// minute's grace.
			servertest.WaitFor(t, 10*time.Second, func() bool { _, ok := srv.Room().Player(id); return !ok })
			if n := srv.ParkedPlayers(); n != 0 {
				t.Errorf("%d players held for a resume after a goodbye", n)
			}
		})
	}
}
