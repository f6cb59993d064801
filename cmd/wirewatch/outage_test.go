package main

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// growingFeed serves a feed that gains a matching item every time it is
// asked, so items keep arriving while the database is away.
type growingFeed struct {
	mu    sync.Mutex
	n     int
	links []string
	hold  chan struct{} // when set, a request waits for it to close
	held  chan struct{} // and says it is waiting
}

func (g *growingFeed) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	g.mu.Lock()
	hold, held := g.hold, g.held
	g.hold = nil
	g.mu.Unlock()
	if hold != nil {
		close(held)
		<-hold
	}
	g.mu.Lock()
	g.n++
	link := fmt.Sprintf("https://growing.example/%d", g.n)
	g.links = append(g.links, link)
	var items strings.Builder
	for i := max(1, g.n-20); i <= g.n; i++ { // the latest 20, newest first
		fmt.Fprintf(&items, "<item><title>Haftar update %d from Tripoli</title><link>https://growing.example/%d</link></item>\n", g.n+1-i, g.n+1-i)
	}
	g.mu.Unlock()
	fmt.Fprintf(w, "<rss version=\"2.0\"><channel><title>Growing</title>\n%s</channel></rss>", items.String())
}

func (g *growingFeed) served() []string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]string(nil), g.links...)
}

// The database goes away for a while mid-run: the daemon stays up, /readyz
// says so, and once PostgreSQL is back every item served in the meantime
// is stored, once.
func TestDaemonSurvivesDatabaseOutage(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("restarts a PostgreSQL cluster of its own; not with -short")
	}
	devdb := filepath.Join(t.TempDir(), "devdb")
	if out, err := exec.Command("go", "build", "-o", devdb, "../devdb").CombinedOutput(); err != nil {
		t.Fatalf("build devdb: %v\n%s", err, out)
	}
	dir, err := os.MkdirTemp("", "wirewatch-outage-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = exec.Command(devdb, "stop", "-dir", dir).Run()
		os.RemoveAll(dir)
	})
	if err := os.Chmod(dir, 0o755); err != nil { // the server may run as another user
		t.Fatal(err)
	}
	pg := func(args ...string) string {
		t.Helper()
		out, err := exec.Command(devdb, append(args, "-dir", filepath.Join(dir, "pg"))...).Output()
		if err != nil {
			t.Fatalf("devdb %v: %v", args, err)
		}
		return strings.TrimSpace(string(out))
	}
	dbURL := pg("start", "-db", "outage")

	feed := &growingFeed{}
	srv := httptest.NewServer(feed)
	t.Cleanup(srv.Close)
	addr := freeAddr(t)
	cfg := writeConfig(t, fmt.Sprintf("schedule: '@every 1s'\nfeeds:\n  - url: %s/feed.xml\n%shttp:\n  listen: %s\nfetch:\n  allow_private_networks: true\n  timeout: 5s\nshutdown_timeout: 2s\n",
		srv.URL, demoWatchlist(t), addr))
	cmd, logs := startDaemon(t, cfg, dbURL)
	ready := func() int { code, _ := get(t, "http://"+addr+"/readyz"); return code }
	waitUntil(t, logs, func() bool { return len(feed.served()) >= 3 && ready() == 200 })

	// Stop the database while a poll is in flight: its fetch completes,
	// its items cannot be stored.
	hold, held := make(chan struct{}), make(chan struct{})
	feed.mu.Lock()
	feed.hold, feed.held = hold, held
	feed.mu.Unlock()
	<-held
	pg("stop")
	close(hold)
	waitUntil(t, logs, func() bool { return ready() == 503 && strings.Contains(logs.String(), "poll not recorded") })
	time.Sleep(3 * time.Second) // down for a while
	if cmd.ProcessState != nil {
		t.Fatalf("the daemon exited with the database:\n%s", logs)
	}
	inOutage := len(feed.served()) // the last was served but not stored
	pg("start", "-db", "outage")
	waitUntil(t, logs, func() bool { return ready() == 200 })
	waitUntil(t, logs, func() bool { return len(feed.served()) >= inOutage+2 })

	// Every item served up to now, including the one fetched as the
	// database went, is stored once.
	served := feed.served()
	conn, err := pgx.Connect(context.Background(), dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	count := func(q string, args ...any) int {
		var n int
		if err := conn.QueryRow(context.Background(), q, args...).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	waitUntil(t, logs, func() bool {
		return count("SELECT count(*) FROM items WHERE link = ANY($1)", served) == len(served)
	})
	if dup := count("SELECT count(*) FROM (SELECT link FROM items GROUP BY link HAVING count(*) > 1) d"); dup != 0 {
		t.Fatalf("%d items stored twice", dup)
	}
	if !strings.Contains(logs.String(), "cannot claim due feeds") || !strings.Contains(logs.String(), "claiming due feeds again") {
		t.Errorf("the log does not tell the outage and the recovery:\n%s", logs)
	}
}
