// Command cpubreak sorts Go CPU profiles of the server or the swarm into
// the categories docs/BENCHMARKS.md reports per player-tick: system calls
// (send, receive, futex wake-ups, epoll), AEAD, quic-go's packing, receive
// path, ACK handling and connection loop, Go's scheduler, timers and
// channels, allocation and GC, and Tickwire's own code.
//
//	go run ./scripts/cpubreak /tmp/p/wt-aoi0-n100.server.pprof
//	go run ./scripts/cpubreak wt=/tmp/a/wt-aoi0-n100.server.pprof@116.7 ws=/tmp/a/ws-aoi0-n100.server.pprof@36.7
//
// Each argument is a profile, optionally named (NAME=) and given the CPU
// a player-tick cost in the run's window, in microseconds (@US): each
// profile is a column of the table, in percent, and in microseconds when
// @US is given. Each sample goes to the category of the innermost frame
// of its stack that names one (a system call is then told apart by its
// callers), so the categories add up to the whole profile. Samples of
// connection setup (TLS handshakes, the hello) are counted apart and
// left out of the shares: a benchmark's window has none.
package main

import (
	"bufio"
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"time"
)

func main() {
	verbose := flag.Bool("v", false, "also list, per category, the frames that decided it")
	flag.Parse()
	if flag.NArg() == 0 {
		fmt.Fprintln(os.Stderr, "usage: cpubreak [-v] [NAME=]PROFILE[@US] ...")
		os.Exit(2)
	}
	var cols []column
	for _, arg := range flag.Args() {
		c, err := load(arg)
		if err != nil {
			fmt.Fprintln(os.Stderr, "cpubreak:", err)
			os.Exit(1)
		}
		cols = append(cols, c)
	}
	report(os.Stdout, cols, *verbose)
}

// column is one profile, sorted into categories.
type column struct {
	name     string
	us       float64 // CPU per player-tick, µs (0: unknown)
	by       map[string]time.Duration
	deciders map[string]map[string]time.Duration
	total    time.Duration // without setup
}

func load(arg string) (column, error) {
	c := column{name: arg, by: map[string]time.Duration{}, deciders: map[string]map[string]time.Duration{}}
	path := arg
	if name, rest, ok := strings.Cut(arg, "="); ok {
		c.name, path = name, rest
	}
	if i := strings.LastIndex(path, "@"); i >= 0 {
		us, err := strconv.ParseFloat(path[i+1:], 64)
		if err != nil {
			return c, fmt.Errorf("%s: microseconds: %w", arg, err)
		}
		c.us, path = us, path[:i]
	}
	out, err := exec.Command("go", "tool", "pprof", "-traces", path).Output()
	if err != nil {
		return c, fmt.Errorf("go tool pprof -traces %s: %w", path, err)
	}
	stacks, err := parseTraces(bytes.NewReader(out))
	if err != nil {
		return c, fmt.Errorf("%s: %w", path, err)
	}
	for _, s := range stacks {
		cat, f := categorize(s.frames)
		c.by[cat] += s.value
		if c.deciders[cat] == nil {
			c.deciders[cat] = map[string]time.Duration{}
		}
		c.deciders[cat][f] += s.value
		if cat != catSetup {
			c.total += s.value
		}
	}
	return c, nil
}

// stack is one distinct call stack of the profile, innermost frame first.
type stack struct {
	value  time.Duration
	frames []string
}

// parseTraces reads the output of go tool pprof -traces.
func parseTraces(r io.Reader) ([]stack, error) {
	var (
		out []stack
		cur *stack
	)
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "-----") {
			cur = nil
			continue
		}
		fields := strings.Fields(line)
		if len(fields) == 0 {
			continue
		}
		if cur == nil && len(fields) >= 2 {
			d, err := parseValue(fields[0])
			if err != nil {
				continue // the header lines
			}
			out = append(out, stack{value: d, frames: []string{fields[1]}})
			cur = &out[len(out)-1]
			continue
		}
		if cur != nil {
			cur.frames = append(cur.frames, fields[0])
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading traces: %w", err)
	}
	if len(out) == 0 {
		return nil, errors.New("no samples in the profile")
	}
	return out, nil
}

func parseValue(s string) (time.Duration, error) {
	if strings.HasSuffix(s, "s") {
		return time.ParseDuration(s)
	}
	n, err := strconv.ParseInt(s, 10, 64)
	return time.Duration(n), err
}

// Category names, in the order they are printed.
const (
	catSend      = "system calls: send (sendmsg, write)"
	catRecv      = "system calls: receive (recvmsg, read)"
	catFutex     = "system calls: futex (waking and parking threads)"
	catEpoll     = "system calls: epoll, other"
	catAEAD      = "AEAD and header protection (crypto)"
	catPack      = "quic-go: packing packets, datagram queue"
	catQRecv     = "quic-go: receive path (unpack, frames)"
	catAck       = "quic-go: ACK handling (ackhandler)"
	catQLoop     = "quic-go: connection loop, timers, send queue"
	catWT        = "webtransport-go, http3"
	catWS        = "gorilla/websocket framing"
	catSched     = "Go scheduler (park, ready, find work)"
	catTimers    = "Go timers"
	catChan      = "channels and select"
	catGC        = "allocation and GC"
	catFanout    = "Tickwire: fan-out, snapshot encoding"
	catGame      = "Tickwire: game (world step, room)"
	catTransport = "Tickwire: transport conns (queues, buffers)"
	catSession   = "Tickwire: session, wire codecs, metrics"
	catClient    = "Tickwire: client session (decode, clocks, inbox)"
	catBots      = "Tickwire: swarm scheduler, bot brains"
	catOther     = "other"
	catSetup     = "connection setup (TLS, hello; not in the shares)"
)

var order = []string{catSend, catRecv, catFutex, catEpoll, catAEAD, catPack, catQRecv, catAck, catQLoop,
	catWT, catWS, catSched, catTimers, catChan, catGC, catFanout, catGame, catTransport, catSession,
	catClient, catBots, catOther, catSetup}

// rule maps frames containing any of its substrings to a category.
type rule struct {
	cat  string
	subs []string
}

// rules are tried on each frame, innermost first; the first match wins.
var rules = []rule{
	{"syscall", []string{"Syscall6", "syscall.Syscall", "syscall.RawSyscall", "runtime.futex", "runtime.epollwait",
		"runtime.usleep", "runtime.osyield", "runtime.nanosleep", "runtime.write1"}},
	{catAEAD, []string{"crypto/", "aesHeaderProtector", "xorNonceAEAD", "chacha20", "golang.org/x/crypto"}},
	{catGC, []string{"runtime.gcBgMarkWorker", "runtime.gcDrain", "runtime.scanobject", "runtime.mallocgc",
		"runtime.gcAssist", "runtime.bgsweep", "runtime.sweepone", "runtime.newobject", "runtime.makeslice",
		"runtime.growslice", "runtime.gcStart", "runtime.markroot", "runtime.(*gcWork)", "runtime.gcMark",
		"runtime.bgscavenge", "runtime.wbBuf", "runtime.gcWriteBarrier"}},
	{catChan, []string{"runtime.selectgo", "runtime.chansend", "runtime.chanrecv", "runtime.closechan",
		"runtime.selectnbsend", "runtime.selectnbrecv", "runtime.block"}},
	{catTimers, []string{"runtime.(*timer)", "runtime.(*timers)", "runtime.runtimer", "runtime.checkTimers",
		"runtime.modtimer", "runtime.addtimer", "runtime.deltimer", "time.(*Timer)", "time.NewTimer", "time.AfterFunc",
		"runtime.resetTimer", "runtime.stopTimer", "runtime.newTimer"}},
	{catSched, []string{"runtime.schedule", "runtime.findRunnable", "runtime.park_m", "runtime.gopark",
		"runtime.goready", "runtime.ready", "runtime.wakep", "runtime.startm", "runtime.stopm", "runtime.notesleep",
		"runtime.notewakeup", "runtime.goexit0", "runtime.newproc", "runtime.mcall", "runtime.gosched",
		"runtime.netpoll", "runtime.exitsyscall", "runtime.entersyscall", "runtime.reentersyscall",
		"runtime.sysmon", "runtime.mstart", "runtime.casgstatus", "runtime.execute", "runtime.runqget",
		"runtime.runqsteal", "runtime.retake", "runtime.handoffp", "runtime.acquirep", "runtime.releasep"}},
	{catAck, []string{"quic-go/internal/ackhandler"}},
	{catQRecv, []string{"quic-go.(*Conn).handlePacket", "quic-go.(*Conn).handleShortHeaderPacket",
		"quic-go.(*Conn).handleFrame", "quic-go.(*Conn).handleDatagramFrame", "quic-go.(*Conn).handleAckFrame",
		"quic-go.(*packetUnpacker)", "quic-go/internal/wire", "quic-go.(*Transport).handlePacket",
		"quic-go.(*packetHandlerMap)", "quic-go.(*Transport).listen", "quic-go.(*datagramQueue).HandleDatagramFrame",
		"quic-go.(*Conn).handleLongHeaderPacket", "quic-go.(*Conn).handleUnpackedShortHeaderPacket",
		"quic-go.(*oobConn).ReadPacket", "quic-go.(*basicConn).ReadPacket", "(*Conn).ReceiveDatagram",
		"quic-go.(*Transport).readPacket"}},
	{catPack, []string{"quic-go.(*packetPacker)", "quic-go.(*framer)", "quic-go.(*datagramQueue)",
		"quic-go.(*Conn).SendDatagram", "quic-go.(*Conn).appendOnePacket", "quic-go.(*Conn).sendPacket",
		"quic-go.(*Conn).sendPackedShortHeaderPacket", "quic-go.(*Conn).registerPackedShortHeaderPacket",
		"quic-go.(*Conn).appendPackets", "quic-go.getPacketBuffer", "quic-go.(*packetBuffer)"}},
	{catQLoop, []string{"github.com/quic-go/quic-go"}},
	{catWT, []string{"github.com/quic-go/webtransport-go", "quic-go/http3"}},
	{catWS, []string{"github.com/gorilla/websocket"}},
	{catFanout, []string{"netcode/server.(*snapshotFanout)", "tickwire/netcode/snapshot.", "netcode/server.(*room).OnTick"}},
	{catGame, []string{"tickwire/tickwire/game."}},
	{catTransport, []string{"tickwire/tickwire/netcode/transport."}},
	{catClient, []string{"tickwire/tickwire/netcode/client."}},
	{catBots, []string{"tickwire/tickwire/bots."}},
	{catSession, []string{"tickwire/tickwire/netcode/server.", "tickwire/tickwire/netcode/wire.",
		"github.com/prometheus", "google.golang.org/protobuf"}},
}

// setup marks the stacks of connection setup.
var setup = []string{"crypto/tls.", "handshake.(*cryptoSetup)", "crypto/ecdsa", "crypto/x509", "server.readHello",
	"transport.(*Endpoint).serveWT", "transport.(*Endpoint).serveWS", "transport.newWTConn", "transport.newWSConn",
	"(*Client).handshake", "transport.(*dialer)", "bots.(*swarm).connect", "client.Connect", "(*Server).handleConn.func",
	"quic-go.(*Conn).handleHandshake", "http3.(*ClientConn)", "quic-go.(*Transport).dial", "quic-go.(*Conn).dropEncryptionLevel"}

// categorize returns the category of a stack and the frame that decided it.
func categorize(frames []string) (cat, frame string) {
	for _, f := range frames {
		if slices.ContainsFunc(setup, func(s string) bool { return strings.Contains(f, s) }) {
			return catSetup, f
		}
	}
	for i, f := range frames {
		for _, r := range rules {
			if !slices.ContainsFunc(r.subs, func(s string) bool { return strings.Contains(f, s) }) {
				continue
			}
			if r.cat == "syscall" {
				return syscallKind(frames), strings.Join(frames[i:min(len(frames), i+6)], " < ")
			}
			return r.cat, f
		}
	}
	return catOther, frames[0]
}

// syscallKind tells which system call a stack makes from its callers.
func syscallKind(frames []string) string {
	has := func(subs ...string) bool {
		return slices.ContainsFunc(frames, func(f string) bool {
			return slices.ContainsFunc(subs, func(s string) bool { return strings.Contains(f, s) })
		})
	}
	switch {
	case has("runtime.futex"):
		return catFutex
	case has("WriteMsgUDP", "WritePacket", "sendmsg", "(*FD).Write", "(*netFD).Write", "(*conn).Write", "WriteTo"):
		return catSend
	case has("ReadMsgUDP", "ReadPacket", "recvmsg", "(*FD).Read", "(*netFD).Read", "(*conn).Read", "ReadFrom", "ReadBatch"):
		return catRecv
	case has("runtime.usleep", "runtime.osyield", "runtime.nanosleep"):
		return catSched
	default:
		return catEpoll
	}
}

func report(w io.Writer, cols []column, verbose bool) {
	fmt.Fprint(w, "| category |")
	for _, c := range cols {
		fmt.Fprintf(w, " %s |", c.name)
	}
	fmt.Fprint(w, "\n|---|")
	for range cols {
		fmt.Fprint(w, "---|")
	}
	fmt.Fprintln(w)
	cell := func(c column, d time.Duration) string {
		if d == 0 {
			return " |"
		}
		share := float64(d) / float64(c.total)
		if c.us > 0 {
			return fmt.Sprintf(" %.1f µs (%.0f %%) |", share*c.us, 100*share)
		}
		return fmt.Sprintf(" %.1f %% |", 100*share)
	}
	for _, cat := range order {
		if cat == catSetup || !slices.ContainsFunc(cols, func(c column) bool { return c.by[cat] > 0 }) {
			continue
		}
		fmt.Fprintf(w, "| %s |", cat)
		for _, c := range cols {
			fmt.Fprint(w, cell(c, c.by[cat]))
		}
		fmt.Fprintln(w)
	}
	fmt.Fprint(w, "| total (samples, setup left out) |")
	for _, c := range cols {
		if c.us > 0 {
			fmt.Fprintf(w, " %.1f µs (%v; setup %v) |", c.us, c.total, c.by[catSetup])
		} else {
			fmt.Fprintf(w, " %v (setup %v) |", c.total, c.by[catSetup])
		}
	}
	fmt.Fprintln(w)
	if !verbose {
		return
	}
	for _, c := range cols {
		for _, cat := range order {
			if c.by[cat] == 0 {
				continue
			}
			fmt.Fprintf(w, "\n%s, %s:\n", c.name, cat)
			fs := make([]string, 0, len(c.deciders[cat]))
			for f := range c.deciders[cat] {
				fs = append(fs, f)
			}
			slices.SortFunc(fs, func(a, b string) int { return int(c.deciders[cat][b] - c.deciders[cat][a]) })
			for _, f := range fs[:min(len(fs), 8)] {
				fmt.Fprintf(w, "  %6v  %s\n", c.deciders[cat][f], f)
			}
		}
	}
}
