// Package visitor holds the domain of The One Visitor: the records a lobby
// and the cloud agree on (tenants, locations, hosts, visits, badges,
// devices…), the permission keys, and the small error vocabulary every
// layer maps to a status in exactly one place.
//
// It imports nothing of the project. The kiosk engine (edge), the cloud
// service (cloud) and the kiosk app all speak in these types; storage,
// transport and presentation live in their own packages.
package visitor
