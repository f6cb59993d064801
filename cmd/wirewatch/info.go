package main

import (
	"context"
	"fmt"
	"runtime"
	"runtime/debug"
	"sort"
	"strings"
	"time"

	"github.com/wirewatch/wirewatch/config"
)

// Set at build time: go build -ldflags "-X main.version=... -X main.commit=...".
var (
	version = ""
	commit  = ""
)

func versionString() string {
	if version != "" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "dev"
}

func commitString() string {
	if commit != "" {
		return commit
	}
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" {
				return s.Value
			}
		}
	}
	return "unknown"
}

func cmdVersion(_ context.Context, e *env, args []string) error {
	fs := newFlags(e, "version", "version")
	if err := parseFlags(fs, args, false); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "wirewatch %s (commit %s, %s %s/%s)\n", versionString(), commitString(), runtime.Version(), runtime.GOOS, runtime.GOARCH)
	return nil
}

func cmdCheckConfig(_ context.Context, e *env, args []string) error {
	fs := newFlags(e, "check-config", "check-config [--config PATH]\n\nValidates the configuration (exit 2 with every problem, by file, line and key) and\nsummarizes it.")
	cfgPath := configFlag(fs)
	if err := parseFlags(fs, args, false); err != nil {
		return err
	}
	cfg, _, err := loadConfig(e, *cfgPath)
	if err != nil {
		return err
	}
	w := e.stdout
	fmt.Fprintf(w, "%s is valid.\n\n", cfg.Path)
	fmt.Fprintf(w, "database:   URL from %s\n", cfg.DatabaseURLSource)
	sched, _ := config.ParseSchedule(cfg.Schedule)
	next := sched.Next(time.Now())
	fmt.Fprintf(w, "schedule:   %q (next poll %s, then %s)\n", cfg.Schedule, next.Format("15:04"), sched.Next(next).Format("15:04"))
	overrides := map[string]int{}
	for _, f := range cfg.Feeds {
		if f.Schedule != "" {
			overrides[f.Schedule]++
		}
	}
	fmt.Fprintf(w, "feeds:      %d", len(cfg.Feeds))
	if cfg.FeedsFile != "" {
		fmt.Fprintf(w, " (with %s)", cfg.FeedsFile)
	}
	fmt.Fprintln(w)
	specs := make([]string, 0, len(overrides))
	for s := range overrides {
		specs = append(specs, s)
	}
	sort.Strings(specs)
	for _, s := range specs {
		fmt.Fprintf(w, "            %d on their own schedule %q\n", overrides[s], s)
	}
	fmt.Fprintf(w, "watchlist:  %d entries\n", len(cfg.Watchlist))
	for _, wch := range cfg.Watchlist {
		fmt.Fprintf(w, "            %-12s %2d terms: %s\n", wch.Name, len(wch.Terms), clip(strings.Join(wch.Terms, ", "), 70))
	}
	listen := cfg.HTTP.Listen
	if listen == "" {
		listen = "off"
	}
	if cfg.HTTP.AuthSource != "" && listen != "off" {
		listen += ", credentials from " + cfg.HTTP.AuthSource
	}
	fmt.Fprintf(w, "http:       %s\n", listen)
	fmt.Fprintf(w, "fetch:      timeout %s, max body %s, %d at once, private networks %s\n", cfg.Fetch.Timeout,
		cfg.Fetch.MaxBodySize, cfg.Fetch.Concurrency, map[bool]string{true: "allowed", false: "refused"}[cfg.Fetch.AllowPrivateNetworks])
	return nil
}
