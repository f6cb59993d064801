package storage

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"

	"github.com/wirewatch/wirewatch/classify"
)

// Reference is a stored reference article.
type Reference struct {
	ID      int64                   `json:"id"`
	Title   string                  `json:"title"`
	URL     string                  `json:"url"`
	Body    string                  `json:"body,omitempty"`
	AddedAt time.Time               `json:"added_at"`
	Model   classify.ReferenceModel `json:"-"`
}

// References lists the reference articles, oldest first, with their
// models; with bodies when withBody is set.
func (s *Store) References(ctx context.Context, withBody bool) ([]Reference, error) {
	rows, err := s.db.Query(ctx, `SELECT id, title, url, CASE WHEN $1 THEN body ELSE '' END, added_at, model
		FROM reference_articles ORDER BY id`, withBody)
	if err != nil {
		return nil, fmt.Errorf("list reference articles: %w", err)
	}
	refs, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Reference, error) {
		var ref Reference
		var model []byte
		if err := r.Scan(&ref.ID, &ref.Title, &ref.URL, &ref.Body, &ref.AddedAt, &model); err != nil {
			return ref, err
		}
		return ref, json.Unmarshal(model, &ref.Model)
	})
	if err != nil {
		return nil, fmt.Errorf("list reference articles: %w", err)
	}
	return refs, nil
}

// ReferencesVersion changes whenever a reference article is added or
// removed: a running daemon compares it to know when to reload them.
func (s *Store) ReferencesVersion(ctx context.Context) (string, error) {
	var v string
	err := s.db.QueryRow(ctx, `SELECT count(*) || ':' || coalesce(max(id), 0) || ':' || coalesce(sum(id), 0) FROM reference_articles`).Scan(&v)
	if err != nil {
		return "", fmt.Errorf("read reference articles: %w", err)
	}
	return v, nil
}

// CorpusSample returns the text (title and text) of the most recent
// stored items, matching or kept unmatched, up to limit: what term rarity
// is measured on.
func (s *Store) CorpusSample(ctx context.Context, limit int) ([]string, error) {
	type sampled struct {
		text string
		at   time.Time
	}
	var all []sampled
	rows, err := s.db.Query(ctx, `
		SELECT title || E'\n' || left(CASE WHEN length(content) > length(summary) THEN content ELSE summary END, $2), first_seen_at
		FROM items ORDER BY first_seen_at DESC LIMIT $1`, limit, sampleChars)
	if err != nil {
		return nil, fmt.Errorf("sample stored items: %w", err)
	}
	var text string
	var at time.Time
	if _, err = pgx.ForEachRow(rows, []any{&text, &at}, func() error {
		all = append(all, sampled{text, at})
		return nil
	}); err != nil {
		return nil, fmt.Errorf("sample stored items: %w", err)
	}
	// The newest kept batches that hold the limit.
	rows, err = s.db.Query(ctx, `
		SELECT first_seen_at, items
		FROM (SELECT first_seen_at, id, items, sum(item_count) OVER (ORDER BY first_seen_at DESC, id DESC) - item_count AS before
		      FROM unmatched_batches ORDER BY first_seen_at DESC, id DESC LIMIT $1) b
		WHERE before < $1 ORDER BY first_seen_at DESC, id DESC`, limit)
	if err != nil {
		return nil, fmt.Errorf("sample kept items: %w", err)
	}
	var data []byte
	if _, err = pgx.ForEachRow(rows, []any{&at, &data}, func() error {
		var kept []keptItem
		if err := json.Unmarshal(data, &kept); err != nil {
			return err
		}
		for _, k := range kept {
			body := k.Summary
			if utf8.RuneCountInString(k.Content) > utf8.RuneCountInString(k.Summary) {
				body = k.Content
			}
			all = append(all, sampled{k.Title + "\n" + firstRunes(body, sampleChars), at})
		}
		return nil
	}); err != nil {
		return nil, fmt.Errorf("sample kept items: %w", err)
	}
	sort.SliceStable(all, func(i, j int) bool { return all[i].at.After(all[j].at) })
	out := make([]string, 0, min(limit, len(all)))
	for _, x := range all[:min(limit, len(all))] {
		out = append(out, x.text)
	}
	return out, nil
}

// sampleChars bounds the text of one item in the corpus sample.
const sampleChars = 20000

// firstRunes returns the first n characters of s.
func firstRunes(s string, n int) string {
	for i := range s {
		if n == 0 {
			return s[:i]
		}
		n--
	}
	return s
}

// ReplaceReferences writes the reference articles as given: new ones
// (ID 0) are inserted, the others' models updated, and those not listed
// deleted. It returns them with their ids.
func (s *Store) ReplaceReferences(ctx context.Context, refs []Reference) ([]Reference, error) {
	out := make([]Reference, len(refs))
	err := s.WithTx(ctx, func(tx *Store) error {
		keep := []int64{} // not nil: NULL would delete nothing
		for i, r := range refs {
			model, err := json.Marshal(r.Model)
			if err != nil {
				return err
			}
			if r.ID == 0 {
				if err := tx.db.QueryRow(ctx, `INSERT INTO reference_articles (title, url, body, model)
					VALUES ($1, $2, $3, $4) RETURNING id, added_at`, r.Title, r.URL, r.Body, model).Scan(&r.ID, &r.AddedAt); err != nil {
					return err
				}
			} else if _, err := tx.db.Exec(ctx, `UPDATE reference_articles SET model = $2 WHERE id = $1`, r.ID, model); err != nil {
				return err
			}
			keep = append(keep, r.ID)
			out[i] = r
		}
		_, err := tx.db.Exec(ctx, `DELETE FROM reference_articles WHERE id <> ALL($1::bigint[])`, keep)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("save reference articles: %w", err)
	}
	return out, nil
}

// Rescore recomputes the relevance of every stored item with score (nil
// clears it: no reference left), a batch at a time, and returns how many
// items it scored.
func (s *Store) Rescore(ctx context.Context, score *classify.Relevance) (int, error) {
	const batch = 2000
	var after int64
	total := 0
	for {
		rows, err := s.db.Query(ctx, `SELECT id, title, summary, content FROM items WHERE id > $1 ORDER BY id LIMIT $2`, after, batch)
		if err != nil {
			return total, fmt.Errorf("rescore items: %w", err)
		}
		var ids []int64
		var scores []*float64
		var id int64
		var title, summary, content string
		if _, err := pgx.ForEachRow(rows, []any{&id, &title, &summary, &content}, func() error {
			ids = append(ids, id)
			scores = append(scores, ItemRelevance(score, title, summary, content))
			return nil
		}); err != nil {
			return total, fmt.Errorf("rescore items: %w", err)
		}
		if len(ids) == 0 {
			return total, nil
		}
		if _, err := s.db.Exec(ctx, `UPDATE items SET relevance = t.r FROM unnest($1::bigint[], $2::real[]) AS t(id, r)
			WHERE items.id = t.id`, ids, scores); err != nil {
			return total, fmt.Errorf("rescore items: %w", err)
		}
		total += len(ids)
		after = ids[len(ids)-1]
	}
}

// ItemRelevance scores an item's stored text; nil when there is no
// reference.
func ItemRelevance(score *classify.Relevance, title, summary, content string) *float64 {
	v, ok := score.Score(title, classify.StoryText(summary, content))
	if !ok {
		return nil
	}
	return &v
}
