package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/wirewatch/wirewatch/storage/storagetest"
)

func TestFeedsListsHealth(t *testing.T) {
	t.Parallel()
	dbURL := storagetest.Schema(t)
	srv := serveDir(t, "../../demo/feeds")
	cfg := demoConfig(t, srv.URL, "  - url: "+srv.URL+"/missing.xml\n    name: Missing\n")
	env := []string{"DATABASE_URL=" + dbURL}
	if r := wirewatch(t, "", env, "poll", "--migrate", "--config", cfg); r.code != 0 {
		t.Fatalf("poll: exit %d\n%s", r.code, r.stderr)
	}

	r := wirewatch(t, "", env, "feeds", "--config", cfg)
	if r.code != 0 {
		t.Fatalf("feeds: exit %d\n%s", r.code, r.stderr)
	}
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if len(lines) != 11 || !strings.HasPrefix(lines[0], "STATUS") {
		t.Fatalf("want a header and 10 feeds:\n%s", r.stdout)
	}
	// The failing feeds come first, with their error kind; every line has its URL.
	if !strings.HasPrefix(lines[1], "failed") || !strings.Contains(r.stdout, "http: HTTP 404") ||
		!strings.Contains(r.stdout, "parse: ") || !strings.Contains(r.stdout, srv.URL+"/sahel-tribune.xml") {
		t.Fatalf("feeds:\n%s", r.stdout)
	}

	r = wirewatch(t, "", env, "feeds", "list", "--failing", "--format", "json", "--config", cfg)
	if r.code != 0 {
		t.Fatalf("feeds --failing: exit %d\n%s", r.code, r.stderr)
	}
	var failing []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(r.stdout), "\n") {
		var f map[string]any
		if err := json.Unmarshal([]byte(line), &f); err != nil {
			t.Fatalf("%v: %s", err, line)
		}
		failing = append(failing, f)
	}
	if len(failing) != 2 {
		t.Fatalf("failing feeds = %v", failing)
	}
	for _, f := range failing {
		if f["consecutive_failures"] != 1.0 || f["last_error_kind"] == "" || f["next_poll_at"] == nil || f["url"] == "" {
			t.Fatalf("failing feed = %v", f)
		}
	}
}
