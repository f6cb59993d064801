package classify

import (
	"bytes"
	"encoding/binary"
	"strings"
)

// Stories: copies of one wire story in several outlets carry retouched
// headlines and the same (or a trimmed) body. A MinHash signature over the
// word 5-shingles of the normalized text estimates how much two items share
// (Jaccard similarity); locality-sensitive hashing over bands of the
// signature finds the candidates worth comparing through an index.

const (
	// SignatureSize is the number of MinHash values in a signature.
	SignatureSize = 60
	bandRows      = 3
	// BandCount is the number of LSH bands. Two items share a given band
	// with probability s^3 for similarity s, so with 20 bands copies share
	// one almost surely (s = 0.6: 99%; s = 0.5: 93%), while items that
	// merely share stock phrases rarely do (s = 0.1: 2%).
	BandCount = SignatureSize / bandRows
	shingle   = 5
)

// Signature is the MinHash signature of a text.
type Signature [SignatureSize]uint32

// permutations are the fixed (a, b) of h' = a*h + b for each MinHash
// function; odd multipliers keep them bijective. They are fixed because
// signatures are stored.
var permutations = func() (p [SignatureSize][2]uint64) {
	x := uint64(0x9E3779B97F4A7C15)
	next := func() uint64 { // splitmix64
		x += 0x9E3779B97F4A7C15
		z := x
		z = (z ^ z>>30) * 0xBF58476D1CE4E5B9
		z = (z ^ z>>27) * 0x94D049BB133111EB
		return z ^ z>>31
	}
	for i := range p {
		p[i] = [2]uint64{next() | 1, next()}
	}
	return p
}()

// fnv64 hashes bytes with FNV-1a: stable across versions and processes.
func fnv64(h uint64, b []byte) uint64 {
	for _, c := range b {
		h ^= uint64(c)
		h *= 0x100000001b3
	}
	return h
}

const fnvOffset = 0xcbf29ce484222325

// Fingerprint returns the signature of a title and a text (plain text, not
// HTML), and false when they hold no words at all. Texts of fewer than
// three words are fingerprinted by their words.
func Fingerprint(title, text string) (Signature, bool) {
	var sig Signature
	for i := range sig {
		sig[i] = ^uint32(0)
	}
	var a analysis
	a.fold(title + "\n" + text)
	words := strings.Fields(string(a.norm))
	if len(words) == 0 {
		return sig, false
	}
	n := shingle
	if len(words) < n {
		n = len(words)
	}
	var buf []byte
	for i := 0; i+n <= len(words); i++ {
		buf = buf[:0]
		for k := 0; k < n; k++ {
			buf = append(buf, words[i+k]...)
			buf = append(buf, ' ')
		}
		h := fnv64(fnvOffset, buf)
		for j, p := range permutations {
			if v := uint32((h*p[0] + p[1]) >> 32); v < sig[j] {
				sig[j] = v
			}
		}
	}
	return sig, true
}

// StoryText is the text of an item that its fingerprint is made of, beside
// its title: its content, or its summary when it has no content (a summary
// is often the content's first sentence).
func StoryText(summary, content string) string {
	if len(content) > len(summary) {
		return content
	}
	return summary
}

// Similarity estimates the Jaccard similarity of the texts behind two
// signatures: the share of MinHash values they agree on.
func Similarity(a, b *Signature) float64 {
	same := 0
	for i := range a {
		if a[i] == b[i] {
			same++
		}
	}
	return float64(same) / SignatureSize
}

// Bands returns the LSH band keys of a signature: one value per band, the
// band's number mixed in, so equal keys mean an equal band.
func (s *Signature) Bands() []int64 {
	out := make([]int64, BandCount)
	var b [4*bandRows + 1]byte
	for i := range out {
		b[0] = byte(i)
		for r := 0; r < bandRows; r++ {
			binary.LittleEndian.PutUint32(b[1+4*r:], s[i*bandRows+r])
		}
		out[i] = int64(fnv64(fnvOffset, b[:]))
	}
	return out
}

// Bytes encodes the signature for storage.
func (s *Signature) Bytes() []byte {
	out := make([]byte, 4*SignatureSize)
	for i, v := range s {
		binary.LittleEndian.PutUint32(out[4*i:], v)
	}
	return out
}

// SignatureFromBytes decodes a stored signature; ok is false for anything
// that is not one.
func SignatureFromBytes(b []byte) (s Signature, ok bool) {
	if len(b) != 4*SignatureSize {
		return s, false
	}
	for i := range s {
		s[i] = binary.LittleEndian.Uint32(b[4*i:])
	}
	return s, true
}

// Boilerplate finds the sentences that repeat across the items of one feed
// (a subscription plea, a correspondent's sign-off, a copyright line): those
// in at least minItems of the texts. Each text counts a sentence once.
type Boilerplate map[uint64]bool

// FindBoilerplate returns the sentences of texts that occur in at least
// minItems of them.
func FindBoilerplate(texts []string, minItems int) Boilerplate {
	counts := map[uint64]int{}
	seen := map[uint64]bool{}
	var a analysis
	for _, t := range texts {
		clear(seen)
		eachSentence(t, func(s string) {
			if h := a.sentenceKey(s); h != 0 && !seen[h] {
				seen[h] = true
				counts[h]++
			}
		})
	}
	out := Boilerplate{}
	for h, n := range counts {
		if n >= minItems {
			out[h] = true
		}
	}
	return out
}

// Strip returns text without its boilerplate sentences.
func (bp Boilerplate) Strip(text string) string {
	if len(bp) == 0 {
		return text
	}
	var b strings.Builder
	var a analysis
	eachSentence(text, func(s string) {
		if !bp[a.sentenceKey(s)] {
			b.WriteString(s)
			b.WriteByte(' ')
		}
	})
	return b.String()
}

// eachSentence calls fn with each sentence of plain text: text split after
// ".", "!", "?" or a line break.
func eachSentence(text string, fn func(string)) {
	start := 0
	for i := 0; i < len(text); i++ {
		switch text[i] {
		case '.', '!', '?':
			if i+1 < len(text) && text[i+1] != ' ' && text[i+1] != '\n' {
				continue // 3.5, U.S.A, example.com
			}
		case '\n':
		default:
			continue
		}
		if s := strings.TrimSpace(text[start : i+1]); s != "" {
			fn(s)
		}
		start = i + 1
	}
	if s := strings.TrimSpace(text[start:]); s != "" {
		fn(s)
	}
}

// sentenceKey hashes a sentence's normalized words, folded into a's
// buffer; 0 for one of fewer than three words, which is too short to call
// boilerplate.
func (a *analysis) sentenceKey(s string) uint64 {
	a.fold(s)
	if bytes.Count(a.norm, []byte{' '}) < 2 {
		return 0
	}
	return fnv64(fnvOffset, a.norm)
}
