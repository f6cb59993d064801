package storage

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/wirewatch/wirewatch/classify"
)

// storyLock is the advisory lock that serializes story assignment, so that
// copies stored at the same moment by two polls (or two instances) still
// see each other. It is taken per schema: deployments in other schemas of
// the same database do not wait for each other.
const storyLock = 0x73746f72 // "stor"

// StoryOptions says when two items are one story.
type StoryOptions struct {
	Window    time.Duration // only items published this close together
	Threshold float64       // minimum estimated similarity of their texts
	Batch     int           // items assigned per call
}

// storyTime is when an item was published, as far as wirewatch can tell:
// the feed's date, unless it is missing or later than the item was first
// seen (a wrong clock). First-seen times alone would put every item of a
// first poll at the same moment.
const storyTime = "least(coalesce(i.published_at, i.first_seen_at), i.first_seen_at)"

// Defaults for the zero StoryOptions.
const (
	DefaultStoryWindow    = 7 * 24 * time.Hour
	DefaultStoryThreshold = 0.5
	defaultStoryBatch     = 1000
)

func (o StoryOptions) withDefaults() StoryOptions {
	if o.Window <= 0 {
		o.Window = DefaultStoryWindow
	}
	if o.Threshold <= 0 {
		o.Threshold = DefaultStoryThreshold
	}
	if o.Batch <= 0 {
		o.Batch = defaultStoryBatch
	}
	return o
}

type pendingItem struct {
	id       int64
	sig      classify.Signature
	hasSig   bool
	bands    []int64
	at       time.Time
	story    int64        // the existing story it joins
	follows  *pendingItem // or the earlier pending item whose story it joins
	newStory bool         // or it starts a story of its own
}

// resolve returns the item's story once new stories have ids.
func (p *pendingItem) resolve(storyOf map[int64]int64) int64 {
	switch {
	case p.story != 0:
		return p.story
	case p.follows != nil:
		return p.follows.resolve(storyOf)
	}
	return storyOf[p.id]
}

// AssignStories assigns stories until no item is left without one (see
// assignBatch), and returns how many it assigned. New items get their
// story as they are stored; this is for items an older version left
// without one. When another poll or instance is assigning already, it
// returns at once: that one takes them.
func (s *Store) AssignStories(ctx context.Context, opts StoryOptions) (int, error) {
	opts = opts.withDefaults()
	total := 0
	for {
		n, err := s.assignBatch(ctx, opts)
		total += n
		if err != nil || n < opts.Batch {
			return total, err
		}
	}
}

// assignBatch puts items that have no story yet into one: the story of
// the most similar earlier item within the window, found through the band
// index, or a new story whose origin it is. Items are taken in the order
// they were stored, so the first outlet seen is the origin. It returns how
// many items it assigned; items left over (more than opts.Batch) wait for
// the next call.
func (s *Store) assignBatch(ctx context.Context, opts StoryOptions) (int, error) {
	assigned := 0
	err := s.WithTx(ctx, func(tx *Store) error {
		var locked bool
		if err := tx.db.QueryRow(ctx, "SELECT pg_try_advisory_xact_lock($1, hashtext(current_schema()))", storyLock).Scan(&locked); err != nil {
			return err
		}
		if !locked {
			return nil // another poll is assigning, and takes new items until none are left
		}
		// Items stored without a fingerprint (before stories existed) get
		// one from their stored text.
		rows, err := tx.db.Query(ctx, `
			SELECT id, signature, bands, `+storyTime+`,
			       CASE WHEN signature IS NULL THEN title END,
			       CASE WHEN signature IS NULL THEN summary END,
			       CASE WHEN signature IS NULL THEN content END
			FROM items i
			WHERE story_id IS NULL ORDER BY id LIMIT $1`, opts.Batch)
		if err != nil {
			return err
		}
		var pending []*pendingItem
		var raw []byte
		var bands []int64
		var seen time.Time
		var id int64
		var title, summary, content *string
		var backfill []*pendingItem
		if _, err := pgx.ForEachRow(rows, []any{&id, &raw, &bands, &seen, &title, &summary, &content}, func() error {
			p := &pendingItem{id: id, bands: slices.Clone(bands), at: seen}
			p.sig, p.hasSig = classify.SignatureFromBytes(raw)
			if raw == nil && title != nil {
				if p.sig, p.hasSig = classify.Fingerprint(*title, classify.StoryText(*summary, *content)); p.hasSig {
					p.bands = p.sig.Bands()
					backfill = append(backfill, p)
				}
			}
			pending = append(pending, p)
			return nil
		}); err != nil {
			return err
		}
		if len(pending) == 0 {
			return nil
		}
		if len(backfill) > 0 {
			ids := make([]int64, len(backfill))
			sigs := make([][]byte, len(backfill))
			lits := make([]string, len(backfill))
			for i, p := range backfill {
				ids[i], sigs[i], lits[i] = p.id, p.sig.Bytes(), arrayLiteral(p.bands)
			}
			if _, err := tx.db.Exec(ctx, `UPDATE items SET signature = t.sig, bands = t.bands::bigint[]
				FROM unnest($1::bigint[], $2::bytea[], $3::text[]) AS t(id, sig, bands) WHERE items.id = t.id`,
				ids, sigs, lits); err != nil {
				return fmt.Errorf("fingerprint items: %w", err)
			}
		}

		cands, err := tx.storyCandidates(ctx, pending)
		if err != nil {
			return err
		}
		decideStories(pending, cands, opts)

		// New stories, then every pending item's story.
		var origins []int64
		for _, p := range pending {
			if p.newStory {
				origins = append(origins, p.id)
			}
		}
		storyOf := map[int64]int64{}
		if len(origins) > 0 {
			rows, err := tx.db.Query(ctx, `INSERT INTO stories (origin_item_id) SELECT unnest($1::bigint[]) RETURNING id, origin_item_id`, origins)
			if err != nil {
				return fmt.Errorf("create stories: %w", err)
			}
			var sid, origin int64
			if _, err := pgx.ForEachRow(rows, []any{&sid, &origin}, func() error {
				storyOf[origin] = sid
				return nil
			}); err != nil {
				return fmt.Errorf("create stories: %w", err)
			}
		}
		ids := make([]int64, len(pending))
		sids := make([]int64, len(pending))
		for i, p := range pending {
			ids[i], sids[i] = p.id, p.resolve(storyOf)
		}
		if _, err := tx.db.Exec(ctx, `UPDATE items SET story_id = t.sid FROM unnest($1::bigint[], $2::bigint[]) AS t(id, sid)
			WHERE items.id = t.id`, ids, sids); err != nil {
			return fmt.Errorf("assign stories: %w", err)
		}
		assigned = len(pending)
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("assign stories: %w", err)
	}
	return assigned, nil
}

// newPending is an item about to be stored at now, under id, as story
// assignment sees it.
func newPending(it Item, id int64, now time.Time) *pendingItem {
	p := &pendingItem{id: id, bands: it.Bands, at: now}
	if it.PublishedAt != nil && it.PublishedAt.Before(now) {
		p.at = *it.PublishedAt // as storyTime reads it back
	}
	p.sig, p.hasSig = classify.SignatureFromBytes(it.Signature)
	return p
}

// placed is where items about to be stored go: under ids, each into an
// existing story or into the story started by origins[starts-1] (1-based,
// as WITH ORDINALITY counts).
type placed struct {
	ids     []int64
	story   []*int64
	starts  []*int64
	origins []int64
}

// placement turns decided pending items into where they go.
func placement(pending []*pendingItem) placed {
	pl := placed{ids: make([]int64, len(pending)), story: make([]*int64, len(pending)), starts: make([]*int64, len(pending))}
	ord := map[*pendingItem]int64{}
	for i, p := range pending {
		pl.ids[i] = p.id
		root := p
		for root.follows != nil {
			root = root.follows
		}
		switch {
		case root.story != 0:
			pl.story[i] = &root.story
		case root == p:
			pl.origins = append(pl.origins, p.id)
			n := int64(len(pl.origins))
			ord[p] = n
			pl.starts[i] = &n
		default:
			n := ord[root]
			pl.starts[i] = &n
		}
	}
	return pl
}

// candidate is an item already in a story that a pending item may join.
type candidate struct {
	story int64
	sig   classify.Signature
	at    time.Time
}

// storyCandidates returns, for each pending item, the stored items already
// in a story that share a band with it. It must run in a transaction.
func (s *Store) storyCandidates(ctx context.Context, pending []*pendingItem) ([][]candidate, error) {
	var which []int64
	var lits []string
	for i, p := range pending {
		if len(p.bands) > 0 {
			which = append(which, int64(i))
			lits = append(lits, arrayLiteral(p.bands))
		}
	}
	cands := make([][]candidate, len(pending))
	if len(which) == 0 {
		return cands, nil
	}
	b := &pgx.Batch{}
	queueCandidates(b, which, lits)
	res := s.db.SendBatch(ctx, b)
	defer res.Close()
	if err := readCandidates(res, which, cands); err != nil {
		return nil, err
	}
	return cands, res.Close()
}

// queueCandidates queues the search for the stored items in a story that
// share a band with the items which[k], whose bands are lits[k] (array
// literals); readCandidates reads what it finds.
func queueCandidates(b *pgx.Batch, which []int64, lits []string) {
	if len(which) == 0 {
		return
	}
	// The band index is the only sensible way to the candidates; on a
	// young table the planner's statistics may make it scan instead, which
	// costs a comparison of arrays with every stored item. Only the band
	// condition is in the inner query, so the index is the one way in; the
	// rest is checked in decideStories.
	// Planned for its values: a generic plan of it, in a pipeline, took fifty
	// times as long.
	b.Queue("SET LOCAL enable_seqscan = off")
	b.Queue("SET LOCAL plan_cache_mode = force_custom_plan")
	b.Queue(`
		SELECT x.p, c.story_id, c.signature, c.at
		FROM unnest($1::bigint[], $2::text[]) AS x(p, bands)
		CROSS JOIN LATERAL (
			SELECT i.story_id, i.signature, `+storyTime+` AS at FROM items i
			WHERE i.bands && x.bands::bigint[] AND i.story_id IS NOT NULL) c`, which, lits)
	b.Queue("SET LOCAL enable_seqscan = on")
	b.Queue("SET LOCAL plan_cache_mode = force_generic_plan")
}

// readCandidates reads what queueCandidates queued into cands, by item.
func readCandidates(res pgx.BatchResults, which []int64, cands [][]candidate) error {
	if len(which) == 0 {
		return nil
	}
	for range 2 {
		if _, err := res.Exec(); err != nil {
			return fmt.Errorf("find story candidates: %w", err)
		}
	}
	rows, _ := res.Query()
	var p, story int64
	var raw []byte
	var at time.Time
	if _, err := pgx.ForEachRow(rows, []any{&p, &story, &raw, &at}, func() error {
		if sig, ok := classify.SignatureFromBytes(raw); ok {
			cands[p] = append(cands[p], candidate{story, sig, at})
		}
		return nil
	}); err != nil {
		return fmt.Errorf("find story candidates: %w", err)
	}
	for range 2 {
		if _, err := res.Exec(); err != nil {
			return fmt.Errorf("find story candidates: %w", err)
		}
	}
	return nil
}

// decideStories decides the story of each pending item, in order: the
// story of the most similar candidate or earlier pending item within the
// window, or a story of its own.
func decideStories(pending []*pendingItem, cands [][]candidate, opts StoryOptions) {
	byBand := map[int64][]*pendingItem{}
	for i, p := range pending {
		best, bestSim := int64(0), opts.Threshold
		var bestEarlier *pendingItem
		consider := func(story int64, earlier *pendingItem, sig *classify.Signature, at time.Time) {
			if d := p.at.Sub(at); d > opts.Window || d < -opts.Window {
				return
			}
			// The most similar wins; among equals, the older story.
			sim := classify.Similarity(&p.sig, sig)
			if sim > bestSim || sim == bestSim && best == 0 && bestEarlier == nil ||
				sim == bestSim && story != 0 && best != 0 && story < best {
				best, bestEarlier, bestSim = story, earlier, sim
			}
		}
		if p.hasSig {
			for _, c := range cands[i] {
				consider(c.story, nil, &c.sig, c.at)
			}
			done := map[*pendingItem]bool{}
			for _, b := range p.bands {
				for _, e := range byBand[b] {
					if !done[e] {
						done[e] = true
						consider(0, e, &e.sig, e.at)
					}
				}
			}
			for _, b := range p.bands {
				byBand[b] = append(byBand[b], p)
			}
		}
		switch {
		case bestEarlier != nil:
			p.follows = bestEarlier
		case best != 0:
			p.story = best
		default:
			p.newStory = true
		}
	}
}

// Story is one story as the review sees it: its origin's title and link,
// the outlets that carried it and its items.
type Story struct {
	ID           int64       `json:"story_id"`
	Title        string      `json:"title"`
	Link         string      `json:"link"`
	FirstSeenAt  time.Time   `json:"first_seen_at"`
	LastSeenAt   time.Time   `json:"last_seen_at"`
	OutletsCount int         `json:"outlets_count"`
	Outlets      []string    `json:"outlets"`
	Watches      []string    `json:"watches"`
	Items        []StoryItem `json:"items"`

	// Snippets has, by watch entry, the snippet of the first copy that
	// matched it, the hit marked ⟦like this⟧.
	Snippets map[string]string `json:"snippets"`
}

// StoryItem is one copy of a story.
type StoryItem struct {
	ID          int64      `json:"id"`
	Title       string     `json:"title"`
	Link        string     `json:"link"`
	Feed        string     `json:"feed"`
	FeedURL     string     `json:"feed_url"`
	PublishedAt *time.Time `json:"published_at"`
	FirstSeenAt time.Time  `json:"first_seen_at"`
	ReviewedAt  *time.Time `json:"reviewed_at"`
}

// Stories lists stories, the most recently seen first. The filter applies
// to stories: Since to when they were last seen, Watches, Feed and Query to
// any of their items, Unreviewed to stories with an item not yet reviewed,
// Reviewed to stories whose items are all reviewed.
func (s *Store) Stories(ctx context.Context, f MatchFilter) ([]Story, error) {
	since, watches, limit := matchFilterArgs(f)
	rows, err := s.db.Query(ctx, `
		WITH st AS (
			SELECT i.story_id AS id, min(i.first_seen_at) AS first_seen, max(i.first_seen_at) AS last_seen
			FROM items i
			WHERE i.story_id IS NOT NULL
			GROUP BY i.story_id
			HAVING ($1::timestamptz IS NULL OR max(i.first_seen_at) >= $1)
			   AND (NOT $2 OR bool_or(i.reviewed_at IS NULL))
			   AND (cardinality($3::text[]) = 0 OR bool_or(EXISTS (
			            SELECT 1 FROM matches m WHERE m.item_id = i.id AND lower(m.watch) = ANY($3))))
			   AND (NOT $5 OR bool_and(i.reviewed_at IS NOT NULL))
			   AND ($6 = '' OR bool_or(`+carriedBy("i", "$6")+`))
			   AND ($7 = '' OR bool_or(i.search @@ websearch_to_tsquery('simple', $7)))
			ORDER BY max(i.first_seen_at) DESC, i.story_id DESC
			LIMIT $4)
		SELECT st.id, o.title, o.link, st.first_seen, st.last_seen,
		       (SELECT array_agg(o.name ORDER BY o.name) FROM (
		            SELECT DISTINCT f.id, coalesce(nullif(f.name, ''), nullif(f.title, ''), f.url) AS name
		            FROM items i JOIN item_sightings sg ON sg.item_id = i.id JOIN feeds f ON f.id = sg.feed_id
		            WHERE i.story_id = st.id) o),
		       (SELECT array_agg(DISTINCT m.watch) FROM items i JOIN matches m ON m.item_id = i.id WHERE i.story_id = st.id),
		       (SELECT jsonb_object_agg(x.watch, x.snippet) FROM (
		            SELECT DISTINCT ON (m.watch) m.watch, m.snippet FROM items i JOIN matches m ON m.item_id = i.id
		            WHERE i.story_id = st.id ORDER BY m.watch, i.first_seen_at, i.id) x),
		       (SELECT jsonb_agg(jsonb_build_object('id', i.id, 'title', i.title, 'link', i.link,
		                   'feed', coalesce(nullif(f.name, ''), nullif(f.title, ''), f.url), 'feed_url', f.url,
		                   'published_at', i.published_at, 'first_seen_at', i.first_seen_at, 'reviewed_at', i.reviewed_at)
		                   ORDER BY i.first_seen_at, i.id)
		          FROM items i JOIN feeds f ON f.id = i.feed_id WHERE i.story_id = st.id)
		FROM st
		JOIN stories s ON s.id = st.id
		JOIN items o ON o.id = s.origin_item_id
		ORDER BY st.last_seen DESC, st.id DESC`, since, f.Unreviewed, watches, limit,
		f.Reviewed, strings.TrimSpace(f.Feed), strings.TrimSpace(f.Query))
	if err != nil {
		return nil, fmt.Errorf("list stories: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Story, error) {
		var st Story
		err := r.Scan(&st.ID, &st.Title, &st.Link, &st.FirstSeenAt, &st.LastSeenAt, &st.Outlets, &st.Watches, &st.Snippets, &st.Items)
		st.OutletsCount = len(st.Outlets)
		return st, err
	})
	if err != nil {
		return nil, fmt.Errorf("list stories: %w", err)
	}
	return out, nil
}

// HasStories says whether any story is stored yet.
func (s *Store) HasStories(ctx context.Context) (bool, error) {
	var ok bool
	if err := s.db.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM stories)").Scan(&ok); err != nil {
		return false, fmt.Errorf("look for stories: %w", err)
	}
	return ok, nil
}
