package httproute_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
	"sigs.k8s.io/yaml"

	"github.com/httproute/httproute"
)

// twoPortGateway is a Gateway with a public listener on port 80 and an
// admin one on port 8080, each with its own route.
func twoPortGateway(t *testing.T) httproute.Config {
	t.Helper()
	var gw gatewayv1.Gateway
	var web, admin gatewayv1.HTTPRoute
	for doc, obj := range map[string]any{
		`metadata: {name: gw, namespace: default}
spec:
  gatewayClassName: c
  listeners:
  - {name: web, port: 80, protocol: HTTP}
  - {name: admin, port: 8080, protocol: HTTP}`: &gw,
		`metadata: {name: web, namespace: default}
spec:
  parentRefs: [{name: gw, sectionName: web}]
  rules: [{backendRefs: [{name: web, port: 80}]}]`: &web,
		`metadata: {name: admin, namespace: default}
spec:
  parentRefs: [{name: gw, sectionName: admin}]
  rules: [{matches: [{path: {value: /admin}}], backendRefs: [{name: admin, port: 80, weight: 3}]}]`: &admin,
	} {
		if err := yaml.UnmarshalStrict([]byte(doc), obj); err != nil {
			t.Fatal(err)
		}
	}
	return httproute.Config{
		Gateways:   []*gatewayv1.Gateway{&gw},
		HTTPRoutes: []*gatewayv1.HTTPRoute{&web, &admin},
		Services:   httproute.Services{{Namespace: "default", Name: "web", Port: 80}: named("web"), {Namespace: "default", Name: "admin", Port: 80}: named("admin")},
	}
}

// TestLookupByPort: Port(p).Lookup asks as if the request arrived on
// listener port p, and the Match says which port's listener it is.
func TestLookupByPort(t *testing.T) {
	rt, err := httproute.New(twoPortGateway(t))
	if err != nil {
		t.Fatal(err)
	}
	type result struct {
		OK              bool
		Route, Listener string
		Port            int32
	}
	got := map[int32]result{}
	for _, port := range []int32{80, 8080} {
		m, ok := rt.Port(port).Lookup(httptest.NewRequest("GET", "/admin/users", nil))
		got[port] = result{ok, m.Route.Name, string(m.Listener), m.Port}
	}
	want := map[int32]result{
		80:   {true, "web", "web", 80},
		8080: {true, "admin", "admin", 8080},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("lookups (-want +got):\n%s", diff)
	}
	if m, ok := rt.Gateway("default", "gw").Port(8080).Lookup(httptest.NewRequest("GET", "/", nil)); ok {
		t.Errorf("port 8080 serves / with %s; want no route", m.Route)
	}
}

// TestLookupReturnsTheCallersValue: changing what Lookup returned changes
// nothing in the Router.
func TestLookupReturnsTheCallersValue(t *testing.T) {
	rt, err := httproute.New(twoPortGateway(t))
	if err != nil {
		t.Fatal(err)
	}
	req := httptest.NewRequest("GET", "/admin", nil)
	m, _ := rt.Port(8080).Lookup(req)
	m.Route.Name = "changed"
	m.Backends[0].Weight = 99
	again, _ := rt.Port(8080).Lookup(req)
	if again.Route.Name != "admin" || again.Backends[0].Weight != 3 {
		t.Errorf("after changing a Lookup result, Lookup says route %s weight %d; want admin, 3", again.Route.Name, again.Backends[0].Weight)
	}
}

// handlerAndRoundTripper is a Backend that also has a ServeHTTP method,
// as a decorating wrapper may have: it is not an in-process backend.
type handlerAndRoundTripper struct{}

func (handlerAndRoundTripper) RoundTrip(r *http.Request) (*http.Response, error) {
	return &http.Response{StatusCode: 200, Header: http.Header{}, Body: io.NopCloser(strings.NewReader("round trip")), Request: r}, nil
}

func (handlerAndRoundTripper) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	io.WriteString(w, "serve http")
}

// TestOnlyInProcessBackendsAreServedInProcess: a Backend is served
// through ServeHTTP only when InProcess (or Limit of it) made it, never
// because it happens to have a ServeHTTP method.
func TestOnlyInProcessBackendsAreServedInProcess(t *testing.T) {
	inProcess := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "in process") })
	cases := map[string]httproute.Backend{
		"round trip":           handlerAndRoundTripper{},
		"in process":           httproute.InProcess(inProcess),
		"in process (limited)": httproute.Limit(httproute.InProcess(inProcess), httproute.Limits{MaxRequests: 10}),
		"round trip (limited)": httproute.Limit(handlerAndRoundTripper{}, httproute.Limits{MaxRequests: 10}),
	}
	for want, b := range cases {
		rt := inProcessRouter(t, "- backendRefs: [{name: a, port: 80}]\n", httproute.Config{}, map[string]httproute.Backend{"a": b})
		if _, body := serve(rt, "/"); body != strings.TrimSuffix(want, " (limited)") {
			t.Errorf("%s: body %q", want, body)
		}
	}
}
