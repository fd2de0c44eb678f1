package httproute_test

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/httproute/httproute"
	"github.com/httproute/httproute/httproutetest"
)

// route wraps rules (YAML indented by four spaces under "rules:") in an
// HTTPRoute named name in namespace default.
func route(name, rules string) string {
	return fmt.Sprintf(`apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata:
  name: %s
  namespace: default
spec:
  rules:
%s`, name, rules)
}

func TestRedirectPortsAndSchemes(t *testing.T) {
	rules := ""
	for _, r := range []struct{ path, filter string }{
		{"/scheme-nil-port-nil", "hostname: example.org"},
		{"/scheme-nil-port-80", "hostname: example.org\n        port: 80"},
		{"/scheme-nil-port-443", "hostname: example.org\n        port: 443"},
		{"/scheme-nil-port-8080", "hostname: example.org\n        port: 8080"},
		{"/scheme-http-port-nil", "hostname: example.org\n        scheme: http"},
		{"/scheme-http-port-80", "hostname: example.org\n        scheme: http\n        port: 80"},
		{"/scheme-http-port-8080", "hostname: example.org\n        scheme: http\n        port: 8080"},
		{"/scheme-https-port-nil", "hostname: example.org\n        scheme: https"},
		{"/scheme-https-port-443", "hostname: example.org\n        scheme: https\n        port: 443"},
		{"/scheme-https-port-8443", "hostname: example.org\n        scheme: https\n        port: 8443"},
		{"/host-nil", "scheme: https"},
	} {
		rules += fmt.Sprintf(`  - matches:
    - path: {type: PathPrefix, value: %s}
    filters:
    - type: RequestRedirect
      requestRedirect:
        %s
`, r.path, r.filter)
	}
	gateway := func(port int32) string {
		return fmt.Sprintf(`apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: gw, namespace: default}
spec:
  gatewayClassName: test
  listeners:
  - {name: http, port: %d, protocol: HTTP}
`, port)
	}
	routeYAML := route("redirects", rules) + "  parentRefs:\n  - name: gw\n"
	implicit := route("redirects", rules)

	tests := []struct {
		name     string
		manifest []string
		port     int32
		req      httproutetest.Request
		location string
		reason   string
	}{
		{"listener 80, scheme nil, port nil", []string{gateway(80), routeYAML}, 80, httproutetest.Request{Path: "/scheme-nil-port-nil/a?q=1"}, "http://example.org/scheme-nil-port-nil/a?q=1", "port 80 of http omitted"},
		{"listener 80, scheme nil, port 80", []string{gateway(80), routeYAML}, 80, httproutetest.Request{Path: "/scheme-nil-port-80"}, "http://example.org/scheme-nil-port-80", ""},
		{"listener 80, scheme nil, port 443", []string{gateway(80), routeYAML}, 80, httproutetest.Request{Path: "/scheme-nil-port-443"}, "http://example.org:443/scheme-nil-port-443", "443 is only implied for https"},
		{"listener 80, scheme nil, port 8080", []string{gateway(80), routeYAML}, 80, httproutetest.Request{Path: "/scheme-nil-port-8080"}, "http://example.org:8080/scheme-nil-port-8080", ""},
		{"listener 80, scheme https, port nil", []string{gateway(80), routeYAML}, 80, httproutetest.Request{Path: "/scheme-https-port-nil"}, "https://example.org/scheme-https-port-nil", "the scheme's well-known port"},
		{"listener 80, scheme https, port 443", []string{gateway(80), routeYAML}, 80, httproutetest.Request{Path: "/scheme-https-port-443"}, "https://example.org/scheme-https-port-443", ""},
		{"listener 80, scheme https, port 8443", []string{gateway(80), routeYAML}, 80, httproutetest.Request{Path: "/scheme-https-port-8443"}, "https://example.org:8443/scheme-https-port-8443", ""},
		{"listener 8080, scheme nil, port nil", []string{gateway(8080), routeYAML}, 8080, httproutetest.Request{Path: "/scheme-nil-port-nil"}, "http://example.org:8080/scheme-nil-port-nil", "the listener port when the scheme is empty"},
		{"listener 8080, scheme nil, port 80", []string{gateway(8080), routeYAML}, 8080, httproutetest.Request{Path: "/scheme-nil-port-80"}, "http://example.org/scheme-nil-port-80", ""},
		{"listener 8080, scheme https, port nil", []string{gateway(8080), routeYAML}, 8080, httproutetest.Request{Path: "/scheme-https-port-nil"}, "https://example.org/scheme-https-port-nil", "the scheme's port, not the listener's"},
		{"listener 8080, scheme http, port nil", []string{gateway(8080), routeYAML}, 8080, httproutetest.Request{Path: "/scheme-http-port-nil"}, "http://example.org/scheme-http-port-nil", ""},
		{"implicit, https request, scheme nil, port nil", []string{implicit}, 0, httproutetest.Request{Path: "/scheme-nil-port-nil", HTTPS: true}, "https://example.org/scheme-nil-port-nil", "the request's scheme and its default port"},
		{"implicit, https request, scheme http, port nil", []string{implicit}, 0, httproutetest.Request{Path: "/scheme-http-port-nil", HTTPS: true}, "http://example.org/scheme-http-port-nil", ""},
		{"implicit, https request, scheme http, port 8080", []string{implicit}, 0, httproutetest.Request{Path: "/scheme-http-port-8080", HTTPS: true}, "http://example.org:8080/scheme-http-port-8080", ""},
		{"implicit, Host with port, scheme nil", []string{implicit}, 0, httproutetest.Request{Host: "example.com:9090", Path: "/scheme-nil-port-nil"}, "http://example.org:9090/scheme-nil-port-nil", "the port the client addressed stands for the implicit listener's"},
		{"implicit, hostname nil keeps the request host", []string{implicit}, 0, httproutetest.Request{Host: "Example.COM:9090", Path: "/host-nil/x"}, "https://Example.COM/host-nil/x", "the request's host without its port"},
		{"implicit, IPv6 host", []string{implicit}, 0, httproutetest.Request{Host: "[::1]:9090", Path: "/host-nil/x"}, "https://[::1]/host-nil/x", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			env := httproutetest.New(t, httproutetest.Options{Port: tc.port}, tc.manifest...)
			ex := env.Do(tc.req)
			if ex.Response.StatusCode != http.StatusFound {
				t.Fatalf("status = %d, want 302 (%s)", ex.Response.StatusCode, ex.Body)
			}
			if got := ex.Response.Header.Get("Location"); got != tc.location {
				t.Errorf("Location = %q, want %q (%s)", got, tc.location, tc.reason)
			}
		})
	}
}

func TestRedirectStatusCodes(t *testing.T) {
	for _, code := range []int{0, 301, 302, 303, 307, 308} {
		t.Run(fmt.Sprint(code), func(t *testing.T) {
			filter := "scheme: https"
			want := 302
			if code != 0 {
				filter += fmt.Sprintf("\n        statusCode: %d", code)
				want = code
			}
			env := httproutetest.New(t, httproutetest.Options{}, route("r", `  - filters:
    - type: RequestRedirect
      requestRedirect:
        `+filter+"\n"))
			ex := env.Do(httproutetest.Request{Path: "/a"})
			if ex.Response.StatusCode != want {
				t.Errorf("status = %d, want %d", ex.Response.StatusCode, want)
			}
			if got := ex.Response.Header.Get("Location"); got != "https://example.com/a" {
				t.Errorf("Location = %q", got)
			}
		})
	}
}

func TestRedirectStatusCodeUnsupported(t *testing.T) {
	err := strictErr(t, nil, route("web", `  - filters:
    - type: RequestRedirect
      requestRedirect:
        statusCode: 305
`))
	want := `httproute default/web: spec.rules[0].filters[0].requestRedirect.statusCode: Unsupported value: 305: supported values: "301", "302", "303", "307", "308"`
	if err == nil || err.Error() != want {
		t.Errorf("err = %v, want %s", err, want)
	}
}

// prefixTable is the table of HTTPPathModifier.ReplacePrefixMatch in
// httproute_types.go, row for row.
var prefixTable = []struct{ path, prefix, replace, want string }{
	{"/foo/bar", "/foo", "/xyz", "/xyz/bar"},
	{"/foo/bar", "/foo", "/xyz/", "/xyz/bar"},
	{"/foo/bar", "/foo/", "/xyz", "/xyz/bar"},
	{"/foo/bar", "/foo/", "/xyz/", "/xyz/bar"},
	{"/foo", "/foo", "/xyz", "/xyz"},
	{"/foo/", "/foo", "/xyz", "/xyz/"},
	{"/foo/bar", "/foo", "", "/bar"},
	{"/foo/", "/foo", "", "/"},
	{"/foo", "/foo", "", "/"},
	{"/foo/", "/foo", "/", "/"},
	{"/foo", "/foo", "/", "/"},
}

func TestRewritePrefixTable(t *testing.T) {
	for _, row := range prefixTable {
		t.Run(row.path+" "+row.prefix+" "+row.replace, func(t *testing.T) {
			env := httproutetest.New(t, httproutetest.Options{}, route("r", fmt.Sprintf(`  - matches:
    - path: {type: PathPrefix, value: %q}
    filters:
    - type: URLRewrite
      urlRewrite:
        path: {type: ReplacePrefixMatch, replacePrefixMatch: %q}
    backendRefs:
    - {name: web, port: 80}
`, row.prefix, row.replace)))
			ex := env.Do(httproutetest.Request{Path: row.path + "?q=1"})
			for _, msg := range httproutetest.Check(ex, httproutetest.Want{Status: 200, BackendPath: row.want + "?q=1"}) {
				t.Error(msg)
			}
		})
	}
}

func TestRedirectPrefixTable(t *testing.T) {
	for _, row := range prefixTable {
		t.Run(row.path+" "+row.prefix+" "+row.replace, func(t *testing.T) {
			env := httproutetest.New(t, httproutetest.Options{}, route("r", fmt.Sprintf(`  - matches:
    - path: {type: PathPrefix, value: %q}
    filters:
    - type: RequestRedirect
      requestRedirect:
        path: {type: ReplacePrefixMatch, replacePrefixMatch: %q}
`, row.prefix, row.replace)))
			ex := env.Do(httproutetest.Request{Path: row.path})
			if got, want := ex.Response.Header.Get("Location"), "http://example.com"+row.want; got != want {
				t.Errorf("Location = %q, want %q", got, want)
			}
		})
	}
}

func TestRewriteFullPathAndHostname(t *testing.T) {
	env := httproutetest.New(t, httproutetest.Options{}, route("r", `  - matches:
    - path: {type: PathPrefix, value: /full}
    filters:
    - type: URLRewrite
      urlRewrite:
        hostname: rewritten.example.org
        path: {type: ReplaceFullPath, replaceFullPath: /one}
    backendRefs:
    - {name: web, port: 80}
  - matches:
    - path: {type: PathPrefix, value: /host}
    filters:
    - type: URLRewrite
      urlRewrite:
        hostname: other.example.org
    backendRefs:
    - {name: web, port: 80}
  - matches:
    - path: {type: PathPrefix, value: /empty}
    filters:
    - type: URLRewrite
      urlRewrite:
        path: {type: ReplaceFullPath, replaceFullPath: ""}
    backendRefs:
    - {name: web, port: 80}
`))
	env.Run(t, []httproutetest.Case{
		{Name: "full path and host", Request: httproutetest.Request{Path: "/full/a/b?x=y"},
			Want: httproutetest.Want{Status: 200, BackendPath: "/one?x=y", BackendHost: "rewritten.example.org"}},
		{Name: "host only keeps the path", Request: httproutetest.Request{Path: "/host/%3Ba%20b"},
			Want: httproutetest.Want{Status: 200, BackendPath: "/host/%3Ba%20b", BackendHost: "other.example.org"}},
		{Name: "empty full path is /", Request: httproutetest.Request{Path: "/empty/x"},
			Want: httproutetest.Want{Status: 200, BackendPath: "/", BackendHost: "example.com"}},
	})
}

func TestRewritePrefixOnlyWithPathPrefixMatch(t *testing.T) {
	err := strictErr(t, nil, route("web", `  - matches:
    - path: {type: Exact, value: /a}
    filters:
    - type: URLRewrite
      urlRewrite:
        path: {type: ReplacePrefixMatch, replacePrefixMatch: /b}
    backendRefs:
    - {name: web, port: 80}
`))
	want := `httproute default/web: spec.rules[0].filters[0].urlRewrite.path.replacePrefixMatch: Invalid value: "/b": ReplacePrefixMatch is only compatible with a PathPrefix match`
	if err == nil || err.Error() != want {
		t.Errorf("err = %v\nwant %s", err, want)
	}
}

func TestRequestHeaderModifier(t *testing.T) {
	env := httproutetest.New(t, httproutetest.Options{}, route("r", `  - filters:
    - type: RequestHeaderModifier
      requestHeaderModifier:
        set:
        - {name: x-header-set, value: set-value}
        add:
        - {name: X-Header-Add, value: "add-1,add-2"}
        remove: [x-header-remove]
    backendRefs:
    - {name: web, port: 80}
`))
	env.Run(t, []httproutetest.Case{
		{Name: "no headers", Request: httproutetest.Request{},
			Want: httproutetest.Want{BackendHeader: map[string]string{"X-Header-Set": "set-value", "X-Header-Add": "add-1,add-2"}}},
		{Name: "set overwrites every value, names case-insensitive",
			Request: httproutetest.Request{Header: http.Header{"X-Header-Set": {"a", "b"}, "X-Header-Remove": {"r1", "r2"}}},
			Want: httproutetest.Want{BackendHeader: map[string]string{"X-Header-Set": "set-value"},
				BackendAbsentHeader: []string{"X-Header-Remove"}}},
		{Name: "add appends to multi-valued headers",
			Request: httproutetest.Request{Header: http.Header{"X-Header-Add": {"v1", "v2"}}},
			Want:    httproutetest.Want{BackendHeader: map[string]string{"X-Header-Add": "v1,v2,add-1,add-2"}}},
	})
}

func TestResponseHeaderModifier(t *testing.T) {
	env := httproutetest.New(t, httproutetest.Options{}, route("r", `  - filters:
    - type: ResponseHeaderModifier
      responseHeaderModifier:
        set:
        - {name: X-Set, value: set}
        add:
        - {name: X-Add, value: added}
        remove: [x-remove]
    backendRefs:
    - {name: web, port: 80}
`))
	env.Backend("default", "web", 80).SetHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header()["X-Set"] = []string{"a", "b"}
		w.Header().Set("X-Add", "orig")
		w.Header().Set("X-Remove", "gone")
		if r.URL.Path == "/empty" {
			return // an answer with nothing written
		}
		w.WriteHeader(http.StatusTeapot)
	}))
	want := httproutetest.Want{
		Header:       map[string]string{"X-Set": "set", "X-Add": "orig,added"},
		AbsentHeader: []string{"X-Remove"},
	}
	want.Status = http.StatusTeapot
	env.Run(t, []httproutetest.Case{{Name: "written status", Request: httproutetest.Request{Path: "/x"}, Want: want}})
	want.Status = http.StatusOK
	env.Run(t, []httproutetest.Case{{Name: "implicit 200", Request: httproutetest.Request{Path: "/empty"}, Want: want}})
}

func TestHeaderModifierInvalid(t *testing.T) {
	tests := []struct {
		name, filter, want string
	}{
		{"same name in set and remove, other case",
			"set:\n        - {name: X-A, value: v}\n        remove: [x-a]",
			`httproute default/web: spec.rules[0].filters[0].requestHeaderModifier.remove[0]: Invalid value: "x-a": only one action per header name is permitted (names are case-insensitive)`},
		{"invalid name",
			"add:\n        - {name: \"a b\", value: v}",
			`httproute default/web: spec.rules[0].filters[0].requestHeaderModifier.add[0].name: Invalid value: "a b": must be a valid HTTP header name`},
		{"line break in a value",
			"set:\n        - {name: X-A, value: \"v\\r\\nX-Evil: 1\"}",
			`httproute default/web: spec.rules[0].filters[0].requestHeaderModifier.set[0].value: Invalid value: "v\r\nX-Evil: 1": must not contain control characters other than horizontal tab`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := strictErr(t, nil, route("web", `  - filters:
    - type: RequestHeaderModifier
      requestHeaderModifier:
        `+tc.filter+`
    backendRefs:
    - {name: web, port: 80}
`))
			if err == nil || err.Error() != tc.want {
				t.Errorf("err = %v\nwant %s", err, tc.want)
			}
		})
	}
}

func TestRedirectIncompatibleFilters(t *testing.T) {
	tests := []struct {
		name, rule, want string
	}{
		{"redirect and rewrite", `  - filters:
    - type: RequestRedirect
      requestRedirect: {scheme: https}
    - type: URLRewrite
      urlRewrite: {hostname: a.example.com}
`, `httproute default/web: spec.rules[0].filters: Invalid value: "RequestRedirect, URLRewrite": May specify either httpRouteFilterRequestRedirect or httpRouteFilterRequestRewrite, but not both`},
		{"redirect with backendRefs", `  - filters:
    - type: RequestRedirect
      requestRedirect: {scheme: https}
    backendRefs:
    - {name: web, port: 80}
`, `httproute default/web: spec.rules[0]: Invalid value: "RequestRedirect": RequestRedirect filter must not be used together with backendRefs`},
		{"repeated RequestHeaderModifier", `  - filters:
    - type: RequestHeaderModifier
      requestHeaderModifier: {remove: [a]}
    - type: RequestHeaderModifier
      requestHeaderModifier: {remove: [b]}
    backendRefs:
    - {name: web, port: 80}
`, `httproute default/web: spec.rules[0].filters[1].type: Invalid value: "RequestHeaderModifier": RequestHeaderModifier filter cannot be repeated (also at index 0)`},
		{"repeated CORS at backendRef level", `  - backendRefs:
    - name: web
      port: 80
      filters:
      - type: CORS
        cors: {allowOrigins: ["*"]}
      - type: CORS
        cors: {allowOrigins: ["*"]}
`, `httproute default/web: spec.rules[0].backendRefs[0].filters[1].type: Invalid value: "CORS": CORS filter cannot be repeated (also at index 0)`},
		{"redirect and rewrite at backendRef level", `  - backendRefs:
    - name: web
      port: 80
      filters:
      - type: URLRewrite
        urlRewrite: {hostname: a.example.com}
      - type: RequestRedirect
        requestRedirect: {scheme: https}
`, `httproute default/web: spec.rules[0].backendRefs[0].filters: Invalid value: "RequestRedirect, URLRewrite": May specify either httpRouteFilterRequestRedirect or httpRouteFilterRequestRewrite, but not both`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			// The invalid rule sits beside a valid one: the route is
			// partially invalid and the valid rule serves.
			manifest := route("web", tc.rule+`  - matches:
    - path: {type: PathPrefix, value: /ok}
    backendRefs:
    - {name: web, port: 80}
`)
			env := httproutetest.New(t, httproutetest.Options{NoValidation: true}, manifest)
			st := env.Router.Status().HTTPRoutes[types.NamespacedName{Namespace: "default", Name: "web"}]
			if len(st.Parents) != 1 {
				t.Fatalf("parents = %v", st.Parents)
			}
			pi := findCondition(st.Parents[0].Conditions, string(gatewayv1.RouteConditionPartiallyInvalid))
			if pi == nil || pi.Status != metav1.ConditionTrue || pi.Reason != string(gatewayv1.RouteReasonIncompatibleFilters) {
				t.Errorf("PartiallyInvalid = %+v, want True with reason IncompatibleFilters", pi)
			}
			if ex := env.Do(httproutetest.Request{Path: "/x"}); ex.Response.StatusCode != http.StatusNotFound {
				t.Errorf("the invalid rule answered %d, want 404: it is dropped", ex.Response.StatusCode)
			}
			if ex := env.Do(httproutetest.Request{Path: "/ok"}); ex.Response.StatusCode != http.StatusOK {
				t.Errorf("the valid rule answered %d", ex.Response.StatusCode)
			}

			err := strictErr(t, nil, manifest)
			if err == nil || err.Error() != tc.want {
				t.Errorf("Strict err = %v\nwant %s", err, tc.want)
			}
			var he *httproute.Error
			if !errors.As(err, &he) || he.Reason != string(gatewayv1.RouteReasonIncompatibleFilters) {
				t.Errorf("errors.As = %+v, want an *Error with reason IncompatibleFilters", he)
			}
		})
	}
}

// strictErr builds a Router with Config.Strict from manifests, every
// Service resolving, and returns New's error.
func strictErr(t *testing.T, exts []httproute.Extension, manifests ...string) error {
	t.Helper()
	// Without the CRD validation, which would refuse most of them first:
	// the Router's own checks are under test.
	cfg, err := httproutetest.Options{Extensions: exts, NoValidation: true}.Decode(manifests...)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Extensions = exts
	cfg.Strict = true
	cfg.Services = httproute.ServiceResolverFunc(func(httproute.BackendRef) (httproute.Backend, error) {
		return httproute.Handler(http.NotFoundHandler()), nil
	})
	_, err = httproute.New(cfg)
	return err
}

func findCondition(conds []metav1.Condition, typ string) *metav1.Condition {
	for i := range conds {
		if conds[i].Type == typ {
			return &conds[i]
		}
	}
	return nil
}

// Marker is an extension kind for tests: its filter appends spec.value to
// the X-Order request header, or panics when spec.value is "panic".
type Marker struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`
	Spec              struct {
		Value string `json:"value"`
	} `json:"spec"`
}

func (m *Marker) DeepCopyObject() runtime.Object {
	c := *m
	m.ObjectMeta.DeepCopyInto(&c.ObjectMeta)
	return &c
}

func markerExtension() httproute.Extension {
	return httproute.Extension{
		Kind: schema.GroupVersionKind{Group: "test.example.com", Version: "v1", Kind: "Marker"},
		New:  func() httproute.Object { return &Marker{} },
		Filter: func(ref httproute.ObjectRef) (httproute.Filter, error) {
			v := ref.Object.(*Marker).Spec.Value
			if v == "" {
				return nil, errors.New("spec.value: Required value")
			}
			return httproute.FilterFunc(func(next http.Handler) http.Handler {
				return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					if v == "panic" {
						panic("marker panic")
					}
					r.Header.Add("X-Order", v)
					next.ServeHTTP(w, r)
				})
			}), nil
		},
	}
}

func marker(name, value string) string {
	return fmt.Sprintf(`apiVersion: test.example.com/v1
kind: Marker
metadata: {name: %s, namespace: default}
spec: {value: %q}
`, name, value)
}

func TestFilterOrder(t *testing.T) {
	env := httproutetest.New(t, httproutetest.Options{Extensions: []httproute.Extension{markerExtension()}},
		marker("a", "a"), marker("b", "b"), marker("c", "c"),
		route("r", `  - filters:
    - type: ExtensionRef
      extensionRef: {group: test.example.com, kind: Marker, name: a}
    - type: RequestHeaderModifier
      requestHeaderModifier:
        set:
        - {name: X-Order, value: set}
    - type: ExtensionRef
      extensionRef: {group: test.example.com, kind: Marker, name: b}
    backendRefs:
    - name: web
      port: 80
      filters:
      - type: ExtensionRef
        extensionRef: {group: test.example.com, kind: Marker, name: c}
`))
	env.Run(t, []httproutetest.Case{{
		Name:    "rule filters in list order, then backendRef filters",
		Request: httproutetest.Request{Header: http.Header{"X-Order": {"client"}}},
		Want:    httproutetest.Want{Status: 200, BackendHeader: map[string]string{"X-Order": "set,b,c"}},
	}})
}

func TestExtensionRefUnresolved(t *testing.T) {
	tests := []struct {
		name, ref, reason, message string
	}{
		{"unregistered kind", "{group: other.example.com, kind: Thing, name: a}", "InvalidKind",
			`spec.rules[0].filters[0].extensionRef.kind: Unsupported value: "Thing": supported values: "Marker.test.example.com"`},
		{"missing object", "{group: test.example.com, kind: Marker, name: missing}", "BackendNotFound",
			`spec.rules[0].filters[0].extensionRef.name: Not found: "missing"`},
		{"constructor error", "{group: test.example.com, kind: Marker, name: empty}", "UnsupportedValue",
			`spec.rules[0].filters[0].extensionRef.name: Invalid value: "empty": spec.value: Required value`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			env := httproutetest.New(t, httproutetest.Options{Extensions: []httproute.Extension{markerExtension()}},
				marker("empty", ""),
				route("r", `  - filters:
    - type: ExtensionRef
      extensionRef: `+tc.ref+`
    backendRefs:
    - {name: web, port: 80}
`))
			env.Run(t, []httproutetest.Case{{Name: "500", Want: httproutetest.Want{Status: 500, Backend: "-"}}})
			st := env.Router.Status().HTTPRoutes[types.NamespacedName{Namespace: "default", Name: "r"}]
			rr := findCondition(st.Parents[0].Conditions, string(gatewayv1.RouteConditionResolvedRefs))
			want := &metav1.Condition{Type: "ResolvedRefs", Status: metav1.ConditionFalse, Reason: tc.reason, Message: tc.message}
			if diff := cmp.Diff(want, rr, cmpCondition); diff != "" {
				t.Errorf("ResolvedRefs (-want +got):\n%s", diff)
			}
		})
	}
}

var cmpCondition = cmp.Comparer(func(a, b metav1.Condition) bool {
	return a.Type == b.Type && a.Status == b.Status && a.Reason == b.Reason && a.Message == b.Message
})

// syncBuffer is a log destination safe for concurrent writes.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func TestExtensionRefPanicIsRecovered(t *testing.T) {
	var logs syncBuffer
	env := httproutetest.New(t, httproutetest.Options{
		Extensions: []httproute.Extension{markerExtension()},
		Logger:     slog.New(slog.NewTextHandler(&logs, nil)),
		Network:    true,
	}, marker("boom", "panic"), route("r", `  - filters:
    - type: ExtensionRef
      extensionRef: {group: test.example.com, kind: Marker, name: boom}
    backendRefs:
    - {name: web, port: 80}
`))
	for range 2 {
		env.Run(t, []httproutetest.Case{{Name: "500", Want: httproutetest.Want{Status: 500, Backend: "-"}}})
	}
	if got := strings.Count(logs.String(), `msg="panic in filter" filter="Marker.test.example.com default/boom" panic="marker panic"`); got != 2 {
		t.Errorf("logged %d panics, want 2:\n%s", got, logs.String())
	}
}

func nn(namespace, name string) types.NamespacedName {
	return types.NamespacedName{Namespace: namespace, Name: name}
}
