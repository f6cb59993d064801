// Command corpuscheck reads a corpus of feed files the way a poll reads a
// feed: each file is served on a loopback HTTP server, fetched through
// ingest's Fetcher and parsed with ingest.Parse. It counts the outcomes:
// parsed with items, parsed with none, read only after the lenient pass, and
// failed by error kind, with a few example paths for each kind.
//
//	corpuscheck [-timeout 10s] [-examples 3] DIR...
//
// A file that takes longer than the timeout is reported as hung, and a panic
// is recovered and reported; either makes the exit status 1, because both
// are bugs in wirewatch whatever the file holds. Directories that do not
// exist are skipped with a message; when none exists the check is skipped
// and exits 0.
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"mime"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/wirewatch/wirewatch/ingest"
)

// Outcomes that are not error kinds of ingest.
const (
	outItems   = "items"
	outNoItems = "no items"
	outHang    = "hang"
	outPanic   = "panic"
)

type result struct {
	path    string
	outcome string // one of the out* constants, or an ingest error kind
	detail  string // the error
	repairs ingest.Repairs
	charset string
}

func main() {
	timeout := flag.Duration("timeout", 10*time.Second, "time allowed to fetch and parse one file")
	examples := flag.Int("examples", 3, "example paths shown per outcome")
	flag.Usage = func() {
		fmt.Fprintln(os.Stderr, "usage: corpuscheck [-timeout 10s] [-examples 3] DIR...")
		flag.PrintDefaults()
	}
	flag.Parse()
	code, err := run(flag.Args(), *timeout, *examples)
	if err != nil {
		fmt.Fprintln(os.Stderr, "corpuscheck:", err)
		os.Exit(1)
	}
	os.Exit(code)
}

func run(dirs []string, timeout time.Duration, examples int) (int, error) {
	if len(dirs) == 0 {
		return 2, errors.New("no corpus directory given")
	}
	var roots, files []string
	for _, d := range dirs {
		if fi, err := os.Stat(d); err != nil || !fi.IsDir() {
			fmt.Printf("corpus-check: no corpus at %s; skipped\n", d)
			continue
		}
		roots = append(roots, d)
		err := filepath.WalkDir(d, func(p string, e fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if e.Type().IsRegular() {
				files = append(files, p)
			}
			return nil
		})
		if err != nil {
			return 1, err
		}
	}
	if len(roots) == 0 {
		return 0, nil
	}
	sort.Strings(files)

	// httptest listens on 127.0.0.1 only, and the server sends only the
	// corpus files, by their number in files.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		num, _, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/")
		i, err := strconv.Atoi(num)
		if err != nil || i < 0 || i >= len(files) {
			http.NotFound(w, r)
			return
		}
		serveFile(w, r, files[i])
	}))
	defer srv.Close()
	fetcher := ingest.NewFetcher(ingest.FetchOptions{
		UserAgent:            "wirewatch-corpuscheck",
		Timeout:              timeout,
		MaxBodySize:          16 << 20,
		AllowPrivateNetworks: true,
	})

	start := time.Now()
	results := make([]result, len(files))
	var wg sync.WaitGroup
	next := make(chan int)
	for range runtime.GOMAXPROCS(0) {
		wg.Go(func() {
			for i := range next {
				u := fmt.Sprintf("%s/%d/%s", srv.URL, i, url.PathEscape(filepath.Base(files[i])))
				results[i] = check(fetcher, u, files[i], timeout)
			}
		})
	}
	for i := range files {
		next <- i
	}
	close(next)
	wg.Wait()
	report(results, roots, time.Since(start), examples)
	for _, r := range results {
		if r.outcome == outHang || r.outcome == outPanic {
			return 1, nil
		}
	}
	return 0, nil
}

// check fetches and parses one file. Parse runs on its own goroutine so a
// hang is noticed: the goroutine is abandoned and the run goes on.
func check(f *ingest.Fetcher, u, path string, timeout time.Duration) result {
	done := make(chan result, 1)
	go func() {
		defer func() {
			if r := recover(); r != nil {
				done <- result{path: path, outcome: outPanic, detail: fmt.Sprint(r)}
			}
		}()
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		resp, err := f.Fetch(ctx, u, ingest.Validators{})
		if err != nil {
			done <- result{path: path, outcome: ingest.ErrorKind(err), detail: err.Error()}
			return
		}
		feed, err := ingest.Parse(resp.Body, resp.ContentType)
		if err != nil {
			done <- result{path: path, outcome: ingest.ErrorKind(err), detail: err.Error()}
			return
		}
		r := result{path: path, outcome: outItems, repairs: feed.Repairs, charset: feed.Charset}
		if len(feed.Items) == 0 {
			r.outcome = outNoItems
		}
		done <- r
	}()
	select {
	case r := <-done:
		return r
	case <-time.After(timeout + time.Second):
		return result{path: path, outcome: outHang, detail: fmt.Sprintf("no answer after %s", timeout)}
	}
}

// serveFile sends the file at path with the Content-Type a web server would
// give it.
func serveFile(w http.ResponseWriter, r *http.Request, path string) {
	body, err := os.ReadFile(path)
	if err != nil {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", contentType(path, body))
	w.Write(body)
}

// declaredType matches the Content-Type line that some feed test suites put
// in a comment at the top of a file, for the type their server would send.
var declaredType = regexp.MustCompile(`(?mi)^Header:\s*Content-type:\s*(.*?)\s*$`)

// contentType is what a server would send for path: the type the file
// declares for itself in a test header, else one from its extension, else a
// sniffed one.
func contentType(path string, body []byte) string {
	head := body[:min(len(body), 2048)]
	if i := bytes.Index(head, []byte("-->")); i > 0 {
		if m := declaredType.FindSubmatch(head[:i]); m != nil {
			return string(m[1])
		}
	}
	switch ext := strings.ToLower(filepath.Ext(path)); ext {
	case ".xml":
		return "application/xml"
	case ".rss":
		return "application/rss+xml"
	case ".atom":
		return "application/atom+xml"
	case ".rdf":
		return "application/rdf+xml"
	case ".json":
		return "application/json"
	case "":
	default:
		if t := mime.TypeByExtension(ext); t != "" {
			return t
		}
	}
	return http.DetectContentType(body)
}

func report(results []result, roots []string, took time.Duration, examples int) {
	show := func(rs []result, detail func(result) string) {
		for _, r := range rs[:min(examples, len(rs))] {
			fmt.Printf("        %s: %s\n", r.path, oneLine(detail(r), 140))
		}
	}
	var parsed, withItems, overridden, lenient []result
	failed := map[string][]result{}
	fixes := map[string][]result{}
	charsets := map[string]int{}
	for _, r := range results {
		switch r.outcome {
		case outItems:
			withItems = append(withItems, r)
		case outNoItems:
		default:
			failed[r.outcome] = append(failed[r.outcome], r)
			continue
		}
		parsed = append(parsed, r)
		charsets[r.charset]++
		if r.repairs.Encoding != "" {
			overridden = append(overridden, r)
		}
		if r.repairs.Lenient() {
			lenient = append(lenient, r)
		}
		for _, f := range fixList {
			if f.done(r.repairs) {
				fixes[f.what] = append(fixes[f.what], r)
			}
		}
	}

	fmt.Printf("corpus-check: %d files under %s, fetched and parsed in %s\n", len(results), strings.Join(roots, ", "), took.Round(10*time.Millisecond))
	fmt.Printf("%-40s %6d\n", "parsed", len(parsed))
	fmt.Printf("  %-38s %6d\n", "with items", len(withItems))
	fmt.Printf("  %-38s %6d\n", "with no items", len(parsed)-len(withItems))
	fmt.Printf("  %-38s %s\n", "read as", byCount(charsets))
	fmt.Printf("  %-38s %6d\n", "declared encoding overridden", len(overridden))
	show(overridden, func(r result) string { return r.repairs.Encoding })
	fmt.Printf("  %-38s %6d\n", "saved by the lenient pass", len(lenient))
	for _, f := range fixList {
		fmt.Printf("    %-36s %6d\n", f.what, len(fixes[f.what]))
		show(fixes[f.what], func(r result) string { return r.repairs.String() })
	}

	total := 0
	kinds := map[string]int{}
	for k, rs := range failed {
		total += len(rs)
		kinds[k] = len(rs)
	}
	fmt.Printf("%-40s %6d\n", "failed", total)
	fmt.Printf("  %-38s %6d\n", "of which hung or panicked", len(failed[outHang])+len(failed[outPanic]))
	for _, k := range sortedByCount(kinds) {
		fmt.Printf("  %-38s %6d\n", k, kinds[k])
		causes := map[string][]result{}
		for _, r := range failed[k] {
			causes[cause(r)] = append(causes[cause(r)], r)
		}
		counts := map[string]int{}
		for c, rs := range causes {
			counts[c] = len(rs)
		}
		for _, c := range sortedByCount(counts) {
			fmt.Printf("    %-36s %6d\n", c, counts[c])
			show(causes[c], func(r result) string { return r.detail })
		}
	}
}

// fixList is what the lenient pass does, as counted in the report.
var fixList = []struct {
	what string
	done func(ingest.Repairs) bool
}{
	{"invalid UTF-8 replaced", func(r ingest.Repairs) bool { return r.InvalidUTF8 > 0 }},
	{"illegal characters removed", func(r ingest.Repairs) bool { return r.Illegal > 0 }},
	{"bare & or < escaped", func(r ingest.Repairs) bool { return r.Escaped > 0 }},
	{"HTML entities replaced", func(r ingest.Repairs) bool { return r.Entities > 0 }},
	{"'>' of the root's end tag added", func(r ingest.Repairs) bool { return r.RootClosed }},
}

// cause sorts the failures of one kind by what their error says.
func cause(r result) string {
	if r.outcome != ingest.KindParse {
		return r.outcome
	}
	for _, c := range []struct{ in, cause string }{
		{"not an RSS, Atom or JSON feed", "not a feed"},
		{"empty body", "empty body"},
		{"JSON", "invalid JSON Feed"},
		{"json:", "invalid JSON Feed"},
		{"XML syntax error", "XML syntax error"},
	} {
		if strings.Contains(r.detail, c.in) {
			return c.cause
		}
	}
	return "other"
}

func sortedByCount(m map[string]int) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if m[keys[i]] != m[keys[j]] {
			return m[keys[i]] > m[keys[j]]
		}
		return keys[i] < keys[j]
	})
	return keys
}

func byCount(m map[string]int) string {
	var parts []string
	for _, k := range sortedByCount(m) {
		parts = append(parts, fmt.Sprintf("%s %d", k, m[k]))
	}
	return strings.Join(parts, ", ")
}

func oneLine(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > n {
		s = s[:n] + "…"
	}
	return s
}
