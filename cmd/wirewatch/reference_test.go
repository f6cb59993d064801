package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/wirewatch/wirewatch/storage/storagetest"
)

func TestReferenceArticlesRankMatches(t *testing.T) {
	t.Parallel()
	dbURL := storagetest.Schema(t)
	demo := serveDir(t, "../../demo/feeds")
	late := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, `<rss version="2.0"><channel><title>Late</title>
<item><title>Wagner fighters and Syrian militia reinforce Haftar near Tripoli</title><link>https://late.example/1</link>
<description>Russia and the Assad government moved fighters to Libya for Khalifa Haftar's offensive, U.S. officials said.</description></item>
</channel></rss>`)
	}))
	t.Cleanup(late.Close)
	cfg := demoConfig(t, demo.URL, "")
	env := []string{"DATABASE_URL=" + dbURL}
	count := counter(t, dbURL)
	if r := wirewatch(t, "", env, "poll", "--migrate", "--config", cfg); r.code != 0 {
		t.Fatalf("poll: exit %d\n%s", r.code, r.stderr)
	}
	if n := count("SELECT count(*) FROM items WHERE relevance IS NOT NULL"); n != 0 {
		t.Fatalf("%d items scored without a reference", n)
	}

	r := wirewatch(t, "", env, "reference", "add", "--config", cfg, "../../demo/reference.md")
	if r.code != 0 || !strings.Contains(r.stdout, `added reference article 1, "Russia and Syria said to move fighters to Libya for Haftar"`) {
		t.Fatalf("reference add: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if n := count("SELECT count(*) FROM items WHERE relevance IS NULL"); n != 0 {
		t.Fatalf("%d items not scored after reference add", n)
	}
	if r := wirewatch(t, "", env, "reference", "list", "--config", cfg); r.code != 0 || !strings.Contains(r.stdout, "Russia and Syria said") {
		t.Fatalf("reference list: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}

	r = wirewatch(t, "", env, "matches", "--config", cfg, "--sort", "relevance", "--format", "json", "--limit", "0")
	if r.code != 0 {
		t.Fatalf("matches: exit %d\n%s", r.code, r.stderr)
	}
	prev := 2.0
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	for _, line := range lines {
		var m struct {
			Title     string
			Relevance *float64
		}
		if err := json.Unmarshal([]byte(line), &m); err != nil || m.Relevance == nil || *m.Relevance > prev {
			t.Fatalf("not sorted by relevance at %s (%v)", line, err)
		}
		prev = *m.Relevance
	}
	if r := wirewatch(t, "", env, "matches", "--config", cfg, "--format", "csv", "--limit", "1"); !strings.Contains(strings.SplitN(r.stdout, "\n", 2)[0], ",relevance") {
		t.Fatalf("csv header without relevance:\n%s", r.stdout)
	}

	// A match stored after the reference is scored when it is stored.
	cfg2 := demoConfig(t, demo.URL, "  - url: "+late.URL+"/late.xml\n")
	if r := wirewatch(t, "", env, "poll", "--config", cfg2); r.code != 0 {
		t.Fatalf("second poll: exit %d\n%s", r.code, r.stderr)
	}
	if n := count("SELECT count(*) FROM items WHERE relevance IS NULL"); n != 0 {
		t.Fatalf("%d new items stored without a score", n)
	}
	// It is about the event: in the top quarter of all matches.
	rank := count(`SELECT count(*) FROM items WHERE relevance >= (SELECT relevance FROM items WHERE link = 'https://late.example/1')`)
	if total := count("SELECT count(*) FROM items"); rank > total/4 {
		t.Fatalf("the new match about the event ranks %d of %d", rank, total)
	}

	if r := wirewatch(t, "", env, "reference", "remove", "--config", cfg, "1"); r.code != 0 {
		t.Fatalf("reference remove: exit %d\n%s", r.code, r.stderr)
	}
	if n := count("SELECT count(*) FROM items WHERE relevance IS NOT NULL"); n != 0 {
		t.Fatalf("%d items keep a score with no reference left", n)
	}
	if r := wirewatch(t, "", env, "reference", "remove", "--config", cfg, "1"); r.code != 1 || !strings.Contains(r.stderr, "no reference article 1") {
		t.Fatalf("removing again: exit %d\n%s", r.code, r.stderr)
	}
}
