package ingest

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// The fixtures in testdata are small feeds written for these tests, each
// saved in the encoding its name says (or, for wrong-*, in another one).
func TestParseEncodings(t *testing.T) {
	t.Parallel()
	libya := []string{"Ливия: переговоры в Москве", "Хафтар отступает от Триполи"}
	arabic := []string{"قوات حفتر تنسحب من طرابلس", "ليبيا: هدنة"}
	tests := map[string]struct {
		file        string
		contentType string
		charset     string
		titles      []string
		overridden  bool // the declared encoding is not the one used
	}{
		"windows-1252":               {file: "windows-1252.xml", charset: "windows-1252", titles: []string{"Café talks – “final” offer of €5m", "Tripoli: ceasefire holds"}},
		"iso-8859-1 as its superset": {file: "iso-8859-1.xml", charset: "windows-1252", titles: []string{"Zürich and Genève host Libya talks", "Señor Ramírez speaks"}},
		"iso-8859-2":                 {file: "iso-8859-2.xml", charset: "iso-8859-2", titles: []string{"Łódź i Gdańsk: rozmowy o Libii", "Kraków"}},
		"koi8-r":                     {file: "koi8-r.xml", charset: "koi8-r", titles: libya},
		"declaration over header":    {file: "koi8-r.xml", contentType: "text/xml; charset=utf-8", charset: "koi8-r", titles: libya},
		"charset from header":        {file: "windows-1251-header.xml", contentType: "application/rss+xml; charset=windows-1251", charset: "windows-1251", titles: libya},
		"malformed header":           {file: "windows-1251-header.xml", contentType: `text/xml;charset = "cp1251"`, charset: "windows-1251", titles: libya},
		"shift_jis":                  {file: "shift_jis.xml", charset: "shift_jis", titles: []string{"リビアの首都トリポリで停戦", "ハフタル司令官が撤退"}},
		"gb2312 as gbk":              {file: "gb2312.xml", charset: "gbk", titles: []string{"利比亚首都的黎波里停火", "哈夫塔尔部队撤退"}},
		"euc-kr":                     {file: "euc-kr.xml", charset: "euc-kr", titles: []string{"리비아 수도 트리폴리 휴전", "하프타르 군 철수"}},
		"utf-8 with bom":             {file: "utf-8-bom.xml", charset: "utf-8", titles: []string{"Ḥaftar’s forces withdraw", "ليبيا"}},
		"utf-16le with bom":          {file: "utf-16le-bom.xml", charset: "utf-16le", titles: arabic},
		"utf-16be with bom":          {file: "utf-16be-bom.xml", charset: "utf-16be", titles: arabic},
		"utf-16le without bom":       {file: "utf-16le.xml", charset: "utf-16le", titles: arabic},
		"utf-16be without bom":       {file: "utf-16be.xml", charset: "utf-16be", titles: arabic},
		"utf-32le with bom":          {file: "utf-32le-bom.xml", charset: "utf-32le", titles: arabic},
		"bom over header":            {file: "utf-16be-bom.xml", contentType: "text/xml; charset=iso-8859-1", charset: "utf-16be", titles: arabic},
		"json feed in utf-16":        {file: "jsonfeed-utf-16le-bom.json", contentType: "application/feed+json", charset: "utf-16le", titles: []string{"Haftar’s forces withdraw", "ليبيا: هدنة"}},

		"says utf-8, is windows-1252":   {file: "wrong-utf-8-is-windows-1252.xml", charset: "windows-1252", titles: []string{"Café talks – “final” offer", "Zürich"}, overridden: true},
		"says latin-1, is utf-8":        {file: "wrong-latin-1-is-utf-8.xml", charset: "utf-8", titles: []string{"Café talks – “final” offer", "Zürich"}, overridden: true},
		"says utf-8, header knows":      {file: "wrong-utf-8-header-windows-1251.xml", contentType: "text/xml; charset=windows-1251", charset: "windows-1251", titles: []string{libya[0], "Хафтар"}, overridden: true},
		"says utf-16, is utf-8":         {file: "wrong-utf-16-is-utf-8.xml", charset: "utf-8", titles: []string{"Café talks", "Zürich"}, overridden: true},
		"unknown label":                 {file: "bogus-label.xml", charset: "utf-8", titles: []string{"Café talks", "Zürich"}, overridden: true},
		"header says utf-16, is 8-bit":  {file: "windows-1251-header.xml", contentType: "text/xml; charset=utf-16", charset: "windows-1252", titles: []string{"Ëèâèÿ: ïåðåãîâîðû â Ìîñêâå", "Õàôòàð îòñòóïàåò îò Òðèïîëè"}, overridden: true},
		"header wrong, declaration too": {file: "wrong-latin-1-is-utf-8.xml", contentType: "text/xml; charset=koi8-r", charset: "utf-8", titles: []string{"Café talks – “final” offer", "Zürich"}, overridden: true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			feed, err := Parse(readFixture(t, tc.file), tc.contentType)
			if err != nil {
				t.Fatal(err)
			}
			if got := itemTitles(feed); !slices.Equal(got, tc.titles) {
				t.Errorf("titles = %q, want %q", got, tc.titles)
			}
			if feed.Charset != tc.charset {
				t.Errorf("charset = %q, want %q", feed.Charset, tc.charset)
			}
			if got := feed.Repairs.Encoding != ""; got != tc.overridden {
				t.Errorf("encoding note = %q, want one: %v", feed.Repairs.Encoding, tc.overridden)
			}
			if feed.Repairs.Lenient() {
				t.Errorf("lenient pass used: %s", feed.Repairs)
			}
		})
	}
}

// Feeds that break XML in the ways real feeds do keep their items.
func TestParseLenient(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		file    string
		titles  []string
		siteURL string
		repairs Repairs // what the lenient pass did; zero when it was not needed
	}{
		"control characters": {file: "control-chars.xml", titles: []string{"Libya talks resume", "Ceasefire holds", "Tripoli calm"},
			repairs: Repairs{Illegal: 12}},
		"bare ampersands": {file: "bare-ampersands.xml", titles: []string{"AT&T and P&O sign deal", "Q&A: what next for Libya?", "Fish & chips &copy 2020"},
			siteURL: "https://wire.example/?a=1&b=2"},
		"html entities": {file: "html-entities.xml", titles: []string{"Café talks\u00a0resume", "Haftar’s offer…", "AT&T & more"}},
		"a bad byte among good items": {file: "bad-byte-item.xml", titles: []string{"Ḥaftar’s forces withdraw", "Ceasefire \uFFFD\uFFFD holds", "ليبيا: هدنة"},
			repairs: Repairs{InvalidUTF8: 4}},
		"bare less-than": {file: "less-than.xml", titles: []string{"Turnout < 30% in Benghazi", "Libya <3 peace"},
			repairs: Repairs{Escaped: 4}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			feed, err := Parse(readFixture(t, tc.file), "application/rss+xml")
			if err != nil {
				t.Fatal(err)
			}
			if got := itemTitles(feed); !slices.Equal(got, tc.titles) {
				t.Errorf("titles = %q, want %q", got, tc.titles)
			}
			if tc.siteURL != "" && feed.SiteURL != tc.siteURL {
				t.Errorf("site URL = %q, want %q", feed.SiteURL, tc.siteURL)
			}
			if feed.Repairs != tc.repairs {
				t.Errorf("repairs = %+v (%s), want %+v", feed.Repairs, feed.Repairs, tc.repairs)
			}
			for _, it := range feed.Items {
				if it.PublishedAt == nil || it.Link == "" || it.GUID == "" {
					t.Errorf("item lost fields: %+v", it)
				}
			}
		})
	}
}

// A download cut short fails, even with complete items in it: a poll that
// read it would store its validators, and the server would then answer
// "not modified" until the feed changes, so its last items would never be
// read.
func TestParseCutShortFails(t *testing.T) {
	t.Parallel()
	_, err := Parse(readFixture(t, "truncated.xml"), "application/rss+xml")
	if ErrorKind(err) != KindParse {
		t.Fatalf("err = %v, want kind %s", err, KindParse)
	}
}

func TestRepairXML(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		in, want string
		repairs  Repairs
	}{
		"clean":                    {in: `<r a="1 &amp; 2">x &lt; y &#233; &#xE9;</r>`, want: `<r a="1 &amp; 2">x &lt; y &#xe9; &#xe9;</r>`},
		"bare ampersand":           {in: `<r>AT&T, Q & A</r>`, want: `<r>AT&amp;T, Q &amp; A</r>`, repairs: Repairs{Escaped: 2}},
		"ampersand in attribute":   {in: `<r><a href="?a=1&b=2"/></r>`, want: `<r><a href="?a=1&amp;b=2"/></r>`, repairs: Repairs{Escaped: 1}},
		"unknown entity":           {in: `<r>&bogus; &notit;</r>`, want: `<r>&amp;bogus; &amp;notit;</r>`, repairs: Repairs{Escaped: 2}},
		"legacy entity, no ;":      {in: `<r>&copy 2020</r>`, want: `<r>&amp;copy 2020</r>`, repairs: Repairs{Escaped: 1}},
		"html entities":            {in: `<r t="caf&eacute;">&nbsp;&hellip;&semi;</r>`, want: "<r t=\"café\">\u00a0…;</r>", repairs: Repairs{Entities: 4}},
		"html entity for markup":   {in: `<r>&AMP; &LT;b&GT;</r>`, want: `<r>&amp; &lt;b&gt;</r>`, repairs: Repairs{Entities: 3}},
		"numeric references":       {in: `<r>&#1;&#x0B;&#xFFFE;&#55296;&#X41;&#;&#xZZ;</r>`, want: `<r>&#x41;&amp;#;&amp;#xZZ;</r>`, repairs: Repairs{Illegal: 4, Escaped: 2}},
		"control characters":       {in: "<r>a\x00b\x01c\td\ne\rf\x1fg\uffffh</r>", want: "<r>abc\td\ne\rfgh</r>", repairs: Repairs{Illegal: 4}},
		"invalid utf-8":            {in: "<r>caf\xe9 \xe2\x82 ok \xf0\x9f\x98\x80</r>", want: "<r>caf\uFFFD \uFFFD\uFFFD ok \U0001F600</r>", repairs: Repairs{InvalidUTF8: 3}},
		"bare less-than":           {in: `<r>a < b, 1 <3, x <= y</r>`, want: `<r>a &lt; b, 1 &lt;3, x &lt;= y</r>`, repairs: Repairs{Escaped: 3}},
		"literal sections":         {in: "<?xml version=\"1.0\"?><!DOCTYPE r [<!ENTITY e \"&x;\">]><!-- a & b --><r><![CDATA[a & b < c\x01]]></r>", want: `<?xml version="1.0"?><!DOCTYPE r [<!ENTITY e "&x;">]><!-- a & b --><r><![CDATA[a & b < c]]></r>`, repairs: Repairs{Illegal: 1}},
		"cut short, left so":       {in: "<rss><item><title>a &amp b</title></item><item><![CDATA[x\x01", want: "<rss><item><title>a &amp;amp b</title></item><item><![CDATA[x", repairs: Repairs{Escaped: 1, Illegal: 1}},
		"cut in a tag, left so":    {in: `<feed><entry a="x&y`, want: `<feed><entry a="x&amp;y`, repairs: Repairs{Escaped: 1}},
		"root end tag without >":   {in: "<rss><channel/></rss \n", want: "<rss><channel/></rss \n>", repairs: Repairs{RootClosed: true}},
		"other end tag without >":  {in: "<rss><channel></channel", want: "<rss><channel></channel"},
		"unclosed html in text":    {in: `<rss><item><description>a<br>b</description></item></rss>`, want: `<rss><item><description>a<br>b</description></item></rss>`},
		"quoted > in an attribute": {in: `<r><a title="x > y">t</a></r>`, want: `<r><a title="x > y">t</a></r>`},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			got, repairs := repairXML([]byte(tc.in))
			if string(got) != tc.want {
				t.Errorf("repairXML(%q)\n got %q\nwant %q", tc.in, got, tc.want)
			}
			if repairs != tc.repairs {
				t.Errorf("repairs = %+v, want %+v", repairs, tc.repairs)
			}
		})
	}
}

func TestDecodeRewritesDeclaration(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		body, contentType, want string
	}{
		"koi8-r":         {body: "<?xml version=\"1.0\" encoding=\"koi8-r\"?>\n<r>\xf0\xd2\xc9</r>", want: "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<r>При</r>"},
		"single quotes":  {body: "<?xml version='1.0' encoding = 'latin1' ?><r>\xe9</r>", want: "<?xml version='1.0' encoding = 'UTF-8' ?><r>é</r>"},
		"utf-8 as is":    {body: `<?xml version="1.0" encoding="utf-8"?><r/>`, want: `<?xml version="1.0" encoding="utf-8"?><r/>`},
		"no declaration": {body: "<r>\xe9</r>", contentType: "text/xml; charset=ISO-8859-15", want: "<r>é</r>"},
		"utf-16":         {body: "\xff\xfe<\x00?\x00x\x00m\x00l\x00 \x00e\x00n\x00c\x00o\x00d\x00i\x00n\x00g\x00=\x00\"\x00U\x00T\x00F\x00-\x001\x006\x00\"\x00?\x00>\x00", want: `<?xml encoding="UTF-8"?>`},
		"utf-8 bom":      {body: "\xef\xbb\xbf<r/>", want: "<r/>"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			if got := decode([]byte(tc.body), tc.contentType); string(got.text) != tc.want {
				t.Errorf("decode = %q, want %q", got.text, tc.want)
			}
		})
	}
}

func TestContentTypeCharset(t *testing.T) {
	t.Parallel()
	tests := map[string]string{
		"":                                       "",
		"application/xml":                        "",
		"text/xml; charset=UTF-8":                "UTF-8",
		`text/xml; charset="koi8-r"`:             "koi8-r",
		"application/atom+xml;charset='gb2312'":  "gb2312",
		"text/xml;charset = us-ascii":            "us-ascii",
		`text/rss+xml;charset= "us-ascii"`:       "us-ascii",
		"text/xml; charset:iso-8859-1":           "",
		"text/html; charset=windows-1251; q=0.9": "windows-1251",
	}
	for in, want := range tests {
		if got := contentTypeCharset(in); got != want {
			t.Errorf("contentTypeCharset(%q) = %q, want %q", in, got, want)
		}
	}
}

// FuzzParse checks that no document makes Parse panic or hang, and that
// what it returns is valid UTF-8, as storage needs.
func FuzzParse(f *testing.F) {
	paths, _ := filepath.Glob("testdata/*.xml")
	more, _ := filepath.Glob("testdata/*.json")
	for _, p := range append(paths, more...) {
		if strings.HasSuffix(p, "wire.xml") {
			continue // too big to mutate usefully
		}
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b, "")
		f.Add(b, "text/xml; charset=windows-1251")
	}
	f.Add([]byte(rssFeed), "application/rss+xml; charset=utf-8")
	f.Fuzz(func(t *testing.T, body []byte, contentType string) {
		done := make(chan struct{})
		var feed *Feed
		var err error
		go func() {
			defer close(done)
			feed, err = Parse(body, contentType)
		}()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Fatalf("Parse did not return within 10s")
		}
		if err != nil {
			if strings.Contains(err.Error(), "parser panic") || ErrorKind(err) != KindParse {
				t.Fatalf("Parse: %v", err)
			}
			return
		}
		for _, s := range append([]string{feed.Title, feed.SiteURL}, itemTitles(feed)...) {
			if !utf8.ValidString(s) {
				t.Fatalf("invalid UTF-8 out: %q", s)
			}
		}
	})
}

// BenchmarkParse measures a clean feed as most polls see it: 60 items of
// world news with escaped HTML summaries and full text in CDATA (219 KB).
func BenchmarkParse(b *testing.B) {
	body, err := os.ReadFile("testdata/wire.xml")
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		feed, err := Parse(body, "application/rss+xml")
		if err != nil || len(feed.Items) != 60 {
			b.Fatalf("Parse: %v", err)
		}
	}
}

func readFixture(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func itemTitles(feed *Feed) []string {
	var titles []string
	for _, it := range feed.Items {
		titles = append(titles, it.Title)
	}
	return titles
}
