package ingest

import (
	"bytes"
	"hash/fnv"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/wirewatch/wirewatch/storage"
)

// Policy says how a feed's next poll is planned after each poll.
type Policy struct {
	// MaxBackoff caps the wait after failures (default 24h).
	MaxBackoff time.Duration
	// MaxInterval caps how far the feed's own hints (Cache-Control,
	// Expires, ttl, sy:updatePeriod) stretch its interval; 0 ignores them.
	MaxInterval time.Duration
	// UnconditionalEvery is how often to fetch without validators; 0 never.
	UnconditionalEvery time.Duration
}

const (
	// movedAfter is how many polls in a row must be redirected permanently
	// to one URL before the feed is polled there: one odd answer during a
	// site migration must not move it.
	movedAfter = 3
	// goneRecheck is how often a feed that answered 410 Gone is asked again,
	// in case it was a mistake; it costs one request a week.
	goneRecheck = 7 * 24 * time.Hour
	// defaultMaxBackoff applies when Policy.MaxBackoff is 0.
	defaultMaxBackoff = 24 * time.Hour
)

// defaultSchedule is the schedule of a poll whose caller gives none.
var defaultSchedule = cron.Every(15 * time.Minute)

// validatorsFor returns the validators to send, and whether the request is
// unconditional: now and then one is, for servers that keep an ETag after
// the feed changed.
func (pol Policy) validatorsFor(feed storage.Feed, now time.Time) (Validators, bool) {
	v := Validators{ETag: feed.ETag, LastModified: feed.LastModified}
	if v == (Validators{}) {
		return v, true
	}
	if pol.UnconditionalEvery > 0 && (feed.LastUnconditionalAt == nil || now.Sub(*feed.LastUnconditionalAt) >= pol.UnconditionalEvery) {
		return Validators{}, true
	}
	return v, false
}

// outcome is what a poll learnt that matters for planning the next one.
type outcome struct {
	failed bool
	err    error     // the failure, with its kind and Retry-After
	resp   *Response // nil when no response came
	ttl    time.Duration
	parsed bool // ttl is from a body parsed now (else the stored one holds)
}

// plan fills in rec's scheduling fields: when the feed is due next, and
// what its server asked for.
func (pol Policy) plan(rec *storage.Poll, feed storage.Feed, sched cron.Schedule, now time.Time, o outcome) {
	if sched == nil {
		sched = defaultSchedule
	}
	maxBackoff := pol.MaxBackoff
	if maxBackoff <= 0 {
		maxBackoff = defaultMaxBackoff
	}
	next, interval := spreadNext(sched, feed.URL, now)
	rec.FetchURL, rec.MovedTo, rec.MovedCount = feed.FetchURL, feed.MovedTo, feed.MovedCount
	rec.TTL = feed.TTL
	if o.parsed {
		rec.TTL = o.ttl
	}

	var fe *FetchError
	asFetchError(o.err, &fe)
	switch {
	case fe != nil && fe.Kind == KindGone:
		rec.Gone = true
		next = now.Add(goneRecheck)
	case o.failed:
		// Back off: the normal interval after one failure, doubling with
		// each one after, capped, with jitter so feeds that failed together
		// (one host down) do not come back together.
		backoff := interval
		for i := 1; i < feed.ConsecutiveFailures+1 && backoff < maxBackoff; i++ {
			backoff *= 2
		}
		backoff = min(backoff, maxBackoff)
		backoff = time.Duration(float64(backoff) * (0.9 + 0.2*rand.Float64()))
		next = now.Add(backoff)
		if fe != nil && !fe.RetryAfter.IsZero() {
			until := fe.RetryAfter
			if limit := now.Add(maxBackoff); until.After(limit) {
				until = limit
			}
			if until.After(now) {
				rec.NotBefore = &until
				if until.After(next) {
					next = until
				}
			}
		}
	default:
		// The feed's own hints may make it less frequent, never more.
		hint := rec.TTL
		if o.resp != nil && o.resp.CacheFor > hint {
			hint = o.resp.CacheFor
		}
		if pol.MaxInterval > 0 && hint > 0 {
			hint = min(hint, pol.MaxInterval)
			if at := now.Add(hint); at.After(next) {
				next, interval = at, hint
			}
		}
	}

	// Follow a permanent redirect once it has been seen movedAfter polls
	// in a row; the configured URL stays the feed's identity.
	if o.resp != nil && o.resp.Status != 0 {
		switch moved := o.resp.MovedTo; {
		case moved == "" || moved == feed.PollURL():
			rec.MovedTo, rec.MovedCount = "", 0
		case moved == feed.MovedTo:
			rec.MovedCount = feed.MovedCount + 1
		default:
			rec.MovedTo, rec.MovedCount = moved, 1
		}
		if rec.MovedCount >= movedAfter {
			rec.FetchURL, rec.RedirectedTo = rec.MovedTo, rec.MovedTo
			rec.MovedTo, rec.MovedCount = "", 0
		}
	}
	rec.NextPollAt, rec.Interval = next, interval
}

// spreadNext is the feed's next turn on sched after now, and the interval
// between turns. Each feed is shifted by its own fixed share of the
// interval (from a hash of its URL), so that a thousand feeds on
// "*/15 * * * *" or "@every 15m" are spread over the quarter hour instead
// of all polled at minute 0 (or all together, as the first round left
// them), plus a little jitter.
func spreadNext(sched cron.Schedule, key string, now time.Time) (time.Time, time.Duration) {
	var next time.Time
	var interval time.Duration
	if every, ok := sched.(cron.ConstantDelaySchedule); ok && every.Delay > 0 {
		// Turns on a fixed grid, the feed's offset after each multiple of
		// the delay since the epoch, rather than a delay after the last
		// poll, which keeps feeds polled together together for good.
		interval = every.Delay
		offset := spreadOffset(key, interval)
		since := now.Sub(time.Unix(0, 0)) - offset
		next = now.Add(interval - since%interval)
	} else {
		t1 := sched.Next(now)
		interval = sched.Next(t1).Sub(t1)
		if interval <= 0 {
			return t1, interval
		}
		offset := spreadOffset(key, interval)
		next = sched.Next(now.Add(-offset)).Add(offset)
	}
	if jitter := min(interval/50, 30*time.Second); jitter > 0 {
		next = next.Add(rand.N(jitter))
	}
	return next, interval
}

// spreadOffset is key's fixed share of interval.
func spreadOffset(key string, interval time.Duration) time.Duration {
	h := fnv.New64a()
	h.Write([]byte(key))
	// FNV leaves the high bits of similar URLs alike; a finalizer mixes them.
	x := h.Sum64()
	x = (x ^ x>>30) * 0xBF58476D1CE4E5B9
	x = (x ^ x>>27) * 0x94D049BB133111EB
	x ^= x >> 31
	return time.Duration(float64(x>>11) / (1 << 53) * float64(interval))
}

// feedTTL reads a feed's own minimum refresh interval from its channel:
// RSS <ttl> (minutes) or the syndication module's sy:updatePeriod and
// sy:updateFrequency. It looks only before the first item, where channel
// elements are; 0 when the feed says nothing.
func feedTTL(body []byte) time.Duration {
	head := body
	for _, tag := range [][]byte{[]byte("<item"), []byte("<entry")} {
		if i := bytes.Index(head, tag); i >= 0 {
			head = head[:i]
		}
	}
	if v, ok := element(head, "ttl"); ok {
		if mins, err := strconv.Atoi(v); err == nil && mins > 0 {
			return time.Duration(min(mins, 366*24*60)) * time.Minute
		}
	}
	period, ok := element(head, "sy:updatePeriod")
	if !ok {
		return 0
	}
	var unit time.Duration
	switch period {
	case "hourly":
		unit = time.Hour
	case "daily":
		unit = 24 * time.Hour
	case "weekly":
		unit = 7 * 24 * time.Hour
	case "monthly":
		unit = 30 * 24 * time.Hour
	case "yearly":
		unit = 365 * 24 * time.Hour
	default:
		return 0
	}
	freq := 1
	if v, ok := element(head, "sy:updateFrequency"); ok {
		if n, err := strconv.Atoi(v); err == nil && n > 0 {
			freq = n
		}
	}
	return unit / time.Duration(freq)
}

// element returns the trimmed text of the first <name>...</name> in b.
func element(b []byte, name string) (string, bool) {
	open := []byte("<" + name + ">")
	i := bytes.Index(b, open)
	if i < 0 {
		return "", false
	}
	rest := b[i+len(open):]
	j := bytes.Index(rest, []byte("</"+name+">"))
	if j < 0 || j > 64 {
		return "", false
	}
	return string(bytes.TrimSpace(rest[:j])), true
}
