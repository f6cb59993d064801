package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"
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
		"no subcommand":  {args: []string{"feeds"}, code: 2, stderr: "Subcommands:\n  discover"},
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
