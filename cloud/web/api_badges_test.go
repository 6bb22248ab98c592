package web_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/theonestack/visitor"
	"github.com/theonestack/visitor/cloud/store"
	"github.com/theonestack/visitor/cloud/store/storetest"
)

func TestBadgesAPI(t *testing.T) {
	storetest.Each(t, func(t *testing.T, engine storetest.Engine) {
		s, db := newServer(t, engine)
		ctx := context.Background()
		sess := sessionWith(t, db, []visitor.Permission{visitor.PermBadgesManage})
		loc, err := db.CreateLocation(ctx, "org_acme", visitor.Location{Name: "HQ", Timezone: "UTC"}, store.System)
		if err != nil {
			t.Fatal(err)
		}
		post := func(body string) *httptest.ResponseRecorder {
			req := httptest.NewRequest(http.MethodPost, "/api/v1/badges", strings.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			req.AddCookie(sess)
			rec := httptest.NewRecorder()
			s.Handler().ServeHTTP(rec, req)
			return rec
		}
		for _, tt := range []struct {
			body string
			want int
		}{
			{`{"location_id":"` + loc.ID + `","number":"B-001"}`, http.StatusCreated},
			{`{"location_id":"` + loc.ID + `","number":"B-002"}`, http.StatusCreated},
			{`{"location_id":"` + loc.ID + `","number":"B-001"}`, http.StatusConflict},
			{`{"location_id":"` + loc.ID + `","number":""}`, http.StatusBadRequest},
			{`{"number":"B-003"}`, http.StatusBadRequest},
			{`{"location_id":"nowhere","number":"B-003"}`, http.StatusNotFound},
		} {
			if rec := post(tt.body); rec.Code != tt.want {
				t.Errorf("POST %s = %d %s, want %d", tt.body, rec.Code, rec.Body, tt.want)
			}
		}
		rec := do(t, s.Handler(), http.MethodGet, "/api/v1/badges?location_id="+loc.ID, nil, sess)
		var body struct {
			Badges []visitor.Badge `json:"badges"`
			Next   *string         `json:"next_cursor"`
		}
		if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil || rec.Code != 200 {
			t.Fatalf("GET = %d %s", rec.Code, rec.Body)
		}
		if len(body.Badges) != 2 || body.Badges[0].Status != visitor.BadgeAvailable || body.Next == nil {
			t.Errorf("badges = %+v", body)
		}
	})
}
