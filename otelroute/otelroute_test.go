package otelroute_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/google/go-cmp/cmp"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/baggage"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
	"sigs.k8s.io/yaml"

	"github.com/httproute/httproute"
	"github.com/httproute/httproute/manifest"
	"github.com/httproute/httproute/otelroute"
	"github.com/httproute/httproute/validation"
)

const (
	traceID  = "4bf92f3577b34da6a3ce929d0e0e4736"
	parentID = "00f067aa0ba902b7"
)

// telemetry is an SDK tracer provider recording spans in memory and a
// meter provider read on demand.
type telemetry struct {
	spans  *tracetest.SpanRecorder
	tp     *sdktrace.TracerProvider
	reader *sdkmetric.ManualReader
	obs    *otelroute.Observer
}

func newTelemetry(t *testing.T) *telemetry {
	t.Helper()
	tel := &telemetry{spans: tracetest.NewSpanRecorder(), reader: sdkmetric.NewManualReader()}
	tel.tp = sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(tel.spans))
	obs, err := otelroute.New(otelroute.Options{
		TracerProvider: tel.tp,
		MeterProvider:  sdkmetric.NewMeterProvider(sdkmetric.WithReader(tel.reader)),
	})
	if err != nil {
		t.Fatal(err)
	}
	tel.obs = obs
	return tel
}

// seen is what a backend saw of the trace context.
type seen struct {
	Header  string // traceparent
	Context string // the span context of its request's context
	Baggage string
}

func (s *seen) record(mu *sync.Mutex, all *[]seen, r *http.Request) {
	sc := trace.SpanContextFromContext(r.Context())
	mu.Lock()
	defer mu.Unlock()
	*all = append(*all, seen{
		Header:  r.Header.Get("Traceparent"),
		Context: sc.TraceID().String() + "-" + sc.SpanID().String(),
		Baggage: r.Header.Get("Baggage") + "|" + baggage.FromContext(r.Context()).Member("user").Value(),
	})
}

func attrMap(kvs []attribute.KeyValue) map[string]string {
	out := map[string]string{}
	for _, kv := range kvs {
		out[string(kv.Key)] = kv.Value.Emit()
	}
	return out
}

func routeConfig(t *testing.T, rules string, backends map[string]httproute.Backend) httproute.Config {
	t.Helper()
	var route gatewayv1.HTTPRoute
	if err := yaml.UnmarshalStrict([]byte("metadata: {name: r, namespace: default}\nspec:\n  rules:\n"+rules), &route); err != nil {
		t.Fatal(err)
	}
	svcs := httproute.Services{}
	for name, b := range backends {
		svcs[httproute.ServicePort{Namespace: "default", Name: name, Port: 80}] = b
	}
	return httproute.Config{HTTPRoutes: []*gatewayv1.HTTPRoute{&route}, Services: svcs, Strict: true}
}

func tracedRequest(method, target string) *http.Request {
	req := httptest.NewRequest(method, target, nil)
	req.Header.Set("Traceparent", "00-"+traceID+"-"+parentID+"-01")
	req.Header.Set("Baggage", "user=alice")
	return req
}

// TestRetriedRequest: a retried request makes one server span, child of
// the client's trace context, and two client spans under it; each
// attempt's backend gets its client span's trace context (in its headers
// and, in process, its context) and the baggage.
func TestRetriedRequest(t *testing.T) {
	tel := newTelemetry(t)
	var mu sync.Mutex
	var saw []seen
	var calls atomic.Int64
	flaky := httproute.InProcess(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		(&seen{}).record(&mu, &saw, r)
		if calls.Add(1) == 1 {
			w.WriteHeader(503)
			return
		}
		io.WriteString(w, "ok")
	}))
	cfg := routeConfig(t, `  - name: api
    matches: [{path: {value: /api}}]
    backendRefs: [{name: flaky, port: 80}]
    retry: {codes: [503], attempts: 1, backoff: 1ms}
`, map[string]httproute.Backend{"flaky": flaky})
	cfg.Observer = tel.obs
	rt, err := httproute.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	w := httptest.NewRecorder()
	rt.ServeHTTP(w, tracedRequest("GET", "http://shop.example/api/items?id=7"))
	if w.Code != 200 {
		t.Fatalf("status %d", w.Code)
	}

	spans := tel.spans.Ended()
	if len(spans) != 3 {
		t.Fatalf("%d spans, want 3", len(spans))
	}
	var server sdktrace.ReadOnlySpan
	var clients []sdktrace.ReadOnlySpan
	for _, s := range spans {
		if s.SpanKind() == trace.SpanKindServer {
			server = s
		} else {
			clients = append(clients, s)
		}
	}
	sort.Slice(clients, func(i, j int) bool { return clients[i].StartTime().Before(clients[j].StartTime()) })
	if server == nil || len(clients) != 2 {
		t.Fatalf("spans %v, want a server span and two client spans", spans)
	}
	if got := server.Parent().SpanID().String(); got != parentID || server.SpanContext().TraceID().String() != traceID {
		t.Errorf("server span parent %s in trace %s, want %s in %s", got, server.SpanContext().TraceID(), parentID, traceID)
	}
	if server.Name() != "GET /api/*" {
		t.Errorf("server span named %q, want %q", server.Name(), "GET /api/*")
	}
	wantServer := map[string]string{
		"http.request.method": "GET", "url.path": "/api/items", "url.scheme": "http", "url.query": "id=7",
		"server.address": "shop.example", "client.address": "192.0.2.1", "network.protocol.version": "1.1",
		"http.route": "/api/*", "httproute.route": "default/r", "httproute.rule": "api",
		"http.response.status_code": "200", "http.request.body.size": "0", "http.response.body.size": "2",
		"httproute.response_flags": "-",
	}
	if diff := cmp.Diff(wantServer, attrMap(server.Attributes())); diff != "" {
		t.Errorf("server span attributes (-want +got):\n%s", diff)
	}
	var want []seen
	for i, c := range clients {
		if c.Parent().SpanID() != server.SpanContext().SpanID() {
			t.Errorf("client span %d's parent is %s, want the server span %s", i, c.Parent().SpanID(), server.SpanContext().SpanID())
		}
		want = append(want, seen{
			Header:  "00-" + traceID + "-" + c.SpanContext().SpanID().String() + "-01",
			Context: traceID + "-" + c.SpanContext().SpanID().String(),
			Baggage: "user=alice|alice",
		})
	}
	if diff := cmp.Diff(want, saw); diff != "" {
		t.Errorf("backend saw (-want +got):\n%s", diff)
	}
	wantClients := []map[string]string{{
		"http.request.method": "GET", "server.address": "flaky.default", "server.port": "80",
		"url.full": "http://flaky.default:80/api/items?id=7", "httproute.backend": "default/flaky:80",
		"http.response.status_code": "503", "error.type": "503",
	}, {
		"http.request.method": "GET", "server.address": "flaky.default", "server.port": "80",
		"url.full": "http://flaky.default:80/api/items?id=7", "httproute.backend": "default/flaky:80",
		"http.request.resend_count": "1", "http.response.status_code": "200",
	}}
	var gotClients []map[string]string
	for _, c := range clients {
		gotClients = append(gotClients, attrMap(c.Attributes()))
	}
	if diff := cmp.Diff(wantClients, gotClients); diff != "" {
		t.Errorf("client span attributes (-want +got):\n%s", diff)
	}
	if !server.EndTime().After(clients[1].EndTime()) && !server.EndTime().Equal(clients[1].EndTime()) {
		t.Errorf("server span ends at %v, before its last client span (%v)", server.EndTime(), clients[1].EndTime())
	}

	// The HTTP semantic conventions' metrics.
	var rm metricdata.ResourceMetrics
	if err := tel.reader.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	got := map[string]uint64{}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			switch d := m.Data.(type) {
			case metricdata.Histogram[float64]:
				for _, dp := range d.DataPoints {
					status, _ := dp.Attributes.Value("http.response.status_code")
					got[m.Name+" "+status.Emit()] += dp.Count
				}
			case metricdata.Histogram[int64]:
				for _, dp := range d.DataPoints {
					got[m.Name] += dp.Count
				}
			case metricdata.Sum[int64]:
				for _, dp := range d.DataPoints {
					got[m.Name+" sum"] += uint64(dp.Value)
				}
			}
		}
	}
	wantMetrics := map[string]uint64{
		"http.server.request.duration 200": 1, "http.client.request.duration 503": 1, "http.client.request.duration 200": 1,
		"http.server.request.body.size": 1, "http.server.response.body.size": 1, "http.server.active_requests sum": 0,
	}
	if diff := cmp.Diff(wantMetrics, got); diff != "" {
		t.Errorf("metric data points (-want +got):\n%s", diff)
	}
}

// TestProxiedRequest: a proxied backend gets the attempt's trace context
// and the baggage in its request headers, and the client span names the
// endpoint.
func TestProxiedRequest(t *testing.T) {
	tel := newTelemetry(t)
	var mu sync.Mutex
	var saw []seen
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { (&seen{}).record(&mu, &saw, r) }))
	defer backend.Close()
	addr := strings.TrimPrefix(backend.URL, "http://")
	up, err := httproute.NewUpstream(httproute.UpstreamConfig{Endpoints: []string{addr}})
	if err != nil {
		t.Fatal(err)
	}
	cfg := routeConfig(t, "  - backendRefs: [{name: up, port: 80}]\n", map[string]httproute.Backend{"up": up})
	cfg.Observer = tel.obs
	rt, err := httproute.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	rt.ServeHTTP(httptest.NewRecorder(), tracedRequest("GET", "/x"))
	var client sdktrace.ReadOnlySpan
	for _, s := range tel.spans.Ended() {
		if s.SpanKind() == trace.SpanKindClient {
			client = s
		}
	}
	if client == nil {
		t.Fatal("no client span")
	}
	want := []seen{{Header: "00-" + traceID + "-" + client.SpanContext().SpanID().String() + "-01", Context: "00000000000000000000000000000000-0000000000000000", Baggage: "user=alice|"}}
	if diff := cmp.Diff(want, saw); diff != "" {
		t.Errorf("backend saw (-want +got):\n%s", diff)
	}
	host, port, _ := strings.Cut(addr, ":")
	attrs := attrMap(client.Attributes())
	if attrs["network.peer.address"] != host || attrs["network.peer.port"] != port {
		t.Errorf("client span peer %s:%s, want %s", attrs["network.peer.address"], attrs["network.peer.port"], addr)
	}
}

// policyManifests are Gateways with XTelemetryPolicies, loaded with the
// manifest loader and validated by the experimental channel's CRDs.
const policyManifests = `apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: disabled, namespace: default}
spec: {gatewayClassName: c, listeners: [{name: http, port: 80, protocol: HTTP, allowedRoutes: {namespaces: {from: All}}}]}
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: never, namespace: default}
spec: {gatewayClassName: c, listeners: [{name: http, port: 80, protocol: HTTP}]}
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: parent, namespace: default}
spec: {gatewayClassName: c, listeners: [{name: http, port: 80, protocol: HTTP}]}
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: plain, namespace: default}
spec: {gatewayClassName: c, listeners: [{name: http, port: 80, protocol: HTTP}]}
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: r, namespace: default}
spec:
  parentRefs: [{name: disabled}, {name: never}, {name: parent}, {name: plain}]
  rules: [{backendRefs: [{name: app, port: 80}]}]
---
apiVersion: gateway.networking.x-k8s.io/v1alpha1
kind: XTelemetryPolicy
metadata: {name: tracing-off, namespace: default}
spec:
  targetRefs: [{group: gateway.networking.k8s.io, kind: Gateway, name: disabled}]
  tracing: {mode: Disabled}
---
apiVersion: gateway.networking.x-k8s.io/v1alpha1
kind: XTelemetryPolicy
metadata: {name: sampled, namespace: default}
spec:
  targetRefs:
  - {group: gateway.networking.k8s.io, kind: Gateway, name: never}
  - {group: gateway.networking.k8s.io, kind: Gateway, name: parent}
  tracing:
    mode: Enabled
    provider: {backendRef: {name: collector, port: 4318}}
    samplingRate: {numerator: 0}
    parentBasedSampling: {mode: Enabled}
    serviceName: edge
    spanName: ingress
    attributes:
    - {name: env, sourceType: Literal, literalValue: prod}
    - {name: tenant, sourceType: Header, headerName: x-tenant}
    - {name: verb, sourceType: Attribute, attributeKey: http.request.method}
`

// TestTelemetryPolicies: each Gateway's XTelemetryPolicy decides whether
// its requests are traced (mode, sampling rate, parent-based sampling),
// the server span's name and attributes, and the tracer provider (with
// the policy's service.name).
func TestTelemetryPolicies(t *testing.T) {
	m, err := manifest.Decode(manifest.Options{Channel: validation.Experimental}, "policies.yaml", strings.NewReader(policyManifests))
	if err != nil {
		t.Fatal(err)
	}
	spans := tracetest.NewSpanRecorder()
	var services []string
	obs, err := otelroute.New(otelroute.Options{
		TracerProvider: sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans)),
		TracerProviderFor: func(p *httproute.TelemetryPolicy) trace.TracerProvider {
			res := otelroute.Resource(p)
			name, _ := res.Set().Value("service.name")
			services = append(services, p.Policy.Name+"="+name.Emit())
			return sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans), sdktrace.WithResource(res))
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	cfg := m.Config
	ok := httproute.InProcess(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	cfg.Services = httproute.Services{
		{Namespace: "default", Name: "app", Port: 80}:         ok,
		{Namespace: "default", Name: "collector", Port: 4318}: ok,
	}
	cfg.Observer = obs
	cfg.Strict = true
	rt, err := httproute.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		gateway, traceparent string
		want                 []string // span names
	}{
		{"plain", "", []string{"GET /*", "GET"}},
		{"disabled", "00-" + traceID + "-" + parentID + "-01", nil},
		{"never", "", nil},
		{"parent", "", nil},
		{"parent", "00-" + traceID + "-" + parentID + "-00", nil},
		{"parent", "00-" + traceID + "-" + parentID + "-01", []string{"ingress", "GET"}},
	}
	for _, tc := range cases {
		before := len(spans.Ended())
		req := httptest.NewRequest("GET", "/", nil)
		req.Header.Set("X-Tenant", "acme")
		if tc.traceparent != "" {
			req.Header.Set("Traceparent", tc.traceparent)
		}
		rt.Gateway("default", tc.gateway).ServeHTTP(httptest.NewRecorder(), req)
		var names []string
		for _, s := range spans.Ended()[before:] {
			names = append(names, s.Name())
		}
		sort.Sort(sort.Reverse(sort.StringSlice(names)))
		if diff := cmp.Diff(tc.want, names); diff != "" {
			t.Errorf("gateway %s, traceparent %q: spans (-want +got):\n%s", tc.gateway, tc.traceparent, diff)
		}
	}
	var server sdktrace.ReadOnlySpan
	for _, s := range spans.Ended() {
		if s.Name() == "ingress" {
			server = s
		}
	}
	if server == nil {
		t.Fatal("no ingress span")
	}
	attrs := attrMap(server.Attributes())
	if attrs["env"] != "prod" || attrs["tenant"] != "acme" || attrs["verb"] != "GET" || attrs["httproute.gateway"] != "default/parent" {
		t.Errorf("ingress span attributes %v: want env=prod, tenant=acme, verb=GET, httproute.gateway=default/parent", attrs)
	}
	if name, _ := server.Resource().Set().Value("service.name"); name.Emit() != "edge" {
		t.Errorf("ingress span's service.name %q, want edge", name.Emit())
	}
	// An Update compiles new policies: their tracer providers are asked
	// for anew (the caches of the old table are dropped).
	if err := rt.Update(cfg); err != nil {
		t.Fatal(err)
	}
	req := httptest.NewRequest("GET", "/", nil)
	req.Header.Set("Traceparent", "00-"+traceID+"-"+parentID+"-01")
	rt.Gateway("default", "parent").ServeHTTP(httptest.NewRecorder(), req)
	if diff := cmp.Diff([]string{"sampled=edge", "sampled=edge"}, services); diff != "" {
		t.Errorf("tracer providers made (-want +got):\n%s", diff)
	}
}
