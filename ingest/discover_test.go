package ingest

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"
)

const atomFeed = `<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom"><title>Atom Desk</title>
<id>tag:atom.example,2020:feed</id><updated>2020-05-07T10:00:00Z</updated>
<entry><id>tag:atom.example,2020:1</id><title>Talks in Geneva</title><updated>2020-05-07T10:00:00Z</updated></entry></feed>`

const jsonFeedBody = `{"version":"https://jsonfeed.org/version/1.1","title":"JSON Desk","items":[{"id":"1","url":"https://j.example/1","title":"x"}]}`

// site serves the given paths on loopback; every other path is a 404.
func site(t *testing.T, pages map[string]string) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, ok := pages[r.URL.RequestURI()]
		if !ok {
			http.NotFound(w, r)
			return
		}
		if target, ok := strings.CutPrefix(body, "redirect:"); ok {
			http.Redirect(w, r, target, http.StatusMovedPermanently)
			return
		}
		if target, ok := strings.CutPrefix(body, "found:"); ok {
			http.Redirect(w, r, target, http.StatusFound)
			return
		}
		w.Write([]byte(body))
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestDiscover(t *testing.T) {
	t.Parallel()
	type found struct{ path, title, typ, source string }
	tests := map[string]struct {
		pages  map[string]string // "{srv}" in a body is the server's URL
		start  string
		want   []found
		broken []string
	}{
		"advertised links, relative and absolute": {
			pages: map[string]string{
				"/news/today.html": `<!DOCTYPE html><html><head><title>News</title>
<link rel="alternate" type="text/html" hreflang="fr" href="/fr/news/today.html">
<link rel="alternate" type="application/rss+xml" title="World" href="world.xml">
<link rel="Alternate Home" type="application/atom+xml; charset=utf-8" href="/atom.xml">
<link rel="alternate" type="application/feed+json" href="{srv}/feeds/desk.json#top">
<link rel="alternate" type="application/rss+xml" href="./world.xml">
<link rel="alternate" type="application/rss+xml" href="/gone.xml">
<link rel="alternate" type="application/json" href="/wp-json/wp/v2/pages/2">
<link rel="stylesheet" type="text/css" href="/site.css">
</head><body><p>Today</p></body></html>`,
				"/news/world.xml":        rssFeed,
				"/atom.xml":              atomFeed,
				"/feeds/desk.json":       jsonFeedBody,
				"/wp-json/wp/v2/pages/2": `{"id":2,"title":{"rendered":"Today"}}`,
			},
			start: "/news/today.html",
			want: []found{
				{"/news/world.xml", "Test Wire", "rss", FoundLink},
				{"/atom.xml", "Atom Desk", "atom", FoundLink},
				{"/feeds/desk.json", "JSON Desk", "json", FoundLink},
			},
			broken: []string{"/gone.xml"},
		},
		"base href applies wherever it stands": {
			pages: map[string]string{
				"/index.html": `<html><head><LINK REL=alternate TYPE="application/RSS+XML" HREF="wire.xml">
<base href="/archive/"><base href="/ignored/"></head></html>`,
				"/archive/wire.xml": rssFeed,
			},
			start: "/index.html",
			want:  []found{{"/archive/wire.xml", "Test Wire", "rss", FoundLink}},
		},
		"advertises nothing, serves the usual paths": {
			pages: map[string]string{
				"/":              `<html><head><title>Blog</title></head><body><a href="/about">About</a></body></html>`,
				"/feed":          "redirect:/feed/", // permanent: reported where it moved
				"/feed/":         rssFeed,
				"/rss":           "found:/cdn/desk.json", // temporary: reported as probed
				"/cdn/desk.json": jsonFeedBody,
				"/rss.xml":       rssFeed, // the same feed again: reported once
				"/index.xml":     atomFeed,
				"/atom.xml":      `<html><body>Not here</body></html>`,
				"/?feed=rss2":    `{"name":"an API, not a feed"}`,
			},
			start: "/",
			want: []found{
				{"/feed/", "Test Wire", "rss", FoundProbe},
				{"/rss", "JSON Desk", "json", FoundProbe},
				{"/index.xml", "Atom Desk", "atom", FoundProbe},
			},
		},
		"the URL is a feed": {
			pages: map[string]string{"/world.rss": rssFeed, "/feed": atomFeed},
			start: "/world.rss",
			want:  []found{{"/world.rss", "Test Wire", "rss", FoundSelf}},
		},
		"a page with nothing": {
			pages: map[string]string{"/": `<html><head><link rel="alternate" type="text/html" href="/en"></head></html>`},
			start: "/",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			pages := map[string]string{}
			var srv *httptest.Server
			srv = site(t, pages)
			for p, body := range tc.pages {
				pages[p] = strings.ReplaceAll(body, "{srv}", srv.URL)
			}
			d, err := testFetcher().Discover(context.Background(), srv.URL+tc.start)
			if err != nil {
				t.Fatal(err)
			}
			var got []found
			for _, f := range d.Feeds {
				got = append(got, found{strings.TrimPrefix(f.URL, srv.URL), f.Title, f.Type, f.Source})
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("feeds:\n got %v\nwant %v", got, tc.want)
			}
			var broken []string
			for _, b := range d.Broken {
				broken = append(broken, strings.TrimPrefix(b.URL, srv.URL))
			}
			if !reflect.DeepEqual(broken, tc.broken) {
				t.Errorf("broken = %v, want %v", broken, tc.broken)
			}
			if tc.want == nil || tc.want[0].source != FoundSelf {
				if d.Probed == 0 {
					t.Error("no usual path was probed")
				}
			}
		})
	}
}

// A page too large or too slow fails like a feed would, with the fetcher's
// limits; a URL that is no web address is refused before any request.
func TestDiscoverHostilePages(t *testing.T) {
	t.Parallel()
	mux := http.NewServeMux()
	huge := append([]byte("<html><head>"), bytes.Repeat([]byte(`<link rel="alternate" type="application/rss+xml" href="/f.xml">`), 40_000)...)
	mux.HandleFunc("/huge", func(w http.ResponseWriter, r *http.Request) { w.Write(huge) })
	mux.HandleFunc("/slow", func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("<html><head>"))
		w.(http.Flusher).Flush()
		select {
		case <-time.After(10 * time.Second):
		case <-r.Context().Done():
		}
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	// Only the slow page meets the short timeout; the others have time to
	// spare however loaded the machine is.
	tests := map[string]struct {
		url     string
		timeout time.Duration
		kind    string
	}{
		"huge":      {srv.URL + "/huge", 10 * time.Second, KindTooLarge},
		"slow":      {srv.URL + "/slow", 500 * time.Millisecond, KindTimeout},
		"not http":  {"file:///etc/passwd", 10 * time.Second, KindRequest},
		"no scheme": {"example.com/feed", 10 * time.Second, KindRequest},
		"no host":   {"http:///feed", 10 * time.Second, KindRequest},
		"not found": {srv.URL + "/missing", 10 * time.Second, KindHTTP},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			f := NewFetcher(FetchOptions{UserAgent: "t", Timeout: tc.timeout, MaxBodySize: 1 << 20, AllowPrivateNetworks: true})
			d, err := f.Discover(context.Background(), tc.url)
			if ErrorKind(err) != tc.kind || d != nil {
				t.Fatalf("Discover = %+v, %v; want an error of kind %s", d, err, tc.kind)
			}
		})
	}
	// The SSRF guard applies to discovery as to polls.
	guarded := NewFetcher(FetchOptions{UserAgent: "t", Timeout: time.Second, MaxBodySize: 1 << 20})
	if _, err := guarded.Discover(context.Background(), srv.URL+"/huge"); ErrorKind(err) != KindBlocked {
		t.Fatalf("loopback without allow_private_networks: %v, want kind %s", err, KindBlocked)
	}
}

// A page that advertises a hundred feeds costs at most maxAdvertised
// fetches of them, never more than discoverConcurrency at once.
func TestDiscoverIsBounded(t *testing.T) {
	t.Parallel()
	var page bytes.Buffer
	page.WriteString("<html><head>")
	for i := range 100 {
		fmt.Fprintf(&page, `<link rel="alternate" type="application/rss+xml" href="/f/%d.xml">`, i)
	}
	var (
		mu                              sync.Mutex
		requests, inFlight, maxInFlight int
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		requests++
		inFlight++
		maxInFlight = max(maxInFlight, inFlight)
		mu.Unlock()
		defer func() {
			mu.Lock()
			inFlight--
			mu.Unlock()
		}()
		switch {
		case r.URL.Path == "/":
			w.Write(page.Bytes())
		case strings.HasPrefix(r.URL.Path, "/f/"):
			time.Sleep(20 * time.Millisecond) // long enough for fetches to overlap
			// A distinct feed each, so none is dropped as a duplicate.
			fmt.Fprintf(w, `<rss version="2.0"><channel><title>Feed %s</title></channel></rss>`, r.URL.Path)
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	// The fetcher's own limit per host is lifted, to see discovery's.
	f := NewFetcher(FetchOptions{UserAgent: "t", Timeout: 10 * time.Second, MaxBodySize: 1 << 20, AllowPrivateNetworks: true,
		PerHostConcurrency: 100})
	d, err := f.Discover(context.Background(), srv.URL+"/")
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Feeds) != maxAdvertised || d.Unchecked != 100-maxAdvertised || d.Probed != len(ProbePaths) {
		t.Fatalf("%d feeds, %d unchecked, %d probed", len(d.Feeds), d.Unchecked, d.Probed)
	}
	if d.Feeds[0].URL != srv.URL+"/f/0.xml" || d.Feeds[0].Title != "Feed /f/0.xml" {
		t.Errorf("first feed = %+v, want the first advertised", d.Feeds[0])
	}
	mu.Lock()
	defer mu.Unlock()
	if requests != 1+maxAdvertised+len(ProbePaths) {
		t.Errorf("%d requests, want %d", requests, 1+maxAdvertised+len(ProbePaths))
	}
	if maxInFlight > discoverConcurrency {
		t.Errorf("%d requests at once, want at most %d", maxInFlight, discoverConcurrency)
	}
}

func TestAdvertisedFeeds(t *testing.T) {
	t.Parallel()
	page, _ := url.Parse("https://news.example/world/africa/index.html?lang=en")
	tests := map[string]struct {
		html string
		want []string
	}{
		"relative to the page": {
			`<link rel=alternate type=application/rss+xml href="feed.xml">`,
			[]string{"https://news.example/world/africa/feed.xml"},
		},
		"root-relative, protocol-relative, absolute": {
			`<link rel="alternate" type="application/atom+xml" href="/atom">
<link rel="alternate" type="application/rss+xml" href="//cdn.example/rss?a=1&amp;b=2">
<link rel="alternate" type="application/feed+json" href="http://other.example/feed.json#x">`,
			[]string{"https://news.example/atom", "https://cdn.example/rss?a=1&b=2", "http://other.example/feed.json"},
		},
		"base href, relative itself": {
			`<head><base href="../../"><link rel="alternate" type="application/rss+xml" href="rss/all.xml"></head>`,
			[]string{"https://news.example/rss/all.xml"},
		},
		"base href on another host": {
			`<base target="_blank"><base href="https://static.example/x/"><link rel="alternate" type="application/rss+xml" href="all.xml">`,
			[]string{"https://static.example/x/all.xml"},
		},
		"not feed links": {
			`<link rel="alternate" type="text/html" href="/fr/">
<link rel="feed alternative" type="application/rss+xml" href="/nope1">
<link rel="alternate" href="/no-type">
<link rel="alternate" type="application/rss+xml">
<link rel="alternate" type="application/rss+xml" href="  ">
<link rel="alternate" type="application/rss+xml" href="javascript:alert(1)">
<link rel="alternate" type="application/rss+xml" href="ftp://news.example/feed">
<a rel="alternate" type="application/rss+xml" href="/an-anchor">feed</a>
<script>document.write('<link rel="alternate" type="application/rss+xml" href="/in-script">')</script>
<!-- <link rel="alternate" type="application/rss+xml" href="/in-comment"> -->`,
			nil,
		},
		"in the body, self-closed, repeated attribute": {
			`<body><p>x</p><link rel="alternate" type="application/rss+xml" href="/first" href="/second"/></body>`,
			[]string{"https://news.example/first"},
		},
		"not HTML at all": {"\x00\x01 PNG garbage <<<<", nil},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			var got []string
			for _, l := range advertisedFeeds([]byte(tc.html), page) {
				got = append(got, l.url.String())
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got %q\nwant %q", got, tc.want)
			}
		})
	}
}
