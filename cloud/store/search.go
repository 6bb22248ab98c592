package store

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"
	"unicode"

	"golang.org/x/text/runes"
	"golang.org/x/text/transform"
	"golang.org/x/text/unicode/norm"
)

// Search kinds.
const (
	searchVisit    = "visit"
	searchLocation = "location"
)

// maxTermLen bounds a stored word; longer words are cut (a prefix of them
// still matches).
const maxTermLen = 64

// Terms splits text into normalised search words: lower case, accents
// removed ("José" → "jose"), split on anything that is not a letter or a
// digit, except that an email is also kept whole ("ada@acme.example").
func Terms(texts ...string) []string {
	seen := map[string]bool{}
	var out []string
	add := func(w string) {
		if len(w) > maxTermLen {
			w = w[:maxTermLen]
		}
		if w != "" && !seen[w] {
			seen[w] = true
			out = append(out, w)
		}
	}
	for _, text := range texts {
		text = fold(text)
		for _, field := range strings.Fields(text) {
			if strings.Contains(field, "@") {
				add(strings.Trim(field, ".,;:<>()[]\"'"))
			}
		}
		for _, w := range strings.FieldsFunc(text, func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) }) {
			add(w)
		}
	}
	return out
}

// fold lower-cases s and strips combining marks after NFD decomposition.
func fold(s string) string {
	t := transform.Chain(norm.NFD, runes.Remove(runes.In(unicode.Mn)), norm.NFC)
	out, _, err := transform.String(t, s)
	if err != nil {
		out = s
	}
	return strings.ToLower(out)
}

// indexTerms replaces the search words of one record.
func (tx *Tx) indexTerms(ctx context.Context, tenantID, kind, refID string, texts ...string) error {
	if _, err := tx.exec(ctx, `DELETE FROM search_terms WHERE kind = ? AND ref_id = ?`, kind, refID); err != nil {
		return fmt.Errorf("index %s: %w", kind, err)
	}
	for _, term := range Terms(texts...) {
		if _, err := tx.exec(ctx, `INSERT INTO search_terms (tenant_id, kind, ref_id, term) VALUES (?, ?, ?, ?)
			ON CONFLICT DO NOTHING`, tenantID, kind, refID, term); err != nil {
			return fmt.Errorf("index %s: %w", kind, err)
		}
	}
	return nil
}

// SearchVisitor is one visitor found by Search: the latest visit of that
// visitor (the same email, or the same name when there is no email).
type SearchVisitor struct {
	ID          string    `json:"id"` // the latest visit's id
	Name        string    `json:"name"`
	Company     string    `json:"company"`
	Status      string    `json:"status"`
	Location    SearchRef `json:"location"`
	CheckedInAt time.Time `json:"checked_in_at,omitzero"`
}

// SearchRef names a location in a search result.
type SearchRef struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// SearchLocation is one location found by Search.
type SearchLocation struct {
	ID      string `json:"id"`
	Name    string `json:"name"`
	Address string `json:"address"`
	Type    string `json:"type"`
}

// SearchResult is the search provider's answer.
type SearchResult struct {
	Visitors  []SearchVisitor  `json:"visitors"`
	Locations []SearchLocation `json:"locations"`
}

// prefixRange returns the half-open range [lo, hi) of words starting with p.
func prefixRange(p string) (string, string) {
	return p, p + "\U0010FFFF"
}

// Search finds the tenant's visitors (by name, email or company) and
// locations (by name or address) whose words start with every word of q,
// case- and accent-insensitively, at most limit of each.
func (db *DB) Search(ctx context.Context, tenantID, q string, limit int) (SearchResult, error) {
	res := SearchResult{Visitors: []SearchVisitor{}, Locations: []SearchLocation{}}
	words := Terms(q)
	if len(words) == 0 || tenantID == "" {
		return res, nil
	}
	if len(words) > 5 {
		words = words[:5]
	}
	visitIDs, err := db.matching(ctx, tenantID, searchVisit, words, limit*4+20)
	if err != nil {
		return res, err
	}
	locIDs, err := db.matching(ctx, tenantID, searchLocation, words, limit)
	if err != nil {
		return res, err
	}
	// Latest visit per visitor, newest first.
	byPerson := map[string]SearchVisitor{}
	for _, id := range visitIDs {
		v, err := db.Visit(ctx, tenantID, id)
		if err != nil {
			continue // removed since it was indexed
		}
		key := v.Visitor.Email
		if key == "" {
			key = "name:" + strings.ToLower(v.Visitor.Name)
		}
		if cur, ok := byPerson[key]; ok && cur.ID > v.ID {
			continue // UUIDv7 ids sort by creation: keep the latest
		}
		byPerson[key] = SearchVisitor{ID: v.ID, Name: v.Visitor.Name, Company: v.Visitor.Company, Status: string(v.Status),
			Location: SearchRef{ID: v.LocationID}, CheckedInAt: v.CheckedInAt}
	}
	for _, sv := range byPerson {
		if l, err := db.Location(ctx, tenantID, sv.Location.ID); err == nil {
			sv.Location.Name = l.Name
		}
		res.Visitors = append(res.Visitors, sv)
	}
	sort.Slice(res.Visitors, func(i, j int) bool { return res.Visitors[i].ID > res.Visitors[j].ID })
	if len(res.Visitors) > limit {
		res.Visitors = res.Visitors[:limit]
	}
	for _, id := range locIDs {
		l, err := db.Location(ctx, tenantID, id)
		if err != nil {
			continue
		}
		res.Locations = append(res.Locations, SearchLocation{ID: l.ID, Name: l.Name, Address: l.Address, Type: l.Type})
	}
	return res, nil
}

// matching returns up to limit ids of kind whose words include a word
// starting with each of words, newest ids first.
func (db *DB) matching(ctx context.Context, tenantID, kind string, words []string, limit int) ([]string, error) {
	q := `SELECT t0.ref_id FROM search_terms t0`
	lo, hi := prefixRange(words[0])
	args := []any{}
	where := ` WHERE t0.tenant_id = ? AND t0.kind = ? AND t0.term >= ? AND t0.term < ?`
	wargs := []any{tenantID, kind, lo, hi}
	for i, w := range words[1:] {
		a := fmt.Sprintf("t%d", i+1)
		lo, hi := prefixRange(w)
		q += fmt.Sprintf(` JOIN search_terms %[1]s ON %[1]s.kind = t0.kind AND %[1]s.ref_id = t0.ref_id AND %[1]s.tenant_id = t0.tenant_id
			AND %[1]s.term >= ? AND %[1]s.term < ?`, a)
		args = append(args, lo, hi)
	}
	args = append(args, wargs...)
	rows, err := db.query(ctx, `SELECT DISTINCT ref_id FROM (`+q+where+`) m ORDER BY ref_id DESC LIMIT ?`, append(args, limit)...)
	if err != nil {
		return nil, fmt.Errorf("search: %w", err)
	}
	defer rows.Close()
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	return ids, rows.Err()
}
