package ingest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"runtime"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/robfig/cron/v3"

	"github.com/wirewatch/wirewatch/classify"
	"github.com/wirewatch/wirewatch/storage"
)

// maxFieldText bounds the stored text of one item field; a feed that puts a
// whole book in one item still gets matched on all of it.
const maxFieldText = 64 << 10

// Poller runs one poll of one feed: fetch, parse, match, store.
type Poller struct {
	Fetcher *Fetcher
	Matcher *classify.Matcher
	Store   *storage.Store
	// KeepUnmatched stores the text of items that match nothing, so that
	// rematch can apply a changed watchlist to them later.
	KeepUnmatched bool
	// Stories says how near-duplicates are grouped.
	Stories storage.StoryOptions
	// Policy plans each feed's next poll.
	Policy Policy
	// References scores new matches against the reference articles; nil
	// or empty stores them without a relevance.
	References *References
	// Now is the clock; tests may replace it.
	Now func() time.Time
}

// cpuWork bounds the polls that parse and match at once to the CPUs the
// process may use. Those steps only compute, so more at once would not be
// faster, and each holds a whole parsed feed in memory; fetching, which
// mostly waits, is bounded by fetch.concurrency instead.
var cpuWork = make(chan struct{}, runtime.GOMAXPROCS(0))

// cpuTurn is one poll's hold on cpuWork.
type cpuTurn struct{ held bool }

func (c *cpuTurn) begin(ctx context.Context) error {
	select {
	case cpuWork <- struct{}{}:
		c.held = true
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (c *cpuTurn) end() {
	if c.held {
		<-cpuWork
		c.held = false
	}
}

// Report says what one poll did, for the log line at the end of the job.
type Report struct {
	Feed       storage.Feed
	Outcome    string
	HTTPStatus int
	Bytes      int64
	ItemsSeen  int
	Matched    int // new or edited items that matched (items unchanged since the last poll are skipped)
	NewMatches int // matching items stored for the first time
	Updated    int // stored items the feed edited
	Duration   time.Duration
	Err        error // why the feed failed (recorded in the poll row)

	NextPollAt time.Time  // when the feed is due again
	NotBefore  *time.Time // its server asked not to be asked before this
	Gone       bool       // it answered 410 Gone
	MovedTo    string     // this poll moved it to a new URL (permanent redirects)
}

// Poll polls feed once and records the outcome, with the feed's next turn
// on sched (nil: every 15 minutes) planned from what the server said; due
// is when this poll was due (nil: out of schedule). A feed that fails
// (network, HTTP, parse) is recorded as failed and returns a Report with
// Err set and a nil error; the returned error is for failures to record
// anything at all, such as a database that went away.
func (p *Poller) Poll(ctx context.Context, feed storage.Feed, sched cron.Schedule, due *time.Time) (Report, error) {
	now := time.Now
	if p.Now != nil {
		now = p.Now
	}
	started := now()
	rep := Report{Feed: feed}
	rec := storage.Poll{FeedID: feed.ID, StartedAt: started, DueAt: due, Instance: instanceFrom(ctx)}

	var (
		resp *Response
		err  error
	)
	validators, unconditional := p.Policy.validatorsFor(feed, started)
	rec.Unconditional = unconditional
	resp, err = p.Fetcher.Fetch(ctx, feed.PollURL(), validators)
	defer resp.Release()
	if resp != nil {
		rec.HTTPStatus = resp.Status
		rec.Bytes = int64(len(resp.Body))
	}
	var parsed *Feed
	var bodyHash string
	cpu := cpuTurn{}
	defer cpu.end()
	switch {
	case err != nil:
	case resp.NotModified:
		rec.Outcome = storage.OutcomeNotModified
	default:
		if err = cpu.begin(ctx); err != nil {
			break
		}
		bodyHash = hashBody(resp.Body, p.Matcher.Fingerprint())
		if bodyHash == feed.BodyHash {
			// Same bytes as last time (a server without validators) and the
			// same watchlist: nothing to parse.
			rec.Outcome = storage.OutcomeNotModified
			break
		}
		parsed, err = Parse(resp.Body, resp.ContentType)
	}

	if err != nil {
		if ctx.Err() != nil {
			// Shutting down: leave no record, the next start polls again.
			return rep, ctx.Err()
		}
		if errors.Is(err, errStopped) {
			// Stopping before the request went out: the same.
			return rep, context.Canceled
		}
		rec.Outcome = storage.OutcomeFailed
		rec.ErrorKind = ErrorKind(err)
		rec.Error = truncate(err.Error(), 1000)
	}
	o := outcome{failed: err != nil, err: err, resp: resp}
	if parsed != nil {
		o.parsed, o.ttl = true, feedTTL(resp.Body)
		rec.Outcome = storage.OutcomeOK
		rec.ItemsSeen = len(parsed.Items)
		rec.ETag, rec.LastModified, rec.BodyHash = resp.Validators.ETag, resp.Validators.LastModified, bodyHash
		rec.FeedTitle, rec.SiteURL = truncate(parsed.Title, 500), truncate(parsed.SiteURL, 2000)
		digests := itemDigests(parsed.Items, p.digestSalt())
		rec.SeenItems = encodeDigests(digests)
		rec.Items, rec.Unmatched = p.classify(feed, parsed, seenBefore(feed.SeenItems, digests))
	}
	// Parsed: nothing refers to the body any more.
	resp.Release()
	cpu.end()
	if resp != nil {
		// The poll starts when its request goes out: the wait for a turn at
		// the host is politeness, not the feed's slowness, and it counts in
		// the poll's lag (started_at - due_at).
		rec.StartedAt = started.Add(resp.Queued)
	}
	rec.Duration = now().Sub(rec.StartedAt)
	p.Policy.plan(&rec, feed, sched, now(), o)

	// The work is done; what remains is storing it, with other polls
	// (storage bounds how many wait for that).
	slotFrom(ctx).give()
	rec.Stories = p.Stories
	// The report is filled in first, so that rec, which holds the poll's
	// text, is not held while the poll waits to be stored.
	rep.Outcome, rep.HTTPStatus, rep.Bytes, rep.ItemsSeen = rec.Outcome, rec.HTTPStatus, rec.Bytes, rec.ItemsSeen
	rep.Matched, rep.Duration, rep.Err = len(rec.Items), rec.Duration, err
	rep.NextPollAt, rep.NotBefore, rep.Gone, rep.MovedTo = rec.NextPollAt, rec.NotBefore, rec.Gone, rec.RedirectedTo
	saved, saveErr := p.Store.SavePoll(ctx, rec)
	if saveErr != nil {
		return rep, saveErr
	}
	rep.NewMatches, rep.Updated = saved.NewItems, saved.UpdatedItems
	return rep, nil
}

// classify matches the items not seen unchanged at the last poll (skip)
// and returns the matching ones, each once per identity key, and, when
// they are kept, the others.
func (p *Poller) classify(feed storage.Feed, parsed *Feed, skip []bool) (matched, unmatched []storage.Item) {
	base := baseURL(feed.PollURL(), parsed.SiteURL)
	seen := map[string]bool{}
	var bodies []string                        // of the matched items, for their fingerprints
	texts := make([]string, len(parsed.Items)) // each item's story text, once stripped
	for i, it := range parsed.Items {
		if skip[i] {
			continue
		}
		// Stripped once: matched, stored and fingerprinted as plain text.
		title := classify.StripHTML(it.Title)
		summary := classify.StripHTML(it.Summary)
		content := classify.StripHTML(it.Content)
		texts[i] = classify.StoryText(summary, content)
		res := p.Matcher.Match(classify.Document{Title: title, Summary: summary, Content: content,
			Categories: it.Categories, Author: it.Author, Stripped: true})
		if !res.Matched() && !p.KeepUnmatched {
			continue
		}
		link := resolve(base, it.Link)
		si := storage.Item{
			GUID:        truncate(it.GUID, 2000),
			Link:        truncate(link, 2000),
			Title:       truncate(title, 2000),
			Summary:     truncate(summary, maxFieldText),
			Content:     truncate(content, maxFieldText),
			Author:      truncate(it.Author, 500),
			Categories:  truncateAll(it.Categories, 200),
			PublishedAt: it.PublishedAt,
		}
		if !res.Matched() {
			// Kept as text only: its key and hash are worked out if a
			// rematch finds it.
			unmatched = append(unmatched, si)
			continue
		}
		key := classify.ItemKey(feed.URL, it.GUID, link, title, summary+"\n"+content)
		if seen[key] {
			continue // the same item twice in one feed
		}
		seen[key] = true
		si.Key, si.ContentHash = key, classify.ContentHash(title, summary+"\n"+content)
		si.Watches, si.Hits, si.Snippets = res.Watches, res.Hits, res.Snippets
		si.Relevance = storage.ItemRelevance(p.References.Scorer(), title, summary, content)
		for w, snip := range si.Snippets {
			si.Snippets[w] = truncate(snip, 1000)
		}
		matched = append(matched, si)
		bodies = append(bodies, texts[i])
	}
	if len(matched) == 0 {
		return matched, unmatched
	}
	// Sentences that this feed repeats in its items (sign-offs, pleas to
	// subscribe, copyright lines) say nothing about the story; leave them
	// out of the fingerprint so they cannot make two stories look alike.
	all := make([]string, 0, len(parsed.Items))
	keys := map[string]bool{}
	for i, it := range parsed.Items {
		if id := it.GUID + "\x00" + it.Link; !keys[id] {
			keys[id] = true
			if skip[i] {
				texts[i] = classify.StoryText(classify.StripHTML(it.Summary), classify.StripHTML(it.Content))
			}
			all = append(all, texts[i])
		}
	}
	bp := classify.FindBoilerplate(all, max(2, len(all)/5))
	for i := range matched {
		if sig, ok := classify.Fingerprint(matched[i].Title, bp.Strip(bodies[i])); ok {
			matched[i].Signature, matched[i].Bands = sig.Bytes(), sig.Bands()
		}
	}
	return matched, unmatched
}

func truncateAll(ss []string, n int) []string {
	out := make([]string, 0, len(ss))
	for _, s := range ss {
		if s = truncate(s, n); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// digestSalt is what, beside an item itself, decides how it is matched
// and kept: a new watchlist or keeping unmatched items makes every item
// worth another look.
func (p *Poller) digestSalt() string {
	return p.Matcher.Fingerprint() + "\x00" + strconv.FormatBool(p.KeepUnmatched)
}

// hashBody identifies a body as matched by one watchlist; a new watchlist
// makes every feed's current items worth matching again.
func hashBody(b []byte, watchlist string) string {
	h := sha256.New()
	h.Write(b)
	h.Write([]byte(watchlist))
	return hex.EncodeToString(h.Sum(nil)[:16])
}

// baseURL is what relative item links are resolved against: the feed's site
// link when it is absolute, else the feed URL.
func baseURL(feedURL, siteURL string) *url.URL {
	if u, err := url.Parse(siteURL); err == nil && u.IsAbs() {
		return u
	}
	u, _ := url.Parse(feedURL)
	return u
}

func resolve(base *url.URL, link string) string {
	if link == "" || base == nil {
		return link
	}
	u, err := url.Parse(link)
	if err != nil || u.IsAbs() {
		return link
	}
	return base.ResolveReference(u).String()
}

// truncate cuts s to at most n bytes without splitting a character, and
// makes it valid UTF-8 (PostgreSQL refuses anything else).
func truncate(s string, n int) string {
	s = strings.ToValidUTF8(strings.ReplaceAll(s, "\x00", ""), "\uFFFD")
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// String is the one-line summary used in logs and by `wirewatch poll`.
func (r Report) String() string {
	if r.Err != nil {
		return fmt.Sprintf("failed (%s): %v", ErrorKind(r.Err), r.Err)
	}
	return fmt.Sprintf("%s: %d items, %d matching among the new or edited, %d new", r.Outcome, r.ItemsSeen, r.Matched, r.NewMatches)
}

// IsShutdown reports whether err only says the poll was interrupted by a
// shutdown.
func IsShutdown(err error) bool {
	return errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
}
