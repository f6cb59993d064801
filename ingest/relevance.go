package ingest

import (
	"sync/atomic"

	"github.com/wirewatch/wirewatch/classify"
)

// References holds the scorer of the reference articles that new matches
// are ranked against. It is shared by a Poller and its replacements after
// a reload, and swapped when the articles change.
type References struct {
	p atomic.Pointer[classify.Relevance]
}

// Set replaces the scorer; nil means no reference articles.
func (r *References) Set(rel *classify.Relevance) { r.p.Store(rel) }

// Scorer is the current scorer; nil when there is none.
func (r *References) Scorer() *classify.Relevance {
	if r == nil {
		return nil
	}
	return r.p.Load()
}
