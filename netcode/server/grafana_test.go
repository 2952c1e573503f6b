package server_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"

	"github.com/tickwire/tickwire/netcode/client"
	"github.com/tickwire/tickwire/netcode/server"
	"github.com/tickwire/tickwire/netcode/server/servertest"
	"github.com/tickwire/tickwire/netcode/transport"
)

// grafanaDashboard is the dashboard shipped for Prometheus users.
var grafanaDashboard = filepath.Join("..", "..", "deploy", "grafana", "tickwire-dashboard.json")

// The PromQL the dashboard sends is read well enough to name the series
// it asks for: strings, label matchers, ranges and grouping clauses are
// cut out, and what is left that is not a function, an aggregation or a
// keyword is a metric name.
var (
	promString    = regexp.MustCompile(`"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|` + "`[^`]*`")
	promMatchers  = regexp.MustCompile(`\{[^}]*\}`)
	promRange     = regexp.MustCompile(`\[[^\]]*\]`)
	promModifier  = regexp.MustCompile(`\boffset\s+-?[0-9a-zA-Z]+|@\s*(?:start\(\)|end\(\)|[0-9.]+)`)
	promGrouping  = regexp.MustCompile(`\b(?:by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)`)
	promNumber    = regexp.MustCompile(`\b\d+(?:\.\d+)?(?:[eE][+-]?\d+)?\b`)
	promIdent     = regexp.MustCompile(`[a-zA-Z_:][a-zA-Z0-9_:]*`)
	promSelector  = regexp.MustCompile(`([a-zA-Z_:][a-zA-Z0-9_:]*)\s*\{([^}]*)\}`)
	promLabelName = regexp.MustCompile(`([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|=)`)
	labelValues   = regexp.MustCompile(`^label_values\((.+),\s*[a-zA-Z_][a-zA-Z0-9_]*\)$`)
	promKeywords  = []string{"and", "or", "unless", "bool", "offset", "inf", "nan", "Inf", "NaN"}
)

// promQuery is what one expression asks for.
type promQuery struct {
	metrics []string
	labels  map[string][]string // metric -> label names it is matched on
	grouped []string            // label names of by/without/on/ignoring clauses
}

func parsePromQL(expr string) promQuery {
	if m := labelValues.FindStringSubmatch(expr); m != nil { // a variable's query
		expr = m[1]
	}
	q := promQuery{labels: map[string][]string{}}
	for _, m := range promSelector.FindAllStringSubmatch(expr, -1) {
		for _, l := range promLabelName.FindAllStringSubmatch(promString.ReplaceAllString(m[2], `""`), -1) {
			q.labels[m[1]] = append(q.labels[m[1]], l[1])
		}
	}
	s := promString.ReplaceAllString(expr, `""`)
	s = promMatchers.ReplaceAllString(s, " ")
	s = promRange.ReplaceAllString(s, " ")
	s = promModifier.ReplaceAllString(s, " ")
	for _, m := range promGrouping.FindAllStringSubmatch(s, -1) {
		for _, l := range strings.Split(m[1], ",") {
			if l = strings.TrimSpace(l); l != "" {
				q.grouped = append(q.grouped, l)
			}
		}
	}
	s = promGrouping.ReplaceAllString(s, " ")
	s = promNumber.ReplaceAllString(s, " ")
	for _, loc := range promIdent.FindAllStringIndex(s, -1) {
		name := s[loc[0]:loc[1]]
		rest := strings.TrimLeft(s[loc[1]:], " \t\n")
		if strings.HasPrefix(rest, "(") || slices.Contains(promKeywords, name) {
			continue // a function or an aggregation; a keyword
		}
		if !slices.Contains(q.metrics, name) {
			q.metrics = append(q.metrics, name)
		}
	}
	return q
}

func TestParsePromQLFindsTheMetricsAndLabels(t *testing.T) {
	for _, tt := range []struct {
		expr    string
		metrics []string
		grouped []string
	}{
		{`sum(tickwire_players{instance=~"$instance"})`, []string{"tickwire_players"}, nil},
		{`histogram_quantile(0.99, sum by (le, room) (rate(tickwire_tick_duration_seconds_bucket{room=~"$room"}[$__rate_interval])))`,
			[]string{"tickwire_tick_duration_seconds_bucket"}, []string{"le", "room"}},
		{`sum(rate(a_total{result="late"}[5m])) / sum(rate(b_total{x="a{b}"}[5m])) > bool 0.5`, []string{"a_total", "b_total"}, nil},
		{`rate(process_cpu_seconds_total[1m]) * on (instance) group_left (version) go_info`,
			[]string{"process_cpu_seconds_total", "go_info"}, []string{"instance", "version"}},
		{`label_values(tickwire_players{instance=~"$instance"}, room)`, []string{"tickwire_players"}, nil},
		{`go_goroutines offset 5m`, []string{"go_goroutines"}, nil},
		{`go_goroutines @ end()`, []string{"go_goroutines"}, nil},
		{`1e-3 * max without (room) (tickwire_tick_duration_max_seconds)`, []string{"tickwire_tick_duration_max_seconds"}, []string{"room"}},
	} {
		q := parsePromQL(tt.expr)
		if !slices.Equal(q.metrics, tt.metrics) || !slices.Equal(q.grouped, tt.grouped) {
			t.Errorf("parsePromQL(%s) = metrics %v grouped %v, want %v %v", tt.expr, q.metrics, q.grouped, tt.metrics, tt.grouped)
		}
	}
	if got := parsePromQL(`sum(x{a="1", b!~"2"})`).labels["x"]; !slices.Equal(got, []string{"a", "b"}) {
		t.Errorf("labels of x: %v", got)
	}
}

// dashboardQueries collects every PromQL expression of the dashboard:
// its panels' targets (rows' panels too) and its variables' queries.
func dashboardQueries(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	type panel struct {
		Title   string `json:"title"`
		Targets []struct {
			Expr string `json:"expr"`
		} `json:"targets"`
		Panels []json.RawMessage `json:"panels"`
	}
	var d struct {
		Panels     []json.RawMessage `json:"panels"`
		Templating struct {
			List []struct {
				Name  string          `json:"name"`
				Type  string          `json:"type"`
				Query json.RawMessage `json:"query"`
			} `json:"list"`
		} `json:"templating"`
	}
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	var exprs []string
	var walk func([]json.RawMessage)
	walk = func(ps []json.RawMessage) {
		for _, raw := range ps {
			var p panel
			if err := json.Unmarshal(raw, &p); err != nil {
				t.Fatalf("%s: a panel: %v", path, err)
			}
			for _, tg := range p.Targets {
				if tg.Expr == "" {
					t.Errorf("panel %q has a target without an expression", p.Title)
				}
				exprs = append(exprs, tg.Expr)
			}
			walk(p.Panels)
		}
	}
	walk(d.Panels)
	hasDatasource := false
	for _, v := range d.Templating.List {
		switch v.Type {
		case "datasource":
			hasDatasource = true
		case "query":
			var q struct {
				Query string `json:"query"`
			}
			if err := json.Unmarshal(v.Query, &q); err != nil || q.Query == "" {
				var s string
				if err := json.Unmarshal(v.Query, &s); err != nil {
					t.Fatalf("variable %s: query %s", v.Name, v.Query)
				}
				q.Query = s
			}
			exprs = append(exprs, q.Query)
		}
	}
	if !hasDatasource {
		t.Error("the dashboard has no datasource variable")
	}
	return exprs
}

// TestGrafanaDashboardQueriesOnlyExportedMetrics reads every query of the
// Grafana dashboard, starts a server with a player on each transport and
// checks that /metrics exports every metric the queries name, with the
// labels they match or group on. Renaming a metric or a label breaks
// this test rather than, silently, the dashboard.
func TestGrafanaDashboardQueriesOnlyExportedMetrics(t *testing.T) {
	exprs := dashboardQueries(t, grafanaDashboard)
	if len(exprs) < 20 {
		t.Fatalf("only %d queries in %s", len(exprs), grafanaDashboard)
	}
	srv := servertest.Start(t, &server.Server{})
	for _, kind := range []transport.Kind{transport.WebTransport, transport.WebSocket} {
		c, err := client.Connect(context.Background(), client.Config{Server: srv.URL(), Name: "graf", Logger: servertest.Logger(t),
			Dial: transport.DialOptions{Transport: kind, TrustServerCertHash: true}})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
	}
	fams := scrape(t, srv.URL())

	// Labels Prometheus adds to every series it scrapes, and the
	// histogram buckets' own.
	added := map[string]bool{"instance": true, "job": true, "le": true}
	checked := map[string]bool{}
	for _, expr := range exprs {
		q := parsePromQL(expr)
		if len(q.metrics) == 0 {
			t.Errorf("no metric found in %s", expr)
		}
		have := map[string]bool{}
		for _, name := range q.metrics {
			fam := exportedFamily(fams, name)
			if fam == nil {
				t.Errorf("%s is not exported (in %s)", name, expr)
				continue
			}
			checked[name] = true
			labels := familyLabels(fam)
			for l := range labels {
				have[l] = true
			}
			for _, l := range q.labels[name] {
				if !added[l] && !labels[l] {
					t.Errorf("%s has no label %q (in %s)", name, l, expr)
				}
			}
		}
		for _, l := range q.grouped {
			if !added[l] && !have[l] {
				t.Errorf("no metric of %s has the label %q it groups on", expr, l)
			}
		}
	}
	names := make([]string, 0, len(checked))
	for n := range checked {
		names = append(names, n)
	}
	sort.Strings(names)
	t.Logf("%d queries; every metric exported: %s", len(exprs), strings.Join(names, " "))
}

// exportedFamily is the family a queried name belongs to: itself, or
// the histogram (or summary) whose _bucket, _sum or _count series it is.
func exportedFamily(fams map[string]*dto.MetricFamily, name string) *dto.MetricFamily {
	if f := fams[name]; f != nil && len(f.GetMetric()) > 0 {
		return f
	}
	for _, suffix := range []string{"_bucket", "_sum", "_count"} {
		base, ok := strings.CutSuffix(name, suffix)
		if !ok {
			continue
		}
		f := fams[base]
		if f == nil || len(f.GetMetric()) == 0 {
			return nil
		}
		switch f.GetType() {
		case dto.MetricType_HISTOGRAM:
			return f
		case dto.MetricType_SUMMARY:
			if suffix != "_bucket" {
				return f
			}
		}
	}
	return nil
}

func familyLabels(f *dto.MetricFamily) map[string]bool {
	out := map[string]bool{}
	for _, m := range f.GetMetric() {
		for _, l := range m.GetLabel() {
			out[l.GetName()] = true
		}
	}
	return out
}
