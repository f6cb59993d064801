package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/wirewatch/wirewatch/config"
	"github.com/wirewatch/wirewatch/ingest"
)

func cmdFeedsDiscover(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "feeds discover", fmt.Sprintf(`feeds discover [--config PATH] [--format table|json] URL

Prints the feeds the web page at URL offers, with their titles and types, to add under
feeds: or to feeds_file. A URL that is itself a feed is reported as such (source "self").
Otherwise the feeds the page links with <link rel="alternate"> are checked ("link"), and
so are the usual feed paths on its host ("probe"):

  %s

A feed is listed only when it fetches and parses, and once; one that redirects
permanently is listed where it moved. Fetches use the fetch: settings of the
configuration (its defaults when there is no configuration file), so
fetch.allow_private_networks and the per-host limits apply. A URL without a scheme
gets https://.
Exits 1 when the page cannot be fetched or offers no feed.`, strings.Join(ingest.ProbePaths, " ")))
	cfgPath := configFlag(fs)
	format := fs.String("format", "table", "output format: table, or json (one object per line with url, title, type, source)")
	if err := parseFlags(fs, args, true); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		return usagef("feeds discover: give the URL of a web page or feed")
	}
	pageURL := fs.Arg(0)
	// Flags may follow the URL too.
	if err := parseFlags(fs, fs.Args()[1:], false); err != nil {
		return err
	}
	write, ok := discoverWriters[*format]
	if !ok {
		return usagef("--format must be table or json, not %q", *format)
	}
	if !strings.Contains(pageURL, "://") {
		pageURL = "https://" + pageURL
	}
	if u, err := url.Parse(pageURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return usagef("feeds discover: %q is not an http or https URL", pageURL)
	}
	cfg, err := fetchConfig(e, *cfgPath)
	if err != nil {
		return err
	}

	d, err := ingest.NewFetcher(fetchOptions(cfg)).Discover(ctx, pageURL)
	if err != nil {
		return fmt.Errorf("cannot fetch %s: %w", pageURL, err)
	}
	for _, b := range d.Broken {
		fmt.Fprintf(e.stderr, "skipped %s, which the page advertises: %v\n", b.URL, b.Err)
	}
	if d.Unchecked > 0 {
		fmt.Fprintf(e.stderr, "the page advertises %d more feeds, not checked\n", d.Unchecked)
	}
	if len(d.Feeds) == 0 {
		advertised := "advertises none"
		if len(d.Broken) > 0 {
			advertised = "none of those it advertises works"
		}
		host := ""
		if u, err := url.Parse(pageURL); err == nil {
			host = u.Host
		}
		return fmt.Errorf("no feed found at %s: it is not a feed, %s, and none of the %d usual feed paths on %s serves one",
			pageURL, advertised, d.Probed, host)
	}
	return write(e.stdout, d.Feeds)
}

// fetchConfig is the configuration for commands that only fetch. Without a
// configuration file (none named and none at the default path) the defaults
// apply, so a page can be looked at before anything is set up.
func fetchConfig(e *env, flagPath string) (*config.Config, error) {
	if flagPath == "" && e.getenv("WIREWATCH_CONFIG") == "" {
		if _, err := os.Stat(defaultConfigPath); errors.Is(err, os.ErrNotExist) {
			return config.Default(), nil
		}
	}
	cfg, _, err := loadConfig(e, flagPath)
	return cfg, err
}

var discoverWriters = map[string]func(io.Writer, []ingest.DiscoveredFeed) error{
	"table": writeDiscoveredTable,
	"json":  writeDiscoveredJSON,
}

func writeDiscoveredTable(w io.Writer, feeds []ingest.DiscoveredFeed) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "URL\tTYPE\tSOURCE\tTITLE")
	for _, f := range feeds {
		title := oneLine(f.Title)
		if title == "" {
			title = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", f.URL, f.Type, f.Source, clip(title, 80))
	}
	return tw.Flush()
}

// discoveredJSON is one line of `feeds discover --format json`.
type discoveredJSON struct {
	URL    string `json:"url"`
	Title  string `json:"title"`
	Type   string `json:"type"`
	Source string `json:"source"`
}

func writeDiscoveredJSON(w io.Writer, feeds []ingest.DiscoveredFeed) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	for _, f := range feeds {
		if err := enc.Encode(discoveredJSON{URL: f.URL, Title: f.Title, Type: f.Type, Source: f.Source}); err != nil {
			return err
		}
	}
	return nil
}
