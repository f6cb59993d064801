// Command farmcheck scores what a wirewatch database holds against the
// ground truth of a feed farm (truth.jsonl, one line per served item): which
// items mention a watch subject, which are traps, which are copies.
//
//	DATABASE_URL=... farmcheck -truth DIR/truth.jsonl [-faults DIR/faults.txt] [-exact]
//
// It exits 1 when an English item that mentions a subject was not stored, or
// when a trap or an item without mentions was. With -exact it also exits 1
// when the number of stored items is not the number of distinct articles
// (canonical links) the truth says mention a subject: one article stored
// twice, or something stored that is no such article.
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
	Story    string   `json:"story"`
	CopyOf   string   `json:"copy_of"`
}

// cluster is the truth's story of an item: its original's, for a copy.
func (t truth) cluster() string {
	if t.CopyOf != "" {
		return t.CopyOf
	}
	return t.Story
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
	exact := flag.Bool("exact", false, "fail unless the items stored are exactly the distinct articles with mentions")
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
	articles := map[string]bool{} // canonical links of the items with mentions
	for _, it := range items {
		w, ok := stored[classify.CanonicalURL(it.Link)]
		switch {
		case len(it.Mentions) > 0:
			articles[classify.CanonicalURL(it.Link)] = true
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
	fmt.Printf("  distinct articles with mentions (canonical links): %d; items stored: %d\n", len(articles), nItems)
	if *verbose || len(misses) <= 20 {
		for _, m := range misses {
			fmt.Println("  missed:", m)
		}
	}
	for _, f := range fps {
		fmt.Println("  false positive:", f)
	}
	if err := scoreStories(ctx, conn, items); err != nil {
		return err
	}
	if en := byLang["en"]; en == nil || en.got != en.want || trapsStored+plainStored > 0 {
		return fmt.Errorf("FAIL: every English mention must be stored and no trap or unrelated item")
	}
	fmt.Println("OK: every English mention stored, no trap or unrelated item stored")
	if *exact {
		if nItems != len(articles) {
			return fmt.Errorf("FAIL: %d items stored for %d distinct articles with mentions", nItems, len(articles))
		}
		fmt.Println("OK: one item per article")
	}
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

// scoreStories compares the stories wirewatch formed among the stored items
// with the truth's, pair by pair: precision is the share of item pairs put
// in one story that truly are one story; recall the share of true pairs
// found.
func scoreStories(ctx context.Context, conn *pgx.Conn, items []truth) error {
	byLink := map[string]truth{}
	for _, t := range items {
		byLink[classify.CanonicalURL(t.Link)] = t
	}
	rows, err := conn.Query(ctx, `SELECT i.id, coalesce(i.story_id, 0), s.link FROM items i JOIN item_sightings s ON s.item_id = i.id`)
	if err != nil {
		return err
	}
	type stored struct {
		story   int64
		cluster string
		lang    string
	}
	byItem := map[int64]*stored{}
	unassigned := 0
	var id, story int64
	var link string
	if _, err := pgx.ForEachRow(rows, []any{&id, &story, &link}, func() error {
		t, ok := byLink[classify.CanonicalURL(link)]
		if !ok {
			return nil
		}
		if byItem[id] == nil {
			byItem[id] = &stored{story: story, cluster: t.cluster(), lang: t.Lang}
			if story == 0 {
				unassigned++
			}
		}
		return nil
	}); err != nil {
		return err
	}
	pairs := func(counts map[string]int) int {
		n := 0
		for _, c := range counts {
			n += c * (c - 1) / 2
		}
		return n
	}
	score := func(label string, keep func(*stored) bool) {
		pred, gold, both := map[string]int{}, map[string]int{}, map[string]int{}
		n := 0
		for _, s := range byItem {
			if !keep(s) {
				continue
			}
			n++
			p := fmt.Sprint(s.story)
			pred[p]++
			gold[s.cluster]++
			both[p+"|"+s.cluster]++
		}
		tp, pp, gp := pairs(both), pairs(pred), pairs(gold)
		precision, recall := 1.0, 1.0
		if pp > 0 {
			precision = float64(tp) / float64(pp)
		}
		if gp > 0 {
			recall = float64(tp) / float64(gp)
		}
		fmt.Printf("stories, %s: %d stored items in %d stories (truth: %d); pairs in one story %d, truly %d, both %d: "+
			"pairwise precision %.4f, recall %.4f\n", label, n, len(pred), len(gold), pp, gp, tp, precision, recall)
	}
	score("all items", func(*stored) bool { return true })
	score("English items", func(s *stored) bool { return s.lang == "en" })
	fmt.Printf("stories: items without a story: %d\n", unassigned)
	return nil
}
