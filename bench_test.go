package httproute

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
)

// benchRoutes returns n routes spread over n/10 hostnames, each with an
// Exact rule, a PathPrefix rule with a header match and a plain PathPrefix
// rule, plus a catch-all route: a realistic gateway's shape.
func benchRoutes(n int) []*gatewayv1.HTTPRoute {
	hosts := max(1, n/10)
	exact, prefix := gatewayv1.PathMatchExact, gatewayv1.PathMatchPathPrefix
	routes := make([]*gatewayv1.HTTPRoute, 0, n+1)
	for i := 0; i < n; i++ {
		svc := fmt.Sprintf("/api/v1/svc%d", i)
		routes = append(routes, &gatewayv1.HTTPRoute{
			ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: fmt.Sprintf("route-%d", i)},
			Spec: gatewayv1.HTTPRouteSpec{
				Hostnames: []gatewayv1.Hostname{gatewayv1.Hostname(fmt.Sprintf("host-%d.example.com", i%hosts))},
				Rules: []gatewayv1.HTTPRouteRule{
					{Matches: []gatewayv1.HTTPRouteMatch{{Path: &gatewayv1.HTTPPathMatch{Type: &exact, Value: ptr(svc + "/status")}}}},
					{Matches: []gatewayv1.HTTPRouteMatch{{
						Path:    &gatewayv1.HTTPPathMatch{Type: &prefix, Value: ptr(svc)},
						Headers: []gatewayv1.HTTPHeaderMatch{{Name: "x-version", Value: "2"}},
					}}},
					{Matches: []gatewayv1.HTTPRouteMatch{{Path: &gatewayv1.HTTPPathMatch{Type: &prefix, Value: ptr(svc)}}}},
				},
			},
		})
	}
	routes = append(routes, &gatewayv1.HTTPRoute{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "catch-all"}})
	return routes
}

// benchRequest targets the header rule of a route in the middle of the
// set.
func benchRequest(n int) *http.Request {
	target := n / 2
	hosts := max(1, n/10)
	req := httptest.NewRequest("GET", fmt.Sprintf("http://host-%d.example.com/api/v1/svc%d/items/7?debug=1", target%hosts, target), nil)
	req.Header.Set("X-Version", "2")
	req.Header.Set("User-Agent", "bench")
	req.Header.Set("Accept", "*/*")
	return req
}

func benchRouter(tb testing.TB, n int) *Router {
	tb.Helper()
	rt, err := New(Config{HTTPRoutes: benchRoutes(n)})
	if err != nil {
		tb.Fatal(err)
	}
	return rt
}

// BenchmarkMatch measures finding the rule for a request (listener,
// hostname, path index and conditions) at several table sizes. The cost
// must stay flat as routes are added: 0 allocations, and the 10,000-route
// cost within 1.5x of the 10-route cost.
func BenchmarkMatch(b *testing.B) {
	for _, n := range []int{10, 1000, 10000} {
		b.Run(fmt.Sprintf("routes=%d", n), func(b *testing.B) {
			rt := benchRouter(b, n)
			req := benchRequest(n)
			tbl := rt.table.Load()
			c, err := tbl.find(req, cleanPath(req.URL.EscapedPath()), 0, nil)
			if err != nil || c.rule.index != 1 {
				b.Fatalf("benchmark request matched %v, %v; want rule 1", c, err)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				_, _ = tbl.find(req, cleanPath(req.URL.EscapedPath()), 0, nil)
			}
		})
	}
}
