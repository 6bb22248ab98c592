package main

import (
	"context"
	"errors"
	"fmt"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"
)

// The demo organisation is org_acme of the development Hub's built-in
// fixture; u_admin holds all twelve permissions there.
const (
	demoTenant = "org_acme"
	demoAdmin  = "u_admin"
)

type seedLocation struct {
	Key                           string // how hosts, invites and badges refer to it
	Name, Address, Type, Timezone string
}

type seedHost struct {
	Name, Email, Phone string
	Location           string // seedLocation.Key; "" for every location
}

type seedInvite struct {
	Code, Name, Email, Company, Type string
	HostEmail, Location              string
	In                               time.Duration // expected this long after seeding
}

type seedBadge struct{ Location, Number string }

// demoData is the seeded demo organisation. Everything is keyed by a
// natural key (location name, host email, invite code, badge number per
// location), so a second run finds it and adds nothing.
type demoData struct {
	Locations []seedLocation
	Hosts     []seedHost
	Invites   []seedInvite
	Badges    []seedBadge
}

// defaultData returns the demo organisation: two locations in real time
// zones, a dozen hosts, four invitations and a dozen badges. The kiosk
// is paired to the first location.
func defaultData() demoData {
	d := demoData{
		Locations: []seedLocation{
			{Key: "hq", Name: "Paris HQ", Address: "12 Rue de la Paix, 75002 Paris", Type: "office", Timezone: "Europe/Paris"},
			{Key: "wh", Name: "Chicago Warehouse", Address: "2200 S Halsted St, Chicago, IL 60608", Type: "warehouse", Timezone: "America/Chicago"},
		},
		Hosts: []seedHost{
			{"Ada Lovelace", "ada.lovelace@acme.example", "+33 1 70 00 00 01", ""},
			{"Alan Turing", "alan.turing@acme.example", "+33 1 70 00 00 02", "hq"},
			{"Grace Hopper", "grace.hopper@acme.example", "+33 1 70 00 00 03", "hq"},
			{"Edsger Dijkstra", "edsger.dijkstra@acme.example", "+33 1 70 00 00 04", "hq"},
			{"Barbara Liskov", "barbara.liskov@acme.example", "+33 1 70 00 00 05", "hq"},
			{"Donald Knuth", "donald.knuth@acme.example", "+33 1 70 00 00 06", "hq"},
			{"Frances Allen", "frances.allen@acme.example", "+33 1 70 00 00 07", "hq"},
			{"Ken Thompson", "ken.thompson@acme.example", "+33 1 70 00 00 08", "hq"},
			{"Margaret Hamilton", "margaret.hamilton@acme.example", "+1 312 555 0101", "wh"},
			{"Dennis Ritchie", "dennis.ritchie@acme.example", "+1 312 555 0102", "wh"},
			{"Radia Perlman", "radia.perlman@acme.example", "+1 312 555 0103", "wh"},
			{"John Backus", "john.backus@acme.example", "+1 312 555 0104", "wh"},
		},
		Invites: []seedInvite{
			{"ACMEGST2", "Katherine Johnson", "katherine@orbit.example", "Orbit Analytics", "guest", "ada.lovelace@acme.example", "hq", time.Hour},
			{"ACMEGST3", "Tim Berners-Lee", "tim@web.example", "Web Consortium", "interview", "alan.turing@acme.example", "hq", 2 * time.Hour},
			{"ACMEGST4", "Hedy Lamarr", "hedy@spectrum.example", "Spectrum Radio", "contractor", "grace.hopper@acme.example", "hq", 3 * time.Hour},
			{"ACMEGST5", "Linus Torvalds", "linus@kernel.example", "Kernel Freight", "delivery", "margaret.hamilton@acme.example", "wh", time.Hour},
		},
	}
	for i := 1; i <= 8; i++ {
		d.Badges = append(d.Badges, seedBadge{"hq", fmt.Sprintf("%d", 100+i)})
	}
	for i := 1; i <= 4; i++ {
		d.Badges = append(d.Badges, seedBadge{"wh", fmt.Sprintf("%d", 200+i)})
	}
	return d
}

// apiLocation, apiHost and apiPrereg are the parts of the API's objects
// the seed reads.
type apiLocation struct {
	ID, Name, Timezone string
}

type apiHost struct {
	ID, Name, Email string
}

type apiPrereg struct {
	ID         string `json:"id"`
	InviteCode string `json:"invite_code"`
	Status     string `json:"status"`
}

// seedResult is what the seed found or made.
type seedResult struct {
	Locations map[string]apiLocation // by seedLocation.Key
	HostIDs   map[string]string      // by email
	Created   map[string]int         // new objects by kind
	Existing  map[string]int         // objects found by kind
}

func (r seedResult) summary() string {
	var parts []string
	for _, k := range []string{"locations", "hosts", "pre-registrations", "badges"} {
		parts = append(parts, fmt.Sprintf("%d %s (%d new)", r.Created[k]+r.Existing[k], k, r.Created[k]))
	}
	return strings.Join(parts, ", ")
}

// seed makes sure every object of d exists in the signed-in user's
// tenant, through the JSON API and, for badges (which have no JSON API),
// the console's badge form. It first lists what exists and creates only
// what is missing, so it can run any number of times.
func seed(ctx context.Context, c *apiClient, d demoData, now time.Time) (seedResult, error) {
	r := seedResult{Locations: map[string]apiLocation{}, HostIDs: map[string]string{},
		Created: map[string]int{}, Existing: map[string]int{}}

	locs, err := listAll[apiLocation](ctx, c, "/api/v1/locations", "locations")
	if err != nil {
		return r, fmt.Errorf("seed locations: %w", err)
	}
	byName := map[string]apiLocation{}
	for _, l := range locs {
		byName[l.Name] = l
	}
	for _, sl := range d.Locations {
		if l, ok := byName[sl.Name]; ok {
			r.Locations[sl.Key] = l
			r.Existing["locations"]++
			continue
		}
		var l apiLocation
		body := map[string]string{"name": sl.Name, "address": sl.Address, "type": sl.Type, "timezone": sl.Timezone}
		if err := c.call(ctx, http.MethodPost, "/api/v1/locations", body, &l); err != nil {
			return r, fmt.Errorf("seed location %s: %w", sl.Name, err)
		}
		r.Locations[sl.Key] = l
		r.Created["locations"]++
	}

	hosts, err := listAll[apiHost](ctx, c, "/api/v1/hosts", "hosts")
	if err != nil {
		return r, fmt.Errorf("seed hosts: %w", err)
	}
	for _, h := range hosts {
		r.HostIDs[strings.ToLower(h.Email)] = h.ID
	}
	for _, sh := range d.Hosts {
		if _, ok := r.HostIDs[strings.ToLower(sh.Email)]; ok {
			r.Existing["hosts"]++
			continue
		}
		body := map[string]string{"name": sh.Name, "email": sh.Email, "phone": sh.Phone}
		if sh.Location != "" {
			body["location_id"] = r.Locations[sh.Location].ID
		}
		var h apiHost
		if err := c.call(ctx, http.MethodPost, "/api/v1/hosts", body, &h); err != nil {
			return r, fmt.Errorf("seed host %s: %w", sh.Email, err)
		}
		r.HostIDs[strings.ToLower(sh.Email)] = h.ID
		r.Created["hosts"]++
	}

	preregs, err := listAll[apiPrereg](ctx, c, "/api/v1/preregistrations", "preregistrations")
	if err != nil {
		return r, fmt.Errorf("seed pre-registrations: %w", err)
	}
	codes := map[string]bool{}
	for _, p := range preregs {
		codes[strings.ToUpper(p.InviteCode)] = true
	}
	for _, si := range d.Invites {
		if codes[si.Code] {
			r.Existing["pre-registrations"]++
			continue
		}
		body := map[string]any{
			"location_id": r.Locations[si.Location].ID, "host_id": r.HostIDs[si.HostEmail],
			"visitor_type": si.Type, "invite_code": si.Code,
			"visitor":     map[string]string{"name": si.Name, "email": si.Email, "company": si.Company},
			"expected_at": now.Add(si.In).UTC().Truncate(time.Minute).Format(time.RFC3339),
		}
		err := c.call(ctx, http.MethodPost, "/api/v1/preregistrations", body, nil)
		var ae *apiError
		if errors.As(err, &ae) && ae.Status == http.StatusConflict {
			r.Existing["pre-registrations"]++ // made by a run that stopped before listing it
			continue
		}
		if err != nil {
			return r, fmt.Errorf("seed invite %s: %w", si.Code, err)
		}
		r.Created["pre-registrations"]++
	}

	if err := seedBadges(ctx, c, d, &r); err != nil {
		return r, err
	}
	return r, nil
}

// badgeRow matches a row of the console's badge table: number, location.
var badgeRow = regexp.MustCompile(`<tr id="badge-[^"]*"><td>([^<]*)</td><td>([^<]*)</td>`)

// seedBadges adds the missing badges. Badges have no JSON API; the console
// page lists them and its form adds one. The cloud refuses a number that
// already exists at a location, so a badge the listing missed is still
// never added twice.
func seedBadges(ctx context.Context, c *apiClient, d demoData, r *seedResult) error {
	page, err := c.getPage(ctx, "/badges")
	if err != nil {
		return fmt.Errorf("seed badges: %w", err)
	}
	have := map[string]bool{} // location name + "\x00" + number
	for _, m := range badgeRow.FindAllStringSubmatch(page, -1) {
		have[html.UnescapeString(m[2])+"\x00"+html.UnescapeString(m[1])] = true
	}
	for _, sb := range d.Badges {
		loc := r.Locations[sb.Location]
		if have[loc.Name+"\x00"+sb.Number] {
			r.Existing["badges"]++
			continue
		}
		status, body, err := c.postForm(ctx, "/badges", url.Values{"location_id": {loc.ID}, "number": {sb.Number}})
		if err != nil {
			return fmt.Errorf("seed badge %s: %w", sb.Number, err)
		}
		switch {
		case status == http.StatusSeeOther:
			r.Created["badges"]++
		case status == http.StatusUnprocessableEntity && strings.Contains(body, "exists"):
			r.Existing["badges"]++
		default:
			return fmt.Errorf("seed badge %s: the console answered %d", sb.Number, status)
		}
	}
	return nil
}
