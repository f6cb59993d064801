package main

import (
	"errors"
	"fmt"
	"math"
	"os"
	"slices"
	"strings"
	"time"
)

const (
	startMarker = "<!-- make bench: start -->"
	endMarker   = "<!-- make bench: end -->"
)

// The targets, and what they were set against: on the machine where they
// were set, gofeed alone took 4.9 CPU s for the cold ingest.
const (
	targetColdWallRatio = 1.3
	targetColdCPU       = 6.85 // s, wirewatch + PostgreSQL
	referenceGofeedCPU  = 4.9  // s
	targetColdRSS       = 33.0 // MB
	targetPollsPerSec   = 4000
	targetCPUPer1000    = 0.3  // s, wirewatch + PostgreSQL
	targetDaemonRSS     = 96.0 // MB
)

type machine struct {
	cpus               int
	cpuModel           string
	goVersion, pg      string
	date               time.Time
	loadStart, loadEnd string
	command            string
	pgLocal            bool
}

type coldResult struct {
	feeds, items int
	farm         string
	ww, base     []sample
	matches      int
	activity     pgActivity  // of the last run
	rows         []tableRows // stored by the last run
}

type tableRows struct {
	table string
	n     int64
}

type steadyResult struct {
	feeds, items int
	ww, base     []sample
	baseFirst    sample // the baseline's first, unconditional pass
	daemon       sample // wirewatch run over two rounds
	rounds       []time.Duration
}

type matchRow struct {
	terms    int
	ww, re   []float64 // MB/s
	tableMiB float64
}

type saveRow struct {
	perPoll       int
	batched, rows []float64 // matches/s
}

type storyRow struct {
	stored int
	us     []float64 // per new item
}

type citedRow struct{ date, runs, median, ratio string }

type phaseTime struct {
	name string
	d    time.Duration
}

type report struct {
	opt      options
	machine  machine
	cold     *coldResult
	steady   *steadyResult
	match    []matchRow
	save     []saveRow
	stories  []storyRow
	cited    *citedRow
	profiles []profile
	phases   []phaseTime
	elapsed  time.Duration
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func each(ss []sample, f func(sample) float64) []float64 {
	out := make([]float64, len(ss))
	for i, s := range ss {
		out[i] = f(s)
	}
	return out
}

// thousands formats v rounded, with commas: 12,345.
func thousands(v float64) string {
	neg := v < 0
	s := fmt.Sprintf("%.0f", math.Abs(v))
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// num formats v with three significant digits, or with commas from 1,000.
func num(v float64) string {
	switch a := math.Abs(v); {
	case math.IsNaN(v):
		return "–"
	case a >= 999.5:
		return thousands(v)
	case a >= 99.95:
		return fmt.Sprintf("%.0f", v)
	case a >= 9.995:
		return fmt.Sprintf("%.1f", v)
	case a >= 0.9995:
		return fmt.Sprintf("%.2f", v)
	case a == 0:
		return "0"
	default: // three significant digits
		return fmt.Sprintf("%.*f", 2-int(math.Floor(math.Log10(a))), v)
	}
}

// withRuns is the median of xs, formatted, with every run in brackets when
// there are several.
func withRuns(xs []float64, unit string) string {
	s := num(median(xs)) + unit
	if len(xs) > 1 {
		parts := make([]string, len(xs))
		for i, x := range xs {
			parts[i] = num(x)
		}
		s += " (" + strings.Join(parts, ", ") + ")"
	}
	return s
}

func verdict(ok bool) string {
	if ok {
		return "met"
	}
	return "**missed**"
}

// markdown is the report, as printed and as written into BENCHMARKS.md.
func (r *report) markdown() string {
	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	m := r.machine
	runs := "one run"
	if r.opt.runs > 1 {
		runs = fmt.Sprintf("the median of %d runs (each run in brackets)", r.opt.runs)
	}
	w("%s\n## Latest `make bench`\n\n", startMarker)
	w("Written by `%s` on %s: %d cores (%s), %s, PostgreSQL %s. The machine is shared with other work (load average %s at the start, %s at the end), so compare each figure with its baseline, measured in the same run, rather than across runs. Each figure is %s. The whole run took %s.\n\n",
		m.command, m.date.Format("2006-01-02 15:04 UTC"), m.cpus, m.cpuModel, m.goVersion, m.pg, m.loadStart, m.loadEnd, runs,
		r.elapsed.Round(time.Second))
	w("The feeds come from `bench/farm` (seed %d) on %d loopback addresses. wirewatch runs with the shipped watchlist and `fetch.concurrency: %d`, `per_host_concurrency: 2` and **`per_host_interval: 0s`**: the farm puts hundreds of feeds on each address, and the default gap of 250 ms between requests to a host would measure the wait. The baseline, `bench/baseline`, fetches the same URLs and parses them with gofeed alone, %d at a time, and stores nothing. PostgreSQL is the throwaway cluster of `bin/devdb` (fsync off); its CPU time is summed over the cluster's processes from /proc.\n\n",
		r.opt.seed, r.opt.hosts, r.opt.concurrency, r.opt.concurrency)
	if !m.pgLocal {
		w("PostgreSQL is not on this machine here, so its CPU time is not measured (–), and the CPU targets cannot be checked.\n\n")
	}
	r.writeCold(w)
	r.writeSteady(w)
	r.writeMemory(w)
	r.writeMatch(w)
	r.writeSave(w)
	r.writeStories(w)
	r.writeProfiles(w)
	var parts []string
	for _, p := range r.phases {
		parts = append(parts, fmt.Sprintf("%s %s", p.name, p.d.Round(time.Second)))
	}
	w("Time taken: %s.\n%s\n", strings.Join(parts, ", "), endMarker)
	return b.String()
}

func (r *report) writeCold(w func(string, ...any)) {
	c := r.cold
	if c == nil {
		return
	}
	wall := func(s sample) float64 { return s.wall.Seconds() }
	cpu := func(s sample) float64 { return s.cpu }
	pg := func(s sample) float64 { return s.pgCPU }
	both := func(s sample) float64 {
		if s.pgCPU < 0 {
			return math.NaN()
		}
		return s.cpu + s.pgCPU
	}
	rss := func(s sample) float64 { return s.rssMB }
	rate := func(s sample) float64 { return float64(c.items) / s.wall.Seconds() }
	ww, base := c.ww, c.base
	w("### Cold ingest: %s feeds x %d items into an empty database\n\n", thousands(float64(c.feeds)), c.items/max(1, c.feeds))
	w("One `wirewatch poll --migrate` into a new schema per run. Farm: %s.\n\n", c.farm)
	w("| | wirewatch | baseline | wirewatch / baseline | target | |\n|---|---:|---:|---:|---:|---|\n")
	wr := median(each(ww, wall)) / median(each(base, wall))
	w("| wall time | %s | %s | **%s** | ≤ %.1f | %s |\n", withRuns(each(ww, wall), " s"), withRuns(each(base, wall), " s"), num(wr),
		targetColdWallRatio, verdict(wr <= targetColdWallRatio))
	w("| items/s | %s | %s | %s | | |\n", thousands(median(each(ww, rate))), thousands(median(each(base, rate))),
		num(median(each(ww, rate))/median(each(base, rate))))
	w("| CPU s, the program | %s | %s | %s | | |\n", withRuns(each(ww, cpu), ""), withRuns(each(base, cpu), ""),
		num(median(each(ww, cpu))/median(each(base, cpu))))
	w("| CPU s, PostgreSQL | %s | – | | | |\n", withRuns(each(ww, pg), ""))
	total := median(each(ww, both))
	w("| CPU s, wirewatch + PostgreSQL | **%s** | %s | %s | ≤ %.2f s | %s |\n", withRuns(each(ww, both), ""),
		num(median(each(base, cpu))), num(total/median(each(base, cpu))), targetColdCPU, verdict(total <= targetColdCPU))
	share := targetColdCPU / referenceGofeedCPU
	w("| CPU of wirewatch + PostgreSQL ÷ the baseline's | | | %s | ≤ %.2f (%.2f / %.1f) | %s |\n", num(total/median(each(base, cpu))), share, targetColdCPU, referenceGofeedCPU,
		verdict(total/median(each(base, cpu)) <= share))
	w("| peak RSS | %s | %s | %s | ≤ %.0f MB | %s |\n\n", withRuns(each(ww, rss), " MB"), withRuns(each(base, rss), " MB"),
		num(median(each(ww, rss))/median(each(base, rss))), targetColdRSS, verdict(median(each(ww, rss)) <= targetColdRSS))
	a := c.activity
	w("Each run stores %s new matches of %s items (%.1f%%). PostgreSQL, in the last run: %s transactions, %s rows inserted, %s updated, %s deleted",
		thousands(float64(c.matches)), thousands(float64(c.items)), 100*float64(c.matches)/float64(max(1, c.items)),
		thousands(float64(a.xacts)), thousands(float64(a.inserted)), thousands(float64(a.updated)), thousands(float64(a.deleted)))
	if len(c.rows) > 0 {
		var parts []string
		for _, t := range c.rows {
			parts = append(parts, fmt.Sprintf("%s %s", t.table, thousands(float64(t.n))))
		}
		w("; rows it left: %s", strings.Join(parts, ", "))
	}
	w(". (`unmatched_batches` keeps the text of the items that matched nothing, one row per poll, for `rematch`: `retention.unmatched`, 7 days by default.)\n\n")
	w("The CPU target was set on a machine where gofeed alone takes %.1f CPU s for this ingest (and 2.8 s of wall time; a well-known peer takes 7.7 s wall, 8.2 CPU s and 5.5 s in PostgreSQL, with a peak of 33 MB): %.2f s is %.2f times gofeed alone there. The row \"÷ the baseline's\" holds this machine to the same share.\n\n",
		referenceGofeedCPU, targetColdCPU, share)
}

func (r *report) writeSteady(w func(string, ...any)) {
	s := r.steady
	if s == nil || len(s.ww) == 0 {
		return
	}
	n := float64(s.feeds)
	wall := func(x sample) float64 { return x.wall.Seconds() }
	rate := func(x sample) float64 { return n / x.wall.Seconds() }
	cpu := func(x sample) float64 { return 1000 * x.cpu / n }
	pg := func(x sample) float64 {
		if x.pgCPU < 0 {
			return math.NaN()
		}
		return 1000 * x.pgCPU / n
	}
	both := func(x sample) float64 { return cpu(x) + pg(x) }
	w("### Steady state: %s feeds, every one 304 Not Modified\n\n", thousands(n))
	w("`wirewatch poll` of feeds it has polled before (by the `wirewatch run` under Memory), beside the baseline's conditional GETs with the validators of its own first pass. Polls/s count the whole command, start to exit.\n\n")
	w("| | wirewatch | baseline | wirewatch / baseline | target | |\n|---|---:|---:|---:|---:|---|\n")
	w("| wall time | %s | %s | %s | | |\n", withRuns(each(s.ww, wall), " s"), withRuns(each(s.base, wall), " s"),
		num(median(each(s.ww, wall))/median(each(s.base, wall))))
	pr := median(each(s.ww, rate))
	w("| polls/s | **%s** | %s | %s | ≥ %s | %s |\n", thousands(pr), thousands(median(each(s.base, rate))),
		num(pr/median(each(s.base, rate))), thousands(targetPollsPerSec), verdict(pr >= targetPollsPerSec))
	w("| CPU s per 1,000 polls, the program | %s | %s | %s | | |\n", withRuns(each(s.ww, cpu), ""), withRuns(each(s.base, cpu), ""),
		num(median(each(s.ww, cpu))/median(each(s.base, cpu))))
	w("| CPU s per 1,000 polls, PostgreSQL | %s | – | | | |\n", withRuns(each(s.ww, pg), ""))
	c := median(each(s.ww, both))
	w("| CPU s per 1,000 polls, wirewatch + PostgreSQL | **%s** | %s | %s | ≤ %.1f | %s |\n\n", withRuns(each(s.ww, both), ""),
		num(median(each(s.base, cpu))), num(c/median(each(s.base, cpu))), targetCPUPer1000, verdict(c <= targetCPUPer1000))
}

func (r *report) writeMemory(w func(string, ...any)) {
	c, s := r.cold, r.steady
	if c == nil || s == nil {
		return
	}
	rss := func(x sample) float64 { return x.rssMB }
	w("### Memory\n\n| peak RSS | wirewatch | baseline | target | |\n|---|---:|---:|---:|---|\n")
	cr := median(each(c.ww, rss))
	w("| cold ingest, %s feeds x %d items | %s MB | %s MB | ≤ %.0f MB | %s |\n", thousands(float64(c.feeds)), c.items/max(1, c.feeds),
		num(cr), num(median(each(c.base, rss))), targetColdRSS, verdict(cr <= targetColdRSS))
	var rounds []string
	for _, d := range s.rounds {
		rounds = append(rounds, d.Round(time.Second).String())
	}
	w("| `wirewatch run`, %s feeds x %d items, two rounds of `%s` (done after %s) | **%s MB** | %s MB (one pass) | ≤ %.0f MB | %s |\n\n",
		thousands(float64(s.feeds)), s.items, r.opt.runSchedule, strings.Join(rounds, " and "), num(s.daemon.rssMB), num(s.baseFirst.rssMB),
		targetDaemonRSS, verdict(s.daemon.rssMB <= targetDaemonRSS))
	w("The daemon serves `/metrics` meanwhile, as deployed; its first round is a cold ingest of the %s feeds, its second all 304s. Peak RSS is the kernel's maxrss of the process, its whole life.\n\n",
		thousands(float64(s.feeds)))
}

func (r *report) writeMatch(w func(string, ...any)) {
	if len(r.match) == 0 {
		return
	}
	var counts []string
	for _, b := range r.opt.matchBenches {
		times := b[1] + " times"
		if b[1] == "1" {
			times = "once"
		}
		counts = append(counts, fmt.Sprintf("`%s` %s", b[0], times))
	}
	w("### Matching\n\n`BenchmarkMatch` beside `BenchmarkRegexp` in classify (see [Matching](#matching-classify) for what they measure), `-benchtime %s -cpu 1` (%s): MB/s of item text on one core.\n\n",
		r.opt.matchTime, strings.Join(counts, ", "))
	w("| terms | wirewatch MB/s | automaton | regexp MB/s | wirewatch / regexp |\n|---:|---:|---:|---:|---:|\n")
	for _, m := range r.match {
		w("| %s | %s | %.3g MiB | %s | %sx |\n", thousands(float64(m.terms)), withRuns(m.ww, ""), m.tableMiB, withRuns(m.re, ""),
			num(median(m.ww)/median(m.re)))
	}
	w("\n")
}

func (r *report) writeSave(w func(string, ...any)) {
	if len(r.save) == 0 {
		return
	}
	w("### Storing new matches\n\n`BenchmarkSaveMatches` in storage, `-benchtime %s -count %d`: new matches stored per second by `SavePoll` (the poll's rows sent as arrays, a handful of statements in two round trips), beside one INSERT per row (item, sighting, match, hit, story), one transaction per poll either way; each new item is put in its story either way.\n\n",
		r.opt.saveTime, r.opt.runs)
	w("| new matches per poll | batched (SavePoll) | one INSERT per row | batched / row by row |\n|---:|---:|---:|---:|\n")
	for _, s := range r.save {
		w("| %d | %s | %s | %s |\n", s.perPoll, withRuns(s.batched, ""), withRuns(s.rows, ""), num(median(s.batched)/median(s.rows)))
	}
	w("\nA poll of the farm's feeds brings 1 or 2 new matches (3%% of 50 items); 50 is a feed all about the story, or a first poll after a long outage.\n\n")
}

func (r *report) writeStories(w func(string, ...any)) {
	if len(r.stories) == 0 {
		return
	}
	once := ""
	if r.opt.full {
		once = " (1,000,000 once)"
	}
	w("### Story clustering\n\n`BenchmarkStoreNewItems` in storage (see [Storing a new item as the store grows](#storing-a-new-item-as-the-store-grows)), `-benchtime %s -count %d`%s: the time per new item of a poll of 50, `SavePoll` and story assignment, by the number of items stored.\n\n",
		r.opt.storyTime, r.opt.runs, once)
	w("| items stored | µs per new item | ratio to the first |\n|---:|---:|---:|\n")
	base := median(r.stories[0].us)
	for _, s := range r.stories {
		w("| %s | %s | %s |\n", thousands(float64(s.stored)), withRuns(s.us, " µs"), num(median(s.us)/base))
	}
	if c := r.cited; c != nil {
		w("| 1,000,000 | not run here (`BENCH_FULL=1 make bench` runs it): %s µs (%s) on %s | %s, against its own 10,000 |\n",
			strings.TrimSuffix(c.median, " µs"), c.runs, c.date, c.ratio)
	}
	w("\n")
}

// shortName drops the module paths from a function name.
func shortName(s string) string {
	for _, p := range []string{"github.com/wirewatch/wirewatch/", "github.com/", "golang.org/x/"} {
		s = strings.ReplaceAll(s, p, "")
	}
	return s
}

// stages are the functions that stand for a step of a poll, with what
// they cover; a profile is read as the time under each.
var stages = [][2]string{
	{"main.openPipeline", "start-up: configuration, database, feed list"},
	{"storage.Migrate", "schema migrations"},
	{"storage.(*Store).SyncFeeds", "recording the feed list"},
	{"storage.(*Store).ClaimMany", "claiming due feeds"},
	{"ingest.(*Fetcher).Fetch", "fetching: HTTP, gunzip"},
	{"ingest.hashBody", "hashing the body"},
	{"ingest.Parse", "parsing: encoding checks and gofeed"},
	{"mmcdole/gofeed.(*Parser).Parse", "of which gofeed"},
	{"ingest.(*Poller).classify", "matching, HTML stripping, fingerprints"},
	{"classify.(*Matcher).Match", "of which the watchlist"},
	{"classify.FindBoilerplate", "of which finding boilerplate"},
	{"classify.ItemKey", "of which identity keys"},
	{"classify.ContentHash", "of which content hashes"},
	{"classify.StripHTML", "of which HTML stripping"},
	{"classify.Fingerprint", "of which fingerprints"},
	{"storage.(*Store).SavePoll", "storing the poll, by the poll"},
	{"storage.(*Store).keepUnmatched", "of which keeping the unmatched items"},
	{"storage.encodeKept", "of which their JSON"},
	{"storage.(*Store).writeQueued", "storing polls in groups: items, stories, records"},
	{"storage.(*Store).AssignStories", "stories left unassigned (none, after new items)"},
	{"runtime.schedule", "goroutine scheduling"},
	{"net/http.(*persistConn).readLoop", "HTTP client reading"},
	{"runtime.gcBgMarkWorker", "garbage collection, background"},
	{"runtime.mallocgc", "allocation"},
	{"syscall.Syscall", "system calls"},
}

func (r *report) writeProfiles(w func(string, ...any)) {
	if len(r.profiles) == 0 {
		return
	}
	w("### Where wirewatch's time goes\n\nCPU profiles of an extra `wirewatch poll` with `WIREWATCH_CPUPROFILE`, read with `go tool pprof -top`: the time under each step (cumulative; steps nest), and the functions that take the most themselves (flat). PostgreSQL's own time is not in them.\n\n")
	for _, p := range r.profiles {
		w("**%s**: %.2f CPU s sampled.\n\n", p.name, p.total)
		byName := map[string]profileRow{}
		for _, row := range p.cum {
			byName[shortName(row.name)] = row
		}
		w("| step | function | cumulative | share |\n|---|---|---:|---:|\n")
		for _, st := range stages {
			if row, ok := byName[st[0]]; ok {
				w("| %s | `%s` | %.2f s | %.1f%% |\n", st[1], st[0], row.cum, row.cumPct)
			}
		}
		w("\n| flat | share | function |\n|---:|---:|---|\n")
		for i, f := range p.flat {
			if i == 12 || f.flat == 0 {
				break
			}
			w("| %.2f s | %.1f%% | `%s` |\n", f.flat, f.flatPct, shortName(f.name))
		}
		w("\n")
	}
}

// check is what the smoke run requires of the report.
func (r *report) check() error {
	var missing []string
	if r.cold == nil || len(r.cold.ww) == 0 || len(r.cold.base) == 0 || r.cold.matches == 0 {
		missing = append(missing, "cold ingest")
	}
	if r.steady == nil || len(r.steady.ww) == 0 || len(r.steady.base) == 0 {
		missing = append(missing, "steady state")
	}
	if r.steady == nil || r.steady.daemon.rssMB <= 0 {
		missing = append(missing, "memory of wirewatch run")
	}
	if len(r.match) == 0 {
		missing = append(missing, "matching")
	}
	if len(r.save) != 2 {
		missing = append(missing, "storing")
	}
	if len(r.stories) == 0 {
		missing = append(missing, "story clustering")
	}
	if r.opt.profile && (len(r.profiles) != 2 || len(r.profiles[0].flat) == 0) {
		missing = append(missing, "profiles")
	}
	text := r.markdown()
	for _, want := range []string{"| wall time |", "| polls/s |", "| peak RSS |", "| terms |", "| new matches per poll |", "| items stored |"} {
		if !strings.Contains(text, want) {
			missing = append(missing, fmt.Sprintf("the row %q", want))
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("the report lacks %s", strings.Join(missing, ", "))
	}
	return nil
}

// withoutGenerated is doc without the section make bench writes.
func withoutGenerated(doc string) string {
	i := strings.Index(doc, startMarker)
	j := strings.Index(doc, endMarker)
	if i < 0 || j < i {
		return doc
	}
	return doc[:i] + doc[j+len(endMarker):]
}

// replaceGenerated puts section between the markers of doc, or, when doc
// has none, before its first second-level heading.
func replaceGenerated(doc, section string) (string, error) {
	i := strings.Index(doc, startMarker)
	j := strings.Index(doc, endMarker)
	switch {
	case i >= 0 && j > i:
		return doc[:i] + section + doc[j+len(endMarker):], nil
	case i >= 0 || j >= 0:
		return "", errors.New("only one of the make bench markers is there")
	}
	k := strings.Index(doc, "\n## ")
	if k < 0 {
		return strings.TrimRight(doc, "\n") + "\n\n" + section + "\n", nil
	}
	return doc[:k+1] + section + "\n\n" + doc[k+1:], nil
}

func rewriteFile(path, section string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	out, err := replaceGenerated(string(data), section)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return os.WriteFile(path, []byte(out), 0o644)
}

func cpuModel() string {
	data, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return "unknown CPU"
	}
	for _, line := range strings.Split(string(data), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "unknown CPU"
}

func loadAvg() string {
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	return strings.Fields(string(data))[0]
}
