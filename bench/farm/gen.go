package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"html"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"
)

// Rates of the generated items, per item.
const (
	mentionRate = 0.03  // items that mention a watched subject
	trapRate    = 0.015 // items with a sentence that only looks like one
	wireRate    = 0.05  // items that are a copy of a wire story other feeds carry too
	wireStories = 400   // size of the pool of wire stories
)

// Formats, in every 20 feeds: 12 RSS 2.0, 4 Atom 1.0, 2 RSS 1.0, 2 JSON Feed.
const (
	formatRSS  = "rss"
	formatAtom = "atom"
	formatRDF  = "rdf"
	formatJSON = "json"
)

func formatOf(i int) string {
	switch k := i % 20; {
	case k < 12:
		return formatRSS
	case k < 16:
		return formatAtom
	case k < 18:
		return formatRDF
	default:
		return formatJSON
	}
}

// epoch is the instant every date of the farm is relative to, so that the
// same flags always give the same bytes.
var epoch = time.Date(2026, 11, 2, 12, 0, 0, 0, time.UTC)

// feed is one generated feed.
type feed struct {
	index    int
	format   string
	outlet   string // name
	domain   string
	section  string
	fullText bool // items carry their full text besides the lead
	items    []item
}

// item is one story as a feed carries it.
type item struct {
	id         int
	title      string
	link       string
	guid       string // "" when the feed gives none
	author     string
	categories []string
	published  time.Time
	lead       string   // the first paragraph, plain text
	paragraphs []string // the full text, plain text (lead first)
	mentions   []string // watched subjects mentioned
	trap       bool
	wire       int // 1 + index in the wire pool, 0 for an own story
}

// wire is a story a news agency sends to many outlets.
type wire struct {
	title      string
	paragraphs []string
	mentions   []string
	topic      string
	published  time.Time
}

// gen holds what every feed draws on.
type gen struct {
	seed  uint64
	wires []wire
}

func newGen(seed uint64) *gen {
	g := &gen{seed: seed}
	r := rand.New(rand.NewPCG(seed, 0x5eed))
	for k := range wireStories {
		t := &topics[r.IntN(len(topics))]
		w := wire{topic: t.name, published: epoch.Add(-time.Duration(r.IntN(72*60)) * time.Minute)}
		w.title = fill(r, pick(r, t.headlines), t)
		w.paragraphs = paragraphs(r, t, 3+r.IntN(3))
		if float64(k%100)/100 < mentionRate*1.5 {
			// A few wire stories are about the watched story: they reach
			// many feeds at once.
			s := subjects[r.IntN(len(subjects))]
			w.title = pick(r, s.headlines)
			w.paragraphs[0] = fill(r, pick(r, s.sentences), t) + " " + w.paragraphs[0]
			w.mentions = []string{s.name}
		}
		g.wires = append(g.wires, w)
	}
	return g
}

// paragraphs is n paragraphs of two to four sentences on t.
func paragraphs(r *rand.Rand, t *topic, n int) []string {
	out := make([]string, n)
	for i := range out {
		k := 2 + r.IntN(3)
		s := make([]string, k)
		for j := range s {
			s[j] = sentence(r, t)
		}
		out[i] = strings.Join(s, " ")
	}
	return out
}

var sectionNames = []string{"World", "Africa", "Middle East", "Europe", "Asia", "Americas", "Business", "Top stories"}

// feed generates feed i with m items; it depends only on the seed, i and m.
func (g *gen) feed(i, m int) *feed {
	r := rand.New(rand.NewPCG(g.seed, uint64(i)+1))
	op, ok := outletPlaces[i%len(outletPlaces)], outletKinds[(i/len(outletPlaces))%len(outletKinds)]
	f := &feed{index: i, format: formatOf(i), outlet: "The " + op + " " + ok,
		domain:   "www." + strings.ToLower(op) + "-" + strings.ToLower(ok) + ".example",
		section:  sectionNames[r.IntN(len(sectionNames))],
		fullText: r.IntN(4) == 0}
	guidStyle := r.IntN(3) // 0: the link, 1: an opaque id, 2: none (RSS only)
	gap := time.Duration(5+r.IntN(120)) * time.Minute
	newest := epoch.Add(-time.Duration(r.IntN(180)) * time.Minute)
	for j := range m {
		it := item{id: i*100000 + j, published: newest.Add(-time.Duration(j) * gap).Add(time.Duration(r.IntN(60)) * time.Second)}
		var t *topic
		if r.Float64() < wireRate {
			k := r.IntN(len(g.wires))
			w := &g.wires[k]
			it.wire = 1 + k
			it.title = w.title
			switch r.IntN(3) {
			case 0:
				it.title += " | " + op
			case 1:
				it.title = "UPDATE 1-" + it.title
			}
			it.paragraphs = append([]string{}, w.paragraphs...)
			it.paragraphs[len(it.paragraphs)-1] += " (Reporting by " + pick(r, firstNames) + " " + pick(r, lastNames) + ")"
			it.mentions = w.mentions
			it.categories = []string{w.topic}
			it.published = w.published.Add(time.Duration(r.IntN(180)) * time.Minute)
		} else {
			t = &topics[r.IntN(len(topics))]
			it.title = fill(r, pick(r, t.headlines), t)
			n := 1
			if f.fullText {
				n = 2 + r.IntN(3)
			}
			it.paragraphs = paragraphs(r, t, n)
			it.categories = []string{t.name}
			switch x := r.Float64(); {
			case x < mentionRate:
				s := subjects[r.IntN(len(subjects))]
				line := fill(r, pick(r, s.sentences), t)
				switch r.IntN(3) {
				case 0: // in the headline and the text
					it.title = pick(r, s.headlines)
					it.paragraphs[0] = line + " " + it.paragraphs[0]
				case 1: // only in the lead
					it.paragraphs[0] = line + " " + it.paragraphs[0]
				default: // deeper in the text
					k := len(it.paragraphs) - 1
					it.paragraphs[k] += " " + line
				}
				it.mentions = []string{s.name}
				it.categories = append(it.categories, s.name)
			case x < mentionRate+trapRate:
				it.paragraphs[0] = pick(r, traps) + " " + it.paragraphs[0]
				it.trap = true
			}
		}
		it.lead = it.paragraphs[0]
		if !f.fullText {
			// A feed without full text carries the lead alone.
			it.paragraphs = it.paragraphs[:1]
		}
		it.author = pick(r, firstNames) + " " + pick(r, lastNames)
		it.link = fmt.Sprintf("https://%s/%s/%s/%s-%d", f.domain, strings.ToLower(strings.ReplaceAll(f.section, " ", "-")),
			it.published.Format("2006/01/02"), slug(it.title), it.id)
		switch {
		case f.format == formatRDF:
		case f.format == formatAtom || f.format == formatJSON || guidStyle == 0:
			it.guid = it.link
		case guidStyle == 1:
			it.guid = "urn:" + strings.ToLower(op) + ":article:" + strconv.Itoa(it.id)
		}
		f.items = append(f.items, it)
	}
	return f
}

func slug(s string) string {
	var b strings.Builder
	dash := false
	for _, c := range strings.ToLower(s) {
		switch {
		case c >= 'a' && c <= 'z' || c >= '0' && c <= '9':
			b.WriteRune(c)
			dash = false
		case !dash && b.Len() > 0:
			b.WriteByte('-')
			dash = true
		}
		if b.Len() > 60 {
			break
		}
	}
	return strings.TrimSuffix(b.String(), "-")
}

// The bodies as HTML, the way feeds carry them.
func leadHTML(it *item) string {
	return "<p>" + html.EscapeString(it.lead) + "</p>"
}

func fullHTML(it *item) string {
	var b strings.Builder
	for k, p := range it.paragraphs {
		if k == 1 && len(it.paragraphs) > 3 {
			b.WriteString(`<figure><img src="https://img.example/` + strconv.Itoa(it.id) + `.jpg" alt=""><figcaption>File photo</figcaption></figure>`)
		}
		b.WriteString("<p>" + html.EscapeString(p) + "</p>\n")
	}
	return b.String()
}

// description is what an RSS description or Atom summary holds: the lead
// alone when the feed has full text, else the whole (short) body.
func description(f *feed, it *item) string {
	if f.fullText {
		return leadHTML(it)
	}
	return fullHTML(it)
}

func xmlText(s string) string {
	var b bytes.Buffer
	for _, c := range s {
		switch c {
		case '&':
			b.WriteString("&amp;")
		case '<':
			b.WriteString("&lt;")
		case '>':
			b.WriteString("&gt;")
		case '"':
			b.WriteString("&quot;")
		default:
			b.WriteRune(c)
		}
	}
	return b.String()
}

// cdata wraps s in CDATA sections (splitting any "]]>" inside).
func cdata(s string) string {
	return "<![CDATA[" + strings.ReplaceAll(s, "]]>", "]]]]><![CDATA[>") + "]]>"
}

func (f *feed) title() string { return f.outlet + " - " + f.section }
func (f *feed) site() string {
	return "https://" + f.domain + "/" + strings.ToLower(strings.ReplaceAll(f.section, " ", "-"))
}

// render writes the feed in its format.
func (f *feed) render(self string) []byte {
	switch f.format {
	case formatAtom:
		return f.atom(self)
	case formatRDF:
		return f.rdf(self)
	case formatJSON:
		return f.json(self)
	}
	return f.rss(self)
}

func (f *feed) rss(self string) []byte {
	var b bytes.Buffer
	b.WriteString(`<?xml version="1.0" encoding="UTF-8"?>` + "\n")
	b.WriteString(`<rss version="2.0" xmlns:atom="http://www.w3.org/2005/Atom" xmlns:dc="http://purl.org/dc/elements/1.1/"`)
	if f.fullText {
		b.WriteString(` xmlns:content="http://purl.org/rss/1.0/modules/content/"`)
	}
	b.WriteString(">\n<channel>\n")
	fmt.Fprintf(&b, "<title>%s</title>\n<link>%s</link>\n<description>%s</description>\n<language>en</language>\n",
		xmlText(f.title()), f.site(), xmlText("The latest "+strings.ToLower(f.section)+" news from "+f.outlet))
	fmt.Fprintf(&b, "<atom:link href=\"%s\" rel=\"self\" type=\"application/rss+xml\"/>\n", xmlText(self))
	if len(f.items) > 0 {
		fmt.Fprintf(&b, "<lastBuildDate>%s</lastBuildDate>\n", f.items[0].published.Format(time.RFC1123Z))
	}
	for k := range f.items {
		it := &f.items[k]
		b.WriteString("<item>\n")
		fmt.Fprintf(&b, "<title>%s</title>\n<link>%s</link>\n", xmlText(it.title), xmlText(it.link))
		switch {
		case it.guid == it.link:
			fmt.Fprintf(&b, "<guid>%s</guid>\n", xmlText(it.guid))
		case it.guid != "":
			fmt.Fprintf(&b, "<guid isPermaLink=\"false\">%s</guid>\n", xmlText(it.guid))
		}
		fmt.Fprintf(&b, "<pubDate>%s</pubDate>\n<dc:creator>%s</dc:creator>\n", it.published.Format(time.RFC1123Z), xmlText(it.author))
		for _, c := range it.categories {
			fmt.Fprintf(&b, "<category>%s</category>\n", xmlText(c))
		}
		if k%2 == 0 {
			fmt.Fprintf(&b, "<description>%s</description>\n", cdata(description(f, it)))
		} else {
			fmt.Fprintf(&b, "<description>%s</description>\n", xmlText(description(f, it)))
		}
		if f.fullText {
			fmt.Fprintf(&b, "<content:encoded>%s</content:encoded>\n", cdata(fullHTML(it)))
		}
		b.WriteString("</item>\n")
	}
	b.WriteString("</channel>\n</rss>\n")
	return b.Bytes()
}

func (f *feed) atom(self string) []byte {
	var b bytes.Buffer
	b.WriteString(`<?xml version="1.0" encoding="utf-8"?>` + "\n")
	b.WriteString(`<feed xmlns="http://www.w3.org/2005/Atom" xml:lang="en">` + "\n")
	fmt.Fprintf(&b, "<title>%s</title>\n<id>%s</id>\n<link rel=\"alternate\" href=\"%s\"/>\n<link rel=\"self\" href=\"%s\"/>\n",
		xmlText(f.title()), xmlText(f.site()), xmlText(f.site()), xmlText(self))
	if len(f.items) > 0 {
		fmt.Fprintf(&b, "<updated>%s</updated>\n", f.items[0].published.Format(time.RFC3339))
	}
	for k := range f.items {
		it := &f.items[k]
		b.WriteString("<entry>\n")
		fmt.Fprintf(&b, "<title>%s</title>\n<id>%s</id>\n<link rel=\"alternate\" type=\"text/html\" href=\"%s\"/>\n",
			xmlText(it.title), xmlText(it.guid), xmlText(it.link))
		fmt.Fprintf(&b, "<published>%s</published>\n<updated>%s</updated>\n<author><name>%s</name></author>\n",
			it.published.Format(time.RFC3339), it.published.Add(17*time.Minute).Format(time.RFC3339), xmlText(it.author))
		for _, c := range it.categories {
			fmt.Fprintf(&b, "<category term=\"%s\"/>\n", xmlText(c))
		}
		fmt.Fprintf(&b, "<summary type=\"html\">%s</summary>\n", xmlText(description(f, it)))
		if f.fullText {
			fmt.Fprintf(&b, "<content type=\"html\">%s</content>\n", xmlText(fullHTML(it)))
		}
		b.WriteString("</entry>\n")
	}
	b.WriteString("</feed>\n")
	return b.Bytes()
}

func (f *feed) rdf(self string) []byte {
	var b bytes.Buffer
	b.WriteString(`<?xml version="1.0" encoding="UTF-8"?>` + "\n")
	b.WriteString(`<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns="http://purl.org/rss/1.0/" xmlns:dc="http://purl.org/dc/elements/1.1/"`)
	if f.fullText {
		b.WriteString(` xmlns:content="http://purl.org/rss/1.0/modules/content/"`)
	}
	b.WriteString(">\n")
	fmt.Fprintf(&b, "<channel rdf:about=\"%s\">\n<title>%s</title>\n<link>%s</link>\n<description>%s</description>\n<items><rdf:Seq>\n",
		xmlText(self), xmlText(f.title()), f.site(), xmlText(f.outlet+" "+f.section))
	for k := range f.items {
		fmt.Fprintf(&b, "<rdf:li rdf:resource=\"%s\"/>\n", xmlText(f.items[k].link))
	}
	b.WriteString("</rdf:Seq></items>\n</channel>\n")
	for k := range f.items {
		it := &f.items[k]
		fmt.Fprintf(&b, "<item rdf:about=\"%s\">\n<title>%s</title>\n<link>%s</link>\n", xmlText(it.link), xmlText(it.title), xmlText(it.link))
		fmt.Fprintf(&b, "<dc:date>%s</dc:date>\n<dc:creator>%s</dc:creator>\n", it.published.Format(time.RFC3339), xmlText(it.author))
		for _, c := range it.categories {
			fmt.Fprintf(&b, "<dc:subject>%s</dc:subject>\n", xmlText(c))
		}
		fmt.Fprintf(&b, "<description>%s</description>\n", xmlText(description(f, it)))
		if f.fullText {
			fmt.Fprintf(&b, "<content:encoded>%s</content:encoded>\n", cdata(fullHTML(it)))
		}
		b.WriteString("</item>\n")
	}
	b.WriteString("</rdf:RDF>\n")
	return b.Bytes()
}

func (f *feed) json(self string) []byte {
	type author struct {
		Name string `json:"name"`
	}
	type jsonItem struct {
		ID            string   `json:"id"`
		URL           string   `json:"url"`
		Title         string   `json:"title"`
		Summary       string   `json:"summary,omitempty"`
		ContentHTML   string   `json:"content_html"`
		DatePublished string   `json:"date_published"`
		Authors       []author `json:"authors"`
		Tags          []string `json:"tags,omitempty"`
	}
	doc := struct {
		Version     string     `json:"version"`
		Title       string     `json:"title"`
		HomePageURL string     `json:"home_page_url"`
		FeedURL     string     `json:"feed_url"`
		Language    string     `json:"language"`
		Items       []jsonItem `json:"items"`
	}{Version: "https://jsonfeed.org/version/1.1", Title: f.title(), HomePageURL: f.site(), FeedURL: self, Language: "en"}
	for k := range f.items {
		it := &f.items[k]
		ji := jsonItem{ID: it.guid, URL: it.link, Title: it.title, DatePublished: it.published.Format(time.RFC3339),
			Authors: []author{{it.author}}, Tags: it.categories, ContentHTML: description(f, it)}
		if f.fullText {
			ji.Summary, ji.ContentHTML = it.lead, fullHTML(it)
		}
		doc.Items = append(doc.Items, ji)
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", " ")
	_ = enc.Encode(doc)
	return b.Bytes()
}

// contentType is what a web server sends with the feed.
func (f *feed) contentType() string {
	switch f.format {
	case formatAtom:
		return "application/atom+xml; charset=utf-8"
	case formatRDF:
		return "application/rdf+xml; charset=utf-8"
	case formatJSON:
		return "application/feed+json; charset=utf-8"
	}
	return "application/rss+xml; charset=utf-8"
}

func (f *feed) path() string {
	ext := map[string]string{formatRSS: ".xml", formatAtom: ".atom", formatRDF: ".rdf", formatJSON: ".json"}[f.format]
	return fmt.Sprintf("/%s/feeds/%05d%s", strings.ToLower(strings.ReplaceAll(f.section, " ", "-")), f.index, ext)
}
