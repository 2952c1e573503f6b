//go:build unix

// Command loopfloor measures what the kernel charges for one small
// message over loopback: the floor under any per-client cost of a game
// server or a bot swarm that sends a packet per client per tick. A writer
// sends size-byte messages over n connections at rate per connection per
// second; a reader in another process (pinned to the other core by
// scripts/bench.sh) reads and discards them. Each reports its CPU time
// per message (user + system, from getrusage).
//
//	loopfloor -listen 127.0.0.1:5555 -proto tcp -for 10s &
//	loopfloor -dial 127.0.0.1:5555 -proto tcp -n 1000 -for 8s
//
// On loopback the sender's system call also runs the receiver's protocol
// stack, so the writer's figure is the larger one.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"os"
	"sync/atomic"
	"syscall"
	"time"
)

func main() {
	var (
		listen = flag.String("listen", "", "read at this `address`")
		dial   = flag.String("dial", "", "write to this `address`")
		proto  = flag.String("proto", "tcp", "tcp or udp")
		conns  = flag.Int("n", 1000, "connections (writer)")
		rate   = flag.Int("rate", 30, "messages per connection per second (writer)")
		size   = flag.Int("size", 100, "message size in bytes")
		dur    = flag.Duration("for", 8*time.Second, "how long to run")
	)
	flag.Parse()
	log.SetFlags(0)
	var err error
	switch {
	case *listen != "" && *dial == "":
		err = read(*proto, *listen, *size, *dur)
	case *dial != "" && *listen == "":
		err = write(*proto, *dial, *conns, *rate, *size, *dur)
	default:
		err = errors.New("give exactly one of -listen and -dial")
	}
	if err != nil {
		log.Fatal("loopfloor: ", err)
	}
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func report(role, proto string, messages int64, cpu time.Duration) {
	if messages == 0 {
		fmt.Printf("%s %s: no messages\n", proto, role)
		return
	}
	fmt.Printf("%s %s: %.1f µs of CPU per message (%d messages)\n", proto, role,
		float64(cpu.Nanoseconds())/1e3/float64(messages), messages)
}

func read(proto, addr string, size int, d time.Duration) error {
	var n atomic.Int64
	start := cpuTime()
	deadline := time.Now().Add(d)
	switch proto {
	case "udp":
		pc, err := net.ListenPacket("udp", addr)
		if err != nil {
			return err
		}
		_ = pc.SetReadDeadline(deadline)
		buf := make([]byte, 2048)
		for {
			if _, _, err := pc.ReadFrom(buf); err != nil {
				break
			}
			n.Add(1)
		}
	case "tcp":
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			return err
		}
		go func() {
			time.Sleep(time.Until(deadline))
			ln.Close()
		}()
		for {
			c, err := ln.Accept()
			if err != nil {
				break
			}
			_ = c.SetReadDeadline(deadline)
			go func() {
				buf := make([]byte, 4096)
				for {
					k, err := c.Read(buf)
					if err != nil {
						_, _ = io.Copy(io.Discard, c)
						return
					}
					n.Add(int64(k)) // bytes: divided by the size below
				}
			}()
		}
		time.Sleep(time.Until(deadline))
	default:
		return fmt.Errorf("unknown -proto %q", proto)
	}
	msgs := n.Load()
	if proto == "tcp" {
		msgs /= int64(size)
	}
	report("reader", proto, msgs, cpuTime()-start)
	return nil
}

func write(proto, addr string, n, rate, size int, d time.Duration) error {
	if proto != "tcp" && proto != "udp" {
		return fmt.Errorf("unknown -proto %q", proto)
	}
	cs := make([]net.Conn, n)
	for i := range cs {
		c, err := net.Dial(proto, addr)
		// The reader may still be starting: wait for it up to 2 s.
		for wait := time.Now().Add(2 * time.Second); err != nil && i == 0 && time.Now().Before(wait); {
			time.Sleep(20 * time.Millisecond)
			c, err = net.Dial(proto, addr)
		}
		if err != nil {
			return fmt.Errorf("connection %d: %w", i, err)
		}
		defer c.Close()
		cs[i] = c
	}
	msg := make([]byte, size)
	period := time.Second / time.Duration(rate)
	var sent int64
	start, t0 := cpuTime(), time.Now()
	for next := t0; time.Since(t0) < d; {
		for _, c := range cs {
			// A UDP send before the reader is bound is refused (ICMP),
			// and costs what any send costs.
			if _, err := c.Write(msg); err != nil && proto == "tcp" {
				return fmt.Errorf("write: %w", err)
			}
			sent++
		}
		next = next.Add(period)
		time.Sleep(time.Until(next))
	}
	report("writer", proto, sent, cpuTime()-start)
	fmt.Fprintf(os.Stderr, "%d connections, %d/s each, %d B\n", n, rate, size)
	return nil
}
