package storage_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/wirewatch/wirewatch/classify"
	"github.com/wirewatch/wirewatch/storage"
	"github.com/wirewatch/wirewatch/storage/storagetest"
)

// BenchmarkStoreNewItems measures storing a poll's new matching items,
// each put in its story as it is stored, with 10,000, 100,000 and
// 1,000,000 items already stored (generated directly into the database,
// with signatures, band keys, stories and sightings, published over the
// last week). The figure is the time per new item; it should not grow with
// the store.
//
//	make bench-stories
func BenchmarkStoreNewItems(b *testing.B) {
	for _, n := range []int{10_000, 100_000, 1_000_000} {
		b.Run(fmt.Sprintf("stored=%d", n), func(b *testing.B) {
			ctx := context.Background()
			_, pool := storagetest.MigratedSchema(b)
			start := time.Now()
			generateItems(b, pool, n)
			b.Logf("generated %d items in %s", n, time.Since(start).Round(time.Second))
			s := storage.New(pool)
			feeds, err := s.SyncFeeds(ctx, []storage.FeedSpec{{URL: "https://bench.example/feed"}})
			if err != nil {
				b.Fatal(err)
			}
			r := rand.New(rand.NewPCG(uint64(n), 7))
			const batch = 50
			round := 0
			b.ResetTimer()
			for b.Loop() {
				b.StopTimer()
				items := newBenchItems(r, round, batch)
				round++
				b.StartTimer()
				if _, err := s.SavePoll(ctx, storage.Poll{FeedID: feeds[0].ID, StartedAt: time.Now(),
					Outcome: storage.OutcomeOK, HTTPStatus: 200, ItemsSeen: batch, Items: items}); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N*batch), "µs/item")
		})
	}
}

// generateItems fills the items of a story each, with one sighting, in the
// database itself: fast enough for a million rows.
func generateItems(b *testing.B, pool *pgxpool.Pool, n int) {
	b.Helper()
	ctx := context.Background()
	// Indexes are dropped for the load and built again after it, as a bulk
	// load would; updating a GIN index row by row would take most of an hour.
	for _, q := range []string{
		`DROP INDEX items_bands`,
		`DROP INDEX items_story_id`,
		`INSERT INTO feeds (url, name) SELECT 'https://gen' || g || '.example/feed', 'Generated ' || g FROM generate_series(1, 500) g`,
		`INSERT INTO items (key, feed_id, guid, link, title, summary, published_at, first_seen_at, content_hash, signature, bands)
		 SELECT 'https://gen.example/item/' || i, 1 + i % 500, 'g' || i, 'https://gen.example/item/' || i,
		        'Generated item ' || i, 'Summary of generated item ' || i,
		        now() - (i % 10080) * interval '1 minute', now() - (i % 10080) * interval '1 minute', md5(i::text),
		        decode(repeat(md5(i::text), 15), 'hex'),
		        ARRAY(SELECT (random() * 9.2e18)::bigint + i * 0 FROM generate_series(1, 20))
		 FROM generate_series(1, $1) i`,
		`INSERT INTO item_sightings (item_id, feed_id, guid, link) SELECT id, feed_id, guid, link FROM items`,
		`INSERT INTO stories (origin_item_id) SELECT id FROM items`,
		`UPDATE items SET story_id = s.id FROM stories s WHERE s.origin_item_id = items.id`,
		`CREATE INDEX items_bands ON items USING gin (bands) WITH (fastupdate = off)`,
		`CREATE INDEX items_story_id ON items (story_id)`,
		`VACUUM ANALYZE items`, `VACUUM ANALYZE stories`, `VACUUM ANALYZE item_sightings`,
	} {
		var args []any
		if strings.Contains(q, "$1") {
			args = append(args, n)
		}
		if _, err := pool.Exec(ctx, q, args...); err != nil {
			b.Fatalf("%s: %v", strings.Fields(q)[0], err)
		}
	}
}

var benchWords = strings.Fields(`the officials said on thursday that talks between the rival governments would resume in
geneva next week after fighting eased around the capital while aid groups warned of shortages of fuel and medicine
in the south and the central bank announced new measures to support the currency as oil exports recovered`)

// newBenchItems are a poll's worth of new matching items with texts of
// their own; one in ten is a copy of the item before it.
func newBenchItems(r *rand.Rand, round, n int) []storage.Item {
	items := make([]storage.Item, n)
	now := time.Now()
	var prev string
	for i := range items {
		text := prev
		if i%10 != 1 || prev == "" {
			w := make([]string, 60)
			for k := range w {
				w[k] = benchWords[r.IntN(len(benchWords))]
			}
			text = strings.Join(w, " ")
		}
		prev = text
		key := fmt.Sprintf("https://bench.example/%d/%d", round, i)
		sig, _ := classify.Fingerprint("Bench item", text)
		items[i] = storage.Item{
			Key: key, GUID: key, Link: key, Title: "Bench item", Content: text, PublishedAt: &now,
			ContentHash: classify.ContentHash("Bench item", text), Signature: sig.Bytes(), Bands: sig.Bands(),
			Watches: []string{"Libya"}, Hits: []classify.Hit{{Watch: "Libya", Term: "Libya", Field: "title", End: 5, Count: 1}},
		}
	}
	return items
}
