package store_test

import (
	"context"
	"reflect"
	"testing"
	"time"

	"github.com/theonestack/visitor"
	"github.com/theonestack/visitor/cloud/store"
	"github.com/theonestack/visitor/cloud/store/storetest"
)

func TestTerms(t *testing.T) {
	tests := []struct {
		in   []string
		want []string
	}{
		{[]string{"José Álvarez"}, []string{"jose", "alvarez"}},
		{[]string{"ADA@Acme.Example"}, []string{"ada@acme.example", "ada", "acme", "example"}},
		{[]string{"O'Brien-Smith", "Zürich AG"}, []string{"o", "brien", "smith", "zurich", "ag"}},
		{[]string{"  ", ""}, nil},
	}
	for _, tt := range tests {
		if got := store.Terms(tt.in...); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("Terms(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestSearch(t *testing.T) {
	storetest.Each(t, func(t *testing.T, engine storetest.Engine) {
		ctx := context.Background()
		f := newFixture(t, engine)
		db := f.db
		checkIn := func(tenant, loc, name, email, company string) visitor.Visit {
			f.clock.Add(time.Minute)
			v, err := db.CheckIn(ctx, tenant, visitor.Visit{LocationID: loc, Visitor: visitor.Person{Name: name, Email: email, Company: company}}, staff)
			if err != nil {
				t.Fatal(err)
			}
			return v
		}
		first := checkIn("org_acme", f.loc.ID, "José Álvarez", "jose@example.com", "Initech")
		latest := checkIn("org_acme", f.loc.ID, "José Álvarez", "jose@example.com", "Initech")
		checkIn("org_acme", f.loc.ID, "Joanna Smith", "", "Acme Widgets")
		checkIn("org_globex", f.otherLoc.ID, "José Globex", "jg@globex.example", "Globex")

		names := func(r store.SearchResult) []string {
			var out []string
			for _, v := range r.Visitors {
				out = append(out, v.Name)
			}
			return out
		}
		tests := []struct {
			q         string
			visitors  int
			locations int
		}{
			{"jose", 1, 0},   // accent-insensitive, one visitor for two visits
			{"JOS", 1, 0},    // prefix, case-insensitive
			{"jo", 2, 0},     // José and Joanna
			{"alv jo", 1, 0}, // every word must match
			{"initech", 1, 0},
			{"jose@example", 1, 0},
			{"acme", 1, 0}, // company "Acme Widgets" (locations are not named Acme)
			{"hq", 0, 1},   // location name
			{"main", 0, 1}, // location address "1 Main St"
			{"globex", 0, 0},
			{"zz", 0, 0},
			{"", 0, 0},
		}
		for _, tt := range tests {
			r, err := db.Search(ctx, "org_acme", tt.q, 20)
			if err != nil {
				t.Fatal(err)
			}
			if len(r.Visitors) != tt.visitors || len(r.Locations) != tt.locations {
				t.Errorf("Search(%q) = %v and %d locations; want %d visitors, %d locations", tt.q, names(r), len(r.Locations), tt.visitors, tt.locations)
			}
		}
		r, _ := db.Search(ctx, "org_acme", "jose", 20)
		if len(r.Visitors) == 1 && (r.Visitors[0].ID != latest.ID || r.Visitors[0].Location.Name != "HQ Lobby") {
			t.Errorf("visitor result = %+v; want the latest visit %s (not %s) at HQ Lobby", r.Visitors[0], latest.ID, first.ID)
		}
		// The other tenant sees only its own.
		r, _ = db.Search(ctx, "org_globex", "jose", 20)
		if len(r.Visitors) != 1 || r.Visitors[0].Name != "José Globex" {
			t.Errorf("globex search = %v", names(r))
		}
		// limit
		r, _ = db.Search(ctx, "org_acme", "jo", 1)
		if len(r.Visitors) != 1 {
			t.Errorf("limit 1 gave %d", len(r.Visitors))
		}
	})
}

func TestImportVisitsIsRerunnableAndSearchable(t *testing.T) {
	storetest.Each(t, func(t *testing.T, engine storetest.Engine) {
		ctx := context.Background()
		f := newFixture(t, engine)
		at := f.clock.Now().AddDate(0, -2, 0)
		visits := []visitor.Visit{
			{ID: "0190aaaa-0000-7000-8000-000000000001", LocationID: f.loc.ID, Visitor: visitor.Person{Name: "Émile Zola"}, CheckedInAt: at, CheckedOutAt: at.Add(time.Hour)},
			{ID: "0190aaaa-0000-7000-8000-000000000002", LocationID: f.loc.ID, Visitor: visitor.Person{Name: "Marie Curie", Company: "Sorbonne"}, CheckedInAt: at},
		}
		n, err := f.db.ImportVisits(ctx, "org_acme", visits, staff)
		if err != nil || n != 2 {
			t.Fatalf("import = %d, %v", n, err)
		}
		if n, err := f.db.ImportVisits(ctx, "org_acme", visits, staff); err != nil || n != 0 {
			t.Errorf("rerun added %d, %v; want 0", n, err)
		}
		if r, _ := f.db.Search(ctx, "org_acme", "emile", 10); len(r.Visitors) != 1 || r.Visitors[0].Status != "checked_out" {
			t.Errorf("imported visit not searchable: %+v", r)
		}
		if n := len(eventsOfType(t, f.db, "org_acme", visitor.EventCheckedIn)); n != 0 {
			t.Errorf("import emitted %d Bus events", n)
		}
		if _, err := f.db.ImportVisits(ctx, "org_globex", visits[:1], staff); visitor.ErrorCode(err) != visitor.ENOTFOUND {
			t.Errorf("import into another tenant's location: %v", err)
		}
	})
}
