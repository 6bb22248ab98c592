package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"time"
)

// apiClient calls the cloud's JSON API (and a few console forms) with the
// session cookie of a signed-in user.
type apiClient struct {
	base string
	hc   *http.Client // cookie jar, redirects not followed
}

// newSessionClient returns an HTTP client with a cookie jar that does not
// follow redirects, so each step of the sign-in can be checked.
func newSessionClient() *http.Client {
	jar, _ := cookiejar.New(nil) // never fails without options
	return &http.Client{
		Jar:     jar,
		Timeout: 15 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
}

// signIn signs user in to the cloud at cloudURL through the development
// Hub's scripted login, the way a browser does: the cloud's /auth/login
// sets the pre-login cookie and sends us to Hub with a state; Hub (with
// &user=) sends us back to the callback with a token; the callback sets
// the session cookie in hc's jar.
func signIn(ctx context.Context, hc *http.Client, cloudURL, user string) error {
	loc, err := redirect(ctx, hc, cloudURL+"/auth/login", http.StatusFound, http.StatusSeeOther)
	if err != nil {
		return fmt.Errorf("sign in: cloud login: %w", err)
	}
	hubLogin, err := url.Parse(loc)
	if err != nil {
		return fmt.Errorf("sign in: hub login URL: %w", err)
	}
	q := hubLogin.Query()
	q.Set("user", user)
	hubLogin.RawQuery = q.Encode()
	callback, err := redirect(ctx, hc, hubLogin.String(), http.StatusFound)
	if err != nil {
		return fmt.Errorf("sign in: hub: %w", err)
	}
	if _, err := redirect(ctx, hc, callback, http.StatusSeeOther); err != nil {
		return fmt.Errorf("sign in: callback: %w", err)
	}
	return nil
}

// redirect GETs u and returns the Location of a redirect with one of the
// wanted statuses.
func redirect(ctx context.Context, hc *http.Client, u string, want ...int) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return "", err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	for _, w := range want {
		if resp.StatusCode == w {
			loc, err := resp.Location()
			if err != nil {
				return "", fmt.Errorf("%s: %d without Location: %w", u, resp.StatusCode, err)
			}
			return loc.String(), nil
		}
	}
	return "", fmt.Errorf("%s answered %d, want a redirect: %s", redact(u), resp.StatusCode, strings.TrimSpace(string(body)))
}

// redact drops the query of a URL (it may carry a token) for messages.
func redact(u string) string {
	if i := strings.IndexByte(u, '?'); i >= 0 {
		return u[:i]
	}
	return u
}

// apiError is a non-2xx answer of the JSON API.
type apiError struct {
	Method, Path string
	Status       int
	Code         string `json:"error"`
	Message      string `json:"message"`
}

func (e *apiError) Error() string {
	return fmt.Sprintf("%s %s: %d %s: %s", e.Method, e.Path, e.Status, e.Code, e.Message)
}

// call sends a JSON request (body nil for none) and decodes a 2xx answer
// into out (nil to discard). Other answers are *apiError.
func call(ctx context.Context, hc *http.Client, method, u string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return fmt.Errorf("encode %s %s: %w", method, u, err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := hc.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, redact(u), err)
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		e := &apiError{Method: method, Path: redact(u), Status: resp.StatusCode}
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 8192))
		if json.Unmarshal(b, e) != nil {
			e.Message = strings.TrimSpace(string(b))
		}
		return e
	}
	if out == nil {
		_, _ = io.Copy(io.Discard, resp.Body)
		return nil
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return fmt.Errorf("decode %s %s: %w", method, redact(u), err)
	}
	return nil
}

func (c *apiClient) call(ctx context.Context, method, path string, body, out any) error {
	return call(ctx, c.hc, method, c.base+path, body, out)
}

// listAll reads every page of a JSON list ({"<key>": [...], "next_cursor"}).
func listAll[T any](ctx context.Context, c *apiClient, path, key string) ([]T, error) {
	var all []T
	cursor := ""
	for page := 0; page < 1000; page++ { // bounded: 1000 pages of 1000
		sep := "?"
		if strings.Contains(path, "?") {
			sep = "&"
		}
		u := path + sep + "limit=1000"
		if cursor != "" {
			u += "&cursor=" + url.QueryEscape(cursor)
		}
		var raw map[string]json.RawMessage
		if err := c.call(ctx, http.MethodGet, u, nil, &raw); err != nil {
			return nil, err
		}
		var items []T
		if err := json.Unmarshal(raw[key], &items); err != nil {
			return nil, fmt.Errorf("decode %s: %w", path, err)
		}
		all = append(all, items...)
		var next string
		if n, ok := raw["next_cursor"]; ok {
			if err := json.Unmarshal(n, &next); err != nil {
				return nil, fmt.Errorf("decode %s cursor: %w", path, err)
			}
		}
		if next == "" {
			return all, nil
		}
		cursor = next
	}
	return nil, fmt.Errorf("list %s: too many pages", path)
}

// postForm posts a console form and returns the status and body.
func (c *apiClient) postForm(ctx context.Context, path string, form url.Values) (int, string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base+path, strings.NewReader(form.Encode()))
	if err != nil {
		return 0, "", err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := c.hc.Do(req)
	if err != nil {
		return 0, "", fmt.Errorf("POST %s: %w", path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return resp.StatusCode, string(b), nil
}

// getPage GETs a console page and returns its HTML.
func (c *apiClient) getPage(ctx context.Context, path string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+path, nil)
	if err != nil {
		return "", err
	}
	req.Header.Set("Accept", "text/html")
	resp, err := c.hc.Do(req)
	if err != nil {
		return "", fmt.Errorf("GET %s: %w", path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("GET %s: %d", path, resp.StatusCode)
	}
	return string(b), nil
}
