package httproute

import (
	"fmt"
	"math/rand/v2"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
)

// regexRoutes returns one route on one hostname with a RegularExpression
// rule per pattern.
func regexRoutes(host string, patterns ...string) []*gatewayv1.HTTPRoute {
	re := gatewayv1.PathMatchRegularExpression
	r := &gatewayv1.HTTPRoute{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "regexes"}}
	if host != "" {
		r.Spec.Hostnames = []gatewayv1.Hostname{gatewayv1.Hostname(host)}
	}
	for _, p := range patterns {
		r.Spec.Rules = append(r.Spec.Rules, gatewayv1.HTTPRouteRule{
			Matches: []gatewayv1.HTTPRouteMatch{{Path: &gatewayv1.HTTPPathMatch{Type: &re, Value: ptr(p)}}},
		})
	}
	return []*gatewayv1.HTTPRoute{r}
}

// svcPatterns are n patterns with distinct literal prefixes "/svcN/v".
func svcPatterns(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("/svc%d/v[0-9]+/items/.*", i)
	}
	return out
}

func implicitPathIndex(t testing.TB, rt *Router, host string) *pathIndex {
	t.Helper()
	g := rt.table.Load().all.listenerFor(host)
	if g == nil {
		t.Fatal("no listener")
	}
	pi := g.hosts.exact[host]
	if host == "" {
		pi = g.hosts.any
	}
	if pi == nil {
		t.Fatal("no path index for the host")
	}
	return pi
}

// TestRegexIndexRunsOnlyExpressionsWithTheRequestsLiteralPrefix: among
// 1,000 expressions with distinct literal prefixes, a request runs the
// one its path starts with (and those without a literal prefix).
func TestRegexIndexRunsOnlyExpressionsWithTheRequestsLiteralPrefix(t *testing.T) {
	rt, err := New(Config{HTTPRoutes: regexRoutes("api.example.com", append(svcPatterns(1000), ".*/v0/.*")...), Strict: true})
	if err != nil {
		t.Fatal(err)
	}
	pi := implicitPathIndex(t, rt, "api.example.com")
	var ran []string
	pi.regex.each("/svc500/v2/items/7", func(c *candidate) bool {
		ran = append(ran, c.match.path)
		return false
	})
	if diff := cmp.Diff([]string{"/svc500/v[0-9]+/items/.*", ".*/v0/.*"}, ran); diff != "" {
		t.Errorf("expressions run (-want +got):\n%s", diff)
	}
	req := httptest.NewRequest("GET", "http://api.example.com/svc500/v2/items/7", nil)
	if m, ok := rt.Lookup(req); !ok || m.Rule != 500 {
		t.Errorf("Lookup = %+v, %v; want rule 500", m, ok)
	}
}

// TestRegexIndexKeepsPrecedence: the expressions a request runs come in
// precedence order, whatever their literal prefixes, compared with a scan
// of the sorted list on random pattern sets.
func TestRegexIndexKeepsPrecedence(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	parts := []string{"/a", "/ab", "/ab/c", "/b", "", "/a/b/c/d"}
	tails := []string{".*", "/.*", "[0-9]*", "(/x)?", ".*z{3}", "/c.*"}
	for round := 0; round < 200; round++ {
		var patterns []string
		for i := rng.IntN(12) + 1; i > 0; i-- {
			patterns = append(patterns, parts[rng.IntN(len(parts))]+tails[rng.IntN(len(tails))])
		}
		rt, err := New(Config{HTTPRoutes: regexRoutes("", patterns...)})
		if err != nil {
			t.Fatal(err)
		}
		pi := implicitPathIndex(t, rt, "")
		for _, path := range []string{"/", "/a", "/ab/c/zzz", "/a/b/c/d/e", "/b/c", "/abc", "/x/c/zzz"} {
			var want, got []*candidate
			for _, c := range pi.regex.list {
				if strings.HasPrefix(path, c.match.literal) {
					want = append(want, c)
				}
			}
			pi.regex.each(path, func(c *candidate) bool {
				got = append(got, c)
				return false
			})
			if !cmp.Equal(want, got, cmp.Comparer(func(a, b *candidate) bool { return a == b })) {
				t.Fatalf("patterns %q, path %q: each visited %d candidates out of order or not those with the literal prefix (want %d)",
					patterns, path, len(got), len(want))
			}
		}
	}
}

func TestLiteralPrefix(t *testing.T) {
	checkMapping(t, "literalPrefix", literalPrefix, map[string]string{
		"/api/v[0-9]+/internal/.*": "/api/v",
		"/ab?":                     "/a",
		".*/v0/.*":                 "",
		"(?i)/admin":               "/",
		"(?i)admin":                "",
		"/a|/b":                    "/",
		"^/x":                      "/x",
		"/x(":                      "",
	})
}

// BenchmarkRegexTable measures a request matched by a RegularExpression
// rule among n with distinct literal prefixes on one hostname. The
// 1,000-route cost must stay within 3x of the 10-route cost.
func BenchmarkRegexTable(b *testing.B) {
	for _, n := range []int{10, 1000} {
		b.Run(fmt.Sprintf("routes=%d", n), func(b *testing.B) {
			rt, err := New(Config{HTTPRoutes: regexRoutes("api.example.com", svcPatterns(n)...), Strict: true})
			if err != nil {
				b.Fatal(err)
			}
			req := httptest.NewRequest("GET", fmt.Sprintf("http://api.example.com/svc%d/v2/items/7", n/2), nil)
			tbl := rt.table.Load()
			path := cleanPath(req.URL.EscapedPath())
			if c, err := tbl.find(req, path, 0, nil); err != nil || c.rule.index != n/2 {
				b.Fatalf("matched %v, %v; want rule %d", c, err, n/2)
			}
			b.ReportAllocs()
			for b.Loop() {
				_, _ = tbl.find(req, path, 0, nil)
			}
		})
	}
}

// BenchmarkNormalizePath measures the path check of ServeHTTP and Lookup
// (pathPolicy.check: the path as sent, its length, its normal form).
func BenchmarkNormalizePath(b *testing.B) {
	for _, tc := range []struct{ name, target string }{
		{"normal", "/api/v1/svc50/items/7"},
		{"normal with escapes", "/api/v1/a%3Bb/x%20y"},
		{"escaped unreserved", "/api/v1/%73vc50/items/7"},
		{"dot segments and slashes", "//api/v1/./svc50/../svc50//items/7"},
	} {
		b.Run(tc.name, func(b *testing.B) {
			req := httptest.NewRequest("GET", tc.target, nil)
			var pp pathPolicy
			b.ReportAllocs()
			for b.Loop() {
				_, _, _ = pp.check(req.URL)
			}
		})
	}
}
