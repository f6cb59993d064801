package review

import (
	"encoding/csv"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/wirewatch/wirewatch/classify"
	"github.com/wirewatch/wirewatch/storage"
)

// filterOrError parses the request's filter, or answers 400 with why.
func (h *Handler) filterOrError(w http.ResponseWriter, r *http.Request) (filter, bool) {
	f, err := parseFilter(r.URL.Query(), h.opts.Now())
	if err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
		return f, false
	}
	return f, true
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// serveAPIMatches answers {"matches": [...]} for the page's filter, each
// as `wirewatch matches --format json` writes it, its relevance from
// Options.Relevance.
func (h *Handler) serveAPIMatches(w http.ResponseWriter, r *http.Request) {
	f, ok := h.filterOrError(w, r)
	if !ok {
		return
	}
	ms, err := h.opts.Store.Matches(r.Context(), f.storage())
	if err != nil {
		h.fail(w, r, "list matches", err)
		return
	}
	for i, m := range ms {
		// Empty lists, never null, for consumers such as jq.
		if m.Hits == nil {
			m.Hits = []classify.Hit{}
		}
		if m.Watches == nil {
			m.Watches = []string{}
		}
		m.Relevance = h.opts.Relevance(m)
		ms[i] = m
	}
	if ms == nil {
		ms = []storage.Match{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"matches": ms})
}

// serveAPIStories answers {"stories": [...]} for the page's filter.
func (h *Handler) serveAPIStories(w http.ResponseWriter, r *http.Request) {
	f, ok := h.filterOrError(w, r)
	if !ok {
		return
	}
	sts, err := h.opts.Store.Stories(r.Context(), f.storage())
	if err != nil {
		h.fail(w, r, "list stories", err)
		return
	}
	if sts == nil {
		sts = []storage.Story{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"stories": sts})
}

// csvColumns are those of `wirewatch matches --format csv`, with the
// relevance after the terms.
var csvColumns = []string{"id", "first_seen_at", "published_at", "watches", "terms", "relevance", "feed", "feed_url",
	"title", "link", "reviewed_at", "snippet", "found_by"}

// serveCSV writes the matches of the page's filter as CSV; without a
// limit parameter, all of them.
func (h *Handler) serveCSV(w http.ResponseWriter, r *http.Request) {
	f, err := parseFilter(r.URL.Query(), h.opts.Now())
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	sf := f.storage()
	if !f.limitSet {
		sf.Limit = 0
	}
	ms, err := h.opts.Store.Matches(r.Context(), sf)
	if err != nil {
		h.fail(w, r, "list matches", err)
		return
	}
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="wirewatch-matches-`+h.opts.Now().Format("20060102-1504")+`.csv"`)
	w.Header().Set("Cache-Control", "no-store")
	cw := csv.NewWriter(w)
	_ = cw.Write(csvColumns)
	for _, m := range ms {
		var terms []string
		for _, hit := range m.Hits {
			terms = append(terms, hit.Watch+":"+hit.Term+"@"+hit.Field)
		}
		relevance := ""
		if rel := h.opts.Relevance(m); rel != nil {
			relevance = strconv.FormatFloat(*rel, 'f', 3, 64)
		}
		snip := "" // the first entry's, the hit marked ⟦like this⟧
		for _, w := range m.Watches {
			if snip = m.Snippets[w]; snip != "" {
				break
			}
		}
		row := []string{strconv.FormatInt(m.ItemID, 10), m.FirstSeenAt.UTC().Format(time.RFC3339), formatTime(m.PublishedAt),
			strings.Join(m.Watches, ";"), strings.Join(terms, ";"), relevance, m.Feed, m.FeedURL, m.Title, m.Link,
			formatTime(m.ReviewedAt), snip, m.FoundBy}
		for i := range row {
			row[i] = spreadsheetSafe(row[i])
		}
		_ = cw.Write(row)
	}
	cw.Flush()
}

func formatTime(t *time.Time) string {
	if t == nil {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

// spreadsheetSafe keeps a cell from being taken for a formula by the
// spreadsheet the file is opened in: a title from a feed that starts with
// "=" must stay text. Such cells get a leading apostrophe.
func spreadsheetSafe(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}
