package main

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/wirewatch/wirewatch/storage/storagetest"
)

// Killed with SIGKILL mid-poll and started again, the daemon loses no item
// and stores none twice, and takes up the feeds the dead process had
// claimed at once rather than after their leases run out.
func TestDaemonKilledMidPollResumes(t *testing.T) {
	t.Parallel()
	dbURL := storagetest.Schema(t)
	demo := serveDir(t, "../../demo/feeds")
	slow := newSlowFeed(t)
	cfg := demoConfig(t, demo.URL, fmt.Sprintf("  - url: %s/slow.xml\n    name: Slow\n", slow.URL))
	count := counter(t, dbURL)
	slowPolls := "SELECT count(*) FROM polls p JOIN feeds f ON f.id = p.feed_id WHERE f.name = 'Slow'"

	cmd, logs := startDaemon(t, cfg, dbURL)
	<-slow.entered // the slow feed's poll is in flight, its feed claimed
	waitUntil(t, logs, func() bool { return count("SELECT count(*) FROM polls") >= 9 })
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	itemsBefore := count("SELECT count(*) FROM items")
	if n := count(slowPolls); n != 0 || itemsBefore == 0 {
		t.Fatalf("after the kill: %d slow polls, %d items", n, itemsBefore)
	}
	if count("SELECT count(*) FROM feeds WHERE lease_owner <> ''") == 0 {
		t.Fatal("the killed process left no claim; the test does not test the takeover")
	}

	slow.unblock()
	begin := time.Now()
	cmd, logs = startDaemon(t, cfg, dbURL)
	waitUntil(t, logs, func() bool { return count(slowPolls) == 1 })
	if took := time.Since(begin); took > 30*time.Second || !strings.Contains(logs.String(), "released the claims of an instance that is gone") {
		t.Errorf("the dead process's feed waited %s:\n%s", took, logs)
	}
	_ = cmd.Process.Kill()
	_ = cmd.Wait()
	if got := count("SELECT count(*) FROM items"); got != itemsBefore+2 {
		t.Fatalf("items after restart = %d, want %d", got, itemsBefore+2)
	}
	if dup := count("SELECT count(*) FROM (SELECT key FROM items GROUP BY key HAVING count(*) > 1) d"); dup != 0 {
		t.Fatalf("%d duplicated items", dup)
	}
	if n := count("SELECT count(*) FROM polls p JOIN feeds f ON f.id = p.feed_id WHERE f.name <> 'Slow'"); n < 9 {
		t.Fatalf("%d polls of the other feeds", n)
	}
}
