package main

import (
	"io"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/wirewatch/wirewatch/storage/storagetest"
)

// A server that other machines could reach must ask for credentials: the
// configuration is refused without them, naming the key, and the secret
// never shows in what the program prints.
func TestNonLoopbackListenNeedsCredentials(t *testing.T) {
	t.Parallel()
	const token = "7f3c9e1d2b4a6f8e0c1d3b5a7e9f2c4d"
	cfg := writeConfig(t, "feeds: [{url: 'https://example.com/rss'}]\n"+watchlistYAML+"http:\n  listen: 0.0.0.0:8080\n")
	for _, cmd := range []string{"check-config", "run"} {
		r := wirewatch(t, "", nil, cmd, "--config", cfg)
		if r.code != 2 || !strings.Contains(r.stderr, "http.listen: 0.0.0.0:8080 is not a loopback address") ||
			!strings.Contains(r.stderr, "http.token_file") {
			t.Fatalf("%s without credentials: exit %d\n%s", cmd, r.code, r.stderr)
		}
	}
	r := wirewatch(t, "", []string{"WIREWATCH_HTTP_TOKEN=" + token}, "check-config", "--config", cfg)
	if r.code != 0 || !strings.Contains(r.stdout, "http:       0.0.0.0:8080, credentials from WIREWATCH_HTTP_TOKEN") ||
		strings.Contains(r.stdout+r.stderr, token) {
		t.Fatalf("check-config with a token: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	r = wirewatch(t, "", []string{"WIREWATCH_HTTP_TOKEN=short"}, "check-config", "--config", cfg)
	if r.code != 2 || !strings.Contains(r.stderr, "WIREWATCH_HTTP_TOKEN: want a token of at least 16 characters") ||
		strings.Contains(r.stderr, "short\n") {
		t.Fatalf("check-config with a short token: exit %d\n%s", r.code, r.stderr)
	}
}

// The daemon serves the review page beside the health endpoints; with
// credentials, everything but /healthz and /readyz asks for them.
func TestDaemonServesReviewPage(t *testing.T) {
	t.Parallel()
	dbURL := storagetest.Schema(t)
	demo := serveDir(t, "../../demo/feeds")
	addr := freeAddr(t)
	cfg := demoConfig(t, demo.URL, "")
	body, err := os.ReadFile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(cfg, []byte(strings.Replace(string(body), "listen: 'off'", "listen: "+addr, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	const password = "a long passphrase"
	cmd := exec.Command(binary, "run", "--migrate", "--config", cfg)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "DATABASE_URL=" + dbURL, "WIREWATCH_HTTP_BASIC_AUTH=analyst:" + password}
	logs := &syncBuffer{}
	cmd.Stderr = logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })

	base := "http://" + addr
	waitUntil(t, logs, func() bool { code, _ := get(t, base+"/readyz"); return code == 200 })
	request := func(path string, auth bool) (int, string) {
		t.Helper()
		req, err := http.NewRequest("GET", base+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		if auth {
			req.SetBasicAuth("analyst", password)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode, resp.Header.Get("Content-Security-Policy") + "\n" + string(b)
	}
	if code, _ := request("/healthz", false); code != 200 {
		t.Errorf("/healthz without credentials = %d", code)
	}
	for _, path := range []string{"/", "/api/matches", "/export.csv", "/metrics"} {
		if code, _ := request(path, false); code != 401 {
			t.Errorf("%s without credentials = %d, want 401", path, code)
		}
	}
	waitUntil(t, logs, func() bool {
		code, page := request("/?watch=Wagner", true)
		return code == 200 && strings.Contains(page, "frame-ancestors 'none'") &&
			strings.Contains(page, "Explainer: who are the Wagner Group") && strings.Contains(page, "<mark>")
	})
	if code, metrics := request("/metrics", true); code != 200 || !strings.Contains(metrics, "wirewatch_build_info") {
		t.Errorf("/metrics with credentials = %d", code)
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(15 * time.Second):
		t.Fatal("the daemon did not stop")
	}
	if !strings.Contains(logs.String(), "credentials from WIREWATCH_HTTP_BASIC_AUTH") || strings.Contains(logs.String(), password) {
		t.Errorf("the log should name where the credentials came from, and only that:\n%s", logs)
	}
}
