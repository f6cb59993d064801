package ingest

import (
	"net/http"
	"strconv"
	"strings"
	"time"
)

// What servers say about when to come back: Retry-After on 429 and 503,
// Cache-Control and Expires on every response, and permanent redirects.

// retryAfter reads a Retry-After value, in seconds or as an HTTP date; the
// zero time when it is absent or unreadable.
func retryAfter(v string, now time.Time) time.Time {
	v = strings.TrimSpace(v)
	if v == "" {
		return time.Time{}
	}
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		if secs < 0 {
			return time.Time{}
		}
		// Beyond a year is nonsense; the scheduler caps it anyway.
		return now.Add(time.Duration(min(secs, 366*24*3600)) * time.Second)
	}
	if t, err := http.ParseTime(v); err == nil {
		return t
	}
	return time.Time{}
}

// cacheLifetime is how long a response stays fresh by its headers: max-age
// of Cache-Control, else Expires minus Date. no-cache and no-store mean 0.
func cacheLifetime(h http.Header, now time.Time) time.Duration {
	if cc := h.Get("Cache-Control"); cc != "" {
		for _, d := range strings.Split(cc, ",") {
			name, val, _ := strings.Cut(strings.TrimSpace(d), "=")
			switch strings.ToLower(name) {
			case "no-cache", "no-store":
				return 0
			case "max-age":
				if secs, err := strconv.ParseInt(strings.Trim(val, `"`), 10, 64); err == nil && secs > 0 {
					return time.Duration(min(secs, 366*24*3600)) * time.Second
				}
				return 0
			}
		}
	}
	if exp := h.Get("Expires"); exp != "" {
		t, err := http.ParseTime(exp)
		if err != nil {
			return 0 // "Expires: 0" and the like: already stale
		}
		base := now
		if d, err := http.ParseTime(h.Get("Date")); err == nil {
			base = d // the server's own clock, as the header is relative to it
		}
		if d := t.Sub(base); d > 0 {
			return d
		}
	}
	return 0
}

// movedTo is the final URL when every redirect on the way to resp was
// permanent (301 or 308), and "" otherwise: a temporary redirect says
// nothing about where the feed lives.
func movedTo(resp *http.Response) string {
	req := resp.Request
	if req == nil || req.Response == nil {
		return "" // no redirect at all
	}
	for r := req; r != nil && r.Response != nil; r = r.Response.Request {
		switch r.Response.StatusCode {
		case http.StatusMovedPermanently, http.StatusPermanentRedirect:
		default:
			return ""
		}
	}
	return req.URL.String()
}
