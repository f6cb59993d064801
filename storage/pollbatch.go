package storage

import (
	"context"
	"errors"
	"sync"
)

// Most polls store no item (a 304, an unchanged body, a failure), and in a
// steady state they are nearly all of them: their records are written
// together, one statement for every poll that ended while the previous
// statement ran (a group commit). A lone poll waits for nothing; under
// load the statements per poll fall with the number of polls in flight.
//
// There is no background goroutine: the first poll to arrive writes the
// batch, and hands the turn to the first poll that queued meanwhile.

type pollBatch struct {
	mu      sync.Mutex
	queue   []*queuedPoll
	writing bool
}

type queuedPoll struct {
	poll Poll
	done chan error    // the outcome of the statement that wrote it
	turn chan struct{} // this poll writes the next batch
}

// recordBatched writes p's record with the records of other polls ending at
// the same time, and returns when it is written.
func (s *Store) recordBatched(ctx context.Context, p Poll) error {
	b := s.batch
	if b == nil {
		return s.recordPoll(ctx, p, Saved{})
	}
	q := &queuedPoll{poll: p, done: make(chan error, 1), turn: make(chan struct{}, 1)}
	b.mu.Lock()
	b.queue = append(b.queue, q)
	if !b.writing {
		b.writing = true
		q.turn <- struct{}{}
	}
	b.mu.Unlock()
	for {
		select {
		case err := <-q.done:
			if err != nil && ctx.Err() == nil && (errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)) {
				// The poll that wrote the batch was stopped, not this one.
				return s.recordPoll(ctx, p, Saved{})
			}
			return err
		case <-q.turn:
			b.mu.Lock()
			batch := b.queue
			b.queue = nil
			b.mu.Unlock()
			polls := make([]Poll, len(batch))
			for i, w := range batch {
				polls[i] = w.poll
			}
			err := s.recordPolls(ctx, polls, make([]Saved, len(polls)))
			for _, w := range batch {
				w.done <- err
			}
			b.mu.Lock()
			if len(b.queue) > 0 {
				b.queue[0].turn <- struct{}{}
			} else {
				b.writing = false
			}
			b.mu.Unlock()
		}
	}
}
