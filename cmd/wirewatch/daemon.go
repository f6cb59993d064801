package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"runtime"
	"strings"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/wirewatch/wirewatch/cmd/wirewatch/notify"
	"github.com/wirewatch/wirewatch/cmd/wirewatch/review"
	"github.com/wirewatch/wirewatch/config"
	"github.com/wirewatch/wirewatch/ingest"
	"github.com/wirewatch/wirewatch/storage"
)

func cmdRun(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "run", "run [--config PATH] [--migrate]")
	cfgPath := configFlag(fs)
	migrate := fs.Bool("migrate", false, "apply schema migrations before starting")
	if err := parseFlags(fs, args, false); err != nil {
		return err
	}
	p, err := openPipeline(ctx, e, *cfgPath, *migrate)
	if err != nil {
		return err
	}
	defer p.pool.Close()
	cfg, log := p.cfg, p.log
	log.Info("starting wirewatch", "version", versionString(), "config", cfg.Path, "feeds", len(cfg.Feeds),
		"watch_entries", len(cfg.Watchlist), "database", cfg.DatabaseURLSource)

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		storage.PoolCollector(p.pool))
	info := prometheus.NewGauge(prometheus.GaugeOpts{Name: "wirewatch_build_info", Help: "Always 1; the labels say which build runs.",
		ConstLabels: prometheus.Labels{"version": versionString(), "commit": commit, "goversion": runtime.Version()}})
	info.Set(1)
	reg.MustRegister(info)
	p.sched.Metrics = ingest.NewMetrics(reg, cfg.Metrics.PerFeed)
	reloads := newReloader(e, p, p.level, reg)

	var running atomic.Bool
	if cfg.HTTP.Listen != "" && cfg.HTTP.Listen != "off" {
		srv, addr, err := startHTTP(cfg.HTTP, p.pool, &running, reloads, reg, log)
		if err != nil {
			return err
		}
		access := "none (loopback only)"
		if cfg.HTTP.HasAuth() {
			access = "credentials from " + cfg.HTTP.AuthSource
		}
		log.Info("http server listening", "addr", addr, "review_page", "http://"+addr+"/",
			"endpoints", "/ /api/matches /api/stories /export.csv /healthz /readyz /metrics", "access", access)
		defer func() {
			ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			defer cancel()
			_ = srv.Shutdown(ctx)
		}()
	}

	// A first signal starts a graceful stop; from then on the default
	// handling applies, so a second Ctrl-C ends the process at once
	// (transactions in flight roll back, nothing half-stored remains).
	stopCtx, stopped := context.WithCancel(context.WithoutCancel(ctx))
	defer stopped()
	go func() {
		select {
		case <-ctx.Done():
			log.Info("signal received: stopping (a second signal quits at once)")
			e.stopSignals()
			stopped()
		case <-stopCtx.Done():
		}
	}()
	go reloads.watch(stopCtx)
	alerts, err := alertsOf(cfg)
	if err != nil {
		return err
	}
	go (&notify.Notifier{Store: p.store, Log: log}).Run(stopCtx, alerts)
	go func() {
		// Reference articles added or removed (wirewatch reference) are
		// taken up within a minute.
		known, _ := p.store.ReferencesVersion(stopCtx)
		tick := time.NewTicker(time.Minute)
		defer tick.Stop()
		for {
			select {
			case <-stopCtx.Done():
				return
			case <-tick.C:
			}
			v, err := loadReferences(stopCtx, p.store, p.refs, known)
			switch {
			case err != nil && stopCtx.Err() == nil:
				log.Warn("reference articles not reloaded; retried in a minute", "error", err)
			case err == nil && v != known:
				log.Info("reference articles reloaded")
				known = v
			}
		}
	}()
	go func() {
		// Retention runs hourly beside the polls; it never touches matches.
		tick := time.NewTicker(time.Hour)
		defer tick.Stop()
		for {
			cleanRetention(stopCtx, reloads.current(), p.store, log)
			select {
			case <-stopCtx.Done():
				return
			case <-tick.C:
			}
		}
	}()
	running.Store(true)
	err = p.sched.Run(stopCtx, p.feeds, cfg.ShutdownTimeout.D())
	running.Store(false)
	log.Info("wirewatch stopped")
	return err
}

// startHTTP serves the review page (package review) and the health
// endpoints:
//   - /healthz answers 200 while the process is up;
//   - /readyz answers 200 when the database is reachable, its schema is
//     current and the scheduler is running, 503 with the reasons otherwise;
//     it also says whether the last configuration reload failed (the
//     previous configuration runs on, so that does not make it unready);
//   - /metrics serves the Prometheus metrics.
//
// With credentials configured, every route but /healthz and /readyz asks
// for them. Without, it serves on loopback only.
func startHTTP(hc config.HTTP, pool *pgxpool.Pool, running *atomic.Bool, reloads *reloader, reg *prometheus.Registry, log *slog.Logger) (*http.Server, string, error) {
	store := storage.New(pool)
	page, err := review.New(review.Options{Store: store, Log: log,
		Reference: review.StoredReferences(store), Relevance: review.StoredRelevance, Watches: func() []string {
			var names []string
			for _, w := range reloads.current().Watchlist {
				names = append(names, strings.TrimSpace(w.Name))
			}
			return names
		}})
	if err != nil {
		return nil, "", err
	}
	ln, err := net.Listen("tcp", hc.Listen)
	if err != nil {
		return nil, "", fmt.Errorf("http.listen %s: %w", hc.Listen, err)
	}
	// Validate refuses such a configuration already; the address actually
	// bound is checked all the same.
	if !hc.HasAuth() && !config.IsLoopback(ln.Addr().String()) {
		ln.Close()
		return nil, "", usagef("http.listen %s is not a loopback address: set http.token_file or http.basic_auth_file", hc.Listen)
	}
	mux := http.NewServeMux()
	page.Register(mux)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 3*time.Second)
		defer cancel()
		checks := map[string]string{"database": "ok", "schema": "ok", "scheduler": "ok"}
		ready := true
		if err := pool.Ping(ctx); err != nil {
			checks["database"], checks["schema"], ready = "unreachable: "+err.Error(), "unknown", false
		} else if err := storage.CheckSchema(ctx, pool); err != nil {
			checks["schema"], ready = err.Error(), false
		}
		if !running.Load() {
			checks["scheduler"], ready = "not running", false
		}
		checks["config"] = reloads.status()
		w.Header().Set("Content-Type", "application/json")
		if !ready {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"ready": ready, "checks": checks})
	})
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}))
	user, password := hc.BasicAuthUser()
	creds := review.Credentials{Token: string(hc.Token), User: user, Password: password}
	srv := &http.Server{Handler: review.Protect(mux, creds, "/healthz", "/readyz"), ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout: 30 * time.Second, IdleTimeout: 2 * time.Minute}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("http server stopped", "error", err)
		}
	}()
	return srv, ln.Addr().String(), nil
}

// alertsOf builds the configured webhook alerts.
func alertsOf(cfg *config.Config) ([]notify.Alert, error) {
	var out []notify.Alert
	for _, a := range cfg.Alerts {
		sched, err := config.ParseSchedule(a.Schedule) // validated already
		if err != nil {
			return nil, err
		}
		out = append(out, notify.Alert{Name: a.Name, URL: a.WebhookURL(cfg.Env), Format: a.Format, Schedule: sched,
			Filter: storage.AlertFilter{Watches: a.Watches, MinRelevance: a.MinRelevance}})
	}
	return out, nil
}
