package httproute_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
	"sigs.k8s.io/yaml"

	"github.com/httproute/httproute"
)

func TestSmoke(t *testing.T) {
	var hr gatewayv1.HTTPRoute
	if err := yaml.Unmarshal([]byte(`
metadata: {name: web, namespace: default}
spec:
  hostnames: [example.com]
  rules:
  - matches: [{path: {type: PathPrefix, value: /v2}}]
    backendRefs: [{name: v2, port: 80}]
  - backendRefs: [{name: v1, port: 80}]
  - matches: [{path: {type: Exact, value: /v2/x}}]
    filters:
    - type: RequestRedirect
      requestRedirect: {scheme: https, statusCode: 301}
`), &hr); err != nil {
		t.Fatal(err)
	}
	echo := func(name string) httproute.Backend {
		return httproute.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprintf(w, "%s %s", name, r.URL.Path)
		}))
	}
	rt, err := httproute.New(httproute.Config{
		HTTPRoutes: []*gatewayv1.HTTPRoute{&hr},
		Services: httproute.Services{
			{Namespace: "default", Name: "v1", Port: 80}: echo("v1"),
			{Namespace: "default", Name: "v2", Port: 80}: echo("v2"),
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		host, path, want string
		code             int
	}{
		{"example.com", "/v2", "v2 /v2", 200},
		{"example.com", "/v2example", "v1 /v2example", 200},
		{"EXAMPLE.com:8080", "/v2/y", "v2 /v2/y", 200},
		{"other.com", "/v2", "", 404},
		{"example.com", "/v2/x", "", 301},
	} {
		req := httptest.NewRequest("GET", "http://"+tc.host+tc.path, nil)
		rec := httptest.NewRecorder()
		rt.ServeHTTP(rec, req)
		body, _ := io.ReadAll(rec.Body)
		if rec.Code != tc.code || (tc.want != "" && string(body) != tc.want) {
			t.Errorf("%s%s: got %d %q %v", tc.host, tc.path, rec.Code, body, rec.Header())
		}
	}
	t.Logf("%+v", rt.Status())
}
