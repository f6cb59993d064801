package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/robfig/cron/v3"

	"github.com/wirewatch/wirewatch/classify"
	"github.com/wirewatch/wirewatch/config"
	"github.com/wirewatch/wirewatch/ingest"
	"github.com/wirewatch/wirewatch/storage"
)

const defaultConfigPath = config.DefaultPath

// configFlag registers --config on a command's flags.
func configFlag(fs *flag.FlagSet) *string {
	return fs.String("config", "", "configuration file (default $WIREWATCH_CONFIG, else "+defaultConfigPath+")")
}

// loadConfig reads and validates the configuration and compiles its
// watchlist. Any problem is a usage error (exit 2) that names the file, line
// and key.
func loadConfig(e *env, flagPath string) (*config.Config, *classify.Matcher, error) {
	path := flagPath
	if path == "" {
		path = e.getenv("WIREWATCH_CONFIG")
	}
	if path == "" {
		path = defaultConfigPath
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, usagef("read config: %v", err)
	}
	cfg, err := config.Parse(path, data, e.getenv)
	if err != nil {
		return nil, nil, usageError{fmt.Errorf("invalid configuration:\n%w", err)}
	}
	m, err := compileWatchlist(cfg)
	if err != nil {
		return nil, nil, usageError{fmt.Errorf("invalid configuration:\n%w", err)}
	}
	return cfg, m, nil
}

func compileWatchlist(cfg *config.Config) (*classify.Matcher, error) {
	entries := make([]classify.Entry, len(cfg.Watchlist))
	for i, w := range cfg.Watchlist {
		entries[i] = classify.Entry{Name: strings.TrimSpace(w.Name), Terms: w.Terms, Query: w.Query, Fields: w.Fields}
	}
	m, err := classify.Compile(entries)
	var re *classify.RuleError
	if errors.As(err, &re) {
		path := fmt.Sprintf("watchlist[%d].%s", re.Entry, re.Key)
		if re.Index >= 0 {
			path += fmt.Sprintf("[%d]", re.Index)
		}
		msg := re.Msg
		if re.Column > 0 {
			q := []rune(strings.TrimSpace(cfg.Watchlist[re.Entry].Query))
			at := q[min(re.Column-1, len(q)):]
			near := string(at[:min(len(at), 30)])
			if len(at) > 30 {
				near += "…"
			}
			msg = fmt.Sprintf("column %d of the query (at %q): %s", re.Column, near, re.Msg)
		}
		return nil, cfg.Errorf(path, "%s", msg)
	}
	return m, err
}

// newLogger sets up the process log once: text or JSON on stderr, at the
// configured level, with snake_case keys throughout.
func newLogger(cfg config.Log, w io.Writer) *slog.Logger {
	log, _ := newLevelLogger(cfg, w)
	return log
}

// newLevelLogger is newLogger with its level adjustable later (reload).
func newLevelLogger(cfg config.Log, w io.Writer) (*slog.Logger, *slog.LevelVar) {
	var level slog.Level
	_ = level.UnmarshalText([]byte(cfg.Level)) // validated by config
	lv := &slog.LevelVar{}
	lv.Set(level)
	opts := &slog.HandlerOptions{Level: lv}
	if cfg.Format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts)), lv
	}
	return slog.New(slog.NewTextHandler(w, opts)), lv
}

// openDB connects to the configured database and checks that its schema is
// current, applying the migrations first when migrate is set.
func openDB(ctx context.Context, cfg *config.Config, migrate bool, log *slog.Logger) (*pgxpool.Pool, error) {
	pool, err := storage.Open(ctx, cfg.Database.URL, cfg.Database.MaxConns)
	if err != nil {
		return nil, fmt.Errorf("%w (database URL from %s)", err, cfg.DatabaseURLSource)
	}
	if migrate {
		applied, err := storage.Migrate(ctx, pool)
		if err != nil {
			pool.Close()
			return nil, err
		}
		for _, m := range applied {
			log.Info("applied migration", "version", m.Version, "name", m.Name)
		}
	}
	if err := storage.CheckSchema(ctx, pool); err != nil {
		pool.Close()
		return nil, err
	}
	return pool, nil
}

func fetchOptions(cfg *config.Config) ingest.FetchOptions {
	ua := cfg.Fetch.UserAgent
	if ua == "" {
		ua = "wirewatch/" + versionString() + " (feed monitor; +https://github.com/wirewatch/wirewatch)"
	}
	return ingest.FetchOptions{
		UserAgent:            ua,
		Timeout:              cfg.Fetch.Timeout.D(),
		MaxBodySize:          int64(cfg.Fetch.MaxBodySize),
		AllowPrivateNetworks: cfg.Fetch.AllowPrivateNetworks,
		PerHostConcurrency:   cfg.Fetch.PerHostConcurrency,
		PerHostInterval:      cfg.Fetch.PerHostInterval.D(),
	}
}

func pollPolicy(cfg *config.Config) ingest.Policy {
	return ingest.Policy{
		MaxBackoff:         cfg.Fetch.MaxBackoff.D(),
		MaxInterval:        cfg.Fetch.MaxInterval.D(),
		UnconditionalEvery: cfg.Fetch.UnconditionalEvery.D(),
	}
}

// setupFeeds records the configured feeds in the database and pairs each
// with its schedule.
func setupFeeds(ctx context.Context, cfg *config.Config, store *storage.Store) ([]ingest.ScheduledFeed, error) {
	specs := make([]storage.FeedSpec, len(cfg.Feeds))
	for i, f := range cfg.Feeds {
		specs[i] = storage.FeedSpec{URL: f.URL, Name: f.Name}
	}
	feeds, err := store.SyncFeeds(ctx, specs)
	if err != nil {
		return nil, err
	}
	out := make([]ingest.ScheduledFeed, len(feeds))
	parsed := map[string]cron.Schedule{} // most feeds share a schedule
	for i, f := range feeds {
		spec := cfg.FeedSchedule(cfg.Feeds[i])
		sched, ok := parsed[spec]
		if !ok {
			if sched, err = config.ParseSchedule(spec); err != nil { // validated by config already
				return nil, err
			}
			parsed[spec] = sched
		}
		out[i] = ingest.ScheduledFeed{Feed: f, Schedule: sched, Spec: spec}
	}
	return out, nil
}

// pipeline is what run and poll share: the loaded configuration, the log, a
// database with a current schema, the configured feeds and a scheduler.
type pipeline struct {
	cfg   *config.Config
	log   *slog.Logger
	pool  *pgxpool.Pool
	store *storage.Store
	feeds []ingest.ScheduledFeed
	sched *ingest.Scheduler
	level *slog.LevelVar     // the log's, which a reload may change
	refs  *ingest.References // the reference articles' scorer
}

// openPipeline loads the configuration and connects everything a poll
// needs. The caller closes p.pool.
func openPipeline(ctx context.Context, e *env, cfgPath string, migrate bool) (*pipeline, error) {
	cfg, matcher, err := loadConfig(e, cfgPath)
	if err != nil {
		return nil, err
	}
	p := &pipeline{cfg: cfg}
	p.log, p.level = newLevelLogger(cfg.Log, e.stderr)
	if p.pool, err = openDB(ctx, cfg, migrate, p.log); err != nil {
		return nil, err
	}
	p.store = storage.New(p.pool)
	if p.feeds, err = setupFeeds(ctx, cfg, p.store); err != nil {
		p.pool.Close()
		return nil, err
	}
	p.refs = &ingest.References{}
	if _, err := loadReferences(ctx, p.store, p.refs, ""); err != nil {
		p.pool.Close()
		return nil, err
	}
	p.sched = &ingest.Scheduler{
		Poller:      newPoller(cfg, matcher, p.store, ingest.NewFetcher(fetchOptions(cfg)), p.refs),
		Log:         p.log,
		Concurrency: cfg.Fetch.Concurrency,
	}
	return p, nil
}

// newPoller is a Poller for cfg.
func newPoller(cfg *config.Config, matcher *classify.Matcher, store *storage.Store, fetcher *ingest.Fetcher, refs *ingest.References) *ingest.Poller {
	return &ingest.Poller{Fetcher: fetcher, Matcher: matcher, Store: store, References: refs,
		KeepUnmatched: cfg.Retention.Unmatched > 0, Stories: storyOptions(cfg), Policy: pollPolicy(cfg)}
}

// loadReferences sets refs to score against the stored reference articles,
// unless their version is still known; it returns the version loaded.
func loadReferences(ctx context.Context, store *storage.Store, refs *ingest.References, known string) (string, error) {
	version, err := store.ReferencesVersion(ctx)
	if err != nil || version == known {
		return version, err
	}
	stored, err := store.References(ctx, false)
	if err != nil {
		return "", err
	}
	models := make([]classify.ReferenceModel, len(stored))
	for i, r := range stored {
		models[i] = r.Model
	}
	refs.Set(classify.NewRelevance(models))
	return version, nil
}

// cleanRetention deletes kept unmatched items older than the retention
// window (all of them when retention is 0) and poll records older than
// theirs. Matches are never deleted.
func cleanRetention(ctx context.Context, cfg *config.Config, store *storage.Store, log *slog.Logger) {
	n, err := store.DeleteUnmatchedBefore(ctx, time.Now().Add(-cfg.Retention.Unmatched.D()))
	switch {
	case err != nil:
		log.Warn("retention cleanup failed; it runs again within the hour", "error", err)
	case n > 0:
		log.Info("retention cleanup", "unmatched_items_deleted", n, "older_than", cfg.Retention.Unmatched)
	}
	if cfg.Retention.Polls <= 0 {
		return
	}
	n, err = store.DeletePollsBefore(ctx, time.Now().Add(-cfg.Retention.Polls.D()))
	switch {
	case err != nil:
		log.Warn("retention cleanup of poll records failed; it runs again within the hour", "error", err)
	case n > 0:
		log.Info("retention cleanup", "polls_deleted", n, "older_than", cfg.Retention.Polls)
	}
}

func storyOptions(cfg *config.Config) storage.StoryOptions {
	return storage.StoryOptions{Window: cfg.Stories.Window.D(), Threshold: cfg.Stories.Similarity, Batch: 1000}
}

// openStore loads the configuration and connects to its database with a
// current schema, for the commands that only read or mark what is stored.
// The caller calls close.
func openStore(ctx context.Context, e *env, cfgPath string) (store *storage.Store, close func(), err error) {
	cfg, _, err := loadConfig(e, cfgPath)
	if err != nil {
		return nil, nil, err
	}
	pool, err := openDB(ctx, cfg, false, newLogger(cfg.Log, e.stderr))
	if err != nil {
		return nil, nil, err
	}
	return storage.New(pool), pool.Close, nil
}
