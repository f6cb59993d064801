package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCPUProfileOptIn(t *testing.T) {
	var stderr bytes.Buffer
	startCPUProfile(func(string) string { return "" }, &stderr)() // unset: nothing happens

	path := filepath.Join(t.TempDir(), "cpu.prof")
	stop := startCPUProfile(func(k string) string {
		if k == "WIREWATCH_CPUPROFILE" {
			return path
		}
		return ""
	}, &stderr)
	stop()
	data, err := os.ReadFile(path)
	if err != nil || len(data) < 2 || data[0] != 0x1f || data[1] != 0x8b {
		t.Fatalf("want a gzipped pprof profile at %s, got %d bytes, %v", path, len(data), err)
	}

	startCPUProfile(func(string) string { return filepath.Join(path, "no", "such", "dir") }, &stderr)()
	if !strings.Contains(stderr.String(), "WIREWATCH_CPUPROFILE") {
		t.Fatalf("an unwritable profile path must be reported, got %q", stderr.String())
	}
}
