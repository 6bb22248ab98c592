package visitor

// Permission is a Hub permission key of the Visitor product. Hub assigns
// them per user; the cloud checks them on every protected call.
type Permission string

// The twelve permissions the cloud registers with Hub at start-up.
const (
	PermVisitorsView      Permission = "visitor.visitors.view"
	PermVisitorsCheckin   Permission = "visitor.visitors.checkin"
	PermVisitorsCheckout  Permission = "visitor.visitors.checkout"
	PermPreregisterManage Permission = "visitor.preregister.manage"
	PermHostsView         Permission = "visitor.hosts.view"
	PermHostsManage       Permission = "visitor.hosts.manage"
	PermBadgesManage      Permission = "visitor.badges.manage"
	PermReportsView       Permission = "visitor.reports.view"
	PermReportsExport     Permission = "visitor.reports.export"
	PermLocationsManage   Permission = "visitor.locations.manage"
	PermAdminSettings     Permission = "visitor.admin.settings"
	PermAdminKiosk        Permission = "visitor.admin.kiosk"
)

// PermissionInfo is a permission key with the description registered with Hub.
type PermissionInfo struct {
	Key         Permission `json:"key"`
	Description string     `json:"description"`
}

// Permissions returns all permissions in registration order. The returned
// slice is a fresh copy the caller may keep.
func Permissions() []PermissionInfo {
	return []PermissionInfo{
		{PermVisitorsView, "View visitor records and log"},
		{PermVisitorsCheckin, "Create new check-ins"},
		{PermVisitorsCheckout, "Check out visitors"},
		{PermPreregisterManage, "Create and manage pre-registrations"},
		{PermHostsView, "View the host directory"},
		{PermHostsManage, "Manage who appears in the host directory"},
		{PermBadgesManage, "Add, assign, return, and retire badges"},
		{PermReportsView, "View the reports page"},
		{PermReportsExport, "Export visitor data to CSV"},
		{PermLocationsManage, "Create and configure locations"},
		{PermAdminSettings, "Configure tenant-level Visitor settings"},
		{PermAdminKiosk, "Pair and manage kiosk displays"},
	}
}

// ValidPermission reports whether p is one of the twelve Visitor permissions.
func ValidPermission(p Permission) bool {
	for _, info := range Permissions() {
		if info.Key == p {
			return true
		}
	}
	return false
}
