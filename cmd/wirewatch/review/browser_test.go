package review_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image/png"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/wirewatch/wirewatch/classify"
	"github.com/wirewatch/wirewatch/cmd/wirewatch/review"
	"github.com/wirewatch/wirewatch/config"
	"github.com/wirewatch/wirewatch/ingest"
	"github.com/wirewatch/wirewatch/storage"
	"github.com/wirewatch/wirewatch/storage/storagetest"
)

// Environment of the browser test.
const (
	// envChromium names the browser to drive, when it is not on PATH as
	// chromium, chromium-browser or google-chrome.
	envChromium = "WIREWATCH_CHROMIUM"
	// envScreenshot names the PNG file to write the screenshot of the demo
	// page to (`make screenshot` sets it to docs/review-page.png).
	envScreenshot = "WIREWATCH_SCREENSHOT"
)

// chromium finds the browser, or fails the test saying how to get one: the
// browser test is part of the suite, never skipped.
func chromium(t *testing.T) string {
	t.Helper()
	if p := os.Getenv(envChromium); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Fatalf("the browser test needs Chromium and found none on PATH: install it (Debian: apt-get install chromium; "+
		".ci/run does) or set %s to the browser's path", envChromium)
	return ""
}

// startBrowser starts a headless Chromium for the test and its subtests,
// which each open a tab of it.
func startBrowser(t *testing.T) context.Context {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(chromium(t)), chromedp.DisableGPU,
		chromedp.WindowSize(1280, 900), chromedp.Flag("hide-scrollbars", true))
	if os.Geteuid() == 0 {
		// Chromium's sandbox refuses to run as root; CI runs as root.
		opts = append(opts, chromedp.NoSandbox)
	}
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(alloc)
	t.Cleanup(func() { cancel(); cancelAlloc() })
	if err := chromedp.Do(ctx); err != nil { // starts the browser
		t.Fatalf("start Chromium: %v", err)
	}
	return ctx
}

// tab opens a tab of the browser. Dialogs (alert, confirm) it opens are
// dismissed and listed by dialogs: a page of escaped text opens none.
func tab(t *testing.T, browser context.Context) (ctx context.Context, dialogs func() []string) {
	t.Helper()
	ctx, cancel := chromedp.NewContext(browser)
	t.Cleanup(cancel)
	if err := chromedp.Do(ctx); err != nil { // opens the tab
		t.Fatalf("open a tab: %v", err)
	}
	var mu sync.Mutex
	var opened []string
	events := chromedp.Events(ctx, page.JavascriptDialogOpening)
	go func() {
		for ev, err := range events {
			if err != nil {
				return
			}
			mu.Lock()
			opened = append(opened, string(ev.Type)+": "+ev.Message)
			mu.Unlock()
			_, _ = chromedp.Call(ctx, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{Accept: false})
		}
	}()
	return ctx, func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), opened...)
	}
}

// TestBrowser drives the review page in a real headless Chromium: one
// browser, a tab per subtest.
func TestBrowser(t *testing.T) {
	t.Parallel()
	b := startBrowser(t)
	t.Run("review", func(t *testing.T) {
		t.Parallel()
		testBrowserReview(t, b)
	})
	t.Run("demo screenshot", func(t *testing.T) {
		t.Parallel()
		testBrowserDemoScreenshot(t, b)
	})
}

// step runs browser actions with a deadline, failing the test with what
// was being done.
func step(t *testing.T, ctx context.Context, what string, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

func eval[T any](t *testing.T, ctx context.Context, js string) T {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](js))
	if err != nil {
		t.Fatalf("evaluate %s: %v", js, err)
	}
	return v
}

// submit clicks a button (or link) that loads a page, and waits for it.
func submit(sel string) chromedp.Action[chromedp.Void] {
	wait := chromedp.WaitEvent(page.LoadEventFired, nil, chromedp.Click(chromedp.CSS(sel), chromedp.NodeVisible))
	return func(ctx context.Context, t *chromedp.Target) (chromedp.Void, error) {
		_, err := wait(ctx, t)
		return chromedp.Void{}, err
	}
}

// listedIDs are the ids of the items the page in the tab lists.
func listedIDs(t *testing.T, ctx context.Context) []string {
	t.Helper()
	return eval[[]string](t, ctx, `Array.from(document.querySelectorAll("ol.items > li.item")).map(li => li.id.replace(/^(item|story)-/, ""))`)
}

// The review page in a real browser: it loads, a filter narrows the list,
// marking an item reviewed takes it off the unreviewed list, and a feed's
// markup shows as text and runs nothing.
func testBrowserReview(t *testing.T, browser context.Context) {
	f := newFixture(t)
	srv := f.serve(t, review.Options{}, review.Credentials{})
	ctx, dialogs := tab(t, browser)
	id := func(key string) string { return strconv.FormatInt(f.ids[key], 10) }

	step(t, ctx, "load the page", chromedp.Navigate(srv.URL+"/"), chromedp.WaitVisible(chromedp.CSS("ol.items")))
	if got := listedIDs(t, ctx); !sameSet(got, f.idsOf(keyAdvance, keyWagner, keyHostile, keyFormula)) {
		t.Fatalf("the page lists %v", got)
	}
	if title := eval[string](t, ctx, `document.title`); title != "Matches · wirewatch review" {
		t.Errorf("title = %q", title)
	}
	// The stylesheet applied: the header has its colour.
	if bg := eval[string](t, ctx, `getComputedStyle(document.querySelector("header.top")).backgroundColor`); bg != "rgb(29, 53, 87)" {
		t.Errorf("header background = %q: the stylesheet did not load", bg)
	}

	// The feed's markup is text: it shows as written, makes no element and
	// runs nothing.
	hostile := "#item-" + id(keyHostile)
	heading := eval[string](t, ctx, `document.querySelector("`+hostile+` h3").textContent`)
	if want := scriptTag + " Assad decree " + imgTag; heading != want {
		t.Errorf("the hostile title shows as %q, want %q", heading, want)
	}
	snip := eval[string](t, ctx, `document.querySelector("`+hostile+` .snippet").textContent`)
	if !strings.Contains(snip, scriptTag+" Assad decree "+imgTag) {
		t.Errorf("the hostile snippet shows as %q", snip)
	}
	if marked := eval[string](t, ctx, `document.querySelector("`+hostile+` .snippet mark").textContent`); marked != "Assad" {
		t.Errorf("marked part = %q, want Assad", marked)
	}
	if n := eval[int](t, ctx, `document.querySelectorAll("script, img, iframe, [onerror], [onload], [onclick]").length`); n != 0 {
		t.Errorf("the page has %d script, image or handler elements", n)
	}
	if href := eval[string](t, ctx, `document.querySelector("`+hostile+` h3 a").getAttribute("href")`); strings.HasPrefix(href, "javascript:") {
		t.Errorf("the hostile link kept its href %q", href)
	}

	// A filter narrows the list.
	step(t, ctx, "filter by watch entry", chromedp.SetValue(chromedp.CSS(`select[name=watch]`), "Wagner"), submit("#apply-filter"))
	if got := listedIDs(t, ctx); !sameSet(got, f.idsOf(keyWagner)) {
		t.Errorf("filtered by Wagner, the page lists %v", got)
	}
	step(t, ctx, "search", chromedp.SetValue(chromedp.CSS(`select[name=watch]`), ""),
		chromedp.SetValue(chromedp.CSS(`input[name=q]`), "tripoli"), submit("#apply-filter"))
	if got := listedIDs(t, ctx); !sameSet(got, f.idsOf(keyAdvance)) {
		t.Errorf("searched for tripoli, the page lists %v", got)
	}
	if loc := eval[string](t, ctx, `location.search`); !strings.Contains(loc, "q=tripoli") || strings.Contains(loc, "Wagner") {
		t.Errorf("the filter's URL = %q", loc)
	}

	// Marking one reviewed takes it off the unreviewed list, and the
	// filter stays.
	step(t, ctx, "mark one reviewed", submit("#item-"+id(keyAdvance)+" button.mark"), chromedp.WaitVisible(chromedp.CSS(".notice")))
	if notice := eval[string](t, ctx, `document.querySelector(".notice").textContent`); notice != "Marked 1 item reviewed." {
		t.Errorf("notice = %q", notice)
	}
	if q := eval[string](t, ctx, `document.querySelector("input[name=q]").value`); q != "tripoli" {
		t.Errorf("after marking, the search is %q", q)
	}
	if got := listedIDs(t, ctx); len(got) != 0 {
		t.Errorf("after marking, the unreviewed list has %v", got)
	}
	if !f.reviewed(t, keyAdvance) {
		t.Fatal("the item is not reviewed in the database")
	}

	// Bulk: tick two, mark the selected; then mark all listed.
	step(t, ctx, "mark selected reviewed", chromedp.Navigate(srv.URL+"/"),
		chromedp.Click(chromedp.CSS(`#item-`+id(keyWagner)+` input[type=checkbox]`)),
		chromedp.Click(chromedp.CSS(`#item-`+id(keyHostile)+` input[type=checkbox]`)),
		submit("#mark-selected"))
	if got := listedIDs(t, ctx); !sameSet(got, f.idsOf(keyFormula)) {
		t.Errorf("after marking two, the page lists %v", got)
	}
	step(t, ctx, "mark all listed reviewed", submit("#mark-listed"))
	if got := listedIDs(t, ctx); len(got) != 0 {
		t.Errorf("after marking all listed, the page lists %v", got)
	}
	if empty := eval[string](t, ctx, `document.querySelector("ol.items li.empty").textContent`); empty != "No matches for this filter." {
		t.Errorf("empty list says %q", empty)
	}
	step(t, ctx, "show reviewed", chromedp.Navigate(srv.URL+"/?reviewed=reviewed"), chromedp.WaitVisible(chromedp.CSS("ol.items")))
	if got := listedIDs(t, ctx); len(got) != 4 {
		t.Errorf("the reviewed list has %v", got)
	}
	if d := dialogs(); len(d) > 0 {
		t.Errorf("dialogs opened: %q", d)
	}
}

// The page on the demo's sample feeds, as a full-page screenshot. With
// WIREWATCH_SCREENSHOT set (make screenshot), it is written there.
func testBrowserDemoScreenshot(t *testing.T, browser context.Context) {
	_, pool := storagetest.MigratedSchema(t)
	store := storage.New(pool)
	watches := pollDemo(t, store)
	const refTitle = "Russia and Syria said to move fighters to Libya for Haftar"
	addReference(t, store, filepath.Join("..", "..", "..", "demo", "reference.md"))
	h, err := review.New(review.Options{Store: store, Watches: func() []string { return watches },
		Reference: review.StoredReferences(store), Relevance: review.StoredRelevance})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	h.Register(mux)
	srv := httptest.NewServer(review.Protect(mux, review.Credentials{}))
	t.Cleanup(srv.Close)

	bctx, dialogs := tab(t, browser)
	step(t, bctx, "load the demo page", chromedp.Navigate(srv.URL+"/?sort=relevance&limit=8"), chromedp.WaitVisible(chromedp.CSS("ol.items")))
	if n := len(listedIDs(t, bctx)); n != 8 {
		t.Fatalf("the demo page lists %d items, want 8", n)
	}
	if ref := eval[string](t, bctx, `document.querySelector(".reference h3").textContent`); ref != refTitle {
		t.Errorf("the reference panel shows %q", ref)
	}
	if n := eval[int](t, bctx, `document.querySelectorAll("ol.items meter").length`); n != 8 {
		t.Errorf("%d of 8 matches show a relevance figure", n)
	}
	sctx, cancel := context.WithTimeout(bctx, 30*time.Second)
	defer cancel()
	shot, err := chromedp.Run(sctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	img, err := png.Decode(bytes.NewReader(shot))
	if err != nil {
		t.Fatalf("the screenshot is no PNG: %v", err)
	}
	if b := img.Bounds(); b.Dx() != 1280 || b.Dy() < 900 {
		t.Errorf("screenshot is %dx%d", b.Dx(), b.Dy())
	}
	if d := dialogs(); len(d) > 0 {
		t.Errorf("dialogs opened: %q", d)
	}
	if out := os.Getenv(envScreenshot); out != "" {
		if err := os.WriteFile(out, shot, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("wrote %s (%d bytes)", out, len(shot))
	}
}

// pollDemo polls the demo's sample feeds once into store, as `make demo`
// does, and returns the names of its watch entries.
func pollDemo(t *testing.T, store *storage.Store) []string {
	t.Helper()
	ctx := context.Background()
	cfg, err := config.Load(filepath.Join("..", "..", "..", "demo", "wirewatch.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	entries := make([]classify.Entry, len(cfg.Watchlist))
	names := make([]string, len(cfg.Watchlist))
	for i, w := range cfg.Watchlist {
		entries[i] = classify.Entry{Name: w.Name, Terms: w.Terms, Query: w.Query, Fields: w.Fields}
		names[i] = w.Name
	}
	matcher, err := classify.Compile(entries)
	if err != nil {
		t.Fatal(err)
	}
	specs := make([]storage.FeedSpec, len(cfg.Feeds))
	for i, fd := range cfg.Feeds {
		specs[i] = storage.FeedSpec{URL: fd.URL, Name: fd.Name}
	}
	feeds, err := store.SyncFeeds(ctx, specs)
	if err != nil {
		t.Fatal(err)
	}
	poller := &ingest.Poller{
		Fetcher: ingest.NewFetcher(ingest.FetchOptions{UserAgent: "wirewatch-test", Timeout: 10 * time.Second,
			MaxBodySize: 16 << 20, AllowPrivateNetworks: true}),
		Matcher: matcher, Store: store, KeepUnmatched: true,
		Stories: storage.StoryOptions{Window: cfg.Stories.Window.D(), Threshold: cfg.Stories.Similarity},
	}
	for _, fd := range feeds {
		if _, err := poller.Poll(ctx, fd, nil, nil); err != nil {
			t.Fatalf("poll %s: %v", fd.URL, err)
		}
	}
	ms, err := store.Matches(ctx, storage.MatchFilter{})
	if err != nil || len(ms) < 20 {
		t.Fatal(errors.Join(err, fmt.Errorf("the demo stored %d matches", len(ms))))
	}
	return names
}

// addReference stores a Markdown reference article and scores the stored
// matches against it, as `wirewatch reference add FILE` does.
func addReference(t *testing.T, store *storage.Store, path string) {
	t.Helper()
	ctx := context.Background()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	first, rest, _ := strings.Cut(string(raw), "\n")
	title := strings.TrimSpace(strings.TrimPrefix(first, "#"))
	body := strings.TrimSpace(strings.ReplaceAll(rest, "*", ""))
	sample, err := store.CorpusSample(ctx, 20000)
	if err != nil {
		t.Fatal(err)
	}
	model := classify.NewReferenceModel(title+"\n"+body, classify.NewCorpus(sample))
	if _, err := store.ReplaceReferences(ctx, []storage.Reference{{Title: title, Body: body, Model: model}}); err != nil {
		t.Fatal(err)
	}
	if _, err := store.Rescore(ctx, classify.NewRelevance([]classify.ReferenceModel{model})); err != nil {
		t.Fatal(err)
	}
}
