package devhub

import (
	"net/http"
	"net/url"
)

// RedirectVisitor is the only redirect target the development Hub knows.
const RedirectVisitor = "visitor"

// maxState bounds the state (nonce) the Hub echoes back.
const maxState = 512

// CallbackURL returns the Visitor callback the browser is sent to after a
// login: {VisitorURL}/auth/hub/callback?token=T&state=S.
func (h *Hub) CallbackURL(token, state string) string {
	q := url.Values{"token": {token}, "state": {state}}
	return h.cfg.VisitorURL + "/auth/hub/callback?" + q.Encode()
}

// loginPage is the data of the user picker.
type loginPage struct {
	State    string
	Redirect string
	Users    []pickerUser
	Error    string
}

type pickerUser struct {
	User
	OrgName string
}

// checkLoginParams validates redirect and state, answering 400 itself
// when they are wrong.
func checkLoginParams(w http.ResponseWriter, redirect, state string) bool {
	if redirect != RedirectVisitor {
		http.Error(w, "unknown redirect target (want redirect=visitor)", http.StatusBadRequest)
		return false
	}
	if state == "" || len(state) > maxState {
		http.Error(w, "missing or oversized state", http.StatusBadRequest)
		return false
	}
	return true
}

// handleLoginGet shows the user picker, or with user=ID logs that user in
// at once (302 to the callback).
func (h *Hub) handleLoginGet(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	redirect, state := q.Get("redirect"), q.Get("state")
	if !checkLoginParams(w, redirect, state) {
		return
	}
	if id := q.Get("user"); id != "" {
		h.login(w, r, id, state, http.StatusFound)
		return
	}
	h.render(w, http.StatusOK, "login.html", h.loginPageData(redirect, state, ""))
}

// handleLoginPost is the picker's form submission; it answers 303 so the
// browser follows with a GET.
func (h *Hub) handleLoginPost(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	if err := r.ParseForm(); err != nil {
		http.Error(w, "bad form", http.StatusBadRequest)
		return
	}
	redirect, state := r.PostForm.Get("redirect"), r.PostForm.Get("state")
	if !checkLoginParams(w, redirect, state) {
		return
	}
	h.login(w, r, r.PostForm.Get("user"), state, http.StatusSeeOther)
}

func (h *Hub) loginPageData(redirect, state, msg string) loginPage {
	p := loginPage{State: state, Redirect: redirect, Error: msg}
	for _, u := range h.fixture.Users {
		pu := pickerUser{User: u}
		if o, ok := h.fixture.org(u.OrgID); ok {
			pu.OrgName = o.Name
		}
		p.Users = append(p.Users, pu)
	}
	return p
}

// login issues the token for userID and redirects to the callback.
func (h *Hub) login(w http.ResponseWriter, r *http.Request, userID, state string, status int) {
	if _, ok := h.fixture.user(userID); !ok {
		h.render(w, http.StatusBadRequest, "login.html", h.loginPageData(RedirectVisitor, state, "Unknown user; pick one below."))
		return
	}
	tok, err := h.IssueToken(userID, state, nil)
	if err != nil {
		h.log.Error("issue token", "user_id", userID, "err", err)
		http.Error(w, "could not issue token", http.StatusInternalServerError)
		return
	}
	h.log.Info("hub login", "user_id", userID)
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Referrer-Policy", "no-referrer")
	http.Redirect(w, r, h.CallbackURL(tok, state), status)
}
