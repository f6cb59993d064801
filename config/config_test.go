package config

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

const minimal = `
schedule: "*/10 * * * *"
feeds:
  - url: https://example.com/feed.xml
    name: Example
watchlist:
  - name: Libya
    terms: [Libya, Libyan]
`

func noEnv(string) string { return "" }

func TestParseMinimal(t *testing.T) {
	t.Parallel()
	c, err := Parse("wirewatch.yaml", []byte(minimal), noEnv)
	if err != nil {
		t.Fatal(err)
	}
	if c.Schedule != "*/10 * * * *" || len(c.Feeds) != 1 || c.Feeds[0].Name != "Example" {
		t.Fatalf("unexpected config: %+v", c)
	}
	// Defaults survive a file that does not mention them.
	if c.HTTP.Listen != "127.0.0.1:8080" || c.Fetch.Timeout.D() != 30*time.Second || c.Fetch.MaxBodySize != 16<<20 {
		t.Fatalf("defaults lost: %+v %+v", c.HTTP, c.Fetch)
	}
	if c.FeedSchedule(c.Feeds[0]) != "*/10 * * * *" {
		t.Fatalf("feed schedule = %q", c.FeedSchedule(c.Feeds[0]))
	}
}

// Every error names the file, the line and the key, and says what was
// expected.
func TestParseErrors(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		yaml string
		want []string // substrings, each must appear in the error
	}{
		"unknown top-level key": {
			yaml: minimal + "scheduel: hourly\n",
			want: []string{"wirewatch.yaml:9:1:", "scheduel", "unknown key", `did you mean "schedule"`},
		},
		"unknown key in a feed": {
			yaml: `
feeds:
  - url: https://example.com/feed.xml
    nmae: Example
watchlist: [{name: Libya, terms: [Libya]}]
`,
			want: []string{"wirewatch.yaml:4:5:", "feeds[0].nmae", "want one of: name, schedule, url"},
		},
		"alert without a url, bad format and schedule": {
			yaml: minimal + "alerts:\n  - name: desk\n    format: email\n    schedule: sometimes\n",
			want: []string{"alerts[0].url", "has no url", "alerts[0].format", "want json or slack", "alerts[0].schedule", "bad schedule"},
		},
		"alert url from an unset variable": {
			yaml: minimal + "alerts:\n  - name: desk\n    url_env: WIREWATCH_TEST_UNSET_HOOK\n    schedule: '@hourly'\n",
			want: []string{"alerts[0].url_env", "WIREWATCH_TEST_UNSET_HOOK is empty or not set"},
		},
		"wrong type": {
			yaml: minimal + "fetch:\n  concurrency: lots\n",
			want: []string{"wirewatch.yaml:10:", "fetch.concurrency", "want a whole number", `"lots"`},
		},
		"terms not a list": {
			yaml: `
feeds: [{url: "https://example.com/a"}]
watchlist:
  - name: Haftar
    terms:
      Haftar: yes
`,
			want: []string{"wirewatch.yaml:6:", "watchlist[0].terms", "want a list"},
		},
		"bad schedule": {
			yaml: strings.Replace(minimal, `"*/10 * * * *"`, `"every day"`, 1),
			want: []string{"wirewatch.yaml:2:", "schedule", `bad schedule "every day"`},
		},
		"bad feed schedule": {
			yaml: strings.Replace(minimal, "watchlist:", "  - {url: https://example.com/b, schedule: '99 * * * *'}\nwatchlist:", 1),
			want: []string{"feeds[1].schedule", "bad schedule"},
		},
		"empty term": {
			yaml: `
feeds: [{url: "https://example.com/a"}]
watchlist:
  - name: Wagner
    terms: ["Wagner Group", "  "]
`,
			want: []string{"wirewatch.yaml:5:", "watchlist[0].terms[1]", `empty term in watch entry "Wagner"`},
		},
		"duplicate watch": {
			yaml: minimal + "  - name: libya\n    terms: [Libye]\n",
			want: []string{"wirewatch.yaml:9:", "watchlist[1].name", "defined twice (also at line 7)"},
		},
		"duplicate feed": {
			yaml: strings.Replace(minimal, "watchlist:", "  - url: https://example.com/feed.xml\nwatchlist:", 1),
			want: []string{"feeds[1].url", "listed twice"},
		},
		"not a feed URL": {
			yaml: strings.Replace(minimal, "https://example.com/feed.xml", "ftp://example.com/x", 1),
			want: []string{"wirewatch.yaml:4:", "feeds[0].url", "want an http, https or file URL"},
		},
		"bad duration": {
			yaml: minimal + "fetch:\n  timeout: soon\n",
			want: []string{"wirewatch.yaml:10:", "fetch.timeout", `bad duration "soon"`},
		},
		"bad size": {
			yaml: minimal + "fetch:\n  max_body_size: huge\n",
			want: []string{"fetch.max_body_size", `bad size "huge"`},
		},
		"invalid yaml": {
			yaml: "schedule: '@hourly'\nfeeds: url: a\n",
			want: []string{"wirewatch.yaml:2:", "invalid YAML", "mapping values are not allowed"},
		},
		"empty file": {
			yaml: "\n",
			want: []string{"wirewatch.yaml: the file is empty"},
		},
		"no feeds and no watchlist": {
			yaml: "schedule: '@hourly'\n",
			want: []string{"feeds: no feeds", "watchlist: empty watchlist"},
		},
		"bad listen": {
			yaml: minimal + "http:\n  listen: 8080\n",
			want: []string{"http.listen", "host:port"},
		},
		"bad log level": {
			yaml: minimal + "log:\n  level: loud\n",
			want: []string{"log.level", "want debug, info, warn or error"},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			_, err := Parse("wirewatch.yaml", []byte(tc.yaml), noEnv)
			if err == nil {
				t.Fatal("want an error, got none")
			}
			var ce *Error
			if !errors.As(err, &ce) {
				t.Fatalf("error %T is not a *config.Error: %v", err, err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error does not contain %q:\n%v", w, err)
				}
			}
		})
	}
}

func TestEnvOverridesDatabaseURL(t *testing.T) {
	t.Parallel()
	yml := minimal + "database:\n  url: postgres://from-file/db\n"
	tests := map[string]struct {
		env        map[string]string
		want, from string
	}{
		"file":             {nil, "postgres://from-file/db", "database.url in wirewatch.yaml"},
		"DATABASE_URL":     {map[string]string{"DATABASE_URL": "postgres://a/b"}, "postgres://a/b", "DATABASE_URL"},
		"WIREWATCH first":  {map[string]string{"DATABASE_URL": "postgres://a/b", "WIREWATCH_DATABASE_URL": "postgres://c/d"}, "postgres://c/d", "WIREWATCH_DATABASE_URL"},
		"empty is not set": {map[string]string{"WIREWATCH_DATABASE_URL": ""}, "postgres://from-file/db", "database.url in wirewatch.yaml"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			c, err := Parse("wirewatch.yaml", []byte(yml), func(k string) string { return tc.env[k] })
			if err != nil {
				t.Fatal(err)
			}
			if c.Database.URL != tc.want || c.DatabaseURLSource != tc.from {
				t.Fatalf("got %q from %q, want %q from %q", c.Database.URL, c.DatabaseURLSource, tc.want, tc.from)
			}
		})
	}
}

func TestFeedsFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write := func(name, body string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("feeds.txt", `# world desks
https://example.com/feed.xml
https://example.org/world.rss  Example Org World
https://example.org/world.rss
`)
	write("feeds.opml", `<?xml version="1.0"?>
<opml version="2.0"><head><title>export</title></head><body>
  <outline text="News">
    <outline type="rss" text="Desk A" xmlUrl="https://a.example/rss"/>
    <outline type="rss" title="Desk B" text="b" xmlUrl="https://b.example/atom"/>
  </outline>
  <outline type="rss" text="https://c.example/feed" xmlUrl=" https://c.example/feed "/>
</body></opml>`)
	write("bad.txt", "https://ok.example/feed\n\nnot a url\n")

	load := func(file string) (*Config, error) {
		yml := minimal + "feeds_file: " + file + "\n"
		return Parse(filepath.Join(dir, "wirewatch.yaml"), []byte(yml), noEnv)
	}
	c, err := load("feeds.txt")
	if err != nil {
		t.Fatal(err)
	}
	// The feeds: entry keeps its name; the repeated line is listed once.
	if len(c.Feeds) != 2 || c.Feeds[0].Name != "Example" || c.Feeds[1].Name != "Example Org World" {
		t.Fatalf("feeds.txt: %+v", c.Feeds)
	}
	c, err = load("feeds.opml")
	if err != nil {
		t.Fatal(err)
	}
	// An outline named by its URL has no name.
	if len(c.Feeds) != 4 || c.Feeds[1].URL != "https://a.example/rss" || c.Feeds[2].Name != "Desk B" ||
		c.Feeds[3].URL != "https://c.example/feed" || c.Feeds[3].Name != "" {
		t.Fatalf("feeds.opml: %+v", c.Feeds)
	}
	_, err = load("bad.txt")
	if err == nil || !strings.Contains(err.Error(), "bad.txt:3:") {
		t.Fatalf("bad.txt: want an error at line 3, got %v", err)
	}
	_, err = load("missing.txt")
	if err == nil || !strings.Contains(err.Error(), "feeds_file: cannot read feeds file") {
		t.Fatalf("missing.txt: got %v", err)
	}
}

func TestRelativeFileURL(t *testing.T) {
	t.Parallel()
	yml := strings.Replace(minimal, "https://example.com/feed.xml", "file:feeds/a.xml", 1)
	c, err := Parse("/srv/wirewatch/demo.yaml", []byte(yml), noEnv)
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Feeds[0].URL; got != "file:///srv/wirewatch/feeds/a.xml" {
		t.Fatalf("got %q", got)
	}
}

func TestUnits(t *testing.T) {
	t.Parallel()
	durations := map[string]time.Duration{"0": 0, "90s": 90 * time.Second, "7d": 7 * 24 * time.Hour, "1w": 7 * 24 * time.Hour, "1d12h": 36 * time.Hour, "250ms": 250 * time.Millisecond}
	for in, want := range durations {
		got, err := ParseDuration(in)
		if err != nil || got != want {
			t.Errorf("ParseDuration(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	sizes := map[string]int64{"16MiB": 16 << 20, "512KiB": 512 << 10, "1GiB": 1 << 30, "100kB": 100000, "42": 42, "2 MB": 2000000}
	for in, want := range sizes {
		got, err := ParseByteSize(in)
		if err != nil || got != want {
			t.Errorf("ParseByteSize(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
}

// The shipped configurations must always load, and the demo must show the
// default watchlist at work.
func TestShippedConfig(t *testing.T) {
	t.Parallel()
	var watchlists [][]Watch
	for _, path := range []string{"wirewatch.yaml", "../demo/wirewatch.yaml"} {
		c, err := Parse(path, mustRead(t, path), noEnv)
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		if len(c.Watchlist) < 4 {
			t.Errorf("%s: %d watch entries, want the four subjects at least", path, len(c.Watchlist))
		}
		watchlists = append(watchlists, c.Watchlist)
	}
	if !reflect.DeepEqual(watchlists[0], watchlists[1]) {
		t.Error("demo/wirewatch.yaml's watchlist differs from config/wirewatch.yaml's; keep them the same")
	}
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
