package classify

import (
	"math"
	"sort"
	"strings"
	"unicode/utf8"
)

// Relevance: how close an item is to the reference articles that define
// the story an analyst follows. Each reference is a weighted query over
// its terms (its words, folded like everything else and cut to their first
// five letters, so "Libyan" and "Libya", "fighters" and "fighter" are one
// term); a term weighs more the more the reference uses it and the rarer it
// is among stored items (inverse document frequency). An item is scored
// with BM25 against each reference, divided by the score of an item that
// carries the reference's 40 heaviest terms, so scores run from 0 to 1
// whatever the reference's length; its relevance is its best score over
// the references.
// An item that names Libya once scores low; one about Syrian fighters moved
// to Libya for Haftar shares many of the reference's rare terms and scores
// high.

const (
	stemRunes = 5   // a term is a word's first five letters
	minRunes  = 3   // shorter words are left out
	maxTerms  = 300 // the reference's heaviest terms kept
	normTerms = 40  // how many of them a score of 1 takes (see selfScore)
	bm25K1    = 1.2
	bm25B     = 0.75
)

// Terms returns the terms of a text (plain text, not HTML), in order.
func Terms(text string) []string {
	words := strings.Fields(Normalize(text))
	out := words[:0]
	for _, w := range words {
		n := utf8.RuneCountInString(w)
		if n < minRunes || isNumber(w) {
			continue
		}
		if n > stemRunes {
			i := 0
			for k := 0; k < stemRunes; k++ {
				_, size := utf8.DecodeRuneInString(w[i:])
				i += size
			}
			w = w[:i]
		}
		out = append(out, w)
	}
	return out
}

func isNumber(w string) bool {
	for i := 0; i < len(w); i++ {
		if w[i] < '0' || w[i] > '9' {
			return false
		}
	}
	return true
}

// Corpus is what the weights are computed from: how many stored items
// there are, their average length in terms, and in how many each term
// occurs.
type Corpus struct {
	Docs   int
	AvgLen float64
	DF     map[string]int
}

// NewCorpus counts the terms of texts.
func NewCorpus(texts []string) Corpus {
	c := Corpus{DF: map[string]int{}}
	total := 0
	for _, t := range texts {
		terms := Terms(t)
		total += len(terms)
		seen := map[string]bool{}
		for _, term := range terms {
			if !seen[term] {
				seen[term] = true
				c.DF[term]++
			}
		}
	}
	c.Docs = len(texts)
	if c.Docs > 0 {
		c.AvgLen = float64(total) / float64(c.Docs)
	}
	return c
}

func (c Corpus) idf(term string) float64 {
	df := float64(c.DF[term])
	n := float64(max(c.Docs, 1))
	return math.Log(1 + (n-df+0.5)/(df+0.5))
}

// ReferenceModel is one reference article as a weighted query: what is
// stored, so that items are scored without counting the corpus again.
type ReferenceModel struct {
	Weights map[string]float64 `json:"weights"` // term -> query weight x idf
	AvgLen  float64            `json:"avg_len"` // of the corpus the weights came from
	self    float64            // the reference's score against itself
}

// NewReferenceModel weighs the terms of a reference text against corpus.
func NewReferenceModel(text string, corpus Corpus) ReferenceModel {
	tf := map[string]int{}
	for _, t := range Terms(text) {
		tf[t]++
	}
	type tw struct {
		term string
		w    float64
	}
	all := make([]tw, 0, len(tf))
	for t, n := range tf {
		all = append(all, tw{t, (1 + math.Log(float64(n))) * corpus.idf(t)})
	}
	sort.Slice(all, func(i, j int) bool {
		if all[i].w != all[j].w {
			return all[i].w > all[j].w
		}
		return all[i].term < all[j].term
	})
	m := ReferenceModel{Weights: map[string]float64{}, AvgLen: max(corpus.AvgLen, 1)}
	for _, x := range all[:min(len(all), maxTerms)] {
		if x.w > 0 {
			m.Weights[x.term] = x.w
		}
	}
	return m
}

// selfScore is what 1 means: the score of an item carrying the
// reference's normTerms heaviest terms, each at saturation. A news item
// is much shorter than most references, so it is measured against the
// core of the reference rather than all of it.
func (m *ReferenceModel) selfScore() float64 {
	if m.self == 0 {
		ws := make([]float64, 0, len(m.Weights))
		for _, w := range m.Weights {
			ws = append(ws, w)
		}
		sort.Sort(sort.Reverse(sort.Float64Slice(ws)))
		for _, w := range ws[:min(len(ws), normTerms)] {
			m.self += w * (bm25K1 + 1)
		}
	}
	return m.self
}

// Relevance scores items against a set of reference models.
type Relevance struct {
	models []ReferenceModel
}

// NewRelevance returns a scorer over the given references; with none,
// Score reports no score.
func NewRelevance(models []ReferenceModel) *Relevance {
	r := &Relevance{models: models}
	for i := range r.models {
		r.models[i].selfScore()
	}
	return r
}

// Score is the item's relevance, 0 to 1 (its best over the references),
// and false when there is no reference to score against.
func (r *Relevance) Score(title, text string) (float64, bool) {
	if r == nil || len(r.models) == 0 {
		return 0, false
	}
	terms := Terms(title + "\n" + text)
	tf := make(map[string]int, len(terms))
	for _, t := range terms {
		tf[t]++
	}
	best := 0.0
	for i := range r.models {
		m := &r.models[i]
		if m.self == 0 {
			continue
		}
		norm := bm25K1 * (1 - bm25B + bm25B*float64(len(terms))/m.AvgLen)
		s := 0.0
		for t, n := range tf {
			if w, ok := m.Weights[t]; ok {
				f := float64(n)
				s += w * f * (bm25K1 + 1) / (f + norm)
			}
		}
		best = max(best, min(1, s/m.self))
	}
	return math.Round(best*10000) / 10000, true
}
