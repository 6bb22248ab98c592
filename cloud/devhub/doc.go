// Package devhub is the development stand-in for Hub and the Bus that The
// One Visitor runs and is tested against on one machine. It follows the Hub
// side of the outside contract (DESIGN.md §3): SSO login with signed tokens
// and a JWKS, the permission registry, the billing usage receiver, the Bus
// event sink, and the Hub Bar that calls Visitor's search provider. The
// command is cloud/cmd/visitor-devhub; other packages' tests embed a Hub
// with httptest. Open the listeners first, so the Hub's public URL (and so
// its issuer, the cloud's HUB_ISSUER) and the cloud's URL are both known:
//
//	ln, _ := net.Listen("tcp", "127.0.0.1:0")
//	hubURL := "http://" + ln.Addr().String()
//	hub, err := devhub.New(devhub.Config{PublicURL: hubURL, VisitorURL: cloudURL}, devhub.Options{})
//	defer hub.Close()
//	srv := &httptest.Server{Listener: ln, Config: &http.Server{Handler: hub.Handler()}}
//	srv.Start()
//
// The cloud then runs with HUB_URL = hubURL (HUB_ISSUER defaults to it), and
// a test logs in with GET {hubURL}/login?redirect=visitor&state=S&user=u_admin
// or crafts tokens with hub.IssueToken.
//
// All state is in memory; a Hub is safe for concurrent use.
//
// # Endpoints
//
// Hub (contract):
//
//   - GET /login?redirect=visitor&state=S shows a user picker (a form that
//     posts back to /login and answers 303 to the callback). With
//     &user=USER_ID it answers 302 straight to
//     {VISITOR_URL}/auth/hub/callback?token=T&state=S. An unknown redirect,
//     or a missing state, answers 400.
//   - GET /.well-known/jwks.json: every live public key, each with kid, alg
//     and use "sig" (OKP/Ed25519 with x, or RSA with n and e).
//   - PUT /api/hub/products/visitor/permissions with X-Integration-Key:
//     body {"permissions":[{"key","description"}]}; keys must look like
//     visitor.area.action, no repeats, a description each. 200.
//   - POST /api/hub/billing/usage/report with X-Integration-Key and
//     Idempotency-Key (equal to the body's idempotency_key, else 400).
//     Product "visitor", metric "active_locations", integer quantity ≥ 0,
//     period YYYY-MM, as_of RFC 3339; unknown fields are refused. The first
//     report with a key answers 201 and is kept; a repeat answers 409
//     {"error":"duplicate","report":ORIGINAL} and is counted.
//
// When Config.HubIntegrationKey is set, a missing or wrong
// X-Integration-Key on /api/hub/* answers 401 (compared in constant time).
//
// Bus (contract): POST /api/bus/events with "Authorization: Bearer KEY"
// (when Config.BusSDKKey is set, else 401) and Content-Type
// application/cloudevents-batch+json (else 415). The body is a non-empty
// JSON array of CloudEvents 1.0: specversion "1.0", id, source and type are
// required, attribute names are lower-case alphanumeric, time is RFC 3339.
// For the four Visitor types (visitor.checked_in, visitor.checked_out,
// auth.hub_sso_login, auth.login_failed) the Bus also checks the pinned
// shape: source "visitor", time, subject, datacontenttype application/json,
// data a JSON object, tenantid (optional only for auth.login_failed), and
// the subject equal to data.visit_id (visit events) or data.user_id (SSO
// login). A batch is all or nothing: one invalid event answers 400 naming
// its index and id, and nothing is stored. An accepted batch answers 202
// {"accepted","new","duplicates"}; events are stored once per id, and each
// further delivery of an id is counted (ReceivedEvent.Deliveries). Each new
// event is forwarded asynchronously to every subscriber as one structured
// CloudEvent (Content-Type application/cloudevents+json) with
// X-Integration-Key set to Config.VisitorIntegrationKey, retried on network
// errors, 408, 429 and 5xx (Options.ForwardAttempts, doubling backoff).
//
// Hub Bar: GET / is a home page with links; GET /hub-bar?q=&tenant_id=
// shows a search box and, with q, calls
// {VISITOR_URL}/api/search?q=&tenant_id= with X-Integration-Key set to
// Config.VisitorIntegrationKey and renders the visitors and locations. A
// failed search answers 502 with the reason on the page.
//
// Development endpoints (no authentication; bind to loopback):
//
//   - GET /api/devhub/events[?type=][&tenantid=][&subject=]:
//     {"events":[ReceivedEvent…],"stats":BusStats}
//   - GET /api/devhub/billing: {"reports":[UsageReport…],"duplicates":{KEY:N}}
//   - GET /api/devhub/permissions: the registry plus "missing" (which of
//     the twelve Visitor permissions are not registered)
//   - GET /api/devhub/users: the fixture
//   - POST /api/devhub/rotate-keys[?alg=EdDSA|RS256]: new signing key;
//     the previous one stays in the JWKS for Config.KeyGrace
//   - GET, POST, DELETE /api/devhub/faults: POST sets the fields present
//     and keeps the others; DELETE clears all. Fields: bus_status (400–599)
//     with bus_count (answer the next N Bus posts with that status; 0 or
//     absent = until cleared), reject_event_ids (a batch containing one of
//     them answers 400 {"error":"rejected","event_id":ID} and nothing of it
//     is stored, because the Bus answers per request: the publisher must
//     isolate the poison event to deliver the rest), hub_down (/api/hub/*
//     answers 503).
//   - GET, POST /api/devhub/subscribers: {"url": …} adds a forwarding
//     target for events first received from then on.
//   - POST /api/devhub/reset: forget events, reports, permissions, faults.
//
// # Tokens
//
// A JWS compact JWT with header alg (EdDSA or RS256), kid and typ "JWT";
// claims iss (Config.Issuer), aud ["visitor"], sub, jti (128 random bits),
// iat, nbf (= iat), exp (iat + Config.TokenLifetime, at most 5 minutes),
// name, email, role, org_id and org_name (omitted for a user in no org),
// visitor_permissions (array of keys) and nonce (= state). Keys rotate every
// Config.KeyRotation (0: never), checked against the injected clock whenever
// a token is signed or the JWKS is served, and on POST
// /api/devhub/rotate-keys. IssueToken lets a test mutate claims and header
// before signing; SigningKey exposes the current private key for crafting
// hostile tokens.
//
// # Fixture file
//
// Config.FixturesPath (DEVHUB_FIXTURES) names a JSON file; without it the
// built-in DefaultFixture is used: u_admin (all twelve permissions),
// u_reception and u_security in org_acme "Acme Corp", u_globex_admin (all
// permissions) in org_globex "Globex Corporation", and u_noorg in no org.
//
//	{
//	  "orgs": [
//	    {"id": "org_acme", "name": "Acme Corp"}
//	  ],
//	  "users": [
//	    {"id": "u_admin", "name": "Ada Admin", "email": "admin@acme.example",
//	     "role": "admin", "org_id": "org_acme", "permissions": ["*"]},
//	    {"id": "u_desk", "name": "Dee Desk", "email": "desk@acme.example",
//	     "role": "receptionist", "org_id": "org_acme",
//	     "permissions": ["visitor.visitors.view", "visitor.visitors.checkin"]},
//	    {"id": "u_guest", "name": "Gil", "email": "gil@example.com",
//	     "role": "member", "permissions": []}
//	  ]
//	}
//
// Rules: unknown fields are refused; org and user ids are required and
// unique; a user's org_id, when present, names an org; email contains "@";
// each permission is one of the twelve Visitor keys, or "*" for all of them.
// A user without org_id gets a token with no org_id or org_name claim.
package devhub
