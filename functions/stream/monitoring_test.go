package main

import (
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/blastlog/blastlog/internal/testio"
)

const monitoring = "../../infra/monitoring"

// The alert rules pass promtool's check and its unit tests (each alert firing and not
// firing).
func TestAlertRules(t *testing.T) {
	promtool := testio.Tool(t, "promtool")
	rules, _ := filepath.Glob(filepath.Join(monitoring, "*rules*.yaml"))
	tests, _ := filepath.Glob(filepath.Join(monitoring, "*test*.yaml"))
	var ruleFiles []string
	for _, r := range rules {
		if !strings.Contains(filepath.Base(r), "test") {
			ruleFiles = append(ruleFiles, r)
		}
	}
	if len(ruleFiles) == 0 || len(tests) == 0 {
		t.Fatalf("rules %v, tests %v", ruleFiles, tests)
	}
	if out, err := exec.Command(promtool, append([]string{"check", "rules"}, ruleFiles...)...).CombinedOutput(); err != nil {
		t.Fatalf("promtool check rules: %v\n%s", err, out)
	}
	out, err := exec.Command(promtool, append([]string{"test", "rules"}, tests...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("promtool test rules: %v\n%s", err, out)
	}
	t.Logf("%s", out)
}

var metricName = regexp.MustCompile(`\bblastlog_[a-z_]+`)

// The dashboard and the rules read only metrics that /metrics exports: read from the
// dev stack in its own process (collector, archive and notifications all on).
func TestDashboardAndRulesReadExportedMetrics(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "blastlog-stream")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("%v %s", err, out)
	}
	port := freePort(t)
	cmd := exec.Command(bin, "-dev")
	cmd.Env = append(os.Environ(), "BLASTLOG_ADDR=127.0.0.1:"+port, "BLASTLOG_ARCHIVE_DIR="+t.TempDir(),
		"BLASTLOG_NOTIFY_URLS=http://127.0.0.1:1/hook")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	var exported string
	for i := 0; ; i++ {
		res, err := http.Get("http://127.0.0.1:" + port + "/metrics")
		if err == nil {
			b, _ := io.ReadAll(res.Body)
			res.Body.Close()
			exported = string(b)
			break
		}
		if i > 200 {
			t.Fatal("the dev stack did not start")
		}
		time.Sleep(50 * time.Millisecond)
	}
	have := map[string]bool{}
	for _, line := range strings.Split(exported, "\n") {
		if f := strings.Fields(line); len(f) >= 3 && f[0] == "#" && f[1] == "TYPE" {
			have[f[2]] = true
		}
	}
	raw, err := os.ReadFile(filepath.Join(monitoring, "blastlog-dashboard.json"))
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Panels []struct {
			Title   string
			Targets []struct{ Expr string }
		}
	}
	if err := json.Unmarshal(raw, &dash); err != nil || len(dash.Panels) == 0 {
		t.Fatalf("dashboard: %v", err)
	}
	used := map[string]string{}
	for _, p := range dash.Panels {
		for _, tg := range p.Targets {
			for _, m := range metricName.FindAllString(tg.Expr, -1) {
				used[m] = "dashboard panel " + p.Title
			}
		}
	}
	rules, _ := os.ReadFile(filepath.Join(monitoring, "blastlog-rules.yaml"))
	for _, m := range metricName.FindAllString(string(rules), -1) {
		used[m] = "rules"
	}
	var names []string
	for m, where := range used {
		names = append(names, m)
		if !have[m] {
			t.Errorf("%s reads %s, which /metrics does not export", where, m)
		}
	}
	sort.Strings(names)
	t.Logf("%d metrics read, all exported: %s", len(names), strings.Join(names, " "))
}
