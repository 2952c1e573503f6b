package bots

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"
)

// userHZ is the unit of /proc/PID/stat's CPU times on Linux (USER_HZ,
// 100 on every architecture Go supports).
const userHZ = 100

// procCPU returns the user+sys CPU time of process pid from /proc.
func procCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, fmt.Errorf("server cpu: %w", err)
	}
	// The command name (field 2) may hold spaces; fields resume after ')'.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, errors.New("server cpu: malformed /proc stat")
	}
	f := strings.Fields(string(b[i+1:]))
	// f[0] is field 3 (state); utime and stime are fields 14 and 15.
	if len(f) < 13 {
		return 0, errors.New("server cpu: short /proc stat")
	}
	ut, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, errors.New("server cpu: malformed /proc stat times")
	}
	return time.Duration(ut+st) * time.Second / userHZ, nil
}

// procPeakRSS returns process pid's peak resident set (VmHWM) in bytes.
func procPeakRSS(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, fmt.Errorf("server memory: %w", err)
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			f := strings.Fields(rest)
			if len(f) >= 1 {
				kb, err := strconv.ParseInt(f[0], 10, 64)
				if err == nil {
					return kb << 10, nil
				}
			}
		}
	}
	return 0, errors.New("server memory: no VmHWM in /proc status")
}

// wireCount is a reading of a byte counter: down (server to clients) and
// up, or only their total when the counter cannot tell them apart.
type wireCount struct {
	Split       bool
	Down, Up    int64
	TotalOnly   int64
	Description string
}

func (w wireCount) total() int64 {
	if w.Split {
		return w.Down + w.Up
	}
	return w.TotalOnly
}

// readNetDev reads the received bytes of iface from /proc/net/dev. On a
// loopback device every byte is both sent and received, so this is the
// total carried in both directions, link headers included.
func readNetDev(iface string) (wireCount, error) {
	b, err := os.ReadFile("/proc/net/dev")
	if err != nil {
		return wireCount{}, fmt.Errorf("wire bytes: %w", err)
	}
	return parseNetDev(b, iface)
}

func parseNetDev(b []byte, iface string) (wireCount, error) {
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		name, rest, ok := strings.Cut(sc.Text(), ":")
		if !ok || strings.TrimSpace(name) != iface {
			continue
		}
		f := strings.Fields(rest)
		if len(f) < 9 {
			return wireCount{}, fmt.Errorf("wire bytes: short /proc/net/dev line for %s", iface)
		}
		rx, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil {
			return wireCount{}, fmt.Errorf("wire bytes: %s rx bytes: %w", iface, err)
		}
		return wireCount{TotalOnly: rx, Description: "/proc/net/dev " + iface + " (both directions)"}, nil
	}
	return wireCount{}, fmt.Errorf("wire bytes: no interface %s in /proc/net/dev", iface)
}

// runWireCmd runs a byte-counter command (sh -c) that prints either
// "DOWN UP" (bytes server to clients, clients to server) or "TOTAL".
func runWireCmd(ctx context.Context, cmd string) (wireCount, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "sh", "-c", cmd).Output()
	if err != nil {
		return wireCount{}, fmt.Errorf("wire bytes: %q: %w", cmd, err)
	}
	return parseWireOutput(out, cmd)
}

func parseWireOutput(out []byte, cmd string) (wireCount, error) {
	f := strings.Fields(string(out))
	var n []int64
	for _, s := range f {
		v, err := strconv.ParseInt(s, 10, 64)
		if err != nil || v < 0 {
			return wireCount{}, fmt.Errorf("wire bytes: %q printed %q, want DOWN UP or TOTAL", cmd, strings.TrimSpace(string(out)))
		}
		n = append(n, v)
	}
	switch len(n) {
	case 1:
		return wireCount{TotalOnly: n[0], Description: cmd}, nil
	case 2:
		return wireCount{Split: true, Down: n[0], Up: n[1], Description: cmd}, nil
	}
	return wireCount{}, fmt.Errorf("wire bytes: %q printed %d numbers, want DOWN UP or TOTAL", cmd, len(n))
}
