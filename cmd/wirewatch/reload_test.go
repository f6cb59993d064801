package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/wirewatch/wirewatch/storage/storagetest"
)

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// The daemon takes up a changed config without a restart, keeps the last
// good one when the new one is invalid, and says so in its log, metrics and
// /readyz.
func TestDaemonReloadsConfig(t *testing.T) {
	t.Parallel()
	dbURL := storagetest.Schema(t)
	demo := serveDir(t, "../../demo/feeds")
	addr := freeAddr(t)
	httpSection := fmt.Sprintf("http:\n  listen: %s\n", addr)
	// Two feeds first; the reload adds the rest.
	base := func(feeds []string, extra string) string {
		var b strings.Builder
		b.WriteString("schedule: '@every 1h'\nfeeds:\n")
		for _, f := range feeds {
			fmt.Fprintf(&b, "  - url: %s/%s\n", demo.URL, f)
		}
		b.WriteString(extra)
		b.WriteString(demoWatchlist(t))
		b.WriteString(httpSection + "fetch:\n  allow_private_networks: true\n  timeout: 5s\n")
		return b.String()
	}
	cfg := writeConfig(t, base([]string{"harbourpost-world.xml", "levant-ledger.atom"}, ""))
	pool, err := pgxpool.New(context.Background(), dbURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	polled := func() int {
		var n int
		if err := pool.QueryRow(context.Background(), "SELECT count(DISTINCT feed_id) FROM polls").Scan(&n); err != nil {
			return -1
		}
		return n
	}

	cmd := exec.Command(binary, "run", "--migrate", "--config", cfg)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "DATABASE_URL=" + dbURL}
	logs := &syncBuffer{}
	cmd.Stderr = logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	waitUntil(t, logs, func() bool { return polled() == 2 })
	metrics := "http://" + addr + "/metrics"
	waitUntil(t, logs, func() bool {
		_, body := get(t, metrics)
		return strings.Contains(body, "wirewatch_config_last_reload_success 1") &&
			strings.Contains(body, `wirewatch_polls_total{kind="",outcome="ok",status="200"} 2`) &&
			strings.Contains(body, "wirewatch_db_pool_connections")
	})

	// A change to the file: a third feed, taken up without a restart.
	if err := os.WriteFile(cfg, []byte(base([]string{"harbourpost-world.xml", "levant-ledger.atom", "sahel-tribune.xml"}, "")), 0o644); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, logs, func() bool { return polled() == 3 && strings.Contains(logs.String(), "configuration reloaded") })

	// A broken file: the daemon runs on with the last good configuration.
	broken := strings.Replace(base([]string{"harbourpost-world.xml"}, ""), "schedule:", "schedul:", 1)
	if err := os.WriteFile(cfg, []byte(broken), 0o644); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, logs, func() bool { return strings.Contains(logs.String(), "configuration not reloaded") })
	if !strings.Contains(logs.String(), "wirewatch.yaml:1:1: schedul: unknown key") {
		t.Fatalf("the reload error does not name file, line and key:\n%s", logs)
	}
	if _, body := get(t, metrics); !strings.Contains(body, "wirewatch_config_last_reload_success 0") {
		t.Fatalf("metrics after a failed reload:\n%s", body)
	}
	if code, body := get(t, "http://"+addr+"/readyz"); code != 200 || !strings.Contains(body, "last reload at") {
		t.Fatalf("/readyz after a failed reload = %d %s", code, body)
	}
	if cmd.ProcessState != nil {
		t.Fatal("the daemon stopped on a bad config")
	}

	// Fixed, and reloaded by SIGHUP.
	if err := os.WriteFile(cfg, []byte(base([]string{"harbourpost-world.xml", "levant-ledger.atom", "sahel-tribune.xml", "northgate-news.xml"}, "")), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, logs, func() bool {
		_, body := get(t, metrics)
		return polled() == 4 && strings.Contains(body, "wirewatch_config_last_reload_success 1")
	})
	if code, body := get(t, "http://"+addr+"/readyz"); code != 200 || !strings.Contains(body, `"config":"ok"`) {
		t.Fatalf("/readyz after a good reload = %d %s", code, body)
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("daemon exited with %v:\n%s", err, logs)
		}
	case <-time.After(15 * time.Second):
		t.Fatalf("daemon did not stop:\n%s", logs)
	}
}
