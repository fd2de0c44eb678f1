package httproute_test

import (
	"fmt"
	"math/rand/v2"
	"net/http/httptest"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/httproute/httproute"
	"github.com/httproute/httproute/internal/linear"
)

// choices turns fuzz bytes into a stream of small decisions.
type choices struct {
	b []byte
	i int
}

func (c *choices) n(max int) int {
	if c.i >= len(c.b) {
		return 0
	}
	v := int(c.b[c.i]) % max
	c.i++
	return v
}

func pick[T any](c *choices, xs ...T) T { return xs[c.n(len(xs))] }

var (
	fuzzSegments = []string{"a", "b", "ab", "api", "v1", "v2", "x%20y", "%41", "%61", "%2e", "x%3by"}
	fuzzHosts    = []string{"foo.example.com", "*.example.com", "bar.foo.example.com", "*.foo.example.com", "example.com", "other.net"}
	fuzzRegexes  = []string{"/a/.*", "/[ab]+", "/api/v[0-9]+/.*", ".*", "/ab?", "/v2(/.*)?", "/ap.*", "/api/.*", "(?i)/A.*", "/a|/b/.*"}
	fuzzMethods  = []gatewayv1.HTTPMethod{"GET", "POST", "PUT"}
	fuzzHeaders  = []string{"x-a", "X-B", "user"}
	fuzzValues   = []string{"1", "2", "me", "a b"}
)

func fuzzPath(c *choices) string {
	p := ""
	for i := c.n(4); i > 0; i-- {
		p += "/" + pick(c, fuzzSegments...)
	}
	if p == "" || c.n(4) == 0 {
		p += "/"
	}
	return p
}

func genRoutes(c *choices) []*gatewayv1.HTTPRoute {
	var routes []*gatewayv1.HTTPRoute
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for ri := c.n(6) + 1; ri > 0; ri-- {
		hr := &gatewayv1.HTTPRoute{ObjectMeta: metav1.ObjectMeta{
			Namespace:         pick(c, "default", "web"),
			Name:              fmt.Sprintf("r%d", len(routes)),
			CreationTimestamp: metav1.NewTime(base.Add(time.Duration(c.n(3)) * time.Hour)),
		}}
		for hi := c.n(3); hi > 0; hi-- {
			hr.Spec.Hostnames = append(hr.Spec.Hostnames, gatewayv1.Hostname(pick(c, fuzzHosts...)))
		}
		for rl := c.n(3) + 1; rl > 0; rl-- {
			var rule gatewayv1.HTTPRouteRule
			for mi := c.n(3); mi > 0; mi-- {
				var m gatewayv1.HTTPRouteMatch
				switch c.n(4) {
				case 0:
				case 1:
					m.Path = &gatewayv1.HTTPPathMatch{Type: ptr(gatewayv1.PathMatchExact), Value: ptr(fuzzPath(c))}
				case 2:
					m.Path = &gatewayv1.HTTPPathMatch{Type: ptr(gatewayv1.PathMatchPathPrefix), Value: ptr(fuzzPath(c))}
				case 3:
					m.Path = &gatewayv1.HTTPPathMatch{Type: ptr(gatewayv1.PathMatchRegularExpression), Value: ptr(pick(c, fuzzRegexes...))}
				}
				if c.n(3) == 0 {
					m.Method = ptr(pick(c, fuzzMethods...))
				}
				for hi := c.n(3); hi > 0; hi-- {
					hm := gatewayv1.HTTPHeaderMatch{Name: gatewayv1.HTTPHeaderName(pick(c, fuzzHeaders...)), Value: pick(c, fuzzValues...)}
					if c.n(4) == 0 {
						hm.Type = ptr(gatewayv1.HeaderMatchRegularExpression)
						hm.Value = "[12]"
					}
					m.Headers = append(m.Headers, hm)
				}
				for qi := c.n(3); qi > 0; qi-- {
					m.QueryParams = append(m.QueryParams, gatewayv1.HTTPQueryParamMatch{
						Name: gatewayv1.HTTPHeaderName(pick(c, "v", "q")), Value: pick(c, fuzzValues...)})
				}
				rule.Matches = append(rule.Matches, m)
			}
			hr.Spec.Rules = append(hr.Spec.Rules, rule)
		}
		routes = append(routes, hr)
	}
	return routes
}

func genRequestTarget(c *choices) (method, host, target string, headers [][2]string) {
	method = string(pick(c, fuzzMethods...))
	host = pick(c, "foo.example.com", "bar.foo.example.com", "x.bar.foo.example.com", "example.com", "FOO.example.com:8080", "other.net", "zzz.example.com.")
	target = fuzzPath(c)
	if c.n(5) == 0 {
		target += "/../" + pick(c, fuzzSegments...)
	}
	if c.n(2) == 0 {
		target += "?" + pick(c, "v=1", "v=2&v=1", "q=me&v=a+b", "v=a%20b", "x=1", "q=2")
	}
	for hi := c.n(3); hi > 0; hi-- {
		headers = append(headers, [2]string{pick(c, fuzzHeaders...), pick(c, fuzzValues...)})
	}
	return method, host, target, headers
}

func ptr[T any](v T) *T { return &v }

// checkIndexAgainstLinear builds a Router from generated routes and checks
// that its index picks what the naive reference picks for generated
// requests.
func checkIndexAgainstLinear(t *testing.T, cfgBytes, reqBytes []byte) {
	t.Helper()
	routes := genRoutes(&choices{b: cfgBytes})
	rt, err := httproute.New(httproute.Config{HTTPRoutes: routes})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	rc := &choices{b: reqBytes}
	for i := 0; i < 8; i++ {
		method, host, target, headers := genRequestTarget(rc)
		req := httptest.NewRequest(method, "http://placeholder"+target, nil)
		req.Host = host
		for _, h := range headers {
			req.Header.Add(h[0], h[1])
		}
		want, wantOK := linear.Find(routes, req)
		m, gotOK := rt.Lookup(req)
		var got linear.Result
		if gotOK {
			got = linear.Result{Namespace: m.Route.Namespace, Name: m.Route.Name, Rule: m.Rule, Match: m.MatchIndex}
		}
		if gotOK != wantOK || got != want {
			t.Fatalf("%s %s%s %v:\nindex:  %+v (ok=%v)\nlinear: %+v (ok=%v)\nroutes: %s",
				method, host, target, headers, got, gotOK, want, wantOK, dumpRoutes(routes))
		}
	}
}

func dumpRoutes(routes []*gatewayv1.HTTPRoute) string {
	s := ""
	for _, r := range routes {
		s += fmt.Sprintf("\n%s/%s created=%s hosts=%v", r.Namespace, r.Name, r.CreationTimestamp.Format(time.Kitchen), r.Spec.Hostnames)
		for i, rule := range r.Spec.Rules {
			for j, m := range rule.Matches {
				s += fmt.Sprintf("\n  rule %d match %d: ", i, j)
				if m.Path != nil {
					s += fmt.Sprintf("%s %s ", *m.Path.Type, *m.Path.Value)
				}
				if m.Method != nil {
					s += string(*m.Method) + " "
				}
				for _, h := range m.Headers {
					s += fmt.Sprintf("h[%s=%s] ", h.Name, h.Value)
				}
				for _, q := range m.QueryParams {
					s += fmt.Sprintf("q[%s=%s] ", q.Name, q.Value)
				}
			}
		}
	}
	return s
}

// TestIndexMatchesLinear runs the differential check on a fixed series of
// pseudo-random configurations, so every test run exercises it.
func TestIndexMatchesLinear(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	n := 3000
	if testing.Short() {
		n = 300
	}
	for i := 0; i < n; i++ {
		cfg := make([]byte, 96)
		req := make([]byte, 96)
		for j := range cfg {
			cfg[j] = byte(rng.Uint32())
			req[j] = byte(rng.Uint32())
		}
		checkIndexAgainstLinear(t, cfg, req)
	}
}

func FuzzIndexMatchesLinear(f *testing.F) {
	f.Add([]byte{3, 1, 2, 2, 1, 0, 1, 2, 3}, []byte{0, 1, 2, 3, 4, 5})
	f.Add([]byte{5, 0, 0, 2, 2, 2, 1, 1, 1, 3, 3, 3}, []byte{1, 1, 1, 0, 0, 0})
	f.Fuzz(checkIndexAgainstLinear)
}
