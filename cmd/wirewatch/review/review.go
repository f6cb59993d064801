// Package review serves the review page of `wirewatch run`: the new
// matches (or the stories that group their copies), why each matched, the
// reference article they are read against and the health of the feeds,
// with filters and marking reviewed one item or many. The same lists are
// served as JSON (/api/matches, /api/stories) and CSV (/export.csv).
//
// The page is rendered on the server with html/template. It runs no
// script and loads nothing from elsewhere: its stylesheet is embedded in
// the binary. Text from feeds is always shown as escaped text. Changes go
// through POST /review with a per-process CSRF token; Protect adds the
// access control and the security headers in front of every route.
package review

import (
	"context"
	"crypto/rand"
	"embed"
	"encoding/base64"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/wirewatch/wirewatch/config"
	"github.com/wirewatch/wirewatch/storage"
)

//go:embed templates/*.html
var templateFiles embed.FS

//go:embed static
var staticFiles embed.FS

// Reference is an article the matches are read against, as the panel
// shows it.
type Reference struct {
	Title   string
	Link    string
	Text    string // plain text
	AddedAt time.Time
}

// ReferenceFunc returns the reference articles loaded now; none shows the
// panel's hint on how to add one. It is the panel's one source.
type ReferenceFunc func(ctx context.Context) ([]Reference, error)

// StoredReferences reads the reference articles from the store, as
// `wirewatch reference add` keeps them.
func StoredReferences(s *storage.Store) ReferenceFunc {
	return func(ctx context.Context) ([]Reference, error) {
		refs, err := s.References(ctx, true)
		if err != nil {
			return nil, err
		}
		out := make([]Reference, len(refs))
		for i, r := range refs {
			out[i] = Reference{Title: r.Title, Link: r.URL, Text: r.Body, AddedAt: r.AddedAt}
		}
		return out, nil
	}
}

// RelevanceFunc returns how relevant a match is to the reference articles
// (0 to about 1), or nil when that is not known. The page, the API and the
// CSV export all take the figure from it.
type RelevanceFunc func(m storage.Match) *float64

// StoredRelevance is the relevance stored with each match.
func StoredRelevance(m storage.Match) *float64 { return m.Relevance }

// Options are what the page reads from.
type Options struct {
	Store *storage.Store
	// Watches lists the watch entries the filter offers: the running
	// configuration's. Nil offers none (the parameter still works).
	Watches func() []string
	// Reference supplies the reference panel; nil shows none loaded.
	Reference ReferenceFunc
	// Relevance supplies each match's relevance figure; nil shows none.
	Relevance RelevanceFunc
	Log       *slog.Logger
	// Now is the clock for "since 24h"; nil is time.Now.
	Now func() time.Time
}

// Handler serves the review page and its API.
type Handler struct {
	opts        Options
	csrf        string
	page        *template.Template
	crossOrigin *http.CrossOriginProtection
}

// New returns the review handler, with a fresh CSRF token: forms rendered
// by another process (an earlier run) are refused.
func New(opts Options) (*Handler, error) {
	if opts.Store == nil {
		return nil, errors.New("review: no store")
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Watches == nil {
		opts.Watches = func() []string { return nil }
	}
	if opts.Reference == nil {
		opts.Reference = func(context.Context) ([]Reference, error) { return nil, nil }
	}
	if opts.Relevance == nil {
		opts.Relevance = func(storage.Match) *float64 { return nil }
	}
	secret := make([]byte, 32)
	if _, err := rand.Read(secret); err != nil {
		return nil, fmt.Errorf("review: CSRF token: %w", err)
	}
	page, err := template.New("page.html").Funcs(funcs).ParseFS(templateFiles, "templates/page.html")
	if err != nil {
		return nil, fmt.Errorf("review: %w", err)
	}
	return &Handler{opts: opts, csrf: base64.RawURLEncoding.EncodeToString(secret), page: page,
		crossOrigin: http.NewCrossOriginProtection()}, nil
}

// Register adds the review routes to mux: the page at /, /api/matches,
// /api/stories, /export.csv, POST /review and the stylesheet under
// /static/.
func (h *Handler) Register(mux *http.ServeMux) {
	mux.HandleFunc("GET /{$}", h.servePage)
	mux.HandleFunc("GET /api/matches", h.serveAPIMatches)
	mux.HandleFunc("GET /api/stories", h.serveAPIStories)
	mux.HandleFunc("GET /export.csv", h.serveCSV)
	mux.Handle("POST /review", h.crossOrigin.Handler(http.HandlerFunc(h.serveReview)))
	static, _ := fs.Sub(staticFiles, "static")
	files := http.StripPrefix("/static/", http.FileServerFS(static))
	mux.Handle("GET /static/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=3600")
		files.ServeHTTP(w, r)
	}))
}

// Views of the list.
const (
	viewMatches = "matches"
	viewStories = "stories"
)

// Reviewed states.
const (
	stateUnreviewed = "unreviewed"
	stateReviewed   = "reviewed"
	stateAll        = "all"
)

// Limits on how many rows one request lists.
const (
	defaultLimit = 100
	maxLimit     = 1000
)

// Orders of the list of matches.
const (
	sortTime      = "time"
	sortRelevance = "relevance"
)

// filter is the page's filter as its query parameters give it: watch
// (repeatable), feed, since (24h, 7d, a date), reviewed (unreviewed,
// reviewed, all), q (full-text search), view (matches, stories), sort
// (time, relevance; matches only), limit.
type filter struct {
	View     string
	Watches  []string
	Feed     string
	Since    string
	Reviewed string
	Query    string
	Sort     string
	Limit    int
	limitSet bool
	since    time.Time
}

func parseFilter(q url.Values, now time.Time) (filter, error) {
	f := filter{View: viewMatches, Reviewed: stateUnreviewed, Sort: sortTime, Limit: defaultLimit,
		Feed: strings.TrimSpace(q.Get("feed")), Query: strings.TrimSpace(q.Get("q")), Since: strings.TrimSpace(q.Get("since"))}
	for _, w := range q["watch"] {
		if w = strings.TrimSpace(w); w != "" && !slices.Contains(f.Watches, w) {
			f.Watches = append(f.Watches, w)
		}
	}
	switch v := q.Get("view"); v {
	case "", viewMatches:
	case viewStories:
		f.View = viewStories
	default:
		return f, fmt.Errorf("view %q: want matches or stories", v)
	}
	switch v := q.Get("reviewed"); v {
	case "", stateUnreviewed:
	case stateReviewed, stateAll:
		f.Reviewed = v
	default:
		return f, fmt.Errorf("reviewed %q: want unreviewed, reviewed or all", v)
	}
	switch v := q.Get("sort"); v {
	case "", sortTime:
	case sortRelevance:
		f.Sort = v
	default:
		return f, fmt.Errorf("sort %q: want time or relevance", v)
	}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxLimit {
			return f, fmt.Errorf("limit %q: want a number from 1 to %d", v, maxLimit)
		}
		f.Limit, f.limitSet = n, true
	}
	if f.Since != "" {
		t, err := parseSince(f.Since, now)
		if err != nil {
			return f, err
		}
		f.since = t
	}
	return f, nil
}

// parseSince reads a duration back from now (90m, 24h, 7d) or a point in
// time (2020-05-01, 2020-05-01T10:00:00Z), as `wirewatch matches --since`
// does.
func parseSince(s string, now time.Time) (time.Time, error) {
	if d, err := config.ParseDuration(s); err == nil && d > 0 {
		return now.Add(-d), nil
	}
	for _, layout := range []string{time.RFC3339, "2006-01-02T15:04", "2006-01-02T15:04:05", "2006-01-02 15:04", "2006-01-02"} {
		if t, err := time.ParseInLocation(layout, s, time.Local); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("since %q: want a duration (24h, 7d) or a date (2020-05-01)", s)
}

// storage is the filter as storage applies it.
func (f filter) storage() storage.MatchFilter {
	return storage.MatchFilter{Since: f.since, Watches: f.Watches, Feed: f.Feed, Query: f.Query, Limit: f.Limit,
		Unreviewed: f.Reviewed == stateUnreviewed, Reviewed: f.Reviewed == stateReviewed, ByRelevance: f.Sort == sortRelevance}
}

// values is the filter as query parameters, defaults left out.
func (f filter) values() url.Values {
	v := url.Values{}
	if f.View != viewMatches {
		v.Set("view", f.View)
	}
	for _, w := range f.Watches {
		v.Add("watch", w)
	}
	if f.Feed != "" {
		v.Set("feed", f.Feed)
	}
	if f.Since != "" {
		v.Set("since", f.Since)
	}
	if f.Reviewed != stateUnreviewed {
		v.Set("reviewed", f.Reviewed)
	}
	if f.Query != "" {
		v.Set("q", f.Query)
	}
	if f.Sort != sortTime {
		v.Set("sort", f.Sort)
	}
	if f.limitSet {
		v.Set("limit", strconv.Itoa(f.Limit))
	}
	return v
}

// url is path with the filter's query, changed by edit when given.
func (f filter) url(path string, edit func(url.Values)) string {
	v := f.values()
	if edit != nil {
		edit(v)
	}
	if len(v) == 0 {
		return path
	}
	return path + "?" + v.Encode()
}

// fail logs an unexpected error and answers 500 without its details,
// which may quote SQL.
func (h *Handler) fail(w http.ResponseWriter, r *http.Request, what string, err error) {
	if r.Context().Err() != nil {
		return // the client went away
	}
	h.opts.Log.Error("review: "+what, "path", r.URL.Path, "error", err)
	http.Error(w, "internal error: "+what+" (see the wirewatch log)", http.StatusInternalServerError)
}
