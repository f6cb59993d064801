package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// benchResult is one line of `go test -bench` output: the benchmark's name
// (without the -GOMAXPROCS suffix) and its figures by unit.
type benchResult struct {
	name    string
	figures map[string]float64
}

var benchLineRE = regexp.MustCompile(`^(Benchmark\S+?)(?:-\d+)?\s+(\d+)\s+(.*)$`)

// parseBench reads the result lines of `go test -bench` output.
func parseBench(out string) []benchResult {
	var res []benchResult
	for _, line := range strings.Split(out, "\n") {
		m := benchLineRE.FindStringSubmatch(strings.TrimSpace(line))
		if m == nil {
			continue
		}
		r := benchResult{name: m[1], figures: map[string]float64{}}
		f := strings.Fields(m[3])
		for k := 0; k+1 < len(f); k += 2 {
			if v, err := strconv.ParseFloat(f[k], 64); err == nil {
				r.figures[f[k+1]] = v
			}
		}
		res = append(res, r)
	}
	return res
}

// figures collects one unit's values for each benchmark, in run order.
func figures(res []benchResult, unit string) map[string][]float64 {
	out := map[string][]float64{}
	for _, r := range res {
		if v, ok := r.figures[unit]; ok {
			out[r.name] = append(out[r.name], v)
		}
	}
	return out
}

// goBench compiles pkg's tests and runs its benchmarks matching pattern in
// the package directory, with env; it returns the output.
func (h *harness) goBench(ctx context.Context, pkg string, env []string, pattern, benchtime, count string, extra ...string) (string, error) {
	bin := filepath.Join(h.work, filepath.Base(pkg)+".test")
	if _, err := os.Stat(bin); err != nil {
		if err := h.goRun(ctx, h.root, nil, "test", "-c", "-o", bin, "./"+pkg); err != nil {
			return "", err
		}
	}
	args := []string{"-test.run", "^$", "-test.bench", pattern, "-test.benchtime", benchtime, "-test.count", count,
		"-test.timeout", "2h"}
	args = append(args, extra...)
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Dir = filepath.Join(h.root, pkg)
	cmd.Env = append(os.Environ(), env...)
	var out bytes.Buffer
	// The output is shown as it comes: some of these take minutes.
	cmd.Stdout = io.MultiWriter(&out, os.Stderr)
	cmd.Stderr = os.Stderr
	p, err := h.procs.start(cmd)
	if err != nil {
		return "", err
	}
	if err := p.wait(); err != nil {
		return out.String(), fmt.Errorf("%s -test.bench %s: %w", filepath.Base(bin), pattern, err)
	}
	return out.String(), nil
}

// matching runs classify's benchmarks: wirewatch's matcher and Go's regexp
// by number of terms, on one core.
func (h *harness) matching(ctx context.Context) error {
	// One core, as BENCHMARKS.md's figures: throughput per core.
	var res []benchResult
	for _, b := range h.opt.matchBenches {
		out, err := h.goBench(ctx, "classify", nil, b[0], h.opt.matchTime, b[1], "-test.cpu", "1")
		if err != nil {
			return err
		}
		res = append(res, parseBench(out)...)
	}
	mbs := figures(res, "MB/s")
	// The regexp's text size, where given, makes its MB/s precise (the
	// printed one has two decimals).
	for name, sizes := range figures(res, "text-B/op") {
		ns := figures(res, "ns/op")[name]
		if len(ns) == len(sizes) && len(mbs[name]) == len(sizes) {
			for i := range sizes {
				mbs[name][i] = sizes[i] / ns[i] * 1e3
			}
		}
	}
	table := figures(res, "table-MiB")
	for _, n := range []int{10, 100, 1000, 10000} {
		row := matchRow{terms: n, ww: mbs[fmt.Sprintf("BenchmarkMatch/terms=%d", n)], re: mbs[fmt.Sprintf("BenchmarkRegexp/terms=%d", n)]}
		if t := table[fmt.Sprintf("BenchmarkMatch/terms=%d", n)]; len(t) > 0 {
			row.tableMiB = t[0]
		}
		if len(row.ww) == 0 || len(row.re) == 0 {
			continue // not run (the smoke run takes two sizes)
		}
		h.rep.match = append(h.rep.match, row)
	}
	if len(h.rep.match) == 0 {
		return fmt.Errorf("no figures in the output")
	}
	return nil
}

// storing runs BenchmarkSaveMatches: SavePoll beside one INSERT per row.
func (h *harness) storing(ctx context.Context) error {
	out, err := h.goBench(ctx, "storage", nil, "^BenchmarkSaveMatches$", h.opt.saveTime, strconv.Itoa(h.opt.runs))
	if err != nil {
		return err
	}
	per := figures(parseBench(out), "matches/s")
	for _, n := range []int{2, 50} {
		row := saveRow{perPoll: n, batched: per[fmt.Sprintf("BenchmarkSaveMatches/batched/per-poll=%d", n)],
			rows: per[fmt.Sprintf("BenchmarkSaveMatches/row-by-row/per-poll=%d", n)]}
		if len(row.batched) == 0 || len(row.rows) == 0 {
			return fmt.Errorf("no figures for polls of %d in the output", n)
		}
		h.rep.save = append(h.rep.save, row)
	}
	return nil
}

// stories runs BenchmarkStoreNewItems at 10,000 and 100,000 items stored
// (and 1,000,000 with -full); without -full the 1,000,000 figure is cited
// from the existing section of BENCHMARKS.md.
func (h *harness) stories(ctx context.Context) error {
	out, err := h.goBench(ctx, "storage", nil, h.opt.storyBench, h.opt.storyTime, strconv.Itoa(h.opt.runs))
	if err != nil {
		return err
	}
	if h.opt.full {
		// Generating a million items takes minutes: one run.
		more, err := h.goBench(ctx, "storage", nil, `StoreNewItems/^stored=1000000$`, h.opt.storyTime, "1")
		if err != nil {
			return err
		}
		out += more
	}
	per := figures(parseBench(out), "µs/item")
	var sizes []int
	for name := range per {
		if n, err := strconv.Atoi(strings.TrimPrefix(name, "BenchmarkStoreNewItems/stored=")); err == nil {
			sizes = append(sizes, n)
		}
	}
	sort.Ints(sizes)
	if len(sizes) == 0 {
		return fmt.Errorf("no figures in the output")
	}
	for _, n := range sizes {
		h.rep.stories = append(h.rep.stories, storyRow{stored: n, us: per[fmt.Sprintf("BenchmarkStoreNewItems/stored=%d", n)]})
	}
	if !h.opt.full {
		data, err := os.ReadFile(filepath.Join(h.root, "BENCHMARKS.md"))
		if err == nil {
			h.rep.cited = citeMillion(string(data))
		}
	}
	return nil
}

// citeMillion finds the 1,000,000 row of the measured section on storing
// a new item as the store grows, with the date of its run.
func citeMillion(doc string) *citedRow {
	doc = withoutGenerated(doc)
	i := strings.Index(doc, "## Storing a new item as the store grows")
	if i < 0 {
		return nil
	}
	sec := doc[i:]
	if j := strings.Index(sec[3:], "\n## "); j >= 0 {
		sec = sec[:j+3]
	}
	c := &citedRow{}
	if m := regexp.MustCompile(`Run of (\d{4}-\d{2}-\d{2})`).FindStringSubmatch(sec); m != nil {
		c.date = m[1]
	}
	for _, line := range strings.Split(sec, "\n") {
		if !strings.HasPrefix(line, "| 1,000,000 |") {
			continue
		}
		cells := strings.Split(strings.Trim(line, "| "), "|")
		if len(cells) < 4 {
			return nil
		}
		c.runs = strings.TrimSpace(cells[1])
		c.median = strings.TrimSpace(cells[2])
		c.ratio = strings.Trim(strings.TrimSpace(cells[3]), "*")
		return c
	}
	return nil
}

// profileRow is one line of go tool pprof -top.
type profileRow struct {
	flat, flatPct, cum, cumPct float64 // seconds and percent of the total
	name                       string
}

type profile struct {
	name      string
	total     float64 // seconds sampled
	flat, cum []profileRow
}

var pprofRowRE = regexp.MustCompile(`^\s*([0-9.]+)(ms|s|us|µs|ns)?\s+([0-9.]+)%\s+[0-9.]+%\s+([0-9.]+)(ms|s|us|µs|ns)?\s+([0-9.]+)%\s+(.+)$`)
var pprofTotalRE = regexp.MustCompile(`Total samples = ([0-9.]+)(ms|s|us|µs|ns|min|h)? `)

func seconds(v, unit string) float64 {
	f, _ := strconv.ParseFloat(v, 64)
	switch unit {
	case "ms":
		return f / 1e3
	case "us", "µs":
		return f / 1e6
	case "ns":
		return f / 1e9
	case "min":
		return f * 60
	case "h":
		return f * 3600
	}
	return f
}

// parsePprof reads the rows of go tool pprof -top and the total sampled.
func parsePprof(out string) ([]profileRow, float64) {
	var rows []profileRow
	var total float64
	for _, line := range strings.Split(out, "\n") {
		if m := pprofTotalRE.FindStringSubmatch(line); m != nil {
			total = seconds(m[1], m[2])
			continue
		}
		m := pprofRowRE.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		fp, _ := strconv.ParseFloat(m[3], 64)
		cp, _ := strconv.ParseFloat(m[6], 64)
		rows = append(rows, profileRow{flat: seconds(m[1], m[2]), flatPct: fp, cum: seconds(m[4], m[5]), cumPct: cp,
			name: strings.TrimSpace(m[7])})
	}
	return rows, total
}
