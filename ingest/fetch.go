// Package ingest polls feeds: it schedules polls, fetches each feed over
// HTTP (or from a file), parses it with gofeed, hands its items to classify
// and stores the matches through storage, one transaction per poll. It also
// finds the feeds a web page offers (Discover), with the same fetcher.
package ingest

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"syscall"
	"time"
)

// FetchOptions configures a Fetcher.
type FetchOptions struct {
	UserAgent            string
	Timeout              time.Duration // whole request, body included
	MaxBodySize          int64         // after decompression
	AllowPrivateNetworks bool
	PerHostConcurrency   int           // requests in flight to one host; 0 means 2
	PerHostInterval      time.Duration // least time between the starts of two requests to one host
}

// Fetcher fetches feeds with one shared HTTP client, so connections to a
// host are reused across feeds and polls.
type Fetcher struct {
	client  *http.Client
	opts    FetchOptions
	headers http.Header
	hosts   *hostLimiter
}

// NewFetcher returns a Fetcher with the limits in opts.
func NewFetcher(opts FetchOptions) *Fetcher {
	dialer := &net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}
	if !opts.AllowPrivateNetworks {
		// Checked on the address actually dialed, after DNS resolution, so a
		// redirect or a name that resolves to an internal address is caught.
		dialer.Control = refusePrivate
	}
	transport := &http.Transport{
		DialContext:           dialer.DialContext,
		ForceAttemptHTTP2:     true,
		TLSHandshakeTimeout:   10 * time.Second,
		ResponseHeaderTimeout: 30 * time.Second,
		ExpectContinueTimeout: time.Second,
		IdleConnTimeout:       90 * time.Second,
		MaxIdleConns:          100,
		MaxIdleConnsPerHost:   4,
		TLSClientConfig:       &tls.Config{MinVersion: tls.VersionTLS12},
	}
	h := http.Header{}
	h.Set("User-Agent", opts.UserAgent)
	h.Set("Accept", "application/rss+xml, application/atom+xml, application/feed+json, application/xml;q=0.9, text/xml;q=0.9, application/json;q=0.8, */*;q=0.5")
	return &Fetcher{
		client: &http.Client{
			Transport: transport,
			Timeout:   opts.Timeout,
			CheckRedirect: func(req *http.Request, via []*http.Request) error {
				if len(via) >= 10 {
					return &FetchError{Kind: KindRedirect, Err: errors.New("more than 10 redirects")}
				}
				for _, prev := range via {
					if prev.URL.String() == req.URL.String() {
						return &FetchError{Kind: KindRedirect, Err: fmt.Errorf("redirect loop at %s", req.URL)}
					}
				}
				return nil
			},
		},
		opts:    opts,
		headers: h,
		hosts:   newHostLimiter(cmpOr(opts.PerHostConcurrency, 2), opts.PerHostInterval),
	}
}

func cmpOr(v, fallback int) int {
	if v > 0 {
		return v
	}
	return fallback
}

// Validators are what a conditional request sends back to the server.
type Validators struct {
	ETag         string
	LastModified string
}

// Response is a fetched feed body, or the news that it has not changed.
type Response struct {
	Status      int // HTTP status; 0 for file feeds
	NotModified bool
	Body        []byte
	ContentType string
	Validators  Validators // the new ones to store
	FinalURL    string     // after redirects
	// MovedTo is FinalURL when every redirect on the way was permanent
	// (301 or 308): the feed says it lives there now.
	MovedTo string
	// Queued is how long the request waited for its turn at the host.
	Queued time.Duration
	// CacheFor is how long the server says the response stays fresh
	// (Cache-Control max-age, or Expires); 0 when it says nothing.
	CacheFor time.Duration

	buf *[]byte // Body's, from bodyBuffers
}

// Release gives the body's memory back for the next fetch; Body is nil
// afterwards and must not be used, nor anything that aliases it.
func (r *Response) Release() {
	if r == nil || r.buf == nil {
		return
	}
	r.Body = nil
	putBody(r.buf)
	r.buf = nil
}

// bodyBuffers are the buffers bodies are read into. A poll that gives its
// buffer back once its feed is parsed (Response.Release) saves the next
// one growing a new buffer from nothing, a copy at each doubling: the
// bodies were a tenth of all a cold ingest allocated.
var bodyBuffers = sync.Pool{New: func() any { return new([]byte) }}

func putBody(buf *[]byte) {
	if cap(*buf) <= maxPooledBody {
		*buf = (*buf)[:0]
		bodyBuffers.Put(buf)
	}
}

// maxPooledBody bounds the buffers kept: a rare huge feed's is let go.
const maxPooledBody = 1 << 20

// Fetch gets the feed at rawURL. With validators from the last poll it makes
// a conditional request, and a 304 comes back as NotModified. Every failure
// is a *FetchError with a Kind.
func (f *Fetcher) Fetch(ctx context.Context, rawURL string, v Validators) (*Response, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, &FetchError{Kind: KindRequest, Err: err}
	}
	switch u.Scheme {
	case "file":
		if err := slotFrom(ctx).take(ctx); err != nil {
			return nil, &FetchError{Kind: KindCanceled, Err: err}
		}
		return f.fetchFile(u)
	case "http", "https":
	default:
		return nil, &FetchError{Kind: KindRequest, Err: fmt.Errorf("unsupported URL scheme %q", u.Scheme)}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, rawURL, nil)
	if err != nil {
		return nil, &FetchError{Kind: KindRequest, Err: err}
	}
	req.Header = f.headers.Clone()
	if v.ETag != "" {
		req.Header.Set("If-None-Match", v.ETag)
	}
	if v.LastModified != "" {
		req.Header.Set("If-Modified-Since", v.LastModified)
	}
	// Redirects to other hosts are not counted against them; the first
	// host is the one a feed list repeats.
	host := u.Host
	queued := time.Now()
	// The waits for a turn end early when the scheduler stops: a poll that
	// has sent nothing yet gives up, unrecorded, and runs at the next start.
	waitCtx, endWait := slotFrom(ctx).waiting(ctx)
	defer endWait()
	if err := f.hosts.acquire(waitCtx, host); err != nil {
		return nil, &FetchError{Kind: KindCanceled, Err: stopCause(ctx, err)}
	}
	if err := slotFrom(ctx).take(waitCtx); err != nil {
		f.hosts.release(host, 0)
		return nil, &FetchError{Kind: KindCanceled, Err: stopCause(ctx, err)}
	}
	wait := time.Since(queued)
	status := 0
	defer func() { f.hosts.release(host, status) }()
	resp, err := f.client.Do(req)
	if err != nil {
		return nil, classifyError(ctx, err)
	}
	defer resp.Body.Close()
	status = resp.StatusCode

	out := &Response{Status: resp.StatusCode, ContentType: resp.Header.Get("Content-Type"), FinalURL: resp.Request.URL.String(), Queued: wait}
	out.MovedTo = movedTo(resp)
	out.CacheFor = cacheLifetime(resp.Header, time.Now())
	switch {
	case resp.StatusCode == http.StatusNotModified:
		out.NotModified = true
		out.Validators = v
		return out, nil
	case resp.StatusCode < 200 || resp.StatusCode > 299:
		// Drain a little so the connection can be reused.
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		fe := &FetchError{Kind: KindHTTP, Status: resp.StatusCode, Err: fmt.Errorf("HTTP %s", resp.Status)}
		switch resp.StatusCode {
		case http.StatusGone:
			fe.Kind = KindGone
		case http.StatusTooManyRequests, http.StatusServiceUnavailable:
			fe.RetryAfter = retryAfter(resp.Header.Get("Retry-After"), time.Now())
		}
		return out, fe
	}
	if resp.ContentLength > f.opts.MaxBodySize {
		// Said up front (and not a size before decompression, which the
		// transport would have dropped): refused without reading it.
		return out, &FetchError{Kind: KindTooLarge, Err: fmt.Errorf("body of %d bytes, larger than %d", resp.ContentLength, f.opts.MaxBodySize)}
	}
	// The transport has already undone gzip, so the cap applies to the
	// decompressed size: a small compressed bomb stops here.
	buf, err := readCapped(resp.Body, f.opts.MaxBodySize)
	if err != nil {
		var fe *FetchError
		if errors.As(err, &fe) {
			return out, err
		}
		return out, classifyError(ctx, err)
	}
	out.Body, out.buf = *buf, buf
	out.Validators = Validators{ETag: resp.Header.Get("ETag"), LastModified: resp.Header.Get("Last-Modified")}
	return out, nil
}

func (f *Fetcher) fetchFile(u *url.URL) (*Response, error) {
	file, err := os.Open(u.Path)
	if err != nil {
		return nil, &FetchError{Kind: KindFile, Err: err}
	}
	defer file.Close()
	buf, err := readCapped(file, f.opts.MaxBodySize)
	if err != nil {
		var fe *FetchError
		if errors.As(err, &fe) {
			return nil, err
		}
		return nil, &FetchError{Kind: KindFile, Err: err}
	}
	return &Response{Body: *buf, buf: buf, FinalURL: u.String()}, nil
}

// readCapped reads r into a buffer of bodyBuffers, up to limit bytes.
// What does not fit in the buffer is read in chunks of growing size and
// copied once, to join the buffer, only if the whole body is within the
// limit: a body refused for its size holds the limit at most, and a big
// one read whole twice its size, not the many copies of a buffer grown
// step by step.
func readCapped(r io.Reader, limit int64) (*[]byte, error) {
	buf := bodyBuffers.Get().(*[]byte)
	b := (*buf)[:0]
	if cap(b) == 0 {
		b = make([]byte, 0, 32<<10)
	}
	lr := io.LimitReader(r, limit+1)
	b, err := fill(lr, b)
	size := len(b)
	if err == nil {
		var chunks [][]byte
		// The first chunk is small: once the buffer has grown to a feed's
		// size, the next body of that feed often fills it exactly.
		for next := int64(512); err == nil && int64(size) <= limit; next *= 2 {
			var c []byte
			c, err = fill(lr, make([]byte, 0, min(next, limit+1-int64(size))))
			chunks = append(chunks, c)
			size += len(c)
		}
		if err == nil {
			err = io.EOF // over the limit; the rest is not read
		}
		if err == io.EOF && int64(size) <= limit && size > len(b) {
			whole := make([]byte, 0, size)
			whole = append(whole, b...)
			for _, c := range chunks {
				whole = append(whole, c...)
			}
			b = whole
		}
	}
	*buf = b
	switch {
	case err != io.EOF:
	case int64(size) > limit:
		err = &FetchError{Kind: KindTooLarge, Err: fmt.Errorf("body larger than %d bytes", limit)}
	default:
		return buf, nil
	}
	putBody(buf)
	return nil, err
}

// fill reads into b until it is full, r fails or r ends (io.EOF).
func fill(r io.Reader, b []byte) ([]byte, error) {
	for len(b) < cap(b) {
		n, err := r.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if err != nil {
			return b, err
		}
	}
	return b, nil
}

// refusePrivate is a net.Dialer Control function that refuses addresses a
// public feed has no business on.
func refusePrivate(network, address string, _ syscall.RawConn) error {
	host, _, err := net.SplitHostPort(address)
	if err != nil {
		return err
	}
	ip := net.ParseIP(host)
	if ip == nil || !isPublic(ip) {
		return &FetchError{Kind: KindBlocked, Err: fmt.Errorf("refusing to connect to non-public address %s (set fetch.allow_private_networks to allow it)", host)}
	}
	return nil
}

var nonPublic = func() []*net.IPNet {
	var nets []*net.IPNet
	for _, c := range []string{
		"0.0.0.0/8", "100.64.0.0/10", "192.0.0.0/24", "192.0.2.0/24", "198.18.0.0/15", "198.51.100.0/24",
		"203.0.113.0/24", "240.0.0.0/4", "64:ff9b:1::/48", "2001:db8::/32", "fc00::/7",
	} {
		_, n, _ := net.ParseCIDR(c)
		nets = append(nets, n)
	}
	return nets
}()

func isPublic(ip net.IP) bool {
	if ip.IsLoopback() || ip.IsPrivate() || ip.IsLinkLocalUnicast() || ip.IsLinkLocalMulticast() ||
		ip.IsMulticast() || ip.IsUnspecified() || ip.IsInterfaceLocalMulticast() {
		return false
	}
	for _, n := range nonPublic {
		if n.Contains(ip) {
			return false
		}
	}
	return true
}

// classifyError maps a transport error to a FetchError with a named cause.
func classifyError(ctx context.Context, err error) error {
	var fe *FetchError
	if errors.As(err, &fe) {
		return fe
	}
	if ctx.Err() != nil {
		return &FetchError{Kind: KindCanceled, Err: ctx.Err()}
	}
	var dnsErr *net.DNSError
	var netErr net.Error
	var opErr *net.OpError
	var tlsErr *tls.CertificateVerificationError
	switch {
	case errors.As(err, &dnsErr):
		return &FetchError{Kind: KindDNS, Err: dnsErr}
	case errors.As(err, &netErr) && netErr.Timeout():
		return &FetchError{Kind: KindTimeout, Err: err}
	case errors.As(err, &tlsErr), strings.Contains(err.Error(), "tls:"):
		return &FetchError{Kind: KindTLS, Err: err}
	case errors.As(err, &opErr) && opErr.Op == "dial":
		return &FetchError{Kind: KindConnect, Err: err}
	}
	return &FetchError{Kind: KindNetwork, Err: err}
}
