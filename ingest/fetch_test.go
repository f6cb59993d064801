package ingest

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"testing/iotest"
	"time"
)

func testFetcher() *Fetcher {
	return NewFetcher(FetchOptions{UserAgent: "wirewatch-test/1", Timeout: 2 * time.Second, MaxBodySize: 1 << 20, AllowPrivateNetworks: true})
}

const rssFeed = `<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0"><channel><title>Test Wire</title><link>https://wire.example/</link>
<item><title>Haftar forces advance on Tripoli</title><link>https://wire.example/a</link><guid>a</guid>
  <description>&lt;p&gt;Forces loyal to Khalifa Haftar moved west.&lt;/p&gt;</description><pubDate>Thu, 07 May 2020 16:20:00 GMT</pubDate></item>
<item><title>Markets rally</title><link>https://wire.example/b</link><guid>b</guid><description>Stocks rose.</description></item>
</channel></rss>`

func TestFetchConditionalGET(t *testing.T) {
	t.Parallel()
	var gotUA string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotUA = r.Header.Get("User-Agent")
		if r.Header.Get("If-None-Match") == `"v1"` {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		w.Header().Set("ETag", `"v1"`)
		w.Header().Set("Last-Modified", "Thu, 07 May 2020 16:20:00 GMT")
		w.Write([]byte(rssFeed))
	}))
	t.Cleanup(srv.Close)
	f := testFetcher()
	resp, err := f.Fetch(context.Background(), srv.URL, Validators{})
	if err != nil {
		t.Fatal(err)
	}
	if resp.NotModified || resp.Status != 200 || string(resp.Body) != rssFeed || resp.Validators.ETag != `"v1"` {
		t.Fatalf("first fetch = %+v", resp)
	}
	if gotUA != "wirewatch-test/1" {
		t.Errorf("User-Agent = %q", gotUA)
	}
	resp, err = f.Fetch(context.Background(), srv.URL, resp.Validators)
	if err != nil {
		t.Fatal(err)
	}
	if !resp.NotModified || resp.Status != 304 || resp.Validators.ETag != `"v1"` {
		t.Fatalf("conditional fetch = %+v", resp)
	}
}

func TestFetchGzipIsDecodedAndCapped(t *testing.T) {
	t.Parallel()
	gz := func(b []byte) []byte {
		var buf bytes.Buffer
		zw := gzip.NewWriter(&buf)
		zw.Write(b)
		zw.Close()
		return buf.Bytes()
	}
	small := gz([]byte(rssFeed))
	bomb := gz(bytes.Repeat([]byte("A"), 8<<20)) // 8 KiB on the wire, 8 MiB inflated
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Encoding", "gzip")
		if r.URL.Path == "/bomb" {
			w.Write(bomb)
			return
		}
		w.Write(small)
	}))
	t.Cleanup(srv.Close)
	f := testFetcher()
	resp, err := f.Fetch(context.Background(), srv.URL+"/feed", Validators{})
	if err != nil || string(resp.Body) != rssFeed {
		t.Fatalf("gzip feed: %v, %q", err, resp.Body)
	}
	_, err = f.Fetch(context.Background(), srv.URL+"/bomb", Validators{})
	if ErrorKind(err) != KindTooLarge {
		t.Fatalf("gzip bomb: %v, want kind %s", err, KindTooLarge)
	}
}

func TestFetchFailures(t *testing.T) {
	t.Parallel()
	mux := http.NewServeMux()
	mux.HandleFunc("/500", func(w http.ResponseWriter, r *http.Request) { http.Error(w, "boom", 500) })
	mux.HandleFunc("/404", http.NotFound)
	mux.HandleFunc("/big", func(w http.ResponseWriter, r *http.Request) { w.Write(bytes.Repeat([]byte("x"), 2<<20)) })
	mux.HandleFunc("/big-declared", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", fmt.Sprint(2<<20))
		w.Write(bytes.Repeat([]byte("x"), 2<<20))
	})
	mux.HandleFunc("/loop", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/loop2", http.StatusFound) })
	mux.HandleFunc("/loop2", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/loop", http.StatusFound) })
	mux.HandleFunc("/slow", func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-time.After(10 * time.Second):
		case <-r.Context().Done():
		}
	})
	mux.HandleFunc("/cut", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "10000")
		w.Write([]byte(rssFeed[:100]))
		// Close the connection with the body half sent.
		conn, _, _ := w.(http.Hijacker).Hijack()
		conn.Close()
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)

	closed, _ := net.Listen("tcp", "127.0.0.1:0")
	refused := "http://" + closed.Addr().String() + "/feed"
	closed.Close()

	tests := map[string]struct {
		url    string
		kind   string
		status int
	}{
		"server error":        {srv.URL + "/500", KindHTTP, 500},
		"not found":           {srv.URL + "/404", KindHTTP, 404},
		"too large":           {srv.URL + "/big", KindTooLarge, 200},
		"too large, declared": {srv.URL + "/big-declared", KindTooLarge, 200},
		"redirect loop":       {srv.URL + "/loop", KindRedirect, 0},
		"timeout":             {srv.URL + "/slow", KindTimeout, 0},
		"cut mid-body":        {srv.URL + "/cut", KindNetwork, 200},
		"connection refused":  {refused, KindConnect, 0},
		"no such file":        {"file:///nonexistent/feed.xml", KindFile, 0},
		"bad scheme":          {"gopher://example.com/", KindRequest, 0},
	}
	f := testFetcher()
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			resp, err := f.Fetch(context.Background(), tc.url, Validators{})
			if ErrorKind(err) != tc.kind {
				t.Fatalf("err = %v (kind %q), want kind %q", err, ErrorKind(err), tc.kind)
			}
			status := 0
			if resp != nil {
				status = resp.Status
			}
			if status != tc.status {
				t.Errorf("status = %d, want %d", status, tc.status)
			}
		})
	}
}

// By default the fetcher refuses loopback and private addresses, checked on
// the address dialed, so a redirect to one is refused too.
func TestFetchRefusesPrivateNetworks(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte(rssFeed)) }))
	t.Cleanup(srv.Close)
	f := NewFetcher(FetchOptions{UserAgent: "t", Timeout: 2 * time.Second, MaxBodySize: 1 << 20})
	_, err := f.Fetch(context.Background(), srv.URL, Validators{})
	var fe *FetchError
	if !errors.As(err, &fe) || fe.Kind != KindBlocked || !strings.Contains(err.Error(), "allow_private_networks") {
		t.Fatalf("err = %v, want kind %s naming the setting", err, KindBlocked)
	}
	for _, ip := range []string{"10.1.2.3", "192.168.0.1", "169.254.169.254", "::1", "fd00::1", "100.64.0.1", "0.0.0.0"} {
		if isPublic(net.ParseIP(ip)) {
			t.Errorf("%s counted as public", ip)
		}
	}
	for _, ip := range []string{"8.8.8.8", "151.101.1.69", "2a00:1450:4001:80b::200e"} {
		if !isPublic(net.ParseIP(ip)) {
			t.Errorf("%s counted as private", ip)
		}
	}
}

func TestFetchFile(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "feed.xml")
	if err := os.WriteFile(path, []byte(rssFeed), 0o644); err != nil {
		t.Fatal(err)
	}
	resp, err := testFetcher().Fetch(context.Background(), "file://"+path, Validators{})
	if err != nil || string(resp.Body) != rssFeed || resp.Status != 0 {
		t.Fatalf("file fetch: %v %+v", err, resp)
	}
}

func TestParse(t *testing.T) {
	t.Parallel()
	atom := `<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"><title>A</title>
<link href="https://atom.example/"/><entry><id>tag:atom.example,2020:1</id><title type="html">Libya &amp;lt;b&amp;gt;talks&amp;lt;/b&amp;gt;</title>
<link href="/2020/05/talks"/><updated>2020-05-07T10:00:00Z</updated><author><name>Desk</name></author>
<content type="html">&lt;p&gt;Full text&lt;/p&gt;</content></entry></feed>`
	jsonFeed := `{"version":"https://jsonfeed.org/version/1.1","title":"J","items":[{"id":"1","url":"https://j.example/1","title":"Assad decree","content_html":"<p>x</p>","date_published":"2020-05-07T10:00:00Z"}]}`
	tests := map[string]struct {
		body      string
		items     int
		firstLink string
		kind      string
	}{
		"rss":         {body: rssFeed, items: 2, firstLink: "https://wire.example/a"},
		"atom":        {body: atom, items: 1, firstLink: "/2020/05/talks"},
		"json feed":   {body: jsonFeed, items: 1, firstLink: "https://j.example/1"},
		"html page":   {body: "<!DOCTYPE html><html><body>Not a feed</body></html>", kind: KindParse},
		"garbage":     {body: "\x00\x01\x02 garbage", kind: KindParse},
		"truncated":   {body: rssFeed[:300], kind: KindParse},
		"empty":       {body: "  \n", kind: KindParse},
		"broken json": {body: `{"version": "https://jsonfeed.org/version/1.1", "items": [`, kind: KindParse},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			feed, err := Parse([]byte(tc.body), "")
			if tc.kind != "" {
				if ErrorKind(err) != tc.kind {
					t.Fatalf("err = %v, want kind %s", err, tc.kind)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(feed.Items) != tc.items || feed.Items[0].Link != tc.firstLink || feed.Items[0].PublishedAt == nil {
				t.Fatalf("feed = %+v", feed)
			}
		})
	}
}

// A released body's buffer is read into by the next fetch: nothing parsed
// from the first body may still point into it.
func TestReleasedBodyLeavesParsedItemsAlone(t *testing.T) {
	t.Parallel()
	other := strings.NewReplacer("Haftar forces advance on Tripoli", "XXXXXX XXXXXX XXXXXXX XX XXXXXXX",
		"Markets rally", "XXXXXXXXXXXXX", "wire.example", "xxxx.xxxxxxx").Replace(rssFeed)
	for _, format := range []string{"rss", "json"} {
		t.Run(format, func(t *testing.T) {
			t.Parallel()
			first, second := rssFeed, other
			if format == "json" {
				first = `{"version": "https://jsonfeed.org/version/1.1", "title": "Test Wire", "items": [
					{"id": "a", "url": "https://wire.example/a", "title": "Haftar forces advance on Tripoli",
					 "content_html": "<p>Forces loyal to Khalifa Haftar moved west.</p>"}]}`
				second = strings.Repeat("x", len(first))
			}
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path == "/second" {
					w.Write([]byte(second))
					return
				}
				w.Write([]byte(first))
			}))
			t.Cleanup(srv.Close)
			f := testFetcher()
			resp, err := f.Fetch(context.Background(), srv.URL+"/first", Validators{})
			if err != nil {
				t.Fatal(err)
			}
			feed, err := Parse(resp.Body, resp.ContentType)
			if err != nil {
				t.Fatal(err)
			}
			resp.Release()
			if resp.Body != nil {
				t.Fatal("Release left the body")
			}
			for range 3 { // the pool may hand out another buffer first
				r, err := f.Fetch(context.Background(), srv.URL+"/second", Validators{})
				if err != nil {
					t.Fatal(err)
				}
				r.Release()
			}
			if it := feed.Items[0]; feed.Title != "Test Wire" || it.Title != "Haftar forces advance on Tripoli" ||
				it.Link != "https://wire.example/a" || !strings.Contains(it.Summary+it.Content, "Khalifa Haftar") {
				t.Fatalf("parsed feed changed after its body was released: %+v", feed)
			}
		})
	}
}

// readCapped reads whole bodies of every size up to its limit, whether or
// not they fit the pooled buffer, and refuses a byte more.
func TestReadCapped(t *testing.T) {
	t.Parallel()
	const limit = 100 << 10
	for _, n := range []int{0, 1, 32<<10 - 1, 32 << 10, 32<<10 + 1, 70 << 10, limit} {
		want := bytes.Repeat([]byte("0123456789abcdef"), n/16+1)[:n]
		for range 2 { // a fresh buffer, then a pooled one
			buf, err := readCapped(iotest.HalfReader(bytes.NewReader(want)), limit)
			if err != nil || !bytes.Equal(*buf, want) {
				t.Fatalf("%d bytes: read %d, %v", n, len(*buf), err)
			}
			putBody(buf)
		}
	}
	_, err := readCapped(bytes.NewReader(make([]byte, limit+1)), limit)
	var fe *FetchError
	if !errors.As(err, &fe) || fe.Kind != KindTooLarge {
		t.Fatalf("one byte over the limit: %v", err)
	}
	_, err = readCapped(iotest.TimeoutReader(bytes.NewReader(make([]byte, 50<<10))), limit)
	if !errors.Is(err, iotest.ErrTimeout) {
		t.Fatalf("a failing reader: %v", err)
	}
}

// A body refused for its size costs about the limit in memory, not twice
// it: what was read is never copied. Not parallel, so that the
// allocation counter counts this test's alone.
func TestReadCappedRefusedCostsTheLimit(t *testing.T) {
	const limit = 8 << 20
	body := make([]byte, 3*limit)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, err := readCapped(bytes.NewReader(body), limit)
	runtime.ReadMemStats(&after)
	var fe *FetchError
	if !errors.As(err, &fe) || fe.Kind != KindTooLarge {
		t.Fatalf("over the limit: %v", err)
	}
	if got := after.TotalAlloc - before.TotalAlloc; got > limit*3/2 {
		t.Fatalf("refusing a body over a limit of %d MiB allocated %.1f MiB", limit>>20, float64(got)/(1<<20))
	}
}
