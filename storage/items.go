package storage

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/wirewatch/wirewatch/classify"
)

// A pipeline sends the statements of one transaction in a few batches,
// a round trip each. The store's writes wait on the database in turn, so
// every round trip saved is time saved for every poll behind them. On a
// connection of its own the first batch opens the transaction and the last
// commits it; in a transaction already, they are savepoint-free parts of it.
//
// Its statements run with generic plans. The pool plans every statement for
// its values (see Open), which reads need; the writes' plans never depend on
// them, and planning them for their arrays, one large constant each, took a
// quarter of PostgreSQL's time storing a cold ingest and more than that in a
// round of 304s. The one write-path query whose plan does depend on its
// values asks for a plan of its own (queueCandidates).
type pipeline struct {
	db   DBTX
	own  bool // BEGIN and COMMIT are sent with the batches
	sent bool
}

// send sends the statements queue adds, after BEGIN when it is the first
// batch and before COMMIT when last is set. The caller reads queue's
// results and closes the results, which reads COMMIT's.
func (p *pipeline) send(ctx context.Context, last bool, queue func(*pgx.Batch)) (pgx.BatchResults, error) {
	b := &pgx.Batch{}
	first := !p.sent
	if first {
		if p.own {
			b.Queue("BEGIN")
		}
		b.Queue("SET LOCAL plan_cache_mode = force_generic_plan")
	}
	queue(b)
	if last {
		if p.own {
			b.Queue("COMMIT")
		} else {
			// The transaction goes on without us.
			b.Queue("SET LOCAL plan_cache_mode TO DEFAULT")
		}
	}
	p.sent = true
	res := p.db.SendBatch(ctx, b)
	if first {
		opened := 1 // SET LOCAL
		if p.own {
			opened++ // BEGIN
		}
		for range opened {
			if _, err := res.Exec(); err != nil {
				res.Close()
				return nil, fmt.Errorf("begin: %w", err)
			}
		}
	}
	return res, nil
}

// pipelined runs fn in a transaction sent as a pipeline: on a connection
// of the pool of its own, or inside the transaction the store is in.
func (s *Store) pipelined(ctx context.Context, fn func(*pipeline) error) error {
	pool, ok := s.db.(*pgxpool.Pool)
	if !ok {
		return s.WithTx(ctx, func(tx *Store) error { return fn(&pipeline{db: tx.db}) })
	}
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer conn.Release()
	err = fn(&pipeline{db: conn, own: true})
	if err != nil && conn.Conn().PgConn().TxStatus() != 'I' {
		// A connection that cannot roll back is closed when released.
		_, _ = conn.Exec(context.WithoutCancel(ctx), "ROLLBACK")
	}
	return err
}

// itemOutcome is what storeItems did with one item.
type itemOutcome uint8

const (
	itemKnown   itemOutcome = iota // stored before and unchanged: a sighting and matches at most
	itemNew                        // stored for the first time
	itemUpdated                    // stored before; its edited text replaced the old
)

// storeItems writes items, items[i] seen in feed feeds[i] (each feed's
// items deduplicated by key; several feeds may carry one item), in two
// round trips of pl; tail queues what else the transaction writes, knowing
// what became of each item. An item is known when its feed carried its
// GUID before or when its key is stored; unknown items are inserted once,
// by the first feed that carries them, into their story (decideStories),
// and every item gets its sighting, matches and hits, each written only if
// missing. A known item whose content hash changed is updated in place and
// its revision counted. It returns the number of matches added.
//
// Every writer of items holds the story lock while it writes, so what the
// first round trip reads stays true until the commit: the second can be
// sent whole, without waiting for the answers of its statements.
func (s *Store) storeItems(ctx context.Context, pl *pipeline, feeds []int64, items []Item, foundBy string,
	opts StoryOptions, tail func(*pgx.Batch, []itemOutcome)) (newMatches int64, err error) {
	opts = opts.withDefaults()
	keys := make([]string, len(items))
	guids := make([]string, len(items))
	var withBands []int64 // items with a fingerprint, and their bands
	var bandLits []string
	for i := range items {
		it := &items[i]
		if it.Signature == nil {
			// Items found by rematch come without a fingerprint.
			if sig, ok := classify.Fingerprint(it.Title, classify.StoryText(it.Summary, it.Content)); ok {
				it.Signature, it.Bands = sig.Bytes(), sig.Bands()
			}
		}
		keys[i], guids[i] = it.Key, it.GUID
		if len(it.Bands) > 0 {
			withBands = append(withBands, int64(i))
			bandLits = append(bandLits, arrayLiteral(it.Bands))
		}
	}

	// First round trip: the lock, which items are known, the stories the
	// others may join, and ids for the new ones.
	res, err := pl.send(ctx, false, func(b *pgx.Batch) {
		// Taken first, before any row lock, so that it is always taken in
		// the same order.
		b.Queue("SELECT now() FROM (SELECT pg_advisory_xact_lock($1, hashtext(current_schema()))) l", storyLock)
		b.Queue(`
			SELECT k.ord, i.id, i.content_hash
			FROM unnest($1::bigint[], $2::text[], $3::text[]) WITH ORDINALITY AS k(feed_id, key, guid, ord)
			CROSS JOIN LATERAL (SELECT coalesce(
				(SELECT s.item_id FROM item_sightings s WHERE s.feed_id = k.feed_id AND s.guid = k.guid AND s.guid <> '' LIMIT 1),
				(SELECT i.id FROM items i WHERE i.key = k.key)) AS id) found
			JOIN items i ON i.id = found.id`, feeds, keys, guids)
		queueCandidates(b, withBands, bandLits)
		b.Queue("SELECT array(SELECT nextval(pg_get_serial_sequence('items', 'id')) FROM generate_series(1, $1))", len(items))
	})
	if err != nil {
		return 0, err
	}
	ids := make([]int64, len(items))
	hashes := make([]string, len(items))
	cands := make([][]candidate, len(items))
	var now time.Time
	var newIDs []int64
	err = func() error {
		defer res.Close()
		if err := res.QueryRow().Scan(&now); err != nil {
			return fmt.Errorf("lock stories: %w", err)
		}
		var ord, id int64
		var hash string
		rows, _ := res.Query()
		if _, err := pgx.ForEachRow(rows, []any{&ord, &id, &hash}, func() error {
			ids[ord-1], hashes[ord-1] = id, hash
			return nil
		}); err != nil {
			return fmt.Errorf("look up items: %w", err)
		}
		if err := readCandidates(res, withBands, cands); err != nil {
			return err
		}
		if err := res.QueryRow().Scan(&newIDs); err != nil {
			return fmt.Errorf("draw item ids: %w", err)
		}
		return res.Close()
	}()
	if err != nil {
		return 0, err
	}

	// Known items, edited ones, and the new ones (each key once).
	out := make([]itemOutcome, len(items))
	var edited []Item
	var editedIDs []int64
	var fresh []Item
	var freshFeeds []int64
	var pending []*pendingItem
	var freshCands [][]candidate
	firstAt := map[string]int{}
	editedIn := map[int64]bool{}
	for i, it := range items {
		switch {
		case ids[i] != 0:
			if it.ContentHash != "" && hashes[i] != "" && it.ContentHash != hashes[i] && !editedIn[ids[i]] {
				edited, editedIDs = append(edited, it), append(editedIDs, ids[i])
				editedIn[ids[i]] = true // a second copy in this group is no second edit
				out[i] = itemUpdated
			}
		default:
			if at, dup := firstAt[it.Key]; dup {
				ids[i] = ids[at]
				continue
			}
			firstAt[it.Key] = i
			ids[i] = newIDs[i]
			out[i] = itemNew
			fresh, freshFeeds = append(fresh, it), append(freshFeeds, feeds[i])
			pending = append(pending, newPending(it, ids[i], now))
			freshCands = append(freshCands, cands[i])
		}
	}
	decideStories(pending, freshCands, opts)
	place := placement(pending)

	// Second round trip: everything written, then the caller's statements,
	// then the commit.
	res, err = pl.send(ctx, true, func(b *pgx.Batch) {
		if len(edited) > 0 {
			// The same item, changed by its feed: updated in place, never a
			// new item. Its key and its story stay.
			c := itemColumns(edited)
			b.Queue(`
				UPDATE items SET title = t.title, summary = t.summary, content = t.content, author = t.author,
				       content_hash = t.hash, revisions = items.revisions + 1, updated_at = now(),
				       relevance = coalesce(t.relevance, items.relevance)
				FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::real[])
				     AS t(id, title, summary, content, author, hash, relevance)
				WHERE items.id = t.id AND items.content_hash <> t.hash`,
				editedIDs, c.title, c.summary, c.content, c.author, c.hash, c.relevance)
		}
		if len(fresh) > 0 {
			// ON CONFLICT covers a writer that does not take the story
			// lock: an item it stored a moment ago is not inserted, and
			// the rows that point at the id it was to have fail the
			// transaction, which is then tried again and finds it known.
			c := itemColumns(fresh)
			b.Queue(`
				WITH new_story AS MATERIALIZED (
					SELECT o.ord, o.item, nextval(pg_get_serial_sequence('stories', 'id')) AS id
					FROM unnest($18::bigint[]) WITH ORDINALITY AS o(item, ord)
				), ins AS (
					INSERT INTO items (id, key, feed_id, guid, link, title, summary, content, author, categories,
					                   published_at, content_hash, signature, bands, relevance, story_id)
					OVERRIDING SYSTEM VALUE
					SELECT t.id, key, feed_id, guid, link, title, summary, content, author,
					       string_to_array(categories, E'\x1f'), published_at, hash, signature, bands::bigint[], relevance,
					       coalesce(t.story, (SELECT n.id FROM new_story n WHERE n.ord = t.starts))
					FROM unnest($1::bigint[], $2::bigint[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[],
					            $8::text[], $9::text[], $10::text[], $11::timestamptz[], $12::text[], $13::bytea[],
					            $14::text[], $15::real[], $16::bigint[], $17::bigint[])
					     AS t(id, feed_id, key, guid, link, title, summary, content, author, categories, published_at,
					          hash, signature, bands, relevance, story, starts)
					ON CONFLICT (key) DO NOTHING
					RETURNING items.id
				)
				-- The stories these items start. Their rows and the items
				-- that point at them are checked at the end of the
				-- statement, when both are there.
				INSERT INTO stories (id, origin_item_id) OVERRIDING SYSTEM VALUE
				SELECT n.id, n.item FROM new_story n JOIN ins ON ins.id = n.item`,
				place.ids, freshFeeds, c.key, c.guid, c.link, c.title, c.summary, c.content, c.author, c.categories,
				c.published, c.hash, c.signature, c.bands, c.relevance, place.story, place.starts, place.origins)
		}
		var sight struct {
			item, feed []int64
			guid, link []string
		}
		for i, it := range items {
			sight.item = append(sight.item, ids[i])
			sight.feed = append(sight.feed, feeds[i])
			sight.guid = append(sight.guid, it.GUID)
			sight.link = append(sight.link, it.Link)
		}
		b.Queue(`
			INSERT INTO item_sightings (item_id, feed_id, guid, link)
			SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::text[], $4::text[])
			ON CONFLICT DO NOTHING`, sight.item, sight.feed, sight.guid, sight.link)
		queueMatches(b, ids, items, foundBy)
		if tail != nil {
			tail(b, out)
		}
	})
	if err != nil {
		return 0, err
	}
	defer res.Close()
	if len(edited) > 0 {
		if _, err := res.Exec(); err != nil {
			return 0, fmt.Errorf("update edited items: %w", err)
		}
	}
	if len(fresh) > 0 {
		if _, err := res.Exec(); err != nil {
			return 0, fmt.Errorf("insert items: %w", err)
		}
	}
	if _, err := res.Exec(); err != nil {
		return 0, fmt.Errorf("store sightings: %w", err)
	}
	tag, err := res.Exec()
	if err != nil {
		return 0, fmt.Errorf("store matches: %w", err)
	}
	if _, err := res.Exec(); err != nil {
		return 0, fmt.Errorf("store match hits: %w", err)
	}
	if err := res.Close(); err != nil {
		return 0, fmt.Errorf("store items: %w", err)
	}
	return tag.RowsAffected(), nil
}

// queueMatches queues the inserts of the matches and hits of items (stored
// under ids): two statements, the first of which counts the new matches.
func queueMatches(b *pgx.Batch, ids []int64, items []Item, foundBy string) {
	var m struct {
		item    []int64
		watch   []string
		snippet []string
	}
	var h struct {
		item               []int64
		watch, term, field []string
		start, end, count  []int32
	}
	for i, it := range items {
		for _, w := range it.Watches {
			m.item = append(m.item, ids[i])
			m.watch = append(m.watch, w)
			m.snippet = append(m.snippet, it.Snippets[w])
		}
		for _, x := range it.Hits {
			h.item = append(h.item, ids[i])
			h.watch = append(h.watch, x.Watch)
			h.term = append(h.term, x.Term)
			h.field = append(h.field, x.Field)
			h.start = append(h.start, int32(x.Start))
			h.end = append(h.end, int32(x.End))
			h.count = append(h.count, int32(x.Count))
		}
	}
	b.Queue(`
		INSERT INTO matches (item_id, watch, snippet, found_by)
		SELECT item_id, watch, snippet, $4 FROM unnest($1::bigint[], $2::text[], $3::text[]) AS t(item_id, watch, snippet)
		ON CONFLICT DO NOTHING`, m.item, m.watch, m.snippet, foundBy)
	b.Queue(`
		INSERT INTO match_hits (item_id, watch, term, field, start_offset, end_offset, occurrences)
		SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::int[], $6::int[], $7::int[])
		ON CONFLICT DO NOTHING`, h.item, h.watch, h.term, h.field, h.start, h.end, h.count)
}
