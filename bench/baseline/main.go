// Command baseline is what the benchmarks compare wirewatch with: it
// fetches a list of feeds and parses each with gofeed, with the given
// parallelism, and stores nothing. It is the least a feed poller has to do.
//
//	baseline -urls FILE [-workers 16] [-save-validators F] [-validators F]
//
// With -validators it sends each feed's ETag and Last-Modified from F (as
// written by -save-validators on an earlier pass), so a server that has not
// changed answers 304 and nothing is parsed. It prints one summary line,
// and exits 1 when a feed failed.
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mmcdole/gofeed"
)

type validators struct {
	ETag         string `json:"etag,omitempty"`
	LastModified string `json:"last_modified,omitempty"`
}

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "baseline:", err)
		os.Exit(1)
	}
}

func run() error {
	urlsPath := flag.String("urls", "", "file of feed URLs, one a line")
	workers := flag.Int("workers", 16, "feeds fetched and parsed at once")
	save := flag.String("save-validators", "", "write each feed's ETag and Last-Modified to this file")
	load := flag.String("validators", "", "send the ETags and Last-Modified read from this file")
	flag.Parse()
	urls, err := readLines(*urlsPath)
	if err != nil {
		return err
	}
	known := map[string]validators{}
	if *load != "" {
		data, err := os.ReadFile(*load)
		if err != nil {
			return err
		}
		if err := json.Unmarshal(data, &known); err != nil {
			return fmt.Errorf("%s: %w", *load, err)
		}
	}

	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{
		DialContext:         (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:        100,
		MaxIdleConnsPerHost: 4,
		IdleConnTimeout:     90 * time.Second,
	}}
	var (
		ok, notModified, failed, items atomic.Int64
		mu                             sync.Mutex
		seen                           = make(map[string]validators, len(urls))
		firstErr                       error
	)
	start := time.Now()
	next := make(chan string)
	var wg sync.WaitGroup
	for range max(1, *workers) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for u := range next {
				v, n, err := poll(client, u, known[u])
				switch {
				case err != nil:
					failed.Add(1)
					mu.Lock()
					if firstErr == nil {
						firstErr = fmt.Errorf("%s: %w", u, err)
					}
					mu.Unlock()
				case n < 0:
					notModified.Add(1)
				default:
					ok.Add(1)
					items.Add(int64(n))
				}
				if *save != "" && err == nil {
					mu.Lock()
					seen[u] = v
					mu.Unlock()
				}
			}
		}()
	}
	for _, u := range urls {
		next <- u
	}
	close(next)
	wg.Wait()
	elapsed := time.Since(start)
	fmt.Printf("baseline: %d feeds in %s: %d ok, %d not modified, %d failed; %d items parsed\n",
		len(urls), elapsed.Round(time.Millisecond), ok.Load(), notModified.Load(), failed.Load(), items.Load())
	if *save != "" {
		data, err := json.Marshal(seen)
		if err != nil {
			return err
		}
		if err := os.WriteFile(*save, data, 0o644); err != nil {
			return err
		}
	}
	if firstErr != nil {
		return fmt.Errorf("%d feeds failed; the first: %w", failed.Load(), firstErr)
	}
	return nil
}

// poll fetches one feed and parses it; n is its number of items, or -1
// when the server answered 304.
func poll(client *http.Client, url string, v validators) (validators, int, error) {
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		return v, 0, err
	}
	req.Header.Set("User-Agent", "wirewatch-baseline/1")
	if v.ETag != "" {
		req.Header.Set("If-None-Match", v.ETag)
	}
	if v.LastModified != "" {
		req.Header.Set("If-Modified-Since", v.LastModified)
	}
	resp, err := client.Do(req)
	if err != nil {
		return v, 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusNotModified {
		return v, -1, nil
	}
	if resp.StatusCode != http.StatusOK {
		_, _ = io.Copy(io.Discard, resp.Body)
		return v, 0, fmt.Errorf("HTTP %s", resp.Status)
	}
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return v, 0, err
	}
	f, err := gofeed.NewParser().Parse(bytes.NewReader(body))
	if err != nil {
		return v, 0, err
	}
	return validators{ETag: resp.Header.Get("ETag"), LastModified: resp.Header.Get("Last-Modified")}, len(f.Items), nil
}

func readLines(path string) ([]string, error) {
	if path == "" {
		return nil, errors.New("-urls is required")
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if line := strings.TrimSpace(sc.Text()); line != "" && !strings.HasPrefix(line, "#") {
			out = append(out, line)
		}
	}
	return out, sc.Err()
}
