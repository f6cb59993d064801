package classify

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sort"
)

// Entry is one watchlist entry as configured: a name and its terms.
type Entry struct {
	Name  string
	Terms []string
}

// Field names, as reported in hits and stored with matches.
const (
	FieldTitle   = "title"
	FieldSummary = "summary"
	FieldContent = "content"
)

// Document is the text of one feed item. Fields may hold HTML; Match strips
// it.
type Document struct {
	Title   string
	Summary string
	Content string
}

// Hit explains one reason an item matched: which entry, which term, in which
// field, and where its first occurrence is (rune offsets into the normalized
// field, end exclusive). Count is how many times the term occurs there.
type Hit struct {
	Watch string `json:"watch"`
	Term  string `json:"term"`
	Field string `json:"field"`
	Start int    `json:"start"`
	End   int    `json:"end"`
	Count int    `json:"count"`
}

// Result is the outcome of matching one document.
type Result struct {
	// Watches are the names of the entries that matched, in watchlist order.
	Watches []string
	// Hits are ordered by entry, then field, then position.
	Hits []Hit
	// Normalized holds each field's normalized text, keyed by field name; hit
	// offsets point into it.
	Normalized map[string]string
}

// Matched reports whether any entry matched.
func (r Result) Matched() bool { return len(r.Watches) > 0 }

// RuleError is a watchlist entry that does not compile. Entry and Term are
// indexes into the configured watchlist (Term is -1 for the entry as a whole),
// so that a caller can point at the line of the configuration file.
type RuleError struct {
	Entry int
	Term  int
	Name  string
	Msg   string
}

func (e *RuleError) Error() string {
	return fmt.Sprintf("watch entry %q: %s", e.Name, e.Msg)
}

// term is one compiled term: the words it must find in a row.
type term struct {
	watch int    // index into Matcher.names
	text  string // as configured, for explanations
	words []string
}

// Matcher is a compiled watchlist. It is safe for concurrent use.
type Matcher struct {
	names       []string
	fingerprint string
	// byFirst indexes terms by their first word, so matching costs one map
	// lookup per word of text whatever the number of terms.
	byFirst map[string][]*term
}

// Compile turns the watchlist into a Matcher, normalizing every term the
// same way item text is normalized.
func Compile(entries []Entry) (*Matcher, error) {
	m := &Matcher{byFirst: map[string][]*term{}}
	h := sha256.New()
	for i, e := range entries {
		fmt.Fprintf(h, "%q %q\n", e.Name, e.Terms)
		if e.Name == "" {
			return nil, &RuleError{Entry: i, Term: -1, Msg: "entry without a name"}
		}
		if len(e.Terms) == 0 {
			return nil, &RuleError{Entry: i, Term: -1, Name: e.Name, Msg: "no terms"}
		}
		m.names = append(m.names, e.Name)
		for j, raw := range e.Terms {
			toks := tokenize(Normalize(raw), nil)
			if len(toks) == 0 {
				return nil, &RuleError{Entry: i, Term: j, Name: e.Name, Msg: fmt.Sprintf("term %q has no letters or digits", raw)}
			}
			t := &term{watch: len(m.names) - 1, text: raw}
			for _, tok := range toks {
				t.words = append(t.words, tok.text)
			}
			m.byFirst[t.words[0]] = append(m.byFirst[t.words[0]], t)
		}
	}
	m.fingerprint = hex.EncodeToString(h.Sum(nil)[:8])
	return m, nil
}

// Fingerprint identifies the watchlist the Matcher was compiled from: it
// changes whenever an entry or term does.
func (m *Matcher) Fingerprint() string { return m.fingerprint }

// Names returns the entry names in watchlist order.
func (m *Matcher) Names() []string { return m.names }

// Match matches one document against every entry.
func (m *Matcher) Match(doc Document) Result {
	res := Result{Normalized: make(map[string]string, 3)}
	matched := make([]bool, len(m.names))
	var toks []token
	for _, f := range []struct{ name, text string }{
		{FieldTitle, doc.Title}, {FieldSummary, doc.Summary}, {FieldContent, doc.Content},
	} {
		if f.text == "" {
			continue
		}
		norm := Normalize(StripHTML(f.text))
		res.Normalized[f.name] = norm
		toks = tokenize(norm, toks[:0])
		first := len(res.Hits)
		for i, tok := range toks {
			for _, t := range m.byFirst[tok.text] {
				if !wordsAt(toks, i, t.words) {
					continue
				}
				matched[t.watch] = true
				res.Hits = addHit(res.Hits, first, Hit{
					Watch: m.names[t.watch], Term: t.text, Field: f.name,
					Start: tok.start, End: toks[i+len(t.words)-1].end, Count: 1,
				})
			}
		}
	}
	for i, ok := range matched {
		if ok {
			res.Watches = append(res.Watches, m.names[i])
		}
	}
	order := make(map[string]int, len(m.names))
	for i, n := range m.names {
		order[n] = i
	}
	sort.SliceStable(res.Hits, func(a, b int) bool {
		return order[res.Hits[a].Watch] < order[res.Hits[b].Watch]
	})
	return res
}

func wordsAt(toks []token, i int, words []string) bool {
	if i+len(words) > len(toks) {
		return false
	}
	for k := 1; k < len(words); k++ {
		if toks[i+k].text != words[k] {
			return false
		}
	}
	return true
}

// addHit records h, or counts it when the same entry and term already hit in
// this field (hits of the current field start at index first).
func addHit(hits []Hit, first int, h Hit) []Hit {
	for k := first; k < len(hits); k++ {
		if hits[k].Watch == h.Watch && hits[k].Term == h.Term {
			hits[k].Count++
			return hits
		}
	}
	return append(hits, h)
}
