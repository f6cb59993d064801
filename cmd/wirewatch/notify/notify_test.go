package notify

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/wirewatch/wirewatch/classify"
	"github.com/wirewatch/wirewatch/storage"
	"github.com/wirewatch/wirewatch/storage/storagetest"
)

func TestMain(m *testing.M) { storagetest.Main(m) }

// webhook records the bodies it accepts; it refuses the first fail requests.
type webhook struct {
	mu     sync.Mutex
	fail   int
	bodies []string
	keys   []string
	*httptest.Server
}

func newWebhook(t *testing.T, fail int) *webhook {
	w := &webhook{fail: fail}
	w.Server = httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		w.mu.Lock()
		defer w.mu.Unlock()
		w.keys = append(w.keys, r.Header.Get("Idempotency-Key"))
		if w.fail > 0 {
			w.fail--
			http.Error(rw, "busy", http.StatusServiceUnavailable)
			return
		}
		w.bodies = append(w.bodies, string(b))
	}))
	t.Cleanup(w.Close)
	return w
}

func (w *webhook) accepted() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]string(nil), w.bodies...)
}

func store(t *testing.T, s *storage.Store, feed storage.Feed, key, title, watch string) {
	t.Helper()
	it := storage.Item{Key: key, Link: key, Title: title, Watches: []string{watch},
		Hits:     []classify.Hit{{Watch: watch, Term: watch, Field: "title", Start: 0, End: len(watch), Count: 1}},
		Snippets: map[string]string{watch: "⟦" + watch + "⟧ " + title}}
	if _, err := s.SavePoll(context.Background(), storage.Poll{FeedID: feed.ID, StartedAt: time.Now(), Outcome: storage.OutcomeOK,
		Items: []storage.Item{it}}); err != nil {
		t.Fatal(err)
	}
}

func TestDigestsDeliverEachMatchOnce(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	_, pool := storagetest.MigratedSchema(t)
	s := storage.New(pool)
	feeds, err := s.SyncFeeds(ctx, []storage.FeedSpec{{URL: "https://wire.example/rss", Name: "Wire"}})
	if err != nil {
		t.Fatal(err)
	}
	hook := newWebhook(t, 2) // two refusals, then it takes the digest
	n := &Notifier{Store: s, Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Backoff: 10 * time.Millisecond}
	every, _ := cron.ParseStandard("@every 1h")
	a := Alert{Name: "desk", URL: hook.URL, Format: "json", Schedule: every, Filter: storage.AlertFilter{Watches: []string{"haftar"}}}

	// Matches stored before the alert existed are not sent.
	store(t, s, feeds[0], "https://wire.example/old", "Old Haftar story", "Haftar")
	if sent := n.Send(ctx, a); sent != 0 {
		t.Fatalf("first turn sent %d; the alert starts with what comes after it", sent)
	}
	store(t, s, feeds[0], "https://wire.example/1", "Haftar forces regroup <near> Sirte", "Haftar")
	store(t, s, feeds[0], "https://wire.example/2", "Assad meets envoy", "Assad") // not this alert's entry
	if sent := n.Send(ctx, a); sent != 1 {
		t.Fatalf("sent %d, want 1", sent)
	}
	if sent := n.Send(ctx, a); sent != 0 {
		t.Fatalf("sent %d again", sent)
	}
	bodies := hook.accepted()
	if len(bodies) != 1 {
		t.Fatalf("accepted %d digests", len(bodies))
	}
	var d struct {
		Alert   string
		Count   int
		Matches []struct {
			Title, Link, Feed string
			Watches           []string
		}
	}
	if err := json.Unmarshal([]byte(bodies[0]), &d); err != nil || d.Alert != "desk" || d.Count != 1 ||
		d.Matches[0].Title != "Haftar forces regroup <near> Sirte" || d.Matches[0].Feed != "Wire" {
		t.Fatalf("digest = %s (%v)", bodies[0], err)
	}
	if len(hook.keys) != 3 || hook.keys[0] != hook.keys[2] || hook.keys[0] == "" {
		t.Fatalf("a retried digest must keep its idempotency key: %q", hook.keys)
	}

	// Slack format: the reserved characters escaped, the link in Slack's form.
	slack := newWebhook(t, 0)
	a2 := Alert{Name: "slack", URL: slack.URL, Format: "slack", Schedule: every}
	n.Send(ctx, a2) // registers the alert
	store(t, s, feeds[0], "https://wire.example/3", "Wagner & Haftar <update>", "Wagner")
	if sent := n.Send(ctx, a2); sent != 1 {
		t.Fatalf("slack sent %d", sent)
	}
	var msg struct{ Text string }
	if err := json.Unmarshal([]byte(slack.accepted()[0]), &msg); err != nil ||
		!strings.Contains(msg.Text, "<https://wire.example/3|Wagner &amp; Haftar &lt;update&gt;>") {
		t.Fatalf("slack message = %q (%v)", msg.Text, err)
	}
}

func TestRefusedDigestWaitsForTheNextTurn(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	_, pool := storagetest.MigratedSchema(t)
	s := storage.New(pool)
	feeds, err := s.SyncFeeds(ctx, []storage.FeedSpec{{URL: "https://wire.example/rss"}})
	if err != nil {
		t.Fatal(err)
	}
	hook := newWebhook(t, 100)
	n := &Notifier{Store: s, Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Retries: 1, Backoff: time.Millisecond}
	every, _ := cron.ParseStandard("@every 1h")
	a := Alert{Name: "down", URL: hook.URL, Schedule: every}
	n.Send(ctx, a)
	store(t, s, feeds[0], "https://wire.example/1", "Libya talks", "Libya")
	if sent := n.Send(ctx, a); sent != 0 {
		t.Fatalf("sent %d to a webhook that refuses", sent)
	}
	hook.mu.Lock()
	hook.fail = 0
	hook.mu.Unlock()
	if sent := n.Send(ctx, a); sent != 1 {
		t.Fatalf("next turn sent %d, want the waiting match", sent)
	}
}
