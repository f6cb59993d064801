package classify

import "bytes"

// automaton is an Aho-Corasick automaton over bytes, compiled to a DFA: one
// table lookup per byte of text, whatever the number of patterns. It
// reports every occurrence of every pattern, overlapping ones included;
// whether an occurrence stands on word boundaries is decided afterwards.
//
// Bytes that occur in no pattern share one class, so the table has one row
// per trie state and one column per byte class. State ids are premultiplied
// by the row width, and states with output are numbered first, so the scan
// loop needs neither a multiplication nor a lookup to see a match.
type automaton struct {
	classes  [256]byte
	stride   uint32
	delta    []uint32 // next state: delta[state+class]
	maxMatch uint32   // states 1..maxMatch (premultiplied) have output
	// out[s/stride] lists the patterns that end at state s, its own and
	// those of its suffixes.
	out  [][]int32
	lens []int32 // pattern lengths in bytes
	// starts has a bit for every pair of bytes a pattern starts with (or
	// every pair starting with its byte, for one-byte patterns): a word
	// whose first two bytes are not in it cannot start a match.
	starts [1 << 16 / 64]uint64
}

func newAutomaton(patterns [][]byte) *automaton {
	a := &automaton{}
	// Byte classes: each byte used by a pattern is its own class; all
	// others are class 0.
	var used [256]bool
	for _, p := range patterns {
		for _, b := range p {
			used[b] = true
		}
	}
	n := byte(0)
	for b := range 256 {
		if used[b] {
			n++
			a.classes[b] = n
		}
	}
	stride := int(n) + 1
	a.stride = uint32(stride)
	for _, p := range patterns {
		switch len(p) {
		case 0:
		case 1:
			for b := range 256 {
				a.setStart(p[0], byte(b))
			}
		default:
			a.setStart(p[0], p[1])
		}
	}

	// The trie, as a sparse build-time structure.
	type tnode struct {
		next map[byte]int32
		own  []int32
	}
	trie := []tnode{{next: map[byte]int32{}}}
	for id, p := range patterns {
		s := int32(0)
		for _, b := range p {
			c := a.classes[b]
			nx, ok := trie[s].next[c]
			if !ok {
				nx = int32(len(trie))
				trie = append(trie, tnode{next: map[byte]int32{}})
				trie[s].next[c] = nx
			}
			s = nx
		}
		trie[s].own = append(trie[s].own, int32(id))
		a.lens = append(a.lens, int32(len(p)))
	}

	// Breadth first: failure links, full transitions and merged outputs.
	nStates := len(trie)
	fail := make([]int32, nStates)
	outs := make([][]int32, nStates)
	delta := make([]int32, nStates*stride)
	order := make([]int32, 0, nStates)
	for c := 0; c < stride; c++ {
		if nx, ok := trie[0].next[byte(c)]; ok {
			delta[c] = nx
			order = append(order, nx)
		}
	}
	for qi := 0; qi < len(order); qi++ {
		s := order[qi]
		outs[s] = append(append([]int32(nil), trie[s].own...), outs[fail[s]]...)
		for c := 0; c < stride; c++ {
			if nx, ok := trie[s].next[byte(c)]; ok {
				fail[nx] = delta[int(fail[s])*stride+c]
				delta[int(s)*stride+c] = nx
				order = append(order, nx)
			} else {
				delta[int(s)*stride+c] = delta[int(fail[s])*stride+c]
			}
		}
	}

	// Renumber: root 0, then the states with output, then the rest.
	newID := make([]int32, nStates)
	next := int32(1)
	for s := 1; s < nStates; s++ {
		if len(outs[s]) > 0 {
			newID[s] = next
			next++
		}
	}
	matches := next - 1
	for s := 1; s < nStates; s++ {
		if len(outs[s]) == 0 {
			newID[s] = next
			next++
		}
	}
	a.delta = make([]uint32, nStates*stride)
	a.out = make([][]int32, matches+1)
	for s := 0; s < nStates; s++ {
		ns := int(newID[s])
		for c := 0; c < stride; c++ {
			a.delta[ns*stride+c] = uint32(newID[delta[s*stride+c]]) * a.stride
		}
		if len(outs[s]) > 0 {
			a.out[ns] = outs[s]
		}
	}
	a.maxMatch = uint32(matches) * a.stride
	if len(a.out) == 0 {
		a.out = [][]int32{nil}
	}
	return a
}

// found is one occurrence of a pattern: text[end-len(pattern):end].
type found struct {
	pattern int32
	end     int32
}

func (a *automaton) setStart(b0, b1 byte) {
	k := int(b0)<<8 | int(b1)
	a.starts[k>>6] |= 1 << (k & 63)
}

func (a *automaton) mayStart(b0, b1 byte) bool {
	k := int(b0)<<8 | int(b1)
	return a.starts[k>>6]&(1<<(k&63)) != 0
}

// scanWords is scan for normalized text (words separated by single
// spaces) where a match must start at a word: a word that cannot start a
// pattern is skipped whole when no match is in progress, so most of the
// text costs one lookup per word instead of one per byte. Arabic words are
// always scanned, since a match may start after a proclitic inside them.
func (a *automaton) scanWords(text []byte, dst []found) []found {
	s := uint32(0)
	delta, classes, maxMatch := a.delta, &a.classes, a.maxMatch
	for i := 0; i < len(text); {
		if s == 0 {
			b1 := byte(' ')
			if i+1 < len(text) {
				b1 = text[i+1]
			}
			if b0 := text[i]; !a.mayStart(b0, b1) && (b0 < 0xD8 || b0 > 0xDB) {
				j := bytes.IndexByte(text[i:], ' ')
				if j < 0 {
					break
				}
				i += j + 1
				continue
			}
		}
		for i < len(text) {
			c := text[i]
			i++
			s = delta[s+uint32(classes[c])]
			if s-1 < maxMatch {
				for _, p := range a.out[s/a.stride] {
					dst = append(dst, found{p, int32(i)})
				}
			}
			if c == ' ' {
				break
			}
		}
	}
	return dst
}

// size is the memory the transition table takes, in bytes.
func (a *automaton) size() int { return len(a.delta) * 4 }
