package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/wirewatch/wirewatch/classify"
)

// matchInput is one line of `wirewatch match` input; every field is optional.
type matchInput struct {
	ID         json.RawMessage `json:"id,omitempty"`
	Title      string          `json:"title"`
	Summary    string          `json:"summary"`
	Content    string          `json:"content"`
	Categories []string        `json:"categories"`
	Author     string          `json:"author"`
	Link       string          `json:"link"`
}

type matchOutput struct {
	ID       json.RawMessage   `json:"id"`
	Matched  bool              `json:"matched"`
	Watches  []string          `json:"watches"`
	Hits     []classify.Hit    `json:"hits"`
	Snippets map[string]string `json:"snippets,omitempty"`
	Error    string            `json:"error,omitempty"`
}

func cmdMatch(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "match", `match [--config PATH] [TITLE...]

Tries the watchlist without a database. Reads JSON lines from stdin, each with any of
"id", "title", "summary", "content", "categories", "author", "link", and writes one JSON
line per input with the same "id", the watch entries that matched, every hit (entry, term,
field, rune offsets into the normalized field) and a snippet per entry. With TITLE
arguments, matches those instead of stdin.

  echo '{"id":1,"title":"Haftar forces advance on Tripoli"}' | wirewatch match`)
	cfgPath := configFlag(fs)
	if err := parseFlags(fs, args, true); err != nil {
		return err
	}
	_, matcher, err := loadConfig(e, *cfgPath)
	if err != nil {
		return err
	}
	enc := json.NewEncoder(e.stdout)
	enc.SetEscapeHTML(false)
	emit := func(id json.RawMessage, doc classify.Document) error {
		res := matcher.Match(doc)
		out := matchOutput{ID: id, Matched: res.Matched(), Watches: res.Watches, Hits: res.Hits, Snippets: res.Snippets}
		if out.ID == nil {
			out.ID = json.RawMessage("null")
		}
		if out.Watches == nil {
			out.Watches = []string{}
		}
		if out.Hits == nil {
			out.Hits = []classify.Hit{}
		}
		return enc.Encode(out)
	}
	if fs.NArg() > 0 {
		for i, title := range fs.Args() {
			if err := emit(json.RawMessage(fmt.Sprint(i+1)), classify.Document{Title: title}); err != nil {
				return err
			}
		}
		return nil
	}

	sc := bufio.NewScanner(e.stdin)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	bad := 0
	for line := 1; sc.Scan(); line++ {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		text := strings.TrimSpace(sc.Text())
		if text == "" {
			continue
		}
		var in matchInput
		if err := json.Unmarshal([]byte(text), &in); err != nil {
			// Keep one output line per input line, so outputs can be pasted
			// beside inputs; the exit status tells of the bad lines.
			bad++
			if err := enc.Encode(matchOutput{ID: json.RawMessage("null"), Watches: []string{}, Hits: []classify.Hit{},
				Error: fmt.Sprintf("line %d: not a JSON object: %v", line, err)}); err != nil {
				return err
			}
			continue
		}
		if err := emit(in.ID, classify.Document{Title: in.Title, Summary: in.Summary, Content: in.Content,
			Categories: in.Categories, Author: in.Author}); err != nil {
			return err
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("read stdin: %w", err)
	}
	if bad > 0 {
		return fmt.Errorf("%d input lines were not JSON objects", bad)
	}
	return nil
}
