package httproute_test

// Spec cases: one row per MUST/SHOULD of the Gateway API v1.7.0 text about
// request handling (apis/v1/httproute_types.go, shared_types.go,
// gateway_types.go), each named after the sentence it checks, paraphrased.
// Where the spec leaves the behaviour to implementations, the row says so in
// its reason and pins what the Router does.

import (
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/httproute/httproute"
	"github.com/httproute/httproute/httproutetest"
)

// TestSpec runs every group of spec cases twice: with the Router and the
// backends in process, and as servers on 127.0.0.1 with the backends
// reached through Upstreams, as in production.
func TestSpec(t *testing.T) {
	groups := []struct {
		name string
		run  func(t *testing.T, loopback bool)
	}{
		{"PathMatching", specPathMatching},
		{"HeaderQueryMethodMatching", specHeaderQueryMethodMatching},
		{"Precedence", specPrecedence},
		{"Hostnames", specHostnames},
		{"HostnameIntersectionPrecedence", specHostnameIntersectionPrecedence},
		{"HeaderModifiers", specHeaderModifiers},
		{"RedirectAndRewrite", specRedirectAndRewrite},
		{"Backends", specBackends},
		{"Listeners", specListeners},
		{"RouteHostnamePrecedence", specRouteHostnamePrecedence},
		{"ResponseHeadersOnRedirect", specResponseHeadersOnRedirect},
		{"InvalidBackendShare", specInvalidBackendShare},
		{"Edges", specEdges},
		{"ListenerPrecedence", specListenerPrecedence},
		{"Timeouts", specTimeouts},
		{"Retries", specRetries},
		{"InvalidRuleDropped", specInvalidRuleDropped},
		{"BackendRefFilters", specBackendRefFilters},
		{"ResponseHeaderModifierOverBackend", specResponseHeaderModifierOverBackend},
	}
	for _, g := range groups {
		t.Run(g.name, func(t *testing.T) {
			t.Run("in-process", func(t *testing.T) { g.run(t, false) })
			t.Run("loopback", func(t *testing.T) { g.run(t, true) })
		})
	}
}

// specEnv builds an Env from manifests validated and defaulted by the
// CRDs, as a cluster would store them; with loopback the Router and the
// backends run as servers on 127.0.0.1.
func specEnv(t *testing.T, loopback bool, opts httproutetest.Options, manifests ...string) *httproutetest.Env {
	t.Helper()
	opts.Network = loopback
	return httproutetest.New(t, opts, manifests...)
}

// specRoute is the HTTPRoute default/name created at created (RFC 3339),
// with spec, YAML indented by two spaces.
func specRoute(name, created, spec string) string {
	return fmt.Sprintf(`apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata:
  name: %s
  namespace: default
  creationTimestamp: %q
spec:
%s`, name, created, spec)
}

// specGateway is the Gateway default/gw with the given listeners (YAML
// list items).
func specGateway(listeners string) string {
	return `apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: gw, namespace: default}
spec:
  gatewayClassName: test
  listeners:
` + listeners
}

// to is the Want of a request the named Service (port 80, namespace
// default) answers with 200.
func to(service string) httproutetest.Want {
	return httproutetest.Want{Status: 200, Backend: "default/" + service + ":80"}
}

// specGet is a GET of path (with its query) on host.
func specGet(host, path string) httproutetest.Request {
	return httproutetest.Request{Host: host, Path: path}
}

// withHeader returns r with the header fields kv (name, value, ...), in
// order, repeated names included.
func withHeader(r httproutetest.Request, kv ...string) httproutetest.Request {
	r.Header = http.Header{}
	for i := 0; i+1 < len(kv); i += 2 {
		r.Header.Add(kv[i], kv[i+1])
	}
	return r
}

func specPathMatching(t *testing.T, loopback bool) {
	env := specEnv(t, loopback, httproutetest.Options{}, specRoute("paths", "2026-01-01T00:00:00Z", `  rules:
  - matches: [{path: {type: Exact, value: /exact}}]
    backendRefs: [{name: exact, port: 80}]
  - matches: [{path: {type: Exact, value: /exact-slash/}}]
    backendRefs: [{name: exact-slash, port: 80}]
  - matches: [{path: {type: PathPrefix, value: /prefix}}]
    backendRefs: [{name: prefix, port: 80}]
  - matches: [{path: {type: PathPrefix, value: /trail/}}]
    backendRefs: [{name: trail, port: 80}]
  - matches: [{path: {type: PathPrefix, value: /a/b}}]
    backendRefs: [{name: ab, port: 80}]
  - matches: [{path: {type: Exact, value: "/enc%20oded"}}]
    backendRefs: [{name: encoded, port: 80}]
  - matches: [{path: {type: RegularExpression, value: "/re/[0-9]+"}}]
    backendRefs: [{name: regex, port: 80}]
  - matches: [{path: {type: Exact, value: /}}]
    backendRefs: [{name: root, port: 80}]
`))
	env.Run(t, []httproutetest.Case{
		// Exact: "Matches the URL path exactly and with case sensitivity."
		{Name: "Exact matches the path itself", Request: specGet("a.com", "/exact"), Want: to("exact")},
		{Name: "Exact ignores the query", Request: specGet("a.com", "/exact?x=1"), Want: to("exact")},
		{Name: "Exact is case-sensitive", Request: specGet("a.com", "/EXACT"), Want: httproutetest.Want{Status: 404}},
		{Name: "Exact does not match a longer path", Request: specGet("a.com", "/exact/x"), Want: httproutetest.Want{Status: 404}},
		{Name: "Exact does not match with an added trailing slash", Request: specGet("a.com", "/exact/"), Want: httproutetest.Want{Status: 404}},
		{Name: "Exact with trailing slash needs it", Request: specGet("a.com", "/exact-slash"), Want: httproutetest.Want{Status: 404}},
		{Name: "Exact with trailing slash matches it", Request: specGet("a.com", "/exact-slash/"), Want: to("exact-slash")},
		{Name: "Exact root matches /", Request: specGet("a.com", "/"), Want: to("root")},
		{Name: "Exact percent-encoded value matches the same escape", Request: specGet("a.com", "/enc%20oded"), Want: to("encoded")},
		// PathPrefix: "element by element ... a trailing / is ignored ...
		// /abc, /abc/ and /abc/def match /abc, /abcd does not."
		{Name: "PathPrefix matches the prefix itself", Request: specGet("a.com", "/prefix"), Want: to("prefix")},
		{Name: "PathPrefix matches the prefix with trailing slash", Request: specGet("a.com", "/prefix/"), Want: to("prefix")},
		{Name: "PathPrefix matches a sub path", Request: specGet("a.com", "/prefix/x/y"), Want: to("prefix")},
		{Name: "PathPrefix does not match within an element", Request: specGet("a.com", "/prefixed"), Want: httproutetest.Want{Status: 404}},
		{Name: "PathPrefix is case-sensitive", Request: specGet("a.com", "/Prefix/x"), Want: httproutetest.Want{Status: 404}},
		{Name: "PathPrefix with trailing slash ignores it for the bare path", Request: specGet("a.com", "/trail"), Want: to("trail")},
		{Name: "PathPrefix with trailing slash matches a sub path", Request: specGet("a.com", "/trail/x"), Want: to("trail")},
		{Name: "PathPrefix with trailing slash does not match within an element", Request: specGet("a.com", "/trailer"), Want: httproutetest.Want{Status: 404}},
		{Name: "PathPrefix of two elements", Request: specGet("a.com", "/a/b/c"), Want: to("ab")},
		{Name: "PathPrefix of two elements not within the second", Request: specGet("a.com", "/a/bc"), Want: httproutetest.Want{Status: 404}},
		{Name: "PathPrefix ignores the query", Request: specGet("a.com", "/prefix?q=/x"), Want: to("prefix")},
		// RegularExpression: implementation-specific dialect (RE2 here),
		// matched against the whole path.
		{Name: "RegularExpression matches the whole path", Request: specGet("a.com", "/re/123"), Want: to("regex")},
		{Name: "RegularExpression is anchored at the end", Request: specGet("a.com", "/re/123/x"), Want: httproutetest.Want{Status: 404}},
		// "When no rules matching a request have been successfully attached
		// to the parent a request is coming from, a HTTP 404 status code MUST
		// be returned."
		{Name: "no rule matches: 404", Request: specGet("a.com", "/nothing"), Want: httproutetest.Want{Status: 404, Backend: "-"}},
	})
}

func specHeaderQueryMethodMatching(t *testing.T, loopback bool) {
	env := specEnv(t, loopback, httproutetest.Options{}, specRoute("hqm", "2026-01-01T00:00:00Z", `  rules:
  - matches: [{path: {value: /h}, headers: [{name: X-Version, value: v1}]}]
    backendRefs: [{name: header-v1, port: 80}]
  - matches: [{path: {value: /h2}, headers: [{name: a, value: "1"}, {name: b, value: "2"}]}]
    backendRefs: [{name: two-headers, port: 80}]
  - matches: [{path: {value: /dup}, headers: [{name: x-dup, value: first}, {name: X-Dup, value: second}]}]
    backendRefs: [{name: dup-header, port: 80}]
  - matches: [{path: {value: /hre}, headers: [{name: x-re, type: RegularExpression, value: "v[0-9]"}]}]
    backendRefs: [{name: header-regex, port: 80}]
  - matches: [{path: {value: /q}, queryParams: [{name: animal, value: whale}]}]
    backendRefs: [{name: query, port: 80}]
  - matches: [{path: {value: /q2}, queryParams: [{name: a, value: "1"}, {name: b, value: "2"}]}]
    backendRefs: [{name: two-queries, port: 80}]
  - matches: [{path: {value: /qre}, queryParams: [{name: id, type: RegularExpression, value: "[0-9]+"}]}]
    backendRefs: [{name: query-regex, port: 80}]
  - matches: [{path: {value: /m}, method: POST}]
    backendRefs: [{name: post, port: 80}]
  - matches: [{path: {value: /or}, headers: [{name: k, value: a}]}, {path: {value: /or}, headers: [{name: k, value: b}]}]
    backendRefs: [{name: ored, port: 80}]
`))
	env.Run(t, []httproutetest.Case{
		// "Name matching MUST be case-insensitive."
		{Name: "header name matches without case", Request: withHeader(specGet("a.com", "/h"), "x-version", "v1"), Want: to("header-v1")},
		{Name: "header value Exact is case-sensitive", Request: withHeader(specGet("a.com", "/h"), "X-Version", "V1"), Want: httproutetest.Want{Status: 404}},
		{Name: "header absent does not match", Request: specGet("a.com", "/h"), Want: httproutetest.Want{Status: 404}},
		// "Multiple match values are ANDed together."
		{Name: "headers are ANDed: both", Request: withHeader(specGet("a.com", "/h2"), "a", "1", "b", "2"), Want: to("two-headers")},
		{Name: "headers are ANDed: one missing", Request: withHeader(specGet("a.com", "/h2"), "a", "1"), Want: httproutetest.Want{Status: 404}},
		// "If multiple entries specify equivalent header names, only the
		// first entry with an equivalent name MUST be considered for a
		// match. Subsequent entries ... MUST be ignored."
		{Name: "equivalent header names: first entry decides", Request: withHeader(specGet("a.com", "/dup"), "X-Dup", "first"), Want: to("dup-header")},
		{Name: "equivalent header names: later entry ignored", Request: withHeader(specGet("a.com", "/dup"), "X-Dup", "second"), Want: httproutetest.Want{Status: 404}},
		// Repeated header: "implementation-specific ... proxies should
		// follow RFC 7230 3.2.2": values joined by ",".
		{Name: "repeated header joined by comma (implementation-specific)", Request: withHeader(specGet("a.com", "/h"), "X-Version", "v1", "X-Version", "v2"), Want: httproutetest.Want{Status: 404}},
		{Name: "header RegularExpression matches", Request: withHeader(specGet("a.com", "/hre"), "X-Re", "v7"), Want: to("header-regex")},
		{Name: "header RegularExpression is anchored (implementation-specific)", Request: withHeader(specGet("a.com", "/hre"), "X-Re", "xv7x"), Want: httproutetest.Want{Status: 404}},
		// Query: "Name ... must be an exact string match."
		{Name: "query param matches", Request: specGet("a.com", "/q?animal=whale"), Want: to("query")},
		{Name: "query param name is case-sensitive", Request: specGet("a.com", "/q?Animal=whale"), Want: httproutetest.Want{Status: 404}},
		{Name: "query param value is case-sensitive", Request: specGet("a.com", "/q?animal=Whale"), Want: httproutetest.Want{Status: 404}},
		{Name: "query param among others", Request: specGet("a.com", "/q?x=1&animal=whale&y=2"), Want: to("query")},
		// "it is recommended that implementations should match against the
		// first value of the param".
		{Name: "repeated query param: first value matches", Request: specGet("a.com", "/q?animal=whale&animal=dolphin"), Want: to("query")},
		{Name: "repeated query param: later value does not", Request: specGet("a.com", "/q?animal=dolphin&animal=whale"), Want: httproutetest.Want{Status: 404}},
		{Name: "query params are ANDed", Request: specGet("a.com", "/q2?a=1"), Want: httproutetest.Want{Status: 404}},
		{Name: "query params are ANDed: both", Request: specGet("a.com", "/q2?b=2&a=1"), Want: to("two-queries")},
		{Name: "query param value percent-decoded", Request: specGet("a.com", "/q?animal=%77hale"), Want: to("query")},
		{Name: "query RegularExpression", Request: specGet("a.com", "/qre?id=42"), Want: to("query-regex")},
		// Method: "this route will be matched only if the request has the
		// specified method."
		{Name: "method matches", Request: httproutetest.Request{Method: "POST", Host: "a.com", Path: "/m"}, Want: to("post")},
		{Name: "method differs", Request: httproutetest.Request{Method: "GET", Host: "a.com", Path: "/m"}, Want: httproutetest.Want{Status: 404}},
		// Matches of a rule are ORed.
		{Name: "matches are ORed: first", Request: withHeader(specGet("a.com", "/or"), "k", "a"), Want: to("ored")},
		{Name: "matches are ORed: second", Request: withHeader(specGet("a.com", "/or"), "k", "b"), Want: to("ored")},
	})
}

// specPrecedence follows HTTPRouteRule.Matches: "Exact path match;
// Prefix path match with largest number of characters; Method match;
// Largest number of header matches; Largest number of query param matches",
// then across routes the oldest, then "{namespace}/{name}", then within a
// route the first rule.
func specPrecedence(t *testing.T, loopback bool) {
	env := specEnv(t, loopback, httproutetest.Options{},
		specRoute("young", "2026-01-02T00:00:00Z", `  rules:
  - matches: [{path: {type: PathPrefix, value: /p/exact}}]
    backendRefs: [{name: young-prefix, port: 80}]
  - matches: [{path: {type: PathPrefix, value: /p/longer/x}}]
    backendRefs: [{name: young-longer, port: 80}]
  - matches: [{path: {value: /t/method}, method: GET}]
    backendRefs: [{name: young-method, port: 80}]
  - matches: [{path: {value: /t/headers}, headers: [{name: a, value: "1"}, {name: b, value: "1"}]}]
    backendRefs: [{name: young-two-headers, port: 80}]
  - matches: [{path: {value: /t/query}, queryParams: [{name: a, value: "1"}, {name: b, value: "1"}]}]
    backendRefs: [{name: young-two-queries, port: 80}]
  - matches: [{path: {value: /t/age}}]
    backendRefs: [{name: young-age, port: 80}]
  - matches: [{path: {value: /slash/}}]
    backendRefs: [{name: young-slash, port: 80}]
`),
		specRoute("old", "2026-01-01T00:00:00Z", `  rules:
  - matches: [{path: {type: Exact, value: /p/exact}}]
    backendRefs: [{name: old-exact, port: 80}]
  - matches: [{path: {type: PathPrefix, value: /p/longer}}]
    backendRefs: [{name: old-shorter, port: 80}]
  - matches: [{path: {value: /t/method}, headers: [{name: a, value: "1"}, {name: b, value: "1"}], queryParams: [{name: a, value: "1"}]}]
    backendRefs: [{name: old-headers-no-method, port: 80}]
  - matches: [{path: {value: /t/headers}, headers: [{name: a, value: "1"}], queryParams: [{name: a, value: "1"}, {name: b, value: "1"}]}]
    backendRefs: [{name: old-one-header, port: 80}]
  - matches: [{path: {value: /t/query}, queryParams: [{name: a, value: "1"}]}]
    backendRefs: [{name: old-one-query, port: 80}]
  - matches: [{path: {value: /t/age}}]
    backendRefs: [{name: old-age, port: 80}]
  - matches: [{path: {value: /t/rule}}]
    backendRefs: [{name: old-rule-0, port: 80}]
  - matches: [{path: {value: /t/rule}}]
    backendRefs: [{name: old-rule-1, port: 80}]
  - matches: [{path: {value: /slash}}]
    backendRefs: [{name: old-slash, port: 80}]
`),
		specRoute("b-same-age", "2026-01-03T00:00:00Z", `  rules:
  - matches: [{path: {value: /t/name}}]
    backendRefs: [{name: b-name, port: 80}]
`),
		specRoute("a-same-age", "2026-01-03T00:00:00Z", `  rules:
  - matches: [{path: {value: /t/name}}]
    backendRefs: [{name: a-name, port: 80}]
`),
	)
	env.Run(t, []httproutetest.Case{
		{Name: "Exact before a prefix of the same value", Request: specGet("a.com", "/p/exact"), Want: to("old-exact")},
		{Name: "prefix of the same value serves what Exact does not", Request: specGet("a.com", "/p/exact/x"), Want: to("young-prefix")},
		{Name: "longest prefix first, whatever the age", Request: specGet("a.com", "/p/longer/x/y"), Want: to("young-longer")},
		{Name: "shorter prefix for the rest", Request: specGet("a.com", "/p/longer/y"), Want: to("old-shorter")},
		{Name: "method match before header and query counts", Request: httproutetest.Request{Host: "a.com", Path: "/t/method?a=1", Header: http.Header{"A": {"1"}, "B": {"1"}}}, Want: to("young-method")},
		{Name: "more header matches before query matches", Request: httproutetest.Request{Host: "a.com", Path: "/t/headers?a=1&b=1", Header: http.Header{"A": {"1"}, "B": {"1"}}}, Want: to("young-two-headers")},
		{Name: "more query matches", Request: specGet("a.com", "/t/query?a=1&b=1"), Want: to("young-two-queries")},
		{Name: "oldest route on a tie", Request: specGet("a.com", "/t/age"), Want: to("old-age")},
		{Name: "namespace/name order on equal age", Request: specGet("a.com", "/t/name"), Want: to("a-name")},
		{Name: "first rule within a route", Request: specGet("a.com", "/t/rule"), Want: to("old-rule-0")},
		// "Prefix path match with largest number of characters": "/slash/"
		// has one character more than "/slash". Its trailing "/" is ignored
		// for matching, so both match the same requests; the spec counts
		// the characters of the value as written, and so does the Router
		// (ambiguous: one could also rank them as the same prefix).
		{Name: "prefix with trailing slash has one character more", Request: specGet("a.com", "/slash/x"), Want: to("young-slash")},
	})
}

// specHostnames follows HTTPRouteSpec.Hostnames and Listener.Hostname.
func specHostnames(t *testing.T, loopback bool) {
	gateway := specGateway(`  - {name: wild, port: 80, protocol: HTTP, hostname: "*.example.com"}
  - {name: exact, port: 80, protocol: HTTP, hostname: "foo.bar.com"}
  - {name: any, port: 80, protocol: HTTP}
`)
	env := specEnv(t, loopback, httproutetest.Options{Port: 80}, gateway,
		specRoute("mixed", "2026-01-01T00:00:00Z", `  parentRefs: [{name: gw, sectionName: wild}]
  hostnames: [test.example.com, test.example.net]
  rules:
  - backendRefs: [{name: mixed, port: 80}]
`),
		specRoute("wild-route", "2026-01-01T00:00:00Z", `  parentRefs: [{name: gw, sectionName: exact}]
  hostnames: ["*.bar.com"]
  rules:
  - backendRefs: [{name: wild-route, port: 80}]
`),
		specRoute("no-hostnames", "2026-01-01T00:00:00Z", `  parentRefs: [{name: gw, sectionName: wild}]
  rules:
  - matches: [{path: {value: /nohost}}]
    backendRefs: [{name: no-hostnames, port: 80}]
`),
		specRoute("exact-host", "2026-01-02T00:00:00Z", `  parentRefs: [{name: gw, sectionName: any}]
  hostnames: [exact.org]
  rules:
  - matches: [{path: {type: PathPrefix, value: /}}]
    backendRefs: [{name: exact-host, port: 80}]
`),
		specRoute("wildcard-host", "2026-01-01T00:00:00Z", `  parentRefs: [{name: gw, sectionName: any}]
  hostnames: ["*.org"]
  rules:
  - matches: [{path: {type: Exact, value: /x}}]
    backendRefs: [{name: wildcard-host, port: 80}]
`),
	)
	env.Run(t, []httproutetest.Case{
		{Name: "route hostname within the listener's serves", Request: specGet("test.example.com", "/"), Want: to("mixed")},
		// "any HTTPRoute hostnames that do not match the Listener hostname
		// MUST be ignored"
		{Name: "route hostname outside the listener's is ignored", Request: specGet("test.example.net", "/"), Want: httproutetest.Want{Status: 404}},
		// "MUST ignore any port value specified in the HTTP Host header"
		{Name: "Host port is ignored", Request: specGet("test.example.com:8080", "/"), Want: to("mixed")},
		// "... and MUST forward this header unmodified to the backend"
		{Name: "Host forwarded unmodified, port included", Request: specGet("test.example.com:8080", "/"), Want: httproutetest.Want{Status: 200, BackendHost: "test.example.com:8080"}},
		{Name: "Host is matched without case", Request: specGet("TEST.Example.com", "/"), Want: to("mixed")},
		{Name: "Host forwarded unmodified, case kept", Request: specGet("TEST.Example.com", "/"), Want: httproutetest.Want{Status: 200, BackendHost: "TEST.Example.com"}},
		// "A Listener with foo.bar.com matches routes with *.bar.com"; the
		// intersection is the listener's hostname.
		{Name: "wildcard route on exact listener serves the listener host", Request: specGet("foo.bar.com", "/"), Want: to("wild-route")},
		{Name: "wildcard route on exact listener serves no other host", Request: specGet("baz.bar.com", "/"), Want: httproutetest.Want{Status: 404}},
		// A route without hostnames takes the listener's.
		{Name: "route without hostnames serves the listener wildcard", Request: specGet("any.example.com", "/nohost"), Want: to("no-hostnames")},
		{Name: "route without hostnames: deeper subdomain", Request: specGet("a.b.example.com", "/nohost"), Want: to("no-hostnames")},
		// "*.example.com would match test.example.com and
		// foo.test.example.com, but not example.com"
		{Name: "wildcard listener does not match the bare domain", Request: specGet("example.com", "/nohost"), Want: httproutetest.Want{Status: 404}},
		// Hostname precedence before path precedence: "precedence must be
		// given to rules from the HTTPRoute with the largest number of
		// characters in a matching non-wildcard hostname."
		{Name: "exact hostname route before a wildcard route's Exact path", Request: specGet("exact.org", "/x"), Want: to("exact-host")},
		{Name: "wildcard hostname route for other hosts", Request: specGet("other.org", "/x"), Want: to("wildcard-host")},
		{Name: "wildcard does not match the bare suffix", Request: specGet("org", "/x"), Want: httproutetest.Want{Status: 404}},
	})
}

// specHostnameIntersectionPrecedence: "When multiple HTTPRoutes attach
// to the same Listener and yield identical Listener/Route intersected
// hostnames, implementations SHOULD evaluate precedence using the original
// hostnames configured on the Route."
func specHostnameIntersectionPrecedence(t *testing.T, loopback bool) {
	gateway := specGateway(`  - {name: http, port: 80, protocol: HTTP, hostname: "foo.example.com"}
`)
	// route is an HTTPRoute on the listener with the given hostnames
	// (a YAML list, "" for none) and match, to the Service of its name.
	route := func(name, created, hostnames, match string) string {
		spec := "  parentRefs: [{name: gw}]\n"
		if hostnames != "" {
			spec += "  hostnames: " + hostnames + "\n"
		}
		return specRoute(name, created, spec+"  rules:\n  - matches: ["+match+"]\n    backendRefs: [{name: "+name+", port: 80}]\n")
	}
	const prefix = "{path: {type: PathPrefix, value: /}}"
	for _, tc := range []struct {
		name         string
		older, newer string
		path, want   string
		reason       string
	}{
		{"original exact hostname before the older wildcard",
			route("wild", "2026-01-01T00:00:00Z", `["*.example.com"]`, prefix),
			route("exact", "2026-01-02T00:00:00Z", `["foo.example.com"]`, prefix),
			"/", "exact", ""},
		{"newer wildcard before the older route without hostnames",
			route("none", "2026-01-01T00:00:00Z", "", prefix),
			route("wild", "2026-01-02T00:00:00Z", `["*.example.com"]`, prefix),
			"/", "wild", "a route without hostnames configures none: it is less specific than one that names any"},
		{"original exact hostname before an Exact path under a wildcard",
			route("wild", "2026-01-01T00:00:00Z", `["*.example.com"]`, "{path: {type: Exact, value: /x}}"),
			route("exact", "2026-01-02T00:00:00Z", `["foo.example.com"]`, prefix),
			"/x", "exact", "the hostname tier comes before the path tiers"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := specEnv(t, loopback, httproutetest.Options{Port: 80}, gateway, tc.older, tc.newer)
			for _, msg := range httproutetest.Check(env.Do(specGet("foo.example.com", tc.path)), to(tc.want)) {
				t.Errorf("%s (%s)", msg, tc.reason)
			}
		})
	}
}

func specHeaderModifiers(t *testing.T, loopback bool) {
	env := specEnv(t, loopback, httproutetest.Options{}, specRoute("hm", "2026-01-01T00:00:00Z", `  rules:
  - matches: [{path: {value: /req}}]
    filters:
    - type: RequestHeaderModifier
      requestHeaderModifier:
        set: [{name: X-Set, value: set}]
        add: [{name: X-Add, value: "bar,baz"}]
        remove: [x-remove]
    backendRefs: [{name: req, port: 80}]
  - matches: [{path: {value: /res}}]
    filters:
    - type: ResponseHeaderModifier
      responseHeaderModifier:
        set: [{name: X-Res-Set, value: set}]
        add: [{name: X-Res-Add, value: added}]
        remove: [httproutetest-backend]
    backendRefs: [{name: res, port: 80}]
  - matches: [{path: {value: /backendref}}]
    backendRefs:
    - name: br
      port: 80
      filters:
      - type: RequestHeaderModifier
        requestHeaderModifier:
          set: [{name: X-Br, value: from-backendref}]
`))
	env.Run(t, []httproutetest.Case{
		// Set: "overwrites the request with the given header".
		{Name: "set overwrites an existing value, name without case", Request: withHeader(specGet("a.com", "/req"), "x-set", "old"),
			Want: httproutetest.Want{Status: 200, BackendHeader: map[string]string{"X-Set": "set"}}},
		{Name: "set adds an absent header", Request: specGet("a.com", "/req"),
			Want: httproutetest.Want{Status: 200, BackendHeader: map[string]string{"X-Set": "set"}}},
		// Add: "appends to any existing values": my-header: foo,bar,baz.
		{Name: "add appends to existing values", Request: withHeader(specGet("a.com", "/req"), "X-Add", "foo"),
			Want: httproutetest.Want{Status: 200, BackendHeader: map[string]string{"X-Add": "foo,bar,baz"}}},
		{Name: "add without existing value", Request: specGet("a.com", "/req"),
			Want: httproutetest.Want{Status: 200, BackendHeader: map[string]string{"X-Add": "bar,baz"}}},
		// Remove: "header names are case-insensitive".
		{Name: "remove without case", Request: withHeader(specGet("a.com", "/req"), "X-REMOVE", "v", "X-Keep", "k"),
			Want: httproutetest.Want{Status: 200, BackendHeader: map[string]string{"X-Keep": "k"}, BackendAbsentHeader: []string{"X-Remove"}}},
		{Name: "response set, add", Request: specGet("a.com", "/res"),
			Want: httproutetest.Want{Status: 200, Header: map[string]string{"X-Res-Set": "set", "X-Res-Add": "added"}}},
		{Name: "response remove", Request: specGet("a.com", "/res"),
			Want: httproutetest.Want{Status: 200, AbsentHeader: []string{"Httproutetest-Backend"}}},
		{Name: "backendRef filter applies to its backend", Request: specGet("a.com", "/backendref"),
			Want: httproutetest.Want{Status: 200, BackendHeader: map[string]string{"X-Br": "from-backendref"}}},
	})
}

func specRedirectAndRewrite(t *testing.T, loopback bool) {
	env := specEnv(t, loopback, httproutetest.Options{}, specRoute("rr", "2026-01-01T00:00:00Z", `  rules:
  - matches: [{path: {value: /redir-host}}]
    filters:
    - type: RequestRedirect
      requestRedirect: {hostname: example.org}
  - matches: [{path: {value: /redir-full}}]
    filters:
    - type: RequestRedirect
      requestRedirect: {path: {type: ReplaceFullPath, replaceFullPath: /new}}
  - matches: [{path: {value: /redir-prefix}}]
    filters:
    - type: RequestRedirect
      requestRedirect: {path: {type: ReplacePrefixMatch, replacePrefixMatch: /np}}
  - matches: [{path: {value: /redir-301}}]
    filters:
    - type: RequestRedirect
      requestRedirect: {statusCode: 301, scheme: https}
  - matches: [{path: {value: /rw-root}}]
    filters:
    - type: URLRewrite
      urlRewrite: {path: {type: ReplacePrefixMatch, replacePrefixMatch: /}}
    backendRefs: [{name: rw, port: 80}]
  - matches: [{path: {value: /}}]
    filters:
    - type: URLRewrite
      urlRewrite: {path: {type: ReplacePrefixMatch, replacePrefixMatch: /api}}
    backendRefs: [{name: rw-from-root, port: 80}]
  - matches: [{path: {value: /rw-host}}]
    filters:
    - type: URLRewrite
      urlRewrite: {hostname: rewritten.org}
    backendRefs: [{name: rw, port: 80}]
  - matches: [{path: {value: /rw-full}}]
    filters:
    - type: URLRewrite
      urlRewrite: {path: {type: ReplaceFullPath, replaceFullPath: /full}}
    backendRefs: [{name: rw, port: 80}]
`))
	loc := func(status int, location string) httproutetest.Want {
		return httproutetest.Want{Status: status, Header: map[string]string{"Location": location}, Backend: "-"}
	}
	env.Run(t, []httproutetest.Case{
		// StatusCode defaults to 302; the path and query are kept ("When
		// empty, the request path is used as-is").
		{Name: "redirect hostname, default 302, path and query kept", Request: specGet("a.com", "/redir-host/x?q=1"), Want: loc(302, "http://example.org/redir-host/x?q=1")},
		{Name: "redirect ReplaceFullPath keeps the query", Request: specGet("a.com", "/redir-full/x?q=1"), Want: loc(302, "http://a.com/new?q=1")},
		{Name: "redirect ReplacePrefixMatch", Request: specGet("a.com", "/redir-prefix/x/y"), Want: loc(302, "http://a.com/np/x/y")},
		{Name: "redirect ReplacePrefixMatch keeps a trailing slash", Request: specGet("a.com", "/redir-prefix/"), Want: loc(302, "http://a.com/np/")},
		// Hostname: "When empty, the hostname in the Host header of the
		// request is used"; a scheme given sets its well-known port.
		{Name: "redirect scheme https drops the Host port", Request: specGet("a.com:8080", "/redir-301"), Want: loc(301, "https://a.com/redir-301")},
		{Name: "rewrite ReplacePrefixMatch / strips the prefix", Request: specGet("a.com", "/rw-root/x?q=1"), Want: httproutetest.Want{Status: 200, BackendPath: "/x?q=1"}},
		{Name: "rewrite ReplacePrefixMatch / of the bare prefix is /", Request: specGet("a.com", "/rw-root"), Want: httproutetest.Want{Status: 200, BackendPath: "/"}},
		{Name: "rewrite ReplacePrefixMatch / of prefix with slash is /", Request: specGet("a.com", "/rw-root/"), Want: httproutetest.Want{Status: 200, BackendPath: "/"}},
		{Name: "rewrite prefix / to /api", Request: specGet("a.com", "/x/y"), Want: httproutetest.Want{Status: 200, BackendPath: "/api/x/y"}},
		// The spec's table has no row for a "/" prefix (gateway-api issues
		// 3592, 4660): with its trailing "/" ignored the prefix is empty,
		// and "/" is that prefix plus a trailing slash, kept as in the row
		// "/foo/ | /foo | /xyz | /xyz/". Ambiguous; pinned as is.
		{Name: "rewrite prefix / to /api, root keeps the slash (ambiguous)", Request: specGet("a.com", "/"), Want: httproutetest.Want{Status: 200, BackendPath: "/api/"}},
		// URLRewrite.Hostname: "the value to be used to replace the Host
		// header value during forwarding".
		{Name: "rewrite hostname replaces Host", Request: specGet("a.com:8080", "/rw-host/x"), Want: httproutetest.Want{Status: 200, BackendHost: "rewritten.org", BackendPath: "/rw-host/x"}},
		{Name: "rewrite full path keeps the query", Request: specGet("a.com", "/rw-full/x?y=1"), Want: httproutetest.Want{Status: 200, BackendPath: "/full?y=1", BackendHost: "a.com"}},
	})
}

func specBackends(t *testing.T, loopback bool) {
	env := specEnv(t, loopback, httproutetest.Options{}, specRoute("be", "2026-01-01T00:00:00Z", `  rules:
  - matches: [{path: {value: /none}}]
  - matches: [{path: {value: /invalid}}]
    backendRefs: [{name: missing, port: 80, kind: Unknown, group: example.org}]
  - matches: [{path: {value: /zero}}]
    backendRefs: [{name: zero, port: 80, weight: 0}, {name: one, port: 80, weight: 1}]
  - matches: [{path: {value: /allzero}}]
    backendRefs: [{name: zero, port: 80, weight: 0}]
  - matches: [{path: {value: /filters-only}}]
    filters:
    - type: RequestHeaderModifier
      requestHeaderModifier: {set: [{name: x, value: "1"}]}
`))
	env.Run(t, []httproutetest.Case{
		// A rule without backendRefs and with no filter that answers has
		// nowhere to send the request.
		{Name: "rule without backendRefs answers 500", Request: specGet("a.com", "/none"), Want: httproutetest.Want{Status: 500, Backend: "-"}},
		// "If all entries in BackendRefs are invalid, and there are also no
		// filters specified in this route rule, all traffic which matches
		// this rule MUST receive a 500 status code."
		{Name: "all backendRefs invalid answers 500", Request: specGet("a.com", "/invalid"), Want: httproutetest.Want{Status: 500, Backend: "-"}},
		// "If weight is set to 0, no traffic should be forwarded for this
		// entry."
		{Name: "zero weight gets no traffic", Request: specGet("a.com", "/zero"), Want: to("one")},
		{Name: "all weights zero: no backend to forward to", Request: specGet("a.com", "/allzero"), Want: httproutetest.Want{Status: 500, Backend: "-"}},
		{Name: "filters that do not answer and no backendRefs: 500", Request: specGet("a.com", "/filters-only"), Want: httproutetest.Want{Status: 500, Backend: "-"}},
	})
	for i := range 20 {
		ex := env.Do(specGet("a.com", "/zero"))
		if ex.Backend != "default/one:80" {
			t.Fatalf("request %d to /zero went to %q, want default/one:80 only", i, ex.Backend)
		}
	}
}

// specListeners follows Listener.Hostname and Listener.Port: a request
// is handled by the routes of the listener whose hostname matches its Host
// most specifically, on the port it arrived on.
func specListeners(t *testing.T, loopback bool) {
	gateway := specGateway(`  - {name: wild, port: 80, protocol: HTTP, hostname: "*.example.com"}
  - {name: exact, port: 80, protocol: HTTP, hostname: "foo.example.com"}
  - {name: other-port, port: 8080, protocol: HTTP}
`)
	manifests := []string{gateway,
		specRoute("on-wild", "2026-01-01T00:00:00Z", `  parentRefs: [{name: gw, sectionName: wild}]
  rules:
  - backendRefs: [{name: on-wild, port: 80}]
`),
		specRoute("on-exact", "2026-01-02T00:00:00Z", `  parentRefs: [{name: gw, sectionName: exact}]
  rules:
  - matches: [{path: {type: Exact, value: /only}}]
    backendRefs: [{name: on-exact, port: 80}]
`),
		specRoute("on-8080", "2026-01-01T00:00:00Z", `  parentRefs: [{name: gw, sectionName: other-port}]
  rules:
  - matches: [{path: {value: /redirect}}]
    filters:
    - type: RequestRedirect
      requestRedirect: {hostname: example.org}
  - backendRefs: [{name: on-8080, port: 80}]
`),
	}
	port80 := specEnv(t, loopback, httproutetest.Options{Port: 80}, manifests...)
	port80.Run(t, []httproutetest.Case{
		{Name: "wildcard listener serves its hosts", Request: specGet("bar.example.com", "/x"), Want: to("on-wild")},
		// Listener isolation: foo.example.com belongs to the exact
		// listener; the wildcard listener's routes never see it.
		{Name: "exact listener host matched by its routes", Request: specGet("foo.example.com", "/only"), Want: to("on-exact")},
		{Name: "exact listener host not served by the wildcard listener's routes", Request: specGet("foo.example.com", "/x"), Want: httproutetest.Want{Status: 404}},
		{Name: "host no listener admits: 404", Request: specGet("example.net", "/x"), Want: httproutetest.Want{Status: 404}},
		{Name: "routes of another port are not served", Request: specGet("any.org", "/x"), Want: httproutetest.Want{Status: 404}},
	})
	port8080 := specEnv(t, loopback, httproutetest.Options{Port: 8080}, manifests...)
	port8080.Run(t, []httproutetest.Case{
		{Name: "listener port routes", Request: specGet("any.org", "/x"), Want: to("on-8080")},
		// RequestRedirect.Port: "If redirect scheme is empty, the redirect
		// port MUST be the Gateway Listener port", not the Host's.
		{Name: "redirect port is the listener's", Request: specGet("any.org", "/redirect"), Want: httproutetest.Want{Status: 302, Header: map[string]string{"Location": "http://example.org:8080/redirect"}}},
		{Name: "redirect port is the listener's, not the Host's", Request: specGet("any.org:9999", "/redirect"), Want: httproutetest.Want{Status: 302, Header: map[string]string{"Location": "http://example.org:8080/redirect"}}},
	})
}

// specRouteHostnamePrecedence: "precedence must be given to rules from
// the HTTPRoute with the largest number of characters in a matching
// non-wildcard hostname, then characters in a matching hostname" - before
// any path tier. A route without hostnames matches every host with none.
func specRouteHostnamePrecedence(t *testing.T, loopback bool) {
	env := specEnv(t, loopback, httproutetest.Options{},
		specRoute("any-host", "2026-01-01T00:00:00Z", `  rules:
  - matches: [{path: {type: Exact, value: /x}}]
    backendRefs: [{name: any-host, port: 80}]
`),
		specRoute("wild", "2026-01-02T00:00:00Z", `  hostnames: ["*.example.com"]
  rules:
  - matches: [{path: {type: PathPrefix, value: /}}]
    backendRefs: [{name: wild, port: 80}]
`),
		specRoute("deeper-wild", "2026-01-02T00:00:00Z", `  hostnames: ["*.foo.example.com"]
  rules:
  - matches: [{path: {type: PathPrefix, value: /}}]
    backendRefs: [{name: deeper-wild, port: 80}]
`),
	)
	env.Run(t, []httproutetest.Case{
		{Name: "a matching wildcard hostname before no hostname", Request: specGet("a.example.com", "/x"), Want: to("wild")},
		{Name: "the longer wildcard first", Request: specGet("a.foo.example.com", "/x"), Want: to("deeper-wild")},
		{Name: "no hostname serves other hosts", Request: specGet("a.example.org", "/x"), Want: to("any-host")},
		{Name: "wildcard needs a label before the suffix", Request: specGet("example.com", "/x"), Want: to("any-host")},
	})
}

// specResponseHeadersOnRedirect: "implementations SHOULD implement filters in the
// order they are specified"; a ResponseHeaderModifier of the rule applies
// to every answer of the rule, a redirect included.
func specResponseHeadersOnRedirect(t *testing.T, loopback bool) {
	env := specEnv(t, loopback, httproutetest.Options{}, specRoute("r", "2026-01-01T00:00:00Z", `  rules:
  - filters:
    - type: ResponseHeaderModifier
      responseHeaderModifier: {add: [{name: X-Added, value: "1"}]}
    - type: RequestRedirect
      requestRedirect: {hostname: example.org}
`))
	env.Run(t, []httproutetest.Case{
		{Name: "response header added to the redirect", Request: specGet("a.com", "/p"),
			Want: httproutetest.Want{Status: 302, Header: map[string]string{"Location": "http://example.org/p", "X-Added": "1"}}},
	})
}

// specInvalidBackendShare: "the proportion of requests that would
// otherwise have been routed to an invalid backend MUST receive a 500
// status code ... if two backends are specified with equal weights, and
// one is invalid, 50 percent of traffic must receive a 500."
func specInvalidBackendShare(t *testing.T, loopback bool) {
	env := specEnv(t, loopback, httproutetest.Options{Rand: rand.NewPCG(1, 2)}, specRoute("r", "2026-01-01T00:00:00Z", `  rules:
  - backendRefs:
    - {name: valid, port: 80, weight: 3}
    - {name: invalid, port: 80, weight: 1, group: example.org, kind: Unknown}
`))
	const n = 4000
	counts := map[int]int{}
	for range n {
		counts[env.Do(specGet("a.com", "/")).Response.StatusCode]++
	}
	if len(counts) != 2 || counts[200]+counts[500] != n {
		t.Fatalf("statuses %v, want only 200 and 500", counts)
	}
	// 1/4 of 4000 is 1000; 5 standard deviations (27) either side.
	if got := counts[500]; got < 1000-140 || got > 1000+140 {
		t.Errorf("%d of %d answered 500, want about 1000 (weight 1 of 4)", got, n)
	}
}

// specEdges collects single statements whose request is unusual.
func specEdges(t *testing.T, loopback bool) {
	env := specEnv(t, loopback, httproutetest.Options{}, specRoute("edges", "2026-01-01T00:00:00Z", `  hostnames: [edge.example.com]
  rules:
  - matches: [{path: {value: /get}, method: GET}]
    backendRefs: [{name: get, port: 80}]
  - matches: [{path: {value: /q}, queryParams: [{name: q, value: "a b"}]}]
    backendRefs: [{name: query-space, port: 80}]
  - matches: [{path: {type: Exact, value: "/caf%C3%A9"}}]
    backendRefs: [{name: cafe, port: 80}]
  - matches: [{path: {value: /redir}}]
    filters:
    - type: RequestRedirect
      requestRedirect: {path: {type: ReplaceFullPath, replaceFullPath: /to/}}
  - matches: [{path: {value: /keep}}]
    filters:
    - type: RequestRedirect
      requestRedirect: {scheme: https}
  - matches: [{path: {value: /timeout-zero}}]
    timeouts: {request: 0s}
    backendRefs: [{name: slow, port: 80}]
`))
	env.Run(t, []httproutetest.Case{
		// Method: "matched only if the request has the specified method":
		// HEAD is not GET.
		{Name: "HEAD does not match a GET method match", Request: httproutetest.Request{Method: "HEAD", Host: "edge.example.com", Path: "/get"}, Want: httproutetest.Want{Status: 404}},
		// Query values are compared decoded (implementation-specific).
		{Name: "query value with %20", Request: specGet("edge.example.com", "/q?q=a%20b"), Want: to("query-space")},
		{Name: "query value with +", Request: specGet("edge.example.com", "/q?q=a+b"), Want: to("query-space")},
		{Name: "Exact with escapes matches lower-case hex", Request: specGet("edge.example.com", "/caf%c3%a9"), Want: to("cafe")},
		{Name: "Exact with escapes matches upper-case hex", Request: specGet("edge.example.com", "/caf%C3%A9"), Want: to("cafe")},
		{Name: "redirect ReplaceFullPath keeps its trailing slash", Request: specGet("edge.example.com", "/redir/a"), Want: httproutetest.Want{Status: 302, Header: map[string]string{"Location": "http://edge.example.com/to/"}}},
		{Name: "redirect keeps an escaped path", Request: specGet("edge.example.com", "/keep/a%20b%3F"), Want: httproutetest.Want{Status: 302, Header: map[string]string{"Location": "https://edge.example.com/keep/a%20b%3F"}}},
		// Hostnames are matched without case and with the Host port
		// ignored.
		{Name: "Host upper-case with port", Request: specGet("EDGE.example.COM:80", "/get"), Want: to("get")},
		// "Setting a timeout to the zero duration SHOULD disable the
		// timeout completely."
		{Name: "request timeout 0s is none", Request: specGet("edge.example.com", "/timeout-zero"), Want: to("slow")},
	})
}

// specListenerPrecedence: "inbound request hostnames MUST match from
// the most specific to least specific Hostname values to choose the
// correct Listener": exact, then wildcards with more dots right of "*",
// then the listener without hostname.
func specListenerPrecedence(t *testing.T, loopback bool) {
	gateway := specGateway(`  - {name: empty, port: 80, protocol: HTTP}
  - {name: wild, port: 80, protocol: HTTP, hostname: "*.example.com"}
  - {name: deeper, port: 80, protocol: HTTP, hostname: "*.foo.example.com"}
  - {name: exact, port: 80, protocol: HTTP, hostname: "bar.foo.example.com"}
`)
	var manifests = []string{gateway}
	for _, l := range []string{"empty", "wild", "deeper", "exact"} {
		manifests = append(manifests, specRoute("on-"+l, "2026-01-01T00:00:00Z", fmt.Sprintf(`  parentRefs: [{name: gw, sectionName: %s}]
  rules:
  - backendRefs: [{name: %s, port: 80}]
`, l, l)))
	}
	manifests = append(manifests, specRoute("narrow", "2026-01-01T00:00:00Z", `  parentRefs: [{name: gw, sectionName: wild}]
  hostnames: ["*.narrow.example.com"]
  rules:
  - matches: [{path: {value: /narrow}}]
    backendRefs: [{name: narrow, port: 80}]
`))
	env := specEnv(t, loopback, httproutetest.Options{Port: 80}, manifests...)
	env.Run(t, []httproutetest.Case{
		{Name: "exact listener first", Request: specGet("bar.foo.example.com", "/"), Want: to("exact")},
		{Name: "wildcard with more dots next", Request: specGet("baz.foo.example.com", "/"), Want: to("deeper")},
		{Name: "wildcard with more dots, deeper host", Request: specGet("a.b.foo.example.com", "/"), Want: to("deeper")},
		{Name: "shorter wildcard then", Request: specGet("baz.example.com", "/"), Want: to("wild")},
		{Name: "listener without hostname last", Request: specGet("example.com", "/"), Want: to("empty")},
		{Name: "listener without hostname for other domains", Request: specGet("other.org", "/"), Want: to("empty")},
		// A route hostname more specific than its wildcard listener's is
		// the intersection.
		{Name: "route wildcard narrower than the listener's", Request: specGet("a.narrow.example.com", "/narrow"), Want: to("narrow")},
		{Name: "route wildcard narrower: bare suffix is not in it", Request: specGet("narrow.example.com", "/narrow"), Want: to("wild")},
	})
}

// specTimeouts follows HTTPRouteTimeouts: "If the gateway has not been
// able to respond before this deadline is met, the gateway MUST return a
// timeout error" (504 here), and a zero duration "SHOULD disable the
// timeout completely".
func specTimeouts(t *testing.T, loopback bool) {
	// slow answers once it has waited 300ms or its request is cancelled.
	slow := httproute.InProcess(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-time.After(300 * time.Millisecond):
			io.WriteString(w, "slow")
		case <-r.Context().Done():
		}
	}))
	env := specEnv(t, loopback, httproutetest.Options{Backends: httproute.Services{{Namespace: "default", Name: "slow", Port: 80}: slow}},
		specRoute("timeouts", "2026-01-01T00:00:00Z", `  rules:
  - matches: [{path: {value: /request}}]
    timeouts: {request: 20ms}
    backendRefs: [{name: slow, port: 80}]
  - matches: [{path: {value: /backend}}]
    timeouts: {backendRequest: 20ms}
    backendRefs: [{name: slow, port: 80}]
  - matches: [{path: {value: /request-zero}}]
    timeouts: {request: 0s}
    backendRefs: [{name: slow, port: 80}]
  - matches: [{path: {value: /both-zero}}]
    timeouts: {request: 0s, backendRequest: 0s}
    backendRefs: [{name: slow, port: 80}]
  - matches: [{path: {value: /zero-request-short-backend}}]
    timeouts: {request: 0s, backendRequest: 20ms}
    backendRefs: [{name: slow, port: 80}]
`))
	env.Run(t, []httproutetest.Case{
		{Name: "request timeout answers 504", Request: specGet("a.com", "/request"), Want: httproutetest.Want{Status: 504}},
		{Name: "backendRequest timeout answers 504", Request: specGet("a.com", "/backend"), Want: httproutetest.Want{Status: 504}},
		{Name: "request 0s is no timeout", Request: specGet("a.com", "/request-zero"), Want: httproutetest.Want{Status: 200, Body: "slow"}},
		{Name: "request and backendRequest 0s are no timeouts", Request: specGet("a.com", "/both-zero"), Want: httproutetest.Want{Status: 200, Body: "slow"}},
		{Name: "backendRequest still bounds an attempt when request is 0s", Request: specGet("a.com", "/zero-request-short-backend"), Want: httproutetest.Want{Status: 504}},
	})
}

// specInvalidRuleDropped: "Invalid Route rules can be ignored ... even
// if a filter specified by a Route rule is invalid, the rest of the rules
// within that Route should still be supported" (Listener.AllowedRoutes);
// the Router drops the rule (PartiallyInvalid, "Dropped Rule"), so its
// requests match what else they match, or get 404.
func specInvalidRuleDropped(t *testing.T, loopback bool) {
	env := specEnv(t, loopback, httproutetest.Options{NoValidation: true}, specRoute("partly", "2026-01-01T00:00:00Z", `  rules:
  - matches: [{path: {type: PathPrefix, value: /bad}, headers: [{name: x, type: RegularExpression, value: "("}]}]
    backendRefs: [{name: bad, port: 80}]
  - matches: [{path: {type: PathPrefix, value: /bad/fallback}}]
    backendRefs: [{name: fallback, port: 80}]
  - matches: [{path: {type: PathPrefix, value: /good}}]
    backendRefs: [{name: good, port: 80}]
`))
	env.Run(t, []httproutetest.Case{
		{Name: "valid rule of a partly invalid route serves", Request: specGet("a.com", "/good"), Want: to("good")},
		{Name: "dropped rule's requests get 404", Request: withHeader(specGet("a.com", "/bad"), "x", "("), Want: httproutetest.Want{Status: 404}},
		{Name: "dropped rule's requests fall to other rules", Request: withHeader(specGet("a.com", "/bad/fallback"), "x", "("), Want: to("fallback")},
	})
	st := env.Router.Status().HTTPRoutes[nn("default", "partly")]
	if len(st.Parents) != 1 {
		t.Fatalf("parents %+v", st.Parents)
	}
	c := findCondition(st.Parents[0].Conditions, "PartiallyInvalid")
	if c == nil || c.Status != "True" || !strings.HasPrefix(c.Message, "Dropped Rule") {
		t.Errorf("PartiallyInvalid = %+v, want True with a message starting \"Dropped Rule\"", c)
	}
	if c := findCondition(st.Parents[0].Conditions, "Accepted"); c == nil || c.Status != "True" {
		t.Errorf("Accepted = %+v, want True", c)
	}
}

// specBackendRefFilters: "Filters defined at this level should be
// executed if and only if the request is being forwarded to the backend
// defined here"; RequestRedirect is supported there too ("Support in
// HTTPBackendRef: Extended").
func specBackendRefFilters(t *testing.T, loopback bool) {
	env := specEnv(t, loopback, httproutetest.Options{}, specRoute("brf", "2026-01-01T00:00:00Z", `  rules:
  - matches: [{path: {value: /redirect}}]
    backendRefs:
    - name: r
      port: 80
      filters:
      - type: RequestRedirect
        requestRedirect: {hostname: example.org, statusCode: 301}
  - matches: [{path: {value: /only-a}}]
    backendRefs:
    - name: a
      port: 80
      filters:
      - type: RequestHeaderModifier
        requestHeaderModifier: {add: [{name: X-For, value: a}]}
    - name: b
      port: 80
      weight: 0
      filters:
      - type: RequestHeaderModifier
        requestHeaderModifier: {add: [{name: X-For, value: b}]}
  - matches: [{path: {value: /rewrite}}]
    backendRefs:
    - name: rw
      port: 80
      filters:
      - type: URLRewrite
        urlRewrite: {path: {type: ReplacePrefixMatch, replacePrefixMatch: /new}}
`))
	env.Run(t, []httproutetest.Case{
		{Name: "backendRef RequestRedirect answers", Request: specGet("a.com", "/redirect/x"),
			Want: httproutetest.Want{Status: 301, Header: map[string]string{"Location": "http://example.org/redirect/x"}, Backend: "-"}},
		{Name: "only the chosen backendRef's filters run", Request: specGet("a.com", "/only-a"),
			Want: httproutetest.Want{Status: 200, Backend: "default/a:80", BackendHeader: map[string]string{"X-For": "a"}}},
		{Name: "backendRef URLRewrite ReplacePrefixMatch", Request: specGet("a.com", "/rewrite/x"),
			Want: httproutetest.Want{Status: 200, BackendPath: "/new/x"}},
	})
}

// specResponseHeaderModifierOverBackend: ResponseHeaderModifier set
// "overwrites" the backend's header, add "appends to any existing values",
// remove takes names without case.
func specResponseHeaderModifierOverBackend(t *testing.T, loopback bool) {
	env := specEnv(t, loopback, httproutetest.Options{}, specRoute("rhm", "2026-01-01T00:00:00Z", `  rules:
  - filters:
    - type: ResponseHeaderModifier
      responseHeaderModifier:
        set: [{name: x-set, value: new}]
        add: [{name: x-add, value: "b,c"}]
        remove: [X-REMOVE]
    backendRefs: [{name: web, port: 80}]
`))
	env.Backend("default", "web", 80).SetHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Add("X-Set", "old1")
		w.Header().Add("X-Set", "old2")
		w.Header().Set("X-Add", "a")
		w.Header().Set("X-Remove", "gone")
		w.Header().Set("X-Keep", "kept")
		w.WriteHeader(201)
	}))
	env.Run(t, []httproutetest.Case{
		{Name: "set, add, remove over the backend's headers", Request: specGet("a.com", "/"),
			Want: httproutetest.Want{Status: 201, Header: map[string]string{"X-Set": "new", "X-Add": "a,b,c", "X-Keep": "kept"}, AbsentHeader: []string{"X-Remove"}}},
	})
}

// TestSpecMisdirectedOrNotFound follows Listener.Hostname on HTTPS: "If
// the current Listener (selected by SNI matching during ClientHello) does
// not match the Host: If another Listener does match the Host, the Gateway
// SHOULD return a 421. If no other Listener matches the Host, the Gateway
// MUST return a 404."
func TestSpecMisdirectedOrNotFound(t *testing.T) {
	addr := serveListenerNames(t, `  - name: exact
    port: 443
    protocol: HTTPS
    hostname: secure.example.com
    tls: {certificateRefs: [{name: exact-cert}]}
  - name: wild
    port: 443
    protocol: HTTPS
    hostname: "*.wild.example.com"
    tls: {certificateRefs: [{name: wild-cert}]}
`, selfSigned(t, "exact-cert", "secure.example.com"), selfSigned(t, "wild-cert", "a.wild.example.com"))
	for _, tc := range []struct {
		name, sni, host string
		status          int
	}{
		{"SNI and Host on one listener", "secure.example.com", "secure.example.com", 200},
		{"Host of another listener: 421", "secure.example.com", "b.wild.example.com", 421},
		{"Host of another listener, wildcard SNI: 421", "a.wild.example.com", "secure.example.com", 421},
		{"Host of no listener: 404", "secure.example.com", "unknown.example.org", 404},
		{"Host of no listener, wildcard SNI: 404", "a.wild.example.com", "unknown.example.org", 404},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if res, _ := getTLS(t, addr, tc.sni, tc.host); res.StatusCode != tc.status {
				t.Errorf("SNI %q Host %q: status %d, want %d", tc.sni, tc.host, res.StatusCode, tc.status)
			}
		})
	}
}

// specRetries follows HTTPRouteRetry: retried statuses are those of codes,
// attempts counts the retries "in addition to the initial request" and
// "An explicit zero value MUST disable retries"; when they are spent "the
// Gateway MUST return an error" (the last answer here).
func specRetries(t *testing.T, loopback bool) {
	env := specEnv(t, loopback, httproutetest.Options{Rand: rand.NewPCG(3, 4)}, specRoute("retries", "2026-01-01T00:00:00Z", `  rules:
  - matches: [{path: {value: /two}}]
    retry: {codes: [500], attempts: 2, backoff: 1ms}
    backendRefs: [{name: flaky, port: 80}]
  - matches: [{path: {value: /zero}}]
    retry: {codes: [500], attempts: 0, backoff: 1ms}
    backendRefs: [{name: flaky, port: 80}]
  - matches: [{path: {value: /default}}]
    retry: {codes: [500], backoff: 1ms}
    backendRefs: [{name: flaky, port: 80}]
  - matches: [{path: {value: /unlisted}}]
    retry: {codes: [502], attempts: 3, backoff: 1ms}
    backendRefs: [{name: flaky, port: 80}]
`))
	// flaky answers 500 to the first fail[path] requests of each path,
	// then 200.
	var mu sync.Mutex
	seen := map[string]int{}
	fail := map[string]int{"/two": 2, "/zero": 1, "/default": 2, "/unlisted": 1}
	env.Backend("default", "flaky", 80).SetHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen[r.URL.Path]++
		n := seen[r.URL.Path]
		mu.Unlock()
		if n <= fail[r.URL.Path] {
			w.WriteHeader(500)
			return
		}
		io.WriteString(w, "ok")
	}))
	for _, tc := range []struct {
		path     string
		status   int
		attempts int
		reason   string
	}{
		{"/two", 200, 3, "two retries after the initial request"},
		{"/zero", 500, 1, "attempts 0 disables retries"},
		{"/default", 500, 2, "attempts defaults to 1: the second 500 is returned"},
		{"/unlisted", 500, 1, "a status not in codes is not retried"},
	} {
		t.Run(tc.path, func(t *testing.T) {
			ex := env.Do(specGet("a.com", tc.path))
			mu.Lock()
			got := seen[tc.path]
			mu.Unlock()
			if ex.Response.StatusCode != tc.status || got != tc.attempts {
				t.Errorf("status %d after %d attempts, want %d after %d (%s)", ex.Response.StatusCode, got, tc.status, tc.attempts, tc.reason)
			}
		})
	}
}
