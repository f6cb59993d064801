package storage_test

import (
	"context"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/wirewatch/wirewatch/storage"
	"github.com/wirewatch/wirewatch/storage/storagetest"
)

// The review filters: full-text search over title, summary and content in
// any language, the feed that carried an item, and the reviewed state; for
// matches and for stories alike.
func TestMatchesSearchFeedAndReviewed(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	_, pool := storagetest.MigratedSchema(t)
	s := storage.New(pool)
	if ok, err := s.HasStories(ctx); err != nil || ok {
		t.Fatalf("HasStories on an empty store = %v, %v", ok, err)
	}
	a := newFeed(t, s, "https://a.example/rss")
	b := newFeed(t, s, "https://b.example/rss")
	if _, err := pool.Exec(ctx, "UPDATE feeds SET name = 'Harbour Post' WHERE id = $1", b.ID); err != nil {
		t.Fatal(err)
	}

	advance := item("https://x.example/1", "Haftar forces advance on Tripoli", "Haftar")
	advance.Summary = "Fighting south of the capital, officials said."
	advance.Snippets = map[string]string{"Haftar": "⟦Haftar⟧ forces advance on Tripoli"}
	wagner := item("https://x.example/2", "Mercenaries leave Jufra", "Wagner")
	wagner.Content = "Russian contractors of the Wagner Group flew out of the air base overnight."
	arabic := item("https://x.example/3", "قوات حفتر تنسحب من ترهونة", "Haftar")
	// A long text is stored and searched on its beginning.
	var long strings.Builder
	long.WriteString("Benghazi ")
	for i := range 30000 {
		fmt.Fprintf(&long, "w%x ", i*7919)
	}
	longItem := item("https://x.example/4", "Daily digest", "Libya")
	longItem.Content = long.String()
	if _, err := s.SavePoll(ctx, okPoll(a, advance, wagner, arabic, longItem)); err != nil {
		t.Fatal(err)
	}
	// Feed b carries a copy of the first item.
	if _, err := s.SavePoll(ctx, okPoll(b, item("https://x.example/1", "Haftar forces advance on Tripoli", "Haftar"))); err != nil {
		t.Fatal(err)
	}

	titles := func(f storage.MatchFilter) []string {
		t.Helper()
		ms, err := s.Matches(ctx, f)
		if err != nil {
			t.Fatalf("Matches(%+v): %v", f, err)
		}
		out := []string{}
		for _, m := range ms {
			out = append(out, m.Title)
		}
		slices.Sort(out)
		return out
	}
	for _, tc := range []struct {
		f    storage.MatchFilter
		want []string
	}{
		{storage.MatchFilter{Query: "TRIPOLI"}, []string{advance.Title}},               // title, any case
		{storage.MatchFilter{Query: "capital"}, []string{advance.Title}},               // summary
		{storage.MatchFilter{Query: "contractors"}, []string{wagner.Title}},            // content
		{storage.MatchFilter{Query: `"wagner group" russian`}, []string{wagner.Title}}, // a phrase and a word
		{storage.MatchFilter{Query: `"group wagner"`}, []string{}},                     // words in another order
		{storage.MatchFilter{Query: "haftar -tripoli"}, []string{}},                    // excluded
		{storage.MatchFilter{Query: "jufra OR tripoli"}, []string{wagner.Title, advance.Title}},
		{storage.MatchFilter{Query: "حفتر"}, []string{arabic.Title}},                     // Arabic words
		{storage.MatchFilter{Query: "Tripol"}, []string{}},                               // whole words only
		{storage.MatchFilter{Query: "benghazi"}, []string{longItem.Title}},               // the start of a long text
		{storage.MatchFilter{Query: "!!! ''"}, []string{}},                               // no words: nothing, no error
		{storage.MatchFilter{Query: "tripoli", Watches: []string{"wagner"}}, []string{}}, // with other filters
		{storage.MatchFilter{Feed: "https://b.example/rss"}, []string{advance.Title}},    // a copy counts
		{storage.MatchFilter{Feed: "harbour post"}, []string{advance.Title}},             // by name
		{storage.MatchFilter{Feed: "https://c.example/rss"}, []string{}},                 // unknown feed
		{storage.MatchFilter{Feed: "https://a.example/rss", Query: "mercenaries"}, []string{wagner.Title}},
	} {
		got := titles(tc.f)
		want := slices.Clone(tc.want)
		slices.Sort(want)
		if !reflect.DeepEqual(got, want) {
			t.Errorf("Matches(%+v) = %q, want %q", tc.f, got, want)
		}
	}

	ms, err := s.Matches(ctx, storage.MatchFilter{Query: "jufra"})
	if err != nil || len(ms) != 1 {
		t.Fatalf("Matches = %v, %v", ms, err)
	}
	if _, err := s.MarkReviewed(ctx, []int64{ms[0].ItemID}); err != nil {
		t.Fatal(err)
	}
	if got := titles(storage.MatchFilter{Reviewed: true}); !reflect.DeepEqual(got, []string{wagner.Title}) {
		t.Errorf("reviewed = %q", got)
	}
	if got := titles(storage.MatchFilter{Unreviewed: true}); len(got) != 3 || slices.Contains(got, wagner.Title) {
		t.Errorf("unreviewed = %q", got)
	}
	if got := titles(storage.MatchFilter{Reviewed: true, Unreviewed: true}); len(got) != 0 {
		t.Errorf("reviewed and unreviewed = %q, want nothing", got)
	}

	// Stories: the filters apply to any of their items; reviewed means all
	// of them.
	if _, err := s.AssignStories(ctx, storage.StoryOptions{Window: 7 * 24 * time.Hour}); err != nil {
		t.Fatal(err)
	}
	if ok, err := s.HasStories(ctx); err != nil || !ok {
		t.Fatalf("HasStories = %v, %v", ok, err)
	}
	storyTitles := func(f storage.MatchFilter) []string {
		t.Helper()
		sts, err := s.Stories(ctx, f)
		if err != nil {
			t.Fatalf("Stories(%+v): %v", f, err)
		}
		out := []string{}
		for _, st := range sts {
			out = append(out, st.Title)
		}
		slices.Sort(out)
		return out
	}
	if got := storyTitles(storage.MatchFilter{Query: "tripoli", Feed: "Harbour Post"}); !reflect.DeepEqual(got, []string{advance.Title}) {
		t.Errorf("stories by query and feed = %q", got)
	}
	if got := storyTitles(storage.MatchFilter{Reviewed: true}); !reflect.DeepEqual(got, []string{wagner.Title}) {
		t.Errorf("reviewed stories = %q", got)
	}
	if got := storyTitles(storage.MatchFilter{Unreviewed: true, Query: "jufra"}); len(got) != 0 {
		t.Errorf("unreviewed stories about Jufra = %q", got)
	}
	sts, err := s.Stories(ctx, storage.MatchFilter{Query: "tripoli"})
	if err != nil || len(sts) != 1 {
		t.Fatalf("Stories = %v, %v", sts, err)
	}
	if want := map[string]string{"Haftar": "⟦Haftar⟧ forces advance on Tripoli"}; !reflect.DeepEqual(sts[0].Snippets, want) {
		t.Errorf("story snippets = %q, want %q", sts[0].Snippets, want)
	}
}
