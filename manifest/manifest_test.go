package manifest

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/httproute/httproute"
	"github.com/httproute/httproute/validation"
)

// standard is the validator the tests share, so that the CRD schemas are
// compiled once.
var standard = validation.New(validation.Standard)

// kgatewayObject stands for the kgateway kinds of the seed (DirectResponse,
// Backend): an extension object whose spec the tests do not interpret.
type kgatewayObject struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`
	Spec              map[string]any `json:"spec,omitempty"`
}

func (o *kgatewayObject) DeepCopyObject() runtime.Object {
	c := *o
	o.ObjectMeta.DeepCopyInto(&c.ObjectMeta)
	c.Spec = runtime.DeepCopyJSON(o.Spec)
	return &c
}

var kgateway = []httproute.Extension{
	{
		Kind: schema.GroupVersionKind{Group: "gateway.kgateway.dev", Version: "v1alpha1", Kind: "DirectResponse"},
		New:  func() httproute.Object { return &kgatewayObject{} },
	},
	{
		Kind: schema.GroupVersionKind{Group: "gateway.kgateway.dev", Version: "v1alpha1", Kind: "Backend"},
		New:  func() httproute.Object { return &kgatewayObject{} },
	},
	{
		// A kind that routes reference by name only.
		Kind: schema.GroupVersionKind{Group: "gateway.kgateway.dev", Version: "v1alpha1", Kind: "Parameter"},
	},
}

// errorLines returns the messages of an error tree, one per problem.
func errorLines(err error) []string {
	if err == nil {
		return nil
	}
	return strings.Split(err.Error(), "\n")
}

// TestSeed loads every YAML block of the seed document, each on its own as
// a reader would apply it: the A/B route is malformed YAML and fails at the
// line of its misindented backendRefs; the others load.
func TestSeed(t *testing.T) {
	files, err := filepath.Glob("testdata/seed/*.yaml")
	if err != nil || len(files) != 12 {
		t.Fatalf("seed blocks: %d files, %v", len(files), err)
	}
	want := map[string]string{
		"03-httproute-httpbin.yaml": "testdata/seed/03-httproute-httpbin.yaml:17:7: document 1: did not find expected '-' indicator",
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			m, err := Load(Options{Extensions: kgateway, Validator: standard}, f)
			if w, ok := want[filepath.Base(f)]; ok {
				if diff := cmp.Diff([]string{w}, errorLines(err)); diff != "" {
					t.Errorf("errors (-want +got):\n%s", diff)
				}
				var de *DocumentError
				if !errors.As(err, &de) || de.Line != 17 {
					t.Errorf("want a *DocumentError at line 17, got %#v", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			if n := len(m.Config.HTTPRoutes) + len(m.Config.Objects); n != 1 {
				t.Errorf("loaded %d objects, want 1", n)
			}
		})
	}
}

// TestSeedQueryValue loads the A/B route with its indentation fixed: the
// query parameter value written as a number fails at its line, as the API
// server would reject it, and, without validation, as the Go type would.
func TestSeedQueryValue(t *testing.T) {
	tests := []struct {
		name string
		opts Options
		want []string
	}{{
		name: "validated",
		opts: Options{Validator: standard},
		want: []string{
			`testdata/ab-fixed.yaml:27:9: httproute default/httpbin: spec.rules[1].matches[0].queryParams[0].value: Invalid value: "integer": spec.rules[1].matches[0].queryParams[0].value in body must be of type string: "integer"`,
			`testdata/ab-fixed.yaml:4:1: httproute default/httpbin: <nil>: Invalid value: null: some validation rules were not checked because the object was invalid; correct the existing errors to complete validation`,
		},
	}, {
		name: "not validated",
		opts: Options{NoValidation: true},
		want: []string{
			`testdata/ab-fixed.yaml:27:9: httproute default/httpbin: spec.rules[1].matches[0].queryParams[0].value: Invalid value: "integer": must be of type string`,
		},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Load(tt.opts, "testdata/ab-fixed.yaml")
			if diff := cmp.Diff(tt.want, errorLines(err)); diff != "" {
				t.Errorf("errors (-want +got):\n%s", diff)
			}
			var he *httproute.Error
			if !errors.As(err, &he) || he.Field == nil || he.Field.Type != field.ErrorTypeTypeInvalid {
				t.Errorf("want an *httproute.Error with a TypeInvalid field error, got %#v", err)
			}
		})
	}
}

const route = `apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata:
  name: web
`

func TestDecodeErrors(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []string
	}{{
		name: "unknown field with suggestion",
		in: route + `spec:
  rules:
  - matchs:
    - path: {value: /}
`,
		want: []string{`in.yaml:7:5: httproute default/web: strict decoding error: unknown field "spec.rules[0].matchs"; did you mean "matches"?`},
	}, {
		name: "unknown top-level field",
		in:   route + "sepc: {}\n",
		want: []string{`in.yaml:5:1: httproute default/web: strict decoding error: unknown field "sepc"; did you mean "spec"?`},
	}, {
		name: "field names are case-sensitive",
		in:   route + "spec:\n  Hostnames: [a.example]\n",
		want: []string{`in.yaml:6:3: httproute default/web: strict decoding error: unknown field "spec.Hostnames"; did you mean "hostnames"?`},
	}, {
		name: "unknown field far from any name",
		in:   route + "spec:\n  zzzzzzzzzzzz: 1\n",
		want: []string{`in.yaml:6:3: httproute default/web: strict decoding error: unknown field "spec.zzzzzzzzzzzz"`},
	}, {
		name: "all problems of a document",
		in: route + `spec:
  hostnames: example.com
  rules:
  - backendRefs:
    - name: web
      port: "80"
      weight: true
`,
		want: []string{
			`in.yaml:6:3: httproute default/web: spec.hostnames: Invalid value: "string": must be of type array`,
			`in.yaml:10:7: httproute default/web: spec.rules[0].backendRefs[0].port: Invalid value: "string": must be of type integer`,
			`in.yaml:11:7: httproute default/web: spec.rules[0].backendRefs[0].weight: Invalid value: "boolean": must be of type integer`,
		},
	}, {
		name: "integer out of range",
		in:   route + "spec:\n  rules:\n  - backendRefs:\n    - {name: web, port: 4294967296}\n",
		want: []string{`in.yaml:8:19: httproute default/web: spec.rules[0].backendRefs[0].port: Invalid value: 4294967296: must fit in a 32-bit integer`},
	}, {
		name: "YAML 1.1 boolean where a string belongs",
		in: route + `spec:
  rules:
  - matches:
    - headers:
      - name: x-debug
        value: on
`,
		want: []string{`in.yaml:10:9: httproute default/web: spec.rules[0].matches[0].headers[0].value: Invalid value: "boolean": must be of type string`},
	}, {
		name: "custom-decoded type",
		in:   route + "  creationTimestamp: yesterday\n",
		want: []string{`in.yaml:5:3: httproute default/web: metadata.creationTimestamp: Invalid value: "yesterday": parsing time "yesterday" as "2006-01-02T15:04:05Z07:00": cannot parse "yesterday" as "2006"`},
	}, {
		name: "missing name",
		in:   "apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata:\n  labels: {a: b}\n",
		want: []string{`in.yaml:3:1: httproute in namespace default: metadata.name: Required value: name or generateName is required`},
	}, {
		name: "missing apiVersion and kind",
		in:   "metadata:\n  name: web\n",
		want: []string{`in.yaml:1:1: document 1: apiVersion and kind not set`},
	}, {
		name: "kind of the wrong type",
		in:   "apiVersion: v1\nkind: [Service]\n",
		want: []string{`in.yaml:2:1: document 1: kind must be a string, not an array`},
	}, {
		name: "malformed apiVersion",
		in:   "apiVersion: a/b/c\nkind: Service\n",
		want: []string{`in.yaml:1:1: document 1: invalid apiVersion "a/b/c"`},
	}, {
		name: "not an object",
		in:   "- a\n- b\n",
		want: []string{`in.yaml:1:1: document 1: a manifest must be an object, not an array`},
	}, {
		name: "kind nobody registered",
		in:   "apiVersion: example.com/v1\nkind: Widget\nmetadata:\n  name: w\n  namespace: ns\n",
		want: []string{`in.yaml:2:1: widget ns/w: kind: Invalid value: "Widget": no kind Widget is registered for apiVersion "example.com/v1"; register it with an httproute.Extension`},
	}, {
		name: "version not served",
		in:   "apiVersion: gateway.networking.k8s.io/v1alpha2\nkind: HTTPRoute\nmetadata:\n  name: w\n",
		want: []string{`in.yaml:1:1: httproute w: apiVersion: Invalid value: "gateway.networking.k8s.io/v1alpha2": apiVersion "gateway.networking.k8s.io/v1alpha2" is not served for kind HTTPRoute; use gateway.networking.k8s.io/v1 or gateway.networking.k8s.io/v1beta1`},
	}, {
		name: "Gateway API kind the router does not serve",
		in:   "apiVersion: gateway.networking.k8s.io/v1\nkind: TLSRoute\nmetadata:\n  name: g\n",
		want: []string{`in.yaml:2:1: tlsroute g: kind: Invalid value: "TLSRoute": the router does not serve TLSRoute objects; it loads BackendTLSPolicy, GRPCRoute, Gateway, GatewayClass, HTTPRoute, ListenerSet and ReferenceGrant`},
	}, {
		name: "extension kind without objects",
		in:   "apiVersion: gateway.kgateway.dev/v1alpha1\nkind: Parameter\nmetadata:\n  name: p\n",
		want: []string{`in.yaml:2:1: parameter p: kind: Invalid value: "Parameter": the extension kind Parameter.gateway.kgateway.dev has no objects to load (its Extension.New is nil)`},
	}, {
		name: "duplicate key",
		in:   route + "  name: other\n",
		want: []string{`in.yaml:5:3: document 1: mapping key "name" already defined at line 4`},
	}, {
		name: "key written twice around a merge",
		in:   route + "  labels: {a: x, <<: {a: y}, a: z}\n",
		want: []string{`in.yaml:5:30: document 1: mapping key "a" already defined at line 5`},
	}, {
		name: "key written twice in a large mapping",
		in:   route + "  labels: {k0: x, k1: x, k2: x, k3: x, k4: x, k5: x, k6: x, k7: x, k8: x, k9: x, k10: x, k11: x, k12: x, k13: x, k14: x, k15: x, k16: x, k3: y}\n",
		want: []string{`in.yaml:5:138: document 1: mapping key "k3" already defined at line 5`},
	}, {
		name: "duplicate objects",
		in:   route + "---\n" + route,
		want: []string{`in.yaml:9:3: httproute default/web: metadata.name: Duplicate value: "web": HTTPRoute default/web is already defined at in.yaml:4:3`},
	}, {
		name: "same name in another namespace is no duplicate",
		in:   route + "---\n" + route + "  namespace: other\n",
	}, {
		name: "syntax error in one document, the others load",
		in:   route + "---\napiVersion: v1\nkind: Service\nmetadata:\n  name: [a\n---\n" + route + "  namespace: b\n",
		want: []string{`in.yaml:9:3: document 2: did not find expected ',' or ']'`},
	}, {
		name: "tab indentation",
		in:   route + "spec:\n\thostnames: []\n",
		want: []string{`in.yaml:6:1: document 1: found character that cannot start any token`},
	}, {
		name: "a scalar's tag that does not fit its text",
		in:   route + "spec:\n  hostnames: [!!int a]\n",
		want: []string{"in.yaml:6:15: document 1: cannot decode !!str `a` as a !!int"},
	}, {
		name: "invalid !!binary",
		in:   route + "spec:\n  hostnames: [!!binary a_b]\n",
		want: []string{"in.yaml:6:15: document 1: !!binary value contains invalid base64 data"},
	}, {
		name: "null key",
		in:   route + "spec:\n  ~: 1\n",
		want: []string{"in.yaml:6:3: document 1: a mapping key cannot be null"},
	}, {
		name: "infinity",
		in:   route + "spec:\n  rules:\n  - backendRefs:\n    - {name: a, weight: .inf}\n",
		want: []string{`in.yaml:8:25: document 1: .inf cannot be represented in JSON`},
	}, {
		name: "alias bomb",
		in: `a: &a ["x","x","x","x","x","x","x","x","x"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]
i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]
`,
		want: []string{`in.yaml:5:8: document 1: aliases expand to too many nodes`},
	}, {
		name: "deep nesting",
		in:   strings.Repeat("[", 200) + strings.Repeat("]", 200) + "\n",
		want: []string{`in.yaml:1:102: document 1: nesting deeper than 100 levels`},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Decode(Options{Extensions: kgateway, NoValidation: true}, "in.yaml", strings.NewReader(tt.in))
			if diff := cmp.Diff(tt.want, errorLines(err)); diff != "" {
				t.Errorf("errors (-want +got):\n%s", diff)
			}
		})
	}
}

func TestDecodeObjects(t *testing.T) {
	in := `# comment only document
---
apiVersion: gateway.networking.k8s.io/v1beta1
kind: HTTPRoute
metadata:
  name: old
  namespace: apps
spec:
  rules:
  - backendRefs:
    - name: web
      port: 80
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: gw}
spec:
  gatewayClassName: httproute
  listeners:
  - &http {name: http, protocol: HTTP, port: 80}
  - <<: *http
    name: http2
    port: 8080
---
apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata:
  name: httproute
  namespace: ignored
spec:
  controllerName: example.com/gateway
---
apiVersion: v1
kind: Namespace
metadata:
  name: apps
  labels: {team: "yes", shared: yes}
---
apiVersion: v1
kind: Secret
metadata: {name: cert}
type: kubernetes.io/tls
data:
  tls.crt: Y2VydA==
stringData:
  tls.key: key
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: apps}
spec:
  ports: [{port: 80, targetPort: http}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: web-1
  namespace: apps
  labels: {kubernetes.io/service-name: web}
addressType: IPv4
endpoints: [{addresses: [127.0.0.1], conditions: {ready: true}}]
ports: [{name: http, port: 8080}]
---
apiVersion: gateway.networking.k8s.io/v1beta1
kind: ReferenceGrant
metadata: {name: grant, namespace: apps}
spec:
  from: [{group: gateway.networking.k8s.io, kind: HTTPRoute, namespace: default}]
  to: [{group: "", kind: Service}]
---
apiVersion: gateway.kgateway.dev/v1alpha1
kind: DirectResponse
metadata: {name: dr}
spec: {status: 404, body: "gone\n"}
`
	m, err := Decode(Options{Extensions: kgateway, Validator: standard}, "in.yaml", strings.NewReader(in))
	if err == nil || !strings.Contains(err.Error(), `metadata.labels[shared]: Invalid value: "boolean": must be of type string`) {
		t.Fatalf("want the YAML 1.1 boolean label reported, got %v", err)
	}
	type got struct {
		Routes, Gateways, Grants, Classes, Namespaces, Secrets, Services, Slices, Objects []string
		Listeners                                                                         []string
		SecretData                                                                        map[string]string
		Spec                                                                              map[string]any
	}
	id := func(o interface {
		GetObjectKind() schema.ObjectKind
		GetNamespace() string
		GetName() string
	}) string {
		return fmt.Sprintf("%s %s/%s", o.GetObjectKind().GroupVersionKind(), o.GetNamespace(), o.GetName())
	}
	var g got
	for _, o := range m.Config.HTTPRoutes {
		g.Routes = append(g.Routes, id(o))
	}
	for _, o := range m.Config.Gateways {
		g.Gateways = append(g.Gateways, id(o))
		for _, l := range o.Spec.Listeners {
			g.Listeners = append(g.Listeners, fmt.Sprintf("%s %s %d", l.Name, l.Protocol, l.Port))
		}
	}
	for _, o := range m.Config.ReferenceGrants {
		g.Grants = append(g.Grants, id(o))
	}
	for _, o := range m.GatewayClasses {
		g.Classes = append(g.Classes, id(o))
	}
	for _, o := range m.Config.Namespaces {
		g.Namespaces = append(g.Namespaces, id(o))
	}
	for _, o := range m.Config.Secrets {
		g.Secrets = append(g.Secrets, id(o))
		g.SecretData = map[string]string{}
		for k, v := range o.Data {
			g.SecretData[k] = string(v)
		}
	}
	for _, o := range m.Services {
		g.Services = append(g.Services, id(o))
	}
	for _, o := range m.EndpointSlices {
		g.Slices = append(g.Slices, fmt.Sprintf("%s %s %s:%d", id(o), o.Labels["kubernetes.io/service-name"], o.Endpoints[0].Addresses[0], *o.Ports[0].Port))
	}
	for _, o := range m.Config.Objects {
		g.Objects = append(g.Objects, id(o))
		g.Spec = o.(*kgatewayObject).Spec
	}
	want := got{
		Routes:     []string{"gateway.networking.k8s.io/v1, Kind=HTTPRoute apps/old"},
		Gateways:   []string{"gateway.networking.k8s.io/v1, Kind=Gateway default/gw"},
		Listeners:  []string{"http HTTP 80", "http2 HTTP 8080"},
		Grants:     []string{"gateway.networking.k8s.io/v1, Kind=ReferenceGrant apps/grant"},
		Classes:    []string{"gateway.networking.k8s.io/v1, Kind=GatewayClass /httproute"},
		Secrets:    []string{"/v1, Kind=Secret default/cert"},
		SecretData: map[string]string{"tls.crt": "cert", "tls.key": "key"},
		Services:   []string{"/v1, Kind=Service apps/web"},
		Slices:     []string{"discovery.k8s.io/v1, Kind=EndpointSlice apps/web-1 web 127.0.0.1:8080"},
		Objects:    []string{"gateway.kgateway.dev/v1alpha1, Kind=DirectResponse default/dr"},
		Spec:       map[string]any{"status": int64(404), "body": "gone\n"},
	}
	if diff := cmp.Diff(want, g); diff != "" {
		t.Errorf("objects (-want +got):\n%s", diff)
	}
}

func TestLocate(t *testing.T) {
	in := route + `  namespace: apps
spec:
  rules:
  - matches:
    - path: {type: PathPrefix, value: /a}
  - filters:
    - type: RequestRedirect
      requestRedirect:
        statusCode: 301
`
	m, err := Decode(Options{Validator: standard}, "routes.yaml", strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	fe := func(path string) *field.Error { return field.Invalid(field.NewPath("x"), 1, "bad") }
	at := func(path string) *httproute.Error {
		e := &httproute.Error{Kind: "HTTPRoute", Namespace: "apps", Name: "web", Field: fe(path)}
		e.Field.Field = path
		return e
	}
	errs := []*httproute.Error{
		at("spec.rules[1].filters[0].requestRedirect.statusCode"),
		at("spec.rules[0].matches[0].path.value"),
		// Set by a default: the deepest part of the path the manifest has.
		at("spec.rules[0].matches[0].path.headers"),
		at("spec.rules[5]"),
		at(""),
		{Kind: "HTTPRoute", Namespace: "other", Name: "web", Field: fe("spec")},
	}
	joined := errors.Join(fmt.Errorf("wrapped: %w", errs[0]), errors.Join(errs[1], errs[2]), errs[3], errs[4], errs[5])
	if got := m.Locate(joined); got != joined {
		t.Errorf("Locate returned another error")
	}
	var got []string
	for _, e := range errs {
		got = append(got, fmt.Sprintf("%s:%d:%d", e.File, e.Line, e.Column))
	}
	want := []string{"routes.yaml:13:9", "routes.yaml:9:32", "routes.yaml:9:7", "routes.yaml:7:3", "routes.yaml:1:1", ":0:0"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("positions (-want +got):\n%s", diff)
	}
}

func TestLoadDirectory(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("b.yaml", strings.ReplaceAll(route, "web", "b"))
	write("a.yml", strings.ReplaceAll(route, "web", "a"))
	write("sub/c.yaml", strings.ReplaceAll(route, "web", "c"))
	write("notes.txt", "not yaml: [")
	write(".hidden/d.yaml", "not yaml: [")
	m, err := Load(Options{NoValidation: true}, dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, r := range m.Config.HTTPRoutes {
		names = append(names, r.Name)
	}
	if diff := cmp.Diff([]string{"a", "b", "c"}, names); diff != "" {
		t.Errorf("routes (-want +got):\n%s", diff)
	}
	if _, err := Load(Options{}, filepath.Join(dir, "missing.yaml")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: got %v", err)
	}
}

func TestExtensionErrors(t *testing.T) {
	gvk := schema.GroupVersionKind{Group: "example.com", Version: "v1", Kind: "Widget"}
	newObj := func() httproute.Object { return &kgatewayObject{} }
	tests := []struct {
		name string
		exts []httproute.Extension
		want string
	}{
		{"no version", []httproute.Extension{{Kind: schema.GroupVersionKind{Group: "example.com", Kind: "Widget"}, New: newObj}},
			`manifest: Extensions[0] has no kind or version ("example.com/, Kind=Widget")`},
		{"twice", []httproute.Extension{{Kind: gvk, New: newObj}, {Kind: gvk, New: newObj}},
			`manifest: Extensions[1] registers example.com/v1, Kind=Widget twice`},
		{"built-in", []httproute.Extension{{Kind: schema.GroupVersionKind{Version: "v1", Kind: "Service"}, New: newObj}},
			`manifest: Extensions[0] redefines the built-in kind /v1, Kind=Service`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Decode(Options{Extensions: tt.exts}, "in.yaml", strings.NewReader(route))
			if err == nil || err.Error() != tt.want {
				t.Errorf("got %v, want %s", err, tt.want)
			}
		})
	}
}

// TestDecodeValidated checks what validation adds to the loader: the API
// server's messages at the lines of their fields, and the defaults.
func TestDecodeValidated(t *testing.T) {
	experimental := validation.New(validation.Experimental)
	tests := []struct {
		name string
		opts Options
		in   string
		want []string
	}{{
		name: "CEL rule at its line",
		in: route + `spec:
  rules:
  - backendRefs: [{name: web, port: 80}]
  - filters:
    - type: RequestRedirect
      requestRedirect: {scheme: https}
    backendRefs: [{name: web, port: 80}]
`,
		want: []string{`in.yaml:8:5: httproute default/web: spec.rules[1]: Invalid value: RequestRedirect filter must not be used together with backendRefs`},
	}, {
		name: "unknown field reported once, with a suggestion",
		in:   route + "spec:\n  rules:\n  - backendRef: [{name: web, port: 80}]\n",
		want: []string{`in.yaml:7:5: httproute default/web: strict decoding error: unknown field "spec.rules[0].backendRef"; did you mean "backendRefs"?`},
	}, {
		name: "experimental field in the standard channel",
		in:   route + "spec:\n  rules:\n  - sessionPersistence: {cookie: {name: s}}\n",
		want: []string{`in.yaml:7:5: httproute default/web: strict decoding error: unknown field "spec.rules[0].sessionPersistence"; it is not in the standard channel: experimental fields need the experimental channel`},
	}, {
		name: "experimental field in the experimental channel",
		opts: Options{Validator: experimental},
		in:   route + "spec:\n  rules:\n  - sessionPersistence: {cookie: {name: s}}\n",
	}, {
		name: "Channel picks the validator",
		opts: Options{Channel: validation.Experimental},
		in:   route + "spec:\n  rules:\n  - sessionPersistence: {cookie: {name: s}}\n",
	}, {
		name: "metadata checks",
		in:   "apiVersion: v1\nkind: Service\nmetadata:\n  name: 1web\n  namespace: apps\n",
		want: []string{`in.yaml:4:3: service apps/1web: metadata.name: Invalid value: "1web": a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')`},
	}, {
		name: "metadata of the wrong type, before validation",
		in:   route + "  labels: [a]\nspec: {}\n",
		want: []string{`in.yaml:5:3: httproute default/web: metadata.labels: Invalid value: "array": must be of type object`},
	}, {
		name: "ListenerSet checked by its CRD",
		in: `apiVersion: gateway.networking.k8s.io/v1
kind: ListenerSet
metadata: {name: ls}
spec:
  parentRef: {name: gw}
  listeners:
  - {name: web, port: 80, protocol: HTTP, tls: {certificateRefs: [{name: cert}]}}
`,
		want: []string{`in.yaml:6:3: listenerset default/ls: spec.listeners: Invalid value: tls must not be specified for protocols ['HTTP', 'TCP', 'UDP']`},
	}, {
		name: "library check",
		in:   route + "spec:\n  hostnames: [\"10.0.0.1\"]\n",
		want: []string{`in.yaml:6:15: httproute default/web: spec.hostnames[0]: Invalid value: "10.0.0.1": must be a DNS name, not an IP address`},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.opts.Validator == nil && tt.opts.Channel == validation.Standard {
				tt.opts.Validator = standard
			}
			_, err := Decode(tt.opts, "in.yaml", strings.NewReader(tt.in))
			if diff := cmp.Diff(tt.want, errorLines(err)); diff != "" {
				t.Errorf("errors (-want +got):\n%s", diff)
			}
		})
	}
}

// TestDefaultsApplied checks that loaded objects carry the CRD defaults,
// and none without validation.
func TestDefaultsApplied(t *testing.T) {
	in := route + "spec:\n  parentRefs: [{name: gw}]\n  rules:\n  - backendRefs: [{name: web, port: 80}]\n"
	m, err := Decode(Options{Validator: standard}, "in.yaml", strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	r := m.Config.HTTPRoutes[0]
	got := fmt.Sprintf("%s/%s %s %s/%s %d %s %s", *r.Spec.ParentRefs[0].Group, *r.Spec.ParentRefs[0].Kind,
		*r.Spec.Rules[0].Matches[0].Path.Type, *r.Spec.Rules[0].BackendRefs[0].Group, *r.Spec.Rules[0].BackendRefs[0].Kind,
		*r.Spec.Rules[0].BackendRefs[0].Weight, *r.Spec.Rules[0].Matches[0].Path.Value, r.Namespace)
	if want := "gateway.networking.k8s.io/Gateway PathPrefix /Service 1 / default"; got != want {
		t.Errorf("defaults: got %q, want %q", got, want)
	}
	m, err = Decode(Options{NoValidation: true}, "in.yaml", strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	if r := m.Config.HTTPRoutes[0]; r.Spec.Rules[0].BackendRefs[0].Weight != nil || r.Namespace != "default" {
		t.Errorf("without validation: weight %v, namespace %q", r.Spec.Rules[0].BackendRefs[0].Weight, r.Namespace)
	}
}

// TestDuplicateIsLeftOut checks that the second of two objects with the
// same kind, namespace and name is reported and left out, so that the
// Config holds one and a Router can be built from it.
func TestDuplicateIsLeftOut(t *testing.T) {
	doc := `apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: web}
spec: {rules: [{backendRefs: [{name: a, port: 80}]}]}
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: web}
spec: {rules: [{backendRefs: [{name: b, port: 80}]}]}
`
	m, err := Decode(Options{}, "in.yaml", strings.NewReader(doc))
	if err == nil || !strings.Contains(err.Error(), "in.yaml:8:12: httproute default/web: metadata.name: Duplicate value") {
		t.Fatalf("error %v, want the duplicate reported at its line", err)
	}
	if len(m.Config.HTTPRoutes) != 1 || m.Config.HTTPRoutes[0].Spec.Rules[0].BackendRefs[0].Name != "a" {
		t.Fatalf("routes %d: the first object must stand alone", len(m.Config.HTTPRoutes))
	}
}

// TestStatusIsDropped checks that a status, even of the wrong shape, is
// dropped as an API server drops it on create.
func TestStatusIsDropped(t *testing.T) {
	doc := `apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: web}
spec: {rules: [{backendRefs: [{name: a, port: 80}]}]}
status: {parents: 5}
`
	m, err := Decode(Options{}, "in.yaml", strings.NewReader(doc))
	if err != nil {
		t.Fatalf("a status must not fail the load: %v", err)
	}
	if len(m.Config.HTTPRoutes) != 1 || m.Config.HTTPRoutes[0].Status.Parents != nil {
		t.Fatalf("routes %v", m.Config.HTTPRoutes)
	}
}
