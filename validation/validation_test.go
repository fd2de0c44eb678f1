package validation_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/validation/field"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/httproute/httproute"
	"github.com/httproute/httproute/validation"
)

func ptr[T any](v T) *T { return &v }

// TestDefaults checks the CRD defaults applied to a typed route built in Go
// with nothing but what a user must write.
func TestDefaults(t *testing.T) {
	route := &gatewayv1.HTTPRoute{
		ObjectMeta: metav1.ObjectMeta{Name: "web"},
		Spec: gatewayv1.HTTPRouteSpec{
			CommonRouteSpec: gatewayv1.CommonRouteSpec{ParentRefs: []gatewayv1.ParentReference{{Name: "gw"}}},
			Rules: []gatewayv1.HTTPRouteRule{{
				Matches: []gatewayv1.HTTPRouteMatch{{Headers: []gatewayv1.HTTPHeaderMatch{{Name: "x", Value: "y"}}}},
				BackendRefs: []gatewayv1.HTTPBackendRef{{BackendRef: gatewayv1.BackendRef{
					BackendObjectReference: gatewayv1.BackendObjectReference{Name: "web", Port: ptr(gatewayv1.PortNumber(80))},
				}}},
			}, {
				Filters: []gatewayv1.HTTPRouteFilter{{
					Type:            gatewayv1.HTTPRouteFilterRequestRedirect,
					RequestRedirect: &gatewayv1.HTTPRequestRedirectFilter{Scheme: ptr("https")},
				}},
			}},
		},
		Status: gatewayv1.HTTPRouteStatus{RouteStatus: gatewayv1.RouteStatus{Parents: []gatewayv1.RouteParentStatus{{ControllerName: "example.com/c"}}}},
	}
	if errs := validators[validation.Standard].Validate(route); len(errs) > 0 {
		t.Fatalf("Validate: %v", errs)
	}
	want := gatewayv1.HTTPRouteSpec{
		CommonRouteSpec: gatewayv1.CommonRouteSpec{ParentRefs: []gatewayv1.ParentReference{{
			Group: ptr(gatewayv1.Group(gatewayv1.GroupName)),
			Kind:  ptr(gatewayv1.Kind("Gateway")),
			Name:  "gw",
		}}},
		Rules: []gatewayv1.HTTPRouteRule{{
			Matches: []gatewayv1.HTTPRouteMatch{{
				Path:    &gatewayv1.HTTPPathMatch{Type: ptr(gatewayv1.PathMatchPathPrefix), Value: ptr("/")},
				Headers: []gatewayv1.HTTPHeaderMatch{{Type: ptr(gatewayv1.HeaderMatchExact), Name: "x", Value: "y"}},
			}},
			BackendRefs: []gatewayv1.HTTPBackendRef{{BackendRef: gatewayv1.BackendRef{
				BackendObjectReference: gatewayv1.BackendObjectReference{
					Group: ptr(gatewayv1.Group("")),
					Kind:  ptr(gatewayv1.Kind("Service")),
					Name:  "web",
					Port:  ptr(gatewayv1.PortNumber(80)),
				},
				Weight: ptr(int32(1)),
			}}},
		}, {
			Matches: []gatewayv1.HTTPRouteMatch{{
				Path: &gatewayv1.HTTPPathMatch{Type: ptr(gatewayv1.PathMatchPathPrefix), Value: ptr("/")},
			}},
			Filters: []gatewayv1.HTTPRouteFilter{{
				Type:            gatewayv1.HTTPRouteFilterRequestRedirect,
				RequestRedirect: &gatewayv1.HTTPRequestRedirectFilter{Scheme: ptr("https"), StatusCode: ptr(302)},
			}},
		}},
	}
	if diff := cmp.Diff(want, route.Spec); diff != "" {
		t.Errorf("spec after defaulting (-want +got):\n%s", diff)
	}
	if route.Namespace != "default" {
		t.Errorf("namespace = %q, want default", route.Namespace)
	}
	if len(route.Status.Parents) != 1 || route.Status.Parents[0].ControllerName != "example.com/c" {
		t.Errorf("status was changed: %+v", route.Status)
	}
}

// TestGatewayDefaults checks the defaults of a Gateway listener, from
// YAML through the unstructured path the manifest loader takes.
func TestGatewayDefaults(t *testing.T) {
	objs, err := readDocuments([]byte(gatewayHead + "  listeners: [{name: http, protocol: HTTP, port: 80}]\n"))
	if err != nil {
		t.Fatal(err)
	}
	if errs := validators[validation.Standard].Validate(objs[0]); len(errs) > 0 {
		t.Fatalf("Validate: %v", errs)
	}
	got, _, _ := unstructured.NestedSlice(objs[0].Object, "spec", "listeners")
	want := []any{map[string]any{
		"name": "http", "protocol": "HTTP", "port": int64(80),
		"allowedRoutes": map[string]any{"namespaces": map[string]any{"from": "Same"}},
	}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("listeners after defaulting (-want +got):\n%s", diff)
	}
	if ns := objs[0].GetNamespace(); ns != "default" {
		t.Errorf("namespace = %q, want default", ns)
	}
}

// TestExperimentalDefaults checks a default that only the experimental
// channel has: the session persistence type.
func TestExperimentalDefaults(t *testing.T) {
	objs, err := readDocuments([]byte(routeHead + "  rules:\n  - sessionPersistence: {cookie: {name: s}}\n    backendRefs: [{name: web, port: 80}]\n"))
	if err != nil {
		t.Fatal(err)
	}
	if errs := validators[validation.Experimental].Validate(objs[0]); len(errs) > 0 {
		t.Fatalf("Validate: %v", errs)
	}
	rules, _, _ := unstructured.NestedSlice(objs[0].Object, "spec", "rules")
	got := rules[0].(map[string]any)["sessionPersistence"]
	want := map[string]any{"cookie": map[string]any{"name": "s", "path": "/", "lifetimeType": "Session"}, "type": "Cookie"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("sessionPersistence after defaulting (-want +got):\n%s", diff)
	}
}

// TestConfig validates a Config built from Go structs: problems come as
// *httproute.Error values naming the object, core objects get the metadata
// checks, and defaults are applied in place.
func TestConfig(t *testing.T) {
	good := &gatewayv1.HTTPRoute{
		ObjectMeta: metav1.ObjectMeta{Name: "good", Namespace: "apps"},
		Spec: gatewayv1.HTTPRouteSpec{Rules: []gatewayv1.HTTPRouteRule{{
			BackendRefs: []gatewayv1.HTTPBackendRef{{BackendRef: gatewayv1.BackendRef{
				BackendObjectReference: gatewayv1.BackendObjectReference{Name: "web", Port: ptr(gatewayv1.PortNumber(80))},
			}}},
		}}},
	}
	bad := &gatewayv1.HTTPRoute{
		ObjectMeta: metav1.ObjectMeta{Name: "bad", Namespace: "apps"},
		Spec: gatewayv1.HTTPRouteSpec{Rules: []gatewayv1.HTTPRouteRule{{
			Matches: []gatewayv1.HTTPRouteMatch{{Path: &gatewayv1.HTTPPathMatch{Type: ptr(gatewayv1.PathMatchPathPrefix), Value: ptr("api")}}},
		}}},
	}
	cfg := httproute.Config{
		HTTPRoutes: []*gatewayv1.HTTPRoute{good, bad},
		Gateways: []*gatewayv1.Gateway{{
			ObjectMeta: metav1.ObjectMeta{Name: "gw", Namespace: "apps"},
			Spec: gatewayv1.GatewaySpec{GatewayClassName: "c", Listeners: []gatewayv1.Listener{{
				Name: "http", Protocol: gatewayv1.HTTPProtocolType, Port: 80,
			}}},
		}},
		Namespaces: []*corev1.Namespace{{ObjectMeta: metav1.ObjectMeta{Name: "Apps"}}},
		Secrets:    []*corev1.Secret{{ObjectMeta: metav1.ObjectMeta{Name: "cert"}}},
		ListenerSets: []*gatewayv1.ListenerSet{{
			ObjectMeta: metav1.ObjectMeta{Name: "ls", Namespace: "apps"},
			Spec: gatewayv1.ListenerSetSpec{ParentRef: gatewayv1.ParentGatewayReference{Name: "gw"}, Listeners: []gatewayv1.ListenerEntry{
				{Name: "web", Protocol: gatewayv1.HTTPProtocolType, Port: 80, Hostname: ptr(gatewayv1.Hostname("a.example.com"))},
				{Name: "web", Protocol: gatewayv1.HTTPProtocolType, Port: 8080},
			}},
		}},
	}
	err := validators[validation.Standard].Config(&cfg)
	var got []string
	for _, e := range err.(interface{ Unwrap() []error }).Unwrap() {
		var he *httproute.Error
		if !errors.As(e, &he) || he.Reason != string(gatewayv1.RouteReasonUnsupportedValue) {
			t.Errorf("not an *httproute.Error with reason UnsupportedValue: %#v", e)
		}
		got = append(got, e.Error())
	}
	want := []string{
		`httproute apps/bad: spec.rules[0].matches[0].path: Invalid value: value must be an absolute path and start with '/' when type one of ['Exact', 'PathPrefix']`,
		`listenerset apps/ls: spec.listeners: Invalid value: Listener name must be unique within the Gateway`,
		`listenerset apps/ls: spec.listeners[1]: Duplicate value: {"name":"web"}`,
		`namespace Apps: metadata.name: Invalid value: "Apps": a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')`,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("problems (-want +got):\n%s", diff)
	}
	if w := *good.Spec.Rules[0].BackendRefs[0].Weight; w != 1 {
		t.Errorf("weight after defaulting = %d, want 1", w)
	}
	if from := *cfg.Gateways[0].Spec.Listeners[0].AllowedRoutes.Namespaces.From; from != gatewayv1.NamespacesFromSame {
		t.Errorf("allowedRoutes after defaulting = %s, want Same", from)
	}
	if pr := cfg.ListenerSets[0].Spec.ParentRef; *pr.Group != gatewayv1.GroupName || *pr.Kind != "Gateway" {
		t.Errorf("ListenerSet parentRef after defaulting = %s/%s, want %s/Gateway", *pr.Group, *pr.Kind, gatewayv1.GroupName)
	}
	if ns := cfg.Secrets[0].Namespace; ns != "default" {
		t.Errorf("secret namespace = %q, want default", ns)
	}
}

// TestCache checks that an unchanged object is not validated again but
// still gets its defaults and problems, and that a changed one is.
func TestCache(t *testing.T) {
	v := validation.New(validation.Standard)
	in := routeHead + "  rules:\n  - matches: [{path: {type: PathPrefix, value: api}}]\n"
	var first []string
	for i := range 3 {
		objs, err := readDocuments([]byte(in))
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, fe := range v.Validate(objs[0]) {
			got = append(got, fe.Error())
		}
		if i == 0 {
			first = got
		} else if diff := cmp.Diff(first, got); diff != "" {
			t.Errorf("run %d (-first +got):\n%s", i, diff)
		}
		typ, _, _ := unstructured.NestedString(objs[0].Object, "spec", "rules")
		_ = typ
		rules, _, _ := unstructured.NestedSlice(objs[0].Object, "spec", "rules")
		if _, ok := rules[0].(map[string]any)["matches"]; !ok {
			t.Errorf("run %d: defaults missing", i)
		}
	}
	if len(first) != 1 {
		t.Errorf("problems = %v, want one", first)
	}
	// Problems returned from the cache are copies.
	objs, _ := readDocuments([]byte(in))
	errs := v.Validate(objs[0])
	errs[0].Detail = "changed"
	objs, _ = readDocuments([]byte(in))
	if again := v.Validate(objs[0]); again[0].Detail == "changed" {
		t.Error("a caller's change to a problem reached the cache")
	}
}

func TestValidateEdgeCases(t *testing.T) {
	v := validators[validation.Standard]
	tests := []struct {
		name string
		obj  func() *unstructured.Unstructured
		want string
	}{
		{"nil content", func() *unstructured.Unstructured { return &unstructured.Unstructured{} },
			"<nil>: Internal error: validation: unstructured object without content"},
		{"malformed metadata", func() *unstructured.Unstructured {
			return &unstructured.Unstructured{Object: map[string]any{
				"apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute",
				"metadata": map[string]any{"name": "a", "labels": map[string]any{"a": int64(1)}},
				"spec":     map[string]any{},
			}}
		}, `metadata: Invalid value: "": json: cannot unmarshal number into Go struct field ObjectMeta.labels of type string`},
		{"unknown metadata field", func() *unstructured.Unstructured {
			return &unstructured.Unstructured{Object: map[string]any{
				"apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute",
				"metadata": map[string]any{"name": "a", "lables": map[string]any{}},
				"spec":     map[string]any{},
			}}
		}, `metadata.lables: Forbidden: unknown field`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			for _, fe := range v.Validate(tt.obj()) {
				got = append(got, fe.Error())
			}
			if diff := cmp.Diff([]string{tt.want}, got); diff != "" {
				t.Errorf("problems (-want +got):\n%s", diff)
			}
		})
	}
	if errs := v.Validate(nil); len(errs) != 1 || errs[0].Type != field.ErrorTypeInternal {
		t.Errorf("Validate(nil) = %v", errs)
	}
}

func TestKinds(t *testing.T) {
	var got []string
	for _, gvk := range validators[validation.Standard].Kinds() {
		got = append(got, gvk.String())
	}
	if !strings.Contains(strings.Join(got, "\n"), "gateway.networking.k8s.io/v1beta1, Kind=HTTPRoute") || len(got) != 14 {
		t.Errorf("standard kinds: %d\n%s", len(got), strings.Join(got, "\n"))
	}
	if n := len(validators[validation.Experimental].Kinds()); n != 23 {
		t.Errorf("experimental kinds: %d", n)
	}
	if ns, ok := validators[validation.Standard].Scope(gatewayv1.SchemeGroupVersion.WithKind("GatewayClass")); !ok || ns {
		t.Errorf("GatewayClass scope: namespaced %v, served %v", ns, ok)
	}
	if got := fmt.Sprint(validation.Standard, validation.Experimental, validation.Channel(7)); got != "standard experimental Channel(7)" {
		t.Errorf("channel names: %s", got)
	}
}

// TestWarnings checks that Warnings reports what the Router degrades,
// with the Router's own field paths and reasons.
func TestWarnings(t *testing.T) {
	cfg := httproute.Config{HTTPRoutes: []*gatewayv1.HTTPRoute{{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "apps"},
		Spec: gatewayv1.HTTPRouteSpec{Rules: []gatewayv1.HTTPRouteRule{{
			BackendRefs: []gatewayv1.HTTPBackendRef{{BackendRef: gatewayv1.BackendRef{
				BackendObjectReference: gatewayv1.BackendObjectReference{Name: "missing", Port: ptr(gatewayv1.PortNumber(80))},
			}}},
		}}},
	}}}
	err := validation.Warnings(cfg)
	var he *httproute.Error
	if !errors.As(err, &he) || he.Reason != string(gatewayv1.RouteReasonBackendNotFound) || he.Field == nil ||
		!strings.HasPrefix(he.Field.Field, "spec.rules[0].backendRefs[0]") {
		t.Errorf("Warnings = %v, want a BackendNotFound problem at spec.rules[0].backendRefs[0]", err)
	}
	if cfg.Strict {
		t.Error("Warnings changed the caller's Config")
	}
}

// BenchmarkValidateRoute measures validating and defaulting one HTTPRoute
// (a few rules, matches, filters and backends) that the Validator has not
// seen before: schema, list types and CEL rules.
func BenchmarkValidateRoute(b *testing.B) {
	v := validation.New(validation.Standard)
	objs, err := readDocuments([]byte(benchRoute))
	if err != nil {
		b.Fatal(err)
	}
	if errs := v.Validate(objs[0].DeepCopy()); len(errs) > 0 {
		b.Fatal(errs)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		u := objs[0].DeepCopy()
		u.SetName(fmt.Sprintf("route-%d", i)) // defeats the cache
		if errs := v.Validate(u); len(errs) > 0 {
			b.Fatal(errs)
		}
	}
}

// BenchmarkValidateRouteUnchanged measures validating a route the
// Validator has seen: what revalidating a Config on Update costs.
func BenchmarkValidateRouteUnchanged(b *testing.B) {
	v := validation.New(validation.Standard)
	objs, err := readDocuments([]byte(benchRoute))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if errs := v.Validate(objs[0].DeepCopy()); len(errs) > 0 {
			b.Fatal(errs)
		}
	}
}

const benchRoute = `apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata:
  name: httpbin
  namespace: httpbin
spec:
  parentRefs:
  - name: my-gateway
    namespace: kgateway-system
    sectionName: http
  hostnames: [httpbin.example.com]
  rules:
  - matches:
    - path: {type: PathPrefix, value: /status}
      headers: [{type: Exact, name: user, value: me}]
    backendRefs:
    - {name: httpbin-v1, port: 8000}
  - matches:
    - queryParams: [{type: Exact, name: version, value: "2"}]
      method: POST
    filters:
    - type: RequestHeaderModifier
      requestHeaderModifier: {set: [{name: x-version, value: "2"}]}
    backendRefs:
    - {name: httpbin-v2, port: 8000, weight: 90}
    - {name: httpbin-v3, port: 8000, weight: 10}
  - matches:
    - path: {type: Exact, value: /headers}
    - headers: [{type: Exact, name: version, value: "3"}]
    timeouts: {request: 10s, backendRequest: 2s}
    backendRefs:
    - {name: httpbin-v3, port: 8000}
`

// TestConcurrent validates routes from several goroutines with a fresh
// Validator, so that the first compilation races with the cache (run with
// -race).
func TestConcurrent(t *testing.T) {
	v := validation.New(validation.Standard)
	objs, err := readDocuments([]byte(benchRoute))
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan []string)
	for g := range 4 {
		go func() {
			var bad []string
			for i := range 5 {
				u := objs[0].DeepCopy()
				u.SetName(fmt.Sprintf("route-%d", i%2+g%2))
				for _, fe := range v.Validate(u) {
					bad = append(bad, fe.Error())
				}
			}
			done <- bad
		}()
	}
	for range 4 {
		if bad := <-done; len(bad) > 0 {
			t.Errorf("problems: %v", bad)
		}
	}
}

// routeWithPort is an unstructured HTTPRoute whose only backendRef has the
// given port value, as a Go program might build it.
func routeWithPort(port any) *unstructured.Unstructured {
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "gateway.networking.k8s.io/v1",
		"kind":       "HTTPRoute",
		"metadata":   map[string]any{"name": "r", "namespace": "default"},
		"spec": map[string]any{"rules": []any{map[string]any{
			"backendRefs": []any{map[string]any{"name": "svc", "port": port}},
		}}},
	}}
}

// TestCacheTellsNumberTypesApart validates an object with a float port,
// then the same object with an integer port: the second must not get the
// first one's cached result (JSON encodes 80.0 and 80 alike).
func TestCacheTellsNumberTypesApart(t *testing.T) {
	v := validation.New(validation.Standard)
	floatErrs := v.Validate(routeWithPort(float64(80)))
	if len(floatErrs) == 0 {
		t.Fatal("a float64 port must be refused as the API server refuses a non-integer")
	}
	intRoute := routeWithPort(int64(80))
	intErrs := v.Validate(intRoute)
	if len(intErrs) != 0 {
		t.Fatalf("the int64 copy got the float's cached errors: %v", intErrs)
	}
	port := intRoute.Object["spec"].(map[string]any)["rules"].([]any)[0].(map[string]any)["backendRefs"].([]any)[0].(map[string]any)["port"]
	if _, ok := port.(int64); !ok {
		t.Fatalf("port became %T: the cached content of another object replaced it", port)
	}
}

// TestGoNumberTypes validates unstructured content written in Go with int
// and uint32 values: they are normalized, never a panic.
func TestGoNumberTypes(t *testing.T) {
	v := validation.New(validation.Standard)
	for _, port := range []any{int(80), uint32(80), int32(80)} {
		if errs := v.Validate(routeWithPort(port)); len(errs) != 0 {
			t.Errorf("port %T: %v", port, errs)
		}
	}
	errs := v.Validate(routeWithPort(struct{}{}))
	if len(errs) != 1 || !strings.Contains(errs[0].Error(), "cannot be part of an object's JSON content") {
		t.Errorf("a struct in the content: %v", errs)
	}
}
