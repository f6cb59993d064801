package main

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/wirewatch/wirewatch/classify"
	"github.com/wirewatch/wirewatch/config"
	"github.com/wirewatch/wirewatch/storage"
)

// stringsFlag is a repeatable flag.
type stringsFlag []string

func (s *stringsFlag) String() string { return strings.Join(*s, ",") }
func (s *stringsFlag) Set(v string) error {
	for _, part := range strings.Split(v, ",") {
		if part = strings.TrimSpace(part); part != "" {
			*s = append(*s, part)
		}
	}
	return nil
}

func cmdMatches(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "matches", "matches [--stories] [--since 24h] [--watch NAME]... [--unreviewed] [--mark-reviewed] [--sort time|relevance] [--limit N] [--format table|json|csv]")
	cfgPath := configFlag(fs)
	since := fs.String("since", "", "only matches first seen since `DURATION` ago (90m, 24h, 7d) or since a TIMESTAMP (2020-05-01, 2020-05-01T10:00:00Z)")
	var watches stringsFlag
	fs.Var(&watches, "watch", "only matches of this watch entry (repeatable, or comma-separated)")
	unreviewed := fs.Bool("unreviewed", false, "only matches not yet marked reviewed")
	markReviewed := fs.Bool("mark-reviewed", false, "mark the listed matches reviewed")
	limit := fs.Int("limit", 100, "at most `N` matches (0 for all)")
	format := fs.String("format", "table", "output format: table, json (one object per line) or csv")
	sortBy := fs.String("sort", "time", "order: time (newest first) or relevance (to the reference articles, most relevant first)")
	stories := fs.Bool("stories", false, "one row per story (copies of one article in several outlets), newest first; --since, --watch, --unreviewed, --limit and --mark-reviewed apply to stories")
	if err := parseFlags(fs, args, false); err != nil {
		return err
	}
	filter := storage.MatchFilter{Watches: watches, Unreviewed: *unreviewed, Limit: *limit, ByRelevance: *sortBy == "relevance"}
	if *sortBy != "time" && *sortBy != "relevance" {
		return usagef("--sort must be time or relevance, not %q", *sortBy)
	}
	if *since != "" {
		t, err := parseSince(*since, time.Now())
		if err != nil {
			return usageError{err}
		}
		filter.Since = t
	}
	if *limit < 0 {
		return usagef("--limit must not be negative")
	}
	write, ok := matchWriters[*format]
	writeStories := storyWriters[*format]
	if !ok {
		return usagef("--format must be table, json or csv, not %q", *format)
	}
	store, closeStore, err := openStore(ctx, e, *cfgPath)
	if err != nil {
		return err
	}
	defer closeStore()

	var ids []int64
	if *stories {
		sts, err := store.Stories(ctx, filter)
		if err != nil {
			return err
		}
		if err := writeStories(e.stdout, sts); err != nil {
			return err
		}
		for _, st := range sts {
			for _, it := range st.Items {
				ids = append(ids, it.ID)
			}
		}
	} else {
		ms, err := store.Matches(ctx, filter)
		if err != nil {
			return err
		}
		if err := write(e.stdout, ms); err != nil {
			return err
		}
		for _, m := range ms {
			ids = append(ids, m.ItemID)
		}
	}
	if *markReviewed && len(ids) > 0 {
		n, err := store.MarkReviewed(ctx, ids)
		if err != nil {
			return err
		}
		fmt.Fprintf(e.stderr, "marked %d matches reviewed\n", n)
	}
	return nil
}

// parseSince reads --since: a duration back from now, or a point in time.
func parseSince(s string, now time.Time) (time.Time, error) {
	if d, err := config.ParseDuration(s); err == nil {
		return now.Add(-d), nil
	}
	for _, layout := range []string{time.RFC3339, "2006-01-02T15:04:05", "2006-01-02 15:04:05", "2006-01-02 15:04", "2006-01-02"} {
		if t, err := time.ParseInLocation(layout, s, time.Local); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("--since %q: want a duration (90m, 24h, 7d) or a time (2020-05-01, 2020-05-01T10:00:00Z)", s)
}

var matchWriters = map[string]func(io.Writer, []storage.Match) error{
	"table": writeMatchTable,
	"json":  writeMatchJSON,
	"csv":   writeMatchCSV,
}

func writeMatchTable(w io.Writer, ms []storage.Match) error {
	if len(ms) == 0 {
		_, err := fmt.Fprintln(w, "no matches")
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tFIRST SEEN\tPUBLISHED\tREL\tWATCHES\tFEED\tTITLE\tLINK")
	for _, m := range ms {
		published := "-"
		if m.PublishedAt != nil {
			published = m.PublishedAt.Local().Format("2006-01-02 15:04")
		}
		title := m.Title
		if m.ReviewedAt != nil {
			title = "(reviewed) " + title
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", m.ItemID, m.FirstSeenAt.Local().Format("2006-01-02 15:04"), published,
			relevanceText(m.Relevance, "-"), strings.Join(m.Watches, ","), clip(m.Feed, 28), clip(oneLine(title), 90), m.Link)
	}
	return tw.Flush()
}

func writeMatchJSON(w io.Writer, ms []storage.Match) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	for _, m := range ms {
		// Empty lists, never null, for consumers such as jq.
		if m.Hits == nil {
			m.Hits = []classify.Hit{}
		}
		if m.Watches == nil {
			m.Watches = []string{}
		}
		if err := enc.Encode(m); err != nil {
			return err
		}
	}
	return nil
}

func writeMatchCSV(w io.Writer, ms []storage.Match) error {
	cw := csv.NewWriter(w)
	_ = cw.Write([]string{"id", "first_seen_at", "published_at", "watches", "terms", "feed", "feed_url", "title", "link", "reviewed_at", "snippet", "found_by", "relevance"})
	for _, m := range ms {
		var terms []string
		for _, h := range m.Hits {
			terms = append(terms, h.Watch+":"+h.Term+"@"+h.Field)
		}
		_ = cw.Write([]string{
			strconv.FormatInt(m.ItemID, 10), m.FirstSeenAt.UTC().Format(time.RFC3339), formatTime(m.PublishedAt),
			strings.Join(m.Watches, ";"), strings.Join(terms, ";"), m.Feed, m.FeedURL, m.Title, m.Link, formatTime(m.ReviewedAt),
			firstSnippet(m), m.FoundBy, relevanceText(m.Relevance, ""),
		})
	}
	cw.Flush()
	return cw.Error()
}

// relevanceText prints a relevance score, or none when there is none.
func relevanceText(r *float64, none string) string {
	if r == nil {
		return none
	}
	return strconv.FormatFloat(*r, 'f', 3, 64)
}

func formatTime(t *time.Time) string {
	if t == nil {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

func clip(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// firstSnippet is the snippet of the first matched entry (by name).
func firstSnippet(m storage.Match) string {
	for _, w := range m.Watches {
		if s := m.Snippets[w]; s != "" {
			return s
		}
	}
	return ""
}

var storyWriters = map[string]func(io.Writer, []storage.Story) error{
	"table": writeStoryTable,
	"json":  writeStoryJSON,
	"csv":   writeStoryCSV,
}

func writeStoryTable(w io.Writer, sts []storage.Story) error {
	if len(sts) == 0 {
		_, err := fmt.Fprintln(w, "no stories")
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "STORY\tFIRST SEEN\tLAST SEEN\tOUTLETS\tWATCHES\tTITLE\tCARRIED BY")
	for _, st := range sts {
		fmt.Fprintf(tw, "%d\t%s\t%s\t%d\t%s\t%s\t%s\n", st.ID, st.FirstSeenAt.Local().Format("2006-01-02 15:04"),
			st.LastSeenAt.Local().Format("2006-01-02 15:04"), st.OutletsCount, strings.Join(st.Watches, ","),
			clip(oneLine(st.Title), 80), clip(strings.Join(st.Outlets, ", "), 60))
	}
	return tw.Flush()
}

func writeStoryJSON(w io.Writer, sts []storage.Story) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	for _, st := range sts {
		if err := enc.Encode(st); err != nil {
			return err
		}
	}
	return nil
}

func writeStoryCSV(w io.Writer, sts []storage.Story) error {
	cw := csv.NewWriter(w)
	_ = cw.Write([]string{"story_id", "first_seen_at", "last_seen_at", "outlets_count", "outlets", "watches", "title", "link", "items"})
	for _, st := range sts {
		_ = cw.Write([]string{strconv.FormatInt(st.ID, 10), st.FirstSeenAt.UTC().Format(time.RFC3339),
			st.LastSeenAt.UTC().Format(time.RFC3339), strconv.Itoa(st.OutletsCount), strings.Join(st.Outlets, ";"),
			strings.Join(st.Watches, ";"), st.Title, st.Link, strconv.Itoa(len(st.Items))})
	}
	cw.Flush()
	return cw.Error()
}
