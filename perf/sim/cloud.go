package sim

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"strings"
	"sync"

	"github.com/theonestack/visitor"
	"github.com/theonestack/visitor/cloud/store"
)

// DB provisions kiosks into, and checks visits in, a cloud database the
// cloud process also uses (SQLite file or PostgreSQL). Kiosks are spread
// over Locations locations of one tenant.
type DB struct {
	db        *store.DB
	tenantID  string
	locations int

	once   sync.Once
	locs   []string
	locErr error
}

// simActor is who the audit trail names for provisioned kiosks.
func simActor() store.Actor { return store.Actor{Type: store.ActorSystem, ID: "visitor-sim"} }

// NewDB returns a Provisioner and Checker over db for tenantID (created
// if missing) with the given number of locations (at least 1).
func NewDB(db *store.DB, tenantID string, locations int) *DB {
	return &DB{db: db, tenantID: tenantID, locations: max(locations, 1)}
}

// TenantID is the tenant the kiosks belong to.
func (d *DB) TenantID() string { return d.tenantID }

func (d *DB) setup(ctx context.Context) error {
	d.once.Do(func() {
		if d.locErr = d.db.EnsureTenant(ctx, d.tenantID, "Simulated "+d.tenantID); d.locErr != nil {
			return
		}
		for i := range d.locations {
			l, err := d.db.CreateLocation(ctx, d.tenantID, visitor.Location{Name: fmt.Sprintf("Sim Lobby %d", i+1), Timezone: "UTC"}, simActor())
			if err != nil {
				d.locErr = err
				return
			}
			d.locs = append(d.locs, l.ID)
		}
	})
	return d.locErr
}

// Provision implements Provisioner with store.ProvisionDevice, the store
// operation an approved pairing ends in.
func (d *DB) Provision(ctx context.Context, i int, pub ed25519.PublicKey) (Placement, error) {
	if err := d.setup(ctx); err != nil {
		return Placement{}, fmt.Errorf("tenant and locations: %w", err)
	}
	loc := d.locs[i%len(d.locs)]
	dev, err := d.db.ProvisionDevice(ctx, d.tenantID, loc, fmt.Sprintf("Sim kiosk %d", i), pub, simActor())
	if err != nil {
		return Placement{}, err
	}
	return Placement{DeviceID: dev.ID, TenantID: d.tenantID, LocationID: loc}, nil
}

// Count implements Checker: visit rows and visitor.checked_in outbox
// events per visit id, in chunks of ids.
func (d *DB) Count(ctx context.Context, ids []string) (visits, checkedIn map[string]int, err error) {
	visits, checkedIn = map[string]int{}, map[string]int{}
	q := func(query string, dst map[string]int, args []any) error {
		rows, err := d.db.SQL().QueryContext(ctx, query, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var id string
			var n int
			if err := rows.Scan(&id, &n); err != nil {
				return err
			}
			dst[id] = n
		}
		return rows.Err()
	}
	const chunk = 500
	for start := 0; start < len(ids); start += chunk {
		part := ids[start:min(start+chunk, len(ids))]
		in, args := d.in(2, part)
		if err := q(`SELECT id, COUNT(*) FROM visits WHERE tenant_id = `+d.ph(1)+` AND id IN (`+in+`) GROUP BY id`,
			visits, append([]any{d.tenantID}, args...)); err != nil {
			return nil, nil, fmt.Errorf("count visits: %w", err)
		}
		in, args = d.in(3, part)
		if err := q(`SELECT subject, COUNT(*) FROM outbox WHERE tenant_id = `+d.ph(1)+` AND type = `+d.ph(2)+` AND subject IN (`+in+`) GROUP BY subject`,
			checkedIn, append([]any{d.tenantID, visitor.EventCheckedIn}, args...)); err != nil {
			return nil, nil, fmt.Errorf("count events: %w", err)
		}
	}
	return visits, checkedIn, nil
}

// ph is placeholder n (1-based) in the database's dialect.
func (d *DB) ph(n int) string {
	if d.db.Dialect() == store.Postgres {
		return fmt.Sprintf("$%d", n)
	}
	return "?"
}

// in returns placeholders from..from+len(ids)-1 and ids as arguments.
func (d *DB) in(from int, ids []string) (string, []any) {
	ph := make([]string, len(ids))
	args := make([]any, len(ids))
	for i, id := range ids {
		ph[i] = d.ph(from + i)
		args[i] = id
	}
	return strings.Join(ph, ","), args
}
