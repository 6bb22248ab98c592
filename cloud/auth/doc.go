// Package auth is the cloud's side of Hub single sign-on (DESIGN.md §3,
// "Hub SSO" and "Permissions"): it verifies Hub tokens against Hub's JWKS,
// consumes each token id once in the database, checks the login-CSRF
// state, creates and ends server-side sessions, carries the signed-in
// session through a request's context, decides whether a session may make
// a call, and registers the product's permissions with Hub at start-up.
//
// The package knows no web framework: it works on net/http requests,
// responses and cookies, and the web layer (cloud/web) turns its results
// into redirects, pages and JSON.
//
// The sign-in flow:
//
//  1. A console request without a session: Service.BeginLogin sets a
//     short-lived HttpOnly pre-login cookie holding a random state and
//     returns {HUB_URL}/login?redirect=visitor&state=S.
//  2. Hub sends the browser to /auth/hub/callback?token=T&state=S.
//     Service.Callback verifies the signature and claims, then consumes
//     the jti atomically in the database, then checks the state against
//     the cookie and the token's nonce. A refusal is a *Refusal naming the
//     reason and is recorded as auth.login_failed; success creates the
//     session (auth.hub_sso_login in the same transaction), sets its
//     cookie and returns the clean path to 303 to.
//  3. Service.Logout deletes the session row, so the session ends on every
//     instance at once.
package auth
