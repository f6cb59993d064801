package ingest

import (
	"context"
	"errors"
)

// A poll's slot among those at work. The schedulers bound the polls that
// work at once (fetch, parse, store), not those waiting for their turn at a
// busy host, which would otherwise hold every slot while the other hosts
// idle, nor those waiting for their record to be written with others'.
// Fetch takes the slot in ctx, if any, once the host gives the request its
// turn; Poll gives it back before it waits for a record.
type slot struct {
	ch   chan struct{}
	held bool
	// stop, when set, ends the waits for a turn (Run's stop signal).
	stop context.Context
}

// errStopped says a poll gave up waiting for its turn because the
// scheduler is stopping; the poll is not recorded.
var errStopped = errors.New("stopping: the poll had not started")

// waiting returns the context for a poll's waits: ctx, ended also by the
// slot's stop signal.
func (s *slot) waiting(ctx context.Context) (context.Context, func()) {
	if s == nil || s.stop == nil {
		return ctx, func() {}
	}
	wctx, cancel := context.WithCancel(ctx)
	unwatch := context.AfterFunc(s.stop, cancel)
	return wctx, func() { unwatch(); cancel() }
}

// stopCause is errStopped when a wait ended because of the stop signal
// rather than ctx.
func stopCause(ctx context.Context, err error) error {
	if ctx.Err() == nil && errors.Is(err, context.Canceled) {
		return errStopped
	}
	return err
}

type slotKey struct{}

func withSlot(ctx context.Context, s *slot) context.Context {
	return context.WithValue(ctx, slotKey{}, s)
}

func slotFrom(ctx context.Context) *slot {
	s, _ := ctx.Value(slotKey{}).(*slot)
	return s
}

// take waits for a free slot, unless this poll holds one already.
func (s *slot) take(ctx context.Context) error {
	if s == nil || s.held {
		return nil
	}
	select {
	case s.ch <- struct{}{}:
		s.held = true
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// give frees the slot, if this poll holds it.
func (s *slot) give() {
	if s != nil && s.held {
		<-s.ch
		s.held = false
	}
}

// The instance a poll runs for: the scheduler's name in its claims,
// written into the poll's record.
type instanceKey struct{}

func withInstance(ctx context.Context, name string) context.Context {
	return context.WithValue(ctx, instanceKey{}, name)
}

func instanceFrom(ctx context.Context) string {
	name, _ := ctx.Value(instanceKey{}).(string)
	return name
}
