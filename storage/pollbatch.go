package storage

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
)

// Most polls store no item (a 304, an unchanged body, a failure), and in a
// steady state they are nearly all of them. Their records are written
// together: the first to arrive waits recordLinger for others, then one
// statement writes them all, and the polls that arrived meanwhile go in the
// next. A poll waits a few milliseconds longer; the database does a
// fraction of the work.

const (
	recordLinger  = 2 * time.Millisecond
	maxRecordRows = 500
)

type pollBatch struct {
	mu      sync.Mutex
	queue   []queuedPoll
	writing bool
}

type queuedPoll struct {
	poll Poll
	done chan error
}

// recordBatched writes p's record with the records of other polls ending at
// the same time, and returns when it is written (or ctx is done).
func (s *Store) recordBatched(ctx context.Context, p Poll) error {
	b := s.batch
	if b == nil {
		return s.recordPoll(ctx, p, Saved{})
	}
	q := queuedPoll{poll: p, done: make(chan error, 1)}
	b.mu.Lock()
	b.queue = append(b.queue, q)
	start := !b.writing
	b.writing = true
	b.mu.Unlock()
	if start {
		go s.writeRecords()
	}
	select {
	case err := <-q.done:
		return err
	case <-ctx.Done():
		// The record may still be written; either way the poll is over.
		return ctx.Err()
	}
}

// writeRecords writes queued records until the queue is empty. The writes
// run on their own context: a poll that stops waiting (a shutdown) does not
// cancel the records of the others.
func (s *Store) writeRecords() {
	b := s.batch
	for {
		time.Sleep(recordLinger)
		b.mu.Lock()
		n := min(len(b.queue), maxRecordRows)
		if n == 0 {
			b.writing = false
			b.mu.Unlock()
			return
		}
		batch := b.queue[:n:n]
		b.queue = b.queue[n:]
		b.mu.Unlock()
		polls := make([]Poll, n)
		for i, q := range batch {
			polls[i] = q.poll
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		err := s.recordPolls(ctx, polls, make([]Saved, n))
		var rejected *pgconn.PgError
		if err != nil && n > 1 && errors.As(err, &rejected) {
			// The server refused the statement, not the connection: one
			// bad record must not cost the others theirs.
			for _, q := range batch {
				q.done <- s.recordPolls(ctx, []Poll{q.poll}, []Saved{{}})
			}
			cancel()
			continue
		}
		cancel()
		for _, q := range batch {
			q.done <- err
		}
	}
}
