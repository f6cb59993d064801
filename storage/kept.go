package storage

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/wirewatch/wirewatch/classify"
)

// The items a poll read that matched nothing are kept as one row of
// unmatched_batches: a JSON array of keptItem. Only rematch and the
// reference corpus read them back, so they carry no key, hash or index
// of their own; those are worked out when an item is read.

// keepUnmatched writes the unmatched items of one poll of feedID as a
// batch. It is written on its own, before the poll's record and outside
// its transaction: the kept text is nearly all a poll writes, and in the
// group of polls stored together (see pollbatch.go) it would hold up the
// polls behind it. Grouped in turn, kept batches cost the database no less
// and held more memory while they waited. The order keeps nothing from
// being lost: if the record is never written, the feed's seen items stay
// as they were, and its next poll keeps the same items again (rematch
// takes each item once).
func (s *Store) keepUnmatched(ctx context.Context, feedID int64, items []Item) error {
	if _, err := s.db.Exec(ctx, `INSERT INTO unmatched_batches (feed_id, item_count, items) VALUES ($1, $2, $3)`,
		feedID, len(items), encodeKept(items)); err != nil {
		return fmt.Errorf("keep unmatched items: %w", err)
	}
	return nil
}

// keptItem is one unmatched item as kept.
type keptItem struct {
	GUID        string     `json:"guid,omitempty"`
	Link        string     `json:"link,omitempty"`
	Title       string     `json:"title,omitempty"`
	Summary     string     `json:"summary,omitempty"`
	Content     string     `json:"content,omitempty"`
	Author      string     `json:"author,omitempty"`
	Categories  []string   `json:"categories,omitempty"`
	PublishedAt *time.Time `json:"published_at,omitempty"`
}

// encodeKept writes items as a batch's JSON. It is written by hand, a
// few times faster than encoding/json, since every poll pays for it: text
// is made valid UTF-8 (PostgreSQL refuses anything else) and NUL, which no
// text column can hold, is dropped.
func encodeKept(items []Item) []byte {
	b := make([]byte, 0, keptSize(items))
	b = append(b, '[')
	for i, it := range items {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, '{')
		n := len(b)
		field := func(name, v string) {
			if v == "" {
				return
			}
			if len(b) > n {
				b = append(b, ',')
			}
			b = append(b, '"')
			b = append(b, name...)
			b = append(b, '"', ':')
			b = appendJSONString(b, v)
		}
		field("guid", it.GUID)
		field("link", it.Link)
		field("title", it.Title)
		field("summary", it.Summary)
		field("content", it.Content)
		field("author", it.Author)
		if len(it.Categories) > 0 {
			if len(b) > n {
				b = append(b, ',')
			}
			b = append(b, `"categories":[`...)
			for k, c := range it.Categories {
				if k > 0 {
					b = append(b, ',')
				}
				b = appendJSONString(b, c)
			}
			b = append(b, ']')
		}
		if it.PublishedAt != nil {
			if len(b) > n {
				b = append(b, ',')
			}
			b = append(b, `"published_at":"`...)
			b = it.PublishedAt.UTC().AppendFormat(b, time.RFC3339Nano)
			b = append(b, '"')
		}
		b = append(b, '}')
	}
	return append(b, ']')
}

// appendJSONString appends s as a JSON string.
func appendJSONString(b []byte, s string) []byte {
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' {
			continue
		}
		b = append(b, s[start:i]...)
		start = i + 1
		switch c {
		case '"', '\\':
			b = append(b, '\\', c)
		case '\n':
			b = append(b, '\\', 'n')
		case '\r':
			b = append(b, '\\', 'r')
		case '\t':
			b = append(b, '\\', 't')
		case 0:
		default:
			b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
		}
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

const hexDigits = "0123456789abcdef"

// keptSize estimates the JSON size of items, to size its buffer once.
func keptSize(items []Item) int {
	n := 2
	for _, it := range items {
		n += 140 + len(it.GUID) + len(it.Link) + len(it.Title) + len(it.Summary) + len(it.Content) + len(it.Author)
		for _, c := range it.Categories {
			n += len(c) + 3
		}
	}
	return n + n/32
}

// decodeKept reads a batch of feed feedURL back as items, with the keys
// and content hashes ingest would have given them.
func decodeKept(data []byte, feedURL string) ([]Item, error) {
	var kept []keptItem
	if err := json.Unmarshal(data, &kept); err != nil {
		return nil, fmt.Errorf("read unmatched items: %w", err)
	}
	out := make([]Item, len(kept))
	for i, k := range kept {
		text := k.Summary + "\n" + k.Content
		out[i] = Item{
			Key: classify.ItemKey(feedURL, k.GUID, k.Link, k.Title, text), GUID: k.GUID, Link: k.Link,
			Title: k.Title, Summary: k.Summary, Content: k.Content, Author: k.Author, Categories: k.Categories,
			PublishedAt: k.PublishedAt, ContentHash: classify.ContentHash(k.Title, text),
		}
		if out[i].Categories == nil {
			out[i].Categories = []string{}
		}
	}
	return out, nil
}
