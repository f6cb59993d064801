package main

import (
	"context"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"reflect"
	"sync"
	"syscall"
	"time"

	"github.com/fsnotify/fsnotify"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/wirewatch/wirewatch/config"
	"github.com/wirewatch/wirewatch/ingest"
)

// reloader applies a changed configuration to the running daemon, on
// SIGHUP or when the file (or its feeds_file) changes. A configuration
// that does not load keeps the last good one running: the error is logged
// with its file, line and key, counted in the metrics and shown on /readyz.
type reloader struct {
	e     *env
	p     *pipeline
	level *slog.LevelVar

	success, stamp prometheus.Gauge

	mu      sync.Mutex
	cfg     *config.Config // the configuration running now
	poller  *ingest.Poller // and its poller
	lastErr string
	lastAt  time.Time
}

func newReloader(e *env, p *pipeline, level *slog.LevelVar, reg prometheus.Registerer) *reloader {
	r := &reloader{e: e, p: p, level: level, cfg: p.cfg, poller: p.sched.Poller,
		success: prometheus.NewGauge(prometheus.GaugeOpts{Name: "wirewatch_config_last_reload_success",
			Help: "1 when the last configuration load (at start or reload) succeeded, 0 when it failed and the previous one runs on."}),
		stamp: prometheus.NewGauge(prometheus.GaugeOpts{Name: "wirewatch_config_last_reload_timestamp_seconds",
			Help: "When the configuration was last loaded or a reload was tried (Unix time)."}),
	}
	reg.MustRegister(r.success, r.stamp)
	r.success.Set(1)
	r.stamp.SetToCurrentTime()
	return r
}

// current is the configuration running now.
func (r *reloader) current() *config.Config {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.cfg
}

// status says how the last reload went, for /readyz: "ok", or the error.
func (r *reloader) status() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.lastErr == "" {
		return "ok"
	}
	return "last reload at " + r.lastAt.UTC().Format(time.RFC3339) + " failed, the previous configuration runs on: " + r.lastErr
}

// reload loads the configuration again and applies it.
func (r *reloader) reload(ctx context.Context, trigger string) {
	log := r.p.log
	old := r.current()
	r.stamp.SetToCurrentTime()
	cfg, matcher, err := loadConfig(r.e, old.Path)
	var poller *ingest.Poller
	if err == nil {
		var feeds []ingest.ScheduledFeed
		if feeds, err = setupFeeds(ctx, cfg, r.p.store); err == nil {
			r.mu.Lock()
			fetcher := r.poller.Fetcher
			r.mu.Unlock()
			if fetchOptions(cfg) != fetchOptions(old) {
				fetcher = ingest.NewFetcher(fetchOptions(cfg))
			}
			poller = newPoller(cfg, matcher, r.p.store, fetcher, r.p.refs)
			r.p.sched.Reload(feeds, poller, cfg.Fetch.Concurrency)
		}
	}
	r.mu.Lock()
	if err != nil {
		r.lastErr, r.lastAt = err.Error(), time.Now()
		r.mu.Unlock()
		r.success.Set(0)
		log.Error("configuration not reloaded; the previous one runs on", "trigger", trigger, "error", err)
		return
	}
	r.cfg, r.poller, r.lastErr, r.lastAt = cfg, poller, "", time.Now()
	r.mu.Unlock()
	r.success.Set(1)
	var level slog.Level
	_ = level.UnmarshalText([]byte(cfg.Log.Level))
	r.level.Set(level)
	for _, c := range []struct {
		key      string
		old, new any
	}{
		{"database", old.Database, cfg.Database},
		{"http.listen", old.HTTP.Listen, cfg.HTTP.Listen},
		{"http credentials", [2]config.Secret{old.HTTP.Token, old.HTTP.BasicAuth}, [2]config.Secret{cfg.HTTP.Token, cfg.HTTP.BasicAuth}},
		{"log.format", old.Log.Format, cfg.Log.Format},
		{"metrics", old.Metrics, cfg.Metrics},
		{"alerts", old.Alerts, cfg.Alerts},
	} {
		if !reflect.DeepEqual(c.old, c.new) {
			log.Warn("configuration change needs a restart to take effect", "key", c.key)
		}
	}
	log.Info("configuration reloaded", "trigger", trigger, "feeds", len(cfg.Feeds), "watch_entries", len(cfg.Watchlist))
}

// watch reloads on SIGHUP and on changes to the configuration file or its
// feeds_file, until ctx is done. Changes are debounced: an editor's
// several writes make one reload.
func (r *reloader) watch(ctx context.Context) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)

	var events <-chan fsnotify.Event
	var errs <-chan error
	files := map[string]bool{}
	if w, err := fsnotify.NewWatcher(); err != nil {
		r.p.log.Warn("not watching the configuration file; reload with SIGHUP", "error", err)
	} else {
		defer w.Close()
		cfg := r.current()
		paths := []string{cfg.Path}
		if cfg.FeedsFile != "" {
			paths = append(paths, cfg.FeedsFileResolved())
		}
		for _, p := range paths {
			abs, err := filepath.Abs(p)
			if err != nil {
				continue
			}
			files[abs] = true
			// The directory, not the file: editors and config management
			// replace the file, which ends a watch on the file itself.
			if err := w.Add(filepath.Dir(abs)); err != nil {
				r.p.log.Warn("not watching a configuration file; reload with SIGHUP", "file", abs, "error", err)
			}
		}
		events, errs = w.Events, w.Errors
	}

	debounce := time.NewTimer(time.Hour)
	debounce.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-hup:
			r.reload(ctx, "SIGHUP")
		case ev := <-events:
			if abs, _ := filepath.Abs(ev.Name); files[abs] && ev.Op&(fsnotify.Write|fsnotify.Create|fsnotify.Rename) != 0 {
				debounce.Reset(500 * time.Millisecond)
			}
		case err := <-errs:
			r.p.log.Warn("configuration file watch", "error", err)
		case <-debounce.C:
			r.reload(ctx, "file changed")
		}
	}
}
