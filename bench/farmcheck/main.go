// Command farmcheck scores what a wirewatch database holds against the
// ground truth of a feed farm (truth.jsonl, one line per served item): which
// items mention a watch subject, which are traps, which are copies.
//
//	DATABASE_URL=... farmcheck -truth DIR/truth.jsonl [-faults DIR/faults.txt]
//
// It exits 1 when an English item that mentions a subject was not stored, or
// when a trap or an item without mentions was.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"slices"
	"sort"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/wirewatch/wirewatch/classify"
)

type truth struct {
	Feed     string   `json:"feed"`
	Link     string   `json:"link"`
	Title    string   `json:"title"`
	Mentions []string `json:"mentions"`
	Trap     bool     `json:"trap"`
	Lang     string   `json:"lang"`
	Dup      string   `json:"dup"`
}

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "farmcheck:", err)
		os.Exit(1)
	}
}

func run() error {
	truthPath := flag.String("truth", "", "truth.jsonl of the farm")
	faultsPath := flag.String("faults", "", "faults.txt of the farm (its feeds are not scored)")
	verbose := flag.Bool("v", false, "list every miss and false positive")
	flag.Parse()
	if *truthPath == "" {
		return fmt.Errorf("-truth is required")
	}
	faulty, err := readFaults(*faultsPath)
	if err != nil {
		return err
	}
	items, err := readTruth(*truthPath, faulty)
	if err != nil {
		return err
	}
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, os.Getenv("DATABASE_URL"))
	if err != nil {
		return err
	}
	defer conn.Close(ctx)

	// Every link under which a stored item was seen, canonicalized, with the
	// item's watch entries.
	stored := map[string][]string{}
	rows, err := conn.Query(ctx, `
		SELECT s.link, array_agg(DISTINCT m.watch ORDER BY m.watch)
		FROM item_sightings s JOIN matches m USING (item_id)
		GROUP BY s.link, s.item_id`)
	if err != nil {
		return err
	}
	var link string
	var watches []string
	if _, err := pgx.ForEachRow(rows, []any{&link, &watches}, func() error {
		stored[classify.CanonicalURL(link)] = slices.Clone(watches)
		return nil
	}); err != nil {
		return err
	}
	var nItems int
	if err := conn.QueryRow(ctx, "SELECT count(*) FROM items").Scan(&nItems); err != nil {
		return err
	}

	type tally struct{ want, got, wrongWatches int }
	byLang := map[string]*tally{}
	var traps, trapsStored, plain, plainStored int
	var misses, fps []string
	for _, it := range items {
		w, ok := stored[classify.CanonicalURL(it.Link)]
		switch {
		case len(it.Mentions) > 0:
			t := byLang[it.Lang]
			if t == nil {
				t = &tally{}
				byLang[it.Lang] = t
			}
			t.want++
			if !ok {
				misses = append(misses, fmt.Sprintf("%s %s %q %v", it.Lang, it.Feed, it.Title, it.Mentions))
				continue
			}
			t.got++
			want := slices.Clone(it.Mentions)
			sort.Strings(want)
			if !slices.Equal(want, w) {
				t.wrongWatches++
				if *verbose {
					fmt.Printf("watches differ: %q truth %v stored %v\n", it.Title, want, w)
				}
			}
		case it.Trap:
			traps++
			if ok {
				trapsStored++
				fps = append(fps, fmt.Sprintf("trap %q stored as %v", it.Title, w))
			}
		default:
			plain++
			if ok {
				plainStored++
				fps = append(fps, fmt.Sprintf("%q stored as %v", it.Title, w))
			}
		}
	}

	fmt.Printf("truth items scored: %d (feeds with faults excluded: %d); items stored: %d\n", len(items), len(faulty), nItems)
	langs := make([]string, 0, len(byLang))
	for l := range byLang {
		langs = append(langs, l)
	}
	sort.Strings(langs)
	for _, l := range langs {
		t := byLang[l]
		fmt.Printf("  mentions, lang %-2s: %5d, stored %5d (recall %.4f), with other watch entries than the truth: %d\n",
			l, t.want, t.got, float64(t.got)/float64(t.want), t.wrongWatches)
	}
	fmt.Printf("  traps: %d, stored %d; items without mentions: %d, stored %d\n", traps, trapsStored, plain, plainStored)
	if *verbose || len(misses) <= 20 {
		for _, m := range misses {
			fmt.Println("  missed:", m)
		}
	}
	for _, f := range fps {
		fmt.Println("  false positive:", f)
	}
	if en := byLang["en"]; en == nil || en.got != en.want || trapsStored+plainStored > 0 {
		return fmt.Errorf("FAIL: every English mention must be stored and no trap or unrelated item")
	}
	fmt.Println("OK: every English mention stored, no trap or unrelated item stored")
	return nil
}

func readTruth(path string, skip map[string]bool) ([]truth, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []truth
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		var t truth
		if err := json.Unmarshal(sc.Bytes(), &t); err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		if !skip[t.Feed] {
			out = append(out, t)
		}
	}
	return out, sc.Err()
}

// readFaults reads the feed paths listed in faults.txt ("path kind url").
func readFaults(path string) (map[string]bool, error) {
	out := map[string]bool{}
	if path == "" {
		return out, nil
	}
	b, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return out, nil
	}
	if err != nil {
		return nil, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) > 0 {
			out[f[0]] = true
		}
	}
	return out, nil
}
