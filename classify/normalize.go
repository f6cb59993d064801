// Package classify decides which feed items matter and what makes two items
// the same. It is pure: no network, no database, no clock. It normalizes text
// (HTML stripped, Unicode folded), compiles the watchlist once, matches items
// against it with an explanation of every hit, and computes the identity keys
// used to store each item once.
package classify

import (
	"bytes"
	"html"
	"strings"
	"sync/atomic"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/cases"
	"golang.org/x/text/unicode/norm"
)

// StripHTML returns the text of an HTML fragment with entities decoded,
// comments, scripts and styles dropped, and block-level tags turned into
// spaces so that words in adjacent paragraphs do not run together. Plain
// text passes through with only its entities decoded.
//
// It is a single pass written for the HTML found in feeds (a tag is "<"
// followed by a letter, "/", "!" or "?", as in the HTML tokenizer); an
// unterminated tag ends the text.
func StripHTML(s string) string {
	if strings.IndexByte(s, '<') < 0 {
		if strings.IndexByte(s, '&') < 0 {
			return s
		}
		return html.UnescapeString(s)
	}
	return string(stripHTMLAppend(make([]byte, 0, len(s)), s))
}

// stripHTMLAppend appends the text of s to b, as StripHTML returns it, and
// returns the result trimmed of surrounding space.
func stripHTMLAppend(b []byte, s string) []byte {
	lt := strings.IndexByte(s, '<')
	if lt < 0 {
		lt = len(s)
	}
	text := func(t string) {
		if strings.IndexByte(t, '&') >= 0 {
			t = html.UnescapeString(t)
		}
		b = append(b, t...)
	}
	textStart, i := 0, lt
	for i < len(s) {
		j := strings.IndexByte(s[i:], '<')
		if j < 0 {
			break
		}
		j += i
		if j+1 >= len(s) || !isTagStart(s[j+1]) {
			i = j + 1
			continue
		}
		text(s[textStart:j])
		end, name, closing := scanTag(s, j)
		switch {
		case name == "!cdata":
			b = append(b, s[j+len("<![CDATA["):max(j+len("<![CDATA["), end-len("]]>"))]...)
		case (name == "script" || name == "style") && !closing:
			end = skipRawText(s, end, name)
		case !inlineTag(name):
			b = append(b, ' ')
		}
		i, textStart = end, end
	}
	if textStart < len(s) {
		text(s[textStart:])
	}
	return bytes.TrimSpace(b)
}

func isTagStart(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || c == '/' || c == '!' || c == '?'
}

// scanTag reads the markup starting at s[lt] == '<' and returns the offset
// just after it, the lower-cased tag name ("!--" for comments, "!cdata" for
// CDATA sections, "!" or "?" for declarations) and whether it closes a tag.
func scanTag(s string, lt int) (end int, name string, closing bool) {
	rest := s[lt:]
	switch {
	case strings.HasPrefix(rest, "<!--"):
		if k := strings.Index(rest[4:], "-->"); k >= 0 {
			return lt + 4 + k + 3, "!--", false
		}
		return len(s), "!--", false
	case strings.HasPrefix(rest, "<![CDATA["):
		if k := strings.Index(rest, "]]>"); k >= 0 {
			return lt + k + 3, "!cdata", false
		}
		return len(s), "!cdata", false
	case rest[1] == '!' || rest[1] == '?':
		if k := strings.IndexByte(rest, '>'); k >= 0 {
			return lt + k + 1, rest[1:2], false
		}
		return len(s), rest[1:2], false
	}
	i := lt + 1
	if s[i] == '/' {
		closing = true
		i++
	}
	n := i
	for n < len(s) && (isTagStart(s[n]) && s[n] != '/' && s[n] != '!' && s[n] != '?' || '0' <= s[n] && s[n] <= '9' || s[n] == '-' || s[n] == ':') {
		n++
	}
	name = strings.ToLower(s[i:n])
	// Attributes: find the '>' that is not inside a quoted value.
	for k := n; k < len(s); k++ {
		switch c := s[k]; c {
		case '>':
			return k + 1, name, closing
		case '"', '\'':
			if q := strings.IndexByte(s[k+1:], c); q >= 0 {
				k += q + 1
			} else {
				return len(s), name, closing
			}
		}
	}
	return len(s), name, closing
}

// skipRawText skips the body of a script or style element.
func skipRawText(s string, from int, name string) int {
	for i := from; i < len(s); {
		k := strings.Index(s[i:], "</")
		if k < 0 {
			return len(s)
		}
		i += k
		if len(s) >= i+2+len(name) && strings.EqualFold(s[i+2:i+2+len(name)], name) {
			end, _, _ := scanTag(s, i)
			return end
		}
		i += 2
	}
	return len(s)
}

// inlineTag reports tags that do not separate words: "<b>Haf</b>tar" is one
// word.
func inlineTag(name string) bool {
	switch name {
	case "a", "abbr", "b", "bdi", "bdo", "cite", "code", "data", "dfn", "em", "font", "i", "kbd", "mark", "q",
		"s", "samp", "small", "span", "strong", "sub", "sup", "time", "u", "var", "!--":
		return true
	}
	return false
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

// letterVariants unifies letters that writers use interchangeably: Arabic
// alef maksura and Persian yeh as yeh, Persian kaf as kaf, ta marbuta as
// heh; Arabic-Indic and Persian digits as ASCII digits.
func letterVariant(r rune) rune {
	switch {
	case r == 'ى' || r == 'ی':
		return 'ي'
	case r == 'ک':
		return 'ك'
	case r == 'ة':
		return 'ه'
	case r >= '٠' && r <= '٩':
		return '0' + (r - '٠')
	case r >= '۰' && r <= '۹':
		return '0' + (r - '۰')
	}
	return r
}

// foldRuneSlow computes the folded form of one rune: full case folding,
// compatibility decomposition, foldable marks removed, letter variants
// unified, recomposed.
func foldRuneSlow(r rune) string {
	s := cases.Fold().String(string(r))
	s = norm.NFKD.String(s)
	var b strings.Builder
	for _, c := range s {
		if !foldable(c) {
			b.WriteRune(letterVariant(c))
		}
	}
	return norm.NFC.String(b.String())
}

// folded is the folded form of one rune and what it is made of, so the hot
// loop need not classify its runes again.
type folded struct {
	s    string
	kind uint8
}

const (
	foldDrop  = iota // nothing: a dropped mark
	foldWord         // word runes only
	foldSep          // separators only
	foldMixed        // both: classify each rune
)

// Folded forms are computed once per rune, a page of 256 runes at a time,
// on first use.
var foldPages [(unicode.MaxRune + 1) >> 8]atomic.Pointer[[256]folded]

func foldRune(r rune) folded {
	if page := foldPages[r>>8].Load(); page != nil {
		return page[r&0xff]
	}
	return foldPage(r)[r&0xff]
}

// foldPage computes the page of r; a concurrent first use computes the
// same page.
func foldPage(r rune) *[256]folded {
	{
		page := new([256]folded)
		base := r &^ 0xff
		for i := range page {
			f := foldRuneSlow(base + rune(i))
			words, seps := 0, 0
			for _, c := range f {
				if isWordRune(c) {
					words++
				} else {
					seps++
				}
			}
			kind := uint8(foldMixed)
			switch {
			case words == 0 && seps == 0:
				kind = foldDrop
			case seps == 0:
				kind = foldWord
			case words == 0:
				kind = foldSep
			}
			page[i] = folded{f, kind}
		}
		foldPages[r>>8].Store(page)
		return page
	}
}

// decodeRune is utf8.DecodeRuneInString with the two-byte sequences of
// Latin, Greek, Cyrillic, Hebrew and Arabic decoded inline.
func decodeRune(s string, i int) (rune, int) {
	if c := s[i]; c >= 0xC2 && c <= 0xDF && i+1 < len(s) {
		if d := s[i+1]; d&0xC0 == 0x80 {
			return rune(c&0x1F)<<6 | rune(d&0x3F), 2
		}
	}
	return utf8.DecodeRuneInString(s[i:])
}

func isWordRune(r rune) bool {
	if r < utf8.RuneSelf {
		return 'a' <= r && r <= 'z' || '0' <= r && r <= '9' || 'A' <= r && r <= 'Z'
	}
	return unicode.IsLetter(r) || unicode.IsMark(r) || unicode.IsDigit(r)
}

// analysis is a text prepared for matching. norm holds its words, folded,
// separated by single spaces: everything that is not a letter, mark or
// digit separates words, so "Haftar's", "#Haftar" and "Haftar-Truppen" all
// contain the word "haftar" while "Haftarah" does not.
type analysis struct {
	norm []byte
}

// asciiFold maps ASCII bytes to their folded form, or 0 for bytes that
// separate words.
var asciiFold = func() (t [utf8.RuneSelf]byte) {
	for c := byte('0'); c <= '9'; c++ {
		t[c] = c
	}
	for c := byte('a'); c <= 'z'; c++ {
		t[c], t[c-'a'+'A'] = c, c
	}
	return t
}()

// asciiOut is what fold writes for an ASCII byte: its folded form, or a
// space for a separator; asciiWord is 1 for word bytes.
var asciiOut, asciiWord = func() (out, word [utf8.RuneSelf]byte) {
	for c := range out {
		out[c] = ' '
		if f := asciiFold[c]; f != 0 {
			out[c], word[c] = f, 1
		}
	}
	return out, word
}()

// fold sets a.norm to the normalized form of src.
//
// The ASCII path has no branch on word boundaries: every byte is written,
// and the write position advances for a word byte, or for the first
// separator after a word (which becomes the single space between words).
func (a *analysis) fold(src string) {
	buf := a.norm[:cap(a.norm)]
	if len(buf) < len(src)+8 {
		buf = make([]byte, len(src)+len(src)/4+8)
	}
	n := 0
	prev := 0 // 1 when the last byte written belongs to a word
	for i := 0; i < len(src); {
		c := src[i]
		if c < utf8.RuneSelf {
			w := int(asciiWord[c])
			buf[n] = asciiOut[c]
			n += w | prev
			prev = w
			i++
			continue
		}
		r, size := decodeRune(src, i)
		i += size
		fr := foldRune(r)
		if n+len(fr.s)+2 > len(buf) {
			buf = append(buf[:n], make([]byte, len(fr.s)+len(src)-i+8)...)
			buf = buf[:cap(buf)]
		}
		switch fr.kind {
		case foldWord:
			n += copy(buf[n:], fr.s)
			prev = 1
		case foldSep:
			if prev == 1 {
				buf[n] = ' '
				n++
			}
			prev = 0
		case foldMixed:
			for _, f := range fr.s {
				if isWordRune(f) {
					n += utf8.EncodeRune(buf[n:], f)
					prev = 1
				} else {
					if prev == 1 {
						buf[n] = ' '
						n++
					}
					prev = 0
				}
			}
		}
	}
	if prev == 0 && n > 0 {
		n-- // the text ended in separators: drop the space they left
	}
	a.norm = buf[:n]
}

// Normalize returns the form in which text is matched: folded (full case
// folding, compatibility forms, diacritics removed, Arabic letter variants
// unified) and reduced to its words separated by single spaces. Watch terms
// and item text go through the same function, so a term matches however the
// text spells its case, accents and punctuation.
func Normalize(s string) string {
	var a analysis
	a.fold(s)
	return string(a.norm)
}

// srcWords returns the source byte range of words w0 to w1 (inclusive) of
// src's normalized form, found by folding src again: where a hit is in the
// text as published.
func srcWords(src string, w0, w1 int) (start, end int) {
	w := -1
	inWord := false
	wordEnd := 0 // source offset just after the last rune that gave word text
	for i := 0; i < len(src); {
		c := src[i]
		if c < utf8.RuneSelf {
			if asciiFold[c] != 0 {
				if !inWord {
					w, inWord = w+1, true
					if w == w0 {
						start = i
					}
				}
				wordEnd = i + 1
			} else if inWord {
				inWord = false
				if w == w1 {
					return start, wordEnd
				}
			}
			i++
			continue
		}
		r, size := decodeRune(src, i)
		for _, f := range foldRune(r).s {
			if isWordRune(f) {
				if !inWord {
					w, inWord = w+1, true
					if w == w0 {
						start = i
					}
				}
				wordEnd = i + size
			} else if inWord {
				inWord = false
				if w == w1 {
					return start, wordEnd
				}
			}
		}
		i += size
	}
	return start, wordEnd
}
