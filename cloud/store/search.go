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

	"github.com/theonestack/visitor"
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
	return tx.addTerms(ctx, tenantID, kind, refID, texts...)
}

// addTerms writes the search words of a new record in one statement.
func (tx *Tx) addTerms(ctx context.Context, tenantID, kind, refID string, texts ...string) error {
	return tx.addTermsTo(ctx, nil, tenantID, kind, refID, texts...)
}

// addTermsTo is addTerms, adding the rows to b instead when b is set.
func (tx *Tx) addTermsTo(ctx context.Context, b *rowBatch, tenantID, kind, refID string, texts ...string) error {
	terms := Terms(texts...)
	if len(terms) == 0 {
		return nil
	}
	if b != nil {
		for _, term := range terms {
			if err := tx.insertRow(ctx, b, tblSearchTerms, tenantID, kind, refID, term); err != nil {
				return err
			}
		}
		return nil
	}
	args := make([]any, 0, 4*len(terms))
	for _, term := range terms {
		args = append(args, tenantID, kind, refID, term)
	}
	if _, err := tx.exec(ctx, insertTables[tblSearchTerms].statement(len(terms)), args...); err != nil {
		return fmt.Errorf("index %s: %w", kind, err)
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
	locMatches, err := db.matching(ctx, tenantID, searchLocation, words, limit)
	if err != nil {
		return res, err
	}
	locIDs := append([]string(nil), locMatches...)
	visits, err := db.visitsByID(ctx, tenantID, visitIDs)
	if err != nil {
		return res, err
	}
	// Latest visit per visitor (UUIDv7 ids sort by creation), newest first.
	byPerson := map[string]visitor.Visit{}
	for _, v := range visits {
		key := v.Visitor.Email
		if key == "" {
			key = "name:" + strings.ToLower(v.Visitor.Name)
		}
		if cur, ok := byPerson[key]; !ok || v.ID > cur.ID {
			byPerson[key] = v
		}
	}
	latest := make([]visitor.Visit, 0, len(byPerson))
	for _, v := range byPerson {
		latest = append(latest, v)
	}
	sort.Slice(latest, func(i, j int) bool { return latest[i].ID > latest[j].ID })
	if len(latest) > limit {
		latest = latest[:limit]
	}
	locIDs = appendLocationIDs(locIDs, latest)
	locs, err := db.locationsByID(ctx, tenantID, locIDs)
	if err != nil {
		return res, err
	}
	for _, v := range latest {
		res.Visitors = append(res.Visitors, SearchVisitor{ID: v.ID, Name: v.Visitor.Name, Company: v.Visitor.Company,
			Status: string(v.Status), Location: SearchRef{ID: v.LocationID, Name: locs[v.LocationID].Name}, CheckedInAt: v.CheckedInAt})
	}
	for _, id := range locMatches {
		if l, ok := locs[id]; ok {
			res.Locations = append(res.Locations, SearchLocation{ID: l.ID, Name: l.Name, Address: l.Address, Type: l.Type})
		}
	}
	return res, nil
}

// matching returns up to limit ids of kind whose words include a word
// starting with each of words, newest ids first. The longest word drives
// the scan (it is usually the most selective); each other word is an
// index-only EXISTS lookup on (kind, ref_id, term).
func (db *DB) matching(ctx context.Context, tenantID, kind string, words []string, limit int) ([]string, error) {
	driver := 0
	for i, w := range words {
		if len(w) > len(words[driver]) {
			driver = i
		}
	}
	lo, hi := prefixRange(words[driver])
	q := `SELECT DISTINCT d.ref_id FROM search_terms d WHERE d.tenant_id = ? AND d.kind = ? AND d.term >= ? AND d.term < ?`
	args := []any{tenantID, kind, lo, hi}
	for i, w := range words {
		if i == driver {
			continue
		}
		lo, hi := prefixRange(w)
		q += ` AND EXISTS (SELECT 1 FROM search_terms o WHERE o.kind = d.kind AND o.ref_id = d.ref_id AND o.term >= ? AND o.term < ?)`
		args = append(args, lo, hi)
	}
	rows, err := db.query(ctx, q+` ORDER BY d.ref_id DESC LIMIT ?`, append(args, limit)...)
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

// visitsByID loads the tenant's visits with the given ids in one query.
func (db *DB) visitsByID(ctx context.Context, tenantID string, ids []string) ([]visitor.Visit, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	args := []any{tenantID}
	for _, id := range ids {
		args = append(args, id)
	}
	rows, err := db.query(ctx, `SELECT `+visitColumns+` FROM visits WHERE tenant_id = ? AND id IN (`+placeholders(len(ids))+`)`, args...)
	if err != nil {
		return nil, fmt.Errorf("search visits: %w", err)
	}
	defer rows.Close()
	var out []visitor.Visit
	for rows.Next() {
		v, err := scanVisit(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// locationsByID loads the tenant's locations with the given ids in one query.
func (db *DB) locationsByID(ctx context.Context, tenantID string, ids []string) (map[string]visitor.Location, error) {
	out := map[string]visitor.Location{}
	if len(ids) == 0 {
		return out, nil
	}
	args := []any{tenantID}
	for _, id := range ids {
		args = append(args, id)
	}
	rows, err := db.query(ctx, `SELECT `+locationColumns+` FROM locations WHERE tenant_id = ? AND id IN (`+placeholders(len(ids))+`)`, args...)
	if err != nil {
		return nil, fmt.Errorf("search locations: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		l, err := scanLocation(rows)
		if err != nil {
			return nil, err
		}
		out[l.ID] = l
	}
	return out, rows.Err()
}

func appendLocationIDs(ids []string, visits []visitor.Visit) []string {
	seen := map[string]bool{}
	for _, id := range ids {
		seen[id] = true
	}
	for _, v := range visits {
		if !seen[v.LocationID] {
			seen[v.LocationID] = true
			ids = append(ids, v.LocationID)
		}
	}
	return ids
}
