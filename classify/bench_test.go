package classify

import (
	"bufio"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"regexp"
	"strings"
	"testing"
)

// benchDocs are the items of testdata/articles.jsonl: a stream as world-news
// feeds carry it (mostly English, some French, German, Russian and Arabic;
// full text as feed HTML; a few items about the watched story).
func benchDocs(tb testing.TB) ([]Document, int) {
	tb.Helper()
	f, err := os.Open("testdata/articles.jsonl")
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	var docs []Document
	total := 0
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var a struct{ Title, Summary, Content string }
		if err := json.Unmarshal(sc.Bytes(), &a); err != nil {
			tb.Fatal(err)
		}
		docs = append(docs, Document{Title: a.Title, Summary: a.Summary, Content: a.Content})
		total += len(a.Title) + len(a.Summary) + len(a.Content)
	}
	return docs, total
}

// benchTerms returns n terms: the watchlist's own, then made-up names and
// phrases in the shape of real ones, a few of which occur in the text.
func benchTerms(n int) []string {
	terms := []string{"Libya", "Libyan", "Haftar", "Wagner Group", "Wagner mercenaries", "Assad", "al-Assad",
		"Tripoli", "Benghazi", "Prigozhin", "Damascus", "Misrata", "Sirte", "Moscow", "Ankara", "Cairo", "Tobruk",
		"Kremlin", "United Nations", "ceasefire"}
	seen := map[string]bool{}
	for _, t := range terms {
		seen[Normalize(t)] = true
	}
	r := rand.New(rand.NewPCG(1, 2))
	syll := []string{"ka", "ro", "mi", "tan", "sel", "vor", "ben", "ghaz", "tri", "po", "li", "ar", "mus", "dar", "el", "no", "va", "zi", "qu", "sha"}
	for len(terms) < n {
		var w strings.Builder
		for k := 0; k < 3+r.IntN(3); k++ {
			w.WriteString(syll[r.IntN(len(syll))])
		}
		t := w.String()
		if r.IntN(4) == 0 {
			t += " " + syll[r.IntN(len(syll))] + syll[r.IntN(len(syll))] + "an"
		}
		if !seen[t] {
			seen[t] = true
			terms = append(terms, t)
		}
	}
	return terms[:n]
}

var benchSizes = []int{10, 100, 1000, 10000}

// BenchmarkMatch measures the whole matching of an item (HTML stripped,
// text normalized, every entry matched) by the number of terms; the terms
// are spread over entries of 20.
func BenchmarkMatch(b *testing.B) {
	docs, total := benchDocs(b)
	for _, n := range benchSizes {
		terms := benchTerms(n)
		var entries []Entry
		for i := 0; i < len(terms); i += 20 {
			entries = append(entries, Entry{Name: fmt.Sprintf("e%d", i), Terms: terms[i:min(i+20, len(terms))]})
		}
		m := mustCompile(b, entries)
		b.Run(fmt.Sprintf("terms=%d", n), func(b *testing.B) {
			b.SetBytes(int64(total))
			b.ReportAllocs()
			for b.Loop() {
				for _, d := range docs {
					m.Match(d)
				}
			}
			b.ReportMetric(float64(m.TableSize())/(1<<20), "table-MiB")
		})
	}
}

// BenchmarkRegexp is the baseline: Go's regexp with the same terms in one
// case-insensitive alternation between \b, the way a keep rule in other
// feed readers is written, on the same text (HTML not even stripped).
func BenchmarkRegexp(b *testing.B) {
	all, _ := benchDocs(b)
	for _, n := range benchSizes {
		// Large alternations are slow enough that a sample of the items
		// gives a steady figure within the benchmark's time.
		docs := all[:max(1, len(all)*10/n)]
		total := 0
		for _, d := range docs {
			total += len(d.Title) + len(d.Summary) + len(d.Content)
		}
		terms := benchTerms(n)
		quoted := make([]string, len(terms))
		for i, t := range terms {
			quoted[i] = regexp.QuoteMeta(t)
		}
		re := regexp.MustCompile(`(?i)\b(?:` + strings.Join(quoted, "|") + `)\b`)
		b.Run(fmt.Sprintf("terms=%d", n), func(b *testing.B) {
			b.SetBytes(int64(total))
			for b.Loop() {
				for _, d := range docs {
					re.FindAllStringIndex(d.Title, -1)
					re.FindAllStringIndex(d.Summary, -1)
					re.FindAllStringIndex(d.Content, -1)
				}
			}
			// MB/s is printed with two decimals, which rounds the
			// largest alternations to 0.00; the size lets a reader of
			// the output (make bench) compute it from ns/op.
			b.ReportMetric(float64(total), "text-B/op")
		})
	}
}
