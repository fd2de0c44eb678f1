package httproute_test

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/httproute/httproute"
)

// simpleRoute is a route in "default" sending prefix to one Service port 80.
func simpleRoute(name, prefix, service string) *gatewayv1.HTTPRoute {
	return &gatewayv1.HTTPRoute{
		ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: name},
		Spec: gatewayv1.HTTPRouteSpec{Rules: []gatewayv1.HTTPRouteRule{{
			Matches: []gatewayv1.HTTPRouteMatch{{Path: &gatewayv1.HTTPPathMatch{Value: ptr(prefix)}}},
			BackendRefs: []gatewayv1.HTTPBackendRef{{BackendRef: gatewayv1.BackendRef{
				BackendObjectReference: gatewayv1.BackendObjectReference{Name: gatewayv1.ObjectName(service), Port: ptr(gatewayv1.PortNumber(80))}}}},
		}}},
	}
}

func named(name string) httproute.Backend {
	return httproute.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, name)
	}))
}

func serve(h http.Handler, target string) (int, string) {
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", target, nil))
	return rec.Code, rec.Body.String()
}

func TestZeroRouterAnswers404(t *testing.T) {
	var rt httproute.Router
	if code, _ := serve(&rt, "http://x/"); code != 404 {
		t.Fatalf("zero Router answered %d, want 404", code)
	}
	if _, ok := rt.Lookup(httptest.NewRequest("GET", "/", nil)); ok {
		t.Fatal("zero Router Lookup matched")
	}
	if st := rt.Status(); len(st.HTTPRoutes) != 0 {
		t.Fatalf("zero Router status = %+v", st)
	}
	empty, err := httproute.New(httproute.Config{})
	if err != nil {
		t.Fatal(err)
	}
	if code, _ := serve(empty, "http://x/"); code != 404 {
		t.Fatalf("empty Router answered %d, want 404", code)
	}
}

func TestUpdateUnderParallelRequests(t *testing.T) {
	cfgA := httproute.Config{
		HTTPRoutes: []*gatewayv1.HTTPRoute{simpleRoute("r", "/", "a")},
		Services:   httproute.Services{{Namespace: "default", Name: "a", Port: 80}: named("a")},
	}
	cfgB := httproute.Config{
		HTTPRoutes: []*gatewayv1.HTTPRoute{simpleRoute("r", "/", "b")},
		Services:   httproute.Services{{Namespace: "default", Name: "b", Port: 80}: named("b")},
	}
	rt, err := httproute.New(cfgA)
	if err != nil {
		t.Fatal(err)
	}
	var stop atomic.Bool
	var served atomic.Int64
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !stop.Load() {
				code, body := serve(rt, "http://x/p")
				if code != 200 || (body != "a" && body != "b") {
					t.Errorf("answer during Update: %d %q", code, body)
					return
				}
				served.Add(1)
			}
		}()
	}
	// Swap tables until the readers have served plenty of requests
	// across the swaps (at least 200 swaps, ending on table B).
	for i := 0; i < 200 || served.Load() < 2000 || i%2 == 1; i++ {
		cfg := cfgA
		if i%2 == 1 {
			cfg = cfgB
		}
		if err := rt.Update(cfg); err != nil {
			t.Fatal(err)
		}
		if i > 1e6 {
			t.Fatal("readers made no progress")
		}
	}
	stop.Store(true)
	wg.Wait()
	if code, body := serve(rt, "http://x/p"); code != 200 || body != "b" {
		t.Errorf("after the last Update: %d %q, want the last table (b)", code, body)
	}
}

func TestInFlightRequestFinishesOnItsTable(t *testing.T) {
	entered, release := make(chan struct{}), make(chan struct{})
	slow := httproute.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(entered)
		<-release
		io.WriteString(w, "old table")
	}))
	rt, err := httproute.New(httproute.Config{
		HTTPRoutes: []*gatewayv1.HTTPRoute{simpleRoute("r", "/", "slow")},
		Services:   httproute.Services{{Namespace: "default", Name: "slow", Port: 80}: slow},
	})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan string)
	go func() {
		_, body := serve(rt, "http://x/")
		done <- body
	}()
	<-entered
	if err := rt.Update(httproute.Config{}); err != nil {
		t.Fatal(err)
	}
	if code, _ := serve(rt, "http://x/"); code != 404 {
		t.Fatalf("new request after Update answered %d, want 404", code)
	}
	close(release)
	if body := <-done; body != "old table" {
		t.Fatalf("in-flight request answered %q", body)
	}
}

func TestFailedUpdateKeepsServing(t *testing.T) {
	good := httproute.Config{
		HTTPRoutes: []*gatewayv1.HTTPRoute{simpleRoute("r", "/", "a")},
		Services:   httproute.Services{{Namespace: "default", Name: "a", Port: 80}: named("a")},
	}
	rt, err := httproute.New(good)
	if err != nil {
		t.Fatal(err)
	}
	bad := good
	bad.HTTPRoutes = []*gatewayv1.HTTPRoute{simpleRoute("r", "/", "a"), simpleRoute("r", "/x", "a")}
	err = rt.Update(bad)
	if err == nil || !strings.Contains(err.Error(), "HTTPRoute default/r appears twice") {
		t.Fatalf("Update with a duplicate route: %v", err)
	}
	if code, body := serve(rt, "http://x/"); code != 200 || body != "a" {
		t.Fatalf("after a failed Update: %d %q, want the old table", code, body)
	}
	nilRoute := good
	nilRoute.HTTPRoutes = []*gatewayv1.HTTPRoute{nil}
	if err := rt.Update(nilRoute); err == nil {
		t.Fatal("Update with a nil route must fail")
	}
}

func TestStrictReportsEveryProblem(t *testing.T) {
	badPath := simpleRoute("bad", "relative", "a")
	missing := simpleRoute("missing", "/", "nope")
	cfg := httproute.Config{
		HTTPRoutes: []*gatewayv1.HTTPRoute{badPath, missing},
		Services:   httproute.Services{{Namespace: "default", Name: "a", Port: 80}: named("a")},
	}
	// Lenient: served around, reported in Status.
	if _, err := httproute.New(cfg); err != nil {
		t.Fatalf("lenient New: %v", err)
	}
	cfg.Strict = true
	_, err := httproute.New(cfg)
	if err == nil {
		t.Fatal("strict New accepted invalid routes")
	}
	want := []string{
		`httproute default/bad: spec.rules[0].matches[0].path.value: Invalid value: "relative": value must be an absolute path and start with '/' when type one of ['Exact', 'PathPrefix']`,
		`httproute default/missing: spec.rules[0].backendRefs[0].name: Invalid value: "nope": service default/nope port 80: httproute: object not found`,
	}
	if got := err.Error(); got != strings.Join(want, "\n") {
		t.Fatalf("error:\n%s\nwant:\n%s", got, strings.Join(want, "\n"))
	}
	var e *httproute.Error
	if !errors.As(err, &e) || e.Kind != "HTTPRoute" || e.Reason != "UnsupportedValue" {
		t.Fatalf("errors.As: %+v", e)
	}
	if !errors.Is(err, httproute.ErrNotFound) {
		t.Fatal("errors.Is(err, ErrNotFound) = false for a missing backend")
	}
}

func TestContextCarriesMatchAndBackend(t *testing.T) {
	var m *httproute.Match
	var b *httproute.BackendChoice
	h := httproute.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		m = httproute.MatchFromContext(r.Context())
		b = httproute.BackendFromContext(r.Context())
	}))
	rt, err := httproute.New(httproute.Config{
		HTTPRoutes: []*gatewayv1.HTTPRoute{simpleRoute("r", "/api", "svc")},
		Services:   httproute.Services{{Namespace: "default", Name: "svc", Port: 80}: h},
	})
	if err != nil {
		t.Fatal(err)
	}
	serve(rt, "http://x/api/v1")
	if m == nil || m.Route.Name != "r" || m.PathValue != "/api" || b == nil || b.Ref.Name != "svc" {
		t.Fatalf("context: match %+v backend %+v", m, b)
	}
	if httproute.MatchFromContext(t.Context()) != nil || httproute.BackendFromContext(t.Context()) != nil {
		t.Fatal("a context that did not come through a Router must report nothing")
	}
}

func TestPathIsCleanedBeforeMatchingAndForwarding(t *testing.T) {
	var got string
	h := httproute.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { got = r.URL.Path }))
	rt, err := httproute.New(httproute.Config{
		HTTPRoutes: []*gatewayv1.HTTPRoute{simpleRoute("public", "/public", "svc")},
		Services:   httproute.Services{{Namespace: "default", Name: "svc", Port: 80}: h},
	})
	if err != nil {
		t.Fatal(err)
	}
	req := httptest.NewRequest("GET", "http://x/", nil)
	req.URL.Path = "/public/../admin"
	rec := httptest.NewRecorder()
	rt.ServeHTTP(rec, req)
	if rec.Code != 404 {
		t.Fatalf("/public/../admin answered %d (reached %q): dot segments must be resolved before matching", rec.Code, got)
	}
	req.URL.Path = "/public//./x"
	rt.ServeHTTP(httptest.NewRecorder(), req)
	if got != "/public/x" {
		t.Fatalf("backend saw %q, want the cleaned path", got)
	}
}
