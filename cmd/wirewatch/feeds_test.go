package main

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/wirewatch/wirewatch/config"
	"github.com/wirewatch/wirewatch/storage"
	"github.com/wirewatch/wirewatch/storage/storagetest"
)

// inProcess runs a command line in this process, as main would, with vars as
// the whole environment.
func inProcess(t *testing.T, vars map[string]string, args ...string) result {
	t.Helper()
	var out, errb bytes.Buffer
	e := &env{stdin: strings.NewReader(""), stdout: &out, stderr: &errb, getenv: func(k string) string { return vars[k] }}
	code := exitCode(run(context.Background(), args, e), &errb)
	return result{code, out.String(), errb.String()}
}

const discoverRSS = `<?xml version="1.0"?><rss version="2.0"><channel><title>Desk &amp; Wire</title>
<item><title>Haftar forces advance</title><link>https://wire.example/a</link></item></channel></rss>`

const discoverAtom = `<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"><title>Night Desk</title>
<id>tag:night.example,2020:feed</id><updated>2020-05-07T10:00:00Z</updated></feed>`

// discoverSite serves a news site on loopback: a page that advertises feeds,
// one that advertises none on a host that serves /feed, a feed, a page with
// nothing, a huge page and a slow one.
func discoverSite(t *testing.T) (withFeed, bare *httptest.Server) {
	t.Helper()
	mux := http.NewServeMux()
	mux.HandleFunc("/world/", func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(`<!DOCTYPE html><html><head><base href="/static/">
<link rel="alternate" type="application/rss+xml" title="World" href="world.xml">
<link rel="alternate" type="application/atom+xml" href="/night.atom">
<link rel="alternate" type="application/rss+xml" href="/retired.xml">
</head><body>World news</body></html>`))
	})
	mux.HandleFunc("/static/world.xml", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte(discoverRSS)) })
	mux.HandleFunc("/night.atom", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte(discoverAtom)) })
	mux.HandleFunc("/blog/", func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(`<html><head><title>Blog</title></head><body>No feed links here</body></html>`))
	})
	mux.HandleFunc("/feed", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte(discoverRSS)) })
	mux.HandleFunc("/huge", func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("<html><body>"))
		w.Write(bytes.Repeat([]byte("<p>filler</p>"), 100_000))
	})
	mux.HandleFunc("/slow", func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-time.After(10 * time.Second):
		case <-r.Context().Done():
		}
	})
	withFeed = httptest.NewServer(mux)
	t.Cleanup(withFeed.Close)
	bare = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/" {
			w.Write([]byte(`<html><head><link rel="alternate" type="text/html" hreflang="fr" href="/fr/"></head></html>`))
			return
		}
		http.NotFound(w, r)
	}))
	t.Cleanup(bare.Close)
	return withFeed, bare
}

func TestFeedsDiscover(t *testing.T) {
	t.Parallel()
	site, bare := discoverSite(t)
	cfg := writeConfig(t, "feeds: [{url: 'https://example.com/rss'}]\n"+watchlistYAML+
		"fetch:\n  allow_private_networks: true\n  timeout: 10s\n  max_body_size: 64KiB\n")
	// Only the slow page meets a short timeout, so a loaded machine does
	// not fail the other cases.
	impatient := writeConfig(t, "feeds: [{url: 'https://example.com/rss'}]\n"+watchlistYAML+
		"fetch:\n  allow_private_networks: true\n  timeout: 1s\n")
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	refused := "http://" + closed.Addr().String() + "/"
	closed.Close()

	tests := map[string]struct {
		args   []string
		code   int
		stdout []string // lines, when set
		stderr string   // in stderr
	}{
		"links, table": {
			args: []string{"feeds", "discover", "--config", cfg, site.URL + "/world/"},
			stdout: []string{
				"URL TYPE SOURCE TITLE",
				site.URL + "/static/world.xml rss link Desk & Wire",
				site.URL + "/night.atom atom link Night Desk",
				// /feed serves the same feed as world.xml: listed once.
			},
			stderr: "skipped " + site.URL + "/retired.xml, which the page advertises: HTTP 404",
		},
		"links, json, flags after the URL": {
			args: []string{"--config", cfg, "feeds", "discover", site.URL + "/world/", "--format", "json"},
			stdout: []string{
				`{"url":"` + site.URL + `/static/world.xml","title":"Desk & Wire","type":"rss","source":"link"}`,
				`{"url":"` + site.URL + `/night.atom","title":"Night Desk","type":"atom","source":"link"}`,
			},
		},
		"no links, a usual path": {
			args:   []string{"feeds", "discover", "--config", cfg, "--format", "json", site.URL + "/blog/"},
			stdout: []string{`{"url":"` + site.URL + `/feed","title":"Desk & Wire","type":"rss","source":"probe"}`},
		},
		"the URL is a feed": {
			args:   []string{"feeds", "discover", "--config", cfg, "--format", "json", site.URL + "/night.atom"},
			stdout: []string{`{"url":"` + site.URL + `/night.atom","title":"Night Desk","type":"atom","source":"self"}`},
		},
		"nothing": {
			args:   []string{"feeds", "discover", "--config", cfg, bare.URL},
			code:   1,
			stderr: "no feed found at " + bare.URL + ": it is not a feed, advertises none, and none of the 8 usual feed paths",
		},
		"huge page": {
			args: []string{"feeds", "discover", "--config", cfg, site.URL + "/huge"}, code: 1,
			stderr: "cannot fetch " + site.URL + "/huge: too_large: body larger than 65536 bytes",
		},
		"slow page": {
			args: []string{"feeds", "discover", "--config", impatient, site.URL + "/slow"}, code: 1,
			stderr: "cannot fetch " + site.URL + "/slow: timeout",
		},
		"refused": {
			args: []string{"feeds", "discover", "--config", cfg, refused}, code: 1,
			stderr: "cannot fetch " + refused + ": connect",
		},
		// Without a configuration file the defaults apply, and they refuse
		// loopback addresses.
		"no config: defaults": {
			args: []string{"feeds", "discover", site.URL + "/world/"}, code: 1,
			stderr: "set fetch.allow_private_networks to allow it",
		},
		"no URL":         {args: []string{"feeds", "discover", "--config", cfg}, code: 2, stderr: "give the URL of a web page"},
		"two URLs":       {args: []string{"feeds", "discover", "--config", cfg, site.URL, site.URL}, code: 2, stderr: "unexpected argument"},
		"bad format":     {args: []string{"feeds", "discover", "--format", "csv", site.URL}, code: 2, stderr: "--format must be table or json"},
		"not http":       {args: []string{"feeds", "discover", "file:///etc/passwd"}, code: 2, stderr: "not an http or https URL"},
		"list, bad flag": {args: []string{"feeds", "--bogus"}, code: 2, stderr: "flag provided but not defined: -bogus"},
		"unknown":        {args: []string{"feeds", "list-all"}, code: 2, stderr: `unknown subcommand "list-all"`},
		"help":           {args: []string{"feeds", "help"}, stdout: []string{"Usage: wirewatch feeds SUBCOMMAND [flags]"}},
		"discover -help": {args: []string{"feeds", "discover", "--help"}, stderr: "Usage: wirewatch feeds discover"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			r := inProcess(t, nil, tc.args...)
			if r.code != tc.code || !strings.Contains(r.stderr, tc.stderr) {
				t.Fatalf("exit %d, want %d; stderr lacks %q:\n%s%s", r.code, tc.code, tc.stderr, r.stdout, r.stderr)
			}
			if tc.stdout == nil {
				return
			}
			var lines []string
			for _, l := range strings.Split(strings.TrimRight(r.stdout, "\n"), "\n") {
				lines = append(lines, strings.Join(strings.Fields(l), " "))
			}
			if name == "help" {
				lines = lines[:1]
			}
			if !reflect.DeepEqual(lines, tc.stdout) {
				t.Fatalf("stdout:\n%s\nwant:\n%s", strings.Join(lines, "\n"), strings.Join(tc.stdout, "\n"))
			}
			if strings.HasPrefix(lines[0], "{") {
				for _, l := range lines {
					var v map[string]string
					if err := json.Unmarshal([]byte(l), &v); err != nil || len(v) != 4 {
						t.Errorf("%s: %v, %d keys", l, err, len(v))
					}
				}
			}
		})
	}
}

// exportedOPML is what a test reads back from `feeds export`: strict XML,
// with the attributes feed readers look at.
type exportedOPML struct {
	XMLName xml.Name `xml:"opml"`
	Version string   `xml:"version,attr"`
	Head    struct {
		Title       string `xml:"title"`
		DateCreated string `xml:"dateCreated"`
	} `xml:"head"`
	Outlines []struct {
		Type    string `xml:"type,attr"`
		Text    string `xml:"text,attr"`
		Title   string `xml:"title,attr"`
		XMLURL  string `xml:"xmlUrl,attr"`
		HTMLURL string `xml:"htmlUrl,attr"`
	} `xml:"body>outline"`
}

func parseExport(t *testing.T, out string) exportedOPML {
	t.Helper()
	var doc exportedOPML
	if err := xml.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatalf("not OPML: %v\n%s", err, out)
	}
	if doc.Version != "2.0" || doc.Head.Title == "" || len(doc.Outlines) == 0 {
		t.Fatalf("OPML head or body missing: %+v", doc)
	}
	if _, err := time.Parse(time.RFC1123, doc.Head.DateCreated); err != nil {
		t.Errorf("dateCreated %q: %v", doc.Head.DateCreated, err)
	}
	for _, o := range doc.Outlines {
		if o.Type != "rss" || o.Text == "" || o.XMLURL == "" {
			t.Errorf("outline lacks type, text or xmlUrl: %+v", o)
		}
	}
	return doc
}

// feedList is the feeds a configuration lists, as URL and name.
func feedList(t *testing.T, path string) [][2]string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Parse(path, data, func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	var out [][2]string
	for _, f := range cfg.Feeds {
		out = append(out, [2]string{f.URL, f.Name})
	}
	return out
}

// The export is OPML that feeds_file reads back as the same feeds, names
// with quotes, ampersands, angle brackets and any script included.
func TestFeedsExportRoundTrip(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "more.txt"), []byte("https://more.example/rss  More & more\nhttps://bare.example/feed\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "local.xml"), []byte(discoverRSS), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(dir, "wirewatch.yaml")
	if err := os.WriteFile(cfg, []byte(`feeds:
  - url: https://www.aljazeera.com/xml/rss/all.xml
    name: Al Jazeera & "Friends" <World>
    schedule: "@every 5m"
  - url: https://ria.example/export/rss2/archive/index.xml?a=1&b=2
    name: "РИА Новости — ليبيا ]]> \u2028 tab\there"
  - url: https://unnamed.example/atom
  - url: file:local.xml
    name: Local
feeds_file: more.txt
`+watchlistYAML), 0o644); err != nil {
		t.Fatal(err)
	}
	want := feedList(t, cfg)
	if len(want) != 6 {
		t.Fatalf("the test config has %d feeds", len(want))
	}

	r := inProcess(t, nil, "feeds", "export", "--config", cfg)
	if r.code != 0 || r.stderr != "" {
		t.Fatalf("export: exit %d\n%s", r.code, r.stderr)
	}
	doc := parseExport(t, r.stdout)
	if o := doc.Outlines[2]; o.Text != "https://unnamed.example/atom" || o.Title != "" || o.HTMLURL != "" {
		t.Errorf("a feed without a name = %+v, want its URL as text and no title", o)
	}
	// The same document to a file.
	opml := filepath.Join(dir, "feeds.opml")
	r = inProcess(t, nil, "--config", cfg, "feeds", "export", "-o", opml)
	if r.code != 0 || r.stdout != "" || !strings.Contains(r.stderr, "wrote 6 feeds to "+opml) {
		t.Fatalf("export -o: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	back := filepath.Join(dir, "back.yaml")
	if err := os.WriteFile(back, []byte("feeds_file: feeds.opml\n"+watchlistYAML), 0o644); err != nil {
		t.Fatal(err)
	}
	if got := feedList(t, back); !reflect.DeepEqual(got, want) {
		t.Fatalf("read back:\n got %q\nwant %q", got, want)
	}

	for name, tc := range map[string]struct {
		args []string
		code int
		want string
	}{
		"help":           {[]string{"feeds", "export", "--help"}, 0, "Usage: wirewatch feeds export"},
		"stray argument": {[]string{"feeds", "export", "--config", cfg, "extra"}, 2, `unexpected argument "extra"`},
		"bad config":     {[]string{"feeds", "export", "--config", filepath.Join(dir, "none.yaml")}, 2, "no such file"},
		"unwritable":     {[]string{"feeds", "export", "--config", cfg, "-o", filepath.Join(dir, "no", "such", "dir.opml")}, 1, "no such file"},
	} {
		if r := inProcess(t, nil, tc.args...); r.code != tc.code || !strings.Contains(r.stderr, tc.want) {
			t.Errorf("%s: exit %d, want %d; stderr lacks %q:\n%s", name, r.code, tc.code, tc.want, r.stderr)
		}
	}
}

// With a database, a feed without a configured name is exported under the
// title it gives itself, and every feed with its site address; a configured
// name still wins. A database that does not answer is a warning.
func TestFeedsExportUsesStoredTitles(t *testing.T) {
	t.Parallel()
	dbURL, pool := storagetest.MigratedSchema(t)
	ctx := context.Background()
	store := storage.New(pool)
	feeds, err := store.SyncFeeds(ctx, []storage.FeedSpec{
		{URL: "https://a.example/rss", Name: "Desk A"}, {URL: "https://b.example/atom"}, {URL: "https://c.example/rss"},
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []struct {
		feed        storage.Feed
		title, site string
	}{
		{feeds[0], "A Wire: all stories", "https://a.example/"},
		{feeds[1], `B & Sons "Daily"`, "/news/"}, // relative, as an Atom feed may give it
	} {
		if _, err := store.SavePoll(ctx, storage.Poll{FeedID: p.feed.ID, StartedAt: time.Now(), Outcome: storage.OutcomeOK,
			HTTPStatus: 200, FeedTitle: p.title, SiteURL: p.site}); err != nil {
			t.Fatal(err)
		}
	}
	dir := t.TempDir()
	cfg := filepath.Join(dir, "wirewatch.yaml")
	if err := os.WriteFile(cfg, []byte(`feeds:
  - {url: "https://a.example/rss", name: Desk A}
  - {url: "https://b.example/atom"}
  - {url: "https://c.example/rss"}
`+watchlistYAML), 0o644); err != nil {
		t.Fatal(err)
	}
	type outline struct{ text, title, htmlURL string }
	outlines := func(out string) []outline {
		var got []outline
		for _, o := range parseExport(t, out).Outlines {
			got = append(got, outline{o.Text, o.Title, o.HTMLURL})
		}
		return got
	}
	fromConfig := []outline{{"Desk A", "Desk A", ""}, {"https://b.example/atom", "", ""}, {"https://c.example/rss", "", ""}}

	r := inProcess(t, map[string]string{"DATABASE_URL": dbURL}, "feeds", "export", "--config", cfg, "-o", filepath.Join(dir, "feeds.opml"))
	if r.code != 0 {
		t.Fatalf("export: exit %d\n%s", r.code, r.stderr)
	}
	out, err := os.ReadFile(filepath.Join(dir, "feeds.opml"))
	if err != nil {
		t.Fatal(err)
	}
	want := []outline{
		{"Desk A", "Desk A", "https://a.example/"},
		{`B & Sons "Daily"`, `B & Sons "Daily"`, "https://b.example/news/"},
		{"https://c.example/rss", "", ""}, // never polled
	}
	if got := outlines(string(out)); !reflect.DeepEqual(got, want) {
		t.Fatalf("outlines:\n got %q\nwant %q", got, want)
	}
	back := filepath.Join(dir, "back.yaml")
	if err := os.WriteFile(back, []byte("feeds_file: feeds.opml\n"+watchlistYAML), 0o644); err != nil {
		t.Fatal(err)
	}
	wantBack := [][2]string{{"https://a.example/rss", "Desk A"}, {"https://b.example/atom", `B & Sons "Daily"`}, {"https://c.example/rss", ""}}
	if got := feedList(t, back); !reflect.DeepEqual(got, wantBack) {
		t.Fatalf("read back:\n got %q\nwant %q", got, wantBack)
	}

	tests := map[string]struct {
		vars map[string]string
		args []string
		warn string // in stderr; "" for none
	}{
		"--no-db":                {map[string]string{"DATABASE_URL": dbURL}, []string{"--no-db"}, ""},
		"no database configured": {nil, nil, ""},
		"database down": {map[string]string{"DATABASE_URL": "postgres://nobody@127.0.0.1:1/none?connect_timeout=2"}, nil,
			"database not read, names come from the configuration only: connect to database"},
		"schema not migrated": {map[string]string{"DATABASE_URL": storagetest.Schema(t)}, nil, "wirewatch migrate"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			r := inProcess(t, tc.vars, append([]string{"feeds", "export", "--config", cfg}, tc.args...)...)
			if r.code != 0 || (tc.warn == "") != (r.stderr == "") || !strings.Contains(r.stderr, tc.warn) {
				t.Fatalf("exit %d, want 0; stderr should have %q:\n%s", r.code, tc.warn, r.stderr)
			}
			if got := outlines(r.stdout); !reflect.DeepEqual(got, fromConfig) {
				t.Fatalf("outlines:\n got %q\nwant %q", got, fromConfig)
			}
		})
	}
}
