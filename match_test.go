package httproute

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/util/validation/field"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
)

// TestCompareCandidatesTiers checks every precedence tier of the one
// comparator: for each tier, a candidate that wins that tier wins overall
// even when it loses every later tier.
func TestCompareCandidatesTiers(t *testing.T) {
	old := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
	young := old.Add(time.Hour)
	// loser is the same in every case: it wins every tier; each case's
	// winner beats it in exactly one tier and ties all tiers before it.
	mk := func(host string, kind pathKind, plen int, method bool, headers, query int, created time.Time, ns, name string, ruleIdx, matchIdx int) *candidate {
		m := &routeMatch{kind: kind, pathLen: plen}
		if method {
			m.method = "GET"
		}
		m.headers = make([]headerMatcher, headers)
		m.query = make([]queryMatcher, query)
		r := &compiledRoute{namespace: ns, name: name, key: ns + "/" + name, created: created}
		return &candidate{host: rankHost(host), match: m, rule: &rule{route: r, index: ruleIdx}, matchIndex: matchIdx}
	}
	tests := []struct {
		name   string
		winner *candidate
		loser  *candidate
	}{
		{"non-wildcard hostname characters",
			mk("a.example.com", pathPrefix, 1, false, 0, 0, young, "z", "z", 9, 9),
			mk("*.example.com", pathExact, 99, true, 9, 9, old, "a", "a", 0, 0)},
		{"hostname characters",
			mk("*.a.example.com", pathPrefix, 1, false, 0, 0, young, "z", "z", 9, 9),
			mk("*.example.com", pathExact, 99, true, 9, 9, old, "a", "a", 0, 0)},
		{"exact path over regular expression",
			mk("x.com", pathExact, 1, false, 0, 0, young, "z", "z", 9, 9),
			mk("x.com", pathRegex, 99, true, 9, 9, old, "a", "a", 0, 0)},
		{"regular expression over prefix",
			mk("x.com", pathRegex, 1, false, 0, 0, young, "z", "z", 9, 9),
			mk("x.com", pathPrefix, 99, true, 9, 9, old, "a", "a", 0, 0)},
		{"longest prefix",
			mk("x.com", pathPrefix, 10, false, 0, 0, young, "z", "z", 9, 9),
			mk("x.com", pathPrefix, 9, true, 9, 9, old, "a", "a", 0, 0)},
		{"method match",
			mk("x.com", pathPrefix, 5, true, 0, 0, young, "z", "z", 9, 9),
			mk("x.com", pathPrefix, 5, false, 9, 9, old, "a", "a", 0, 0)},
		{"most header matches",
			mk("x.com", pathPrefix, 5, true, 3, 0, young, "z", "z", 9, 9),
			mk("x.com", pathPrefix, 5, true, 2, 9, old, "a", "a", 0, 0)},
		{"most query matches",
			mk("x.com", pathPrefix, 5, true, 3, 2, young, "z", "z", 9, 9),
			mk("x.com", pathPrefix, 5, true, 3, 1, old, "a", "a", 0, 0)},
		{"oldest route",
			mk("x.com", pathPrefix, 5, true, 3, 2, old, "z", "z", 9, 9),
			mk("x.com", pathPrefix, 5, true, 3, 2, young, "a", "a", 0, 0)},
		{"namespace first in order",
			mk("x.com", pathPrefix, 5, true, 3, 2, old, "a", "z", 9, 9),
			mk("x.com", pathPrefix, 5, true, 3, 2, old, "b", "a", 0, 0)},
		{"name first in order",
			mk("x.com", pathPrefix, 5, true, 3, 2, old, "a", "a", 9, 9),
			mk("x.com", pathPrefix, 5, true, 3, 2, old, "a", "b", 0, 0)},
		{"namespace/name compared as one string",
			mk("x.com", pathPrefix, 5, true, 3, 2, old, "a-b", "c", 9, 9),
			mk("x.com", pathPrefix, 5, true, 3, 2, old, "a", "z", 0, 0)},
		{"first rule",
			mk("x.com", pathPrefix, 5, true, 3, 2, old, "a", "a", 1, 9),
			mk("x.com", pathPrefix, 5, true, 3, 2, old, "a", "a", 2, 0)},
		{"first match",
			mk("x.com", pathPrefix, 5, true, 3, 2, old, "a", "a", 1, 0),
			mk("x.com", pathPrefix, 5, true, 3, 2, old, "a", "a", 1, 1)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { checkPrecedence(t, tt.winner, tt.loser) })
	}
}

// checkPrecedence checks that compareCandidates puts winner before loser,
// whichever comes first, and ties winner with itself.
func checkPrecedence(t *testing.T, winner, loser *candidate) {
	t.Helper()
	if got := compareCandidates(winner, loser); got >= 0 {
		t.Errorf("compare(winner, loser) = %d, want < 0", got)
	}
	if got := compareCandidates(loser, winner); got <= 0 {
		t.Errorf("compare(loser, winner) = %d, want > 0", got)
	}
	if got := compareCandidates(winner, winner); got != 0 {
		t.Errorf("compare(winner, winner) = %d, want 0", got)
	}
}

func TestRouteMatchMatches(t *testing.T) {
	exact, regex := gatewayv1.HeaderMatchExact, gatewayv1.HeaderMatchRegularExpression
	qexact, qregex := gatewayv1.QueryParamMatchExact, gatewayv1.QueryParamMatchRegularExpression
	get := gatewayv1.HTTPMethodGet
	tests := []struct {
		name   string
		match  gatewayv1.HTTPRouteMatch
		method string
		target string
		header http.Header
		want   bool
		reason string
	}{
		{name: "method matches", match: gatewayv1.HTTPRouteMatch{Method: &get}, method: "GET", target: "/", want: true},
		{name: "method differs", match: gatewayv1.HTTPRouteMatch{Method: &get}, method: "POST", target: "/", want: false},
		{name: "header exact", match: gatewayv1.HTTPRouteMatch{Headers: []gatewayv1.HTTPHeaderMatch{{Name: "user", Value: "me"}}},
			target: "/", header: http.Header{"User": {"me"}}, want: true, reason: "names are case-insensitive"},
		{name: "header exact is case-sensitive on the value", match: gatewayv1.HTTPRouteMatch{Headers: []gatewayv1.HTTPHeaderMatch{{Name: "user", Value: "me"}}},
			target: "/", header: http.Header{"User": {"Me"}}, want: false},
		{name: "header missing", match: gatewayv1.HTTPRouteMatch{Headers: []gatewayv1.HTTPHeaderMatch{{Name: "user", Value: "me"}}},
			target: "/", want: false},
		{name: "header empty value does not equal missing", match: gatewayv1.HTTPRouteMatch{Headers: []gatewayv1.HTTPHeaderMatch{{Name: "user", Value: "me"}}},
			target: "/", header: http.Header{"User": {""}}, want: false},
		{name: "repeated header joined by comma", match: gatewayv1.HTTPRouteMatch{Headers: []gatewayv1.HTTPHeaderMatch{{Name: "x", Value: "a,b"}}},
			target: "/", header: http.Header{"X": {"a", "b"}}, want: true},
		{name: "repeated header is not any-of", match: gatewayv1.HTTPRouteMatch{Headers: []gatewayv1.HTTPHeaderMatch{{Name: "x", Value: "a"}}},
			target: "/", header: http.Header{"X": {"a", "b"}}, want: false},
		{name: "header regex whole value", match: gatewayv1.HTTPRouteMatch{Headers: []gatewayv1.HTTPHeaderMatch{{Type: &regex, Name: "v", Value: "v[0-9]"}}},
			target: "/", header: http.Header{"V": {"v2x"}}, want: false, reason: "regular expressions match the whole value"},
		{name: "header regex matches", match: gatewayv1.HTTPRouteMatch{Headers: []gatewayv1.HTTPHeaderMatch{{Type: &regex, Name: "v", Value: "v[0-9]"}}},
			target: "/", header: http.Header{"V": {"v2"}}, want: true},
		{name: "only the first of equivalent header names counts", match: gatewayv1.HTTPRouteMatch{Headers: []gatewayv1.HTTPHeaderMatch{
			{Type: &exact, Name: "x", Value: "1"}, {Type: &exact, Name: "X", Value: "2"}}},
			target: "/", header: http.Header{"X": {"1"}}, want: true},
		{name: "Host header", match: gatewayv1.HTTPRouteMatch{Headers: []gatewayv1.HTTPHeaderMatch{{Name: "host", Value: "example.com"}}},
			target: "/", want: true},
		{name: "query exact", match: gatewayv1.HTTPRouteMatch{QueryParams: []gatewayv1.HTTPQueryParamMatch{{Type: &qexact, Name: "version", Value: "2"}}},
			target: "/?version=2", want: true},
		{name: "query name is case-sensitive", match: gatewayv1.HTTPRouteMatch{QueryParams: []gatewayv1.HTTPQueryParamMatch{{Name: "version", Value: "2"}}},
			target: "/?Version=2", want: false},
		{name: "query first value wins", match: gatewayv1.HTTPRouteMatch{QueryParams: []gatewayv1.HTTPQueryParamMatch{{Name: "v", Value: "2"}}},
			target: "/?v=1&v=2", want: false, reason: "the spec recommends matching the first value"},
		{name: "query decoded", match: gatewayv1.HTTPRouteMatch{QueryParams: []gatewayv1.HTTPQueryParamMatch{{Name: "q", Value: "a b"}}},
			target: "/?q=a+b", want: true},
		{name: "query percent-decoded", match: gatewayv1.HTTPRouteMatch{QueryParams: []gatewayv1.HTTPQueryParamMatch{{Name: "q", Value: "a/b"}}},
			target: "/?q=a%2Fb", want: true},
		{name: "query regex", match: gatewayv1.HTTPRouteMatch{QueryParams: []gatewayv1.HTTPQueryParamMatch{{Type: &qregex, Name: "q", Value: "a.b"}}},
			target: "/?q=a%20b", want: true},
		{name: "query missing", match: gatewayv1.HTTPRouteMatch{QueryParams: []gatewayv1.HTTPQueryParamMatch{{Name: "q", Value: "x"}}},
			target: "/?qq=x", want: false},
		{name: "query bad escape", match: gatewayv1.HTTPRouteMatch{QueryParams: []gatewayv1.HTTPQueryParamMatch{{Name: "q", Value: "x"}}},
			target: "/?q=%zz", want: false},
		{name: "everything ANDed", match: gatewayv1.HTTPRouteMatch{Method: &get,
			Headers:     []gatewayv1.HTTPHeaderMatch{{Name: "user", Value: "me"}},
			QueryParams: []gatewayv1.HTTPQueryParamMatch{{Name: "v", Value: "2"}}},
			method: "GET", target: "/?v=2", header: http.Header{"User": {"me"}}, want: true},
		{name: "one condition fails the AND", match: gatewayv1.HTTPRouteMatch{Method: &get,
			Headers:     []gatewayv1.HTTPHeaderMatch{{Name: "user", Value: "me"}},
			QueryParams: []gatewayv1.HTTPQueryParamMatch{{Name: "v", Value: "2"}}},
			method: "GET", target: "/?v=3", header: http.Header{"User": {"me"}}, want: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, fe := compileMatch(&tt.match, field.NewPath("match"))
			if fe != nil {
				t.Fatal(fe)
			}
			method := tt.method
			if method == "" {
				method = "GET"
			}
			r := httptest.NewRequest(method, "http://example.com"+tt.target, nil)
			for k, v := range tt.header {
				r.Header[k] = v
			}
			if got := m.matches(r, r.URL.Path); got != tt.want {
				t.Errorf("matches = %v, want %v %s", got, tt.want, tt.reason)
			}
		})
	}
}

func TestCompileMatchErrors(t *testing.T) {
	bad := gatewayv1.PathMatchType("Glob")
	re := gatewayv1.PathMatchRegularExpression
	exact := gatewayv1.PathMatchExact
	method := gatewayv1.HTTPMethod("BREW")
	tests := []struct {
		name  string
		match gatewayv1.HTTPRouteMatch
		want  string
	}{
		{"unknown path type", gatewayv1.HTTPRouteMatch{Path: &gatewayv1.HTTPPathMatch{Type: &bad, Value: ptr("/")}},
			`m.path.type: Unsupported value: "Glob": supported values: "Exact", "PathPrefix", "RegularExpression"`},
		{"regex RE2 cannot compile", gatewayv1.HTTPRouteMatch{Path: &gatewayv1.HTTPPathMatch{Type: &re, Value: ptr("/(?=x)")}},
			"m.path.value: Invalid value: \"/(?=x)\": invalid RE2 regular expression: error parsing regexp: invalid or unsupported Perl syntax: `(?=`"},
		{"relative path", gatewayv1.HTTPRouteMatch{Path: &gatewayv1.HTTPPathMatch{Type: &exact, Value: ptr("foo")}},
			`m.path.value: Invalid value: "foo": value must be an absolute path and start with '/' when type one of ['Exact', 'PathPrefix']`},
		{"double slash", gatewayv1.HTTPRouteMatch{Path: &gatewayv1.HTTPPathMatch{Value: ptr("/a//b")}},
			`m.path.value: Invalid value: "/a//b": must not contain '//' when type one of ['Exact', 'PathPrefix']`},
		{"bad character", gatewayv1.HTTPRouteMatch{Path: &gatewayv1.HTTPPathMatch{Value: ptr("/a b")}},
			`m.path.value: Invalid value: "/a b": must only contain valid characters (matching ^(?:[-A-Za-z0-9/._~!$&'()*+,;=:@]|[%][0-9a-fA-F]{2})+$) for types ['Exact', 'PathPrefix']`},
		{"regex escaping its anchors", gatewayv1.HTTPRouteMatch{Path: &gatewayv1.HTTPPathMatch{Type: &re, Value: ptr("/admin)|(.*")}},
			"m.path.value: Invalid value: \"/admin)|(.*\": invalid RE2 regular expression: error parsing regexp: unexpected ): `/admin)|(.*`"},
		{"header regex escaping its anchors", gatewayv1.HTTPRouteMatch{Headers: []gatewayv1.HTTPHeaderMatch{{Type: ptr(gatewayv1.HeaderMatchRegularExpression), Name: "x", Value: "a)|(.*"}}},
			"m.headers[0].value: Invalid value: \"a)|(.*\": invalid RE2 regular expression: error parsing regexp: unexpected ): `a)|(.*`"},
		{"unknown method", gatewayv1.HTTPRouteMatch{Method: &method},
			`m.method: Unsupported value: "BREW": supported values: "GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH"`},
		{"bad header name", gatewayv1.HTTPRouteMatch{Headers: []gatewayv1.HTTPHeaderMatch{{Name: "a:b", Value: "x"}}},
			`m.headers[0].name: Invalid value: "a:b": must be a valid HTTP header name`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, fe := compileMatch(&tt.match, field.NewPath("m"))
			if fe == nil {
				t.Fatal("no error")
			}
			if fe.Error() != tt.want {
				t.Errorf("error\n got: %s\nwant: %s", fe.Error(), tt.want)
			}
		})
	}
}

func TestEqualJoined(t *testing.T) {
	tests := []struct {
		vals []string
		want string
		ok   bool
	}{
		{[]string{"a", "b"}, "a,b", true},
		{[]string{"a", "b"}, "a,b,", false},
		{[]string{"a", "b"}, "ab", false},
		{[]string{"", ""}, ",", true},
		{[]string{"a"}, "a", true},
		{[]string{"a,b", "c"}, "a,b,c", true},
	}
	for _, tt := range tests {
		if got := equalJoined(tt.vals, tt.want); got != tt.ok {
			t.Errorf("equalJoined(%q, %q) = %v, want %v", tt.vals, tt.want, got, tt.ok)
		}
	}
}

func TestEqualUnescaped(t *testing.T) {
	tests := []struct {
		s, plain string
		want     bool
	}{
		{"abc", "abc", true},
		{"a+b", "a b", true},
		{"a%20b", "a b", true},
		{"a%2", "a%2", false},
		{"%zz", "%zz", false},
		{"%41", "A", true},
		{"%41", "a", false},
		{"a%20", "a ", true},
		{"a%20", "a", false},
	}
	for _, tt := range tests {
		if got := equalUnescaped(tt.s, tt.plain); got != tt.want {
			t.Errorf("equalUnescaped(%q, %q) = %v, want %v", tt.s, tt.plain, got, tt.want)
		}
	}
}

func TestCleanPath(t *testing.T) {
	tests := map[string]string{
		"":             "/",
		"/":            "/",
		"/a/b":         "/a/b",
		"/a/b/":        "/a/b/",
		"/a//b":        "/a/b",
		"//":           "/",
		"/a/./b":       "/a/b",
		"/a/../b":      "/b",
		"/../../etc":   "/etc",
		"/a/b/..":      "/a/",
		"/a/b/.":       "/a/b/",
		"/a/%2e%2e/b":  "/b",
		"/a/%2E/b":     "/a/b",
		"/a%2eb":       "/a.b",
		"/status/200/": "/status/200/",
	}
	for in, want := range tests {
		if got := cleanPath(in); got != want {
			t.Errorf("cleanPath(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestMatchPathDoesNotAllocate proves the match path (listener, hostname,
// path index, conditions) allocates nothing for ordinary requests.
func TestMatchPathDoesNotAllocate(t *testing.T) {
	rt := benchRouter(t, 100)
	req := benchRequest(100)
	tbl := rt.table.Load()
	if c, err := tbl.find(req, cleanPath(req.URL.EscapedPath()), 0, nil); err != nil || c == nil {
		t.Fatalf("find: %v", err)
	}
	allocs := testing.AllocsPerRun(1000, func() {
		_, _ = tbl.find(req, cleanPath(req.URL.EscapedPath()), 0, nil)
	})
	if allocs != 0 {
		t.Fatalf("matching allocated %.1f times per request, want 0", allocs)
	}
}
