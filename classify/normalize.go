// Package classify decides which feed items matter and what makes two items
// the same. It is pure: no network, no database, no clock. It normalizes text
// (HTML stripped, Unicode folded), compiles the watchlist once, matches items
// against it with an explanation of every hit, and computes the identity keys
// used to store each item once.
package classify

import (
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"
	"golang.org/x/text/cases"
	"golang.org/x/text/runes"
	"golang.org/x/text/transform"
	"golang.org/x/text/unicode/norm"
)

// StripHTML returns the text of an HTML fragment with entities decoded,
// scripts and styles dropped, and block-level tags turned into spaces so that
// words in adjacent paragraphs do not run together. Plain text passes through
// with only its entities decoded.
func StripHTML(s string) string {
	if !strings.ContainsAny(s, "<&") {
		return s
	}
	if !strings.Contains(s, "<") {
		return html.UnescapeString(s)
	}
	var b strings.Builder
	b.Grow(len(s))
	z := html.NewTokenizer(strings.NewReader(s))
	skip := 0 // depth inside <script> or <style>
	for {
		tt := z.Next()
		switch tt {
		case html.ErrorToken:
			return strings.TrimSpace(b.String())
		case html.TextToken:
			if skip == 0 {
				b.Write(z.Text())
			}
		case html.StartTagToken, html.EndTagToken, html.SelfClosingTagToken:
			name, _ := z.TagName()
			a := atom.Lookup(name)
			if a == atom.Script || a == atom.Style {
				if tt == html.StartTagToken {
					skip++
				} else if skip > 0 {
					skip--
				}
				continue
			}
			if !inline[a] {
				b.WriteByte(' ')
			}
		}
	}
}

// inline tags do not separate words: "<b>Haf</b>tar" is one word.
var inline = map[atom.Atom]bool{
	atom.A: true, atom.Abbr: true, atom.B: true, atom.Bdi: true, atom.Bdo: true, atom.Cite: true,
	atom.Code: true, atom.Data: true, atom.Dfn: true, atom.Em: true, atom.I: true, atom.Kbd: true,
	atom.Mark: true, atom.Q: true, atom.S: true, atom.Samp: true, atom.Small: true, atom.Span: true,
	atom.Strong: true, atom.Sub: true, atom.Sup: true, atom.Time: true, atom.U: true, atom.Var: true,
}

// foldable reports the combining marks that are dropped: Latin, Greek and
// Cyrillic diacritics (so "Ḥaftar" reads "haftar"), Arabic short vowels and
// hamza signs, Hebrew points. Marks that carry meaning in other scripts
// (Devanagari vowel signs, for one) are kept.
func foldable(r rune) bool {
	switch {
	case r >= 0x0300 && r <= 0x036F, // combining diacritical marks
		r >= 0x1AB0 && r <= 0x1AFF, r >= 0x1DC0 && r <= 0x1DFF,
		r >= 0x20D0 && r <= 0x20FF, r >= 0xFE20 && r <= 0xFE2F,
		r >= 0x064B && r <= 0x065F, r == 0x0670, r == 0x0640, // Arabic harakat, superscript alef, tatweel
		r >= 0x0591 && r <= 0x05C7 && unicode.Is(unicode.Mn, r): // Hebrew points and accents
		return true
	}
	return false
}

// unifyPunct maps typographic apostrophes and dashes to their ASCII forms.
func unifyPunct(r rune) rune {
	switch r {
	case '\u2018', '\u2019', '\u201B', '\u02BC', '\u2032', '\uFF07':
		return '\''
	case '\u2010', '\u2011', '\u2012', '\u2013', '\u2014', '\u2015', '\u2212', '\uFE63', '\uFF0D':
		return '-'
	case '\u00A0', '\u2007', '\u202F':
		return ' '
	}
	return r
}

// The chain holds state, so each goroutine takes its own from the pool.
var foldPool = sync.Pool{New: func() any {
	return transform.Chain(cases.Fold(), norm.NFKD, runes.Remove(runes.Predicate(foldable)), runes.Map(unifyPunct), norm.NFC)
}}

// Normalize folds text for matching: Unicode NFKC-style compatibility
// folding, full case folding, diacritics removed, typographic punctuation
// unified. Watch terms and item text go through the same function, so a term
// matches however the text spells its accents and case.
func Normalize(s string) string {
	if ascii(s) {
		return asciiLower(s)
	}
	t := foldPool.Get().(transform.Transformer)
	defer foldPool.Put(t)
	out, _, err := transform.String(t, s)
	if err != nil {
		// Only invalid UTF-8 gets here; replace it and try once more.
		out, _, _ = transform.String(t, strings.ToValidUTF8(s, "\uFFFD"))
	}
	return out
}

func ascii(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

func asciiLower(s string) string {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= 'A' && c <= 'Z' {
			b := []byte(s)
			for j := i; j < len(b); j++ {
				if c := b[j]; c >= 'A' && c <= 'Z' {
					b[j] = c + 'a' - 'A'
				}
			}
			return string(b)
		}
	}
	return s
}

// token is one word of normalized text: a maximal run of letters, marks and
// digits. Offsets are in runes into the normalized text.
type token struct {
	text       string
	start, end int
}

func isWordRune(r rune) bool {
	if r < utf8.RuneSelf {
		return 'a' <= r && r <= 'z' || '0' <= r && r <= '9' || 'A' <= r && r <= 'Z'
	}
	return unicode.IsLetter(r) || unicode.IsMark(r) || unicode.IsDigit(r)
}

// tokenize splits normalized text into words. Everything that is not a
// letter, mark or digit separates words, so "Haftar's", "#Haftar" and
// "Haftar-Truppen" all contain the word "haftar" while "Haftarah" does not.
func tokenize(s string, dst []token) []token {
	start, startRune := -1, 0
	runeIdx := 0
	for i, r := range s {
		if isWordRune(r) {
			if start < 0 {
				start, startRune = i, runeIdx
			}
		} else if start >= 0 {
			dst = append(dst, token{s[start:i], startRune, runeIdx})
			start = -1
		}
		runeIdx++
	}
	if start >= 0 {
		dst = append(dst, token{s[start:], startRune, runeIdx})
	}
	return dst
}
