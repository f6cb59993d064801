package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/wirewatch/wirewatch/storage"
)

// cmdFeedsList lists every configured feed's health: what an analyst
// checks when a source has gone quiet.
func cmdFeedsList(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "feeds list", "feeds [list] [--failing] [--format table|json]\n\nEvery configured feed, one line each: last success, last error and its kind, consecutive\nfailures, next poll, interval, and its items and new matches over the last 7 days.")
	cfgPath := configFlag(fs)
	failing := fs.Bool("failing", false, "only feeds whose last poll failed, or that are gone")
	format := fs.String("format", "table", "output format: table or json (one object per line)")
	if err := parseFlags(fs, args, false); err != nil {
		return err
	}
	if *format != "table" && *format != "json" {
		return usagef("--format must be table or json, not %q", *format)
	}
	store, closeStore, err := openStore(ctx, e, *cfgPath)
	if err != nil {
		return err
	}
	defer closeStore()
	feeds, err := store.FeedsHealth(ctx, *failing)
	if err != nil {
		return err
	}
	if *format == "json" {
		enc := json.NewEncoder(e.stdout)
		for _, f := range feeds {
			if err := enc.Encode(f); err != nil {
				return err
			}
		}
		return nil
	}
	return writeFeedTable(e.stdout, feeds, time.Now())
}

func writeFeedTable(w io.Writer, feeds []storage.FeedHealth, now time.Time) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "STATUS\tLAST SUCCESS\tFAILS\tLAST ERROR\tNEXT POLL\tEVERY\tITEMS 7D\tMATCHES 7D\tURL")
	for _, f := range feeds {
		status := f.LastOutcome
		switch {
		case f.GoneAt != nil:
			status = "gone"
		case status == "":
			status = "new"
		case f.NotBefore != nil && f.NotBefore.After(now):
			status = "waiting"
		}
		lastErr := "-"
		if f.LastErrorKind != "" {
			lastErr = f.LastErrorKind + ": " + clip(oneLine(f.LastError), 40)
		}
		url := f.URL
		if f.MovedTo != "" {
			url += " -> " + f.MovedTo
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\t%s\t%d\t%d\t%s\n", status, ago(f.LastSuccessAt, now), f.ConsecutiveFailures,
			lastErr, until(f.NextPollAt, now), every(f.IntervalSeconds), f.Items7d, f.NewMatches7d, url)
	}
	return tw.Flush()
}

// ago says how long before now t was: "3m ago"; "never" for nil.
func ago(t *time.Time, now time.Time) string {
	if t == nil {
		return "never"
	}
	return shortDuration(now.Sub(*t)) + " ago"
}

// until says how long after now t is: "in 3m"; "now" when due.
func until(t *time.Time, now time.Time) string {
	if t == nil || !t.After(now) {
		return "now"
	}
	return "in " + shortDuration(t.Sub(now))
}

func every(seconds int) string {
	if seconds <= 0 {
		return "-"
	}
	return shortDuration(time.Duration(seconds) * time.Second)
}

// shortDuration rounds d to its largest unit: 45s, 12m, 3h, 2d.
func shortDuration(d time.Duration) string {
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh", int(d.Hours()))
	}
	return fmt.Sprintf("%dd", int(d.Hours()/24))
}
