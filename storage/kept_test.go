package storage

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// The kept JSON is written by hand; encoding/json must read back what was
// given, with NUL dropped and invalid UTF-8 replaced.
func TestEncodeKeptReadsBack(t *testing.T) {
	t.Parallel()
	at := time.Date(2020, 5, 4, 10, 0, 0, 123456789, time.FixedZone("x", 3600))
	items := []Item{
		{GUID: "g1", Link: "https://x.example/a?b=1&c=2", Title: `Haftar's "forces" \ advance`,
			Summary: "line\nbreak\ttab\rcr \x01\x1f <b>&amp;</b> ليبيا Ливия ✓", Categories: []string{"World", `a "b"`},
			PublishedAt: &at},
		{Title: "only a title"},
		{},
	}
	data := encodeKept(items)
	var got []keptItem
	if err := json.Unmarshal(data, &got); err != nil {
		t.Fatalf("%v: %s", err, data)
	}
	if len(got) != 3 || got[0].Title != items[0].Title || got[0].Summary != items[0].Summary ||
		got[0].Link != items[0].Link || len(got[0].Categories) != 2 || got[0].Categories[1] != `a "b"` ||
		!got[0].PublishedAt.Equal(at) || got[1].Title != "only a title" || got[2].Title != "" || got[2].PublishedAt != nil {
		t.Fatalf("read back %+v from %s", got, data)
	}
}

func FuzzEncodeKept(f *testing.F) {
	f.Add("Tripoli", "a \"quoted\" \\ text\n", "\x00\xff\xfe")
	f.Fuzz(func(t *testing.T, title, summary, category string) {
		data := encodeKept([]Item{{Title: title, Summary: summary, Categories: []string{category}}})
		var got []keptItem
		if err := json.Unmarshal(data, &got); err != nil {
			t.Fatalf("%v: %q", err, data)
		}
		want := func(s string) string { return strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", "") }
		if !utf8.Valid(data) || len(got) != 1 || got[0].Title != want(title) || got[0].Summary != want(summary) {
			t.Fatalf("%q %q read back as %+v", title, summary, got)
		}
		if category != "" && (len(got[0].Categories) != 1 || got[0].Categories[0] != want(category)) {
			t.Fatalf("category %q read back as %q", category, got[0].Categories)
		}
	})
}
