package ingest

import (
	"bytes"
	"fmt"
	"mime"
	"strings"
	"unicode/utf8"

	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/htmlindex"
	"golang.org/x/text/encoding/unicode"
	"golang.org/x/text/encoding/unicode/utf32"
)

// A feed can name its encoding in three places: a byte order mark, the XML
// declaration (encoding="...") and the charset of the HTTP Content-Type.
// decode believes them in that order, the way feed readers do: the
// declaration travels with the file, while the header is often a server
// default that knows nothing of it. Where none says anything, the body is
// UTF-8.
//
// Declarations are wrong often enough that decode checks them against the
// bytes. A feed declared in a legacy encoding whose bytes are valid UTF-8
// with non-ASCII characters in it is UTF-8: legacy text is practically never
// valid UTF-8 by accident. A feed declared (or taken to be) UTF-8 that is not
// valid UTF-8 is read in the header's encoding if that names another one,
// else kept as UTF-8 when most of its non-ASCII characters are valid (a few
// bad bytes, replaced later), else read as windows-1252, the usual encoding
// of such feeds.
//
// Labels are resolved with the WHATWG table browsers use, so "latin1",
// "iso-8859-1" and "us-ascii" read as windows-1252 and "gb2312" as GBK.

// decoded is a feed body as UTF-8 text.
type decoded struct {
	text    []byte // UTF-8 (valid unless valid is false), no BOM, any XML declaration saying UTF-8
	charset string // WHATWG name of the encoding it was read in
	note    string // why a declared encoding was not used; "" when none was overridden
	valid   bool   // text is valid UTF-8
}

var (
	utf16be = unicode.UTF16(unicode.BigEndian, unicode.IgnoreBOM)
	utf16le = unicode.UTF16(unicode.LittleEndian, unicode.IgnoreBOM)
	utf32be = utf32.UTF32(utf32.BigEndian, utf32.IgnoreBOM)
	utf32le = utf32.UTF32(utf32.LittleEndian, utf32.IgnoreBOM)
)

// boms in the order they must be tried: the UTF-32LE mark starts with the
// UTF-16LE one.
var boms = []struct {
	mark []byte
	enc  encoding.Encoding // nil for UTF-8
	name string
}{
	{[]byte{0x00, 0x00, 0xFE, 0xFF}, utf32be, "utf-32be"},
	{[]byte{0xFF, 0xFE, 0x00, 0x00}, utf32le, "utf-32le"},
	{[]byte{0xEF, 0xBB, 0xBF}, nil, "utf-8"},
	{[]byte{0xFE, 0xFF}, utf16be, "utf-16be"},
	{[]byte{0xFF, 0xFE}, utf16le, "utf-16le"},
}

func decode(body []byte, contentType string) decoded {
	for _, b := range boms {
		if bytes.HasPrefix(body, b.mark) {
			return decodeAs(body[len(b.mark):], b.enc, b.name, "")
		}
	}
	if enc, name := sniffWide(body); enc != nil {
		return decodeAs(body, enc, name, "")
	}

	// The body is ASCII-compatible, so its declaration can be read as is. A
	// UTF-16 or UTF-32 label on such a body is wrong by definition.
	label, _, _ := xmlEncoding(body)
	declEnc, declName := lookupCharset(label)
	if isWide(declName) {
		declEnc, declName = nil, ""
	}
	headerLabel := contentTypeCharset(contentType)
	headerEnc, headerName := lookupCharset(headerLabel)
	if isWide(headerName) {
		headerEnc, headerName = nil, ""
	}
	enc, name, said := declEnc, declName, label
	if enc == nil {
		enc, name = headerEnc, headerName
		if headerEnc != nil || said == "" {
			said = headerLabel
		}
	}

	valid := utf8.Valid(body)
	if enc == nil || name == "utf-8" {
		switch {
		case valid:
			return decodeAs(body, nil, "utf-8", ignored(label, declEnc, "utf-8"))
		case headerEnc != nil && headerName != "utf-8":
			return decodeAs(body, headerEnc, headerName, fmt.Sprintf("%s but not valid UTF-8; read as %s from the Content-Type", declared(said), headerName))
		case mostlyUTF8(body):
			return decodeAs(body, nil, "utf-8", ignored(label, declEnc, "utf-8"))
		}
		enc, _ := htmlindex.Get("windows-1252")
		return decodeAs(body, enc, "windows-1252", fmt.Sprintf("%s but not valid UTF-8; read as windows-1252", declared(said)))
	}
	if valid && hasNonASCII(body) {
		return decodeAs(body, nil, "utf-8", fmt.Sprintf("%s but valid UTF-8; read as utf-8", declared(said)))
	}
	return decodeAs(body, enc, name, ignored(label, declEnc, name))
}

// ignored is the note for an XML declaration that names no encoding decode
// can use for this body: an unknown one, or UTF-16 on 8-bit text.
func ignored(label string, declared encoding.Encoding, readAs string) string {
	if label == "" || declared != nil {
		return ""
	}
	return fmt.Sprintf("declared %q, not an encoding of this document; read as %s", label, readAs)
}

// decodeAs converts body from enc (nil for UTF-8) and makes its XML
// declaration, if it names an encoding, name UTF-8, so that the XML decoder
// does not convert the text a second time.
func decodeAs(body []byte, enc encoding.Encoding, name, note string) decoded {
	d := decoded{text: body, charset: name, note: note, valid: true}
	if enc != nil {
		// Undecodable bytes come out as U+FFFD, so the text is valid UTF-8.
		text, err := enc.NewDecoder().Bytes(body)
		if err != nil {
			text = bytes.ToValidUTF8(body, []byte("\uFFFD"))
		}
		d.text = text
	} else {
		d.valid = utf8.Valid(body)
	}
	if label, start, end := xmlEncoding(d.text); label != "" && !strings.EqualFold(label, "utf-8") {
		text := make([]byte, 0, len(d.text)-(end-start)+len("UTF-8"))
		text = append(text, d.text[:start]...)
		text = append(text, "UTF-8"...)
		d.text = append(text, d.text[end:]...)
	}
	return d
}

// sniffWide recognizes UTF-16 and UTF-32 without a byte order mark by the
// zero bytes around the first characters, which a feed (XML or JSON) always
// has in the ASCII range.
func sniffWide(b []byte) (encoding.Encoding, string) {
	if len(b) < 4 {
		return nil, ""
	}
	z0, z1, z2, z3 := b[0] == 0, b[1] == 0, b[2] == 0, b[3] == 0
	switch {
	case z0 && z1 && z2 && !z3:
		return utf32be, "utf-32be"
	case !z0 && z1 && z2 && z3:
		return utf32le, "utf-32le"
	case z0 && !z1 && z2 && !z3:
		return utf16be, "utf-16be"
	case !z0 && z1 && !z2 && z3:
		return utf16le, "utf-16le"
	}
	return nil, ""
}

func isWide(name string) bool {
	return strings.HasPrefix(name, "utf-16") || strings.HasPrefix(name, "utf-32")
}

// lookupCharset resolves an encoding label by the WHATWG table. Unknown
// labels, and those WHATWG maps to its "replacement" encoding (which reads
// a whole document as one U+FFFD), give nil. UTF-32, which WHATWG does not
// list, is recognized so that decode can tell it is wrong.
func lookupCharset(label string) (encoding.Encoding, string) {
	label = strings.TrimSpace(label)
	if label == "" {
		return nil, ""
	}
	enc, err := htmlindex.Get(label)
	if err != nil {
		if l := strings.ToLower(label); strings.HasPrefix(l, "utf-32") || strings.HasPrefix(l, "ucs-4") {
			return utf32le, "utf-32le"
		}
		return nil, ""
	}
	name, err := htmlindex.Name(enc)
	if err != nil || name == "replacement" {
		return nil, ""
	}
	return enc, name
}

// xmlEncoding returns the value of the encoding pseudo-attribute in the XML
// declaration that starts b (after any white space), and where the value
// is. It returns "" when there is no declaration or it names no encoding.
func xmlEncoding(b []byte) (label string, start, end int) {
	i := 0
	for i < len(b) && isSpace(b[i]) {
		i++
	}
	if !bytes.HasPrefix(b[i:], []byte("<?xml")) || i+5 >= len(b) || !isSpace(b[i+5]) {
		return "", 0, 0
	}
	decl := b[:min(len(b), i+512)]
	stop := bytes.Index(decl[i:], []byte("?>"))
	if stop < 0 {
		return "", 0, 0
	}
	decl = decl[:i+stop]
	k := bytes.Index(decl[i:], []byte("encoding"))
	if k < 0 {
		return "", 0, 0
	}
	k += i + len("encoding")
	for k < len(decl) && isSpace(decl[k]) {
		k++
	}
	if k >= len(decl) || decl[k] != '=' {
		return "", 0, 0
	}
	k++
	for k < len(decl) && isSpace(decl[k]) {
		k++
	}
	if k >= len(decl) || (decl[k] != '"' && decl[k] != '\'') {
		return "", 0, 0
	}
	q := decl[k]
	n := bytes.IndexByte(decl[k+1:], q)
	if n < 0 {
		return "", 0, 0
	}
	return string(decl[k+1 : k+1+n]), k + 1, k + 1 + n
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\r' || c == '\n' }

// contentTypeCharset returns the charset parameter of an HTTP Content-Type,
// also from the malformed ones servers send (`text/xml;charset = "latin1"`).
func contentTypeCharset(contentType string) string {
	if contentType == "" {
		return ""
	}
	if _, params, err := mime.ParseMediaType(contentType); err == nil {
		return strings.Trim(params["charset"], " \t'")
	}
	// Lowered byte for byte: strings.ToLower would move the offsets of a
	// header with invalid UTF-8 in it.
	lower := []byte(contentType)
	for k, c := range lower {
		if 'A' <= c && c <= 'Z' {
			lower[k] = c + 'a' - 'A'
		}
	}
	i := bytes.Index(lower, []byte("charset"))
	if i < 0 {
		return ""
	}
	rest := strings.TrimLeft(contentType[i+len("charset"):], " \t")
	if !strings.HasPrefix(rest, "=") {
		return ""
	}
	rest = strings.TrimSpace(rest[1:])
	if j := strings.IndexByte(rest, ';'); j >= 0 {
		rest = rest[:j]
	}
	return strings.Trim(rest, " \t\"'")
}

func declared(label string) string {
	if label == "" {
		return "no encoding declared"
	}
	return fmt.Sprintf("declared %q", label)
}

func hasNonASCII(b []byte) bool {
	for _, c := range b {
		if c >= utf8.RuneSelf {
			return true
		}
	}
	return false
}

// mostlyUTF8 reports whether most of the non-ASCII characters of b, which is
// not valid UTF-8, are valid UTF-8 sequences: UTF-8 text with a few bad
// bytes, rather than text in a legacy encoding.
func mostlyUTF8(b []byte) bool {
	valid, invalid := 0, 0
	for i := 0; i < len(b); {
		if b[i] < utf8.RuneSelf {
			i++
			continue
		}
		r, n := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && n == 1 {
			invalid++
		} else {
			valid++
		}
		i += n
	}
	return valid > invalid
}
