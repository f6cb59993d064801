package review

import (
	"bytes"
	"crypto/subtle"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/wirewatch/wirewatch/storage"
)

// pageData is everything the page template shows.
type pageData struct {
	Filter     filter
	Error      string
	Notice     string
	Watches    []option
	Feeds      []option
	HasStories bool
	Matches    []matchRow
	Stories    []storyRow
	Listed     string // the item ids listed, for "mark all listed reviewed"
	More       string // the URL listing more, when the limit was reached
	References []Reference
	Health     health
	CSRF       string
	Back       string // the filter's query, to come back to after a POST

	MatchesURL, StoriesURL, ExportURL, APIURL, ResetURL string
}

type option struct {
	Value, Label string
	Selected     bool
}

// matchRow is one match as the page shows it.
type matchRow struct {
	ID        int64
	Title     string
	Link      string
	Feed      string
	FeedURL   string
	Time      time.Time // published, else first seen
	FirstSeen time.Time
	Reviewed  *time.Time
	Watches   []string
	Terms     []string
	Snippets  []snippet
	Relevance *float64
}

// storyRow is one story: its origin and its copies.
type storyRow struct {
	ID        int64
	Title     string
	Link      string
	Outlets   []string
	Published *time.Time // the earliest publication time its copies give
	FirstSeen time.Time
	LastSeen  time.Time
	Watches   []string
	Snippets  []snippet
	Items     []storage.StoryItem
	IDs       string // its items, comma-separated, for the checkbox
	Reviewed  bool   // all its items are
}

// snippet is one watch entry's snippet, split into plain and marked parts.
type snippet struct {
	Watch string
	Parts []part
}

type part struct {
	Text string
	Mark bool
}

// Markers around a hit in stored snippets.
const (
	markOpen  = "⟦"
	markClose = "⟧"
)

// splitSnippet splits a snippet at its ⟦markers⟧. A marker without its
// partner is kept as text.
func splitSnippet(s string) []part {
	var parts []part
	for s != "" {
		i := strings.Index(s, markOpen)
		if i < 0 {
			break
		}
		j := strings.Index(s[i+len(markOpen):], markClose)
		if j < 0 {
			break
		}
		if i > 0 {
			parts = append(parts, part{Text: s[:i]})
		}
		parts = append(parts, part{Text: s[i+len(markOpen) : i+len(markOpen)+j], Mark: true})
		s = s[i+len(markOpen)+j+len(markClose):]
	}
	if s != "" {
		parts = append(parts, part{Text: s})
	}
	return parts
}

func snippetsOf(watches []string, by map[string]string) []snippet {
	var out []snippet
	for _, w := range watches {
		if s := by[w]; s != "" {
			out = append(out, snippet{Watch: w, Parts: splitSnippet(s)})
		}
	}
	return out
}

// health sums up the feeds' state: how many are fine, failing and gone,
// and which.
type health struct {
	OK, Failing, Gone, New int
	Broken                 []storage.FeedHealth // failing or gone, the longest failing first
}

func summarize(feeds []storage.FeedHealth) health {
	var h health
	for _, f := range feeds {
		switch {
		case f.GoneAt != nil:
			h.Gone++
			h.Broken = append(h.Broken, f)
		case f.LastOutcome == "failed":
			h.Failing++
			h.Broken = append(h.Broken, f)
		case f.LastPolledAt == nil:
			h.New++
		default:
			h.OK++
		}
	}
	return h
}

var funcs = template.FuncMap{
	"when": func(t time.Time) string { return t.Local().Format("2 Jan 2006 15:04") },
	"iso":  func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
	"ago": func(t *time.Time) string {
		if t == nil {
			return "never"
		}
		return t.Local().Format("2 Jan 15:04")
	},
	"join":    strings.Join,
	"number":  func(f *float64) string { return strconv.FormatFloat(*f, 'f', 3, 64) },
	"percent": func(f *float64) string { return strconv.FormatFloat(*f*100, 'f', 0, 64) + "%" },
	"excerpt": func(s string, n int) string {
		r := []rune(strings.Join(strings.Fields(s), " "))
		if len(r) <= n {
			return string(r)
		}
		return string(r[:n]) + "…"
	},
}

func (h *Handler) servePage(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	d := pageData{CSRF: h.csrf}
	status := http.StatusOK
	f, err := parseFilter(r.URL.Query(), h.opts.Now())
	if err != nil {
		d.Error, status = err.Error(), http.StatusBadRequest
	}
	d.Filter = f
	if n, err := strconv.Atoi(r.URL.Query().Get("done")); err == nil && n >= 0 {
		d.Notice = fmt.Sprintf("Marked %d %s reviewed.", n, plural(n, "item", "items"))
	}
	d.Back = f.values().Encode()
	d.MatchesURL = f.url("/", func(v url.Values) { v.Del("view") })
	d.StoriesURL = f.url("/", func(v url.Values) { v.Set("view", viewStories) })
	d.ExportURL = f.url("/export.csv", func(v url.Values) { v.Del("view"); v.Del("limit") })
	d.APIURL = f.url("/api/"+f.View, func(v url.Values) { v.Del("view") })
	d.ResetURL = f.url("/", func(v url.Values) {
		for k := range v {
			if k != "view" {
				v.Del(k)
			}
		}
	})

	feeds, err := h.opts.Store.FeedsHealth(ctx, false)
	if err != nil {
		h.fail(w, r, "read feed health", err)
		return
	}
	d.Health = summarize(feeds)
	for _, fh := range feeds {
		d.Feeds = append(d.Feeds, option{Value: fh.URL, Label: fh.Name, Selected: fh.URL == f.Feed || strings.EqualFold(fh.Name, f.Feed)})
	}
	if f.Feed != "" && !slices.ContainsFunc(d.Feeds, func(o option) bool { return o.Selected }) {
		d.Feeds = append(d.Feeds, option{Value: f.Feed, Label: f.Feed, Selected: true})
	}
	watches := slices.Clone(h.opts.Watches())
	for _, w := range f.Watches {
		if !slices.ContainsFunc(watches, func(x string) bool { return strings.EqualFold(x, w) }) {
			watches = append(watches, w)
		}
	}
	for _, w := range watches {
		d.Watches = append(d.Watches, option{Value: w, Label: w,
			Selected: slices.ContainsFunc(f.Watches, func(x string) bool { return strings.EqualFold(x, w) })})
	}
	if d.References, err = h.opts.Reference(ctx); err != nil {
		h.fail(w, r, "read the reference articles", err)
		return
	}
	if d.HasStories, err = h.opts.Store.HasStories(ctx); err != nil {
		h.fail(w, r, "look for stories", err)
		return
	}

	if d.Error == "" {
		var ids []string
		if f.View == viewStories {
			sts, err := h.opts.Store.Stories(ctx, f.storage())
			if err != nil {
				h.fail(w, r, "list stories", err)
				return
			}
			for _, st := range sts {
				row := storyRow{ID: st.ID, Title: st.Title, Link: st.Link, Outlets: st.Outlets, FirstSeen: st.FirstSeenAt,
					LastSeen: st.LastSeenAt, Watches: st.Watches, Snippets: snippetsOf(st.Watches, st.Snippets), Items: st.Items, Reviewed: true}
				slices.Sort(row.Watches)
				var its []string
				for _, it := range st.Items {
					its = append(its, strconv.FormatInt(it.ID, 10))
					row.Reviewed = row.Reviewed && it.ReviewedAt != nil
					if it.PublishedAt != nil && (row.Published == nil || it.PublishedAt.Before(*row.Published)) {
						row.Published = it.PublishedAt
					}
				}
				row.IDs = strings.Join(its, ",")
				ids = append(ids, its...)
				d.Stories = append(d.Stories, row)
			}
			if len(sts) == f.Limit {
				d.More = f.url("/", func(v url.Values) { v.Set("limit", strconv.Itoa(min(f.Limit+defaultLimit, maxLimit))) })
			}
		} else {
			ms, err := h.opts.Store.Matches(ctx, f.storage())
			if err != nil {
				h.fail(w, r, "list matches", err)
				return
			}
			for _, m := range ms {
				d.Matches = append(d.Matches, h.matchRow(m))
				ids = append(ids, strconv.FormatInt(m.ItemID, 10))
			}
			if len(ms) == f.Limit {
				d.More = f.url("/", func(v url.Values) { v.Set("limit", strconv.Itoa(min(f.Limit+defaultLimit, maxLimit))) })
			}
		}
		d.Listed = strings.Join(ids, ",")
	}
	if f.Limit >= maxLimit {
		d.More = ""
	}

	var buf bytes.Buffer
	if err := h.page.Execute(&buf, d); err != nil {
		h.fail(w, r, "render the page", err)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

func (h *Handler) matchRow(m storage.Match) matchRow {
	row := matchRow{ID: m.ItemID, Title: m.Title, Link: m.Link, Feed: m.Feed, FeedURL: m.FeedURL, Time: m.FirstSeenAt,
		FirstSeen: m.FirstSeenAt, Reviewed: m.ReviewedAt, Watches: m.Watches, Snippets: snippetsOf(m.Watches, m.Snippets),
		Relevance: h.opts.Relevance(m)}
	if m.PublishedAt != nil {
		row.Time = *m.PublishedAt
	}
	for _, hit := range m.Hits {
		if !slices.ContainsFunc(row.Terms, func(t string) bool { return strings.EqualFold(t, hit.Term) }) {
			row.Terms = append(row.Terms, hit.Term)
		}
	}
	return row
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// maxForm bounds a POST body: the ids of a thousand stories' items and the
// fields around them.
const maxForm = 256 << 10

// serveReview marks items reviewed: the one whose button was pressed
// (item), the ticked ones (id, with action=selected) or every one listed
// (listed, with action=listed); then it goes back to the page with the
// same filter.
func (h *Handler) serveReview(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxForm)
	if err := r.ParseForm(); err != nil {
		http.Error(w, "bad form: "+err.Error(), http.StatusBadRequest)
		return
	}
	if subtle.ConstantTimeCompare([]byte(r.PostForm.Get("csrf")), []byte(h.csrf)) != 1 {
		http.Error(w, "the form is out of date or did not come from this page (CSRF token): reload the page and try again",
			http.StatusForbidden)
		return
	}
	var raw []string
	switch {
	case r.PostForm.Has("item"):
		raw = r.PostForm["item"]
	case r.PostForm.Get("action") == "listed":
		raw = r.PostForm["listed"]
	default:
		raw = r.PostForm["id"]
	}
	ids, err := parseIDs(raw)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	var n int64
	if len(ids) > 0 {
		if n, err = h.opts.Store.MarkReviewed(r.Context(), ids); err != nil {
			h.fail(w, r, "mark reviewed", err)
			return
		}
		h.opts.Log.Info("marked reviewed on the review page", "items", len(ids), "newly_reviewed", n)
	}
	// Back to the same filter, rebuilt from its parts: never a URL taken
	// from the form as it is.
	back, _ := url.ParseQuery(r.PostForm.Get("back"))
	f, err := parseFilter(back, h.opts.Now())
	if err != nil {
		f, _ = parseFilter(nil, h.opts.Now())
	}
	http.Redirect(w, r, f.url("/", func(v url.Values) { v.Set("done", strconv.FormatInt(n, 10)) }), http.StatusSeeOther)
}

// parseIDs reads item ids, each value one id or several separated by
// commas or spaces.
func parseIDs(values []string) ([]int64, error) {
	var ids []int64
	for _, v := range values {
		for _, s := range strings.FieldsFunc(v, func(r rune) bool { return r == ',' || r == ' ' }) {
			id, err := strconv.ParseInt(s, 10, 64)
			if err != nil || id <= 0 {
				return nil, fmt.Errorf("item id %q: want a positive number", s)
			}
			if len(ids) >= maxLimit*10 {
				return nil, fmt.Errorf("too many items at once (at most %d)", maxLimit*10)
			}
			ids = append(ids, id)
		}
	}
	return ids, nil
}
