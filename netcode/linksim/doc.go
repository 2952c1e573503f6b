// Package linksim simulates a network link in user space: latency,
// jitter, loss, duplication and reordering of datagrams, and the
// retransmission delays of a reliable stream, decided from a seed so that
// a run can be repeated. Link wraps a real transport.Conn on the real
// clock (tests, bot swarms); Queue is one direction on a clock the caller
// drives (lockstep simulations).
//
// It learns each packet's channel from how it was sent and received, and
// never reads the packets.
package linksim
