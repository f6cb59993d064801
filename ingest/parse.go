package ingest

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/mmcdole/gofeed"
)

// Feed is a parsed feed: its own metadata and its items.
type Feed struct {
	Title   string
	SiteURL string
	Items   []Item
	// Charset is the encoding the feed was read in, by its WHATWG name
	// ("utf-8", "windows-1252", "shift_jis").
	Charset string
	// Repairs says what it took to read the feed; zero when it was read as
	// served.
	Repairs Repairs
}

// Item is one feed entry with the fields wirewatch uses.
type Item struct {
	GUID        string
	Link        string
	Title       string
	Summary     string // description, as published (may be HTML)
	Content     string // full content, as published (may be HTML)
	Author      string
	Categories  []string
	PublishedAt *time.Time
}

// Parse reads an RSS, Atom or JSON Feed document served with contentType
// (the HTTP Content-Type header; "" when there is none). The body is first
// decoded to UTF-8 from the encoding it declares (see decode). An XML
// document the parser cannot read as served gets a second chance after the
// lenient pass (see repairXML). A document that cannot be read either way is
// a *FetchError of kind parse.
func Parse(body []byte, contentType string) (feed *Feed, err error) {
	defer func() {
		// A parser bug on hostile input must cost one poll, not the daemon.
		if r := recover(); r != nil {
			feed, err = nil, &FetchError{Kind: KindParse, Err: fmt.Errorf("parser panic: %v", r)}
		}
	}()
	if len(bytes.TrimSpace(body)) == 0 {
		return nil, &FetchError{Kind: KindParse, Err: errors.New("empty body")}
	}
	d := decode(body, contentType)
	repairs := Repairs{Encoding: d.note}
	var parsed *gofeed.Feed
	if d.valid || isJSON(d.text) {
		parsed, err = parseFeed(d.text)
	}
	// The lenient pass costs a copy of the document, so only a feed that
	// needs it pays for it: one that failed as served, or one with invalid
	// UTF-8, which is bound to fail. JSON is left alone: encoding/json
	// replaces invalid UTF-8 itself, and XML repairs would change strings.
	if parsed == nil && !isJSON(d.text) {
		fixed, r := repairXML(d.text)
		if r.Lenient() || err == nil {
			p, ferr := parseFeed(fixed)
			switch {
			case ferr == nil:
				r.Encoding = d.note
				parsed, err, repairs = p, nil, r
			case err == nil:
				err = ferr
			}
		}
	}
	if err != nil {
		if errors.Is(err, gofeed.ErrFeedTypeNotDetected) {
			return nil, &FetchError{Kind: KindParse, Err: fmt.Errorf("not an RSS, Atom or JSON feed (starts with %q)", preview(d.text))}
		}
		return nil, &FetchError{Kind: KindParse, Err: err}
	}
	out := &Feed{Title: strings.TrimSpace(parsed.Title), SiteURL: strings.TrimSpace(parsed.Link),
		Items: make([]Item, 0, len(parsed.Items)), Charset: d.charset, Repairs: repairs}
	for _, it := range parsed.Items {
		if it == nil {
			continue
		}
		item := Item{
			GUID:    strings.TrimSpace(it.GUID),
			Link:    strings.TrimSpace(it.Link),
			Title:   strings.TrimSpace(it.Title),
			Summary: it.Description,
			Content: it.Content,
		}
		if item.Link == "" && len(it.Links) > 0 {
			item.Link = strings.TrimSpace(it.Links[0])
		}
		for _, c := range it.Categories {
			if c = strings.TrimSpace(c); c != "" {
				item.Categories = append(item.Categories, c)
			}
		}
		if len(it.Authors) > 0 && it.Authors[0] != nil {
			item.Author = strings.TrimSpace(it.Authors[0].Name)
		}
		switch {
		case it.PublishedParsed != nil:
			t := it.PublishedParsed.UTC()
			item.PublishedAt = &t
		case it.UpdatedParsed != nil:
			t := it.UpdatedParsed.UTC()
			item.PublishedAt = &t
		}
		out.Items = append(out.Items, item)
	}
	return out, nil
}

func parseFeed(text []byte) (*gofeed.Feed, error) {
	p := gofeed.NewParser()
	// wirewatch uses no item images; finding one in an item's HTML parses
	// that HTML a second time, about a tenth of the cost of a poll.
	p.RSSTranslator = &gofeed.DefaultRSSTranslator{DisableContentImageScan: true}
	return p.Parse(bytes.NewReader(text))
}

// isJSON reports whether text looks like a JSON document rather than XML.
func isJSON(text []byte) bool {
	t := bytes.TrimLeft(text, " \t\r\n")
	return len(t) > 0 && (t[0] == '{' || t[0] == '[')
}

func preview(body []byte) string {
	s := strings.TrimSpace(string(body))
	if len(s) > 40 {
		s = s[:40]
	}
	return strings.ToValidUTF8(s, "?")
}
