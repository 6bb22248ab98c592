package devhub

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"strings"

	"github.com/theonestack/visitor"
)

// AllPermissions in a fixture user's permission list stands for all twelve
// Visitor permissions.
const AllPermissions = "*"

// Fixture is the development Hub's directory: its orgs and users. The JSON
// form is documented in the package comment.
type Fixture struct {
	Orgs  []Org  `json:"orgs"`
	Users []User `json:"users"`
}

// Org is a Hub organisation; its id is the Visitor tenant id.
type Org struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// User is a Hub user. OrgID is empty for a user in no org.
type User struct {
	ID          string   `json:"id"`
	Name        string   `json:"name"`
	Email       string   `json:"email"`
	Role        string   `json:"role"`
	OrgID       string   `json:"org_id,omitempty"`
	Permissions []string `json:"permissions"`
}

// Fixture user ids of the built-in default, stable for tests and scripts.
const (
	UserAdmin       = "u_admin"
	UserReception   = "u_reception"
	UserSecurity    = "u_security"
	UserGlobexAdmin = "u_globex_admin"
	UserNoOrg       = "u_noorg"
	OrgAcme         = "org_acme"
	OrgGlobex       = "org_globex"
)

// DefaultFixture returns the built-in directory: an admin with all twelve
// permissions and a receptionist and a security guard in org_acme ("Acme
// Corp"), an admin of org_globex ("Globex Corporation") with all
// permissions, and a user in no org. Each call returns a fresh copy.
func DefaultFixture() *Fixture {
	p := func(ps ...visitor.Permission) []string {
		out := make([]string, len(ps))
		for i, v := range ps {
			out[i] = string(v)
		}
		return out
	}
	return &Fixture{
		Orgs: []Org{
			{ID: OrgAcme, Name: "Acme Corp"},
			{ID: OrgGlobex, Name: "Globex Corporation"},
		},
		Users: []User{
			{ID: UserAdmin, Name: "Ada Admin", Email: "admin@acme.example", Role: "admin", OrgID: OrgAcme,
				Permissions: []string{AllPermissions}},
			{ID: UserReception, Name: "Rita Reception", Email: "reception@acme.example", Role: "receptionist", OrgID: OrgAcme,
				Permissions: p(visitor.PermVisitorsView, visitor.PermVisitorsCheckin, visitor.PermVisitorsCheckout,
					visitor.PermPreregisterManage, visitor.PermHostsView, visitor.PermBadgesManage)},
			{ID: UserSecurity, Name: "Sam Security", Email: "security@acme.example", Role: "security", OrgID: OrgAcme,
				Permissions: p(visitor.PermVisitorsView, visitor.PermVisitorsCheckout,
					visitor.PermReportsView, visitor.PermReportsExport)},
			{ID: UserGlobexAdmin, Name: "Gus Globex", Email: "admin@globex.example", Role: "admin", OrgID: OrgGlobex,
				Permissions: []string{AllPermissions}},
			{ID: UserNoOrg, Name: "Nora Noorg", Email: "nora@example.com", Role: "member",
				Permissions: []string{}},
		},
	}
}

// LoadFixture reads and validates a fixture file. Unknown fields are
// refused so a typo does not silently drop a permission.
func LoadFixture(path string) (*Fixture, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read fixture: %w", err)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var f Fixture
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("parse fixture %s: %w", path, err)
	}
	if dec.More() {
		return nil, fmt.Errorf("parse fixture %s: trailing data after the JSON object", path)
	}
	if err := f.Validate(); err != nil {
		return nil, fmt.Errorf("fixture %s: %w", path, err)
	}
	return &f, nil
}

// Validate checks ids are present and unique, every user's org exists, and
// every permission is one of the twelve (or "*").
func (f *Fixture) Validate() error {
	if len(f.Users) == 0 {
		return fmt.Errorf("no users")
	}
	orgs := make(map[string]bool, len(f.Orgs))
	for i, o := range f.Orgs {
		if strings.TrimSpace(o.ID) == "" || strings.TrimSpace(o.Name) == "" {
			return fmt.Errorf("orgs[%d]: id and name are required", i)
		}
		if orgs[o.ID] {
			return fmt.Errorf("orgs[%d]: duplicate org id %q", i, o.ID)
		}
		orgs[o.ID] = true
	}
	users := make(map[string]bool, len(f.Users))
	for i, u := range f.Users {
		if strings.TrimSpace(u.ID) == "" || strings.TrimSpace(u.Name) == "" {
			return fmt.Errorf("users[%d]: id and name are required", i)
		}
		if users[u.ID] {
			return fmt.Errorf("users[%d]: duplicate user id %q", i, u.ID)
		}
		users[u.ID] = true
		if !strings.Contains(u.Email, "@") {
			return fmt.Errorf("users[%d] (%s): email %q is not an address", i, u.ID, u.Email)
		}
		if u.OrgID != "" && !orgs[u.OrgID] {
			return fmt.Errorf("users[%d] (%s): unknown org_id %q", i, u.ID, u.OrgID)
		}
		for _, p := range u.Permissions {
			if p != AllPermissions && !visitor.ValidPermission(visitor.Permission(p)) {
				return fmt.Errorf("users[%d] (%s): unknown permission %q", i, u.ID, p)
			}
		}
	}
	return nil
}

// user returns the user with id, if any.
func (f *Fixture) user(id string) (User, bool) {
	for _, u := range f.Users {
		if u.ID == id {
			return u, true
		}
	}
	return User{}, false
}

// org returns the org with id, if any.
func (f *Fixture) org(id string) (Org, bool) {
	for _, o := range f.Orgs {
		if o.ID == id {
			return o, true
		}
	}
	return Org{}, false
}

// expandPermissions turns a fixture permission list into the sorted-by-
// registration list of keys the token carries, expanding "*" and dropping
// repeats. The result is never nil so it encodes as [].
func expandPermissions(ps []string) []string {
	want := make(map[string]bool, len(ps))
	all := false
	for _, p := range ps {
		if p == AllPermissions {
			all = true
		}
		want[p] = true
	}
	out := []string{}
	for _, info := range visitor.Permissions() {
		if all || want[string(info.Key)] {
			out = append(out, string(info.Key))
		}
	}
	return out
}
