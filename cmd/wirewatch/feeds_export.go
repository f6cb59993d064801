package main

import (
	"context"
	"encoding/xml"
	"fmt"
	"net/url"
	"os"
	"time"

	"github.com/wirewatch/wirewatch/config"
	"github.com/wirewatch/wirewatch/storage"
)

func cmdFeedsExport(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "feeds export", `feeds export [--config PATH] [-o FILE] [--no-db]

Writes the configured feeds (feeds: and feeds_file) as an OPML 2.0 subscription list, for
a feed reader or for feeds_file, which reads it back. Each feed is an outline with its URL
and its name: the configured one, else the title the feed gives itself as stored by its
polls. When a database is configured, the stored titles and site addresses are read from
it; when it does not answer, a warning says so and the configuration alone is used.
Per-feed schedules have no place in OPML and are left out.`)
	cfgPath := configFlag(fs)
	outPath := fs.String("o", "", "write to `FILE` instead of stdout")
	noDB := fs.Bool("no-db", false, "do not read the database: names from the configuration only")
	if err := parseFlags(fs, args, false); err != nil {
		return err
	}
	cfg, _, err := loadConfig(e, *cfgPath)
	if err != nil {
		return err
	}
	var stored map[string]storage.FeedTitle
	if !*noDB && databaseConfigured(cfg, e.getenv) {
		stored = storedFeedTitles(ctx, e, cfg)
	}
	out, err := feedsOPML(cfg.Feeds, stored, time.Now())
	if err != nil {
		return err
	}
	if *outPath == "" {
		_, err := e.stdout.Write(out)
		return err
	}
	if err := os.WriteFile(*outPath, out, 0o644); err != nil {
		return err
	}
	fmt.Fprintf(e.stderr, "wrote %d feeds to %s\n", len(cfg.Feeds), *outPath)
	return nil
}

// databaseConfigured tells whether anything points wirewatch at a database
// (README: Quick start). Without that, a connection would go to whatever
// libpq's defaults find.
func databaseConfigured(cfg *config.Config, getenv func(string) string) bool {
	if cfg.Database.URL != "" {
		return true
	}
	for _, v := range []string{"PGHOST", "PGDATABASE", "PGSERVICE"} {
		if getenv(v) != "" {
			return true
		}
	}
	return false
}

// storedFeedTitles reads the configured feeds' own titles from the database.
// They only improve the export, so a database that does not answer is a
// warning, not a failure.
func storedFeedTitles(ctx context.Context, e *env, cfg *config.Config) map[string]storage.FeedTitle {
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	pool, err := openDB(ctx, cfg, false, newLogger(cfg.Log, e.stderr))
	if err == nil {
		defer pool.Close()
		urls := make([]string, len(cfg.Feeds))
		for i, f := range cfg.Feeds {
			urls[i] = f.URL
		}
		var titles map[string]storage.FeedTitle
		if titles, err = storage.New(pool).FeedTitles(ctx, urls); err == nil {
			return titles
		}
	}
	fmt.Fprintf(e.stderr, "database not read, names come from the configuration only: %v\n", err)
	return nil
}

// The OPML 2.0 subset a subscription list uses (http://opml.org/spec2.opml).
type opmlDoc struct {
	XMLName xml.Name      `xml:"opml"`
	Version string        `xml:"version,attr"`
	Head    opmlHead      `xml:"head"`
	Body    []opmlOutline `xml:"body>outline"`
}

type opmlHead struct {
	Title       string `xml:"title"`
	DateCreated string `xml:"dateCreated"`
	Docs        string `xml:"docs"`
}

type opmlOutline struct {
	Type    string `xml:"type,attr"`
	Text    string `xml:"text,attr"`
	Title   string `xml:"title,attr,omitempty"`
	XMLURL  string `xml:"xmlUrl,attr"`
	HTMLURL string `xml:"htmlUrl,attr,omitempty"`
}

// feedsOPML renders feeds as an OPML document; stored holds the feeds' own
// titles and site addresses by URL, and may be nil. encoding/xml escapes
// every attribute, so names with quotes, ampersands or angle brackets come
// back as written.
func feedsOPML(feeds []config.Feed, stored map[string]storage.FeedTitle, now time.Time) ([]byte, error) {
	doc := opmlDoc{Version: "2.0", Head: opmlHead{
		Title:       "wirewatch feeds",
		DateCreated: now.UTC().Format("Mon, 02 Jan 2006 15:04:05 GMT"), // RFC 822, as OPML wants
		Docs:        "http://opml.org/spec2.opml",
	}}
	for _, f := range feeds {
		own := stored[f.URL]
		name := f.Name
		if name == "" {
			name = own.Title
		}
		o := opmlOutline{Type: "rss", Text: name, Title: name, XMLURL: f.URL, HTMLURL: siteURL(f.URL, own.SiteURL)}
		if name == "" {
			// OPML wants a text; feeds_file reads a text that is the URL
			// as no name.
			o.Text = f.URL
		}
		doc.Body = append(doc.Body, o)
	}
	out, err := xml.MarshalIndent(doc, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("render OPML: %w", err)
	}
	return append(append([]byte(xml.Header), out...), '\n'), nil
}

// siteURL is a feed's stored site address made absolute (an Atom feed may
// give it relative to the feed), or "" when it is not a web address.
func siteURL(feedURL, site string) string {
	if site == "" {
		return ""
	}
	base, err1 := url.Parse(feedURL)
	ref, err2 := url.Parse(site)
	if err1 != nil || err2 != nil {
		return ""
	}
	u := base.ResolveReference(ref)
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return ""
	}
	return u.String()
}
