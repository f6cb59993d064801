package ingest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
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

// Scheduler runs polls: once over every feed (PollAll), or each feed on its
// schedule until stopped (Run). Feeds are claimed through the database, so
// several instances (or a `wirewatch poll` beside a daemon) never poll one
// feed at the same time, and at most Concurrency polls work at once here
// (polls waiting for their turn at a host do not count; see slot).
type Scheduler struct {
	Poller      *Poller
	Log         *slog.Logger
	Concurrency int
	// Owner names this instance in its claims; host name and process id
	// when empty.
	Owner string
	// Lease is how long a claim holds unless renewed; an instance renews
	// its claims while their polls run, so this is how long the feeds of
	// an instance that died wait for another (default 2 minutes).
	Lease time.Duration
	// Metrics, when set, counts polls for Prometheus.
	Metrics *Metrics

	ownerOnce sync.Once

	mu     sync.Mutex     // guards Poller, Concurrency and reload once Run has started
	reload *scheduleState // a new configuration for Run to take up
	wake   chan struct{}
}

// scheduleState is what Reload hands to a running Run.
type scheduleState struct {
	feeds       []ScheduledFeed
	poller      *Poller
	concurrency int
}

// Reload replaces, in a running Run, the feeds and their schedules, the
// Poller (watchlist, fetch settings, policy) and the concurrency. Polls in
// flight finish with what they started with; the next claims use the new
// ones. Feeds no longer listed are no longer claimed.
func (s *Scheduler) Reload(feeds []ScheduledFeed, poller *Poller, concurrency int) {
	s.mu.Lock()
	s.reload = &scheduleState{feeds: feeds, poller: poller, concurrency: concurrency}
	wake := s.wake
	s.mu.Unlock()
	if wake != nil {
		select {
		case wake <- struct{}{}:
		default:
		}
	}
}

// current is the Poller in use, which Reload may replace.
func (s *Scheduler) current() *Poller {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.Poller
}

// takeReload applies a pending Reload, returning the new state, or nil.
func (s *Scheduler) takeReload() *scheduleState {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.reload
	s.reload = nil
	if r != nil {
		s.Poller, s.Concurrency = r.poller, r.concurrency
	}
	return r
}

// Summary counts the outcomes of a pass over the feeds.
type Summary struct {
	Feeds       int
	OK          int
	NotModified int
	Failed      int
	Skipped     int // not polled: claimed elsewhere, asked to wait (Retry-After) or gone
	NewMatches  int
	Duration    time.Duration
}

const defaultLease = 2 * time.Minute

const (
	// maxPollsInFlight bounds the polls one Run has claimed, at work or
	// waiting for their host.
	maxPollsInFlight = 1024
	// waitingFactor is how many polls Run claims per slot: a poll waiting
	// for its turn at a busy host holds no slot, so the others go on.
	waitingFactor = 4
	// claimEvery is how often Run looks for feeds coming due while it has
	// free slots: a poll's lag is at most this more than it must be.
	claimEvery = 250 * time.Millisecond
)

func (s *Scheduler) owner() string {
	s.ownerOnce.Do(func() {
		if s.Owner == "" {
			host, _ := os.Hostname()
			s.Owner = host + ":" + strconv.Itoa(os.Getpid())
		}
	})
	return s.Owner
}

func (s *Scheduler) lease() time.Duration {
	if s.Lease <= 0 {
		return defaultLease
	}
	return s.Lease
}

// pollOne polls a claimed feed and logs one line about it: the boundary of
// the feed job. The error is only for failures to record the poll.
func (s *Scheduler) pollOne(ctx context.Context, p *Poller, feed storage.Feed, sched cron.Schedule, due *time.Time) (Report, error) {
	s.Metrics.started(due)
	rep, err := p.Poll(withInstance(ctx, s.owner()), feed, sched, due)
	s.Metrics.ended()
	s.Metrics.observe(feed, rep, err)
	log := s.Log.With("feed", feed.DisplayName(), "url", feed.URL)
	switch {
	case err != nil && IsShutdown(err):
		log.Info("poll interrupted by shutdown; it will run again at the next start")
	case err != nil:
		log.Error("poll not recorded", "error", err)
	case rep.Gone:
		log.Warn("feed gone: the server answered 410 Gone; asked again weekly, remove it from the config",
			"next_poll", rep.NextPollAt.Round(time.Second))
	case rep.Err != nil:
		args := []any{"kind", ErrorKind(rep.Err), "http_status", rep.HTTPStatus, "error", rep.Err,
			"consecutive_failures", feed.ConsecutiveFailures + 1, "duration", rep.Duration.Round(time.Millisecond),
			"next_poll", rep.NextPollAt.Round(time.Second)}
		if rep.NotBefore != nil {
			args = append(args, "retry_after", rep.NotBefore.Round(time.Second))
		}
		log.Warn("poll failed", args...)
	default:
		level := slog.LevelDebug
		if rep.NewMatches > 0 {
			level = slog.LevelInfo
		}
		log.Log(ctx, level, "polled", "outcome", rep.Outcome, "http_status", rep.HTTPStatus, "bytes", rep.Bytes,
			"items", rep.ItemsSeen, "matched", rep.Matched, "new_matches", rep.NewMatches, "updated", rep.Updated,
			"duration", rep.Duration.Round(time.Millisecond), "next_poll", rep.NextPollAt.Round(time.Second))
	}
	if err == nil && rep.MovedTo != "" {
		log.Warn("feed moved permanently: polling its new URL from now on; update the config", "new_url", rep.MovedTo)
	}
	return rep, err
}

// claims tracks this instance's polls in flight and renews their leases.
type claims struct {
	mu  sync.Mutex
	ids map[int64]bool
}

func (c *claims) add(id int64) {
	c.mu.Lock()
	c.ids[id] = true
	c.mu.Unlock()
}

func (c *claims) remove(id int64) {
	c.mu.Lock()
	delete(c.ids, id)
	c.mu.Unlock()
}

func (c *claims) list() []int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]int64, 0, len(c.ids))
	for id := range c.ids {
		out = append(out, id)
	}
	return out
}

func (c *claims) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.ids)
}

// renew extends the leases of the polls in flight every third of a lease
// until ctx is done.
func (s *Scheduler) renew(ctx context.Context, c *claims) {
	t := time.NewTicker(s.lease() / 3)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if ids := c.list(); len(ids) > 0 {
				if err := s.current().Store.RenewLeases(ctx, s.owner(), ids, s.lease()); err != nil && ctx.Err() == nil {
					s.Log.Warn("claims not renewed; another instance may poll these feeds too", "feeds", len(ids), "error", err)
				}
			}
		}
	}
}

// releaseStale gives back the claims of instances on this host that are
// no longer running (a crash, kill -9), and this instance's own from an
// earlier life under the same name (a container restarted as pid 1), so a
// restart resumes their feeds at once instead of after their leases run
// out. Instances on other hosts are left to their leases.
func (s *Scheduler) releaseStale(ctx context.Context) {
	store := s.current().Store
	owners, err := store.LeaseOwners(ctx)
	if err != nil {
		s.Log.Warn("stale claims not checked; they run out with their leases", "error", err)
		return
	}
	host, _ := os.Hostname()
	for _, o := range owners {
		h, pidText, ok := strings.Cut(o, ":")
		pid, err := strconv.Atoi(pidText)
		if !ok || err != nil || h != host || (o != s.owner() && processAlive(pid)) {
			continue
		}
		if err := store.ReleaseLeases(ctx, o, nil); err != nil {
			s.Log.Warn("stale claims not released; they run out with their leases", "instance", o, "error", err)
			continue
		}
		s.Log.Info("released the claims of an instance that is gone", "instance", o)
	}
}

// processAlive reports whether a process with this id runs on this host.
func processAlive(pid int) bool {
	if pid <= 0 {
		return false
	}
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

// release gives back the claims of polls that ended without a record (a
// shutdown), so that the feeds need not wait for their leases to run out.
func (s *Scheduler) release() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.current().Store.ReleaseLeases(ctx, s.owner(), nil); err != nil {
		s.Log.Warn("claims not released; their feeds wait for the leases to run out", "error", err)
	}
}

// PollAll polls every feed once, now, whatever its schedule, Concurrency at
// a time, and returns when all are done. A feed is skipped when another
// instance is polling it, when its server asked for a pause (Retry-After)
// that has not ended, or when it is gone (410) and not due for its weekly
// check. Feeds that fail are recorded and counted; the error reports polls
// that could not be recorded (the database went away) or a cancellation.
func (s *Scheduler) PollAll(ctx context.Context, feeds []ScheduledFeed) (Summary, error) {
	start := time.Now()
	sum := Summary{Feeds: len(feeds)}
	var (
		mu   sync.Mutex
		errs []error
		wg   sync.WaitGroup
	)
	s.releaseStale(ctx)
	inFlight := &claims{ids: map[int64]bool{}}
	renewCtx, stopRenew := context.WithCancel(ctx)
	defer stopRenew()
	go s.renew(renewCtx, inFlight)
	conc := max(1, s.Concurrency)
	// As in Run: conc polls at work, more waiting for a host or a record.
	active := make(chan struct{}, conc)
	claimed := make(chan struct{}, waitingFactor*conc)
	record := func(f storage.Feed, rep Report, refused string, err error) {
		mu.Lock()
		defer mu.Unlock()
		switch {
		case err != nil:
			errs = append(errs, fmt.Errorf("%s: %w", f.URL, err))
		case refused != "":
			sum.Skipped++
			s.logSkipped(f, refused)
		case rep.Err != nil:
			sum.Failed++
		case rep.Outcome == storage.OutcomeNotModified:
			sum.NotModified++
		default:
			sum.OK++
		}
		sum.NewMatches += rep.NewMatches
	}
	// Feeds are claimed a chunk at a time (two statements a chunk, not
	// one a feed); the claims are renewed while they wait for their turn.
	chunk := max(64, 4*conc)
	for start := 0; start < len(feeds) && ctx.Err() == nil; start += chunk {
		part := feeds[start:min(start+chunk, len(feeds))]
		ids := make([]int64, len(part))
		byID := make(map[int64]ScheduledFeed, len(part))
		for i, f := range part {
			ids[i], byID[f.Feed.ID] = f.Feed.ID, f
		}
		got, refused, err := s.Poller.Store.ClaimMany(ctx, s.owner(), ids, time.Now(), s.lease())
		if err != nil {
			for _, f := range part {
				record(f.Feed, Report{}, "", err)
			}
			continue
		}
		for id, why := range refused {
			record(byID[id].Feed, Report{}, why, nil)
		}
		for _, feed := range got {
			inFlight.add(feed.ID)
		}
		for _, feed := range got {
			select {
			case claimed <- struct{}{}:
			case <-ctx.Done():
			}
			if ctx.Err() != nil {
				break
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				sl := &slot{ch: active}
				defer func() { sl.give(); <-claimed }()
				rep, err := s.pollOne(withSlot(ctx, sl), s.Poller, feed, byID[feed.ID].Schedule, nil)
				inFlight.remove(feed.ID)
				record(byID[feed.ID].Feed, rep, "", err)
			}()
		}
	}
	wg.Wait()
	stopRenew()
	if ctx.Err() == nil {
		// New items get their stories as they are stored; this catches
		// any item left without one (stored by an older version, or by an
		// instance that stopped half-way).
		if _, err := s.Poller.Store.AssignStories(ctx, s.Poller.Stories); err != nil {
			s.Log.Warn("stories not assigned; the next poll retries", "error", err)
		}
	} else {
		s.release()
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

func (s *Scheduler) logSkipped(f storage.Feed, why string) {
	log := s.Log.With("feed", f.DisplayName(), "url", f.URL)
	switch why {
	case storage.RefusedRetry:
		log.Info("skipped: its server asked not to be polled yet (Retry-After)")
	case storage.RefusedGone:
		log.Info("skipped: the feed is gone (410); remove it from the config")
	case storage.RefusedClaimed:
		log.Info("skipped: another wirewatch instance is polling it")
	default:
		log.Info("skipped", "reason", why)
	}
}

// Run polls each feed when it is due until ctx is done. A feed is due at
// its next turn on its cron schedule (spread across the interval, see
// Policy), later when it failed (backoff), when its server asked for a
// pause (Retry-After) or for less frequent polls (Cache-Control, ttl).
// Feeds that missed turns while no instance ran are due at once. Due feeds
// are claimed through the database, up to waitingFactor × Concurrency in
// flight, so instances
// sharing a database share the feeds; a feed is never polled twice at
// once, and a panic in one poll is logged, not fatal.
//
// When ctx is done Run stops claiming, gives polls in flight up to grace
// to finish, then cancels them (their transactions roll back, so a feed is
// either fully stored or polled again next time), gives back its claims and
// returns.
func (s *Scheduler) Run(ctx context.Context, feeds []ScheduledFeed, grace time.Duration) error {
	// Jobs get their own context, so a stop signal lets them finish first.
	jobCtx, cancelJobs := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelJobs()
	logger := cronLogger{s.Log}
	recoverer := cron.NewChain(cron.Recover(logger))

	var byID map[int64]ScheduledFeed
	// Feeds in the database that this instance's configuration does not
	// have (another instance synced a newer one): given back, and not
	// claimed again until the next reload.
	var foreign []int64
	setFeeds := func(feeds []ScheduledFeed) {
		byID, foreign = make(map[int64]ScheduledFeed, len(feeds)), nil
		for _, f := range feeds {
			byID[f.Feed.ID] = f
		}
	}
	setFeeds(feeds)
	s.mu.Lock()
	s.wake = make(chan struct{}, 1)
	wake := s.wake
	poller, conc := s.Poller, max(1, min(s.Concurrency, maxPollsInFlight/waitingFactor))
	s.mu.Unlock()
	s.releaseStale(ctx)
	inFlight := &claims{ids: map[int64]bool{}}
	unrecorded := &claims{ids: map[int64]bool{}}
	go s.renew(jobCtx, inFlight)
	// A slot for each poll at work; polls waiting for their turn at a host
	// or for their record hold none (see slot), up to waitingFactor times
	// as many.
	active := make(chan struct{}, conc)
	done := make(chan int64, maxPollsInFlight)
	var jobs sync.WaitGroup
	s.Log.Info("scheduler started", "feeds", len(feeds), "concurrency", conc, "instance", s.owner())

	go s.sweepStories(ctx, jobCtx)

	idle := time.NewTimer(0)
	defer idle.Stop()
	var dbDown, idleFired bool
	// After a claim that took every due feed, the next is not before this:
	// polls that end meanwhile free slots but bring nothing due.
	var quietUntil time.Time
	for ctx.Err() == nil {
		if r := s.takeReload(); r != nil {
			setFeeds(r.feeds)
			poller, conc = r.poller, max(1, min(r.concurrency, maxPollsInFlight/waitingFactor))
			active, quietUntil = make(chan struct{}, conc), time.Time{}
			s.Log.Info("scheduler reloaded", "feeds", len(byID), "concurrency", conc)
		}
		wait := time.Second // for feeds coming due
		free := min(conc-len(active), waitingFactor*conc-inFlight.len())
		// Claim when a quarter of the slots are free (or all polls are
		// done), not each time one poll ends: a claim costs the database
		// the same for one feed as for many.
		batching := free > 0 && free < max(1, conc/4) && inFlight.len() > 0 && !idleFired
		idleFired = false
		switch quiet := time.Until(quietUntil); {
		case free <= 0:
			wait = time.Hour // full: the next poll to end wakes the loop
		case quiet > 0:
			wait = quiet
		case batching:
			// wait: the idle timer claims for the free slots within a second
		default:
			// Polls that could not be recorded (the database went away)
			// keep their claims; give them back once it answers, so those
			// feeds are polled again now rather than when the leases end.
			if ids := unrecorded.list(); len(ids) > 0 {
				if err := poller.Store.ReleaseLeases(ctx, s.owner(), ids); err == nil {
					for _, id := range ids {
						unrecorded.remove(id)
					}
				}
			}
			claimed, err := poller.Store.ClaimDue(ctx, s.owner(), foreign, free, time.Now(), s.lease())
			switch {
			case err != nil && ctx.Err() == nil:
				if !dbDown {
					s.Log.Error("cannot claim due feeds; retrying every 5s", "error", err)
				}
				dbDown, wait = true, 5*time.Second
			case err == nil && dbDown:
				s.Log.Info("claiming due feeds again")
				dbDown = false
			}
			var unknown []int64
			for _, feed := range claimed {
				sf, ok := byID[feed.ID]
				if !ok {
					unknown = append(unknown, feed.ID)
					continue
				}
				inFlight.add(feed.ID)
				jobs.Add(1)
				due := feed.NextPollAt
				p, sl := poller, &slot{ch: active, stop: ctx}
				go func() {
					defer jobs.Done()
					defer func() {
						sl.give()
						inFlight.remove(feed.ID)
						done <- feed.ID
					}()
					recoverer.Then(cron.FuncJob(func() {
						if _, err := s.pollOne(withSlot(jobCtx, sl), p, feed, sf.Schedule, due); err != nil && !IsShutdown(err) {
							unrecorded.add(feed.ID)
						}
					})).Run()
				}()
			}
			if len(unknown) > 0 {
				s.Log.Warn("feeds in the database that this instance's configuration does not list: left to the "+
					"instances that list them; reload to take them up", "feeds", len(unknown))
				if err := poller.Store.ReleaseLeases(ctx, s.owner(), unknown); err != nil && ctx.Err() == nil {
					s.Log.Warn("claims not released; their feeds wait for the leases to run out", "error", err)
				}
				foreign = append(foreign, unknown...)
				wait = 0 // claim again for the slots they took
			} else if err == nil && len(claimed) < free {
				quietUntil = time.Now().Add(claimEvery)
				wait = claimEvery
			}
		}
		idle.Reset(wait)
		select {
		case <-ctx.Done():
		case <-done:
		case <-idle.C:
			idleFired = true
		case <-wake:
			quietUntil = time.Time{}
		}
	}

	s.Log.Info("stopping: waiting for polls in flight", "polls", inFlight.len(), "grace", grace)
	all := make(chan struct{})
	go func() {
		jobs.Wait()
		close(all)
	}()
	drain := func() {
		for {
			select {
			case <-done:
			case <-all:
				return
			}
		}
	}
	finished := make(chan struct{})
	go func() { drain(); close(finished) }()
	select {
	case <-finished:
	case <-time.After(grace):
		s.Log.Warn("grace period over: cancelling polls in flight; they roll back and run again at the next start")
		cancelJobs()
		<-finished
	}
	s.release()
	s.Log.Info("scheduler stopped")
	return nil
}

// sweepStories assigns stories every minute to items left without one:
// new items get theirs as they are stored, so this is for those stored by
// an older version of wirewatch.
func (s *Scheduler) sweepStories(ctx, jobCtx context.Context) {
	tick := time.NewTicker(time.Minute)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			p := s.current()
			if _, err := p.Store.AssignStories(jobCtx, p.Stories); err != nil && ctx.Err() == nil {
				s.Log.Warn("stories not assigned; retried in a minute", "error", err)
			}
		}
	}
}

// cronLogger sends cron's own messages to slog: its routine chatter at debug.
type cronLogger struct{ log *slog.Logger }

func (l cronLogger) Info(msg string, kv ...any) { l.log.Debug("cron: "+msg, kv...) }

func (l cronLogger) Error(err error, msg string, kv ...any) {
	l.log.Error("cron: "+msg, append([]any{"error", err}, kv...)...)
}
