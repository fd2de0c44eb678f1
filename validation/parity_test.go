package validation_test

import (
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/httproute/httproute"
	"github.com/httproute/httproute/validation"
)

// TestServerParity pins what issue 19 found Validate doing otherwise than
// a real API server: a generateName without a name, a namespace on a
// cluster-scoped kind, unknown fields reported with the problems they
// cause.
func TestServerParity(t *testing.T) {
	const suffix = `[bcdfghjklmnpqrstvwxz2456789]{5}`
	route := func(md map[string]any, spec map[string]any) *unstructured.Unstructured {
		return &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute",
			"metadata": md, "spec": spec,
		}}
	}
	tests := []struct {
		name     string
		channel  validation.Channel
		obj      *unstructured.Unstructured
		want     []string // patterns, one per problem
		wantName string   // pattern of metadata.name after Validate
		wantNS   string
	}{{
		name:     "generateName without a name",
		obj:      route(map[string]any{"generateName": "web-"}, map[string]any{}),
		wantName: `^web-` + suffix + `$`,
		wantNS:   "default",
	}, {
		name: "invalid generateName, reported on it and on the generated name",
		obj:  route(map[string]any{"generateName": "Web."}, map[string]any{}),
		want: []string{
			`^metadata\.generateName: Invalid value: "Web\.": a lowercase RFC 1123 subdomain .*$`,
			`^metadata\.name: Invalid value: "Web\.` + suffix + `": a lowercase RFC 1123 subdomain .*$`,
		},
		wantName: `^Web\.` + suffix + `$`,
		wantNS:   "default",
	}, {
		name: "long generateName cut to 58 bytes",
		obj:  route(map[string]any{"generateName": strings.Repeat("a", 70)}, map[string]any{}),
		// 63 bytes: the name is valid.
		wantName: `^a{58}` + suffix + `$`,
		wantNS:   "default",
	}, {
		name: "GatewayClass with a namespace: cleared",
		obj: &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "gateway.networking.k8s.io/v1", "kind": "GatewayClass",
			"metadata": map[string]any{"name": "c", "namespace": "apps"},
			"spec":     map[string]any{"controllerName": "example.com/c"},
		}},
		wantName: `^c$`,
	}, {
		name: "unknown field reported alone",
		obj: route(map[string]any{"name": "web"}, map[string]any{
			"hostnames": []any{"-bad-"},
			"rules": []any{map[string]any{
				"filters": []any{map[string]any{
					"type":         "ExternalAuth",
					"externalAuth": map[string]any{"protocol": "HTTP", "backendRef": map[string]any{"name": "auth", "port": int64(80)}},
				}},
			}},
		}),
		want:     []string{`^spec\.rules\[0\]\.filters\[0\]\.externalAuth: Forbidden: unknown field$`},
		wantName: `^web$`,
		wantNS:   "default",
	}, {
		name:    "the same route in the experimental channel",
		channel: validation.Experimental,
		obj: route(map[string]any{"name": "web"}, map[string]any{
			"hostnames": []any{"-bad-"},
		}),
		want:     []string{`^spec\.hostnames\[0\]: Invalid value: "-bad-": spec\.hostnames\[0\] in body should match .*$`},
		wantName: `^web$`,
		wantNS:   "default",
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			errs := validators[tt.channel].Validate(tt.obj)
			if len(errs) != len(tt.want) {
				t.Fatalf("problems %v, want %d", errs, len(tt.want))
			}
			for i, w := range tt.want {
				if !regexp.MustCompile(w).MatchString(errs[i].Error()) {
					t.Errorf("problem %d: %s\ndoes not match %s", i, errs[i].Error(), w)
				}
			}
			if name := tt.obj.GetName(); !regexp.MustCompile(tt.wantName).MatchString(name) {
				t.Errorf("name %q does not match %s", name, tt.wantName)
			}
			if ns := tt.obj.GetNamespace(); ns != tt.wantNS {
				t.Errorf("namespace %q, want %q", ns, tt.wantNS)
			}
		})
	}
}

// TestTypedClusterScoped checks that a typed GatewayClass with a namespace
// is accepted and loses the namespace.
func TestTypedClusterScoped(t *testing.T) {
	gc := &gatewayv1.GatewayClass{
		ObjectMeta: metav1.ObjectMeta{Name: "c", Namespace: "apps"},
		Spec:       gatewayv1.GatewayClassSpec{ControllerName: "example.com/c"},
	}
	if errs := validators[validation.Standard].Validate(gc); len(errs) > 0 {
		t.Fatalf("Validate: %v", errs)
	}
	if gc.Namespace != "" {
		t.Errorf("namespace %q, want it cleared", gc.Namespace)
	}
}

// TestConfigUnknownFieldWording checks that Config words an unknown field
// as the API server does, with the channel's hint.
func TestConfigUnknownFieldWording(t *testing.T) {
	route := &gatewayv1.HTTPRoute{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "apps"},
		Spec: gatewayv1.HTTPRouteSpec{Rules: []gatewayv1.HTTPRouteRule{{
			SessionPersistence: &gatewayv1.SessionPersistence{AbsoluteTimeout: ptr(gatewayv1.Duration("1h"))},
		}}},
	}
	err := validators[validation.Standard].Config(&httproute.Config{HTTPRoutes: []*gatewayv1.HTTPRoute{route}})
	if err == nil {
		t.Fatal("no error")
	}
	want := `httproute apps/web: strict decoding error: unknown field "spec.rules[0].sessionPersistence"; it is not in the standard channel: experimental fields need the experimental channel`
	if diff := cmp.Diff(want, err.Error()); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}
