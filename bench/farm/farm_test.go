package main

import (
	"bytes"
	"net/http"
	"net/http/httptest"

	"strings"
	"testing"

	"github.com/wirewatch/wirewatch/classify"
	"github.com/wirewatch/wirewatch/config"
	"github.com/wirewatch/wirewatch/ingest"
)

func TestSameSeedSameBytes(t *testing.T) {
	a, b := newGen(7), newGen(7)
	for _, i := range []int{0, 12, 16, 18, 133} {
		x, y := a.feed(i, 20).render("http://127.0.0.1/x"), b.feed(i, 20).render("http://127.0.0.1/x")
		if !bytes.Equal(x, y) {
			t.Fatalf("feed %d differs between two generators with the same seed", i)
		}
	}
	if bytes.Equal(newGen(8).feed(0, 20).render(""), a.feed(0, 20).render("")) {
		t.Fatal("another seed gives the same feed")
	}
}

// TestShippedWatchlist parses every format as wirewatch does and matches
// the items with the shipped watchlist: an item matches exactly when it
// mentions a subject, traps included, and about 3% do.
func TestShippedWatchlist(t *testing.T) {
	cfg, err := config.Load("../../config/wirewatch.yaml")
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
	g := newGen(1)
	const feeds, items = 150, 16
	var total, matched, traps int
	formats := map[string]int{}
	for i := range feeds {
		f := g.feed(i, items)
		formats[f.format]++
		parsed, err := ingest.Parse(f.render("http://127.0.0.1/feed"), f.contentType())
		if err != nil {
			t.Fatalf("feed %d (%s): %v", i, f.format, err)
		}
		if len(parsed.Items) != items {
			t.Fatalf("feed %d (%s): %d items parsed, want %d", i, f.format, len(parsed.Items), items)
		}
		for k, it := range parsed.Items {
			want := f.items[k]
			if it.Title != want.title || it.Link != want.link || it.PublishedAt == nil || it.Author == "" {
				t.Fatalf("feed %d (%s) item %d parsed as %+v", i, f.format, k, it)
			}
			if f.fullText && !strings.Contains(classify.StripHTML(it.Content), want.paragraphs[len(want.paragraphs)-1][:20]) {
				t.Fatalf("feed %d (%s) item %d: full text missing", i, f.format, k)
			}
			res := m.Match(classify.Document{Title: it.Title, Summary: it.Summary, Content: it.Content,
				Categories: it.Categories, Author: it.Author})
			if res.Matched() != (len(want.mentions) > 0) {
				t.Errorf("feed %d item %d (mentions %v, trap %v) matched %v: %q %q", i, k, want.mentions, want.trap,
					res.Watches, it.Title, it.Summary+it.Content)
			}
			total++
			if res.Matched() {
				matched++
			}
			if want.trap {
				traps++
			}
		}
	}
	rate := float64(matched) / float64(total)
	t.Logf("%d of %d items match (%.2f%%), %d traps; formats %v", matched, total, 100*rate, traps, formats)
	if rate < 0.02 || rate > 0.045 {
		t.Errorf("%.2f%% of the items match the shipped watchlist, want about 3%%", 100*rate)
	}
	if traps == 0 || len(formats) != 4 {
		t.Errorf("want traps and all four formats, got %d traps and %v", traps, formats)
	}
}

func TestConditionalAndGzip(t *testing.T) {
	s := newServer()
	g := newGen(1)
	e := newEntry(g.feed(3, 5), "http://127.0.0.1/x")
	s.byPath[e.path] = e
	get := func(h map[string]string) *http.Response {
		r := httptest.NewRequest(http.MethodGet, e.path, nil)
		for k, v := range h {
			r.Header.Set(k, v)
		}
		w := httptest.NewRecorder()
		s.ServeHTTP(w, r)
		return w.Result()
	}
	plain := get(nil)
	if plain.StatusCode != 200 || plain.Header.Get("Content-Encoding") != "" || plain.Header.Get("ETag") != e.etag {
		t.Fatalf("plain GET: %d %v", plain.StatusCode, plain.Header)
	}
	zipped := get(map[string]string{"Accept-Encoding": "gzip"})
	if zipped.Header.Get("Content-Encoding") != "gzip" || zipped.Header.Get("ETag") != e.gzTag {
		t.Fatalf("gzip GET: %v", zipped.Header)
	}
	for _, h := range []map[string]string{
		{"If-None-Match": e.etag},
		{"Accept-Encoding": "gzip", "If-None-Match": `"other", ` + e.gzTag},
		{"If-Modified-Since": plain.Header.Get("Last-Modified")},
	} {
		if r := get(h); r.StatusCode != http.StatusNotModified {
			t.Errorf("%v: status %d, want 304", h, r.StatusCode)
		}
	}
	if r := get(map[string]string{"If-None-Match": `"stale"`, "If-Modified-Since": plain.Header.Get("Last-Modified")}); r.StatusCode != 200 {
		t.Errorf("a stale ETag must win over If-Modified-Since: status %d", r.StatusCode)
	}
	if s.stats.notModified.Load() != 3 || s.stats.requests.Load() != 6 {
		t.Errorf("stats: %d requests, %d not modified", s.stats.requests.Load(), s.stats.notModified.Load())
	}
}
