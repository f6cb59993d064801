// Command faultcheck reads what wirewatch recorded about the feeds of a farm
// served with faults (feedfarm serve -faults) and checks that each kind of
// fault got the outcome it should: the poll failed with the right kind, the
// server's Retry-After was honoured, a permanent redirect moved the feed,
// text in windows-1252 was stored as the feed meant it. It prints one table
// row per kind and exits 1 when a kind did not get its outcome.
//
//	DATABASE_URL=... faultcheck -truth DIR/truth.jsonl -faults DIR/faults.txt [-stats stats.json]
//
// -stats is the farm's /_stats since it started: every 301 it served must
// be one of the three redirects a moved feed follows before it moves.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path"
	"sort"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/wirewatch/wirewatch/classify"
	"github.com/wirewatch/wirewatch/storage"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "faultcheck:", err)
		os.Exit(1)
	}
}

type truth struct {
	Feed     string   `json:"feed"`
	Link     string   `json:"link"`
	Title    string   `json:"title"`
	Mentions []string `json:"mentions"`
	Dup      string   `json:"dup"`
	Story    string   `json:"story"`
	CopyOf   string   `json:"copy_of"`
}

// article identifies the article an item of the truth is: exact and URL
// duplicates are their original again; a wire copy is an article of its
// own.
func (t truth) article() string {
	if t.Dup == "exact" || t.Dup == "url" {
		return t.CopyOf
	}
	return t.Story
}

type poll struct {
	started    time.Time
	outcome    string
	kind       string
	status     int
	redirected string
}

type feed struct {
	id        int64
	url       string
	path      string // in the farm, feeds/00012.xml
	fault     string // "" for a feed without one
	fetchURL  string
	notBefore *time.Time
	title     string
	polls     []poll
}

// stored is an item as wirewatch kept it, matching or not.
type stored struct {
	feedID  int64
	key     string
	link    string
	title   string
	matched bool
}

func run() error {
	truthPath := flag.String("truth", "", "truth.jsonl of the farm")
	faultsPath := flag.String("faults", "", "faults.txt of the farm")
	statsPath := flag.String("stats", "", "the farm's /_stats since it started (JSON)")
	flag.Parse()
	if *truthPath == "" || *faultsPath == "" {
		return fmt.Errorf("-truth and -faults are required")
	}
	faults, err := readFaults(*faultsPath)
	if err != nil {
		return err
	}
	truths, err := readTruth(*truthPath)
	if err != nil {
		return err
	}
	var stats struct {
		ByStatus map[string]int `json:"by_status"`
	}
	if *statsPath != "" {
		b, err := os.ReadFile(*statsPath)
		if err != nil {
			return err
		}
		if err := json.Unmarshal(b, &stats); err != nil {
			return fmt.Errorf("%s: %w", *statsPath, err)
		}
	}

	ctx := context.Background()
	conn, err := pgx.Connect(ctx, os.Getenv("DATABASE_URL"))
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	feeds, err := readFeeds(ctx, conn, faults)
	if err != nil {
		return err
	}
	items, err := readStored(ctx, conn)
	if err != nil {
		return err
	}
	sightings, err := readSightings(ctx, conn)
	if err != nil {
		return err
	}

	byKind := map[string][]*feed{}
	for _, f := range feeds {
		byKind[f.fault] = append(byKind[f.fault], f)
	}
	kinds := make([]string, 0, len(byKind))
	for k := range byKind {
		kinds = append(kinds, k)
	}
	sort.Strings(kinds)

	failed := false
	fmt.Printf("%-16s %5s %5s  %-44s %s\n", "fault", "feeds", "polls", "outcomes (polls)", "check")
	for _, kind := range kinds {
		fs := byKind[kind]
		npolls := 0
		for _, f := range fs {
			npolls += len(f.polls)
		}
		ok, note := judge(kind, fs, items, sightings, truths, stats.ByStatus)
		verdict := "OK"
		if !ok {
			verdict, failed = "FAIL", true
		}
		name := kind
		if name == "" {
			name = "(none)"
		}
		fmt.Printf("%-16s %5d %5d  %-44s %s: %s\n", name, len(fs), npolls, outcomes(fs), verdict, note)
	}
	if failed {
		return fmt.Errorf("FAIL: some faults did not get their outcome")
	}
	return nil
}

// judge checks the polls of the feeds with one kind of fault against what
// that fault should lead to, and says what it found.
func judge(kind string, fs []*feed, items []stored, sightings []sighting, truths map[string][]truth, byStatus map[string]int) (bool, string) {
	every := func(want string) (bool, string) {
		bad := 0
		for _, f := range fs {
			for _, p := range f.polls {
				if got := p.outcome + "/" + p.kind; got != want {
					bad++
				}
			}
		}
		return bad == 0, fmt.Sprintf("every poll %s (%d not)", want, bad)
	}
	switch kind {
	case "":
		// Feeds without a fault: no poll failed, and their stored titles
		// read as in the truth (which shows the comparison windows-1252
		// gets is sound).
		bad := 0
		ids := map[int64]*feed{}
		for _, f := range fs {
			ids[f.id] = f
			for _, p := range f.polls {
				if p.outcome == "failed" {
					bad++
				}
			}
		}
		same, differ, example := compareTitles(ids, items, truths)
		return bad == 0 && differ == 0, fmt.Sprintf("ok or not_modified (%d failed); %d stored titles as in the truth, %d not%s",
			bad, same, differ, example)
	case "http-500", "redirect-loop", "slow-trickle", "mid-body-close", "truncated-xml", "html-page",
		"huge-60mib", "gzip-bomb":
		return every(map[string]string{
			"http-500": "failed/http", "redirect-loop": "failed/redirect", "slow-trickle": "failed/timeout",
			"mid-body-close": "failed/network", "truncated-xml": "failed/parse", "html-page": "failed/parse",
			"huge-60mib": "failed/too_large", "gzip-bomb": "failed/too_large",
		}[kind])
	case "http-429", "http-503":
		return retryAfter(kind, fs, byStatus)
	case "redirect-301":
		return moved(fs, byStatus)
	case "windows-1252":
		return windows1252(fs, items, truths)
	case "billion-laughs":
		bad, longest := 0, 0
		for _, f := range fs {
			for _, p := range f.polls {
				if p.outcome == "failed" && p.kind != "parse" {
					bad++
				}
			}
			longest = max(longest, len(f.title))
		}
		return bad == 0 && longest < 1000, fmt.Sprintf("ok, not_modified or failed/parse (%d not); longest feed title %d bytes (no entity expansion)", bad, longest)
	case "no-guid-no-link":
		return noIdentity(fs, items, sightings, truths)
	}
	return false, "unknown fault kind"
}

// retryAfter: every poll answered 429 or 503 with Retry-After of two
// minutes, so no poll of a feed may start less than two minutes after the
// one before (1 s less for 503, whose HTTP date has whole seconds), and the
// feed's not_before is set from its last poll.
func retryAfter(kind string, fs []*feed, byStatus map[string]int) (bool, string) {
	status := map[string]int{"http-429": 429, "http-503": 503}[kind]
	least := 120 * time.Second
	if status == 503 {
		least -= time.Second
	}
	bad, early, noWait, pairs := 0, 0, 0, 0
	minGap := time.Duration(1 << 62)
	recorded := 0
	for _, f := range fs {
		for i, p := range f.polls {
			recorded++
			if p.outcome != "failed" || p.kind != "http" || p.status != status {
				bad++
			}
			if i > 0 {
				pairs++
				gap := p.started.Sub(f.polls[i-1].started)
				minGap = min(minGap, gap)
				if gap < least {
					early++
				}
			}
		}
		if n := len(f.polls); n > 0 && (f.notBefore == nil || f.notBefore.Sub(f.polls[n-1].started) < least) {
			noWait++
		}
	}
	note := fmt.Sprintf("failed/http %d (%d not); %d pairs of polls, %d less than %s apart (shortest %s); not_before missing on %d feeds",
		status, bad, pairs, early, least, minGap.Round(time.Second), noWait)
	ok := bad == 0 && early == 0 && noWait == 0 && pairs > 0
	if byStatus != nil {
		served := byStatus[fmt.Sprint(status)]
		note += fmt.Sprintf("; farm served %d, polls recorded %d", served, recorded)
		ok = ok && served == recorded
	}
	return ok, note
}

// moved: a 301 to the same URL three polls in a row moves the feed; the
// third poll records the new URL, and later polls go there directly.
func moved(fs []*feed, byStatus map[string]int) (bool, string) {
	nMoved, bad, after := 0, 0, 0
	for _, f := range fs {
		third := ""
		for i, p := range f.polls {
			if p.outcome == "failed" {
				bad++
			}
			switch {
			case i == 2:
				third = p.redirected
			case p.redirected != "":
				bad++ // moved at another poll than the third
			case i > 2:
				after++
			}
		}
		if third != "" && third == f.fetchURL && strings.Contains(third, "/moved/") {
			nMoved++
		}
	}
	note := fmt.Sprintf("%d of %d feeds moved at their 3rd poll (fetch_url, polls.redirected_to); %d polls at the new URL; %d failed or moved at another poll",
		nMoved, len(fs), after, bad)
	ok := nMoved == len(fs) && bad == 0 && after > 0
	if byStatus != nil {
		note += fmt.Sprintf("; farm served %d 301s (want %d)", byStatus["301"], 3*len(fs))
		ok = ok && byStatus["301"] == 3*len(fs)
	}
	return ok, note
}

// windows1252: the feeds are the farm's own, re-encoded; every item title
// stored from them (matching or kept unmatched) must read as in the truth.
// JSON feeds cannot be in windows-1252 (JSON is UTF-8): they are broken
// feeds, reported apart.
func windows1252(fs []*feed, items []stored, truths map[string][]truth) (bool, string) {
	ids := map[int64]*feed{}
	var json []string
	for _, f := range fs {
		if path.Ext(f.path) == ".json" {
			json = append(json, outcomes([]*feed{f}))
			continue
		}
		ids[f.id] = f
	}
	same, differ, example := compareTitles(ids, items, truths)
	bad := 0
	for _, f := range ids {
		for _, p := range f.polls {
			if p.outcome == "failed" {
				bad++
			}
		}
	}
	note := fmt.Sprintf("%d XML feeds: %d failed polls; %d stored titles as in the truth, %d not%s", len(ids), bad, same, differ, example)
	if len(json) > 0 {
		note += fmt.Sprintf("; %d JSON feeds (not checked: JSON must be UTF-8): %s", len(json), strings.Join(json, ", "))
	}
	return bad == 0 && differ == 0 && same > 0, note
}

// compareTitles compares the titles stored from the feeds ids (the items
// first seen in them) with the truth's, by canonical link.
func compareTitles(ids map[int64]*feed, items []stored, truths map[string][]truth) (same, differ int, example string) {
	titles := map[string]string{} // canonical link -> title, for these feeds
	for _, f := range ids {
		for _, t := range truths[f.path] {
			titles[classify.CanonicalURL(t.Link)] = t.Title
		}
	}
	for _, it := range items {
		if ids[it.feedID] == nil {
			continue
		}
		want, ok := titles[classify.CanonicalURL(it.link)]
		if !ok {
			continue
		}
		if strings.TrimSpace(it.title) == strings.TrimSpace(want) {
			same++
			continue
		}
		differ++
		if example == "" {
			example = fmt.Sprintf("; e.g. stored %q, truth %q", it.title, want)
		}
	}
	return same, differ, example
}

// noIdentity: items without guid, id or link can only be told apart by
// their text, so every item stored from these feeds has a content-hash key,
// and each article with mentions is one item: not merged with another
// article, not stored twice.
func noIdentity(fs []*feed, items []stored, sightings []sighting, truths map[string][]truth) (bool, string) {
	ids := map[int64]*feed{}
	articles := map[string]bool{} // with mentions, in these feeds
	for _, f := range fs {
		ids[f.id] = f
		for _, t := range truths[f.path] {
			if len(t.Mentions) > 0 {
				articles[t.article()] = true
			}
		}
	}
	hashed, other := 0, 0
	for _, it := range items {
		if ids[it.feedID] == nil {
			continue
		}
		if strings.HasPrefix(it.key, "sha256:") {
			hashed++
		} else {
			other++
		}
	}
	// The matching items these feeds carried, and the feeds that carried
	// each: an item seen in two of them under one title is two articles
	// merged, unless the truth says they are one.
	feedsOf := map[int64][]string{}
	titleOf := map[int64]string{}
	for _, s := range sightings {
		if f := ids[s.feedID]; f != nil {
			feedsOf[s.itemID] = append(feedsOf[s.itemID], f.path)
			titleOf[s.itemID] = s.title
		}
	}
	var merged []string
	for id, paths := range feedsOf {
		if len(paths) > 1 {
			sort.Strings(paths)
			merged = append(merged, fmt.Sprintf("%q in %s", titleOf[id], strings.Join(paths, ", ")))
		}
	}
	sort.Strings(merged)
	bad := 0
	for _, f := range fs {
		for _, p := range f.polls {
			if p.outcome == "failed" {
				bad++
			}
		}
	}
	note := fmt.Sprintf("%d failed polls; %d items stored by content hash, %d by another key; %d articles with mentions stored as %d matching items",
		bad, hashed, other, len(articles), len(feedsOf))
	if len(merged) > 0 {
		note += "; one item for several feeds' articles: " + strings.Join(merged, "; ")
	}
	return bad == 0 && other == 0 && hashed > 0 && len(feedsOf) == len(articles), note
}

// outcomes sums up the polls of fs: "failed/http 500 x66, ok x3".
func outcomes(fs []*feed) string {
	count := map[string]int{}
	for _, f := range fs {
		for _, p := range f.polls {
			k := p.outcome
			if p.kind != "" {
				k += "/" + p.kind
			}
			if p.status != 0 && p.status != 200 && p.status != 304 {
				k += fmt.Sprintf(" %d", p.status)
			}
			count[k]++
		}
	}
	keys := make([]string, 0, len(count))
	for k := range count {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		return count[keys[i]] > count[keys[j]] || count[keys[i]] == count[keys[j]] && keys[i] < keys[j]
	})
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s x%d", k, count[k])
	}
	return strings.Join(parts, ", ")
}

func readFeeds(ctx context.Context, conn *pgx.Conn, faults map[string]string) ([]*feed, error) {
	rows, err := conn.Query(ctx, `SELECT id, url, fetch_url, not_before, title FROM feeds WHERE in_config ORDER BY id`)
	if err != nil {
		return nil, err
	}
	var out []*feed
	byID := map[int64]*feed{}
	f := &feed{}
	if _, err := pgx.ForEachRow(rows, []any{&f.id, &f.url, &f.fetchURL, &f.notBefore, &f.title}, func() error {
		c := *f
		c.path = feedPath(c.url)
		c.fault = faults[c.path]
		out = append(out, &c)
		byID[c.id] = &c
		return nil
	}); err != nil {
		return nil, err
	}
	rows, err = conn.Query(ctx, `SELECT feed_id, started_at, outcome, error_kind, coalesce(http_status, 0), redirected_to
		FROM polls ORDER BY feed_id, started_at`)
	if err != nil {
		return nil, err
	}
	var id int64
	var p poll
	if _, err := pgx.ForEachRow(rows, []any{&id, &p.started, &p.outcome, &p.kind, &p.status, &p.redirected}, func() error {
		if f := byID[id]; f != nil {
			f.polls = append(f.polls, p)
		}
		return nil
	}); err != nil {
		return nil, err
	}
	return out, nil
}

// readStored reads every item as wirewatch stored it under the feed it was
// first seen in: the matching ones and the unmatched ones it keeps.
func readStored(ctx context.Context, conn *pgx.Conn) ([]stored, error) {
	rows, err := conn.Query(ctx, `SELECT feed_id, key, link, title, true FROM items`)
	if err != nil {
		return nil, err
	}
	var out []stored
	var s stored
	if _, err = pgx.ForEachRow(rows, []any{&s.feedID, &s.key, &s.link, &s.title, &s.matched}, func() error {
		out = append(out, s)
		return nil
	}); err != nil {
		return nil, err
	}
	// Kept items have no stored key: storage works it out as rematch would.
	store := storage.New(conn)
	var after int64
	for {
		page, err := store.RetainedItems(ctx, time.Time{}, time.Time{}, false, after, 5000)
		if err != nil || len(page) == 0 {
			return out, err
		}
		for _, r := range page {
			out = append(out, stored{feedID: r.FeedID, key: r.Key, link: r.Link, title: r.Title})
		}
		after = page[len(page)-1].ID
	}
}

// sighting is a matching item seen in a feed.
type sighting struct {
	itemID, feedID int64
	title          string
}

func readSightings(ctx context.Context, conn *pgx.Conn) ([]sighting, error) {
	rows, err := conn.Query(ctx, `SELECT s.item_id, s.feed_id, i.title FROM item_sightings s JOIN items i ON i.id = s.item_id`)
	if err != nil {
		return nil, err
	}
	var out []sighting
	var s sighting
	_, err = pgx.ForEachRow(rows, []any{&s.itemID, &s.feedID, &s.title}, func() error {
		out = append(out, s)
		return nil
	})
	return out, err
}

// feedPath is the farm's path of a feed URL: http://127.0.0.2:8080/feeds/00001.xml -> feeds/00001.xml.
func feedPath(u string) string {
	if i := strings.Index(u, "/feeds/"); i >= 0 {
		return u[i+1:]
	}
	return u
}

// readFaults reads faults.txt: "path<TAB>kind<TAB>url" per line.
func readFaults(name string) (map[string]string, error) {
	b, err := os.ReadFile(name)
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 {
			out[f[0]] = f[1]
		}
	}
	return out, nil
}

func readTruth(name string) (map[string][]truth, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	out := map[string][]truth{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		var t truth
		if err := json.Unmarshal(sc.Bytes(), &t); err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		out[t.Feed] = append(out[t.Feed], t)
	}
	return out, sc.Err()
}
