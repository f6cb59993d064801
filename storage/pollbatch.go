package storage

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
)

// Polls that end at about the same time are stored together: the first to
// arrive waits recordLinger for others, then one transaction stores them
// all (a handful of statements, whatever their number), and the polls that
// arrive meanwhile go in the next. A poll waits a few milliseconds longer;
// the database does a fraction of the work. In a steady state nearly every
// poll is a 304 and the whole group is one statement. When a group is one
// poll, none came while it waited, and the next does not wait: polls that
// come one at a time are stored at once.

const (
	recordLinger = 2 * time.Millisecond
	// A group is at most this many polls and this many matching items.
	maxGroupPolls = 500
	maxGroupItems = 2000
	// maxWaiting bounds the polls waiting to be stored: a poll that
	// would be one more waits for room, holding back its scheduler.
	maxWaiting = 64
)

type pollBatch struct {
	mu      sync.Mutex
	queue   []queuedPoll
	writing bool
	room    chan struct{} // a token per poll waiting, up to maxWaiting
	// alone says the last group was one poll: none came while it waited,
	// so the next does not wait for company either.
	alone bool
}

func newPollBatch() *pollBatch { return &pollBatch{room: make(chan struct{}, maxWaiting)} }

type queuedPoll struct {
	poll Poll
	done chan savedOrErr
}

type savedOrErr struct {
	saved Saved
	err   error
}

// saveBatched stores p with the other polls ending at the same time, and
// returns when it is stored (or ctx is done).
func (s *Store) saveBatched(ctx context.Context, p Poll) (Saved, error) {
	b := s.batch
	select {
	case b.room <- struct{}{}:
	case <-ctx.Done():
		return Saved{}, ctx.Err()
	}
	q := queuedPoll{poll: p, done: make(chan savedOrErr, 1)}
	b.mu.Lock()
	b.queue = append(b.queue, q)
	start := !b.writing
	b.writing = true
	b.mu.Unlock()
	if start {
		go s.writeQueued()
	}
	select {
	case r := <-q.done:
		return r.saved, r.err
	case <-ctx.Done():
		// The poll may still be stored, whole; either way it is over.
		return Saved{}, ctx.Err()
	}
}

// writeQueued stores queued polls, a group at a time, until the queue is
// empty. The writes run on their own context: a poll that stops waiting (a
// shutdown) does not cancel the others.
func (s *Store) writeQueued() {
	b := s.batch
	for {
		b.mu.Lock()
		alone := b.alone
		b.mu.Unlock()
		if !alone {
			time.Sleep(recordLinger)
		}
		b.mu.Lock()
		n := groupSize(b.queue)
		if n == 0 {
			b.writing = false
			b.mu.Unlock()
			return
		}
		group := b.queue[:n:n]
		b.queue = b.queue[n:]
		b.alone = n == 1
		b.mu.Unlock()
		polls := make([]Poll, n)
		for i, q := range group {
			polls[i] = q.poll
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		saved, err := s.savePolls(ctx, polls)
		var rejected *pgconn.PgError
		if err != nil && n > 1 && errors.As(err, &rejected) {
			// The server refused a statement, not the connection: one bad
			// poll must not cost the others theirs.
			for _, q := range group {
				one, err := s.savePolls(ctx, []Poll{q.poll})
				q.reply(one, 0, err)
			}
		} else {
			for i, q := range group {
				q.reply(saved, i, err)
			}
		}
		cancel()
		b.leave(n)
	}
}

// reply tells the poll waiting for q that it is stored as saved[i], or
// why it is not.
func (q queuedPoll) reply(saved []Saved, i int, err error) {
	if err != nil {
		q.done <- savedOrErr{err: err}
		return
	}
	q.done <- savedOrErr{saved: saved[i]}
}

// leave makes room for n more polls.
func (b *pollBatch) leave(n int) {
	for range n {
		<-b.room
	}
}

// groupSize is how many polls at the head of queue go in the next group:
// at least one, and more while the group stays within its bounds.
func groupSize(queue []queuedPoll) int {
	n, items := 0, 0
	for n < min(len(queue), maxGroupPolls) {
		if n > 0 && items+len(queue[n].poll.Items) > maxGroupItems {
			break
		}
		items += len(queue[n].poll.Items)
		n++
	}
	return n
}
