package ingest

import (
	"errors"
	"fmt"
	"time"
)

// Kinds of poll failure, as stored in polls.error_kind and feeds.last_error_kind.
const (
	KindRequest  = "request"   // the URL cannot be requested at all
	KindDNS      = "dns"       // the host name does not resolve
	KindConnect  = "connect"   // the connection was refused or unreachable
	KindTimeout  = "timeout"   // a time limit ran out
	KindTLS      = "tls"       // certificate or handshake failure
	KindNetwork  = "network"   // the connection failed another way (reset, closed mid-body)
	KindHTTP     = "http"      // the server answered with a non-2xx status
	KindGone     = "gone"      // the server answered 410 Gone: the feed was removed
	KindRedirect = "redirect"  // too many redirects or a loop
	KindTooLarge = "too_large" // the body passed fetch.max_body_size
	KindBlocked  = "blocked"   // a non-public address, refused by the SSRF guard
	KindFile     = "file"      // a file:// feed could not be read
	KindParse    = "parse"     // the body is not a feed gofeed can read
	KindCanceled = "canceled"  // the daemon is shutting down
	KindStore    = "store"     // the database refused what the poll found
)

// FetchError is a failed poll with a named cause.
type FetchError struct {
	Kind   string
	Status int // HTTP status, when the server answered
	// RetryAfter is when a server that answered 429 or 503 asked to be
	// asked again (Retry-After); zero when it did not say.
	RetryAfter time.Time
	Err        error
}

func (e *FetchError) Error() string {
	if e.Kind == KindHTTP || e.Kind == KindGone {
		return e.Err.Error()
	}
	return fmt.Sprintf("%s: %v", e.Kind, e.Err)
}

func (e *FetchError) Unwrap() error { return e.Err }

// ErrorKind returns the Kind of a poll error, or "" when err is nil.
func ErrorKind(err error) string {
	if err == nil {
		return ""
	}
	var fe *FetchError
	if errors.As(err, &fe) {
		return fe.Kind
	}
	return KindNetwork
}

// asFetchError sets *target to err's *FetchError, if it has one.
func asFetchError(err error, target **FetchError) {
	if err != nil {
		errors.As(err, target)
	}
}
