package deploy

import (
	"encoding/json"
	"os"
	"regexp"
	"sort"
	"strings"
	"testing"
)

// exportedMetrics returns the metric names cachenode and cacheclient export,
// read from their source, with the series names of their histograms.
func exportedMetrics(t *testing.T) map[string]bool {
	t.Helper()
	names := map[string]bool{}
	add := func(name string, histogram bool) {
		names[name] = true
		if histogram {
			for _, s := range []string{"_bucket", "_sum", "_count"} {
				names[name+s] = true
			}
		}
	}
	node, err := os.ReadFile("../cachenode/stats_metrics.go")
	if err != nil {
		t.Fatal(err)
	}
	// d("keys", "help"...): a cachenode_ Desc; Name: "...": the histogram.
	for _, m := range regexp.MustCompile(`\bd\("([a-z_]+)"`).FindAllSubmatch(node, -1) {
		add("cachenode_"+string(m[1]), false)
	}
	for _, m := range regexp.MustCompile(`Name:\s*"([a-z_]+)"`).FindAllSubmatch(node, -1) {
		add(string(m[1]), true)
	}
	client, err := os.ReadFile("../cacheclient/stats.go")
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range regexp.MustCompile(`NewDesc\(\s*"(cachetier_client_[a-z0-9_]+)"`).FindAllSubmatch(client, -1) {
		add(string(m[1]), false)
	}
	for _, m := range regexp.MustCompile(`Name:\s*"(cachetier_client_[a-z0-9_]+)"`).FindAllSubmatch(client, -1) {
		add(string(m[1]), true)
	}
	for _, must := range []string{"cachenode_keyspace_hits_total", "cachenode_ready", "cachenode_command_duration_seconds_bucket",
		"cachetier_client_l1_hits_total", "cachetier_client_node_up", "cachetier_client_origin_load_seconds_bucket"} {
		if !names[must] {
			t.Fatalf("metric %s not found in the source (found %d names): has the metrics code moved?", must, len(names))
		}
	}
	return names
}

// dashboard is the part of a Grafana dashboard the checks read.
type dashboard struct {
	Title      string  `json:"title"`
	UID        string  `json:"uid"`
	Panels     []panel `json:"panels"`
	Templating struct {
		List []struct {
			Name  string `json:"name"`
			Type  string `json:"type"`
			Query string `json:"query"`
		} `json:"list"`
	} `json:"templating"`
}

type panel struct {
	ID         int    `json:"id"`
	Type       string `json:"type"`
	Title      string `json:"title"`
	Datasource *struct {
		Type string `json:"type"`
		UID  string `json:"uid"`
	} `json:"datasource"`
	Targets []struct {
		Expr  string `json:"expr"`
		RefID string `json:"refId"`
	} `json:"targets"`
	Panels []panel `json:"panels"`
}

func TestDashboard(t *testing.T) {
	b, err := os.ReadFile("grafana/cachetier.json")
	if err != nil {
		t.Fatal(err)
	}
	var d dashboard
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatalf("grafana/cachetier.json: %v", err)
	}
	if d.Title == "" || d.UID == "" {
		t.Error("dashboard: want a title and a uid")
	}
	hasDS := false
	for _, v := range d.Templating.List {
		hasDS = hasDS || (v.Name == "datasource" && v.Type == "datasource" && v.Query == "prometheus")
	}
	if !hasDS {
		t.Error("dashboard: want a $datasource variable of type prometheus")
	}

	known := exportedMetrics(t)
	ours := regexp.MustCompile(`\b(?:cachenode|cachetier_client)_[a-z0-9_]+\b`)
	ids := map[int]bool{}
	used := map[string]bool{}
	var walk func([]panel)
	walk = func(ps []panel) {
		for _, p := range ps {
			if ids[p.ID] {
				t.Errorf("panel %q: id %d used twice", p.Title, p.ID)
			}
			ids[p.ID] = true
			walk(p.Panels)
			if p.Type == "row" {
				continue
			}
			if p.Datasource == nil || p.Datasource.UID != "${datasource}" {
				t.Errorf("panel %q: want datasource uid ${datasource}", p.Title)
			}
			if len(p.Targets) == 0 {
				t.Errorf("panel %q: no queries", p.Title)
			}
			refs := map[string]bool{}
			for _, tg := range p.Targets {
				if refs[tg.RefID] {
					t.Errorf("panel %q: refId %s twice", p.Title, tg.RefID)
				}
				refs[tg.RefID] = true
				names := ours.FindAllString(tg.Expr, -1)
				if len(names) == 0 {
					t.Errorf("panel %q: query %q uses no cachenode_ or cachetier_client_ metric", p.Title, tg.Expr)
				}
				for _, n := range names {
					used[n] = true
					if !known[n] {
						t.Errorf("panel %q: query uses %s, which neither cachenode nor cacheclient exports", p.Title, n)
					}
				}
				if err := balanced(tg.Expr); err != "" {
					t.Errorf("panel %q: query %q: %s", p.Title, tg.Expr, err)
				}
			}
		}
	}
	walk(d.Panels)

	// The panels the dashboard promises (docs/operations.md).
	for _, m := range []string{
		"cachenode_ready", "cachenode_commands_total", "cachenode_keyspace_hits_total", "cachenode_memory_used_bytes",
		"cachenode_memory_max_bytes", "cachenode_evicted_keys_total", "cachenode_connected_clients",
		"cachetier_client_l1_hits_total", "cachetier_client_l2_hits_total", "cachetier_client_origin_loads_total",
		"cachetier_client_origin_errors_total", "cachetier_client_stale_served_total", "cachetier_client_shed_total",
		"cachetier_client_node_up", "cachetier_client_leases_won_total",
	} {
		if !used[m] {
			t.Errorf("dashboard: no panel shows %s", m)
		}
	}
	var unused []string
	for n := range known {
		if !used[n] && !strings.HasSuffix(n, "_sum") && !strings.HasSuffix(n, "_count") && !known[n+"_bucket"] {
			unused = append(unused, n)
		}
	}
	sort.Strings(unused)
	if len(unused) > 0 {
		t.Logf("metrics not on the dashboard: %v", unused)
	}
}

// balanced checks a PromQL expression's brackets and quotes (a syntax check
// short of a PromQL parser).
func balanced(expr string) string {
	var stack []rune
	inQuote := false
	for _, r := range expr {
		if inQuote {
			inQuote = r != '"'
			continue
		}
		switch r {
		case '"':
			inQuote = true
		case '(', '[', '{':
			stack = append(stack, r)
		case ')', ']', '}':
			open := map[rune]rune{')': '(', ']': '[', '}': '{'}[r]
			if len(stack) == 0 || stack[len(stack)-1] != open {
				return "unbalanced " + string(r)
			}
			stack = stack[:len(stack)-1]
		}
	}
	if inQuote || len(stack) > 0 {
		return "unclosed bracket or quote"
	}
	return ""
}
