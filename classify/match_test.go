package classify

import (
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"
)

var testWatchlist = []Entry{
	{Name: "Libya", Terms: []string{"Libya", "Libyan", "Libye", "ليبيا", "Ливия"}},
	{Name: "Haftar", Terms: []string{"Haftar", "Hafter", "حفتر", "Хафтар"}},
	{Name: "Wagner", Terms: []string{"Wagner Group", "Wagner mercenaries", "groupe Wagner", "ЧВК «Вагнер»"}},
	{Name: "Assad", Terms: []string{"Assad", "al-Assad"}},
}

func mustCompile(t testing.TB, entries []Entry) *Matcher {
	t.Helper()
	m, err := Compile(entries)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestMatchWholeWords(t *testing.T) {
	t.Parallel()
	m := mustCompile(t, testWatchlist)
	tests := map[string]struct {
		title string
		want  []string
	}{
		"plain":                      {"Haftar forces advance on Tripoli", []string{"Haftar"}},
		"possessive":                 {"Haftar's forces withdraw", []string{"Haftar"}},
		"typographic possessive":     {"Libya’s oil output falls", []string{"Libya"}},
		"hashtag":                    {"Protests grow #Haftar", []string{"Haftar"}},
		"hyphenated compound":        {"Haftar-Truppen ziehen ab", []string{"Haftar"}},
		"Haftarah is not Haftar":     {"Teenager chants the Haftarah", nil},
		"ambassador is not Assad":    {"Ambassador recalled after row", nil},
		"Assadullah is not Assad":    {"Assadullah hits a century", nil},
		"al-Assad":                   {"Bashar al-Assad meets envoy", []string{"Assad"}},
		"case":                       {"LIBYA: talks stall", []string{"Libya"}},
		"diacritics folded":          {"Ḥaftar meets envoys", []string{"Haftar"}},
		"composer is not the group":  {"Richard Wagner's Ring returns to Bayreuth", nil},
		"phrase":                     {"Wagner Group fighters seen near Sirte", []string{"Wagner"}},
		"phrase across a line break": {"Reports of Wagner\nmercenaries in the south", []string{"Wagner"}},
		"phrase split by a word":     {"Wagner and Group", nil},
		"two entries":                {"Libyan commander Haftar visits Damascus", []string{"Libya", "Haftar"}},
		"french":                     {"Le groupe Wagner renforce sa présence en Libye", []string{"Libya", "Wagner"}},
		"arabic":                     {"حفتر يلتقي وفدا أجنبيا في بنغازي", []string{"Haftar"}},
		"russian":                    {"Хафтар встретился с делегацией; ЧВК Вагнер", []string{"Haftar", "Wagner"}},
		"Libyan prefix is not Libya": {"Libyanism in art", nil},
		"nothing":                    {"Markets rally as lockdowns ease", nil},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			got := m.Match(Document{Title: tc.title}).Watches
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("Match(%q) = %v, want %v", tc.title, got, tc.want)
			}
		})
	}
}

func TestMatchFieldsAndHTML(t *testing.T) {
	t.Parallel()
	m := mustCompile(t, testWatchlist)
	res := m.Match(Document{
		Title:   "Talks resume in Geneva",
		Summary: "<p>Envoys from <b>Libya</b>&#8217;s rival camps met.</p>",
		Content: `<p>Forces of Khalifa <a href="/x">Haftar</a> pulled back.</p><script>Assad()</script><p>Libya again.</p>`,
	})
	if want := []string{"Libya", "Haftar"}; !reflect.DeepEqual(res.Watches, want) {
		t.Fatalf("watches = %v, want %v", res.Watches, want)
	}
	want := []Hit{
		{Watch: "Libya", Term: "Libya", Field: FieldSummary, Start: 12, End: 17, Count: 1},
		{Watch: "Libya", Term: "Libya", Field: FieldContent, Start: 39, End: 44, Count: 1},
		{Watch: "Haftar", Term: "Haftar", Field: FieldContent, Start: 18, End: 24, Count: 1},
	}
	if !reflect.DeepEqual(res.Hits, want) {
		t.Fatalf("hits:\n got %+v\nwant %+v", res.Hits, want)
	}
	// Offsets are runes into the normalized field and point at the term.
	for _, h := range res.Hits {
		field := []rune(res.Normalized[h.Field])
		if got := string(field[h.Start:h.End]); got != strings.ToLower(h.Term) {
			t.Errorf("hit %+v points at %q", h, got)
		}
	}
}

func TestHitOffsetsInNonLatinText(t *testing.T) {
	t.Parallel()
	m := mustCompile(t, testWatchlist)
	res := m.Match(Document{Summary: "Ḥaftar: تقرير عن حفتر و ЧВК «Вагнер» в Ливия"})
	if len(res.Hits) != 4 {
		t.Fatalf("hits = %+v", res.Hits)
	}
	for _, h := range res.Hits {
		field := []rune(res.Normalized[h.Field])
		got := string(field[h.Start:h.End])
		if tokensOf(got) != tokensOf(Normalize(h.Term)) {
			t.Errorf("hit %+v points at %q", h, got)
		}
	}
}

func tokensOf(s string) string {
	var words []string
	for _, t := range tokenize(s, nil) {
		words = append(words, t.text)
	}
	return strings.Join(words, " ")
}

func TestCompileErrors(t *testing.T) {
	t.Parallel()
	_, err := Compile([]Entry{{Name: "Libya", Terms: []string{"Libya"}}, {Name: "Punct", Terms: []string{"ok", "--"}}})
	re, ok := err.(*RuleError)
	if !ok || re.Entry != 1 || re.Term != 1 || !strings.Contains(re.Error(), `"--" has no letters`) {
		t.Fatalf("got %v", err)
	}
	_, err = Compile([]Entry{{Name: "Empty"}})
	if re, ok := err.(*RuleError); !ok || re.Term != -1 {
		t.Fatalf("got %v", err)
	}
}

func TestNormalize(t *testing.T) {
	t.Parallel()
	tests := map[string]string{
		"Ḥaftar":        "haftar",
		"LIBYE":         "libye",
		"Libya’s":       "libya's",
		"Straße":        "strasse",
		"ﬁnal":          "final",
		"Wagner–Gruppe": "wagner-gruppe",
		"İstanbul":      "istanbul",
		"الأَسَد":       "الاسد",
		"Ёлка":          "елка",
		"plain ascii":   "plain ascii",
		"bad \xff utf8": "bad \uFFFD utf8",
		"no\u00a0break": "no break",
		"ＦＵＬＬ ｗｉｄｔｈ":    "full width",
	}
	for in, want := range tests {
		if got := Normalize(in); got != want {
			t.Errorf("Normalize(%q) = %q, want %q", in, got, want)
		}
		if !utf8.ValidString(Normalize(in)) {
			t.Errorf("Normalize(%q) is not valid UTF-8", in)
		}
	}
}

func TestStripHTML(t *testing.T) {
	t.Parallel()
	tests := map[string]string{
		"plain":                "plain",
		"a &amp; b":            "a & b",
		"<p>one</p><p>two</p>": "one  two",
		"<b>Haf</b>tar":        "Haftar",
		"x<script>alert(1)</script>y<style>p{}</style>z": "xyz",
		"<img src=x onerror=alert(1)>caption":            "caption",
		"unclosed <b>bold":                               "unclosed bold",
	}
	for in, want := range tests {
		if got := StripHTML(in); got != want {
			t.Errorf("StripHTML(%q) = %q, want %q", in, got, want)
		}
	}
}

func FuzzMatch(f *testing.F) {
	for _, s := range []string{"Haftar's forces", "<p>Libya</p>", "Ḥaftar حفتر", "Wagner\u00a0Group", "\xff\xfe", "ǅ ß ﬁ"} {
		f.Add(s)
	}
	m := mustCompile(f, testWatchlist)
	f.Fuzz(func(t *testing.T, s string) {
		res := m.Match(Document{Title: s, Content: s})
		for _, h := range res.Hits {
			field := []rune(res.Normalized[h.Field])
			if h.Start < 0 || h.End > len(field) || h.Start >= h.End {
				t.Fatalf("hit %+v out of range for %q", h, res.Normalized[h.Field])
			}
			if got, want := tokensOf(Normalize(string(field[h.Start:h.End]))), tokensOf(Normalize(h.Term)); got != want {
				t.Fatalf("hit %+v points at %q (%q), want %q", h, string(field[h.Start:h.End]), got, want)
			}
		}
	})
}

func BenchmarkMatch(b *testing.B) {
	m := mustCompile(b, testWatchlist)
	doc := Document{
		Title:   "Libya’s rival camps resume talks in Geneva as fighting eases",
		Summary: "<p>Envoys met on Tuesday, the United Nations said, in the first direct talks since January.</p>",
		Content: strings.Repeat("<p>Forces loyal to the eastern commander pulled back from the coastal road, officials said, while diplomats worked on a ceasefire text. </p>", 8),
	}
	n := len(doc.Title) + len(doc.Summary) + len(doc.Content)
	b.SetBytes(int64(n))
	b.ReportAllocs()
	for b.Loop() {
		m.Match(doc)
	}
}
