package httproute_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"

	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
	"sigs.k8s.io/yaml"

	"github.com/httproute/httproute"
)

// A host program wraps its existing handlers as Services and routes to
// them with an HTTPRoute, in process.
func ExampleNew() {
	var route gatewayv1.HTTPRoute
	_ = yaml.Unmarshal([]byte(`
metadata: {name: shop, namespace: default}
spec:
  rules:
  - matches: [{path: {type: PathPrefix, value: /api}}]
    backendRefs: [{name: api, port: 8080}]
  - backendRefs: [{name: web, port: 80}]
`), &route)

	api := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, "api:", r.URL.Path) })
	web := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, "web:", r.URL.Path) })
	router, err := httproute.New(httproute.Config{
		HTTPRoutes: []*gatewayv1.HTTPRoute{&route},
		Services: httproute.Services{
			{Namespace: "default", Name: "api", Port: 8080}: httproute.Handler(api),
			{Namespace: "default", Name: "web", Port: 80}:   httproute.Handler(web),
		},
	})
	if err != nil {
		panic(err)
	}
	for _, path := range []string{"/api/orders", "/apix", "/"} {
		rec := httptest.NewRecorder()
		router.ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
		body, _ := io.ReadAll(rec.Body)
		fmt.Print(string(body))
	}
	// Output:
	// api: /api/orders
	// web: /apix
	// web: /
}

// Lookup reports how a request would be routed without serving it: the
// building block of table-driven tests of a routing configuration.
func ExampleRouter_Lookup() {
	var route gatewayv1.HTTPRoute
	_ = yaml.Unmarshal([]byte(`
metadata: {name: httpbin, namespace: default}
spec:
  hostnames: [httpbin.example.com]
  rules:
  - matches:
    - path: {type: PathPrefix, value: /status}
      headers: [{name: user, value: me}]
    backendRefs: [{name: httpbin-v1, port: 8000}]
  - matches:
    - path: {type: Exact, value: /headers}
    - headers: [{name: version, value: "3"}]
    backendRefs: [{name: httpbin-v3, port: 8000}]
`), &route)
	router, err := httproute.New(httproute.Config{HTTPRoutes: []*gatewayv1.HTTPRoute{&route}})
	if err != nil {
		panic(err)
	}

	tests := []struct {
		path    string
		headers map[string]string
	}{
		{"/status/200", map[string]string{"User": "me"}},
		{"/status/200", nil},
		{"/headers", nil},
		{"/anything", map[string]string{"Version": "3"}},
	}
	for _, tt := range tests {
		req := httptest.NewRequest("GET", "http://httpbin.example.com"+tt.path, nil)
		for k, v := range tt.headers {
			req.Header.Set(k, v)
		}
		m, ok := router.Lookup(req)
		if !ok {
			fmt.Printf("%s %v: no route (404)\n", tt.path, tt.headers)
			continue
		}
		fmt.Printf("%s %v: %s rule %d match %d -> %s\n", tt.path, tt.headers, m.Route, m.Rule, m.MatchIndex, m.Backends[0].Ref.Name)
	}
	// Output:
	// /status/200 map[User:me]: default/httpbin rule 0 match 0 -> httpbin-v1
	// /status/200 map[]: no route (404)
	// /headers map[]: default/httpbin rule 1 match 0 -> httpbin-v3
	// /anything map[Version:3]: default/httpbin rule 1 match 1 -> httpbin-v3
}
