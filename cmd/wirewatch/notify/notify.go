// Package notify sends webhook digests of new matches: a generic JSON
// payload or a Slack-compatible message, each alert on its own cron
// schedule, beside the polls and never in their way. A digest is retried
// with backoff; its matches are recorded as delivered only once the
// webhook accepted it, so a match is sent once, and a failed digest is
// sent again at the next turn.
package notify

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/wirewatch/wirewatch/storage"
)

// Alert is one configured webhook.
type Alert struct {
	Name     string
	URL      string // never logged: it may carry a token
	Format   string // json or slack
	Schedule cron.Schedule
	Filter   storage.AlertFilter
}

// Notifier runs the alerts.
type Notifier struct {
	Store  *storage.Store
	Log    *slog.Logger
	Client *http.Client
	// Retries is how many times a refused digest is sent again before the
	// next turn (default 4), Backoff the first wait (doubling; default 2s).
	Retries int
	Backoff time.Duration
}

const digestLimit = 50 // matches per digest; the rest go in the next ones

// Run sends each alert's digests on its schedule until ctx is done.
func (n *Notifier) Run(ctx context.Context, alerts []Alert) {
	if len(alerts) == 0 {
		return
	}
	c := cron.New(cron.WithChain(cron.Recover(cronLog{n.Log}), cron.SkipIfStillRunning(cronLog{n.Log})))
	for _, a := range alerts {
		c.Schedule(a.Schedule, cron.FuncJob(func() { n.Send(ctx, a) }))
	}
	c.Start()
	<-ctx.Done()
	<-c.Stop().Done()
}

// Send delivers every pending match of a, a digest of up to 50 at a time,
// and returns how many it delivered. It stops at the first digest the
// webhook refuses after its retries; those matches wait for the next turn.
func (n *Notifier) Send(ctx context.Context, a Alert) int {
	log := n.Log.With("alert", a.Name)
	sent := 0
	for ctx.Err() == nil {
		f := a.Filter
		f.Limit = digestLimit
		ms, err := n.Store.PendingAlert(ctx, a.Name, f)
		if err != nil {
			log.Warn("alert not sent; retried at its next turn", "error", err)
			return sent
		}
		if len(ms) == 0 {
			return sent
		}
		body, err := payload(a, ms)
		if err != nil {
			log.Error("alert payload", "error", err)
			return sent
		}
		if err := n.post(ctx, a, body, digestID(a.Name, ms)); err != nil {
			log.Warn("alert not delivered; retried at its next turn", "matches", len(ms), "error", err)
			return sent
		}
		ids := make([]int64, len(ms))
		for i, m := range ms {
			ids[i] = m.ItemID
		}
		if err := n.Store.MarkAlerted(context.WithoutCancel(ctx), a.Name, ids, time.Now()); err != nil {
			log.Error("alert delivered but not recorded; its matches may be sent again", "error", err)
			return sent
		}
		sent += len(ms)
		log.Info("alert delivered", "matches", len(ms))
		if len(ms) < digestLimit {
			return sent
		}
	}
	return sent
}

// post sends body, retrying refusals and network errors with backoff.
func (n *Notifier) post(ctx context.Context, a Alert, body []byte, id string) error {
	retries, backoff := n.Retries, n.Backoff
	if retries <= 0 {
		retries = 4
	}
	if backoff <= 0 {
		backoff = 2 * time.Second
	}
	client := n.Client
	if client == nil {
		client = &http.Client{Timeout: 30 * time.Second}
	}
	var last error
	for attempt := 0; attempt <= retries; attempt++ {
		if attempt > 0 {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(backoff):
			}
			backoff *= 2
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, a.URL, bytes.NewReader(body))
		if err != nil {
			return fmt.Errorf("bad webhook URL") // not the URL itself: it may hold a token
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("User-Agent", "wirewatch-alerts")
		// The same digest has the same id when it is sent again, so a
		// receiver can drop a copy it already has.
		req.Header.Set("Idempotency-Key", id)
		resp, err := client.Do(req)
		if err != nil {
			// url.Error carries the URL; say only what went wrong.
			last = fmt.Errorf("webhook unreachable: %s", redact(err.Error(), a.URL))
			continue
		}
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		resp.Body.Close()
		if resp.StatusCode >= 200 && resp.StatusCode < 300 {
			return nil
		}
		last = fmt.Errorf("webhook answered %s", resp.Status)
		if resp.StatusCode >= 400 && resp.StatusCode < 500 && resp.StatusCode != http.StatusTooManyRequests {
			return last // a request the webhook will never take: no point retrying now
		}
	}
	return last
}

func redact(s, secret string) string {
	if secret == "" {
		return s
	}
	return strings.ReplaceAll(s, secret, "<webhook>")
}

// digestID names a digest by its alert and matches.
func digestID(alert string, ms []storage.Match) string {
	h := sha256.New()
	h.Write([]byte(alert))
	for _, m := range ms {
		h.Write([]byte{0})
		h.Write([]byte(strconv.FormatInt(m.ItemID, 10)))
	}
	return hex.EncodeToString(h.Sum(nil))[:32]
}

// digestMatch is one match in a JSON digest.
type digestMatch struct {
	ID          int64             `json:"id"`
	Title       string            `json:"title"`
	Link        string            `json:"link"`
	Feed        string            `json:"feed"`
	FeedURL     string            `json:"feed_url"`
	PublishedAt *time.Time        `json:"published_at"`
	FirstSeenAt time.Time         `json:"first_seen_at"`
	Watches     []string          `json:"watches"`
	Relevance   *float64          `json:"relevance"`
	Snippets    map[string]string `json:"snippets"`
}

func payload(a Alert, ms []storage.Match) ([]byte, error) {
	if a.Format == "slack" {
		var b strings.Builder
		fmt.Fprintf(&b, "*wirewatch: %d new match%s* (%s)\n", len(ms), plural(len(ms), "", "es"), slackEscape(a.Name))
		for _, m := range ms {
			fmt.Fprintf(&b, "• <%s|%s> — %s (%s)", slackEscape(m.Link), slackEscape(oneLine(m.Title)), slackEscape(m.Feed),
				slackEscape(strings.Join(m.Watches, ", ")))
			if m.Relevance != nil {
				fmt.Fprintf(&b, " relevance %.2f", *m.Relevance)
			}
			b.WriteByte('\n')
		}
		return json.Marshal(map[string]string{"text": b.String()})
	}
	out := struct {
		Alert   string        `json:"alert"`
		Count   int           `json:"count"`
		Matches []digestMatch `json:"matches"`
	}{Alert: a.Name, Count: len(ms)}
	for _, m := range ms {
		out.Matches = append(out.Matches, digestMatch{m.ItemID, m.Title, m.Link, m.Feed, m.FeedURL, m.PublishedAt,
			m.FirstSeenAt, m.Watches, m.Relevance, m.Snippets})
	}
	return json.Marshal(out)
}

// slackEscape escapes the three characters Slack's message format reserves.
func slackEscape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

type cronLog struct{ log *slog.Logger }

func (l cronLog) Info(msg string, kv ...any) { l.log.Debug("alerts: "+msg, kv...) }
func (l cronLog) Error(err error, msg string, kv ...any) {
	l.log.Error("alerts: "+msg, append([]any{"error", err}, kv...)...)
}
