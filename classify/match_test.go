package classify

import (
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"
)

var testWatchlist = []Entry{
	{Name: "Libya", Terms: []string{"Libya", "Libyan", "Libye", "ليبيا", "Ливия", "ливийск*"}},
	{Name: "Haftar", Terms: []string{"Haftar", "Hafter", "حفتر", "Хафтар"}},
	{Name: "Wagner", Terms: []string{"Wagner Group", "Wagner mercenaries", "groupe Wagner", "ЧВК «Вагнер»"},
		Query: `Wagner AND (Russia* OR mercenar* OR PMC OR Prigozhin OR Libya* OR Syria*) NOT (opera OR composer OR Bayreuth OR actor)`},
	{Name: "Assad", Terms: []string{"Assad", "al-Assad", "بشار الأسد"},
		Query: `الأسد AND (سوريا OR دمشق OR النظام OR الرئيس)`},
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
		"arabic proclitic wa":        {"وحفتر يلتقي وفدا", []string{"Haftar"}},
		"arabic proclitic li":        {"مبعوث جديد لليبيا", []string{"Libya"}},
		"arabic proclitic bi":        {"اشتباكات بليبيا", []string{"Libya"}},
		"arabic word containing":     {"ليبيريا تجري انتخابات", nil},
		"arabic harakat":             {"حَفْتَر", []string{"Haftar"}},
		"the lion is not Assad":      {"الأسد يهرب من حديقة الحيوان", nil},
		"Assad in context":           {"الأسد يصدر مرسوما جديدا في دمشق", []string{"Assad"}},
		"li + al elides the alef":    {"رسالة للأسد من الرئيس", []string{"Assad"}},
		"russian":                    {"Хафтар встретился с делегацией; ЧВК Вагнер", []string{"Haftar", "Wagner"}},
		"russian prefix":             {"Ливийский кризис", []string{"Libya"}},
		"prefix needs word start":    {"Неливийский", nil},
		"Libyan prefix is not Libya": {"Libyanism in art", nil},
		"query":                      {"Wagner fighters paid by Russian firms", []string{"Wagner"}},
		"query NOT":                  {"Wagner opera staged in Russia", nil},
		"query prefix":               {"Wagner mercenary said to be in Mali", []string{"Wagner"}},
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

func TestQueryAcrossFieldsAndNear(t *testing.T) {
	t.Parallel()
	m := mustCompile(t, []Entry{
		{Name: "HaftarAssad", Query: `Haftar NEAR/4 (Assad OR Damascus)`},
		{Name: "Both", Query: `Haftar AND Assad`},
		{Name: "TitleOnly", Terms: []string{"Libya"}, Fields: []string{"title"}},
		{Name: "Tags", Terms: []string{"Middle East"}, Fields: []string{"categories"}},
		{Name: "Byline", Terms: []string{"Desk"}, Fields: []string{"author"}},
	})
	tests := map[string]struct {
		doc  Document
		want []string
	}{
		"near":                 {Document{Title: "Haftar opens embassy in Damascus"}, []string{"HaftarAssad"}},
		"near, other order":    {Document{Title: "Assad hosts envoy of Haftar"}, []string{"HaftarAssad", "Both"}},
		"too far":              {Document{Title: "Haftar said on Monday that the talks with Assad"}, []string{"Both"}},
		"not across fields":    {Document{Title: "Haftar", Summary: "Damascus"}, nil},
		"AND across fields":    {Document{Title: "Haftar", Summary: "Assad"}, []string{"Both"}},
		"title only, in title": {Document{Title: "Libya"}, []string{"TitleOnly"}},
		"title only, in body":  {Document{Summary: "Libya"}, nil},
		"categories":           {Document{Title: "x", Categories: []string{"World", "Middle East"}}, []string{"Tags"}},
		"not in title":         {Document{Title: "Middle East"}, nil},
		"author":               {Document{Author: "Africa Desk"}, []string{"Byline"}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			if got := m.Match(tc.doc).Watches; !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %v, want %v", got, tc.want)
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
		{Watch: "Libya", Term: "Libya", Field: FieldContent, Start: 37, End: 42, Count: 1},
		{Watch: "Haftar", Term: "Haftar", Field: FieldContent, Start: 18, End: 24, Count: 1},
	}
	if !reflect.DeepEqual(res.Hits, want) {
		t.Fatalf("hits:\n got %+v\nwant %+v", res.Hits, want)
	}
	checkOffsets(t, res)
	if got := res.Snippets["Haftar"]; got != "Forces of Khalifa ⟦Haftar⟧ pulled back. Libya again." {
		t.Errorf("snippet = %q", got)
	}
	if got := res.Snippets["Libya"]; got != "Envoys from ⟦Libya⟧’s rival camps met." {
		t.Errorf("snippet = %q", got)
	}
}

func TestSnippetIsCut(t *testing.T) {
	t.Parallel()
	m := mustCompile(t, testWatchlist)
	long := strings.Repeat("Officials said the talks would go on. ", 10)
	res := m.Match(Document{Content: long + "Forces loyal to Khalifa Haftar withdrew. " + long})
	s := res.Snippets["Haftar"]
	if !strings.HasPrefix(s, "…") || !strings.HasSuffix(s, "…") || !strings.Contains(s, "Khalifa ⟦Haftar⟧ withdrew") ||
		utf8.RuneCountInString(s) > 2*snippetContext+20 {
		t.Errorf("snippet = %q", s)
	}
}

// checkOffsets verifies that every hit points at its term in the
// normalized field.
func checkOffsets(t testing.TB, res Result) {
	t.Helper()
	for _, h := range res.Hits {
		field := []rune(res.Normalized[h.Field])
		if h.Start < 0 || h.End > len(field) || h.Start >= h.End {
			t.Fatalf("hit %+v out of range for %q", h, res.Normalized[h.Field])
		}
		got := Normalize(string(field[h.Start:h.End]))
		want := Normalize(strings.TrimSuffix(h.Term, "*"))
		if got != want && !(strings.HasPrefix(want, "ال") && got == "ل"+strings.TrimPrefix(want, "ال")) {
			t.Fatalf("hit %+v points at %q, want %q", h, got, want)
		}
	}
}

func TestHitOffsetsInNonLatinText(t *testing.T) {
	t.Parallel()
	m := mustCompile(t, testWatchlist)
	res := m.Match(Document{Summary: "Ḥaftar: تقرير عن وحفتر و ЧВК «Вагнер» в Ливия; رسالة للأسد في دمشق"})
	if len(res.Hits) != 6 {
		t.Fatalf("hits = %+v", res.Hits)
	}
	checkOffsets(t, res)
}

func TestCompileErrors(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		entry  Entry
		key    string
		index  int
		column int
		msg    string
	}{
		"no letters":          {Entry{Name: "P", Terms: []string{"ok", "--"}}, "terms", 1, 0, `"--" has no letters`},
		"nothing":             {Entry{Name: "E"}, "terms", -1, 0, "no terms and no query"},
		"no name":             {Entry{Terms: []string{"x"}}, "name", -1, 0, "without a name"},
		"short prefix":        {Entry{Name: "S", Terms: []string{"Li*"}}, "terms", 0, 0, "too short"},
		"inner star":          {Entry{Name: "S", Terms: []string{"Li*bya"}}, "terms", 0, 0, "only at the end"},
		"bad field":           {Entry{Name: "F", Terms: []string{"x"}, Fields: []string{"title", "body"}}, "fields", 1, 0, `unknown field "body"`},
		"unbalanced open":     {Entry{Name: "Q", Query: "Wagner AND (Russia OR Libya"}, "query", -1, 12, `"(" is never closed`},
		"unbalanced close":    {Entry{Name: "Q", Query: "Wagner AND Russia)"}, "query", -1, 18, `")" without "("`},
		"near without number": {Entry{Name: "Q", Query: "Wagner NEAR Libya"}, "query", -1, 8, "NEAR needs a distance"},
		"near zero":           {Entry{Name: "Q", Query: "Wagner NEAR/0 Libya"}, "query", -1, 8, "NEAR needs a distance"},
		"near with AND":       {Entry{Name: "Q", Query: "Wagner NEAR/3 (Libya AND Syria)"}, "query", -1, 8, "NEAR/3 joins words"},
		"implicit and":        {Entry{Name: "Q", Query: "Wagner Group"}, "query", -1, 8, `for a phrase, quote it: "Wagner Group"`},
		"lower-case operator": {Entry{Name: "Q", Query: "Wagner and Libya"}, "query", -1, 8, "operators are written in capitals"},
		"trailing operator":   {Entry{Name: "Q", Query: "Wagner OR"}, "query", -1, 8, "OR at the end"},
		"empty parens":        {Entry{Name: "Q", Query: "Wagner AND ()"}, "query", -1, 12, "empty parentheses"},
		"unclosed quote":      {Entry{Name: "Q", Query: `"Wagner Group`}, "query", -1, 1, "unclosed quote"},
		"only NOT":            {Entry{Name: "Q", Query: "NOT opera"}, "query", -1, 1, "would match everything"},
		"OR NOT":              {Entry{Name: "Q", Query: "Wagner OR NOT opera"}, "query", -1, 1, "would match everything"},
		"empty term in query": {Entry{Name: "Q", Query: `Wagner AND "..."`}, "query", -1, 12, "has no letters"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			_, err := Compile([]Entry{{Name: "Ok", Terms: []string{"fine"}}, tc.entry})
			re, ok := err.(*RuleError)
			if !ok {
				t.Fatalf("err = %v (%T), want a *RuleError", err, err)
			}
			if re.Entry != 1 || re.Key != tc.key || re.Index != tc.index || re.Column != tc.column || !strings.Contains(re.Msg, tc.msg) {
				t.Fatalf("got %+v, want key %s index %d column %d and %q", re, tc.key, tc.index, tc.column, tc.msg)
			}
		})
	}
}

func TestQueryParses(t *testing.T) {
	t.Parallel()
	for _, q := range []string{
		`"Wagner Group" OR (Wagner AND (Russia* OR mercenar* OR PMC OR Prigozhin OR Libya* OR Syria*) NOT (opera OR composer OR Bayreuth OR actor))`,
		`Haftar NEAR/5 Assad NEAR/10 Damascus`,
		`«groupe Wagner» OR “Wagner Gruppe”`,
		`"Wagner Gru"*`,
		`Wagner AND NOT opera`,
		`(Haftar)`,
	} {
		if _, err := Compile([]Entry{{Name: "Q", Query: q}}); err != nil {
			t.Errorf("%s: %v", q, err)
		}
	}
}

func TestNormalize(t *testing.T) {
	t.Parallel()
	tests := map[string]string{
		"Ḥaftar":        "haftar",
		"LIBYE":         "libye",
		"Libya’s":       "libya s",
		"Straße":        "strasse",
		"ﬁnal":          "final",
		"Wagner–Gruppe": "wagner gruppe",
		"İstanbul":      "istanbul",
		"الأَسَد":       "الاسد",
		"ليبيـــا":      "ليبيا",
		"مكتبة":         "مكتبه",
		"٢٠٢٠":          "2020",
		"Ёлка":          "елка",
		"plain ascii":   "plain ascii",
		"bad \xff utf8": "bad utf8",
		"no\u00a0break": "no break",
		"ＦＵＬＬ ｗｉｄｔｈ":    "full width",
		"  #Haftar!! ":  "haftar",
		"e\u0301tat":    "etat",
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

// FuzzMatch checks that matching never panics and that every hit's offsets
// point at text that normalizes to its term.
func FuzzMatch(f *testing.F) {
	for _, s := range []string{"Haftar's forces", "<p>Libya</p>", "Ḥaftar حفتر وحفتر للأسد", "Wagner\u00a0Group",
		"\xff\xfe", "ǅ ß ﬁ", "Ливийский ЧВК «Вагнер»", "Wagner Russia opera"} {
		f.Add(s)
	}
	m := mustCompile(f, testWatchlist)
	f.Fuzz(func(t *testing.T, s string) {
		res := m.Match(Document{Title: s, Content: s, Categories: []string{s}})
		checkOffsets(t, res)
	})
}

// FuzzQuery checks that any query either compiles or is refused with a
// RuleError naming a column inside it; never a panic.
func FuzzQuery(f *testing.F) {
	for _, q := range []string{`"Wagner Group" OR (Wagner AND (Russia* OR mercenar*) NOT opera)`, `A NEAR/3 (B OR C)`,
		`((`, `"`, `NOT NOT a`, `a NEAR/0 b`, `a OR`, `«x» “y”`, `حفتر AND ليبيا*`} {
		f.Add(q)
	}
	f.Fuzz(func(t *testing.T, q string) {
		m, err := Compile([]Entry{{Name: "Q", Query: q}})
		if err != nil {
			re, ok := err.(*RuleError)
			if !ok {
				t.Fatalf("%q: %T %v", q, err, err)
			}
			if re.Key == "query" && (re.Column < 1 || re.Column > utf8.RuneCountInString(strings.TrimSpace(q))+1) {
				t.Fatalf("%q: column %d out of range", q, re.Column)
			}
			return
		}
		m.Match(Document{Title: q, Summary: q})
	})
}

// A caller that strips the text itself (Document.Stripped) gets the same
// result as one that leaves it to Match: same entries, hits and snippets.
func TestMatchStrippedIsTheSame(t *testing.T) {
	t.Parallel()
	docs, _ := benchDocs(t)
	m := mustCompile(t, append(testWatchlist, Entry{Name: "Common", Terms: []string{"the government", "said", "Moscow"}}))
	matched := 0
	for i, d := range docs {
		plain := Document{Title: StripHTML(d.Title), Summary: StripHTML(d.Summary), Content: StripHTML(d.Content), Stripped: true}
		want, got := m.Match(d), m.Match(plain)
		if !reflect.DeepEqual(want, got) {
			t.Fatalf("item %d: matched as HTML %+v, as stripped text %+v", i, want, got)
		}
		if want.Matched() {
			matched++
		}
	}
	if matched < 10 {
		t.Fatalf("only %d of %d items matched: the test says little", matched, len(docs))
	}
}
