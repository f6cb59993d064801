package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"text/tabwriter"
	"unicode/utf8"

	"github.com/wirewatch/wirewatch/classify"
	"github.com/wirewatch/wirewatch/storage"
)

// corpusSample is how many recent stored items term rarity is measured on.
const corpusSample = 20000

func referenceCommands() []command {
	return []command{
		{"add", "store a reference article (text, HTML or Markdown file) and rank matches against it", cmdReferenceAdd},
		{"list", "list the reference articles", cmdReferenceList},
		{"remove", "remove a reference article by id", cmdReferenceRemove},
	}
}

// cmdReference dispatches to a subcommand of `wirewatch reference`.
func cmdReference(ctx context.Context, e *env, args []string) error {
	var cfgArgs []string
	for len(args) >= 2 && (args[0] == "--config" || args[0] == "-config") {
		cfgArgs, args = append(cfgArgs, args[0], args[1]), args[2:]
	}
	usage := func() {
		fmt.Fprintf(e.stderr, "Usage: wirewatch reference SUBCOMMAND [flags]\n\nSubcommands:\n")
		for _, c := range referenceCommands() {
			fmt.Fprintf(e.stderr, "  %-8s %s\n", c.name, c.summary)
		}
	}
	if len(args) == 0 {
		usage()
		return usagef("reference: no subcommand given")
	}
	switch args[0] {
	case "-h", "-help", "--help", "help":
		usage()
		return flag.ErrHelp
	}
	for _, c := range referenceCommands() {
		if c.name == args[0] {
			return c.run(ctx, e, append(cfgArgs, args[1:]...))
		}
	}
	usage()
	return usagef("reference: unknown subcommand %q", args[0])
}

func cmdReferenceAdd(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "reference add", "reference add FILE [--title T] [--url U]\n\nStores a reference article (plain text, HTML or Markdown) and computes the relevance of every\nstored match to the reference articles again. New matches are scored when they are stored.")
	cfgPath := configFlag(fs)
	title := fs.String("title", "", "the article's title (default: from the file)")
	url := fs.String("url", "", "where the article was published")
	if err := parseFlags(fs, args, true); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return usagef("reference add: want one FILE, got %d arguments", fs.NArg())
	}
	raw, err := os.ReadFile(fs.Arg(0))
	if err != nil {
		return usagef("reference add: %v", err)
	}
	if !utf8.Valid(raw) {
		return usagef("reference add: %s is not UTF-8 text", fs.Arg(0))
	}
	docTitle, body := readArticle(fs.Arg(0), string(raw))
	if *title != "" {
		docTitle = *title
	}
	if len(classify.Terms(body)) < 20 {
		return usagef("reference add: %s has too little text to rank against (%d words)", fs.Arg(0), len(classify.Terms(body)))
	}
	return changeReferences(ctx, e, *cfgPath, func(refs []storage.Reference) []storage.Reference {
		return append(refs, storage.Reference{Title: docTitle, URL: *url, Body: body})
	})
}

func cmdReferenceRemove(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "reference remove", "reference remove ID")
	cfgPath := configFlag(fs)
	if err := parseFlags(fs, args, true); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return usagef("reference remove: want one ID")
	}
	id, err := strconv.ParseInt(fs.Arg(0), 10, 64)
	if err != nil {
		return usagef("reference remove: %q is not an id (see wirewatch reference list)", fs.Arg(0))
	}
	found := false
	err = changeReferences(ctx, e, *cfgPath, func(refs []storage.Reference) []storage.Reference {
		out := refs[:0]
		for _, r := range refs {
			if r.ID == id {
				found = true
				continue
			}
			out = append(out, r)
		}
		return out
	})
	if err == nil && !found {
		return fmt.Errorf("reference remove: no reference article %d", id)
	}
	return err
}

// changeReferences applies change to the stored reference articles, weighs
// every one against the stored items as they are now (so the rarity of
// terms stays comparable across them), saves them and scores every stored
// match again.
func changeReferences(ctx context.Context, e *env, cfgPath string, change func([]storage.Reference) []storage.Reference) error {
	store, closeStore, err := openStore(ctx, e, cfgPath)
	if err != nil {
		return err
	}
	defer closeStore()
	refs, err := store.References(ctx, true)
	if err != nil {
		return err
	}
	before := len(refs)
	refs = change(refs)
	sample, err := store.CorpusSample(ctx, corpusSample)
	if err != nil {
		return err
	}
	corpus := classify.NewCorpus(sample)
	models := make([]classify.ReferenceModel, len(refs))
	for i := range refs {
		refs[i].Model = classify.NewReferenceModel(refs[i].Title+"\n"+refs[i].Body, corpus)
		models[i] = refs[i].Model
	}
	if refs, err = store.ReplaceReferences(ctx, refs); err != nil {
		return err
	}
	var scorer *classify.Relevance
	if len(models) > 0 {
		scorer = classify.NewRelevance(models)
	}
	n, err := store.Rescore(ctx, scorer)
	if err != nil {
		return err
	}
	if len(refs) > before {
		r := refs[len(refs)-1]
		fmt.Fprintf(e.stdout, "added reference article %d, %q (%d terms weighed against %d stored items)\n",
			r.ID, r.Title, len(r.Model.Weights), corpus.Docs)
	} else {
		fmt.Fprintf(e.stdout, "removed; %d reference articles left\n", len(refs))
	}
	fmt.Fprintf(e.stdout, "relevance computed again for %d stored matches; a running daemon takes the change up within a minute\n", n)
	return nil
}

func cmdReferenceList(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "reference list", "reference list [--format table|json]")
	cfgPath := configFlag(fs)
	format := fs.String("format", "table", "output format: table or json (one object per line)")
	if err := parseFlags(fs, args, false); err != nil {
		return err
	}
	if *format != "table" && *format != "json" {
		return usagef("--format must be table or json, not %q", *format)
	}
	store, closeStore, err := openStore(ctx, e, *cfgPath)
	if err != nil {
		return err
	}
	defer closeStore()
	refs, err := store.References(ctx, false)
	if err != nil {
		return err
	}
	if *format == "json" {
		enc := json.NewEncoder(e.stdout)
		for _, r := range refs {
			if err := enc.Encode(r); err != nil {
				return err
			}
		}
		return nil
	}
	if len(refs) == 0 {
		fmt.Fprintln(e.stdout, "no reference articles; add one with: wirewatch reference add FILE")
		return nil
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tADDED\tTERMS\tTITLE\tURL")
	for _, r := range refs {
		fmt.Fprintf(tw, "%d\t%s\t%d\t%s\t%s\n", r.ID, r.AddedAt.Local().Format("2006-01-02 15:04"), len(r.Model.Weights), clip(r.Title, 80), r.URL)
	}
	return tw.Flush()
}

var (
	htmlTitle    = regexp.MustCompile(`(?is)<title[^>]*>(.*?)</title>`)
	htmlHeading  = regexp.MustCompile(`(?is)<h1[^>]*>(.*?)</h1>`)
	mdLink       = regexp.MustCompile(`!?\[([^\]]*)\]\([^)]*\)`)
	mdEmphasis   = regexp.MustCompile("[*_`]+")
	mdLinePrefix = regexp.MustCompile(`(?m)^\s{0,3}(#{1,6}\s+|>\s?|[-*+]\s+|\d+\.\s+)`)
)

// readArticle turns a reference file into its title and plain text: HTML
// is stripped of markup, Markdown of its syntax, anything else is text.
// The title is the HTML <title> (or first <h1>), else the first line.
func readArticle(path, raw string) (title, body string) {
	ext := strings.ToLower(filepath.Ext(path))
	trimmed := strings.TrimSpace(raw)
	switch {
	case ext == ".html" || ext == ".htm" || strings.HasPrefix(trimmed, "<"):
		for _, re := range []*regexp.Regexp{htmlTitle, htmlHeading} {
			if m := re.FindStringSubmatch(raw); m != nil {
				if title = strings.TrimSpace(classify.StripHTML(m[1])); title != "" {
					break
				}
			}
		}
		body = classify.StripHTML(raw)
	case ext == ".md" || ext == ".markdown":
		body = mdLinePrefix.ReplaceAllString(mdEmphasis.ReplaceAllString(mdLink.ReplaceAllString(raw, "$1"), ""), "")
	default:
		body = raw
	}
	body = strings.TrimSpace(body)
	if title == "" {
		title, _, _ = strings.Cut(body, "\n")
		title = strings.TrimSpace(title)
	}
	return clip(title, 300), body
}
