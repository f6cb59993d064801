package ingest

import (
	"context"
	"sync"
	"time"
)

// hostLimiter keeps wirewatch polite to each publisher: at most limit
// requests in flight to one host, and at least gap between the starts of two
// of them. A host that answers 429 Too Many Requests gets a longer gap,
// which shrinks back as it answers normally again.
type hostLimiter struct {
	limit int
	gap   time.Duration

	mu    sync.Mutex
	hosts map[string]*hostState
}

type hostState struct {
	slots     chan struct{}
	nextStart time.Time     // no request starts before this
	gap       time.Duration // the current gap, gap or more
	users     int           // callers holding or waiting; the state is dropped at 0
}

// maxHostGap bounds how far 429s slow a host down.
const maxHostGap = 2 * time.Minute

func newHostLimiter(limit int, gap time.Duration) *hostLimiter {
	return &hostLimiter{limit: max(1, limit), gap: gap, hosts: map[string]*hostState{}}
}

// acquire waits for a turn at host; release must follow with the status
// the host answered (0 for no answer).
func (l *hostLimiter) acquire(ctx context.Context, host string) error {
	l.mu.Lock()
	h := l.hosts[host]
	if h == nil {
		h = &hostState{slots: make(chan struct{}, l.limit), gap: l.gap}
		l.hosts[host] = h
	}
	h.users++
	l.mu.Unlock()

	select {
	case h.slots <- struct{}{}:
	case <-ctx.Done():
		l.leave(host, h)
		return ctx.Err()
	}
	l.mu.Lock()
	now := time.Now()
	start := h.nextStart
	if start.Before(now) {
		start = now
	}
	h.nextStart = start.Add(h.gap)
	l.mu.Unlock()
	if wait := time.Until(start); wait > 0 {
		t := time.NewTimer(wait)
		defer t.Stop()
		select {
		case <-t.C:
		case <-ctx.Done():
			<-h.slots
			l.leave(host, h)
			return ctx.Err()
		}
	}
	return nil
}

func (l *hostLimiter) release(host string, status int) {
	l.mu.Lock()
	h := l.hosts[host]
	l.mu.Unlock()
	if h == nil {
		return
	}
	l.mu.Lock()
	switch {
	case status == 429:
		h.gap = min(max(2*h.gap, time.Second), maxHostGap)
	case h.gap > l.gap:
		h.gap = max(l.gap, h.gap*3/4)
	}
	l.mu.Unlock()
	<-h.slots
	l.leave(host, h)
}

// leave forgets a host nobody is using, unless it is still slowed down.
func (l *hostLimiter) leave(host string, h *hostState) {
	l.mu.Lock()
	defer l.mu.Unlock()
	h.users--
	if h.users == 0 && h.gap <= l.gap && time.Now().After(h.nextStart) {
		delete(l.hosts, host)
	}
}

// currentGap is the gap now kept between requests to host.
func (l *hostLimiter) currentGap(host string) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	if h := l.hosts[host]; h != nil {
		return h.gap
	}
	return l.gap
}
