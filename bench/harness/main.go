// Command harness runs wirewatch's benchmarks and reports them beside
// baselines measured in the same run: `make bench` (and, at tiny sizes,
// `make bench-smoke`, part of `make test`).
//
//	DATABASE_URL=... harness [-smoke] [-runs 5] [-write BENCHMARKS.md] [-wirewatch bin/wirewatch] [-full]
//
// It serves generated feeds with bench/farm on loopback and measures:
//
//   - cold ingest: one `wirewatch poll` of the farm into an empty database,
//     beside bench/baseline (fetch and parse with gofeed alone);
//   - steady state: `wirewatch poll` again over feeds that all answer 304,
//     beside the baseline's conditional GETs;
//   - memory: peak RSS of the cold ingest, and of `wirewatch run` over two
//     rounds of the steady-state farm;
//   - matching, storing and story clustering, with the Go benchmarks of
//     classify and storage.
//
// It needs DATABASE_URL (make bench runs it under bin/devdb, a throwaway
// cluster) and makes a schema of its own for every wirewatch run. The CPU
// time of PostgreSQL is read from /proc, for a server on this machine.
// Every process it starts is stopped when it ends, even on failure or
// Ctrl-C. With -write it rewrites the part of the file between
// "<!-- make bench: start -->" and "<!-- make bench: end -->".
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
)

type options struct {
	smoke                    bool
	runs                     int
	coldFeeds, coldItems     int
	steadyFeeds, steadyItems int
	runSchedule              string
	runRounds                int
	concurrency              int
	hosts                    int
	seed                     int
	matchTime                string
	matchBenches             [][2]string // -test.bench pattern, -test.count
	saveTime                 string
	storyTime, storyBench    string
	full                     bool
	profile                  bool
	write                    string
	command                  string
	wirewatch                string
	goCmd                    string
	keep                     bool
	only                     string
}

type harness struct {
	opt        options
	root       string // the repository
	work       string // scratch directory, removed at the end
	procs      *procs
	admin      *pgx.Conn
	dbURL      string
	postmaster int // 0 when the server is not on this machine
	bin        struct{ wirewatch, farm, baseline string }
	rep        *report
	schemas    []string
	start      time.Time
}

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "harness:", err)
		os.Exit(1)
	}
}

func run() error {
	var o options
	flag.BoolVar(&o.smoke, "smoke", false, "tiny sizes and one run of each, to check that the harness works; writes nothing")
	flag.IntVar(&o.runs, "runs", 5, "runs of each measurement (medians are reported)")
	flag.StringVar(&o.write, "write", "", "rewrite the figures section of this file (BENCHMARKS.md)")
	flag.StringVar(&o.command, "command", "", "the command to cite in the report (default: this one)")
	flag.StringVar(&o.wirewatch, "wirewatch", "", "the wirewatch binary to measure (default: build one)")
	flag.BoolVar(&o.full, "full", os.Getenv("BENCH_FULL") == "1", "also store a new item with 1,000,000 stored (about 15 minutes more); BENCH_FULL=1")
	flag.BoolVar(&o.profile, "profile", true, "profile one extra cold and one extra steady-state poll (WIREWATCH_CPUPROFILE)")
	flag.StringVar(&o.only, "only", "", "run only these measurements, comma-separated: cold, steady, matching, storing, stories (a quick look; refuses -write)")
	flag.BoolVar(&o.keep, "keep", false, "keep the scratch directory (logs, configurations, profiles)")
	flag.Parse()
	o.goCmd = cmpOr(os.Getenv("GO"), "go")
	o.coldFeeds, o.coldItems, o.steadyFeeds, o.steadyItems = 2000, 50, 10000, 10
	o.runSchedule, o.runRounds = "@every 1m", 2
	o.concurrency, o.hosts, o.seed = 16, 16, 1
	o.matchTime = "300ms"
	// The regexp with 10,000 terms takes seconds for one item: it runs
	// once, the rest three times.
	o.matchBenches = [][2]string{{"^BenchmarkMatch$", "3"}, {"^BenchmarkRegexp$/^terms=(10|100|1000)$", "3"},
		{"^BenchmarkRegexp$/^terms=10000$", "1"}}
	o.saveTime = "1s"
	o.storyTime, o.storyBench = "100x", `StoreNewItems/^stored=(10000|100000)$`
	if o.smoke {
		o.runs, o.write, o.full = 1, "", false
		o.coldFeeds, o.coldItems, o.steadyFeeds, o.steadyItems = 50, 10, 200, 5
		o.runSchedule = "@every 5s"
		o.matchTime = "1x"
		o.matchBenches = [][2]string{{"^(BenchmarkMatch|BenchmarkRegexp)$/^terms=(10|100)$", "1"}}
		o.saveTime = "3x"
		o.storyTime, o.storyBench = "2x", `StoreNewItems/^stored=10000$`
	}
	if o.runs < 1 {
		return errors.New("-runs must be at least 1")
	}
	if o.only != "" && o.write != "" {
		return errors.New("-only and -write: BENCHMARKS.md holds whole runs only")
	}
	if o.command == "" {
		o.command = strings.TrimSpace("go run ./bench/harness " + strings.Join(os.Args[1:], " "))
	}
	if o.full && !o.smoke && !strings.Contains(o.command, "BENCH_FULL") {
		o.command = "BENCH_FULL=1 " + o.command
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	h := &harness{opt: o, procs: newProcs(), rep: &report{opt: o}, start: time.Now()}
	defer h.procs.stopAll()
	if err := h.setup(ctx); err != nil {
		h.cleanup()
		return err
	}
	err := h.all(ctx)
	h.procs.stopAll()
	h.cleanup()
	if err != nil {
		return err
	}
	h.rep.elapsed = time.Since(h.start)
	text := h.rep.markdown()
	fmt.Println(text)
	if o.smoke {
		if err := h.rep.check(); err != nil {
			return fmt.Errorf("smoke: %w", err)
		}
		fmt.Fprintf(os.Stderr, "harness: smoke run complete in %s; the table above has every section\n", time.Since(h.start).Round(time.Second))
		return nil
	}
	if o.write != "" {
		if err := rewriteFile(o.write, text); err != nil {
			return err
		}
		fmt.Fprintf(os.Stderr, "harness: rewrote the figures in %s\n", o.write)
	}
	fmt.Fprintf(os.Stderr, "harness: done in %s\n", time.Since(h.start).Round(time.Second))
	return nil
}

func cmpOr(s, fallback string) string {
	if s != "" {
		return s
	}
	return fallback
}

func (h *harness) logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "[%4.0fs] %s\n", time.Since(h.start).Seconds(), fmt.Sprintf(format, args...))
}

// setup finds the repository and the database, and builds what runs.
func (h *harness) setup(ctx context.Context) error {
	root, err := repoRoot()
	if err != nil {
		return err
	}
	h.root = root
	h.dbURL = os.Getenv("DATABASE_URL")
	if h.dbURL == "" {
		return errors.New("DATABASE_URL is not set: run `make bench` (or bin/devdb with -- go run ./bench/harness), " +
			"which starts a throwaway PostgreSQL cluster")
	}
	if h.work, err = os.MkdirTemp("", "wirewatch-bench-"); err != nil {
		return err
	}
	if h.admin, err = pgx.Connect(ctx, h.dbURL); err != nil {
		return fmt.Errorf("connect to DATABASE_URL: %w", err)
	}
	var pid int
	var version string
	if err := h.admin.QueryRow(ctx, "SELECT pg_backend_pid(), current_setting('server_version')").Scan(&pid, &version); err != nil {
		return err
	}
	h.postmaster = findPostmaster(pid)
	m := &h.rep.machine
	m.pg = strings.Fields(version)[0]
	m.cpus = runtime.NumCPU()
	m.cpuModel = cpuModel()
	m.date = time.Now().UTC()
	m.loadStart = loadAvg()
	m.command = h.opt.command
	m.pgLocal = h.postmaster > 0
	if !m.pgLocal {
		h.logf("PostgreSQL is not on this machine (or not visible in /proc): its CPU time is not measured")
	}
	out, err := exec.CommandContext(ctx, h.opt.goCmd, "env", "GOVERSION").Output()
	if err != nil {
		return fmt.Errorf("go env GOVERSION: %w", err)
	}
	m.goVersion = "Go " + strings.TrimPrefix(strings.TrimSpace(string(out)), "go")

	h.logf("building the farm, the baseline and wirewatch into %s", h.work)
	h.bin.farm = filepath.Join(h.work, "farm")
	h.bin.baseline = filepath.Join(h.work, "baseline")
	builds := [][2]string{{h.bin.farm, "./bench/farm"}, {h.bin.baseline, "./bench/baseline"}}
	if h.opt.wirewatch != "" {
		h.bin.wirewatch, _ = filepath.Abs(h.opt.wirewatch)
	} else {
		h.bin.wirewatch = filepath.Join(h.work, "wirewatch")
		builds = append(builds, [2]string{h.bin.wirewatch, "./cmd/wirewatch"})
	}
	for _, b := range builds {
		// Static, as make build and the Docker image build wirewatch, so
		// that no binary pays for loading libc and the others not.
		if err := h.goRun(ctx, h.root, []string{"CGO_ENABLED=0"}, "build", "-trimpath", "-o", b[0], b[1]); err != nil {
			return err
		}
	}
	return nil
}

func (h *harness) cleanup() {
	if h.admin != nil {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		for _, s := range h.schemas {
			if _, err := h.admin.Exec(ctx, "DROP SCHEMA IF EXISTS "+s+" CASCADE"); err != nil {
				h.logf("drop schema %s: %v", s, err)
			}
		}
		_ = h.admin.Close(ctx)
		cancel()
	}
	if h.work != "" {
		if h.opt.keep {
			h.logf("scratch directory kept: %s", h.work)
		} else {
			_ = os.RemoveAll(h.work)
		}
	}
}

func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		data, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && strings.HasPrefix(string(data), "module github.com/wirewatch/wirewatch\n") {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("run the harness inside the wirewatch repository")
		}
		dir = parent
	}
}

// goRun runs the go command in dir, its output on our stderr.
func (h *harness) goRun(ctx context.Context, dir string, env []string, args ...string) error {
	cmd := exec.CommandContext(ctx, h.opt.goCmd, args...)
	cmd.Dir, cmd.Stdout, cmd.Stderr = dir, os.Stderr, os.Stderr
	cmd.Env = append(os.Environ(), env...)
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("go %s: %w", strings.Join(args, " "), err)
	}
	return nil
}

// all runs every measurement in turn.
func (h *harness) all(ctx context.Context) error {
	only := map[string]bool{}
	for _, name := range strings.Split(h.opt.only, ",") {
		if name = strings.TrimSpace(name); name != "" {
			only[name] = true
		}
	}
	type phase struct {
		key, name string
		run       func(context.Context) error
	}
	phases := []phase{
		{"cold", "cold ingest", h.cold},
		{"steady", "wirewatch run and steady state", h.steady},
		{"matching", "matching", h.matching},
		{"storing", "storing", h.storing},
		{"stories", "story clustering", h.stories},
	}
	for name := range only {
		if !slices.ContainsFunc(phases, func(p phase) bool { return p.key == name }) {
			return fmt.Errorf("-only: no measurement %q (cold, steady, matching, storing, stories)", name)
		}
	}
	for _, phase := range phases {
		if len(only) > 0 && !only[phase.key] {
			continue
		}
		t := time.Now()
		h.logf("== %s", phase.name)
		if err := phase.run(ctx); err != nil {
			return fmt.Errorf("%s: %w", phase.name, err)
		}
		h.rep.phases = append(h.rep.phases, phaseTime{phase.name, time.Since(t)})
	}
	h.rep.machine.loadEnd = loadAvg()
	return nil
}

// schema makes an empty schema and returns a DATABASE_URL that uses it.
func (h *harness) schema(ctx context.Context, name string) (string, error) {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	s := "wwbench_" + name + "_" + hex.EncodeToString(b)
	if _, err := h.admin.Exec(ctx, "CREATE SCHEMA "+s); err != nil {
		return "", err
	}
	h.schemas = append(h.schemas, s)
	return withSearchPath(h.dbURL, s), nil
}

func (h *harness) dropSchemas(ctx context.Context) {
	for _, s := range h.schemas {
		if _, err := h.admin.Exec(ctx, "DROP SCHEMA IF EXISTS "+s+" CASCADE"); err != nil {
			h.logf("drop schema %s: %v", s, err)
		}
	}
	h.schemas = nil
}

func withSearchPath(dbURL, schema string) string {
	if strings.HasPrefix(dbURL, "postgres://") || strings.HasPrefix(dbURL, "postgresql://") {
		if u, err := url.Parse(dbURL); err == nil {
			q := u.Query()
			q.Set("search_path", schema)
			u.RawQuery = q.Encode()
			return u.String()
		}
	}
	return strings.TrimSpace(dbURL + " search_path=" + schema)
}

// farm is a running bench/farm.
type farm struct {
	p     *proc
	urls  string // file of its feed URLs
	stats string // its /_farm/stats
	line  string // its summary
}

func (h *harness) startFarm(ctx context.Context, name string, feeds, items int) (*farm, error) {
	log := filepath.Join(h.work, name+".log")
	p, urls, err := h.startServer(ctx, log, feeds, 5*time.Minute, h.bin.farm,
		"-feeds", strconv.Itoa(feeds), "-items", strconv.Itoa(items), "-seed", strconv.Itoa(h.opt.seed),
		"-hosts", strconv.Itoa(h.opt.hosts))
	if err != nil {
		return nil, err
	}
	f := &farm{p: p, urls: filepath.Join(h.work, name+"-urls.txt"), line: strings.TrimPrefix(tail(log, 1), "farm: ")}
	u, _ := url.Parse(urls[0])
	f.stats = "http://" + u.Host + "/_farm/stats"
	if err := os.WriteFile(f.urls, []byte(strings.Join(urls, "\n")+"\n"), 0o644); err != nil {
		_ = p.stop(5 * time.Second)
		return nil, err
	}
	h.logf("farm %s: %s", name, f.line)
	return f, nil
}

// counts reads the farm's request counts.
func (f *farm) counts(ctx context.Context) (map[string]float64, error) {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, f.stats, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	return parseFlatJSON(string(data)), nil
}

// parseFlatJSON reads an object of numbers, the farm's stats.
func parseFlatJSON(s string) map[string]float64 {
	out := map[string]float64{}
	for _, m := range regexp.MustCompile(`"(\w+)":\s*(-?[0-9.]+)`).FindAllStringSubmatch(s, -1) {
		v, _ := strconv.ParseFloat(m[2], 64)
		out[m[1]] = v
	}
	return out
}

// wirewatchConfig writes a configuration for the farm's feeds with the
// shipped watchlist, and returns its path.
func (h *harness) wirewatchConfig(name, urls, schedule, listen string) (string, error) {
	shipped, err := os.ReadFile(filepath.Join(h.root, "config", "wirewatch.yaml"))
	if err != nil {
		return "", err
	}
	watchlist := yamlBlock(string(shipped), "watchlist")
	if watchlist == "" {
		return "", errors.New("config/wirewatch.yaml has no watchlist")
	}
	text := fmt.Sprintf(`# Written by the bench harness: the farm's feeds, the shipped watchlist.
schedule: %q
feeds_file: %s
%s
http:
  listen: %q
fetch:
  # The farm serves its feeds from loopback addresses.
  allow_private_networks: true
  concurrency: %d
  per_host_concurrency: 2
  # No gap between two requests to a host: the farm puts hundreds of feeds
  # on each address, which no publisher does.
  per_host_interval: 0s
`, schedule, urls, watchlist, listen, h.opt.concurrency)
	path := filepath.Join(h.work, name+".yaml")
	return path, os.WriteFile(path, []byte(text), 0o644)
}

// yamlBlock returns the top-level key's block of a YAML file, as written.
func yamlBlock(text, key string) string {
	var out []string
	in := false
	for _, line := range strings.Split(text, "\n") {
		top := line != "" && line[0] != ' ' && line[0] != '#' && line[0] != '\t'
		switch {
		case top && strings.HasPrefix(line, key+":"):
			in = true
		case top:
			in = false
		}
		if in {
			out = append(out, line)
		}
	}
	return strings.TrimRight(strings.Join(out, "\n"), "\n ")
}

// pollLine reads what `wirewatch poll` prints first.
type pollLine struct {
	feeds, ok, notModified, failed, newMatches int
}

var pollRE = regexp.MustCompile(`polled (\d+) feeds in \S+: (\d+) ok, (\d+) not modified, (\d+) failed[^;]*; (\d+) new matches`)

func parsePoll(stdout string) (pollLine, error) {
	m := pollRE.FindStringSubmatch(stdout)
	if m == nil {
		return pollLine{}, fmt.Errorf("unexpected output of wirewatch poll: %q", firstLine(stdout))
	}
	n := func(k int) int { v, _ := strconv.Atoi(m[k]); return v }
	return pollLine{n(1), n(2), n(3), n(4), n(5)}, nil
}

var baselineRE = regexp.MustCompile(`baseline: (\d+) feeds in \S+: (\d+) ok, (\d+) not modified, (\d+) failed; (\d+) items parsed`)

func parseBaseline(stdout string) (pollLine, error) {
	m := baselineRE.FindStringSubmatch(stdout)
	if m == nil {
		return pollLine{}, fmt.Errorf("unexpected output of the baseline: %q", firstLine(stdout))
	}
	n := func(k int) int { v, _ := strconv.Atoi(m[k]); return v }
	return pollLine{feeds: n(1), ok: n(2), notModified: n(3), failed: n(4), newMatches: n(5)}, nil
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	return s
}

// pgActivity is what pg_stat_database counts for the database.
type pgActivity struct{ xacts, inserted, updated, deleted int64 }

func (h *harness) pgActivity(ctx context.Context) pgActivity {
	var a pgActivity
	_, _ = h.admin.Exec(ctx, "SELECT pg_stat_clear_snapshot()")
	_ = h.admin.QueryRow(ctx, `SELECT xact_commit + xact_rollback, tup_inserted, tup_updated, tup_deleted
		FROM pg_stat_database WHERE datname = current_database()`).Scan(&a.xacts, &a.inserted, &a.updated, &a.deleted)
	return a
}

func (a pgActivity) minus(b pgActivity) pgActivity {
	return pgActivity{a.xacts - b.xacts, a.inserted - b.inserted, a.updated - b.updated, a.deleted - b.deleted}
}

// tables are those a poll writes, for the row counts of a cold ingest.
var tables = []string{"items", "unmatched_batches", "item_sightings", "matches", "match_hits", "stories", "polls", "feeds"}

// rowCounts counts the rows of the tables in the newest schema.
func (h *harness) rowCounts(ctx context.Context) []tableRows {
	var out []tableRows
	schema := h.schemas[len(h.schemas)-1]
	for _, t := range tables {
		var n int64
		if err := h.admin.QueryRow(ctx, "SELECT count(*) FROM "+schema+"."+t).Scan(&n); err == nil {
			out = append(out, tableRows{t, n})
		}
	}
	return out
}

// cold measures one wirewatch poll of the farm into an empty database,
// beside the baseline, runs times, alternating.
func (h *harness) cold(ctx context.Context) error {
	f, err := h.startFarm(ctx, "cold", h.opt.coldFeeds, h.opt.coldItems)
	if err != nil {
		return err
	}
	defer f.p.stop(5 * time.Second)
	cfg, err := h.wirewatchConfig("cold", f.urls, "*/15 * * * *", "off")
	if err != nil {
		return err
	}
	r := &coldResult{feeds: h.opt.coldFeeds, items: h.opt.coldFeeds * h.opt.coldItems, farm: f.line}
	h.rep.cold = r
	for i := 1; i <= h.opt.runs; i++ {
		b, err := h.measure(ctx, filepath.Join(h.work, fmt.Sprintf("cold-baseline-%d.log", i)), nil,
			h.bin.baseline, "-urls", f.urls, "-workers", strconv.Itoa(h.opt.concurrency))
		if err != nil {
			return err
		}
		bl, err := parseBaseline(b.stdout)
		if err != nil {
			return err
		}
		if bl.ok != r.feeds || bl.newMatches != r.items {
			return fmt.Errorf("baseline: %s", firstLine(b.stdout))
		}
		r.base = append(r.base, b)

		w, line, act, err := h.coldPoll(ctx, cfg, r.feeds, i, "")
		if err != nil {
			return err
		}
		r.ww = append(r.ww, w)
		r.matches, r.activity, r.rows = line.newMatches, act, h.rowCounts(ctx)
		h.logf("cold run %d/%d: baseline %.1f s (%.1f CPU s), wirewatch %.1f s (%.1f CPU s + PostgreSQL %.1f s), %d new matches",
			i, h.opt.runs, b.wall.Seconds(), b.cpu, w.wall.Seconds(), w.cpu, w.pgCPU, line.newMatches)
		h.dropSchemas(ctx)
	}
	if h.opt.profile {
		// The profile is of an extra poll of a quarter of the feeds: the
		// same work per feed, in a quarter of the time.
		n := max(1, h.opt.coldFeeds/4)
		urls, err := os.ReadFile(f.urls)
		if err != nil {
			return err
		}
		lines := strings.SplitAfter(string(urls), "\n")
		part := filepath.Join(h.work, "cold-quarter-urls.txt")
		if err := os.WriteFile(part, []byte(strings.Join(lines[:n], "")), 0o644); err != nil {
			return err
		}
		qcfg, err := h.wirewatchConfig("cold-quarter", part, "*/15 * * * *", "off")
		if err != nil {
			return err
		}
		prof := filepath.Join(h.work, "cold.prof")
		if _, _, _, err := h.coldPoll(ctx, qcfg, n, 0, prof); err != nil {
			return err
		}
		h.dropSchemas(ctx)
		p, err := h.pprofTop(ctx, prof)
		if err != nil {
			return err
		}
		p.name = fmt.Sprintf("cold ingest (an extra poll of %s of the feeds into an empty database)", thousands(float64(n)))
		h.rep.profiles = append(h.rep.profiles, p)
	}
	return nil
}

// coldPoll runs `wirewatch poll --migrate` of feeds into a new schema.
func (h *harness) coldPoll(ctx context.Context, cfg string, feeds, i int, profile string) (sample, pollLine, pgActivity, error) {
	dbURL, err := h.schema(ctx, "cold")
	if err != nil {
		return sample{}, pollLine{}, pgActivity{}, err
	}
	env := []string{"DATABASE_URL=" + dbURL}
	log := filepath.Join(h.work, fmt.Sprintf("cold-wirewatch-%d.log", i))
	if profile != "" {
		env = append(env, "WIREWATCH_CPUPROFILE="+profile)
		log = filepath.Join(h.work, "cold-wirewatch-profiled.log")
	}
	before := h.pgActivity(ctx)
	w, err := h.measure(ctx, log, env, h.bin.wirewatch, "poll", "--migrate", "--config", cfg)
	if err != nil {
		return w, pollLine{}, pgActivity{}, err
	}
	act := h.pgActivity(ctx).minus(before)
	line, err := parsePoll(w.stdout)
	if err != nil {
		return w, line, act, err
	}
	if line.ok != feeds || line.failed != 0 || line.newMatches == 0 {
		return w, line, act, fmt.Errorf("wirewatch poll: %s", firstLine(w.stdout))
	}
	return w, line, act, nil
}

// steady runs the daemon over the steady-state farm for two rounds (its
// memory), then measures `wirewatch poll` of the same feeds, which all
// answer 304 by then, beside the baseline's conditional GETs.
func (h *harness) steady(ctx context.Context) error {
	f, err := h.startFarm(ctx, "steady", h.opt.steadyFeeds, h.opt.steadyItems)
	if err != nil {
		return err
	}
	defer f.p.stop(5 * time.Second)
	n := h.opt.steadyFeeds
	r := &steadyResult{feeds: n, items: h.opt.steadyItems}
	h.rep.steady = r

	// The baseline's first pass: its memory over these feeds, and the
	// validators for its conditional passes.
	validators := filepath.Join(h.work, "validators.json")
	b, err := h.measure(ctx, filepath.Join(h.work, "steady-baseline-first.log"), nil,
		h.bin.baseline, "-urls", f.urls, "-workers", strconv.Itoa(h.opt.concurrency), "-save-validators", validators)
	if err != nil {
		return err
	}
	r.baseFirst = b

	dbURL, err := h.schema(ctx, "steady")
	if err != nil {
		return err
	}
	env := []string{"DATABASE_URL=" + dbURL}
	runCfg, err := h.wirewatchConfig("daemon", f.urls, h.opt.runSchedule, "127.0.0.1:0")
	if err != nil {
		return err
	}
	if err := h.daemon(ctx, r, env, runCfg); err != nil {
		return err
	}

	cfg, err := h.wirewatchConfig("steady", f.urls, "*/15 * * * *", "off")
	if err != nil {
		return err
	}
	poll := func(i int, profile string) (sample, error) {
		log := filepath.Join(h.work, fmt.Sprintf("steady-wirewatch-%d.log", i))
		e := env
		if profile != "" {
			e = append(e[:len(e):len(e)], "WIREWATCH_CPUPROFILE="+profile)
			log = filepath.Join(h.work, "steady-wirewatch-profiled.log")
		}
		before, err := f.counts(ctx)
		if err != nil {
			return sample{}, err
		}
		w, err := h.measure(ctx, log, e, h.bin.wirewatch, "poll", "--config", cfg)
		if err != nil {
			return w, err
		}
		after, err := f.counts(ctx)
		if err != nil {
			return w, err
		}
		line, err := parsePoll(w.stdout)
		if err != nil {
			return w, err
		}
		if line.notModified != n || after["not_modified"]-before["not_modified"] != float64(n) {
			return w, fmt.Errorf("want %d feeds not modified, got: %s (farm: %v 304s)", n, firstLine(w.stdout),
				after["not_modified"]-before["not_modified"])
		}
		return w, nil
	}
	for i := 1; i <= h.opt.runs; i++ {
		b, err := h.measure(ctx, filepath.Join(h.work, fmt.Sprintf("steady-baseline-%d.log", i)), nil,
			h.bin.baseline, "-urls", f.urls, "-workers", strconv.Itoa(h.opt.concurrency), "-validators", validators)
		if err != nil {
			return err
		}
		if bl, err := parseBaseline(b.stdout); err != nil || bl.notModified != n {
			return fmt.Errorf("baseline: want %d not modified: %s", n, firstLine(b.stdout))
		}
		r.base = append(r.base, b)
		w, err := poll(i, "")
		if err != nil {
			return err
		}
		r.ww = append(r.ww, w)
		h.logf("steady run %d/%d: baseline %.2f s (%.2f CPU s), wirewatch %.2f s (%.2f CPU s + PostgreSQL %.2f s)",
			i, h.opt.runs, b.wall.Seconds(), b.cpu, w.wall.Seconds(), w.cpu, w.pgCPU)
	}
	if h.opt.profile {
		prof := filepath.Join(h.work, "steady.prof")
		if _, err := poll(0, prof); err != nil {
			return err
		}
		p, err := h.pprofTop(ctx, prof)
		if err != nil {
			return err
		}
		p.name = fmt.Sprintf("steady state (%s feeds, all 304, one extra run)", thousands(float64(n)))
		h.rep.profiles = append(h.rep.profiles, p)
	}
	h.dropSchemas(ctx)
	return nil
}

// daemon runs `wirewatch run` until every feed has been polled runRounds
// times, stops it, and records its peak RSS.
func (h *harness) daemon(ctx context.Context, r *steadyResult, env []string, cfg string) error {
	n := r.feeds
	cmd := exec.Command(h.bin.wirewatch, "run", "--migrate", "--config", cfg)
	cmd.Env = append(os.Environ(), env...)
	logPath := filepath.Join(h.work, "daemon.log")
	logf, err := os.Create(logPath)
	if err != nil {
		return err
	}
	defer logf.Close()
	cmd.Stdout, cmd.Stderr = logf, logf
	start := time.Now()
	p, err := h.procs.start(cmd)
	if err != nil {
		return err
	}
	interval, _ := time.ParseDuration(strings.TrimPrefix(h.opt.runSchedule, "@every "))
	deadline := time.After(time.Duration(h.opt.runRounds)*interval + 10*time.Minute)
	schema := h.schemas[len(h.schemas)-1]
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	r.rounds = make([]time.Duration, h.opt.runRounds)
	for done := 0; done < h.opt.runRounds; {
		select {
		case <-ctx.Done():
			_ = p.stop(30 * time.Second)
			return ctx.Err()
		case <-p.done:
			return fmt.Errorf("wirewatch run ended by itself: %v: %s", p.err, tail(logPath, 5))
		case <-deadline:
			_ = p.stop(30 * time.Second)
			return fmt.Errorf("wirewatch run: %d rounds not done in time: %s", h.opt.runRounds, tail(logPath, 5))
		case <-tick.C:
		}
		var polled int
		err := h.admin.QueryRow(ctx, fmt.Sprintf(`SELECT count(*) FROM (SELECT feed_id FROM %s.polls GROUP BY feed_id
			HAVING count(*) >= $1) x`, schema), done+1).Scan(&polled)
		// Until the daemon has migrated the schema, its tables do not exist.
		if err != nil && !strings.Contains(err.Error(), "does not exist") {
			_ = p.stop(30 * time.Second)
			return err
		}
		if polled >= n {
			r.rounds[done] = time.Since(start)
			h.logf("wirewatch run: round %d of %s feeds done after %s", done+1, thousands(float64(n)), r.rounds[done].Round(time.Second))
			done++
		}
	}
	if err := p.stop(time.Minute); err != nil {
		return fmt.Errorf("wirewatch run did not stop cleanly: %v: %s", err, tail(logPath, 5))
	}
	r.daemon.wall = time.Since(start)
	if st := cmd.ProcessState; st != nil {
		r.daemon.cpu = (st.UserTime() + st.SystemTime()).Seconds()
		if ru, ok := st.SysUsage().(*syscall.Rusage); ok {
			r.daemon.rssMB = float64(ru.Maxrss) / 1024
		}
	}
	h.logf("wirewatch run: peak RSS %.1f MB", r.daemon.rssMB)
	return nil
}

// pprofTop reads a CPU profile with go tool pprof.
func (h *harness) pprofTop(ctx context.Context, prof string) (profile, error) {
	var p profile
	for _, cum := range []bool{false, true} {
		args := []string{"tool", "pprof", "-top", "-nodecount=40"}
		if cum {
			args = []string{"tool", "pprof", "-top", "-cum", "-nodecount=2000"}
		}
		args = append(args, h.bin.wirewatch, prof)
		cmd := exec.CommandContext(ctx, h.opt.goCmd, args...)
		cmd.Dir = h.root
		out, err := cmd.Output()
		if err != nil {
			return p, fmt.Errorf("go tool pprof: %w", err)
		}
		rows, total := parsePprof(string(out))
		if cum {
			p.cum = rows
		} else {
			p.flat, p.total = rows, total
		}
	}
	return p, nil
}
