package ingest

// Repairs says what Parse changed to read a feed. The zero value is a feed
// read as it was served.
type Repairs struct {
	// Encoding says why the encoding the feed declared was not used,
	// e.g. `declared "utf-8" but not valid UTF-8; read as windows-1252`.
	Encoding string
}

// String lists the repairs for a log line; "" when there were none.
func (r Repairs) String() string {
	return r.Encoding
}
