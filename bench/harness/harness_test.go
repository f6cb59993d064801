package main

import (
	"os"
	"strings"
	"testing"
)

func TestParseStat(t *testing.T) {
	st, err := parseStat("4242 (postgres: wire ww) S 100 4242 4242 0 -1 4194560 1234 0 0 0 250 75 3 4 20 0 1 0 555 1000 100")
	if err != nil {
		t.Fatal(err)
	}
	if st.ppid != 100 || st.utime != 250 || st.stime != 75 || st.cutime != 3 || st.cstime != 4 {
		t.Fatalf("parsed %+v", st)
	}
	self, err := readStat(os.Getpid())
	if err != nil || self.ppid != os.Getppid() {
		t.Fatalf("own stat: %+v, %v", self, err)
	}
}

func TestParseBench(t *testing.T) {
	out := `goos: linux
BenchmarkMatch/terms=10         	     120	   2019283 ns/op	 194.14 MB/s	         0.006317 table-MiB	   26000 B/op	     425 allocs/op
BenchmarkRegexp/terms=10000     	       1	 624000000 ns/op	   0.00 MB/s	      2800 text-B/op
BenchmarkSaveMatches/row-by-row/per-poll=2-2      	     469	   2794444 ns/op	       715.7 matches/s
BenchmarkStoreNewItems/stored=100000-2        	     100	  43021124 ns/op	       860.4 µs/item
--- BENCH: BenchmarkStoreNewItems/stored=10000-2
PASS`
	res := parseBench(out)
	if len(res) != 4 {
		t.Fatalf("%d results: %+v", len(res), res)
	}
	if v := figures(res, "MB/s")["BenchmarkMatch/terms=10"]; len(v) != 1 || v[0] != 194.14 {
		t.Errorf("MB/s: %v", v)
	}
	if v := figures(res, "text-B/op")["BenchmarkRegexp/terms=10000"]; len(v) != 1 || v[0] != 2800 {
		t.Errorf("text-B/op: %v", v)
	}
	if v := figures(res, "matches/s")["BenchmarkSaveMatches/row-by-row/per-poll=2"]; len(v) != 1 || v[0] != 715.7 {
		t.Errorf("matches/s: %v", figures(res, "matches/s"))
	}
	if v := figures(res, "µs/item")["BenchmarkStoreNewItems/stored=100000"]; len(v) != 1 || v[0] != 860.4 {
		t.Errorf("µs/item: %v", figures(res, "µs/item"))
	}
}

func TestParsePprof(t *testing.T) {
	out := `File: wirewatch
Type: cpu
Duration: 45.12s, Total samples = 27.10s (60.06%)
Showing nodes accounting for 20s, 73.80% of 27.10s total
      flat  flat%   sum%        cum   cum%
     2.50s  9.23%  9.23%      2.60s  9.59%  runtime.memmove
     900ms  3.32% 12.55%     12.20s 45.02%  github.com/wirewatch/wirewatch/ingest.(*Poller).Poll
         0     0% 12.55%      1.10s  4.06%  github.com/mmcdole/gofeed.(*Parser).Parse
`
	rows, total := parsePprof(out)
	if total != 27.1 || len(rows) != 3 {
		t.Fatalf("total %v, rows %+v", total, rows)
	}
	if rows[1].flat != 0.9 || rows[1].cum != 12.2 || rows[1].cumPct != 45.02 || shortName(rows[1].name) != "ingest.(*Poller).Poll" {
		t.Errorf("row: %+v", rows[1])
	}
	if rows[2].flat != 0 || shortName(rows[2].name) != "mmcdole/gofeed.(*Parser).Parse" {
		t.Errorf("row: %+v", rows[2])
	}
}

func TestReplaceGenerated(t *testing.T) {
	doc := "# Benchmarks\n\nIntro.\n\n## Matching\n\nText.\n"
	sec := startMarker + "\nfigures 1\n" + endMarker
	once, err := replaceGenerated(doc, sec)
	if err != nil || !strings.HasPrefix(once, "# Benchmarks\n\nIntro.\n\n"+sec+"\n\n## Matching") {
		t.Fatalf("first write: %q, %v", once, err)
	}
	twice, err := replaceGenerated(once, startMarker+"\nfigures 2\n"+endMarker)
	if err != nil || strings.Contains(twice, "figures 1") || !strings.Contains(twice, "figures 2") ||
		withoutGenerated(twice) != withoutGenerated(once) {
		t.Fatalf("second write: %q, %v", twice, err)
	}
	if _, err := replaceGenerated(doc+startMarker, sec); err == nil {
		t.Fatal("a lone marker must be refused")
	}
}

func TestCiteMillion(t *testing.T) {
	data, err := os.ReadFile("../../BENCHMARKS.md")
	if err != nil {
		t.Fatal(err)
	}
	c := citeMillion(string(data))
	if c == nil || c.date == "" || !strings.HasSuffix(c.median, "µs") || c.ratio == "" {
		t.Fatalf("BENCHMARKS.md: no 1,000,000 row found in its story-clustering section: %+v", c)
	}
	// The generated section cites the row too; it must not be read back.
	gen := startMarker + "\n## Storing a new item as the store grows\nRun of 1999-01-01\n| 1,000,000 | x | 1 µs | 9 |\n" + endMarker
	if c2 := citeMillion(gen + "\n" + string(data)); c2 == nil || *c2 != *c {
		t.Fatalf("read the generated section back: %+v", c2)
	}
}

func TestShippedConfigBlocks(t *testing.T) {
	data, err := os.ReadFile("../../config/wirewatch.yaml")
	if err != nil {
		t.Fatal(err)
	}
	w := yamlBlock(string(data), "watchlist")
	if !strings.HasPrefix(w, "watchlist:\n") || !strings.Contains(w, "name: Assad") || strings.Contains(w, "\nhttp:") {
		t.Fatalf("watchlist block: %q", w)
	}
}

func TestParsePoll(t *testing.T) {
	p, err := parsePoll("polled 2000 feeds in 44.934s: 1990 ok, 5 not modified, 3 failed, 2 skipped (polled elsewhere, asked to wait, or gone); 3023 new matches\n")
	if err != nil || p != (pollLine{2000, 1990, 5, 3, 3023}) {
		t.Fatalf("%+v, %v", p, err)
	}
	b, err := parseBaseline("baseline: 2000 feeds in 241ms: 0 ok, 2000 not modified, 0 failed; 0 items parsed\n")
	if err != nil || b.notModified != 2000 || b.feeds != 2000 {
		t.Fatalf("%+v, %v", b, err)
	}
}

func TestNumbers(t *testing.T) {
	for v, want := range map[float64]string{1234567: "1,234,567", 999.6: "1,000", 12.345: "12.3", 0.0044: "0.00440", 0.25: "0.250", 0: "0", 3.14159: "3.14"} {
		if got := num(v); got != want {
			t.Errorf("num(%v) = %q, want %q", v, got, want)
		}
	}
	if got := withRuns([]float64{3, 1, 2}, " s"); got != "2.00 s (3.00, 1.00, 2.00)" {
		t.Errorf("withRuns: %q", got)
	}
}
