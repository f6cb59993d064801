package classify

import (
	"strings"
	"testing"
)

func TestCanonicalURL(t *testing.T) {
	t.Parallel()
	tests := map[string]struct{ in, want string }{
		"unchanged":          {"https://news.example.com/world/libya-talks", "https://news.example.com/world/libya-talks"},
		"case and port":      {"HTTPS://News.Example.COM:443/World/Libya", "https://news.example.com/World/Libya"},
		"http folds":         {"http://news.example.com:80/a", "https://news.example.com/a"},
		"other port kept":    {"http://news.example.com:8080/a", "https://news.example.com:8080/a"},
		"fragment":           {"https://example.com/a#comments", "https://example.com/a"},
		"utm":                {"https://example.com/a?utm_source=rss&utm_medium=feed&UTM_Campaign=x", "https://example.com/a"},
		"fbclid and gclid":   {"https://example.com/a?fbclid=abc&gclid=def", "https://example.com/a"},
		"mailchimp":          {"https://example.com/a?mc_cid=1&mc_eid=2", "https://example.com/a"},
		"real params sorted": {"https://example.com/article?page=2&id=7&utm_source=x", "https://example.com/article?id=7&page=2"},
		"trailing slash":     {"https://example.com/world/libya/", "https://example.com/world/libya"},
		"amp path":           {"https://example.com/world/libya/amp", "https://example.com/world/libya"},
		"amp query":          {"https://example.com/world/libya?outputType=amp", "https://example.com/world/libya"},
		"amp host":           {"https://amp.example.com/world/libya", "https://example.com/world/libya"},
		"amp html":           {"https://example.com/world/libya.amp.html", "https://example.com/world/libya.html"},
		"userinfo dropped":   {"https://user:pw@example.com/a", "https://example.com/a"},
		"escaped path kept":  {"https://example.com/a%2Fb/c", "https://example.com/a%2Fb/c"},
		"not a URL":          {"  tag:example.com,2020:123 ", "tag:example.com,2020:123"},
		"relative":           {"/world/libya", "/world/libya"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			if got := CanonicalURL(tc.in); got != tc.want {
				t.Errorf("CanonicalURL(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

func TestItemKey(t *testing.T) {
	t.Parallel()
	feed := "https://feeds.example.com/world.xml"
	if a, b := ItemKey(feed, "g1", "https://example.com/a?utm_source=x", "T", ""), ItemKey(feed, "g2", "https://example.com/a#top", "Other", ""); a != b {
		t.Errorf("link variants give %q and %q", a, b)
	}
	// A link to the front page identifies nothing: fall back to the GUID.
	if got := ItemKey(feed, "g1", "https://example.com/", "T", ""); got != "guid:"+feed+" g1" {
		t.Errorf("front-page link: %q", got)
	}
	a := ItemKey(feed, "", "", "Haftar’s forces  withdraw", "<p>Text</p>")
	b := ItemKey(feed, "", "", "haftar's forces withdraw", "Text")
	if a != b || !strings.HasPrefix(a, "sha256:") {
		t.Errorf("content keys %q and %q", a, b)
	}
	if a == ItemKey(feed, "", "", "Haftar’s forces advance", "Text") {
		t.Error("different titles share a key")
	}
}

func FuzzCanonicalURL(f *testing.F) {
	for _, s := range []string{
		"https://Example.com:443/a/b/?utm_source=x&b=2&a=1#frag",
		"http://amp.example.com/x/amp/?outputType=amp",
		"https://[::1]:80/a%20b?c=%zz",
		"//example.com/a", "mailto:x@example.com", "https://example.com/.amp.html",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c := CanonicalURL(s)
		if cc := CanonicalURL(c); cc != c {
			t.Fatalf("not idempotent: %q -> %q -> %q", s, c, cc)
		}
	})
}
