package bots

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// sample is one line of a Prometheus text exposition: a metric name, its
// labels in order, and the value.
type sample struct {
	Name   string
	Labels []label
	Value  float64
}

type label struct{ Name, Value string }

// Label returns the value of the label called name ("" when absent).
func (s *sample) Label(name string) string {
	for _, l := range s.Labels {
		if l.Name == name {
			return l.Value
		}
	}
	return ""
}

// Limits on what parseExposition accepts from a server.
const (
	maxExpositionLine    = 64 << 10
	maxExpositionSamples = 200_000
)

var errExposition = errors.New("metrics: malformed exposition")

// parseExposition reads the Prometheus text format (version 0.0.4): one
// sample per line, `name{label="value",...} value [timestamp]`, comments
// and blank lines skipped. It reads only what the swarm needs (names,
// labels, values; types are implied by the names) and treats the input as
// hostile: errors, never panics, and bounded sizes.
func parseExposition(data []byte) ([]sample, error) {
	var out []sample
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 4096), maxExpositionLine)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		s, err := parseSampleLine(line)
		if err != nil {
			return nil, fmt.Errorf("%w: line %d: %v", errExposition, n, err)
		}
		if len(out) == maxExpositionSamples {
			return nil, fmt.Errorf("%w: more than %d samples", errExposition, maxExpositionSamples)
		}
		out = append(out, s)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%w: %v", errExposition, err)
	}
	return out, nil
}

func parseSampleLine(line string) (sample, error) {
	var s sample
	i := 0
	for i < len(line) && isNameChar(line[i], i == 0) {
		i++
	}
	if i == 0 {
		return s, errors.New("no metric name")
	}
	s.Name, line = line[:i], line[i:]
	if strings.HasPrefix(line, "{") {
		var err error
		s.Labels, line, err = parseLabels(line[1:])
		if err != nil {
			return s, err
		}
	}
	fields := strings.Fields(line)
	if len(fields) < 1 || len(fields) > 2 {
		return s, errors.New("want a value and an optional timestamp")
	}
	v, err := parseValue(fields[0])
	if err != nil {
		return s, err
	}
	if len(fields) == 2 {
		if _, err := strconv.ParseInt(fields[1], 10, 64); err != nil {
			return s, fmt.Errorf("bad timestamp %q", fields[1])
		}
	}
	s.Value = v
	return s, nil
}

func isNameChar(c byte, first bool) bool {
	switch {
	case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c == '_', c == ':':
		return true
	case c >= '0' && c <= '9':
		return !first
	}
	return false
}

// parseLabels reads `name="value",...}` and returns the rest of the line.
func parseLabels(s string) ([]label, string, error) {
	var labels []label
	for {
		s = strings.TrimLeft(s, " \t")
		if strings.HasPrefix(s, "}") {
			return labels, s[1:], nil
		}
		i := 0
		for i < len(s) && isNameChar(s[i], i == 0) && s[i] != ':' {
			i++
		}
		if i == 0 {
			return nil, "", errors.New("bad label name")
		}
		name := s[:i]
		s = strings.TrimLeft(s[i:], " \t")
		if !strings.HasPrefix(s, `="`) {
			return nil, "", fmt.Errorf("label %s: want =\"", name)
		}
		s = s[2:]
		var v strings.Builder
		closed := false
		for j := 0; j < len(s); j++ {
			c := s[j]
			if c == '"' {
				s, closed = s[j+1:], true
				break
			}
			if c == '\\' {
				if j+1 == len(s) {
					break
				}
				j++
				switch s[j] {
				case 'n':
					c = '\n'
				case '\\', '"':
					c = s[j]
				default:
					return nil, "", fmt.Errorf("label %s: bad escape \\%c", name, s[j])
				}
			}
			v.WriteByte(c)
		}
		if !closed {
			return nil, "", fmt.Errorf("label %s: unterminated value", name)
		}
		labels = append(labels, label{name, v.String()})
		s = strings.TrimLeft(s, " \t")
		switch {
		case strings.HasPrefix(s, ","):
			s = s[1:]
		case strings.HasPrefix(s, "}"):
		default:
			return nil, "", errors.New("want , or } after a label")
		}
	}
}

func parseValue(f string) (float64, error) {
	switch f {
	case "+Inf", "Inf":
		return math.Inf(1), nil
	case "-Inf":
		return math.Inf(-1), nil
	case "NaN":
		return math.NaN(), nil
	}
	v, err := strconv.ParseFloat(f, 64)
	if err != nil {
		return 0, fmt.Errorf("bad value %q", f)
	}
	return v, nil
}
