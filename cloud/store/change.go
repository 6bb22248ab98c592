package store

import (
	"context"
	"encoding/json"
	"fmt"
	"time"
)

// Change is one entry of the down-stream feed kiosks follow: an entity of
// the tenant (or of one location, when LocationID is set) that was
// created, changed or deleted.
type Change struct {
	Seq        int64           `json:"seq"`
	TenantID   string          `json:"tenant_id"`
	LocationID string          `json:"location_id,omitempty"`
	Entity     string          `json:"entity"`
	EntityID   string          `json:"entity_id"`
	Op         string          `json:"op"` // upsert or delete
	Data       json.RawMessage `json:"data"`
	At         time.Time       `json:"at"`
}

func (tx *Tx) appendChange(ctx context.Context, tenantID, locationID, entity, id, op string, data any) error {
	return tx.appendChangeTo(ctx, nil, tenantID, locationID, entity, id, op, data)
}

// appendChangeTo writes a change now, or adds it to b when b is set.
func (tx *Tx) appendChangeTo(ctx context.Context, b *rowBatch, tenantID, locationID, entity, id, op string, data any) error {
	raw, err := json.Marshal(data)
	if err != nil {
		return fmt.Errorf("change data: %w", err)
	}
	err = tx.insertRow(ctx, b, tblChanges,
		tenantID, locationID, entity, id, op, string(raw), tsText(tx.db.now()))
	if err != nil {
		return fmt.Errorf("append change: %w", err)
	}
	return nil
}

// Changes returns up to limit changes of the tenant after seq that concern
// the location (entries for every location included), oldest first.
func (db *DB) Changes(ctx context.Context, tenantID, locationID string, after int64, limit int) ([]Change, error) {
	rows, err := db.query(ctx, `SELECT seq, tenant_id, location_id, entity, entity_id, op, data, at FROM changes
		WHERE tenant_id = ? AND seq > ? AND (location_id = '' OR location_id = ?)
		ORDER BY seq LIMIT ?`, tenantID, after, locationID, clampLimit(limit))
	if err != nil {
		return nil, fmt.Errorf("list changes: %w", err)
	}
	defer rows.Close()
	var out []Change
	for rows.Next() {
		var c Change
		var data string
		if err := rows.Scan(&c.Seq, &c.TenantID, &c.LocationID, &c.Entity, &c.EntityID, &c.Op, &data, tm(&c.At)); err != nil {
			return nil, err
		}
		c.Data = json.RawMessage(data)
		out = append(out, c)
	}
	return out, rows.Err()
}
