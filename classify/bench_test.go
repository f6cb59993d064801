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

// benchDocs are realistic items: the labelled set's headlines and
// summaries (several languages, HTML in places), each with a body made of
// other items' summaries, as a full-text feed would carry.
func benchDocs(tb testing.TB) ([]Document, int) {
	tb.Helper()
	items := readLabelled(tb)
	var docs []Document
	total := 0
	for i, it := range items {
		var body strings.Builder
		for k := 1; k <= 6; k++ {
			body.WriteString("<p>")
			body.WriteString(items[(i+k*37)%len(items)].Summary)
			body.WriteString("</p>\n")
		}
		d := Document{Title: it.Title, Summary: it.Summary, Content: body.String()}
		docs = append(docs, d)
		total += len(d.Title) + len(d.Summary) + len(d.Content)
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
		})
	}
}

// BenchmarkRegexp is the baseline: Go's regexp with the same terms in one
// case-insensitive alternation between \b, the way a keep rule in other
// feed readers is written, on the same text (HTML not even stripped).
func BenchmarkRegexp(b *testing.B) {
	docs, total := benchDocs(b)
	for _, n := range benchSizes {
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
		})
	}
}

type labelledItem struct {
	ID      string   `json:"id"`
	Lang    string   `json:"lang"`
	Title   string   `json:"title"`
	Summary string   `json:"summary"`
	Labels  []string `json:"labels"`
	Trap    bool     `json:"trap"`
	Note    string   `json:"note"`
}

func readLabelled(tb testing.TB) []labelledItem {
	tb.Helper()
	f, err := os.Open("testdata/labelled.jsonl")
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	var out []labelledItem
	sc := bufio.NewScanner(f)
	for line := 1; sc.Scan(); line++ {
		var it labelledItem
		if err := json.Unmarshal(sc.Bytes(), &it); err != nil {
			tb.Fatalf("testdata/labelled.jsonl:%d: %v", line, err)
		}
		out = append(out, it)
	}
	return out
}
