package web

import (
	"fmt"
	"html"
	"net/http"

	"github.com/labstack/echo/v5"
)

// home is the console's home page: who is signed in, and a logout button.
func (s *Server) home(c *echo.Context) error {
	sess, _ := session(c)
	c.Response().Header().Set("Cache-Control", "no-store")
	return c.HTML(http.StatusOK, fmt.Sprintf(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>The One Visitor</title></head>
<body><header><h1>The One Visitor</h1>
<p id="whoami">Signed in as %s (%s)</p>
<form method="post" action="/auth/logout"><button type="submit" id="logout">Log out</button></form>
</header></body></html>`, html.EscapeString(sess.Name), html.EscapeString(tenantLabel(sess.TenantName, sess.TenantID))))
}

func tenantLabel(name, id string) string {
	if name != "" {
		return name
	}
	return id
}
