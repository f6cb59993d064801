package ingest

import (
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync"

	"github.com/mmcdole/gofeed"
	"golang.org/x/net/html"
)

// How Discover found a feed.
const (
	FoundSelf  = "self"  // the URL given is itself a feed
	FoundLink  = "link"  // the page advertises it with <link rel="alternate">
	FoundProbe = "probe" // one of ProbePaths on the page's host serves it
)

// ProbePaths are tried on the page's host for feeds the page does not
// advertise: where common publishing systems put their main feed. Each is
// kept only if it fetches and parses as a feed.
var ProbePaths = []string{
	"/feed",                // WordPress, Substack
	"/rss",                 // Ghost, Tumblr
	"/rss.xml",             // Drupal, many static sites
	"/atom.xml",            // Hexo, Blogger
	"/feed.xml",            // Jekyll
	"/index.xml",           // Hugo
	"/feeds/posts/default", // Blogger
	"/?feed=rss2",          // WordPress without pretty links
}

// Limits of one Discover call. A page can advertise any number of feeds;
// only the first maxAdvertised are fetched, and at most discoverConcurrency
// fetches run at once, so a hostile page costs a bounded amount of work.
const (
	maxAdvertised       = 16
	discoverConcurrency = 4
)

// feedLinkTypes are the <link type> values that announce a feed.
// application/json also announces APIs (WordPress does on every page), so a
// link of that type that is not a JSON Feed is dropped without a word.
var feedLinkTypes = map[string]bool{
	"application/rss+xml":   true,
	"application/atom+xml":  true,
	"application/feed+json": true,
	"application/json":      true,
}

// DiscoveredFeed is a feed Discover found. Title and Type come from the
// feed itself, not from the page.
type DiscoveredFeed struct {
	URL    string // as given, advertised or probed; where it moved, when every redirect was permanent
	Title  string
	Type   string // rss (RSS and RDF), atom or json
	Source string // FoundSelf, FoundLink or FoundProbe
}

// Discovery is what Discover found at a page.
type Discovery struct {
	Feeds []DiscoveredFeed
	// Broken are the feeds the page advertises that could not be fetched or
	// are not feeds.
	Broken []BrokenLink
	// Unchecked counts the advertised feeds past the first maxAdvertised,
	// which were not fetched.
	Unchecked int
	// Probed counts the ProbePaths tried.
	Probed int
}

// BrokenLink is an advertised feed that failed, and why.
type BrokenLink struct {
	URL string
	Err error
}

// Discover finds the feeds a web page offers. When pageURL is itself a feed,
// that is the answer. Otherwise the page's HTML is read for
// <link rel="alternate"> feed links (resolved against <base href> and the
// page's address), and ProbePaths are tried on its host; the candidates are
// kept when they fetch and parse as feeds, without duplicates, advertised
// ones first. Every fetch goes through f, with its limits and its guard
// against non-public addresses, and its per-host limits. A feed that
// redirects permanently is reported where it moved.
//
// An error means the page itself could not be fetched, or ctx ended;
// finding no feed is a Discovery with no Feeds.
func (f *Fetcher) Discover(ctx context.Context, pageURL string) (*Discovery, error) {
	page, err := url.Parse(pageURL)
	if err != nil || (page.Scheme != "http" && page.Scheme != "https") || page.Host == "" {
		return nil, &FetchError{Kind: KindRequest, Err: fmt.Errorf("%q is not an http or https URL", pageURL)}
	}
	resp, err := f.Fetch(ctx, pageURL, Validators{})
	if err != nil {
		return nil, err
	}
	if feed, err := feedInfo(resp.Body, resp.ContentType); err == nil {
		feed.URL, feed.Source = cmp.Or(resp.MovedTo, pageURL), FoundSelf
		return &Discovery{Feeds: []DiscoveredFeed{feed}}, nil
	}
	// The page is no candidate, under the address given or the one it was
	// found at. Relative links are relative to the latter, as in a browser.
	seen := map[string]bool{urlKey(page): true}
	if final, err := url.Parse(resp.FinalURL); err == nil {
		page = final
		seen[urlKey(page)] = true
	}

	d := &Discovery{}
	var cands []candidate
	for _, l := range advertisedFeeds(resp.Body, page) {
		if seen[urlKey(l.url)] {
			continue
		}
		seen[urlKey(l.url)] = true
		if len(cands) == maxAdvertised {
			d.Unchecked++
			continue
		}
		cands = append(cands, candidate{url: l.url.String(), source: FoundLink, linkType: l.typ})
	}
	root := &url.URL{Scheme: page.Scheme, Host: page.Host}
	for _, p := range ProbePaths {
		u := root.ResolveReference(mustParse(p))
		if seen[urlKey(u)] {
			continue
		}
		seen[urlKey(u)] = true
		cands = append(cands, candidate{url: u.String(), source: FoundProbe})
		d.Probed++
	}

	f.check(ctx, cands)

	// Walk in candidate order, so the result does not depend on which fetch
	// finished first, and an advertised feed wins over a probe that serves
	// the same feed (by its address after redirects, or by its bytes).
	sameURL, sameBody := map[string]bool{}, map[[sha256.Size]byte]bool{}
	for _, c := range cands {
		if c.err != nil {
			if c.source == FoundLink && !(c.linkType == "application/json" && ErrorKind(c.err) == KindParse) {
				d.Broken = append(d.Broken, BrokenLink{URL: c.url, Err: c.err})
			}
			continue
		}
		if sameURL[c.finalKey] || sameBody[c.bodyHash] {
			continue
		}
		sameURL[c.finalKey], sameBody[c.bodyHash] = true, true
		c.feed.URL, c.feed.Source = cmp.Or(c.movedTo, c.url), c.source
		d.Feeds = append(d.Feeds, c.feed)
	}
	if err := ctx.Err(); err != nil {
		return nil, &FetchError{Kind: KindCanceled, Err: err}
	}
	return d, nil
}

// candidate is an address that may serve a feed, and what fetching it gave.
type candidate struct {
	url      string
	source   string
	linkType string // the type the page announced, for links

	feed     DiscoveredFeed
	movedTo  string // where it says it lives now (permanent redirects only)
	finalKey string // urlKey of the address after redirects
	bodyHash [sha256.Size]byte
	err      error
}

// check fetches the candidates, discoverConcurrency at a time, and fills in
// what each gave.
func (f *Fetcher) check(ctx context.Context, cands []candidate) {
	sem := make(chan struct{}, discoverConcurrency)
	var wg sync.WaitGroup
	for i := range cands {
		c := &cands[i]
		wg.Go(func() {
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				c.err = &FetchError{Kind: KindCanceled, Err: ctx.Err()}
				return
			}
			defer func() { <-sem }()
			resp, err := f.Fetch(ctx, c.url, Validators{})
			if err != nil {
				c.err = err
				return
			}
			if c.feed, c.err = feedInfo(resp.Body, resp.ContentType); c.err != nil {
				return
			}
			c.movedTo = resp.MovedTo
			c.finalKey = urlKey(mustParse(cmp.Or(resp.FinalURL, c.url)))
			c.bodyHash = sha256.Sum256(resp.Body)
		})
	}
	wg.Wait()
}

// feedInfo parses body as a feed and returns its title and type.
func feedInfo(body []byte, contentType string) (DiscoveredFeed, error) {
	feed, err := Parse(body, contentType)
	if err != nil {
		return DiscoveredFeed{}, err
	}
	out := DiscoveredFeed{Title: feed.Title}
	switch gofeed.DetectFeedType(bytes.NewReader(body)) {
	case gofeed.FeedTypeRSS:
		out.Type = "rss"
	case gofeed.FeedTypeAtom:
		out.Type = "atom"
	case gofeed.FeedTypeJSON:
		// gofeed takes any JSON object for a JSON Feed; an API answer is not one.
		var v struct {
			Version string `json:"version"`
		}
		_ = json.Unmarshal(body, &v)
		if !strings.HasPrefix(v.Version, "https://jsonfeed.org/version/") && !strings.HasPrefix(v.Version, "http://jsonfeed.org/version/") {
			return DiscoveredFeed{}, &FetchError{Kind: KindParse, Err: errors.New("JSON without a JSON Feed version")}
		}
		out.Type = "json"
	}
	return out, nil
}

// advertisedLink is a feed link found in a page.
type advertisedLink struct {
	url *url.URL
	typ string
}

// advertisedFeeds returns the http(s) feed links of an HTML page in document
// order, resolved against the page's first <base href>, which applies to the
// whole document wherever it stands, and the page's own address.
func advertisedFeeds(body []byte, page *url.URL) []advertisedLink {
	type raw struct{ href, typ string }
	var (
		links   []raw
		base    string
		hasBase bool
	)
	z := html.NewTokenizer(bytes.NewReader(body))
	for {
		tt := z.Next()
		if tt == html.ErrorToken {
			break // io.EOF, or a malformed page: keep what was found
		}
		if tt != html.StartTagToken && tt != html.SelfClosingTagToken {
			continue
		}
		name, hasAttr := z.TagName()
		if !hasAttr || (string(name) != "link" && string(name) != "base") {
			continue
		}
		attrs := map[string]string{}
		for more := true; more; {
			var k, v []byte
			k, v, more = z.TagAttr()
			if _, dup := attrs[string(k)]; !dup { // the first of a repeated attribute counts
				attrs[string(k)] = string(v)
			}
		}
		href, ok := attrs["href"]
		if !ok {
			continue
		}
		if string(name) == "base" {
			if !hasBase {
				base, hasBase = href, true
			}
			continue
		}
		typ, _, _ := strings.Cut(attrs["type"], ";") // application/rss+xml; charset=utf-8
		typ = strings.ToLower(strings.TrimSpace(typ))
		if hasToken(attrs["rel"], "alternate") && feedLinkTypes[typ] {
			links = append(links, raw{href, typ})
		}
	}

	resolveAgainst := page
	if hasBase {
		if b, err := url.Parse(strings.TrimSpace(base)); err == nil {
			resolveAgainst = page.ResolveReference(b)
		}
	}
	var out []advertisedLink
	for _, l := range links {
		ref, err := url.Parse(strings.TrimSpace(l.href))
		if err != nil || strings.TrimSpace(l.href) == "" {
			continue
		}
		u := resolveAgainst.ResolveReference(ref)
		if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			continue
		}
		u.Fragment, u.RawFragment = "", ""
		out = append(out, advertisedLink{url: u, typ: l.typ})
	}
	return out
}

// hasToken reports whether the space-separated list s (a rel attribute)
// holds tok, ignoring case.
func hasToken(s, tok string) bool {
	for _, f := range strings.Fields(s) {
		if strings.EqualFold(f, tok) {
			return true
		}
	}
	return false
}

// urlKey is the form of an address used to spot the same feed twice: scheme
// and host in lower case, no default port, no fragment.
func urlKey(u *url.URL) string {
	k := *u
	k.Scheme = strings.ToLower(k.Scheme)
	host := strings.ToLower(k.Host)
	if (k.Scheme == "http" && strings.HasSuffix(host, ":80")) || (k.Scheme == "https" && strings.HasSuffix(host, ":443")) {
		host = host[:strings.LastIndexByte(host, ':')]
	}
	k.Host = host
	k.Fragment, k.RawFragment = "", ""
	if k.Path == "" {
		k.Path = "/"
	}
	return k.String()
}

// mustParse parses an address already known to parse.
func mustParse(s string) *url.URL {
	u, err := url.Parse(s)
	if err != nil {
		return &url.URL{Opaque: s}
	}
	return u
}
