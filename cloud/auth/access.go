package auth

import (
	"context"

	"github.com/theonestack/visitor"
)

type sessionKey struct{}

// WithSession returns ctx carrying the signed-in session s.
func WithSession(ctx context.Context, s visitor.Session) context.Context {
	return context.WithValue(ctx, sessionKey{}, &s)
}

// SessionFrom returns the session WithSession put in ctx, if any.
func SessionFrom(ctx context.Context) (*visitor.Session, bool) {
	s, ok := ctx.Value(sessionKey{}).(*visitor.Session)
	return s, ok && s != nil
}

// Allow decides whether session s may make a call that needs permission
// p: nil when it may, an EUNAUTHORIZED error without a session, EFORBIDDEN
// ("Access Denied") when the session lacks p. p == "" admits every
// session.
func Allow(s *visitor.Session, p visitor.Permission) error {
	if s == nil {
		return visitor.Errorf(visitor.EUNAUTHORIZED, "Sign in to continue.")
	}
	if p == "" || s.Has(p) {
		return nil
	}
	return visitor.Errorf(visitor.EFORBIDDEN, "Access Denied")
}
