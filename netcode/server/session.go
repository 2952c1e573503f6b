package server

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tickwire/tickwire/game"
	"github.com/tickwire/tickwire/netcode/transport"
	"github.com/tickwire/tickwire/netcode/wire"
	pb "github.com/tickwire/tickwire/proto/tickwire/v1"
)

// maxMalformedPackets is how many undecodable packets a session tolerates
// before it is closed as a protocol violation. A few can be honest (a
// client of a newer minor revision); a stream of them is hostile.
const maxMalformedPackets = 32

// session is one connected client on the server. Its fields are split by
// owner: the read goroutine (handleConn), the room goroutine (snapshot
// sending, see room.OnTick) and atomics shared by both.
type session struct {
	id     uint64
	entity game.EntityID
	name   string
	conn   transport.Conn
	room   *room
	log    *slog.Logger
	// playerID is the join token's player, or "session-<id>".
	playerID string
	// token is the resume token the welcome handed out.
	token []byte
	// done is closed once the session has ended and its entity has been
	// parked or removed.
	done chan struct{}
	// spectator sessions watch: entity 0, no seat, inputs refused.
	spectator bool

	// Shared.
	ackTick   atomic.Uint32
	staleAcks atomic.Uint32 // input packets since ackTick last advanced
	follow    atomic.Uint32 // spectators: the entity followed (0: free camera)
	lastHeard atomic.Int64  // Clock time, UnixNano
	// reportsRTT is set once the client's pings carry its RTT: the server
	// then records that and sends the client no pings of its own.
	reportsRTT atomic.Bool
	kick       chan kickReason
	kickOnce   sync.Once

	// Owned by the room goroutine.
	out snapshotOutbox

	// Owned by the read goroutine.
	in        wire.InputPacket
	replyBuf  []byte
	malformed int
	budget    *packetLimiter
	// refusedInputs counts a spectator's input packets that carried inputs.
	refusedInputs int
}

type kickReason struct {
	reason pb.DisconnectReason
	text   string
}

// disconnect asks the session's read goroutine to end the session with a
// reason. Only the first call counts.
func (s *session) disconnect(reason pb.DisconnectReason, text string) {
	s.kickOnce.Do(func() { s.kick <- kickReason{reason, text} })
}

// helloError is a refused handshake: what to tell the client.
type helloError struct {
	reason pb.DisconnectReason
	text   string
}

func (e *helloError) Error() string { return e.text }

// readHello waits for the ClientHello and validates it.
func readHello(ctx context.Context, conn transport.Conn) (*pb.ClientHello, error) {
	raw, _, err := conn.Receive(ctx)
	if err != nil {
		return nil, fmt.Errorf("waiting for hello: %w", err)
	}
	kind, _, err := wire.SplitPacket(raw)
	if err != nil {
		return nil, &helloError{pb.DisconnectReason_DISCONNECT_REASON_PROTOCOL_VIOLATION, "first message is not a packet: " + err.Error()}
	}
	if kind != wire.KindHello {
		return nil, &helloError{pb.DisconnectReason_DISCONNECT_REASON_PROTOCOL_VIOLATION, "first message must be a hello, got " + kind.String()}
	}
	p, err := wire.UnmarshalControl(raw)
	if err != nil {
		return nil, &helloError{pb.DisconnectReason_DISCONNECT_REASON_BAD_HELLO, "hello: " + err.Error()}
	}
	hello := p.GetHello()
	if v := hello.GetProtocolVersion(); v != wire.ProtocolVersion {
		return nil, &helloError{pb.DisconnectReason_DISCONNECT_REASON_VERSION_MISMATCH,
			fmt.Sprintf("server speaks protocol version %d, client sent %d", wire.ProtocolVersion, v)}
	}
	if err := wire.ValidatePlayerName(hello.GetPlayerName()); err != nil {
		return nil, &helloError{pb.DisconnectReason_DISCONNECT_REASON_BAD_HELLO, err.Error()}
	}
	return hello, nil
}

func newToken() []byte {
	b := make([]byte, 16)
	_, _ = rand.Read(b) // crypto/rand.Read never fails on supported platforms
	return b
}

// serve runs the session's read loop until the connection ends or the
// session is kicked, then tells the client why. It reports whether the
// client may come back (resume): its connection was lost, timed out or
// was replaced, rather than closed on purpose by either side.
func (s *session) serve(ctx context.Context, srv *Server) (resumable bool) {
	// Packets are handled on this goroutine as Receive returns them (a
	// hop through another goroutine per packet cost more than handling
	// one); a kick cancels the Receive.
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		k       kickReason
		kicked  bool
		watched = make(chan struct{})
	)
	go func() {
		defer close(watched)
		select {
		case k = <-s.kick:
			kicked = true
			cancel()
		case <-rctx.Done():
		}
	}()
	for {
		raw, _, err := s.conn.Receive(rctx)
		if err == nil && rctx.Err() == nil {
			if k, ok := s.handlePacket(srv, raw); !ok {
				s.finish(k)
				return false
			}
			continue
		}
		cancel()
		<-watched // k and kicked are settled
		switch {
		case kicked:
			s.finish(k)
			return k.reason == pb.DisconnectReason_DISCONNECT_REASON_TIMEOUT ||
				k.reason == pb.DisconnectReason_DISCONNECT_REASON_REPLACED
		case ctx.Err() != nil:
			s.finish(kickReason{pb.DisconnectReason_DISCONNECT_REASON_SERVER_SHUTDOWN, "server shutting down"})
			return false
		default:
			s.log.Info("session ended", "reason", "connection lost", "err", err)
			srv.dash.NoteConnectionLost(s.room.id)
			return true
		}
	}
}

func (s *session) finish(k kickReason) {
	s.log.Info("session ended", "reason", k.reason.String(), "text", k.text)
	s.room.srv.dash.NoteDisconnect(s.room.id, k.reason, k.text, false)
	if k.reason != pb.DisconnectReason_DISCONNECT_REASON_CLIENT_LEFT {
		_ = s.conn.SendMessage(wire.DisconnectPacket(k.reason, k.text))
	}
}

// handlePacket processes one packet from the client. It returns false with
// a reason when the session must end.
func (s *session) handlePacket(srv *Server, raw []byte) (kickReason, bool) {
	now := srv.clock.Now()
	if ok, abusive := s.budget.allow(now); !ok {
		srv.rateLimited.Add(1)
		srv.metrics.rateLimited.Inc()
		if abusive {
			return kickReason{pb.DisconnectReason_DISCONNECT_REASON_RATE_LIMITED,
				fmt.Sprintf("sent far more packets than allowed (%d dropped)", s.budget.dropped)}, false
		}
		return kickReason{}, true
	}
	s.lastHeard.Store(now.UnixNano())
	kind, body, err := wire.SplitPacket(raw)
	if err == nil {
		err = s.dispatch(srv, kind, body, raw)
	}
	if err == nil {
		return kickReason{}, true
	}
	var left *clientLeft
	if errors.As(err, &left) {
		return kickReason{pb.DisconnectReason_DISCONNECT_REASON_CLIENT_LEFT, left.text}, false
	}
	srv.malformed.Add(1)
	srv.metrics.malformed.Inc()
	s.malformed++
	if s.malformed == 1 || s.malformed == maxMalformedPackets {
		s.log.Warn("dropped malformed packet", "err", err, "size", len(raw), "count", s.malformed)
	}
	if s.malformed >= maxMalformedPackets {
		return kickReason{pb.DisconnectReason_DISCONNECT_REASON_PROTOCOL_VIOLATION,
			fmt.Sprintf("%d malformed packets, last: %v", s.malformed, err)}, false
	}
	return kickReason{}, true
}

type clientLeft struct{ text string }

func (c *clientLeft) Error() string { return "client left: " + c.text }

func (s *session) dispatch(srv *Server, kind wire.PacketKind, body, raw []byte) error {
	switch kind {
	case wire.KindInput:
		if err := wire.DecodeInputPacket(body, &s.in); err != nil {
			return err
		}
		s.noteAck(s.in.AckTick, s.room.game.CurrentTick())
		if s.spectator {
			s.watchInputs(srv)
			return nil
		}
		s.room.game.QueueInputs(s.entity, s.in.Inputs)
		return nil
	case wire.KindPing:
		var p wire.Ping
		if err := wire.DecodePing(body, &p); err != nil {
			return err
		}
		if srv.noteRTT(time.Duration(p.RttUs) * time.Microsecond) {
			s.reportsRTT.Store(true)
		}
		p.ServerTick = s.room.game.CurrentTick()
		s.replyBuf = wire.AppendPing(s.replyBuf[:0], wire.KindPong, &p)
		_ = s.conn.SendDatagram(s.replyBuf)
		return nil
	case wire.KindPong:
		var p wire.Ping
		if err := wire.DecodePing(body, &p); err != nil {
			return err
		}
		srv.notePong(&p)
		return nil
	case wire.KindDisconnect:
		p, err := wire.UnmarshalControl(raw)
		if err != nil {
			return err
		}
		return &clientLeft{p.GetDisconnect().GetText()}
	}
	return wire.Malformedf("unexpected %v from client", kind)
}

// watchInputs takes a spectator's input packet: its ack (noted already)
// and its follow target count; inputs are refused, counted
// (tickwire_dropped_total{reason="spectator_input"}) and never reach the
// room. Not malformed: a client that sends them anyway plays on as a
// spectator.
func (s *session) watchInputs(srv *Server) {
	s.follow.Store(uint32(s.in.Follow))
	if len(s.in.Inputs) == 0 {
		return
	}
	if s.refusedInputs == 0 {
		s.log.Info("refused a spectator's inputs (logged once per session)", "inputs", len(s.in.Inputs))
	}
	s.refusedInputs++
	srv.spectatorInputs.Add(1)
	srv.metrics.spectatorInput.Inc()
}

// noteAck records the newest snapshot tick the client says it holds, from
// one input packet. Acks arrive out of order over datagrams, so only a
// newer one counts; an ack from the future is a lie and is ignored. Every
// packet that does not advance the ack counts in staleAcks.
func (s *session) noteAck(ack, now uint32) {
	if ack == 0 || ack > now {
		s.staleAcks.Add(1)
		return
	}
	for {
		old := s.ackTick.Load()
		if ack <= old {
			s.staleAcks.Add(1)
			return
		}
		if s.ackTick.CompareAndSwap(old, ack) {
			s.staleAcks.Store(0)
			return
		}
	}
}
