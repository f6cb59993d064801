package main

import (
	"context"
	"fmt"
	"time"

	"github.com/wirewatch/wirewatch/classify"
	"github.com/wirewatch/wirewatch/ingest"
	"github.com/wirewatch/wirewatch/storage"
)

func cmdRematch(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "rematch", `rematch [--config PATH] [--since DURATION|TIMESTAMP]

Applies the current watchlist to the items of a past window: the kept text of items that
matched nothing (see retention.unmatched) and the stored matches. New matches are stored,
marked found_by = rematch. Run it after adding a term to find last week's items too.`)
	cfgPath := configFlag(fs)
	since := fs.String("since", "", "the window: items first seen since `DURATION` ago (24h, 7d) or a TIMESTAMP (default: retention.unmatched)")
	batch := fs.Int("batch", 500, "items read and stored per transaction")
	if err := parseFlags(fs, args, false); err != nil {
		return err
	}
	if *batch < 1 {
		return usagef("--batch must be at least 1")
	}
	cfg, matcher, err := loadConfig(e, *cfgPath)
	if err != nil {
		return err
	}
	now := time.Now()
	from := now.Add(-cfg.Retention.Unmatched.D())
	if *since != "" {
		if from, err = parseSince(*since, now); err != nil {
			return usageError{err}
		}
	}
	log := newLogger(cfg.Log, e.stderr)
	pool, err := openDB(ctx, cfg, false, log)
	if err != nil {
		return err
	}
	defer pool.Close()
	store := storage.New(pool)
	refs := &ingest.References{}
	if _, err := loadReferences(ctx, store, refs, ""); err != nil {
		return err
	}
	scorer := refs.Scorer()

	if kept := now.Add(-cfg.Retention.Unmatched.D()); from.Before(kept) {
		fmt.Fprintf(e.stderr, "rematch: unmatched items are kept for %s (retention.unmatched); older ones were not kept and cannot be searched\n", cfg.Retention.Unmatched)
	}
	unmatched, stored, err := store.CountRetained(ctx, from)
	if err != nil {
		return err
	}
	total := unmatched + stored
	fmt.Fprintf(e.stderr, "rematch: %d kept unmatched items and %d stored matches first seen since %s\n",
		unmatched, stored, from.Local().Format("2006-01-02 15:04"))

	var checked int64
	var newItems int
	var newMatches int64
	lastReport := time.Now()
	for _, storedPass := range []bool{false, true} {
		var after int64
		for {
			if err := ctx.Err(); err != nil {
				return fmt.Errorf("rematch interrupted after %d of %d items (%d new matches stored): %w", checked, total, newMatches, err)
			}
			page, err := store.RetainedItems(ctx, from, now, storedPass, after, *batch)
			if err != nil {
				return err
			}
			if len(page) == 0 {
				break
			}
			after = page[len(page)-1].ID
			var found []storage.Retained
			for _, r := range page {
				res := matcher.Match(classify.Document{Title: r.Title, Summary: r.Summary, Content: r.Content,
					Categories: r.Categories, Author: r.Author})
				if res.Matched() {
					r.Watches, r.Hits, r.Snippets = res.Watches, res.Hits, res.Snippets
					r.Relevance = storage.ItemRelevance(scorer, r.Title, r.Summary, r.Content)
					found = append(found, r)
				}
			}
			if len(found) > 0 {
				n, m, err := store.SaveRematch(ctx, found, storyOptions(cfg))
				if err != nil {
					return err
				}
				newItems += n
				newMatches += m
			}
			checked += int64(len(page))
			if time.Since(lastReport) >= 2*time.Second {
				fmt.Fprintf(e.stderr, "rematch: %d of %d items checked (%.0f%%), %d new matches\n",
					checked, total, 100*float64(checked)/float64(max(total, 1)), newMatches)
				lastReport = time.Now()
			}
		}
	}
	fmt.Fprintf(e.stdout, "rematch: checked %d items in %s: %d items newly matched, %d matches added (found_by = rematch)\n",
		checked, time.Since(now).Round(time.Millisecond), newItems, newMatches)
	return nil
}
