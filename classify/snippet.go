package classify

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// Snippet marks: rare enough in news text to be unambiguous, and readable
// in psql as they are.
const (
	MarkOpen  = "⟦"
	MarkClose = "⟧"
)

// snippetContext is how much text, in characters, a snippet keeps on each
// side of the hit.
const snippetContext = 70

// snippet returns the passage around the entry's first occurrence (by
// field, then position), taken from the field's text as published (HTML
// stripped), with the words of the hit marked.
func (m *Matcher) snippet(sc *scratch, e *entry) string {
	var best occurrence
	found := false
	for _, l := range e.reasons {
		for _, o := range sc.occ[l] {
			if e.fields&(1<<o.field) == 0 {
				continue
			}
			if !found || o.field < best.field || o.field == best.field && o.b0 < best.b0 {
				best, found = o, true
			}
		}
	}
	if !found {
		return ""
	}
	key := [3]int32{int32(best.field), best.w0, best.w1}
	if s, ok := sc.snippets[key]; ok {
		return s // several entries often share their first hit
	}
	src := sc.src[best.field]
	hs, he := srcWords(src, int(best.w0), int(best.w1))
	s := Excerpt(src, hs, he, snippetContext)
	if sc.snippets == nil {
		sc.snippets = map[[3]int32]string{}
	}
	sc.snippets[key] = s
	return s
}

// Excerpt returns text[hs:he] marked, with up to context characters on each
// side, cut at spaces, whitespace collapsed, and "…" where text was cut.
func Excerpt(text string, hs, he, context int) string {
	start := hs
	for n := 0; start > 0 && n < context; n++ {
		_, size := utf8.DecodeLastRuneInString(text[:start])
		start -= size
	}
	if start > 0 {
		if i := strings.IndexFunc(text[start:hs], unicode.IsSpace); i >= 0 {
			start += i + 1
		}
	}
	end := he
	for n := 0; end < len(text) && n < context; n++ {
		_, size := utf8.DecodeRuneInString(text[end:])
		end += size
	}
	if end < len(text) {
		if i := strings.LastIndexFunc(text[he:end], unicode.IsSpace); i >= 0 {
			end = he + i
		}
	}
	var b strings.Builder
	if start > 0 {
		b.WriteString("…")
	}
	b.WriteString(collapse(text[start:hs]))
	b.WriteString(MarkOpen)
	b.WriteString(collapse(text[hs:he]))
	b.WriteString(MarkClose)
	b.WriteString(collapse(text[he:end]))
	if end < len(text) {
		b.WriteString("…")
	}
	return strings.TrimSpace(b.String())
}

// collapse turns runs of whitespace into single spaces, keeping a leading
// or trailing one.
func collapse(s string) string {
	b := make([]byte, 0, len(s))
	space := false
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			i++
			if c == ' ' || c == '\n' || c == '\t' || c == '\r' || c == '\v' || c == '\f' {
				if !space {
					b = append(b, ' ')
				}
				space = true
				continue
			}
			space = false
			b = append(b, c)
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if unicode.IsSpace(r) {
			if !space {
				b = append(b, ' ')
			}
			space = true
		} else {
			space = false
			b = append(b, s[i:i+size]...)
		}
		i += size
	}
	return string(b)
}
