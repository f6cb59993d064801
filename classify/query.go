package classify

import (
	"fmt"
	"strconv"
	"strings"
	"unicode"
)

// A watch entry's query is a boolean expression in the syntax of
// media-monitoring tools:
//
//	"Wagner Group" OR (Wagner AND (Russia* OR mercenar*) NOT (opera OR composer))
//	Haftar NEAR/5 (Assad OR Damascus)
//
// Operators are upper case. Precedence, from tightest: NEAR/n, NOT (unary),
// AND and "x NOT y" (which is x AND NOT y), OR. A word ending in * is a
// prefix; a quoted string is a phrase (its last word may end in *).

// node is a parsed query.
type node interface{ isNode() }

type (
	leafNode struct{ leaf int }    // a term or phrase, index into Matcher.leaves
	andNode  struct{ kids []node } // all of
	orNode   struct{ kids []node } // any of
	notNode  struct{ kid node }    // not
	nearNode struct {              // within n words, in one field
		left, right node
		n           int
	}
)

func (leafNode) isNode() {}
func (andNode) isNode()  {}
func (orNode) isNode()   {}
func (notNode) isNode()  {}
func (nearNode) isNode() {}

// QueryError is a query that does not parse, with the 1-based column (in
// characters) where the problem is.
type QueryError struct {
	Column int
	Msg    string
}

func (e *QueryError) Error() string { return fmt.Sprintf("column %d: %s", e.Column, e.Msg) }

type tokKind int

const (
	tokWord tokKind = iota
	tokPhrase
	tokAnd
	tokOr
	tokNot
	tokNear
	tokOpen
	tokClose
	tokEnd
)

type qtoken struct {
	kind tokKind
	text string // word or phrase text, without quotes
	n    int    // NEAR distance
	col  int    // 1-based column
}

func (t qtoken) describe() string {
	switch t.kind {
	case tokWord:
		return fmt.Sprintf("%q", t.text)
	case tokPhrase:
		return fmt.Sprintf("%q", `"`+t.text+`"`)
	case tokAnd:
		return "AND"
	case tokOr:
		return "OR"
	case tokNot:
		return "NOT"
	case tokNear:
		return fmt.Sprintf("NEAR/%d", t.n)
	case tokOpen:
		return `"("`
	case tokClose:
		return `")"`
	}
	return "the end of the query"
}

// maxNear bounds NEAR distances; larger windows mean "anywhere", which AND
// says more clearly.
const maxNear = 100

func lexQuery(q string) ([]qtoken, error) {
	var toks []qtoken
	runes := []rune(q)
	for i := 0; i < len(runes); {
		r := runes[i]
		col := i + 1
		switch {
		case unicode.IsSpace(r):
			i++
		case r == '(':
			toks = append(toks, qtoken{kind: tokOpen, col: col})
			i++
		case r == ')':
			toks = append(toks, qtoken{kind: tokClose, col: col})
			i++
		case r == '"' || r == '“' || r == '”' || r == '«' || r == '»':
			j := i + 1
			for j < len(runes) && !isQuote(runes[j]) {
				j++
			}
			if j == len(runes) {
				return nil, &QueryError{col, "unclosed quote"}
			}
			text := string(runes[i+1 : j])
			j++
			if j < len(runes) && runes[j] == '*' { // "Wagner Gru"* reads as "Wagner Gru*"
				text += "*"
				j++
			}
			toks = append(toks, qtoken{kind: tokPhrase, text: text, col: col})
			i = j
		default:
			j := i
			for j < len(runes) && !unicode.IsSpace(runes[j]) && runes[j] != '(' && runes[j] != ')' && !isQuote(runes[j]) {
				j++
			}
			word := string(runes[i:j])
			tok := qtoken{kind: tokWord, text: word, col: col}
			switch {
			case word == "AND":
				tok.kind = tokAnd
			case word == "OR":
				tok.kind = tokOr
			case word == "NOT":
				tok.kind = tokNot
			case word == "NEAR" || strings.HasPrefix(word, "NEAR/"):
				n, err := strconv.Atoi(strings.TrimPrefix(word, "NEAR/"))
				if word == "NEAR" || err != nil || n < 1 || n > maxNear {
					return nil, &QueryError{col, fmt.Sprintf("NEAR needs a distance in words from 1 to %d, as in NEAR/5", maxNear)}
				}
				tok.kind, tok.n = tokNear, n
			}
			toks = append(toks, tok)
			i = j
		}
	}
	return append(toks, qtoken{kind: tokEnd, col: len(runes) + 1}), nil
}

func isQuote(r rune) bool { return r == '"' || r == '“' || r == '”' || r == '«' || r == '»' }

// queryParser builds the tree; addLeaf turns a word or phrase into a leaf
// (it normalizes and validates the text).
type queryParser struct {
	toks    []qtoken
	pos     int
	addLeaf func(text string, col int) (int, error)
}

func (p *queryParser) peek() qtoken { return p.toks[p.pos] }
func (p *queryParser) next() qtoken { t := p.toks[p.pos]; p.pos++; return t }

func parseQuery(q string, addLeaf func(text string, col int) (int, error)) (node, error) {
	toks, err := lexQuery(q)
	if err != nil {
		return nil, err
	}
	if len(toks) == 1 {
		return nil, &QueryError{1, "empty query"}
	}
	p := &queryParser{toks: toks, addLeaf: addLeaf}
	n, err := p.or()
	if err != nil {
		return nil, err
	}
	if t := p.peek(); t.kind != tokEnd {
		if t.kind == tokClose {
			return nil, &QueryError{t.col, `unbalanced parentheses: ")" without "("`}
		}
		return nil, p.expectedOperator(t)
	}
	return n, nil
}

func (p *queryParser) or() (node, error) {
	first, err := p.and()
	if err != nil {
		return nil, err
	}
	kids := []node{first}
	for p.peek().kind == tokOr {
		p.next()
		n, err := p.and()
		if err != nil {
			return nil, err
		}
		kids = append(kids, n)
	}
	if len(kids) == 1 {
		return first, nil
	}
	return orNode{kids}, nil
}

func (p *queryParser) and() (node, error) {
	first, err := p.unary()
	if err != nil {
		return nil, err
	}
	kids := []node{first}
	for {
		switch t := p.peek(); t.kind {
		case tokAnd:
			p.next()
			n, err := p.unary()
			if err != nil {
				return nil, err
			}
			kids = append(kids, n)
		case tokNot: // "x NOT y" is "x AND NOT y"
			p.next()
			n, err := p.unary()
			if err != nil {
				return nil, err
			}
			kids = append(kids, notNode{n})
		case tokWord, tokPhrase, tokOpen:
			return nil, p.expectedOperator(t)
		default:
			if len(kids) == 1 {
				return first, nil
			}
			return andNode{kids}, nil
		}
	}
}

// expectedOperator explains two operands in a row, the most common slip.
func (p *queryParser) expectedOperator(t qtoken) error {
	prev := p.toks[p.pos-1]
	msg := fmt.Sprintf("expected AND, OR, NOT or NEAR/n between %s and %s", prev.describe(), t.describe())
	if lw := strings.ToLower(t.text); t.kind == tokWord && (lw == "and" || lw == "or" || lw == "not" || lw == "near") {
		msg += "; operators are written in capitals"
	} else if prev.kind == tokWord && t.kind == tokWord {
		msg += fmt.Sprintf("; for a phrase, quote it: \"%s %s\"", prev.text, t.text)
	}
	return &QueryError{t.col, msg}
}

func (p *queryParser) unary() (node, error) {
	if p.peek().kind == tokNot {
		p.next()
		n, err := p.unary()
		if err != nil {
			return nil, err
		}
		return notNode{n}, nil
	}
	return p.near()
}

func (p *queryParser) near() (node, error) {
	left, err := p.primary()
	if err != nil {
		return nil, err
	}
	for p.peek().kind == tokNear {
		op := p.next()
		right, err := p.primary()
		if err != nil {
			return nil, err
		}
		for _, side := range []node{left, right} {
			if !nearable(side) {
				return nil, &QueryError{op.col, fmt.Sprintf("NEAR/%d joins words, phrases and OR-groups of them, not AND or NOT", op.n)}
			}
		}
		left = nearNode{left: left, right: right, n: op.n}
	}
	return left, nil
}

func nearable(n node) bool {
	switch n := n.(type) {
	case leafNode, nearNode:
		return true
	case orNode:
		for _, k := range n.kids {
			if !nearable(k) {
				return false
			}
		}
		return true
	}
	return false
}

func (p *queryParser) primary() (node, error) {
	t := p.next()
	switch t.kind {
	case tokWord, tokPhrase:
		leaf, err := p.addLeaf(t.text, t.col)
		if err != nil {
			return nil, err
		}
		return leafNode{leaf}, nil
	case tokOpen:
		if p.peek().kind == tokClose {
			return nil, &QueryError{t.col, "empty parentheses"}
		}
		n, err := p.or()
		if err != nil {
			return nil, err
		}
		if c := p.next(); c.kind != tokClose {
			if c.kind == tokEnd {
				return nil, &QueryError{t.col, `unbalanced parentheses: "(" is never closed`}
			}
			return nil, p.expectedOperator(c)
		}
		return n, nil
	case tokEnd:
		prev := p.toks[p.pos-2]
		return nil, &QueryError{prev.col, fmt.Sprintf("%s at the end needs something after it", prev.describe())}
	case tokClose:
		return nil, &QueryError{t.col, fmt.Sprintf(`expected a word, a phrase or "(" before ")"`)}
	default:
		return nil, &QueryError{t.col, fmt.Sprintf("expected a word, a phrase or \"(\", not %s", t.describe())}
	}
}

// satisfiableWithout reports whether q can be true when none of its words
// occur, which would make the entry match every item.
func satisfiableWithout(q node) bool {
	switch n := q.(type) {
	case leafNode, nearNode:
		return false
	case notNode:
		return !satisfiableWithout(n.kid)
	case andNode:
		for _, k := range n.kids {
			if !satisfiableWithout(k) {
				return false
			}
		}
		return true
	case orNode:
		for _, k := range n.kids {
			if satisfiableWithout(k) {
				return true
			}
		}
		return false
	}
	return false
}

// positiveLeaves lists the leaves that count as reasons for a match (those
// not under NOT).
func positiveLeaves(q node, neg bool, out []int) []int {
	switch n := q.(type) {
	case leafNode:
		if !neg {
			out = append(out, n.leaf)
		}
	case notNode:
		out = positiveLeaves(n.kid, !neg, out)
	case andNode:
		for _, k := range n.kids {
			out = positiveLeaves(k, neg, out)
		}
	case orNode:
		for _, k := range n.kids {
			out = positiveLeaves(k, neg, out)
		}
	case nearNode:
		out = positiveLeaves(n.left, neg, out)
		out = positiveLeaves(n.right, neg, out)
	}
	return out
}
