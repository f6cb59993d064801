package ingest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/wirewatch/wirewatch/storage"
)

// ScheduledFeed is a feed and the cron schedule it is polled on.
type ScheduledFeed struct {
	Feed     storage.Feed
	Schedule cron.Schedule
	Spec     string // as configured, for logs
}

// Scheduler runs polls: once over every feed (PollAll), or on each feed's
// cron schedule until stopped (Run). At most Concurrency polls run at once.
type Scheduler struct {
	Poller      *Poller
	Log         *slog.Logger
	Concurrency int
}

// Summary counts the outcomes of a pass over the feeds.
type Summary struct {
	Feeds       int
	OK          int
	NotModified int
	Failed      int
	NewMatches  int
	Duration    time.Duration
}

// pollOne re-reads the feed's state (another poll, or another instance, may
// have advanced it), polls it, and logs one line about it: the boundary of
// the feed job. The error is only for failures to record the poll.
func (s *Scheduler) pollOne(ctx context.Context, id int64) (Report, error) {
	feed, err := s.Poller.Store.Feed(ctx, id)
	if err != nil {
		s.Log.Error("poll not run", "feed_id", id, "error", err)
		return Report{}, err
	}
	rep, err := s.Poller.Poll(ctx, feed)
	log := s.Log.With("feed", feed.DisplayName(), "url", feed.URL)
	switch {
	case err != nil && IsShutdown(err):
		log.Info("poll interrupted by shutdown; it will run again at the next start")
	case err != nil:
		log.Error("poll not recorded", "error", err)
	case rep.Err != nil:
		log.Warn("poll failed", "kind", ErrorKind(rep.Err), "http_status", rep.HTTPStatus, "error", rep.Err,
			"consecutive_failures", feed.ConsecutiveFailures+1, "duration", rep.Duration.Round(time.Millisecond))
	default:
		level := slog.LevelDebug
		if rep.NewMatches > 0 {
			level = slog.LevelInfo
		}
		log.Log(ctx, level, "polled", "outcome", rep.Outcome, "http_status", rep.HTTPStatus, "bytes", rep.Bytes,
			"items", rep.ItemsSeen, "matched", rep.Matched, "new_matches", rep.NewMatches, "updated", rep.Updated,
			"duration", rep.Duration.Round(time.Millisecond))
	}
	if rep.StoryErr != nil {
		log.Warn("stories not assigned; the next poll with new items retries", "error", rep.StoryErr)
	}
	return rep, err
}

// PollAll polls every feed once, Concurrency at a time, and returns when all
// are done. Feeds that fail are recorded and counted; the error reports
// polls that could not be recorded (the database went away) or a
// cancellation.
func (s *Scheduler) PollAll(ctx context.Context, feeds []storage.Feed) (Summary, error) {
	start := time.Now()
	sum := Summary{Feeds: len(feeds)}
	var (
		mu   sync.Mutex
		errs []error
		wg   sync.WaitGroup
	)
	sem := make(chan struct{}, max(1, s.Concurrency))
	for _, f := range feeds {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			rep, err := s.pollOne(ctx, f.ID)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err != nil:
				errs = append(errs, fmt.Errorf("%s: %w", f.URL, err))
			case rep.Err != nil:
				sum.Failed++
			case rep.Outcome == storage.OutcomeNotModified:
				sum.NotModified++
			default:
				sum.OK++
			}
			sum.NewMatches += rep.NewMatches
		}()
	}
	wg.Wait()
	if ctx.Err() == nil {
		// Polls skip story assignment while another runs; catch up on
		// whatever the last of them left.
		if _, err := s.Poller.Store.AssignStories(ctx, s.Poller.Stories); err != nil {
			s.Log.Warn("stories not assigned; the next poll retries", "error", err)
		}
	}
	sum.Duration = time.Since(start)
	if ctx.Err() != nil {
		return sum, ctx.Err()
	}
	if len(errs) > 0 {
		return sum, fmt.Errorf("%d of %d polls could not be recorded: %w", len(errs), len(feeds), errors.Join(errs...))
	}
	return sum, nil
}

// Run polls each feed on its schedule until ctx is done. Feeds that missed a
// scheduled poll while the daemon was down (or were never polled) are polled
// at once. A feed's job never overlaps itself, and a panic in one job is
// logged, not fatal.
//
// When ctx is done Run stops scheduling, gives polls in flight up to grace
// to finish, then cancels them (their transactions roll back, so a feed is
// either fully stored or polled again next time) and returns once they have
// all returned.
func (s *Scheduler) Run(ctx context.Context, feeds []ScheduledFeed, grace time.Duration) error {
	// Jobs get their own context, so a stop signal lets them finish first.
	jobCtx, cancelJobs := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelJobs()
	logger := cronLogger{s.Log}
	c := cron.New(cron.WithLogger(logger))
	sem := make(chan struct{}, max(1, s.Concurrency))

	job := func(id int64) func() {
		return func() {
			select {
			case sem <- struct{}{}:
			case <-jobCtx.Done():
				return
			}
			defer func() { <-sem }()
			_, _ = s.pollOne(jobCtx, id)
		}
	}
	now := time.Now()
	var due []cron.Job
	for _, f := range feeds {
		// Each feed has its own wrapped job, so SkipIfStillRunning works per
		// feed: a slow feed skips its next turn instead of piling up.
		j := cron.NewChain(cron.Recover(logger), cron.SkipIfStillRunning(logger)).Then(cron.FuncJob(job(f.Feed.ID)))
		c.Schedule(f.Schedule, j)
		if f.Feed.LastPolledAt == nil || !f.Schedule.Next(*f.Feed.LastPolledAt).After(now) {
			due = append(due, j)
		}
	}
	s.Log.Info("scheduler started", "feeds", len(feeds), "due_now", len(due), "concurrency", s.Concurrency)
	c.Start()
	var startup sync.WaitGroup // the due polls, which cron does not track
	for _, j := range due {
		startup.Add(1)
		go func() {
			defer startup.Done()
			j.Run()
		}()
	}

	go func() {
		// Polls skip story assignment while another runs; a minute's
		// sweep makes sure no item waits long for its story.
		tick := time.NewTicker(time.Minute)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
				if _, err := s.Poller.Store.AssignStories(jobCtx, s.Poller.Stories); err != nil && ctx.Err() == nil {
					s.Log.Warn("stories not assigned; retried in a minute", "error", err)
				}
			}
		}
	}()

	<-ctx.Done()
	cronDone := c.Stop().Done() // no new jobs start after this
	s.Log.Info("stopping: waiting for polls in flight", "grace", grace)
	all := make(chan struct{})
	go func() {
		<-cronDone
		startup.Wait()
		close(all)
	}()
	select {
	case <-all:
	case <-time.After(grace):
		s.Log.Warn("grace period over: cancelling polls in flight; they roll back and run again at the next start")
		cancelJobs()
		<-all
	}
	s.Log.Info("scheduler stopped")
	return nil
}

// cronLogger sends cron's own messages to slog: its routine chatter at debug.
type cronLogger struct{ log *slog.Logger }

func (l cronLogger) Info(msg string, kv ...any) { l.log.Debug("cron: "+msg, kv...) }

func (l cronLogger) Error(err error, msg string, kv ...any) {
	l.log.Error("cron: "+msg, append([]any{"error", err}, kv...)...)
}
