package ingest

import (
	"bytes"
	"fmt"
	"html"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Repairs says what Parse changed to read a feed. The zero value is a feed
// read as it was served.
type Repairs struct {
	// Encoding says why the encoding the feed declared was not used,
	// e.g. `declared "utf-8" but not valid UTF-8; read as windows-1252`.
	Encoding string

	// What the lenient pass changed. It runs only on a document the
	// parser could not read as served.
	InvalidUTF8 int // invalid byte sequences, each replaced by U+FFFD
	Illegal     int // characters XML forbids (controls, U+FFFE, U+FFFF), removed, also as &#N; references
	Escaped     int // & and < that start no reference or tag, escaped
	Entities    int // HTML named entities XML does not define, replaced by their characters
	// The document ended in its root element's end tag, short of only the
	// final '>', which was added.
	RootClosed bool
}

// Lenient reports whether the lenient pass changed the document.
func (r Repairs) Lenient() bool {
	return r.InvalidUTF8+r.Illegal+r.Escaped+r.Entities > 0 || r.RootClosed
}

// String lists the repairs for a log line; "" when there were none.
func (r Repairs) String() string {
	var parts []string
	if r.Encoding != "" {
		parts = append(parts, r.Encoding)
	}
	for _, c := range []struct {
		n    int
		what string
	}{
		{r.InvalidUTF8, "invalid UTF-8 sequences replaced"},
		{r.Illegal, "characters illegal in XML removed"},
		{r.Escaped, "bare & or < escaped"},
		{r.Entities, "HTML entities replaced"},
	} {
		if c.n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", c.n, c.what))
		}
	}
	if r.RootClosed {
		parts = append(parts, "'>' of the root's end tag added")
	}
	return strings.Join(parts, "; ")
}

// repairXML is the lenient pass: it returns src (UTF-8 XML, perhaps with
// invalid bytes) made well-formed at the character level, and what it
// changed. Invalid UTF-8 becomes U+FFFD, characters XML forbids are dropped,
// HTML named entities become their characters, and an & or < that starts no
// reference or tag is escaped: one bad character costs that character, not
// the whole feed. CDATA sections, comments, processing instructions and the
// DOCTYPE are copied with only their characters checked, since & and < mean
// nothing there.
//
// A document cut short is left so: it must fail, so that nothing of the poll
// is recorded and the next one fetches the whole feed again, instead of
// storing validators that would make the server answer "not modified". Only
// a document that ends in its root's end tag, short of the final '>', gets
// it: nothing of it is missing.
func repairXML(src []byte) ([]byte, Repairs) {
	var r Repairs
	out := make([]byte, 0, len(src)+len(src)/64)
	var root []byte // the name of the first element
	for i := 0; i < len(src); {
		c := src[i]
		switch {
		case c == '<':
			if end := literalEnd(src, i); end > i {
				out = r.appendChars(out, src[i:end])
				i = end
				continue
			}
			name, end := tagEnd(src, i)
			switch {
			case name == nil:
				r.Escaped++
				out = append(out, "&lt;"...)
				i++
				continue
			case root == nil && src[i+1] != '/':
				root = name
			}
			out = r.appendTag(out, src[i:end])
			if end == len(src) && src[i+1] == '/' && src[end-1] != '>' && bytes.Equal(name, root) &&
				len(bytes.TrimRight(src[i+2+len(name):], " \t\r\n")) == 0 {
				r.RootClosed = true
				out = append(out, '>')
			}
			i = end
		case c == '&':
			var n int
			out, n = r.appendReference(out, src[i:])
			i += n
		case c >= utf8.RuneSelf || c < ' ':
			var n int
			out, n = r.appendChar(out, src[i:])
			i += n
		default:
			j := i + 1
			for j < len(src) && src[j] >= ' ' && src[j] < utf8.RuneSelf && src[j] != '<' && src[j] != '&' {
				j++
			}
			out = append(out, src[i:j]...)
			i = j
		}
	}
	return out, r
}

// tagEnd returns the name of the start or end tag at src[i] and its end:
// after its '>', or the end of src for a tag cut short. The name is nil when
// the '<' starts no tag.
func tagEnd(src []byte, i int) (name []byte, end int) {
	j := i + 1
	if j < len(src) && src[j] == '/' {
		j++
	}
	k := j
	for k < len(src) && (isNameByte(src[k]) || src[k] >= utf8.RuneSelf) {
		k++
	}
	if k == j || src[j] == '-' || src[j] == '.' || (src[j] >= '0' && src[j] <= '9') {
		return nil, i
	}
	if k < len(src) && !isSpace(src[k]) && src[k] != '>' && src[k] != '/' {
		return nil, i
	}
	var quote byte
	for e := k; e < len(src); e++ {
		switch c := src[e]; {
		case quote != 0:
			if c == quote {
				quote = 0
			}
		case c == '"' || c == '\'':
			quote = c
		case c == '>':
			return src[j:k], e + 1
		}
	}
	return src[j:k], len(src)
}

// appendTag appends a whole tag, checking its characters and the references
// in its attribute values.
func (r *Repairs) appendTag(out, tag []byte) []byte {
	out = append(out, '<')
	for i := 1; i < len(tag); {
		switch c := tag[i]; {
		case c == '&':
			var n int
			out, n = r.appendReference(out, tag[i:])
			i += n
		case c == '<':
			r.Escaped++
			out = append(out, "&lt;"...)
			i++
		case c >= ' ' && c < utf8.RuneSelf:
			out = append(out, c)
			i++
		default:
			var n int
			out, n = r.appendChar(out, tag[i:])
			i += n
		}
	}
	return out
}

// literalEnd returns the end of the CDATA section, comment, processing
// instruction or DOCTYPE that starts at src[i] (the end of src when it is
// not closed), or i when none starts there.
func literalEnd(src []byte, i int) int {
	rest := src[i:]
	until := func(skip int, closing string) int {
		if j := bytes.Index(rest[skip:], []byte(closing)); j >= 0 {
			return i + skip + j + len(closing)
		}
		return len(src)
	}
	switch {
	case bytes.HasPrefix(rest, []byte("<![CDATA[")):
		return until(len("<![CDATA["), "]]>")
	case bytes.HasPrefix(rest, []byte("<!--")):
		return until(len("<!--"), "-->")
	case bytes.HasPrefix(rest, []byte("<?")):
		return until(2, "?>")
	case len(rest) >= 9 && strings.EqualFold(string(rest[:9]), "<!DOCTYPE"):
		// An internal subset in [...] may hold '>' of its own.
		gt, sub := bytes.IndexByte(rest, '>'), bytes.IndexByte(rest, '[')
		if sub >= 0 && (gt < 0 || sub < gt) {
			if k := bytes.IndexByte(rest[sub:], ']'); k >= 0 {
				return until(sub+k, ">")
			}
			return len(src)
		}
		return until(0, ">")
	}
	return i
}

// appendChars appends s with every character checked.
func (r *Repairs) appendChars(out, s []byte) []byte {
	for i := 0; i < len(s); {
		if c := s[i]; c >= ' ' && c < utf8.RuneSelf {
			out = append(out, c)
			i++
			continue
		}
		var n int
		out, n = r.appendChar(out, s[i:])
		i += n
	}
	return out
}

// appendChar appends the character that starts s, if XML allows it, and
// returns how many bytes of s it used.
func (r *Repairs) appendChar(out, s []byte) ([]byte, int) {
	c, n := utf8.DecodeRune(s)
	switch {
	case c == utf8.RuneError && n <= 1:
		r.InvalidUTF8++
		return append(out, "\uFFFD"...), max(n, 1)
	case !xmlChar(c):
		r.Illegal++
		return out, n
	}
	return append(out, s[:n]...), n
}

// xmlChar reports whether XML 1.0 allows c in a document.
func xmlChar(c rune) bool {
	return c == '\t' || c == '\n' || c == '\r' || c >= 0x20 && c <= 0xD7FF ||
		c >= 0xE000 && c <= 0xFFFD || c >= 0x10000 && c <= utf8.MaxRune
}

// maxRefLen bounds how far after '&' a reference's ';' may be; the longest
// HTML entity name has 31 letters.
const maxRefLen = 40

// appendReference handles the '&' that starts s and returns how many bytes
// of s it used.
func (r *Repairs) appendReference(out, s []byte) ([]byte, int) {
	end := bytes.IndexByte(s[:min(len(s), maxRefLen)], ';')
	if end < 2 {
		r.Escaped++
		return append(out, "&amp;"...), 1
	}
	ref := s[1:end]
	if ref[0] == '#' {
		digits, base := ref[1:], 10
		if len(digits) > 0 && (digits[0] == 'x' || digits[0] == 'X') {
			digits, base = digits[1:], 16
		}
		v, err := strconv.ParseUint(string(digits), base, 32)
		switch {
		case err != nil || len(digits) == 0 || digits[0] == '+' || digits[0] == '-':
			r.Escaped++
			return append(out, "&amp;"...), 1
		case !xmlChar(rune(v)):
			r.Illegal++
			return out, end + 1
		}
		// Written again in a form XML accepts: "&#X41;" is HTML only.
		return append(strconv.AppendUint(append(out, "&#x"...), v, 16), ';'), end + 1
	}
	for _, c := range ref {
		if !isNameByte(c) {
			r.Escaped++
			return append(out, "&amp;"...), 1
		}
	}
	switch string(ref) {
	case "amp", "lt", "gt", "quot", "apos":
		return append(out, s[:end+1]...), end + 1
	}
	// html.UnescapeString also decodes a known prefix ("&notit;" is
	// "¬it;"), so a whole entity is one whose ';' was consumed.
	entity := string(s[:end+1])
	if dec := html.UnescapeString(entity); dec != entity && (!strings.HasSuffix(dec, ";") || dec == ";") {
		r.Entities++
		return appendEscaped(out, dec), end + 1
	}
	r.Escaped++
	return append(out, "&amp;"...), 1
}

func isNameByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '-' || c == '_' || c == ':'
}

// appendEscaped appends s escaped for XML text or an attribute value.
func appendEscaped(out []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '&':
			out = append(out, "&amp;"...)
		case '<':
			out = append(out, "&lt;"...)
		case '>':
			out = append(out, "&gt;"...)
		case '"':
			out = append(out, "&quot;"...)
		case '\'':
			out = append(out, "&apos;"...)
		default:
			out = append(out, c)
		}
	}
	return out
}
