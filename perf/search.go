package perf

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"runtime"
	"time"

	"github.com/google/uuid"

	"github.com/theonestack/visitor"
	"github.com/theonestack/visitor/cloud/integration"
	"github.com/theonestack/visitor/cloud/store"
)

var (
	firstNames = []string{"Ada", "Grace", "Alan", "José", "Marie", "Linus", "Barbara", "Edsger", "Katherine", "Dennis", "Frances", "Ken", "Hedy", "Niklaus", "Radia", "Tim"}
	lastNames  = []string{"Lovelace", "Hopper", "Turing", "Álvarez", "Curie", "Torvalds", "Liskov", "Dijkstra", "Johnson", "Ritchie", "Allen", "Thompson", "Lamarr", "Wirth", "Perlman", "Berners-Lee"}
	companies  = []string{"Initech", "Globex", "Umbrella", "Hooli", "Vandelay", "Stark", "Wayne", "Acme", "Soylent", "Cyberdyne"}
)

var system = store.Actor{Type: store.ActorSystem, ID: "bench"}

// seedVisits imports n visits spread over tenants (one location each),
// in batches, with a deterministic random source.
func seedVisits(ctx context.Context, db *store.DB, n, tenants int, when func(i int) time.Time) ([]string, error) {
	r := rand.New(rand.NewPCG(1, 2))
	locs := make([]string, tenants)
	tenantIDs := make([]string, tenants)
	for t := range tenants {
		tenantIDs[t] = fmt.Sprintf("org_bench_%03d", t)
		if err := db.EnsureTenant(ctx, tenantIDs[t], tenantIDs[t]); err != nil {
			return nil, err
		}
		l, err := db.CreateLocation(ctx, tenantIDs[t], visitor.Location{Name: fmt.Sprintf("Site %d", t), Address: "1 Main St", Timezone: "UTC"}, system)
		if err != nil {
			return nil, err
		}
		locs[t] = l.ID
	}
	const batch = 5000
	for start := 0; start < n; start += batch {
		byTenant := map[int][]visitor.Visit{}
		for i := start; i < min(start+batch, n); i++ {
			t := i % tenants
			first, last := firstNames[r.IntN(len(firstNames))], lastNames[r.IntN(len(lastNames))]
			at := when(i)
			byTenant[t] = append(byTenant[t], visitor.Visit{
				ID: uuid.Must(uuid.NewV7()).String(), LocationID: locs[t],
				Visitor:     visitor.Person{Name: first + " " + last, Email: fmt.Sprintf("%s.%s.%d@example.com", first, last, i), Company: companies[r.IntN(len(companies))]},
				CheckedInAt: at, Status: visitor.VisitCheckedIn,
			})
		}
		for t, vs := range byTenant {
			if _, err := db.ImportVisits(ctx, tenantIDs[t], vs, system); err != nil {
				return nil, err
			}
		}
	}
	return tenantIDs, nil
}

// Search measures the search provider's p99 latency through its HTTP
// handler over SearchVisits visits in SearchTenants tenants.
func Search(ctx context.Context, db *store.DB, size Size) ([]Result, error) {
	seedStart := time.Now()
	base := time.Now().Add(-24 * time.Hour)
	tenants, err := seedVisits(ctx, db, size.SearchVisits, size.SearchTenants, func(i int) time.Time { return base.Add(time.Duration(i) * time.Millisecond) })
	if err != nil {
		return nil, err
	}
	seeded := time.Since(seedStart)
	key := "bench-platform-key-0123456789abcdef"
	h := integration.New(db, integration.Options{PlatformKey: key, Rate: 1e9, Burst: 1e9})
	queries := []string{"ada", "jos", "hop", "init", "marie cur", "glob", "t", "lamarr", "ken th", "zzz"}
	r := rand.New(rand.NewPCG(3, 4))
	var lat []time.Duration
	for i := 0; i < size.SearchQueries; i++ {
		q := queries[r.IntN(len(queries))]
		req := httptest.NewRequest(http.MethodGet, "/api/search?q="+urlQuery(q)+"&tenant_id="+tenants[r.IntN(len(tenants))], nil)
		req.Header.Set("X-Integration-Key", key)
		rec := httptest.NewRecorder()
		start := time.Now()
		h.ServeHTTP(rec, req)
		lat = append(lat, time.Since(start))
		if rec.Code != http.StatusOK {
			return nil, fmt.Errorf("search %q: %d %s", q, rec.Code, rec.Body)
		}
	}
	return []Result{
		{"search_p99_ms", percentile(lat, 99), "ms"},
		{"search_p50_ms", percentile(lat, 50), "ms"},
		{"search_corpus_visits", float64(size.SearchVisits), "visits"},
		{"search_seed_s", seeded.Seconds(), "s"},
	}, nil
}

func urlQuery(s string) string {
	out := []byte{}
	for _, b := range []byte(s) {
		if b == ' ' {
			out = append(out, '+')
		} else {
			out = append(out, b)
		}
	}
	return string(out)
}

// VisitorsToday measures streaming TodayVisits visits of today through
// the visitors-today endpoint, and the heap growth while it streams.
func VisitorsToday(ctx context.Context, db *store.DB, size Size) ([]Result, error) {
	now := time.Now().UTC()
	day := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.UTC)
	span := now.Sub(day)
	if _, err := seedVisits(ctx, db, size.TodayVisits, 1, func(i int) time.Time {
		return day.Add(time.Duration(int64(span) * int64(i) / int64(size.TodayVisits)))
	}); err != nil {
		return nil, err
	}
	key := "bench-platform-key-0123456789abcdef"
	h := integration.New(db, integration.Options{PlatformKey: key})
	srv := httptest.NewServer(h)
	defer srv.Close()
	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	peak := before.HeapInuse
	stop := make(chan struct{})
	sampled := make(chan uint64)
	go func() {
		var m runtime.MemStats
		for {
			select {
			case <-stop:
				sampled <- peak
				return
			case <-time.After(5 * time.Millisecond):
				runtime.ReadMemStats(&m)
				peak = max(peak, m.HeapInuse)
			}
		}
	}()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+"/api/integration/visitors-today", nil)
	req.Header.Set("X-Integration-Key", key)
	start := time.Now()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		close(stop)
		<-sampled
		return nil, err
	}
	n, err := countVisits(resp)
	elapsed := time.Since(start)
	close(stop)
	peakHeap := <-sampled
	if err != nil {
		return nil, err
	}
	if n < size.TodayVisits {
		return nil, fmt.Errorf("visitors-today streamed %d visits, want %d", n, size.TodayVisits)
	}
	return []Result{
		{"visitors_today_100k_s", elapsed.Seconds() * 100_000 / float64(size.TodayVisits), "s"},
		{"visitors_today_heap_growth_mib", float64(peakHeap-min(peakHeap, before.HeapInuse)) / (1 << 20), "MiB"},
	}, nil
}
