package devhub

import (
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/theonestack/visitor"
)

// PermissionRegistry is what the Visitor product registered with Hub.
type PermissionRegistry struct {
	Product     string                   `json:"product"`
	Permissions []visitor.PermissionInfo `json:"permissions"`
	// Registrations counts accepted PUTs (the cloud registers at every start).
	Registrations int       `json:"registrations"`
	UpdatedAt     time.Time `json:"updated_at,omitzero"`
}

// permissionKey is the shape of a product permission key: the product,
// then at least two lower-case dotted segments.
var permissionKey = regexp.MustCompile(`^visitor(\.[a-z][a-z0-9_]*){2,}$`)

// Permissions returns a snapshot of the Visitor product's registered
// permissions (empty until the cloud registers).
func (h *Hub) Permissions() PermissionRegistry {
	h.mu.Lock()
	defer h.mu.Unlock()
	p := h.perms
	p.Product = RedirectVisitor
	p.Permissions = slices.Clone(p.Permissions)
	if p.Permissions == nil {
		p.Permissions = []visitor.PermissionInfo{}
	}
	return p
}

// RegisterPermissions validates and stores the product's permission list,
// replacing the previous one, as PUT /api/hub/products/visitor/permissions
// does. A validation failure is a *visitor.Error with code invalid.
func (h *Hub) RegisterPermissions(perms []visitor.PermissionInfo) error {
	if len(perms) == 0 {
		return visitor.Errorf(visitor.EINVALID, "permissions must not be empty")
	}
	seen := make(map[visitor.Permission]bool, len(perms))
	for i, p := range perms {
		if !permissionKey.MatchString(string(p.Key)) {
			return visitor.Errorf(visitor.EINVALID, "permissions[%d]: key %q is not a visitor permission key (visitor.area.action)", i, p.Key)
		}
		if seen[p.Key] {
			return visitor.Errorf(visitor.EINVALID, "permissions[%d]: duplicate key %q", i, p.Key)
		}
		seen[p.Key] = true
		if d := strings.TrimSpace(p.Description); d == "" || len(d) > 500 {
			return visitor.Errorf(visitor.EINVALID, "permissions[%d] (%s): description must be 1 to 500 characters", i, p.Key)
		}
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.perms.Permissions = slices.Clone(perms)
	h.perms.Registrations++
	h.perms.UpdatedAt = h.opts.Now().UTC()
	h.log.Info("permissions registered", "count", len(perms))
	return nil
}

// handlePutPermissions is PUT /api/hub/products/{product}/permissions.
func (h *Hub) handlePutPermissions(w http.ResponseWriter, r *http.Request) {
	if product := r.PathValue("product"); product != RedirectVisitor {
		writeError(w, http.StatusNotFound, "not_found", fmt.Sprintf("Unknown product %q.", product))
		return
	}
	var body struct {
		Permissions []visitor.PermissionInfo `json:"permissions"`
	}
	if err := decodeJSON(w, r, &body, true); err != nil {
		writeError(w, http.StatusBadRequest, "invalid", err.Error())
		return
	}
	if err := h.RegisterPermissions(body.Permissions); err != nil {
		writeError(w, http.StatusBadRequest, "invalid", visitor.ErrorMessage(err))
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"product": RedirectVisitor, "count": len(body.Permissions)})
}

// handleListPermissions is GET /api/devhub/permissions. Besides the
// registry it lists which of the twelve Visitor permissions are missing.
func (h *Hub) handleListPermissions(w http.ResponseWriter, r *http.Request) {
	reg := h.Permissions()
	missing := []string{}
	for _, info := range visitor.Permissions() {
		if !slices.ContainsFunc(reg.Permissions, func(p visitor.PermissionInfo) bool { return p.Key == info.Key }) {
			missing = append(missing, string(info.Key))
		}
	}
	writeJSON(w, http.StatusOK, struct {
		PermissionRegistry
		Missing []string `json:"missing"`
	}{reg, missing})
}
