package httproute_test

import (
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/types"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
	xv1alpha1 "sigs.k8s.io/gateway-api/apisx/v1alpha1"
	"sigs.k8s.io/yaml"

	"github.com/httproute/httproute"
)

// telemetryConfig is twoPortGateway with a second Gateway, a collector
// Service and the given XTelemetryPolicies (YAML documents).
func telemetryConfig(t *testing.T, policies ...string) httproute.Config {
	t.Helper()
	cfg := twoPortGateway(t)
	var other gatewayv1.Gateway
	if err := yaml.UnmarshalStrict([]byte("metadata: {name: other, namespace: default}\nspec: {gatewayClassName: c, listeners: [{name: web, port: 9090, protocol: HTTP}]}"), &other); err != nil {
		t.Fatal(err)
	}
	cfg.Gateways = append(cfg.Gateways, &other)
	cfg.Services.(httproute.Services)[httproute.ServicePort{Namespace: "monitoring", Name: "otel-collector", Port: 4318}] = named("collector")
	for _, doc := range policies {
		var p xv1alpha1.XTelemetryPolicy
		if err := yaml.UnmarshalStrict([]byte(doc), &p); err != nil {
			t.Fatal(err)
		}
		cfg.XTelemetryPolicies = append(cfg.XTelemetryPolicies, &p)
	}
	return cfg
}

const fullPolicy = `metadata: {name: tracing, namespace: default, creationTimestamp: "2026-01-01T00:00:00Z"}
spec:
  targetRefs: [{group: gateway.networking.k8s.io, kind: Gateway, name: gw}]
  tracing:
    mode: Enabled
    provider:
      backendRef: {name: otel-collector, namespace: monitoring, port: 4318}
      headers: [{name: Authorization, value: Bearer x}]
    samplingRate: {numerator: 5}
    parentBasedSampling: {mode: Enabled, samplingRate: {numerator: 1, denominator: 2}}
    serviceName: edge
    spanName: ingress
    attributes:
    - {name: env, sourceType: Literal, literalValue: prod}
    - {name: user, sourceType: Header, headerName: x-user-id}
    - {name: method, sourceType: Attribute, attributeKey: http.request.method}
`

// policyConditions sums up a policy's status: per ancestor Gateway, its
// conditions as Type=Status/Reason.
func policyConditions(st httproute.Status) map[string][]string {
	out := map[string][]string{}
	for nn, ps := range st.XTelemetryPolicies {
		for _, a := range ps.Ancestors {
			line := string(a.AncestorRef.Name)
			for _, c := range a.Conditions {
				line += " " + c.Type + "=" + string(c.Status) + "/" + c.Reason
			}
			out[nn.Name] = append(out[nn.Name], line)
		}
		sort.Strings(out[nn.Name])
	}
	return out
}

// TestTelemetryPolicyCompiles: a valid policy applies to the Gateway it
// targets, with its defaults, sampling rates, attributes and resolved
// provider, and requests through that Gateway carry it in their record.
func TestTelemetryPolicyCompiles(t *testing.T) {
	cfg := telemetryConfig(t, fullPolicy)
	var grant gatewayv1.ReferenceGrant
	if err := yaml.UnmarshalStrict([]byte(`metadata: {name: traces, namespace: monitoring}
spec:
  from: [{group: gateway.networking.x-k8s.io, kind: XTelemetryPolicy, namespace: default}]
  to: [{group: "", kind: Service}]`), &grant); err != nil {
		t.Fatal(err)
	}
	cfg.ReferenceGrants = []*gatewayv1.ReferenceGrant{&grant}
	rec := &struct{ recorder }{}
	var seen *httproute.TelemetryPolicy
	cfg.Observer = httproute.ObserverFunc(func(r *httproute.Record) { seen = r.Telemetry; rec.ObserveRequest(r) })
	cfg.Strict = true
	rt, err := httproute.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(map[string][]string{"tracing": {"gw Accepted=True/Accepted ResolvedRefs=True/ResolvedRefs"}}, policyConditions(rt.Status())); diff != "" {
		t.Errorf("status (-want +got):\n%s", diff)
	}
	policies := rt.TelemetryPolicies()
	gw := types.NamespacedName{Namespace: "default", Name: "gw"}
	p := policies[gw]
	if p == nil || len(policies) != 1 {
		t.Fatalf("policies %v, want one for default/gw", policies)
	}
	got := *p
	got.Provider = nil
	want := httproute.TelemetryPolicy{
		Policy: types.NamespacedName{Namespace: "default", Name: "tracing"}, Gateways: []types.NamespacedName{gw},
		Mode: xv1alpha1.TracingModeEnabled, SamplingRate: 0.05,
		ParentBased: xv1alpha1.ParentBasedSamplingModeEnabled, ParentSamplingRate: 0.5,
		ServiceName: "edge", SpanName: "ingress",
		Attributes: []httproute.TelemetryAttribute{
			{Name: "env", Source: xv1alpha1.AttributeSourceLiteral, Value: "prod"},
			{Name: "user", Source: xv1alpha1.AttributeSourceHeader, Header: "X-User-Id"},
			{Name: "method", Source: xv1alpha1.AttributeSourceAttribute, Key: "http.request.method"},
		},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("policy (-want +got):\n%s", diff)
	}
	if p.Provider == nil || p.Provider.Err != nil || p.Provider.Ref.String() != "monitoring/otel-collector:4318" || p.Provider.Header.Get("Authorization") != "Bearer x" {
		t.Fatalf("provider %+v, want monitoring/otel-collector:4318 resolved with its header", p.Provider)
	}
	// The provider's Backend carries export requests to the collector.
	res, err := p.Provider.Backend.RoundTrip(httptest.NewRequest("POST", "http://collector/v1/traces", strings.NewReader("{}")))
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("export through the provider: %v, %v", res, err)
	}
	rt.Port(8080).ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/admin", nil))
	if seen != p {
		t.Errorf("record's telemetry %v, want the policy of default/gw", seen)
	}
	rt.Gateway("default", "other").ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/admin", nil))
	if seen != nil {
		t.Errorf("record of a request through default/other has telemetry %v, want none", seen)
	}
}

// TestTelemetryPolicyStatus: conflicts go to the older policy, then the
// first by name; references that do not resolve, missing targets and
// invalid specs are reported with the reasons GEP-4768 and GEP-713 name.
func TestTelemetryPolicyStatus(t *testing.T) {
	policy := func(name, created, target, tracing string) string {
		return "metadata: {name: " + name + ", namespace: default, creationTimestamp: \"" + created + "\"}\n" +
			"spec:\n  targetRefs: [{group: gateway.networking.k8s.io, kind: Gateway, name: " + target + "}]\n  tracing: " + tracing + "\n"
	}
	disabled := "{mode: Disabled}"
	cases := []struct {
		name     string
		policies []string
		want     map[string][]string
	}{{
		name: "the older policy wins",
		policies: []string{
			policy("b-newer", "2026-02-01T00:00:00Z", "gw", disabled),
			policy("z-older", "2026-01-01T00:00:00Z", "gw", disabled),
			policy("a-newer", "2026-02-01T00:00:00Z", "gw", disabled),
		},
		want: map[string][]string{
			"z-older": {"gw Accepted=True/Accepted ResolvedRefs=True/ResolvedRefs"},
			"a-newer": {"gw Accepted=False/Conflicted ResolvedRefs=True/ResolvedRefs"},
			"b-newer": {"gw Accepted=False/Conflicted ResolvedRefs=True/ResolvedRefs"},
		},
	}, {
		name: "references",
		policies: []string{
			policy("missing", "2026-01-01T00:00:00Z", "gw", "{mode: Enabled, provider: {backendRef: {name: nothing, port: 4318}}}"),
			policy("denied", "2026-01-01T00:00:00Z", "other", "{mode: Enabled, provider: {backendRef: {name: otel-collector, namespace: monitoring, port: 4318}}}"),
			policy("kind", "2026-01-01T00:00:00Z", "absent", "{mode: Enabled, provider: {backendRef: {kind: ConfigMap, name: x}}}"),
		},
		want: map[string][]string{
			"missing": {"gw Accepted=True/Accepted ResolvedRefs=False/BackendNotFound"},
			"denied":  {"other Accepted=True/Accepted ResolvedRefs=False/RefNotPermitted"},
			"kind":    {"absent Accepted=False/TargetNotFound ResolvedRefs=False/InvalidKind"},
		},
	}, {
		name: "invalid specs",
		policies: []string{
			policy("no-provider", "2026-01-01T00:00:00Z", "gw", "{mode: Enabled}"),
			policy("bad-rate", "2026-01-01T00:00:00Z", "other", "{mode: Disabled, samplingRate: {numerator: 5, denominator: 2}}"),
		},
		want: map[string][]string{
			"no-provider": {"gw Accepted=False/Invalid ResolvedRefs=True/ResolvedRefs"},
			"bad-rate":    {"other Accepted=False/Invalid ResolvedRefs=True/ResolvedRefs"},
		},
	}}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := telemetryConfig(t, tc.policies...)
			delete(cfg.Services.(httproute.Services), httproute.ServicePort{Namespace: "default", Name: "nothing", Port: 4318})
			rt, err := httproute.New(cfg)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, policyConditions(rt.Status())); diff != "" {
				t.Errorf("status (-want +got):\n%s", diff)
			}
		})
	}
}

// TestTelemetryPolicyStrictErrors: with Config.Strict, an invalid policy
// fails New with its field path.
func TestTelemetryPolicyStrictErrors(t *testing.T) {
	cfg := telemetryConfig(t, `metadata: {name: p, namespace: default}
spec:
  targetRefs: [{group: gateway.networking.k8s.io, kind: Gateway, name: gw}]
  tracing: {mode: Enabled}
`)
	cfg.Strict = true
	_, err := httproute.New(cfg)
	want := "xtelemetrypolicy default/p: spec.tracing.provider: Required value: provider is required when mode is Enabled"
	if err == nil || err.Error() != want {
		t.Errorf("New: %v\nwant: %s", err, want)
	}
	cfg.XTelemetryPolicies = append(cfg.XTelemetryPolicies, cfg.XTelemetryPolicies[0])
	cfg.Strict = false
	if _, err := httproute.New(cfg); err == nil || !strings.Contains(err.Error(), "appears twice") {
		t.Errorf("New with a duplicate policy: %v, want it refused", err)
	}
}

var _ http.Handler = (*httproute.PortRouter)(nil)
