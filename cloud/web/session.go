package web

import (
	"errors"
	"fmt"
	"html"
	"net/http"
	"strings"

	"github.com/labstack/echo/v5"

	"github.com/theonestack/visitor"
	"github.com/theonestack/visitor/cloud/auth"
	"github.com/theonestack/visitor/cloud/store"
)

// sessionErrKey holds a store error met while loading the session.
const sessionErrKey = "session_err"

// identity loads the caller's session from its cookie into the request
// context. It never rejects: RequirePermission does.
func (s *Server) identity(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c *echo.Context) error {
		r := c.Request()
		if _, err := r.Cookie(auth.SessionCookie); err == nil {
			sess, ok, err := s.auth.Session(r)
			switch {
			case err != nil:
				c.Set(sessionErrKey, err)
			case ok:
				c.SetRequest(r.WithContext(auth.WithSession(r.Context(), sess)))
			}
		}
		return next(c)
	}
}

// session returns the signed-in session of the request, if any.
func session(c *echo.Context) (*visitor.Session, bool) {
	return auth.SessionFrom(c.Request().Context())
}

// actor is the audit actor of a signed-in request.
func actor(sess *visitor.Session) store.Actor {
	return store.Actor{Type: store.ActorUser, ID: sess.UserID}
}

// requirePermission rejects a request whose session lacks p (anySession:
// any session will do). Without a session, a console page redirects to
// Hub's login and anything else answers 401; a missing permission is 403
// "Access Denied", rendered by the error handler as JSON or HTML.
func (s *Server) requirePermission(p visitor.Permission) echo.MiddlewareFunc {
	need := p
	if p == anySession {
		need = ""
	}
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c *echo.Context) error {
			if err, _ := c.Get(sessionErrKey).(error); err != nil {
				return err
			}
			sess, _ := session(c)
			err := auth.Allow(sess, need)
			if err == nil {
				return next(c)
			}
			r := c.Request()
			if sess == nil && wantsHTML(r) && (r.Method == http.MethodGet || r.Method == http.MethodHead) {
				return s.redirectToLogin(c, r.URL.RequestURI())
			}
			return err
		}
	}
}

// route registers a protected route: the handler runs behind
// requirePermission(p), and p is recorded in s.perms for the route-table
// test and the permission matrix.
func (s *Server) route(method, path string, p visitor.Permission, h echo.HandlerFunc) {
	s.e.Add(method, path, h, s.requirePermission(p))
	s.perms[method+" "+path] = p
}

func (s *Server) redirectToLogin(c *echo.Context, returnTo string) error {
	u, err := s.auth.BeginLogin(c.Response(), returnTo)
	if err != nil {
		return fmt.Errorf("begin login: %w", err)
	}
	c.Response().Header().Set("Cache-Control", "no-store")
	return c.Redirect(http.StatusFound, u)
}

// login is GET /auth/login?return=PATH: start a sign-in explicitly (the
// "Sign in again" link of refusal pages).
func (s *Server) login(c *echo.Context) error {
	return s.redirectToLogin(c, c.QueryParam("return"))
}

// callback is GET /auth/hub/callback?token=T&state=S. A refusal answers
// 401 with a page naming the reason and never redirects; success answers
// 303 to a clean local URL, so the token leaves the address bar.
func (s *Server) callback(c *echo.Context) error {
	h := c.Response().Header()
	h.Set("Cache-Control", "no-store")
	h.Set("Referrer-Policy", "no-referrer")
	to, err := s.auth.Callback(c.Response(), c.Request())
	if err != nil {
		var ref *auth.Refusal
		if !errors.As(err, &ref) {
			return err
		}
		return c.HTML(http.StatusUnauthorized, refusalPage(ref))
	}
	return c.Redirect(http.StatusSeeOther, to)
}

// logout is POST /auth/logout: the session ends on every instance.
func (s *Server) logout(c *echo.Context) error {
	if err := s.auth.Logout(c.Response(), c.Request()); err != nil {
		return err
	}
	if wantsHTML(c.Request()) && !strings.Contains(c.Request().Header.Get("Accept"), "application/json") {
		return c.HTML(http.StatusOK, signedOutPage)
	}
	return c.NoContent(http.StatusNoContent)
}

// crossOriginDenied answers a refused cross-site write.
func (s *Server) crossOriginDenied(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	if wantsHTML(r) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.WriteHeader(http.StatusForbidden)
		fmt.Fprint(w, errorPage(http.StatusForbidden, "Cross-site request refused."))
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusForbidden)
	fmt.Fprint(w, `{"error":"forbidden","message":"Access Denied"}`+"\n")
}

// refusalPage names why a sign-in was refused; its title is the reason's
// pinned text ("Token already used", "No account found") or "Sign-in refused".
func refusalPage(r *auth.Refusal) string {
	title := "Sign-in refused"
	switch r.Reason {
	case auth.ReasonReplayed, auth.ReasonNoOrg:
		title = r.Message
	}
	body := r.Message
	if r.Reason == auth.ReasonReplayed {
		body = "Token already used. This sign-in link has been used before; sign in again to get a new one."
	}
	if r.Reason == auth.ReasonNoOrg {
		body = "No account found. Your Hub user belongs to no organisation with access to The One Visitor."
	}
	return fmt.Sprintf(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>%s · The One Visitor</title></head>
<body><main><h1>%s</h1><p>%s</p><p class="reason">Reason: <code>%s</code></p>
<p><a href="/auth/login">Sign in again</a></p></main></body></html>`,
		html.EscapeString(title), html.EscapeString(title), html.EscapeString(body), html.EscapeString(r.Reason))
}

const signedOutPage = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Signed out · The One Visitor</title></head>
<body><main><h1>Signed out</h1><p><a href="/">Sign in again</a></p></main></body></html>`
