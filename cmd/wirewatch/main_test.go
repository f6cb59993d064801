package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/wirewatch/wirewatch/classify"
	"github.com/wirewatch/wirewatch/storage/storagetest"
)

// These tests run the real binary, as a user or a service manager would.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "wirewatch-bin-")
	if err != nil {
		panic(err)
	}
	binary = filepath.Join(dir, "wirewatch")
	args := []string{"build", "-o", binary}
	if raceEnabled {
		args = append(args, "-race")
	}
	if out, err := exec.Command("go", append(args, ".")...).CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build wirewatch: %v\n%s", err, out)
		os.Exit(1)
	}
	defer os.RemoveAll(dir)
	storagetest.Main(m)
}

type result struct {
	code           int
	stdout, stderr string
}

// wirewatch runs the binary with env added to a minimal environment.
func wirewatch(t *testing.T, stdin string, env []string, args ...string) result {
	t.Helper()
	cmd := exec.Command(binary, args...)
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir()}, env...)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return result{code, out.String(), errb.String()}
}

func writeConfig(t *testing.T, body string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "wirewatch.yaml")
	if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

const watchlistYAML = `
watchlist:
  - name: Libya
    terms: [Libya, Libyan, Libye]
  - name: Haftar
    terms: [Haftar, Hafter]
  - name: Wagner
    terms: ["Wagner Group", "Wagner mercenaries", "Wagner fighters", "Wagner contractors", "groupe Wagner"]
  - name: Assad
    terms: [Assad]
`

func TestUsageAndExitCodes(t *testing.T) {
	t.Parallel()
	cfg := writeConfig(t, "feeds: [{url: 'https://example.com/rss'}]\n"+watchlistYAML)
	tests := map[string]struct {
		args []string
		code int
		want string // in stdout+stderr
	}{
		"no command":      {nil, 2, "Usage: wirewatch"},
		"help":            {[]string{"help"}, 0, "Commands:"},
		"--help":          {[]string{"--help"}, 0, "Commands:"},
		"unknown command": {[]string{"frobnicate"}, 2, `unknown command "frobnicate"`},
		"version":         {[]string{"version"}, 0, "wirewatch "},
		"--version":       {[]string{"--version"}, 0, "go1."},
		"bad flag":        {[]string{"matches", "--bogus"}, 2, "flag provided but not defined: -bogus"},
		"bad format":      {[]string{"matches", "--config", cfg, "--format", "xml"}, 2, "--format must be table, json or csv"},
		"bad since":       {[]string{"matches", "--config", cfg, "--since", "yesterday"}, 2, `--since "yesterday"`},
		"stray argument":  {[]string{"poll", "extra"}, 2, `unexpected argument "extra"`},
		"missing config":  {[]string{"check-config", "--config", "/nonexistent.yaml"}, 2, "no such file"},
		"check-config":    {[]string{"check-config", "--config", cfg}, 0, "is valid"},
		"global config":   {[]string{"--config", cfg, "check-config"}, 0, "is valid"},
	}
	for _, c := range commands() {
		tests[c.name+" --help"] = struct {
			args []string
			code int
			want string
		}{[]string{c.name, "--help"}, 0, "Usage: wirewatch " + c.name}
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			r := wirewatch(t, "", nil, tc.args...)
			if r.code != tc.code || !strings.Contains(r.stdout+r.stderr, tc.want) {
				t.Fatalf("exit %d, want %d; output lacks %q:\n%s%s", r.code, tc.code, tc.want, r.stdout, r.stderr)
			}
		})
	}
}

// A mistake in the config is a clear error with file, line and key, and
// exit status 2, for every command that reads it.
func TestConfigErrorsNameFileLineAndKey(t *testing.T) {
	t.Parallel()
	cfg := writeConfig(t, `feeds:
  - url: https://example.com/rss
watchlist:
  - name: Libya
    term: [Libya]
  - name: Haftar
    terms: ["Haftar", "..."]
`)
	for _, cmd := range []string{"check-config", "run", "poll", "match", "matches"} {
		r := wirewatch(t, "", nil, cmd, "--config", cfg)
		if r.code != 2 {
			t.Fatalf("%s: exit %d, want 2\n%s", cmd, r.code, r.stderr)
		}
		for _, want := range []string{cfg + ":5:5: watchlist[0].term: unknown key \"term\"", `did you mean "terms"`} {
			if !strings.Contains(r.stderr, want) {
				t.Errorf("%s: stderr lacks %q:\n%s", cmd, want, r.stderr)
			}
		}
	}
	// A term that normalizes to nothing is found when the watchlist compiles.
	cfg = writeConfig(t, "feeds: [{url: 'https://example.com/rss'}]\nwatchlist:\n  - name: Haftar\n    terms: [\"Haftar\", \"...\"]\n")
	r := wirewatch(t, "", nil, "check-config", "--config", cfg)
	if r.code != 2 || !strings.Contains(r.stderr, cfg+":4:") || !strings.Contains(r.stderr, `watchlist[0].terms[1]: term "..." has no letters or digits`) {
		t.Fatalf("exit %d:\n%s", r.code, r.stderr)
	}
}

func TestMatchDryRun(t *testing.T) {
	t.Parallel()
	cfg := writeConfig(t, "feeds: [{url: 'https://example.com/rss'}]\n"+watchlistYAML)
	in := `{"id": "a1", "title": "Haftar's forces withdraw", "summary": "<p>In Libya&#8217;s west</p>"}
{"id": 2, "title": "Ambassador recalled", "content": "Richard Wagner at Bayreuth; the Haftarah reading"}

not json
{"title": "no id; Bashar al-Assad"}
`
	r := wirewatch(t, in, nil, "match", "--config", cfg)
	if r.code != 1 || !strings.Contains(r.stderr, "1 input lines were not JSON objects") {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	var outs []matchOutput
	for _, line := range strings.Split(strings.TrimSpace(r.stdout), "\n") {
		var o matchOutput
		if err := json.Unmarshal([]byte(line), &o); err != nil {
			t.Fatalf("output line %q: %v", line, err)
		}
		outs = append(outs, o)
	}
	if len(outs) != 4 {
		t.Fatalf("%d output lines, want 4:\n%s", len(outs), r.stdout)
	}
	if string(outs[0].ID) != `"a1"` || !reflect.DeepEqual(outs[0].Watches, []string{"Libya", "Haftar"}) || len(outs[0].Hits) != 2 {
		t.Errorf("first = %+v", outs[0])
	}
	wantHit := classify.Hit{Watch: "Libya", Term: "Libya", Field: "summary", Start: 3, End: 8, Count: 1}
	if outs[0].Hits[0] != wantHit {
		t.Errorf("hit = %+v, want %+v", outs[0].Hits[0], wantHit)
	}
	if string(outs[1].ID) != "2" || outs[1].Matched || len(outs[1].Watches) != 0 {
		t.Errorf("trap = %+v", outs[1])
	}
	if outs[2].Error == "" || !strings.Contains(outs[2].Error, "line 4") {
		t.Errorf("bad line = %+v", outs[2])
	}
	if string(outs[3].ID) != "null" || !reflect.DeepEqual(outs[3].Watches, []string{"Assad"}) {
		t.Errorf("no id = %+v", outs[3])
	}
	// Titles as arguments.
	r = wirewatch(t, "", nil, "match", "--config", cfg, "Wagner Group in Libya", "Wagner's Ring")
	if r.code != 0 || !strings.Contains(r.stdout, `"watches":["Libya","Wagner"]`) || !strings.Contains(r.stdout, `"id":2,"matched":false`) {
		t.Fatalf("exit %d:\n%s%s", r.code, r.stdout, r.stderr)
	}
}

// serveDir serves the files of dir over HTTP on loopback, with ETag and
// Last-Modified from http.ServeContent.
func serveDir(t *testing.T, dir string) *httptest.Server {
	srv := httptest.NewServer(http.FileServer(http.Dir(dir)))
	t.Cleanup(srv.Close)
	return srv
}

// demoConfig is the demo's configuration with its feeds served over HTTP.
func demoConfig(t *testing.T, baseURL, extra string) string {
	t.Helper()
	var b strings.Builder
	b.WriteString("schedule: '@every 1h'\nfeeds:\n")
	entries, err := os.ReadDir("../../demo/feeds")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		fmt.Fprintf(&b, "  - url: %s/%s\n", baseURL, e.Name())
	}
	b.WriteString(extra)
	b.WriteString(demoWatchlist(t))
	b.WriteString("http:\n  listen: 'off'\nfetch:\n  allow_private_networks: true\n  timeout: 5s\nlog:\n  level: debug\n")
	return writeConfig(t, b.String())
}

// demoWatchlist is the watchlist section of the demo configuration (the same
// as the default configuration's).
func demoWatchlist(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("../../demo/wirewatch.yaml")
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	start, end := strings.Index(s, "\nwatchlist:"), strings.Index(s, "\nhttp:")
	if start < 0 || end < start {
		t.Fatal("demo/wirewatch.yaml: no watchlist section before http:")
	}
	return s[start:end] + "\n"
}

type expectedItem struct {
	Feed    string   `json:"feed"`
	Link    string   `json:"link"`
	Title   string   `json:"title"`
	Watches []string `json:"watches"`
	Trap    bool     `json:"trap"`
	Story   string   `json:"story"`
}

func readExpected(t *testing.T) []expectedItem {
	t.Helper()
	f, err := os.Open("../../demo/expected.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []expectedItem
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var e expectedItem
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatal(err)
		}
		out = append(out, e)
	}
	return out
}

// The whole pipeline on the demo feeds: poll, match, deduplicate, store,
// query, as the README's quick start does it.
func TestPollAndQueryDemoFeeds(t *testing.T) {
	t.Parallel()
	dbURL := storagetest.Schema(t)
	srv := serveDir(t, "../../demo/feeds")
	cfg := demoConfig(t, srv.URL, "")
	env := []string{"DATABASE_URL=" + dbURL}

	// The schema is not there yet: poll refuses and says what to do.
	r := wirewatch(t, "", env, "poll", "--config", cfg)
	if r.code != 1 || !strings.Contains(r.stderr, "run `wirewatch migrate`") {
		t.Fatalf("poll on an empty database: exit %d\n%s", r.code, r.stderr)
	}
	r = wirewatch(t, "", env, "migrate", "--config", cfg)
	if r.code != 0 || !strings.Contains(r.stdout, "applied 001_initial") {
		t.Fatalf("migrate: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	r = wirewatch(t, "", env, "poll", "--config", cfg)
	if r.code != 0 || !strings.Contains(r.stdout, "polled 9 feeds") || !strings.Contains(r.stdout, "8 ok, 0 not modified, 1 failed") ||
		!strings.Contains(r.stdout, "broken.xml") {
		t.Fatalf("first poll: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}

	// Every expected match is stored once, with its watch entries; traps
	// and unrelated items are not stored.
	expected := readExpected(t)
	got := matchesJSON(t, env, cfg)
	byLink := map[string]map[string]any{}
	for _, m := range got {
		byLink[classify.CanonicalURL(m["link"].(string))] = m
	}
	want := map[string][]string{}
	for _, e := range expected {
		if len(e.Watches) > 0 {
			want[classify.CanonicalURL(e.Link)] = e.Watches
		}
	}
	if len(got) != len(want) {
		t.Errorf("stored %d matches, want %d (one per distinct article)", len(got), len(want))
	}
	for link, watches := range want {
		m, ok := byLink[link]
		if !ok {
			t.Errorf("missing match %s", link)
			continue
		}
		var gotWatches []string
		for _, w := range m["watches"].([]any) {
			gotWatches = append(gotWatches, w.(string))
		}
		sort.Strings(watches)
		if !reflect.DeepEqual(gotWatches, watches) {
			t.Errorf("%s: watches %v, want %v", link, gotWatches, watches)
		}
		for _, key := range []string{"title", "link", "feed_url", "published_at", "first_seen_at", "watches", "hits"} {
			if _, ok := m[key]; !ok {
				t.Errorf("%s: JSON lacks %q", link, key)
			}
		}
		hit := m["hits"].([]any)[0].(map[string]any)
		for _, key := range []string{"watch", "term", "field"} {
			if hit[key] == "" || hit[key] == nil {
				t.Errorf("%s: hit lacks %q: %v", link, key, hit)
			}
		}
	}

	// The wire story carried by four outlets is one story with its copies.
	r = wirewatch(t, "", env, "matches", "--config", cfg, "--stories", "--format", "json", "--limit", "0")
	if r.code != 0 {
		t.Fatalf("matches --stories: exit %d\n%s", r.code, r.stderr)
	}
	storyOf := map[string]float64{}
	outlets := map[float64]float64{}
	for _, line := range strings.Split(strings.TrimSpace(r.stdout), "\n") {
		var st map[string]any
		if err := json.Unmarshal([]byte(line), &st); err != nil {
			t.Fatal(err)
		}
		id := st["story_id"].(float64)
		outlets[id] = st["outlets_count"].(float64)
		for _, it := range st["items"].([]any) {
			item := it.(map[string]any)
			for _, key := range []string{"title", "link", "feed_url", "first_seen_at"} {
				if _, ok := item[key]; !ok {
					t.Errorf("story item lacks %q", key)
				}
			}
			storyOf[classify.CanonicalURL(item["link"].(string))] = id
		}
	}
	byStory := map[string][]string{}
	for _, e := range expected {
		if e.Story != "" && len(e.Watches) > 0 {
			byStory[e.Story] = append(byStory[e.Story], classify.CanonicalURL(e.Link))
		}
	}
	for story, links := range byStory {
		first, ok := storyOf[links[0]]
		if !ok {
			t.Errorf("%s: %s is in no story", story, links[0])
			continue
		}
		for _, l := range links[1:] {
			if storyOf[l] != first {
				t.Errorf("%s: %s is in story %v, not %v", story, l, storyOf[l], first)
			}
		}
	}
	if wire := storyOf[classify.CanonicalURL(byStory["wire-russia-assad-libya"][0])]; outlets[wire] != 4 {
		t.Errorf("the wire story has %v outlets, want 4", outlets[wire])
	}
	if n := len(outlets); n >= len(got) {
		t.Errorf("%d stories for %d matches: copies were not grouped", n, len(got))
	}

	// A second poll stores nothing new.
	r = wirewatch(t, "", env, "poll", "--config", cfg)
	if r.code != 0 || !strings.Contains(r.stdout, "; 0 new matches") {
		t.Fatalf("second poll: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if n := len(matchesJSON(t, env, cfg)); n != len(got) {
		t.Fatalf("after the second poll: %d matches, want %d", n, len(got))
	}

	// Filters, formats and review.
	r = wirewatch(t, "", env, "matches", "--config", cfg, "--watch", "Wagner", "--format", "csv", "--limit", "0")
	rows, err := csv.NewReader(strings.NewReader(r.stdout)).ReadAll()
	if err != nil || r.code != 0 {
		t.Fatalf("csv: %v exit %d %s", err, r.code, r.stderr)
	}
	wagner := 0
	for _, ws := range want {
		for _, w := range ws {
			if w == "Wagner" {
				wagner++
			}
		}
	}
	if len(rows) != wagner+1 || rows[0][3] != "watches" || !strings.Contains(rows[1][4], "Wagner:") {
		t.Fatalf("csv has %d rows, want %d + header:\n%s", len(rows), wagner, r.stdout)
	}
	r = wirewatch(t, "", env, "matches", "--config", cfg, "--unreviewed", "--watch", "Haftar", "--mark-reviewed", "--limit", "0", "--since", "1h")
	if r.code != 0 || !strings.Contains(r.stderr, "reviewed") {
		t.Fatalf("mark reviewed: exit %d\n%s", r.code, r.stderr)
	}
	r = wirewatch(t, "", env, "matches", "--config", cfg, "--unreviewed", "--watch", "haftar")
	if r.code != 0 || strings.TrimSpace(r.stdout) != "no matches" {
		t.Fatalf("after review: %s%s", r.stdout, r.stderr)
	}
	r = wirewatch(t, "", env, "matches", "--config", cfg, "--limit", "3")
	if r.code != 0 || strings.Count(r.stdout, "\n") != 4 || !strings.HasPrefix(r.stdout, "ID") {
		t.Fatalf("table:\n%s%s", r.stdout, r.stderr)
	}
	r = wirewatch(t, "", env, "matches", "--config", cfg, "--since", "2999-01-01")
	if r.code != 0 || strings.TrimSpace(r.stdout) != "no matches" {
		t.Fatalf("future since:\n%s%s", r.stdout, r.stderr)
	}
}

func matchesJSON(t *testing.T, env []string, cfg string) []map[string]any {
	t.Helper()
	r := wirewatch(t, "", env, "matches", "--config", cfg, "--format", "json", "--limit", "0")
	if r.code != 0 {
		t.Fatalf("matches: exit %d\n%s", r.code, r.stderr)
	}
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(r.stdout), "\n") {
		if line == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("%q: %v", line, err)
		}
		out = append(out, m)
	}
	return out
}

func TestNoDatabaseIsAClearError(t *testing.T) {
	t.Parallel()
	cfg := writeConfig(t, "feeds: [{url: 'https://example.com/rss'}]\n"+watchlistYAML)
	r := wirewatch(t, "", []string{"DATABASE_URL=postgres://nobody@127.0.0.1:1/none?connect_timeout=2"}, "poll", "--config", cfg)
	if r.code != 1 || !strings.Contains(r.stderr, "connect to database") || !strings.Contains(r.stderr, "database URL from DATABASE_URL") {
		t.Fatalf("exit %d:\n%s", r.code, r.stderr)
	}
	r = wirewatch(t, "", []string{"DATABASE_URL=postgres://user:s3cret@127.0.0.1:1/none?connect_timeout=2"}, "poll", "--config", cfg)
	if strings.Contains(r.stderr, "s3cret") {
		t.Fatalf("the password is in the error:\n%s", r.stderr)
	}
}

// The daemon, stopped with SIGTERM in the middle of a poll, finishes what it
// can within shutdown_timeout, cancels the rest and exits 0; restarted, it
// polls the interrupted feed and stores each item exactly once.
func TestDaemonStopsMidPollWithoutLosingOrDoubling(t *testing.T) {
	t.Parallel()
	dbURL := storagetest.Schema(t)
	demo := serveDir(t, "../../demo/feeds")

	slow := newSlowFeed(t)
	cfg := demoConfig(t, demo.URL, fmt.Sprintf("  - url: %s/slow.xml\n    name: Slow\nshutdown_timeout: 1s\n", slow.URL))
	count := counter(t, dbURL)
	start := func() (*exec.Cmd, *syncBuffer) { return startDaemon(t, cfg, dbURL) }
	entered := slow.entered
	stop := func(cmd *exec.Cmd, logs *syncBuffer) time.Duration {
		t.Helper()
		begin := time.Now()
		if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		done := make(chan error)
		go func() { done <- cmd.Wait() }()
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("daemon exited with %v:\n%s", err, logs)
			}
		case <-time.After(15 * time.Second):
			cmd.Process.Kill()
			t.Fatalf("daemon did not stop within 15s of SIGTERM:\n%s", logs)
		}
		return time.Since(begin)
	}

	cmd, logs := start()
	<-entered // the slow feed's poll is in flight
	waitUntil(t, logs, func() bool { return count("SELECT count(*) FROM polls") >= 9 })
	itemsBefore := count("SELECT count(*) FROM items")
	took := stop(cmd, logs)
	if took > 10*time.Second {
		t.Errorf("stop took %s with shutdown_timeout 1s", took)
	}
	if !strings.Contains(logs.String(), "grace period over") {
		t.Errorf("the log does not say the poll in flight was cancelled:\n%s", logs)
	}
	if n := count("SELECT count(*) FROM polls p JOIN feeds f ON f.id = p.feed_id WHERE f.name = 'Slow'"); n != 0 {
		t.Fatalf("the interrupted poll left %d poll rows", n)
	}
	if itemsBefore == 0 || count("SELECT count(*) FROM items") != itemsBefore {
		t.Fatalf("items changed during the stop: %d before", itemsBefore)
	}

	// Restart: the slow feed was never polled, so it is due at once.
	slow.unblock()
	cmd, logs = start()
	waitUntil(t, logs, func() bool {
		return count("SELECT count(*) FROM polls p JOIN feeds f ON f.id = p.feed_id WHERE f.name = 'Slow'") == 1
	})
	stop(cmd, logs)
	if got := count("SELECT count(*) FROM items"); got != itemsBefore+2 {
		t.Fatalf("items after restart = %d, want %d", got, itemsBefore+2)
	}
	if dup := count("SELECT count(*) FROM (SELECT key FROM items GROUP BY key HAVING count(*) > 1) d"); dup != 0 {
		t.Fatalf("%d duplicated items", dup)
	}
}

// slowFeed is a feed server whose answers hang until unblock.
type slowFeed struct {
	*httptest.Server
	entered chan struct{} // a request arrived (and hangs)
	mu      sync.Mutex
	blocked bool
}

func newSlowFeed(t *testing.T) *slowFeed {
	s := &slowFeed{entered: make(chan struct{}, 16), blocked: true}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		b := s.blocked
		s.mu.Unlock()
		if b {
			s.entered <- struct{}{}
			<-r.Context().Done() // hang until the client gives up
			return
		}
		io.WriteString(w, `<rss version="2.0"><channel><title>Slow</title>
<item><title>Haftar's forces regroup near Sirte</title><link>https://slow.example/sirte</link></item>
<item><title>Wagner Group fighters leave Bani Walid</title><link>https://slow.example/bani-walid</link></item>
</channel></rss>`)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *slowFeed) unblock() {
	s.mu.Lock()
	s.blocked = false
	s.mu.Unlock()
}

// counter runs count queries against the test's database.
func counter(t *testing.T, dbURL string) func(q string) int {
	pool, err := pgxpool.New(context.Background(), dbURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return func(q string) int {
		t.Helper()
		var n int
		if err := pool.QueryRow(context.Background(), q).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
}

// startDaemon starts `wirewatch run` on cfg; its log is returned.
func startDaemon(t *testing.T, cfg, dbURL string) (*exec.Cmd, *syncBuffer) {
	t.Helper()
	cmd := exec.Command(binary, "run", "--migrate", "--config", cfg)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "DATABASE_URL=" + dbURL}
	logs := &syncBuffer{}
	cmd.Stderr = logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	return cmd, logs
}

// syncBuffer collects a child's output while the test reads it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func waitUntil(t *testing.T, logs *syncBuffer, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("condition not met in 20s; daemon log:\n%s", logs)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestQueryErrorsPointAtTheColumn(t *testing.T) {
	t.Parallel()
	cfg := writeConfig(t, `feeds: [{url: 'https://example.com/rss'}]
watchlist:
  - name: Wagner
    query: 'Wagner AND (Russia OR Libya'
`)
	r := wirewatch(t, "", nil, "check-config", "--config", cfg)
	if r.code != 2 || !strings.Contains(r.stderr, cfg+":4:5: watchlist[0].query: column 12 of the query (at \"(Russia OR Libya\"): unbalanced parentheses") {
		t.Fatalf("exit %d:\n%s", r.code, r.stderr)
	}
}

// A watch entry added later finds the items of the past window: the kept
// unmatched ones and the stored matches.
func TestRematchFindsPastItems(t *testing.T) {
	t.Parallel()
	dbURL := storagetest.Schema(t)
	srv := serveDir(t, "../../demo/feeds")
	env := []string{"DATABASE_URL=" + dbURL}
	feeds := "schedule: '@hourly'\nfeeds:\n"
	entries, _ := os.ReadDir("../../demo/feeds")
	for _, e := range entries {
		feeds += fmt.Sprintf("  - url: %s/%s\n", srv.URL, e.Name())
	}
	tail := "http: {listen: 'off'}\nfetch: {allow_private_networks: true}\n"
	before := writeConfig(t, feeds+"watchlist:\n  - {name: Libya, terms: [Libya, Libyan]}\n"+tail)
	after := writeConfig(t, feeds+"watchlist:\n  - {name: Libya, terms: [Libya, Libyan]}\n  - {name: Assad, terms: [Assad]}\n"+tail)

	if r := wirewatch(t, "", env, "poll", "--migrate", "--config", before); r.code != 0 {
		t.Fatalf("poll: %s%s", r.stdout, r.stderr)
	}
	if n := len(matchesJSON(t, env, before)); n == 0 {
		t.Fatal("no Libya matches to start from")
	}
	r := wirewatch(t, "", env, "rematch", "--config", after, "--since", "1h")
	if r.code != 0 || !strings.Contains(r.stdout, "items newly matched") || !strings.Contains(r.stderr, "kept unmatched items") {
		t.Fatalf("rematch: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	want := map[string]bool{}
	for _, e := range readExpected(t) {
		for _, w := range e.Watches {
			if w == "Assad" {
				want[classify.CanonicalURL(e.Link)] = true
			}
		}
	}
	got := map[string]bool{}
	for _, m := range matchesJSON(t, env, after) {
		for _, w := range m["watches"].([]any) {
			if w == "Assad" {
				got[classify.CanonicalURL(m["link"].(string))] = true
				if m["found_by"] != "rematch" && !slicesContain(m["watches"].([]any), "Libya") {
					t.Errorf("%s: found_by %v", m["link"], m["found_by"])
				}
			}
		}
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("Assad matches after rematch: %d, want %d", len(got), len(want))
	}
	// Again: nothing new.
	r = wirewatch(t, "", env, "rematch", "--config", after, "--since", "1h")
	if r.code != 0 || !strings.Contains(r.stdout, "0 items newly matched, 0 matches added") {
		t.Fatalf("second rematch:\n%s%s", r.stdout, r.stderr)
	}
}

func slicesContain(xs []any, s string) bool {
	for _, x := range xs {
		if x == s {
			return true
		}
	}
	return false
}
