package config

import (
	"bufio"
	"bytes"
	"encoding/xml"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// FeedsFileResolved is the path of feeds_file, relative paths taken from
// the configuration file's directory; "" when there is none.
func (c *Config) FeedsFileResolved() string {
	if c.FeedsFile == "" || filepath.IsAbs(c.FeedsFile) {
		return c.FeedsFile
	}
	return filepath.Join(c.dir(), c.FeedsFile)
}

// loadFeedsFile appends the feeds listed in feeds_file: either one URL per
// line (optionally followed by a name; # starts a comment) or an OPML file as
// feed readers export it. A URL already listed under feeds: keeps the entry
// from feeds:, which may carry a name and schedule.
func (c *Config) loadFeedsFile() error {
	if c.FeedsFile == "" {
		return nil
	}
	path := c.FeedsFileResolved()
	data, err := os.ReadFile(path)
	if err != nil {
		return Errors{c.Errorf("feeds_file", "cannot read feeds file: %v", err)}
	}
	var entries []feedEntry
	if bytes.HasPrefix(bytes.TrimSpace(bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))), []byte("<")) {
		entries, err = parseOPML(data)
		if err != nil {
			return Errors{{File: path, Msg: fmt.Sprintf("invalid OPML: %v", err)}}
		}
	} else {
		entries = parseFeedList(data)
	}

	known := map[string]bool{}
	for _, f := range c.Feeds {
		known[f.URL] = true
	}
	var errs Errors
	for _, e := range entries {
		if err := checkFeedURL(e.url); err != nil {
			errs = append(errs, &Error{File: path, Line: e.line, Msg: err.Error()})
			continue
		}
		if known[e.url] {
			continue
		}
		known[e.url] = true
		c.pos[fmt.Sprintf("feeds[%d]", len(c.Feeds))] = position{}
		c.Feeds = append(c.Feeds, Feed{URL: e.url, Name: e.name})
	}
	if len(errs) > 0 {
		return errs
	}
	return nil
}

type feedEntry struct {
	url, name string
	line      int
}

func parseFeedList(data []byte) []feedEntry {
	var out []feedEntry
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for line := 1; sc.Scan(); line++ {
		text := strings.TrimSpace(sc.Text())
		if i := strings.Index(text, " #"); i >= 0 {
			text = strings.TrimSpace(text[:i])
		}
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}
		u, name, _ := strings.Cut(text, " ")
		out = append(out, feedEntry{url: u, name: strings.TrimSpace(name), line: line})
	}
	return out
}

type opmlOutline struct {
	XMLURL   string        `xml:"xmlUrl,attr"`
	XMLURLlc string        `xml:"xmlurl,attr"`
	Title    string        `xml:"title,attr"`
	Text     string        `xml:"text,attr"`
	Children []opmlOutline `xml:"outline"`
}

func parseOPML(data []byte) ([]feedEntry, error) {
	var doc struct {
		XMLName xml.Name      `xml:"opml"`
		Body    []opmlOutline `xml:"body>outline"`
	}
	if err := xml.Unmarshal(data, &doc); err != nil {
		return nil, err
	}
	var out []feedEntry
	var walk func([]opmlOutline)
	walk = func(os []opmlOutline) {
		for _, o := range os {
			u := o.XMLURL
			if u == "" {
				u = o.XMLURLlc
			}
			if u != "" {
				u = strings.TrimSpace(u)
				name := o.Title
				if name == "" {
					name = o.Text
				}
				// OPML wants a text on every outline, so exporters give an
				// untitled feed its URL: that is no name, and the feed's own
				// title should show instead.
				if name = strings.TrimSpace(name); name == u {
					name = ""
				}
				out = append(out, feedEntry{url: u, name: name})
			}
			walk(o.Children)
		}
	}
	walk(doc.Body)
	if len(out) == 0 {
		return nil, fmt.Errorf("no outline with an xmlUrl attribute")
	}
	return out, nil
}
