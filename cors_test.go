package httproute_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/httproute/httproute/httproutetest"
	"github.com/httproute/httproute/validation"
)

// corsConformanceRoutes are the routes of the upstream conformance test
// HTTPRouteCORS (tests/httproute-cors.yaml), without parentRefs.
const corsConformanceRoutes = `apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: cors-multiple-origins-methods-headers, namespace: default}
spec:
  rules:
  - filters:
    - type: CORS
      cors:
        allowOrigins: ["https://www.foo.com", "https://*.bar.com"]
        allowMethods: [GET, OPTIONS]
        allowHeaders: ["x-header-1", "x-header-2"]
        exposeHeaders: ["x-header-3", "x-header-4"]
        allowCredentials: true
        maxAge: 3600
    matches:
    - path: {type: PathPrefix, value: /cors-1}
    backendRefs:
    - {name: web, port: 80}
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: cors-wildcard-methods, namespace: default}
spec:
  rules:
  - filters:
    - type: CORS
      cors:
        allowOrigins: ["https://www.foo.com"]
        allowMethods: ["*"]
    matches:
    - path: {type: PathPrefix, value: /cors-2}
    backendRefs:
    - {name: web, port: 80}
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: cors-wildcard-origin, namespace: default}
spec:
  rules:
  - filters:
    - type: CORS
      cors:
        allowOrigins: ["*"]
        allowMethods: ["PUT"]
        allowCredentials: false
    matches:
    - path: {type: PathPrefix, value: /cors-wildcard-origin}
    backendRefs:
    - {name: web, port: 80}
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: cors-wildcard-methods-headers, namespace: default}
spec:
  rules:
  - filters:
    - type: CORS
      cors:
        allowOrigins: ["*"]
        allowMethods: ["*"]
        allowHeaders: ["*"]
        exposeHeaders: ["*"]
        allowCredentials: true
    matches:
    - path: {type: PathPrefix, value: /cors-wildcard-methods-headers}
    backendRefs:
    - {name: web, port: 80}
  - filters:
    - type: CORS
      cors:
        allowOrigins: ["*"]
        allowMethods: ["*"]
        allowHeaders: ["*"]
        exposeHeaders: ["*", "X-Extra"]
        allowCredentials: false
    matches:
    - path: {type: PathPrefix, value: /cors-wildcard-methods-headers-unauth}
    backendRefs:
    - {name: web, port: 80}
`

func preflight(path, origin, method, headers string) httproutetest.Request {
	h := http.Header{"Origin": {origin}, "Access-Control-Request-Method": {method}}
	if headers != "" {
		h.Set("Access-Control-Request-Headers", headers)
	}
	return httproutetest.Request{Method: http.MethodOptions, Path: path, Header: h}
}

func withOrigin(method, path, origin string) httproutetest.Request {
	return httproutetest.Request{Method: method, Path: path, Header: http.Header{"Origin": {origin}}}
}

func TestCORSConformance(t *testing.T) {
	env := httproutetest.New(t, httproutetest.Options{}, corsConformanceRoutes)
	const preflightVary = "Origin,Access-Control-Request-Method,Access-Control-Request-Headers"
	allowed1 := func(origin string) httproutetest.Want {
		return httproutetest.Want{
			Status: http.StatusNoContent,
			Header: map[string]string{
				"Access-Control-Allow-Origin":      origin,
				"Access-Control-Allow-Methods":     "GET, OPTIONS",
				"Access-Control-Allow-Headers":     "x-header-1, x-header-2",
				"Access-Control-Expose-Headers":    "x-header-3, x-header-4",
				"Access-Control-Max-Age":           "3600",
				"Access-Control-Allow-Credentials": "true",
				"Vary":                             preflightVary,
			},
			Backend: "-",
		}
	}
	env.Run(t, []httproutetest.Case{
		{Name: "preflight from an exact origin",
			Request: preflight("/cors-1", "https://www.foo.com", "GET", "x-header-1, x-header-2"),
			Want:    allowed1("https://www.foo.com")},
		{Name: "preflight from a wildcard origin",
			Request: preflight("/cors-1", "https://www.bar.com", "GET", "x-header-1, x-header-2"),
			Want:    allowed1("https://www.bar.com")},
		{Name: "preflight from a wildcard origin with several labels left of '*'",
			Request: preflight("/cors-1", "https://xpto.www.bar.com", "GET", "x-header-1, x-header-2"),
			Want:    allowed1("https://xpto.www.bar.com")},
		{Name: "preflight from a non-matching origin is answered without CORS headers",
			Request: preflight("/cors-1", "https://foobar.com", "GET", ""),
			Want: httproutetest.Want{Status: http.StatusNoContent, Backend: "-",
				Header:       map[string]string{"Vary": preflightVary},
				AbsentHeader: []string{"Access-Control-Allow-Origin", "Access-Control-Allow-Credentials", "Access-Control-Allow-Methods"}}},
		{Name: "simple request from an exact origin",
			Request: withOrigin("GET", "/cors-1", "https://www.foo.com"),
			Want: httproutetest.Want{Status: 200, Backend: "default/web:80", Header: map[string]string{
				"Access-Control-Allow-Origin":      "https://www.foo.com",
				"Access-Control-Allow-Credentials": "true",
				"Access-Control-Expose-Headers":    "x-header-3, x-header-4",
				"Vary":                             "Origin",
			}}},
		{Name: "simple request from a wildcard origin",
			Request: withOrigin("GET", "/cors-1", "https://www.bar.com"),
			Want:    httproutetest.Want{Status: 200, Header: map[string]string{"Access-Control-Allow-Origin": "https://www.bar.com"}}},
		{Name: "simple request from a non-matching origin",
			Request: withOrigin("GET", "/cors-1", "https://foobar.com"),
			Want: httproutetest.Want{Status: 200, Header: map[string]string{"Vary": "Origin"},
				AbsentHeader: []string{"Access-Control-Allow-Origin", "Access-Control-Allow-Credentials", "Access-Control-Expose-Headers"}}},
		{Name: "allowMethods '*' echoes the requested method",
			Request: preflight("/cors-2", "https://www.foo.com", "POST", ""),
			Want: httproutetest.Want{Status: http.StatusNoContent, Backend: "-",
				Header: map[string]string{
					"Access-Control-Allow-Origin":  "https://www.foo.com",
					"Access-Control-Allow-Methods": "POST",
					"Access-Control-Max-Age":       "5",
				},
				AbsentHeader: []string{"Access-Control-Allow-Credentials", "Access-Control-Allow-Headers"}}},
		{Name: "allowOrigins '*' echoes the origin, port included",
			Request: preflight("/cors-wildcard-origin", "https://foobar.com:12345", "PUT", ""),
			Want: httproutetest.Want{Status: http.StatusNoContent,
				Header:       map[string]string{"Access-Control-Allow-Origin": "https://foobar.com:12345", "Access-Control-Allow-Methods": "PUT"},
				AbsentHeader: []string{"Access-Control-Allow-Credentials"}}},
		{Name: "actual request, allowOrigins '*'",
			Request: withOrigin("PUT", "/cors-wildcard-origin", "https://foobar.com:12345"),
			Want: httproutetest.Want{Status: 200, Backend: "default/web:80",
				Header:       map[string]string{"Access-Control-Allow-Origin": "https://foobar.com:12345"},
				AbsentHeader: []string{"Access-Control-Allow-Credentials"}}},
		{Name: "wildcards with credentials echo origin, method and headers",
			Request: preflight("/cors-wildcard-methods-headers", "https://other.foo.com", "PUT", "x-header-1, x-header-2"),
			Want: httproutetest.Want{Status: http.StatusNoContent, Header: map[string]string{
				"Access-Control-Allow-Origin":      "https://other.foo.com",
				"Access-Control-Allow-Methods":     "PUT",
				"Access-Control-Allow-Headers":     "x-header-1, x-header-2",
				"Access-Control-Allow-Credentials": "true",
			}, AbsentHeader: []string{"Access-Control-Expose-Headers"}}},
		{Name: "allowHeaders '*' without Access-Control-Request-Headers omits Allow-Headers",
			Request: preflight("/cors-wildcard-methods-headers", "https://other.foo.com", "PUT", ""),
			Want: httproutetest.Want{Status: http.StatusNoContent,
				AbsentHeader: []string{"Access-Control-Allow-Headers"}}},
		{Name: "wildcards without credentials",
			Request: preflight("/cors-wildcard-methods-headers-unauth", "https://other.foo.com", "PUT", "x-header-1"),
			Want: httproutetest.Want{Status: http.StatusNoContent, Header: map[string]string{
				"Access-Control-Allow-Origin":   "https://other.foo.com",
				"Access-Control-Allow-Methods":  "PUT",
				"Access-Control-Allow-Headers":  "x-header-1",
				"Access-Control-Expose-Headers": "*, X-Extra",
			}, AbsentHeader: []string{"Access-Control-Allow-Credentials"}}},
		{Name: "actual request with credentials",
			Request: withOrigin("GET", "/cors-wildcard-methods-headers", "https://other.foo.com"),
			Want: httproutetest.Want{Status: 200, Header: map[string]string{
				"Access-Control-Allow-Origin":      "https://other.foo.com",
				"Access-Control-Allow-Credentials": "true",
				// exposeHeaders '*' with credentials: the answer's own
				// header names, as '*' would be read as a name.
				"Access-Control-Expose-Headers": httproutetest.BackendHeader,
			}}},
		{Name: "actual request without credentials",
			Request: withOrigin("GET", "/cors-wildcard-methods-headers-unauth", "https://other.foo.com"),
			Want: httproutetest.Want{Status: 200,
				Header:       map[string]string{"Access-Control-Allow-Origin": "https://other.foo.com", "Access-Control-Expose-Headers": "*, X-Extra"},
				AbsentHeader: []string{"Access-Control-Allow-Credentials"}}},
		{Name: "OPTIONS without Access-Control-Request-Method is not a preflight",
			Request: httproutetest.Request{Method: http.MethodOptions, Path: "/cors-1", Header: http.Header{"Origin": {"https://www.foo.com"}}},
			Want: httproutetest.Want{Status: 200, Backend: "default/web:80",
				Header: map[string]string{"Access-Control-Allow-Origin": "https://www.foo.com"}}},
	})
}

func TestCORSOriginMatching(t *testing.T) {
	tests := []struct {
		allow   string
		origin  string
		allowed bool
		reason  string
	}{
		{"https://www.foo.com", "https://www.foo.com", true, ""},
		{"https://www.foo.com", "https://WWW.Foo.com", true, "scheme and host are case-insensitive"},
		{"https://www.foo.com", "http://www.foo.com", false, "another scheme"},
		{"https://www.foo.com", "https://www.foo.com:443", true, "443 is assumed for https"},
		{"https://www.foo.com:443", "https://www.foo.com", true, ""},
		{"http://www.foo.com", "http://www.foo.com:80", true, "80 is assumed for http"},
		{"https://www.foo.com", "https://www.foo.com:8443", false, "another port"},
		{"https://www.foo.com:8443", "https://www.foo.com:8443", true, ""},
		{"https://*.bar.com", "https://a.bar.com", true, ""},
		{"https://*.bar.com", "https://a.b.c.bar.com", true, "'*' is greedy to the left"},
		{"https://*.bar.com", "https://bar.com", false, "'*.' needs at least one label"},
		{"https://*.bar.com", "https://abar.com", false, "labels, not characters"},
		{"https://*.bar.com", "https://a.bar.com.evil.com", false, ""},
		{"https://*.bar.com", "https://a.bar.com:8443", false, "the port of the pattern is 443"},
		{"https://*", "https://anything.example", true, "a wildcard host matches every host"},
		{"https://*", "http://anything.example", false, "of the pattern's scheme"},
		{"*", "null", true, "'*' allows every origin"},
		{"https://www.foo.com", "null", false, "an opaque origin matches no pattern"},
		{"https://www.foo.com", "https://www.foo.com/", false, "an origin has no path"},
		{"https://www.foo.com", "https://user@www.foo.com", false, ""},
	}
	for _, tc := range tests {
		t.Run(tc.allow+" "+tc.origin, func(t *testing.T) {
			env := httproutetest.New(t, httproutetest.Options{}, route("r", fmt.Sprintf(`  - filters:
    - type: CORS
      cors:
        allowOrigins: [%q]
    backendRefs:
    - {name: web, port: 80}
`, tc.allow)))
			ex := env.Do(withOrigin("GET", "/", tc.origin))
			got := ex.Response.Header.Get("Access-Control-Allow-Origin")
			switch {
			case tc.allowed && got != tc.origin:
				t.Errorf("Access-Control-Allow-Origin = %q, want %q (%s)", got, tc.origin, tc.reason)
			case !tc.allowed && got != "":
				t.Errorf("Access-Control-Allow-Origin = %q, want none (%s)", got, tc.reason)
			}
		})
	}
}

func TestCORSReplacesBackendHeaders(t *testing.T) {
	env := httproutetest.New(t, httproutetest.Options{}, route("r", `  - filters:
    - type: CORS
      cors:
        allowOrigins: ["https://a.example"]
    backendRefs:
    - {name: web, port: 80}
`))
	env.Backend("default", "web", 80).SetHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Access-Control-Allow-Origin", "*")
		w.Header().Set("Access-Control-Allow-Credentials", "true")
		w.Header().Set("Vary", "Accept-Encoding")
	}))
	env.Run(t, []httproutetest.Case{
		{Name: "allowed origin", Request: withOrigin("GET", "/", "https://a.example"),
			Want: httproutetest.Want{Status: 200,
				Header:       map[string]string{"Access-Control-Allow-Origin": "https://a.example", "Vary": "Accept-Encoding,Origin"},
				AbsentHeader: []string{"Access-Control-Allow-Credentials"}}},
		{Name: "refused origin", Request: withOrigin("GET", "/", "https://b.example"),
			Want: httproutetest.Want{Status: 200, Header: map[string]string{"Vary": "Accept-Encoding,Origin"},
				AbsentHeader: []string{"Access-Control-Allow-Origin", "Access-Control-Allow-Credentials"}}},
		{Name: "no origin", Request: httproutetest.Request{},
			Want: httproutetest.Want{Status: 200, Header: map[string]string{"Vary": "Accept-Encoding,Origin"},
				AbsentHeader: []string{"Access-Control-Allow-Origin"}}},
	})
}

func TestCORSAtBackendRefLevel(t *testing.T) {
	env := httproutetest.New(t, httproutetest.Options{}, route("r", `  - backendRefs:
    - name: web
      port: 80
      filters:
      - type: CORS
        cors:
          allowOrigins: ["https://a.example"]
          allowMethods: [DELETE]
`))
	env.Run(t, []httproutetest.Case{{Name: "preflight", Request: preflight("/", "https://a.example", "DELETE", ""),
		Want: httproutetest.Want{Status: http.StatusNoContent, Backend: "-",
			Header: map[string]string{"Access-Control-Allow-Origin": "https://a.example", "Access-Control-Allow-Methods": "DELETE"}}}})
}

func TestCORSInvalid(t *testing.T) {
	tests := []struct{ name, cors, want string }{
		{"'*' with other origins", `allowOrigins: ["*", "https://a.example"]`,
			`httproute default/web: spec.rules[0].filters[0].cors.allowOrigins: Invalid value: "*": AllowOrigins cannot contain '*' alongside other origins`},
		{"origin with a path", `allowOrigins: ["https://a.example/x"]`,
			`httproute default/web: spec.rules[0].filters[0].cors.allowOrigins[0]: Invalid value: "https://a.example/x": must be '*' or <scheme>://<host>(:<port>) with scheme http or https, a host that may start with '*.' or be '*', and a port from 1 to 65535`},
		{"ftp origin", `allowOrigins: ["ftp://a.example"]`,
			`httproute default/web: spec.rules[0].filters[0].cors.allowOrigins[0]: Invalid value: "ftp://a.example": must be '*' or <scheme>://<host>(:<port>) with scheme http or https, a host that may start with '*.' or be '*', and a port from 1 to 65535`},
		{"unknown method", `allowMethods: [FETCH]`,
			`httproute default/web: spec.rules[0].filters[0].cors.allowMethods[0]: Unsupported value: "FETCH": supported values: "GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH", "*"`},
		{"'*' with other methods", `allowMethods: ["*", GET]`,
			`httproute default/web: spec.rules[0].filters[0].cors.allowMethods: Invalid value: "*": AllowMethods cannot contain '*' alongside other methods`},
		{"'*' with other headers", `allowHeaders: [X-A, "*"]`,
			`httproute default/web: spec.rules[0].filters[0].cors.allowHeaders: Invalid value: "*": AllowHeaders cannot contain '*' alongside other headers`},
		{"negative maxAge", `maxAge: -1`,
			`httproute default/web: spec.rules[0].filters[0].cors.maxAge: Invalid value: -1: should be greater than or equal to 1`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := strictErr(t, nil, route("web", `  - filters:
    - type: CORS
      cors: {`+tc.cors+`}
    backendRefs:
    - {name: web, port: 80}
`))
			if err == nil || err.Error() != tc.want {
				t.Errorf("err = %v\nwant %s", err, tc.want)
			}
		})
	}
}

func TestCORSPreflightEndsTheChain(t *testing.T) {
	// A CORS filter listed before ExternalAuth answers preflights before
	// the auth backend is asked: browsers send no credentials with them.
	env := httproutetest.New(t, httproutetest.Options{Channel: validation.Experimental}, route("r", `  - filters:
    - type: CORS
      cors: {allowOrigins: ["https://a.example"]}
    - type: ExternalAuth
      externalAuth:
        protocol: HTTP
        backendRef: {name: auth, port: 80}
        http: {}
    backendRefs:
    - {name: web, port: 80}
`))
	auth := env.Backend("default", "auth", 80)
	auth.SetHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusUnauthorized)
	}))
	ex := env.Do(preflight("/", "https://a.example", "PUT", ""))
	if ex.Response.StatusCode != http.StatusNoContent || len(auth.Received()) != 0 {
		t.Errorf("preflight: status %d, auth asked %d times; want 204 without asking", ex.Response.StatusCode, len(auth.Received()))
	}
	ex = env.Do(withOrigin("GET", "/", "https://a.example"))
	if ex.Response.StatusCode != http.StatusUnauthorized || ex.Response.Header.Get("Access-Control-Allow-Origin") != "https://a.example" {
		t.Errorf("actual request: status %d, headers %v; want 401 from the auth backend with CORS headers", ex.Response.StatusCode, ex.Response.Header)
	}
	if !strings.Contains(ex.Response.Header.Get("Vary"), "Origin") {
		t.Errorf("Vary = %q", ex.Response.Header.Get("Vary"))
	}
}
