package ingest

import (
	"os"
	"testing"
)

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
		feed, err := Parse(body)
		if err != nil || len(feed.Items) != 60 {
			b.Fatalf("Parse: %v", err)
		}
	}
}
