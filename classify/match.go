package classify

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
	"sync"
	"unicode/utf8"
	"unsafe"
)

// Entry is one watchlist entry as configured. An item matches the entry
// when any of its Terms occurs, or when its Query holds, in the Fields it
// looks at (title, summary and content when Fields is empty).
type Entry struct {
	Name   string
	Terms  []string
	Query  string
	Fields []string
}

// Field names, as configured in an entry's fields and reported in hits.
const (
	FieldTitle      = "title"
	FieldSummary    = "summary"
	FieldContent    = "content"
	FieldCategories = "categories"
	FieldAuthor     = "author"
)

// fieldNames in the order fields are matched and reported.
var fieldNames = [...]string{FieldTitle, FieldSummary, FieldContent, FieldCategories, FieldAuthor}

const (
	nFields       = len(fieldNames)
	defaultFields = 1<<0 | 1<<1 | 1<<2 // title, summary, content
)

// Document is the text of one feed item. Text fields may hold HTML; Match
// strips it.
type Document struct {
	Title      string
	Summary    string
	Content    string
	Categories []string
	Author     string
	// Stripped says that Title, Summary and Content are StripHTML's
	// output already: a caller that needs the plain text anyway strips
	// it once.
	Stripped bool
}

func (d *Document) field(i int) string {
	switch i {
	case 0:
		return d.Title
	case 1:
		return d.Summary
	case 2:
		return d.Content
	case 3:
		return strings.Join(d.Categories, "\n")
	}
	return d.Author
}

// Hit explains one reason an item matched: which entry, which term (as
// written in the watchlist), in which field, and where its first occurrence
// is: rune offsets, end exclusive, into the field's normalized text
// (Normalize of the field with HTML stripped). Count is how many times the
// term occurs in the field.
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
	// Snippets holds, for each matched entry, a short passage of the item
	// around its first hit, with the hit marked ⟦like this⟧.
	Snippets map[string]string
	// Normalized holds the normalized text of each field that has a hit;
	// hit offsets point into it.
	Normalized map[string]string
}

// Matched reports whether any entry matched.
func (r Result) Matched() bool { return len(r.Watches) > 0 }

// RuleError is a watchlist entry that does not compile. Entry indexes the
// watchlist; Key is "name", "terms", "query" or "fields"; Index is the term
// or field index (-1 otherwise) and Column the 1-based column in the query
// (0 otherwise), so a caller can point at the configuration file.
type RuleError struct {
	Entry  int
	Key    string
	Index  int
	Column int
	Name   string
	Msg    string
}

func (e *RuleError) Error() string {
	if e.Column > 0 {
		return fmt.Sprintf("watch entry %q: query: column %d: %s", e.Name, e.Column, e.Msg)
	}
	return fmt.Sprintf("watch entry %q: %s", e.Name, e.Msg)
}

// leaf is one term of one entry: a word or phrase, searched as a pattern.
type leaf struct {
	text    string // as written in the watchlist
	entry   int32
	prefix  bool // written with a trailing *: no boundary needed after it
	arabic  bool // Arabic script: proclitics may be attached before it
	alLam   bool // the "ل" + rest form of a term starting with "ال" (لِلأسد)
	variant bool // alLam variant: report it under the original leaf
	orig    int32
}

type entry struct {
	name    string
	fields  uint8
	terms   []int // leaf ids
	query   node
	reasons []int // leaves whose occurrences explain a match
}

// Matcher is a compiled watchlist. It is safe for concurrent use.
type Matcher struct {
	entries     []entry
	names       []string
	leaves      []leaf
	patLeaves   [][]int32 // pattern id -> leaves
	ac          *automaton
	fingerprint string
	pool        sync.Pool
}

// minPrefix is the shortest prefix a * term may have, in characters: "Li*"
// would match half the dictionary.
const minPrefix = 3

// Compile turns the watchlist into a Matcher. Terms are normalized the same
// way item text is; every entry's terms and query words go into one
// automaton, so matching costs the same whatever the number of terms.
func Compile(entries []Entry) (*Matcher, error) {
	m := &Matcher{}
	patterns := map[string]int32{}
	var patList [][]byte
	h := sha256.New()

	addLeaf := func(e int, text string) (int, string) {
		raw := strings.TrimSpace(text)
		prefix := strings.HasSuffix(raw, "*")
		body := strings.TrimSuffix(raw, "*")
		norm := Normalize(body)
		if norm == "" {
			return 0, fmt.Sprintf("term %q has no letters or digits", text)
		}
		if strings.Contains(body, "*") {
			return 0, fmt.Sprintf("term %q: * is allowed only at the end of a term", text)
		}
		if prefix {
			last := norm[strings.LastIndexByte(norm, ' ')+1:]
			if utf8.RuneCountInString(last) < minPrefix {
				return 0, fmt.Sprintf("prefix term %q is too short: write at least %d letters before *", text, minPrefix)
			}
		}
		id := len(m.leaves)
		add := func(pattern string, l leaf) {
			p, ok := patterns[pattern]
			if !ok {
				p = int32(len(patList))
				patterns[pattern] = p
				patList = append(patList, []byte(pattern))
				m.patLeaves = append(m.patLeaves, nil)
			}
			m.patLeaves[p] = append(m.patLeaves[p], int32(len(m.leaves)))
			m.leaves = append(m.leaves, l)
		}
		r, _ := utf8.DecodeRuneInString(norm)
		l := leaf{text: raw, entry: int32(e), prefix: prefix, arabic: isArabic(r), orig: int32(id)}
		add(norm, l)
		if rest, ok := strings.CutPrefix(norm, "ال"); ok && rest != "" {
			// لِ + الأسد is written للأسد: the article loses its alef.
			v := l
			v.alLam, v.variant = true, true
			add("ل"+rest, v)
		}
		return id, ""
	}

	for i, e := range entries {
		fmt.Fprintf(h, "%q %q %q %q\n", e.Name, e.Terms, e.Query, e.Fields)
		name := strings.TrimSpace(e.Name)
		if name == "" {
			return nil, &RuleError{Entry: i, Key: "name", Index: -1, Msg: "entry without a name"}
		}
		if len(e.Terms) == 0 && strings.TrimSpace(e.Query) == "" {
			return nil, &RuleError{Entry: i, Key: "terms", Index: -1, Name: name, Msg: "no terms and no query: give it at least one"}
		}
		ce := entry{name: name, fields: defaultFields}
		if len(e.Fields) > 0 {
			ce.fields = 0
			for j, f := range e.Fields {
				bit := -1
				for k, n := range fieldNames {
					if strings.EqualFold(strings.TrimSpace(f), n) {
						bit = k
					}
				}
				if bit < 0 {
					return nil, &RuleError{Entry: i, Key: "fields", Index: j, Name: name,
						Msg: fmt.Sprintf("unknown field %q: want %s", f, strings.Join(fieldNames[:], ", "))}
				}
				ce.fields |= 1 << bit
			}
		}
		for j, t := range e.Terms {
			id, msg := addLeaf(i, t)
			if msg != "" {
				return nil, &RuleError{Entry: i, Key: "terms", Index: j, Name: name, Msg: msg}
			}
			ce.terms = append(ce.terms, id)
			ce.reasons = append(ce.reasons, id)
		}
		if q := strings.TrimSpace(e.Query); q != "" {
			n, err := parseQuery(q, func(text string, col int) (int, error) {
				id, msg := addLeaf(i, text)
				if msg != "" {
					return 0, &QueryError{Column: col, Msg: msg}
				}
				return id, nil
			})
			if err != nil {
				qe := err.(*QueryError)
				return nil, &RuleError{Entry: i, Key: "query", Index: -1, Column: qe.Column, Name: name, Msg: qe.Msg}
			}
			if satisfiableWithout(n) {
				return nil, &RuleError{Entry: i, Key: "query", Index: -1, Column: 1, Name: name,
					Msg: "the query holds for items that contain none of its words, so it would match everything; NOT only narrows what the rest selects"}
			}
			ce.query = n
			ce.reasons = positiveLeaves(n, false, ce.reasons)
		}
		m.entries = append(m.entries, ce)
		m.names = append(m.names, name)
	}
	m.ac = newAutomaton(patList)
	m.fingerprint = hex.EncodeToString(h.Sum(nil)[:8])
	m.pool.New = func() any { return m.newScratch() }
	return m, nil
}

func isArabic(r rune) bool {
	return r >= 0x0600 && r <= 0x06FF || r >= 0x0750 && r <= 0x077F || r >= 0x08A0 && r <= 0x08FF ||
		r >= 0xFB50 && r <= 0xFDFF || r >= 0xFE70 && r <= 0xFEFF
}

// Fingerprint identifies the watchlist the Matcher was compiled from: it
// changes whenever an entry, term, query or field list does.
func (m *Matcher) Fingerprint() string { return m.fingerprint }

// Names returns the entry names in watchlist order.
func (m *Matcher) Names() []string { return m.names }

// TableSize is the memory taken by the compiled automaton, in bytes.
func (m *Matcher) TableSize() int { return m.ac.size() }

// occurrence is where a leaf was found: a field, the words it covers
// (inclusive) and its bytes in the field's normalized text.
type occurrence struct {
	field  uint8
	w0, w1 int32 // words
	b0, b1 int32 // bytes of the normalized text
	r0     int32 // runes before b0
}

// posCounter turns byte offsets into word and rune offsets, counting on
// from the last offset asked for (occurrences come in order of their ends).
type posCounter struct {
	norm             []byte
	at, words, runes int
}

func (p *posCounter) to(b int) (words, runes int) {
	if b < p.at {
		p.at, p.words, p.runes = 0, 0, 0
	}
	seg := p.norm[p.at:b]
	p.words += bytes.Count(seg, []byte{' '})
	p.runes += utf8.RuneCount(seg)
	p.at = b
	return p.words, p.runes
}

// scratch is the per-call state of Match, pooled to avoid allocations.
type scratch struct {
	src      [nFields]string
	fields   [nFields]analysis
	occ      [][]occurrence // per leaf
	touched  []int32        // leaves with occurrences
	cand     []bool         // per entry: has an occurrence
	cands    []int32
	found    []found
	snippets map[[3]int32]string // by field and words
	strip    [nFields][]byte     // HTML-stripped text, when the field had markup
}

func (m *Matcher) newScratch() *scratch {
	return &scratch{occ: make([][]occurrence, len(m.leaves)), cand: make([]bool, len(m.entries))}
}

// Arabic proclitics: conjunctions, prepositions and the article, alone or
// combined, written joined to the next word (و ف ب ل ك ال).
var proclitics = func() map[string]bool {
	out := map[string]bool{}
	for _, p := range []string{"و", "ف", "ب", "ل", "ك", "ال", "وال", "فال", "بال", "كال", "لل", "ولل", "فلل",
		"وب", "ول", "وك", "فب", "فل", "فك", "وبال", "وكال", "فبال", "فكال"} {
		out[p] = true
	}
	return out
}()

// alLamProclitics are those that absorb the alef of a following article.
var alLamProclitics = map[string]bool{"ل": true, "ول": true, "فل": true}

// accept decides whether an occurrence of leaf l at norm[s:e] stands on
// word boundaries.
func (m *Matcher) accept(l *leaf, norm []byte, s, e int) bool {
	if !l.prefix && e < len(norm) && norm[e] != ' ' {
		return false
	}
	if s == 0 || norm[s-1] == ' ' {
		return !l.alLam
	}
	if !l.arabic {
		return false
	}
	ws := s
	for ws > 0 && norm[ws-1] != ' ' && s-ws <= 10 {
		ws--
	}
	if ws > 0 && norm[ws-1] != ' ' {
		return false
	}
	before := string(norm[ws:s])
	if l.alLam {
		return alLamProclitics[before]
	}
	return proclitics[before]
}

// Match matches one document against every entry.
func (m *Matcher) Match(doc Document) Result {
	sc := m.pool.Get().(*scratch)
	defer m.release(sc)

	for f := range nFields {
		text := doc.field(f)
		if text == "" {
			sc.src[f] = ""
			continue
		}
		src := text
		if !(doc.Stripped && f <= 2) && strings.ContainsAny(text, "<&") {
			// Stripped into a buffer the scratch keeps; the string view of
			// it lives only until Match returns (snippets copy what they
			// take), so it needs no copy of its own.
			sc.strip[f] = stripHTMLAppend(sc.strip[f][:0], text)
			src = unsafe.String(unsafe.SliceData(sc.strip[f]), len(sc.strip[f]))
		}
		sc.src[f] = src
		a := &sc.fields[f]
		a.fold(src)
		sc.found = m.ac.scanWords(a.norm, sc.found[:0])
		pos := posCounter{norm: a.norm}
		for _, fo := range sc.found {
			e := int(fo.end)
			s := e - int(m.ac.lens[fo.pattern])
			for _, lid := range m.patLeaves[fo.pattern] {
				l := &m.leaves[lid]
				if !m.accept(l, a.norm, s, e) {
					continue
				}
				target := lid
				if l.variant {
					target = l.orig
				}
				if len(sc.occ[target]) == 0 {
					sc.touched = append(sc.touched, target)
				}
				w0, r0 := pos.to(s)
				w1 := w0 + bytes.Count(a.norm[s:e], []byte{' '})
				sc.occ[target] = append(sc.occ[target], occurrence{
					field: uint8(f), w0: int32(w0), w1: int32(w1), b0: int32(s), b1: int32(e), r0: int32(r0),
				})
				if en := l.entry; !sc.cand[en] {
					sc.cand[en] = true
					sc.cands = append(sc.cands, en)
				}
			}
		}
	}

	var res Result
	if len(sc.cands) == 0 {
		return res
	}
	slices.Sort(sc.cands)
	for _, ei := range sc.cands {
		e := &m.entries[ei]
		if !m.entryMatches(sc, e) {
			continue
		}
		res.Watches = append(res.Watches, e.name)
		first := len(res.Hits)
		res.Hits = m.appendHits(sc, e, res.Hits)
		if len(res.Hits) > first {
			if res.Snippets == nil {
				res.Snippets = map[string]string{}
				res.Normalized = map[string]string{}
			}
			res.Snippets[e.name] = m.snippet(sc, e)
			for _, h := range res.Hits[first:] {
				if _, ok := res.Normalized[h.Field]; !ok {
					res.Normalized[h.Field] = string(sc.fields[fieldIndex(h.Field)].norm)
				}
			}
		}
	}
	return res
}

func (m *Matcher) release(sc *scratch) {
	for _, l := range sc.touched {
		sc.occ[l] = sc.occ[l][:0]
	}
	for _, e := range sc.cands {
		sc.cand[e] = false
	}
	sc.touched, sc.cands = sc.touched[:0], sc.cands[:0]
	sc.src = [nFields]string{}
	clear(sc.snippets)
	m.pool.Put(sc)
}

func fieldIndex(name string) int {
	for i, n := range fieldNames {
		if n == name {
			return i
		}
	}
	return -1
}

func (m *Matcher) entryMatches(sc *scratch, e *entry) bool {
	for _, t := range e.terms {
		if m.present(sc, t, e.fields) {
			return true
		}
	}
	return e.query != nil && m.eval(sc, e.query, e.fields)
}

// present reports whether leaf l occurs in one of the fields.
func (m *Matcher) present(sc *scratch, l int, fields uint8) bool {
	for _, o := range sc.occ[l] {
		if fields&(1<<o.field) != 0 {
			return true
		}
	}
	return false
}

func (m *Matcher) eval(sc *scratch, n node, fields uint8) bool {
	switch n := n.(type) {
	case leafNode:
		return m.present(sc, n.leaf, fields)
	case andNode:
		for _, k := range n.kids {
			if !m.eval(sc, k, fields) {
				return false
			}
		}
		return true
	case orNode:
		for _, k := range n.kids {
			if m.eval(sc, k, fields) {
				return true
			}
		}
		return false
	case notNode:
		return !m.eval(sc, n.kid, fields)
	case nearNode:
		return len(m.spans(sc, n, fields)) > 0
	}
	return false
}

// span is a run of words in one field.
type span struct {
	field  uint8
	w0, w1 int32
}

// maxSpans bounds the work NEAR does on a pathological item.
const maxSpans = 1000

func (m *Matcher) spans(sc *scratch, n node, fields uint8) []span {
	var out []span
	switch n := n.(type) {
	case leafNode:
		for _, o := range sc.occ[n.leaf] {
			if fields&(1<<o.field) != 0 && len(out) < maxSpans {
				out = append(out, span{o.field, o.w0, o.w1})
			}
		}
	case orNode:
		for _, k := range n.kids {
			out = append(out, m.spans(sc, k, fields)...)
		}
	case nearNode:
		left, right := m.spans(sc, n.left, fields), m.spans(sc, n.right, fields)
		for _, a := range left {
			for _, b := range right {
				if a.field != b.field || gap(a, b) > int32(n.n) || len(out) >= maxSpans {
					continue
				}
				out = append(out, span{a.field, min(a.w0, b.w0), max(a.w1, b.w1)})
			}
		}
	}
	return out
}

// gap is the distance in words between two spans: 1 for adjacent words, 0
// when they overlap.
func gap(a, b span) int32 {
	switch {
	case a.w1 < b.w0:
		return b.w0 - a.w1
	case b.w1 < a.w0:
		return a.w0 - b.w1
	}
	return 0
}

// appendHits adds one hit per reason leaf and field: the first occurrence
// and the count.
func (m *Matcher) appendHits(sc *scratch, e *entry, hits []Hit) []Hit {
	start := len(hits)
	for _, l := range e.reasons {
	occurrences:
		for _, o := range sc.occ[l] {
			if e.fields&(1<<o.field) == 0 {
				continue
			}
			for i := start; i < len(hits); i++ {
				if hits[i].Term == m.leaves[l].text && hits[i].Field == fieldNames[o.field] {
					hits[i].Count++
					continue occurrences
				}
			}
			a := &sc.fields[o.field]
			rs := int(o.r0)
			hits = append(hits, Hit{
				Watch: e.name, Term: m.leaves[l].text, Field: fieldNames[o.field],
				Start: rs, End: rs + utf8.RuneCount(a.norm[o.b0:o.b1]), Count: 1,
			})
		}
	}
	slices.SortStableFunc(hits[start:], func(a, b Hit) int {
		if fa, fb := fieldIndex(a.Field), fieldIndex(b.Field); fa != fb {
			return fa - fb
		}
		return a.Start - b.Start
	})
	return hits
}
