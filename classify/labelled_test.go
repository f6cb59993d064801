package classify_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/wirewatch/wirewatch/classify"
	"github.com/wirewatch/wirewatch/config"
)

// The labelled set: headlines and summaries in the style of real ones
// (English, Arabic, Russian, French, German), half of them traps or foreign,
// each with the subjects a careful reader finds in it.
type labelled struct {
	ID      string   `json:"id"`
	Lang    string   `json:"lang"`
	Title   string   `json:"title"`
	Summary string   `json:"summary"`
	Labels  []string `json:"labels"`
	Trap    bool     `json:"trap"`
	Note    string   `json:"note"`
}

// The shipped watchlist must find the subjects of the labelled set with
// precision and recall of at least 0.97, counted over (item, subject) pairs.
func TestDefaultWatchlistOnLabelledSet(t *testing.T) {
	t.Parallel()
	cfg, err := config.Parse("../config/wirewatch.yaml", mustRead(t, "../config/wirewatch.yaml"), func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	var entries []classify.Entry
	for _, w := range cfg.Watchlist {
		entries = append(entries, classify.Entry{Name: w.Name, Terms: w.Terms, Query: w.Query, Fields: w.Fields})
	}
	m, err := classify.Compile(entries)
	if err != nil {
		t.Fatal(err)
	}

	type count struct{ tp, fp, fn int }
	per := map[string]*count{}
	byLang := map[string]*count{}
	var total count
	var report []string
	for _, it := range readLabelled(t) {
		got := m.Match(classify.Document{Title: it.Title, Summary: it.Summary}).Watches
		for _, subject := range m.Names() {
			want, have := slices.Contains(it.Labels, subject), slices.Contains(got, subject)
			c := per[subject]
			if c == nil {
				c = &count{}
				per[subject] = c
			}
			l := byLang[it.Lang]
			if l == nil {
				l = &count{}
				byLang[it.Lang] = l
			}
			switch {
			case want && have:
				c.tp, l.tp, total.tp = c.tp+1, l.tp+1, total.tp+1
			case have:
				c.fp, l.fp, total.fp = c.fp+1, l.fp+1, total.fp+1
				report = append(report, fmt.Sprintf("false %-6s %s: %s | %s", subject, it.ID, it.Title, it.Summary))
			case want:
				c.fn, l.fn, total.fn = c.fn+1, l.fn+1, total.fn+1
				report = append(report, fmt.Sprintf("missed %-6s %s: %s | %s", subject, it.ID, it.Title, it.Summary))
			}
		}
	}
	pr := func(c count) (float64, float64) {
		return float64(c.tp) / float64(c.tp+c.fp), float64(c.tp) / float64(c.tp+c.fn)
	}
	keys := func(m map[string]*count) []string {
		out := make([]string, 0, len(m))
		for k := range m {
			out = append(out, k)
		}
		sort.Strings(out)
		return out
	}
	for _, k := range keys(per) {
		p, r := pr(*per[k])
		t.Logf("%-7s precision %.3f recall %.3f (tp %d, fp %d, fn %d)", k, p, r, per[k].tp, per[k].fp, per[k].fn)
	}
	for _, k := range keys(byLang) {
		p, r := pr(*byLang[k])
		t.Logf("lang %-2s precision %.3f recall %.3f", k, p, r)
	}
	p, r := pr(total)
	t.Logf("overall precision %.3f recall %.3f (tp %d, fp %d, fn %d)", p, r, total.tp, total.fp, total.fn)
	for _, line := range report {
		t.Log(line)
	}
	if p < 0.97 || r < 0.97 {
		t.Errorf("precision %.3f and recall %.3f must both be at least 0.97", p, r)
	}
}

func readLabelled(t *testing.T) []labelled {
	t.Helper()
	f, err := os.Open("testdata/labelled.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []labelled
	sc := bufio.NewScanner(f)
	for line := 1; sc.Scan(); line++ {
		var it labelled
		if err := json.Unmarshal(sc.Bytes(), &it); err != nil {
			t.Fatalf("testdata/labelled.jsonl:%d: %v", line, err)
		}
		if strings.TrimSpace(it.Title) == "" {
			t.Fatalf("testdata/labelled.jsonl:%d: no title", line)
		}
		out = append(out, it)
	}
	if len(out) < 300 {
		t.Fatalf("the labelled set has %d items, want at least 300", len(out))
	}
	return out
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
