package review_test

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/wirewatch/wirewatch/classify"
	"github.com/wirewatch/wirewatch/cmd/wirewatch/review"
	"github.com/wirewatch/wirewatch/storage"
	"github.com/wirewatch/wirewatch/storage/storagetest"
)

func TestMain(m *testing.M) { storagetest.Main(m) }

// Hostile text as a feed could send it: markup in the title, the summary,
// the snippet and the link.
const (
	scriptTag = "<script>alert(1)</script>"
	imgTag    = "<img src=x onerror=alert(1)>"
)

// fixture is a migrated schema with a few stored matches in two feeds,
// one of which is failing.
type fixture struct {
	pool  *pgxpool.Pool
	store *storage.Store
	ids   map[string]int64 // by item key
}

const (
	keyAdvance = "https://meridian.example/2020/05/advance"
	keyWagner  = "https://meridian.example/2020/05/jufra"
	keyHostile = "https://meridian.example/2020/05/decree"
	keyFormula = "https://harbour.example/2020/05/talks"
)

func newFixture(t *testing.T) *fixture {
	t.Helper()
	ctx := context.Background()
	_, pool := storagetest.MigratedSchema(t)
	s := storage.New(pool)
	feeds, err := s.SyncFeeds(ctx, []storage.FeedSpec{
		{URL: "https://meridian.example/rss", Name: "Meridian Wire"},
		{URL: "https://harbour.example/rss", Name: "Harbour Post"},
		{URL: "https://broken.example/rss", Name: "Broken Feed"},
	})
	if err != nil {
		t.Fatal(err)
	}
	published := time.Date(2020, 5, 7, 16, 5, 0, 0, time.UTC)
	item := func(key, title, summary string, snippets map[string]string) storage.Item {
		it := storage.Item{Key: key, Link: key, Title: title, Summary: summary, PublishedAt: &published, Snippets: snippets}
		for w := range snippets {
			it.Watches = append(it.Watches, w)
			it.Hits = append(it.Hits, classify.Hit{Watch: w, Term: w, Field: "title", Start: 0, End: len(w), Count: 1})
		}
		return it
	}
	hostile := item(keyHostile, scriptTag+" Assad decree "+imgTag, imgTag+" Damascus",
		map[string]string{"Assad": scriptTag + " ⟦Assad⟧ decree " + imgTag})
	hostile.Link = "javascript:alert(1)"
	poll := func(f storage.Feed, items ...storage.Item) {
		t.Helper()
		p := storage.Poll{FeedID: f.ID, StartedAt: time.Now(), Outcome: storage.OutcomeOK, HTTPStatus: 200, Items: items}
		if _, err := s.SavePoll(ctx, p); err != nil {
			t.Fatal(err)
		}
	}
	poll(feeds[0],
		item(keyAdvance, "Haftar forces advance on Tripoli", "Fighting south of the capital.",
			map[string]string{"Haftar": "⟦Haftar⟧ forces advance on Tripoli", "Libya": "Haftar forces advance on ⟦Tripoli⟧"}),
		item(keyWagner, "Wagner Group contractors leave Jufra", "Flights out of the air base overnight.",
			map[string]string{"Wagner": "⟦Wagner Group⟧ contractors leave Jufra"}),
		hostile)
	poll(feeds[1], item(keyFormula, "=HYPERLINK(\"http://evil.example\") Libya ceasefire talks", "Talks in Geneva.",
		map[string]string{"Libya": "=HYPERLINK ⟦Libya⟧ ceasefire talks"}))
	if _, err := s.SavePoll(ctx, storage.Poll{FeedID: feeds[2].ID, StartedAt: time.Now(), Outcome: storage.OutcomeFailed,
		ErrorKind: "parse", Error: "XML syntax error on line 26: unexpected EOF " + scriptTag}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.AssignStories(ctx, storage.StoryOptions{}); err != nil {
		t.Fatal(err)
	}
	f := &fixture{pool: pool, store: s, ids: map[string]int64{}}
	rows, err := pool.Query(ctx, "SELECT key, id FROM items")
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var k string
		var id int64
		if err := rows.Scan(&k, &id); err != nil {
			t.Fatal(err)
		}
		f.ids[k] = id
	}
	if rows.Err() != nil || len(f.ids) != 4 {
		t.Fatalf("items: %v, %v", f.ids, rows.Err())
	}
	return f
}

// serve runs the review handler with opts (the store filled in) behind
// Protect, as the daemon does.
func (f *fixture) serve(t *testing.T, opts review.Options, creds review.Credentials) *httptest.Server {
	t.Helper()
	opts.Store = f.store
	if opts.Watches == nil {
		opts.Watches = func() []string { return []string{"Libya", "Haftar", "Wagner", "Assad"} }
	}
	h, err := review.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	h.Register(mux)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok\n") })
	srv := httptest.NewServer(review.Protect(mux, creds, "/healthz"))
	t.Cleanup(srv.Close)
	return srv
}

func (f *fixture) reviewed(t *testing.T, key string) bool {
	t.Helper()
	var at *time.Time
	if err := f.pool.QueryRow(context.Background(), "SELECT reviewed_at FROM items WHERE key = $1", key).Scan(&at); err != nil {
		t.Fatal(err)
	}
	return at != nil
}

type response struct {
	status int
	header http.Header
	body   string
}

func do(t *testing.T, req *http.Request) response {
	t.Helper()
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return response{resp.StatusCode, resp.Header, string(b)}
}

func get(t *testing.T, u string) response {
	t.Helper()
	req, err := http.NewRequest("GET", u, nil)
	if err != nil {
		t.Fatal(err)
	}
	return do(t, req)
}

// items are the ids of the rows the page lists, in order.
var itemRow = regexp.MustCompile(`<li class="item[^"]*" id="(?:item|story)-(\d+)"`)

func listed(body string) []string {
	out := []string{}
	for _, m := range itemRow.FindAllStringSubmatch(body, -1) {
		out = append(out, m[1])
	}
	return out
}

func (f *fixture) idsOf(keys ...string) []string {
	out := []string{}
	for _, k := range keys {
		out = append(out, strconv.FormatInt(f.ids[k], 10))
	}
	return out
}

func TestPageFiltersAndEscapes(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	srv := f.serve(t, review.Options{}, review.Credentials{})

	r := get(t, srv.URL+"/")
	if r.status != 200 || !strings.HasPrefix(r.header.Get("Content-Type"), "text/html") {
		t.Fatalf("GET / = %d %s\n%s", r.status, r.header.Get("Content-Type"), r.body)
	}
	for name, want := range map[string]string{
		"Content-Security-Policy": "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
		"X-Content-Type-Options":  "nosniff",
		"Referrer-Policy":         "no-referrer",
		"X-Frame-Options":         "DENY",
	} {
		if got := r.header.Get(name); got != want {
			t.Errorf("%s = %q, want %q", name, got, want)
		}
	}
	for _, want := range []string{
		"Haftar forces advance on Tripoli", `href="https://meridian.example/2020/05/advance"`,
		`<mark>Haftar</mark> forces advance on Tripoli`, `Haftar forces advance on <mark>Tripoli</mark>`,
		"No reference article loaded — <code>wirewatch reference add FILE</code>",
		`<li class="ok"><strong>2</strong> ok</li>`, `<li class="failing"><strong>1</strong> failing</li>`,
		`<li class="gone"><strong>0</strong> gone</li>`, "Broken Feed", "4 matches",
		// Feed text is escaped wherever it shows.
		"&lt;script&gt;alert(1)&lt;/script&gt; Assad decree &lt;img src=x onerror=alert(1)&gt;",
		"&lt;script&gt;alert(1)&lt;/script&gt; <mark>Assad</mark> decree &lt;img src=x onerror=alert(1)&gt;",
		"unexpected EOF &lt;script&gt;alert(1)&lt;/script&gt;",
		`href="#ZgotmplZ"`, // the javascript: link is neutralized
	} {
		if !strings.Contains(r.body, want) {
			t.Errorf("the page lacks %q", want)
		}
	}
	for _, bad := range []string{"<script", "<img", "javascript:", "onerror=alert(1)>"} {
		if strings.Contains(r.body, bad) {
			t.Errorf("the page contains %q", bad)
		}
	}
	if got := listed(r.body); len(got) != 4 {
		t.Fatalf("listed %v, want 4 items", got)
	}

	for query, want := range map[string][]string{
		"watch=Wagner":                     f.idsOf(keyWagner),
		"watch=wagner&watch=Assad":         f.idsOf(keyWagner, keyHostile),
		"feed=https://harbour.example/rss": f.idsOf(keyFormula),
		"feed=harbour+post":                f.idsOf(keyFormula),
		"q=tripoli":                        f.idsOf(keyAdvance),
		"q=air+base":                       f.idsOf(keyWagner),
		"q=damascus&watch=Assad":           f.idsOf(keyHostile),
		"q=tripoli+-haftar":                {},
		"since=24h&q=ceasefire":            f.idsOf(keyFormula),
		"since=2999-01-01":                 {},
		"reviewed=reviewed":                {},
		"limit=1":                          f.idsOf(keyFormula), // the newest
	} {
		r := get(t, srv.URL+"/?"+query)
		got := listed(r.body)
		if r.status != 200 || !sameSet(got, want) {
			t.Errorf("/?%s = %d, lists %v, want %v", query, r.status, got, want)
		}
	}
	// The form shows the filter it applied.
	r = get(t, srv.URL+"/?watch=Wagner&q=air+base&since=7d&reviewed=all")
	for _, want := range []string{`<option value="Wagner" selected>Wagner</option>`, `name="q" value="air base"`,
		`name="since" value="7d"`, `value="all" checked`} {
		if !strings.Contains(r.body, want) {
			t.Errorf("the filtered page lacks %q", want)
		}
	}
	// A bad filter says what is wrong.
	for query, want := range map[string]string{
		"since=yesterday": `since &#34;yesterday&#34;: want a duration (24h, 7d) or a date (2020-05-01)`,
		"reviewed=maybe":  "want unreviewed, reviewed or all",
		"limit=0":         "want a number from 1 to 1000",
		"view=grid":       "want matches or stories",
	} {
		r := get(t, srv.URL+"/?"+query)
		if r.status != 400 || !strings.Contains(r.body, want) {
			t.Errorf("/?%s = %d, want 400 saying %q", query, r.status, want)
		}
	}

	// Stories: one per item here, the same filters.
	r = get(t, srv.URL+"/?view=stories&q=tripoli")
	if r.status != 200 || len(listed(r.body)) != 1 || !strings.Contains(r.body, "1 outlet: Meridian Wire") ||
		!strings.Contains(r.body, `<mark>Haftar</mark> forces advance`) || !strings.Contains(r.body, `aria-current="page">Stories`) {
		t.Errorf("stories view = %d\n%s", r.status, r.body)
	}

	// The stylesheet is embedded; nothing else is served.
	if r := get(t, srv.URL+"/static/review.css"); r.status != 200 || !strings.HasPrefix(r.header.Get("Content-Type"), "text/css") {
		t.Errorf("stylesheet = %d %s", r.status, r.header.Get("Content-Type"))
	}
	if r := get(t, srv.URL+"/nothing-here"); r.status != 404 {
		t.Errorf("unknown path = %d", r.status)
	}
}

func sameSet(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	seen := map[string]int{}
	for _, x := range a {
		seen[x]++
	}
	for _, x := range b {
		seen[x]--
	}
	for _, n := range seen {
		if n != 0 {
			return false
		}
	}
	return true
}

// csrfOf reads the form's CSRF token from a page.
func csrfOf(t *testing.T, body string) string {
	t.Helper()
	m := regexp.MustCompile(`name="csrf" value="([^"]+)"`).FindStringSubmatch(body)
	if m == nil {
		t.Fatal("no CSRF token on the page")
	}
	return m[1]
}

func post(t *testing.T, u string, form url.Values, header map[string]string) response {
	t.Helper()
	req, err := http.NewRequest("POST", u, strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for k, v := range header {
		req.Header.Set(k, v)
	}
	return do(t, req)
}

// Marking reviewed: one item, the ticked ones, every one listed; with the
// CSRF token and from this page only. It is the state the CLI's
// --unreviewed reads.
func TestMarkReviewed(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	srv := f.serve(t, review.Options{}, review.Credentials{})
	token := csrfOf(t, get(t, srv.URL+"/").body)
	id := func(key string) string { return strconv.FormatInt(f.ids[key], 10) }

	// Refused: no token, a wrong one, a token of another process, another
	// site's page.
	other := f.serve(t, review.Options{}, review.Credentials{})
	otherToken := csrfOf(t, get(t, other.URL+"/").body)
	for name, tc := range map[string]struct {
		form   url.Values
		header map[string]string
	}{
		"no token":       {url.Values{"item": {id(keyAdvance)}}, nil},
		"wrong token":    {url.Values{"item": {id(keyAdvance)}, "csrf": {token + "x"}}, nil},
		"other process":  {url.Values{"item": {id(keyAdvance)}, "csrf": {otherToken}}, nil},
		"cross-site":     {url.Values{"item": {id(keyAdvance)}, "csrf": {token}}, map[string]string{"Sec-Fetch-Site": "cross-site"}},
		"foreign origin": {url.Values{"item": {id(keyAdvance)}, "csrf": {token}}, map[string]string{"Origin": "http://evil.example"}},
	} {
		if r := post(t, srv.URL+"/review", tc.form, tc.header); r.status != http.StatusForbidden {
			t.Errorf("%s: POST /review = %d, want 403", name, r.status)
		}
	}
	if f.reviewed(t, keyAdvance) {
		t.Fatal("a refused POST marked an item reviewed")
	}
	if r := post(t, srv.URL+"/review", url.Values{"item": {"12x"}, "csrf": {token}}, nil); r.status != 400 {
		t.Errorf("a bad id = %d, want 400", r.status)
	}

	// One item, from a filtered page: back to the same filter.
	host := strings.TrimPrefix(srv.URL, "http://")
	r := post(t, srv.URL+"/review", url.Values{"item": {id(keyAdvance)}, "id": {id(keyWagner)}, "csrf": {token},
		"back": {"watch=Haftar&since=7d&q=tripoli&evil=1"}}, map[string]string{"Sec-Fetch-Site": "same-origin", "Origin": "http://" + host})
	if r.status != http.StatusSeeOther || r.header.Get("Location") != "/?done=1&q=tripoli&since=7d&watch=Haftar" {
		t.Fatalf("POST /review = %d, Location %q", r.status, r.header.Get("Location"))
	}
	if !f.reviewed(t, keyAdvance) || f.reviewed(t, keyWagner) {
		t.Fatal("the pressed button's item, and only it, should be reviewed")
	}
	if page := get(t, srv.URL+r.header.Get("Location")); !strings.Contains(page.body, "Marked 1 item reviewed.") || len(listed(page.body)) != 0 {
		t.Errorf("the page after marking:\n%s", page.body)
	}
	// The CLI's --unreviewed reads the same state.
	ms, err := f.store.Matches(context.Background(), storage.MatchFilter{Unreviewed: true})
	if err != nil || len(ms) != 3 {
		t.Fatalf("unreviewed after marking one: %d, %v", len(ms), err)
	}

	// Selected: the ticked ones.
	r = post(t, srv.URL+"/review", url.Values{"action": {"selected"}, "id": {id(keyWagner), id(keyHostile)}, "csrf": {token}}, nil)
	if r.status != http.StatusSeeOther || r.header.Get("Location") != "/?done=2" || !f.reviewed(t, keyWagner) || !f.reviewed(t, keyHostile) {
		t.Fatalf("mark selected = %d %q", r.status, r.header.Get("Location"))
	}
	// All listed: the ids the page listed, not whatever matches now.
	page := get(t, srv.URL+"/?reviewed=all")
	listedIDs := regexp.MustCompile(`name="listed" value="([^"]*)"`).FindStringSubmatch(page.body)
	if listedIDs == nil || !sameSet(strings.Split(listedIDs[1], ","), f.idsOf(keyFormula, keyHostile, keyWagner, keyAdvance)) {
		t.Fatalf("listed ids = %v", listedIDs)
	}
	r = post(t, srv.URL+"/review", url.Values{"action": {"listed"}, "listed": {listedIDs[1]}, "csrf": {token}, "back": {"reviewed=all"}}, nil)
	if r.status != http.StatusSeeOther || r.header.Get("Location") != "/?done=1&reviewed=all" || !f.reviewed(t, keyFormula) {
		t.Fatalf("mark all listed = %d %q", r.status, r.header.Get("Location"))
	}
	if ms, _ := f.store.Matches(context.Background(), storage.MatchFilter{Unreviewed: true}); len(ms) != 0 {
		t.Fatalf("%d unreviewed left", len(ms))
	}
	// A story's button marks all its copies.
	if _, err := f.pool.Exec(context.Background(), "UPDATE items SET reviewed_at = NULL"); err != nil {
		t.Fatal(err)
	}
	page = get(t, srv.URL+"/?view=stories&q=tripoli")
	m := regexp.MustCompile(`name="item" value="([0-9,]+)"`).FindStringSubmatch(page.body)
	if m == nil {
		t.Fatalf("no story button:\n%s", page.body)
	}
	r = post(t, srv.URL+"/review", url.Values{"item": {m[1]}, "csrf": {token}, "back": {"view=stories"}}, nil)
	if r.header.Get("Location") != "/?done=1&view=stories" || !f.reviewed(t, keyAdvance) {
		t.Fatalf("mark a story = %d %q", r.status, r.header.Get("Location"))
	}
}

// The API and the export take the page's filters.
func TestAPIAndExport(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	relevance := map[int64]float64{f.ids[keyAdvance]: 0.82}
	srv := f.serve(t, review.Options{
		Relevance: func(m storage.Match) *float64 {
			if r, ok := relevance[m.ItemID]; ok {
				return &r
			}
			return nil
		},
		Reference: func(context.Context) ([]review.Reference, error) {
			return []review.Reference{
				{Title: "Russia moves fighters " + scriptTag, Link: "https://reference.example/a",
					Text: "Moscow is moving Syrian fighters to Libya. " + imgTag},
				{Title: "Haftar's offensive on Tripoli", Text: "A year of war around the capital."},
			}, nil
		},
	}, review.Credentials{})

	r := get(t, srv.URL+"/api/matches?watch=Haftar&watch=Libya")
	var got struct {
		Matches []struct {
			ID        int64             `json:"id"`
			Title     string            `json:"title"`
			Watches   []string          `json:"watches"`
			Hits      []classify.Hit    `json:"hits"`
			Snippets  map[string]string `json:"snippets"`
			Relevance *float64          `json:"relevance"`
		} `json:"matches"`
	}
	if err := json.Unmarshal([]byte(r.body), &got); err != nil || r.status != 200 || r.header.Get("Content-Type") != "application/json" {
		t.Fatalf("/api/matches = %d %v\n%s", r.status, err, r.body)
	}
	if len(got.Matches) != 2 {
		t.Fatalf("/api/matches lists %d, want 2:\n%s", len(got.Matches), r.body)
	}
	for _, m := range got.Matches {
		switch m.ID {
		case f.ids[keyAdvance]:
			if m.Relevance == nil || *m.Relevance != 0.82 || !reflect.DeepEqual(m.Watches, []string{"Haftar", "Libya"}) ||
				len(m.Hits) != 2 || m.Snippets["Haftar"] != "⟦Haftar⟧ forces advance on Tripoli" {
				t.Errorf("match = %+v", m)
			}
		case f.ids[keyFormula]:
			if m.Relevance != nil {
				t.Errorf("relevance of a match without one = %v", *m.Relevance)
			}
		default:
			t.Errorf("unexpected match %d", m.ID)
		}
	}
	if r := get(t, srv.URL+"/api/matches?since=soon"); r.status != 400 || !strings.Contains(r.body, `"error":"since`) {
		t.Errorf("bad filter = %d %s", r.status, r.body)
	}
	r = get(t, srv.URL+"/api/stories?q=jufra&reviewed=all")
	var sts struct {
		Stories []storage.Story `json:"stories"`
	}
	if err := json.Unmarshal([]byte(r.body), &sts); err != nil || len(sts.Stories) != 1 || sts.Stories[0].Title != "Wagner Group contractors leave Jufra" {
		t.Fatalf("/api/stories = %d %v\n%s", r.status, err, r.body)
	}
	if r := get(t, srv.URL+"/api/stories?q=nothing+like+this"); r.body != "{\"stories\":[]}\n" {
		t.Errorf("no stories = %s", r.body)
	}

	// The page shows the reference and the relevance figure.
	page := get(t, srv.URL+"/").body
	for _, want := range []string{"Reference articles", `<a href="https://reference.example/a"`, "Russia moves fighters &lt;script&gt;",
		"Moscow is moving Syrian fighters", "Haftar&#39;s offensive on Tripoli", `<meter min="0" max="1" value="0.820"></meter> 82%`} {
		if !strings.Contains(page, want) {
			t.Errorf("the page lacks %q", want)
		}
	}
	if strings.Contains(page, "No reference article loaded") || strings.Contains(page, "<img") {
		t.Error("the reference panel is wrong")
	}

	// CSV: every match of the filter, the page's limit aside.
	r = get(t, srv.URL+"/export.csv?watch=Libya")
	if r.status != 200 || r.header.Get("Content-Type") != "text/csv; charset=utf-8" ||
		!strings.HasPrefix(r.header.Get("Content-Disposition"), `attachment; filename="wirewatch-matches-`) {
		t.Fatalf("/export.csv = %d %v", r.status, r.header)
	}
	rows, err := csv.NewReader(strings.NewReader(r.body)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"id", "first_seen_at", "published_at", "watches", "terms", "relevance", "feed", "feed_url", "title",
		"link", "reviewed_at", "snippet", "found_by"}
	if len(rows) != 3 || !reflect.DeepEqual(rows[0], want) {
		t.Fatalf("CSV:\n%s", r.body)
	}
	byID := map[string][]string{}
	for _, row := range rows[1:] {
		byID[row[0]] = row
	}
	adv := byID[strconv.FormatInt(f.ids[keyAdvance], 10)]
	if adv == nil || adv[3] != "Haftar;Libya" || adv[4] != "Haftar:Haftar@title;Libya:Libya@title" || adv[5] != "0.820" ||
		adv[6] != "Meridian Wire" || adv[11] != "⟦Haftar⟧ forces advance on Tripoli" || adv[12] != "poll" {
		t.Errorf("CSV row = %q", adv)
	}
	// A title that a spreadsheet would take for a formula stays text.
	formula := byID[strconv.FormatInt(f.ids[keyFormula], 10)]
	if formula == nil || formula[8] != `'=HYPERLINK("http://evil.example") Libya ceasefire talks` || formula[11] != "'=HYPERLINK ⟦Libya⟧ ceasefire talks" {
		t.Errorf("CSV row = %q", formula)
	}
	if r := get(t, srv.URL+"/export.csv?limit=1"); strings.Count(r.body, "\n") != 2 {
		t.Errorf("CSV with limit=1:\n%s", r.body)
	}
}

// With credentials every route asks for them, but the health checks.
func TestProtect(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	const token = "0123456789abcdef0123456789abcdef"
	srv := f.serve(t, review.Options{}, review.Credentials{Token: token, User: "analyst", Password: "correct horse"})
	open := f.serve(t, review.Options{}, review.Credentials{})

	req := func(path string, set func(*http.Request)) int {
		t.Helper()
		r, err := http.NewRequest("GET", srv.URL+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		if set != nil {
			set(r)
		}
		return do(t, r).status
	}
	bearer := func(tok string) func(*http.Request) {
		return func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+tok) }
	}
	basic := func(u, p string) func(*http.Request) { return func(r *http.Request) { r.SetBasicAuth(u, p) } }
	for _, path := range []string{"/", "/api/matches", "/api/stories", "/export.csv", "/static/review.css"} {
		if got := req(path, nil); got != 401 {
			t.Errorf("%s without credentials = %d, want 401", path, got)
		}
		for name, set := range map[string]func(*http.Request){
			"wrong token": bearer(token[1:]), "empty token": bearer(""), "wrong password": basic("analyst", "correct horsE"),
			"wrong user": basic("admin", "correct horse"), "token as user": basic(token, ""),
		} {
			if got := req(path, set); got != 401 {
				t.Errorf("%s with %s = %d, want 401", path, name, got)
			}
		}
		for name, set := range map[string]func(*http.Request){
			"token": bearer(token), "basic auth": basic("analyst", "correct horse"), "token as password": basic("anyone", token),
		} {
			if got := req(path, set); got != 200 {
				t.Errorf("%s with %s = %d, want 200", path, name, got)
			}
		}
	}
	r := get(t, srv.URL+"/")
	if !strings.Contains(strings.Join(r.header.Values("WWW-Authenticate"), "\n"), `Basic realm="wirewatch"`) ||
		r.header.Get("Content-Security-Policy") == "" {
		t.Errorf("401 headers = %v", r.header)
	}
	if got := req("/healthz", nil); got != 200 {
		t.Errorf("/healthz without credentials = %d, want 200", got)
	}
	// A POST needs the credentials before its CSRF token counts.
	token2 := csrfOf(t, get(t, open.URL+"/").body)
	if r := post(t, srv.URL+"/review", url.Values{"item": {"1"}, "csrf": {token2}}, nil); r.status != 401 {
		t.Errorf("POST without credentials = %d", r.status)
	}
	// Without credentials, nothing is asked.
	if r := get(t, open.URL+"/api/matches"); r.status != 200 {
		t.Errorf("open server = %d", r.status)
	}
}

// The daemon's wiring: the reference articles and the relevance that
// storage keeps, and the order by relevance.
func TestStoredReferencesAndRelevance(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFixture(t)
	srv := f.serve(t, review.Options{Reference: review.StoredReferences(f.store), Relevance: review.StoredRelevance}, review.Credentials{})
	if page := get(t, srv.URL+"/").body; !strings.Contains(page, "No reference article loaded") || strings.Contains(page, "<meter") {
		t.Fatalf("without references:\n%s", page)
	}
	if _, err := f.store.ReplaceReferences(ctx, []storage.Reference{{Title: "Russia and Syria said to move fighters to Libya",
		URL: "https://reference.example/libya", Body: "Officials say Russia is working with Syria to move fighters to Libya."}}); err != nil {
		t.Fatal(err)
	}
	for key, rel := range map[string]float64{keyWagner: 0.61, keyAdvance: 0.35} {
		if _, err := f.pool.Exec(ctx, "UPDATE items SET relevance = $2 WHERE key = $1", key, rel); err != nil {
			t.Fatal(err)
		}
	}
	page := get(t, srv.URL+"/?sort=relevance").body
	for _, want := range []string{"Reference article</h2>", `<a href="https://reference.example/libya" target="_blank" rel="noopener noreferrer">Russia and Syria`,
		"Officials say Russia is working with Syria", `<meter min="0" max="1" value="0.610"></meter> 61%`,
		`<option value="relevance" selected>most relevant first</option>`} {
		if !strings.Contains(page, want) {
			t.Errorf("the page lacks %q", want)
		}
	}
	if strings.Contains(page, "No reference article loaded") {
		t.Error("the page says no reference is loaded")
	}
	if got := listed(page); len(got) != 4 || got[0] != f.idsOf(keyWagner)[0] || got[1] != f.idsOf(keyAdvance)[0] {
		t.Errorf("by relevance, the page lists %v", got)
	}
	r := get(t, srv.URL+"/api/matches?sort=relevance&limit=1")
	if !strings.Contains(r.body, `"relevance":0.61`) || strings.Count(r.body, `"id":`) != 1 {
		t.Errorf("/api/matches by relevance:\n%s", r.body)
	}
	if r := get(t, srv.URL+"/?sort=best"); r.status != 400 || !strings.Contains(r.body, "want time or relevance") {
		t.Errorf("a bad sort = %d", r.status)
	}
}
