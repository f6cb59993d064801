package main

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// entry is one feed as served: its body in both encodings, with validators.
type entry struct {
	path        string
	contentType string
	body, gz    []byte
	etag, gzTag string
	modified    time.Time

	items, mentions, traps, wires int
}

func newEntry(f *feed, self string) *entry {
	body := f.render(self)
	var zb bytes.Buffer
	// Level 1, as web servers compress by default.
	zw, _ := gzip.NewWriterLevel(&zb, gzip.BestSpeed)
	_, _ = zw.Write(body)
	_ = zw.Close()
	sum := sha256.Sum256(body)
	tag := hex.EncodeToString(sum[:10])
	e := &entry{path: f.path(), contentType: f.contentType(), body: body, gz: zb.Bytes(),
		etag: `"` + tag + `"`, gzTag: `"` + tag + `-gzip"`, modified: epoch, items: len(f.items)}
	if len(f.items) > 0 {
		e.modified = f.items[0].published.Add(time.Minute).Truncate(time.Second)
	}
	for _, it := range f.items {
		if len(it.mentions) > 0 {
			e.mentions++
		}
		if it.trap {
			e.traps++
		}
		if it.wire > 0 {
			e.wires++
		}
	}
	return e
}

type summary struct {
	items, mentions, traps, wires int
	bytes, gzBytes                int64
}

func (s *summary) add(e *entry) {
	s.items += e.items
	s.mentions += e.mentions
	s.traps += e.traps
	s.wires += e.wires
	s.bytes += int64(len(e.body))
	s.gzBytes += int64(len(e.gz))
}

// server answers feed requests; it is read-only once generated.
type server struct {
	byPath  map[string]*entry
	summary summary
	stats   counters
}

func newServer() *server { return &server{byPath: map[string]*entry{}} }

// counters are the request counts /_farm/stats reports.
type counters struct {
	requests, ok, notModified, conditional, gzipped, notFound, bytes atomic.Int64
}

func (c *counters) reset() {
	for _, v := range []*atomic.Int64{&c.requests, &c.ok, &c.notModified, &c.conditional, &c.gzipped, &c.notFound, &c.bytes} {
		v.Store(0)
	}
}

func (s *server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/_farm/stats":
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{
			"requests": s.stats.requests.Load(), "ok": s.stats.ok.Load(), "not_modified": s.stats.notModified.Load(),
			"conditional": s.stats.conditional.Load(), "gzipped": s.stats.gzipped.Load(),
			"not_found": s.stats.notFound.Load(), "bytes_sent": s.stats.bytes.Load(),
			"feeds": len(s.byPath), "items": s.summary.items, "mentions": s.summary.mentions,
		})
		return
	case "/_farm/reset":
		if r.Method == http.MethodPost {
			s.stats.reset()
		}
		w.WriteHeader(http.StatusNoContent)
		return
	}
	s.stats.requests.Add(1)
	e := s.byPath[r.URL.Path]
	if e == nil || (r.Method != http.MethodGet && r.Method != http.MethodHead) {
		s.stats.notFound.Add(1)
		http.NotFound(w, r)
		return
	}
	body, tag := e.body, e.etag
	h := w.Header()
	h.Set("Vary", "Accept-Encoding")
	if acceptsGzip(r.Header.Get("Accept-Encoding")) {
		body, tag = e.gz, e.gzTag
		h.Set("Content-Encoding", "gzip")
	}
	h.Set("ETag", tag)
	h.Set("Last-Modified", e.modified.Format(http.TimeFormat))
	inm, ims := r.Header.Get("If-None-Match"), r.Header.Get("If-Modified-Since")
	if inm != "" || ims != "" {
		s.stats.conditional.Add(1)
	}
	if notModified(inm, ims, tag, e.modified) {
		h.Del("Content-Encoding")
		s.stats.notModified.Add(1)
		w.WriteHeader(http.StatusNotModified)
		return
	}
	h.Set("Content-Type", e.contentType)
	h.Set("Content-Length", strconv.Itoa(len(body)))
	s.stats.ok.Add(1)
	if h.Get("Content-Encoding") == "gzip" {
		s.stats.gzipped.Add(1)
	}
	if r.Method == http.MethodHead {
		return
	}
	n, _ := w.Write(body)
	s.stats.bytes.Add(int64(n))
}

// acceptsGzip reads an Accept-Encoding header: gzip (or *) with a q above 0.
func acceptsGzip(header string) bool {
	for _, part := range strings.Split(header, ",") {
		name, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		name = strings.ToLower(strings.TrimSpace(name))
		if name != "gzip" && name != "x-gzip" && name != "*" {
			continue
		}
		q := strings.ReplaceAll(strings.TrimSpace(params), " ", "")
		if q == "q=0" || q == "q=0.0" || q == "q=0.00" || q == "q=0.000" {
			return false
		}
		return true
	}
	return false
}

// notModified applies RFC 9110: If-None-Match when present (weak
// comparison), else If-Modified-Since.
func notModified(inm, ims, tag string, modified time.Time) bool {
	if inm != "" {
		for _, t := range strings.Split(inm, ",") {
			t = strings.TrimPrefix(strings.TrimSpace(t), "W/")
			if t == "*" || t == tag {
				return true
			}
		}
		return false
	}
	if ims != "" {
		if t, err := http.ParseTime(ims); err == nil && !modified.After(t) {
			return true
		}
	}
	return false
}
