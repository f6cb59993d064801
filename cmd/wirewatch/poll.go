package main

import (
	"context"
	"fmt"
	"time"

	"github.com/wirewatch/wirewatch/storage"
)

func cmdPoll(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "poll", "poll [--config PATH] [--migrate]\n\nPolls every configured feed once and exits: 0 when the pass completed (failed feeds are\nrecorded and listed), 1 when it could not run.")
	cfgPath := configFlag(fs)
	migrate := fs.Bool("migrate", false, "apply schema migrations before polling")
	if err := parseFlags(fs, args, false); err != nil {
		return err
	}
	p, err := openPipeline(ctx, e, *cfgPath, *migrate)
	if err != nil {
		return err
	}
	defer p.pool.Close()
	sum, err := p.sched.PollAll(ctx, p.feeds)
	skipped := ""
	if sum.Skipped > 0 {
		skipped = fmt.Sprintf(", %d skipped (polled elsewhere, asked to wait, or gone)", sum.Skipped)
	}
	fmt.Fprintf(e.stdout, "polled %d feeds in %s: %d ok, %d not modified, %d failed%s; %d new matches\n",
		sum.Feeds, sum.Duration.Round(time.Millisecond), sum.OK, sum.NotModified, sum.Failed, skipped, sum.NewMatches)
	if err != nil {
		return fmt.Errorf("poll: %w", err)
	}
	cleanRetention(ctx, p.cfg, p.store, p.log)
	if sum.Failed > 0 {
		failing, err := p.store.FailingFeeds(ctx)
		if err != nil {
			return err
		}
		fmt.Fprintln(e.stdout, "failed feeds (recorded; they are retried at the next poll):")
		for _, f := range failing {
			fmt.Fprintf(e.stdout, "  %s  %s\n", f.URL, f.LastError)
		}
	}
	return nil
}

func cmdMigrate(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "migrate", "migrate [--config PATH]\n\nApplies the schema migrations the database does not have yet. Safe to run from several\nplaces at once and to run again.")
	cfgPath := configFlag(fs)
	if err := parseFlags(fs, args, false); err != nil {
		return err
	}
	cfg, _, err := loadConfig(e, *cfgPath)
	if err != nil {
		return err
	}
	pool, err := storage.Open(ctx, cfg.Database.URL, 2)
	if err != nil {
		return fmt.Errorf("%w (database URL from %s)", err, cfg.DatabaseURLSource)
	}
	defer pool.Close()
	applied, err := storage.Migrate(ctx, pool)
	for _, m := range applied {
		fmt.Fprintf(e.stdout, "applied %03d_%s\n", m.Version, m.Name)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "schema is at version %d\n", storage.LatestVersion())
	return nil
}
