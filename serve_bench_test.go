package httproute_test

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
	"sigs.k8s.io/yaml"

	"github.com/httproute/httproute"
	"github.com/httproute/httproute/internal/benchserve"
)

// BenchmarkServe measures a whole request through ServeHTTP to an
// in-process backend, so that the Router's own cost is what is measured:
// plain, with a retry policy that does not retry, with a session, with a
// request timeout, and with a 10/10/80 split.
func BenchmarkServe(b *testing.B) {
	ok := httproute.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "ok")
	}))
	cases := []struct{ name, rule string }{
		{"plain", `{backendRefs: [{name: a, port: 80}]}`},
		{"retry-not-taken", `{backendRefs: [{name: a, port: 80}], retry: {codes: [500, 502, 503, 504], attempts: 2, backoff: 25ms}}`},
		{"session", `{backendRefs: [{name: a, port: 80}], sessionPersistence: {cookie: {name: s}}}`},
		{"request-timeout", `{backendRefs: [{name: a, port: 80}], timeouts: {request: 10s}}`},
		{"split-10-10-80", `{backendRefs: [{name: a, port: 80, weight: 10}, {name: b, port: 80, weight: 10}, {name: c, port: 80, weight: 80}]}`},
		{"header-filter", `{backendRefs: [{name: a, port: 80}], filters: [{type: RequestHeaderModifier, requestHeaderModifier: {set: [{name: x-env, value: prod}]}}]}`},
	}
	for _, tc := range cases {
		b.Run(tc.name, func(b *testing.B) {
			var route gatewayv1.HTTPRoute
			if err := yaml.UnmarshalStrict([]byte("metadata: {name: r, namespace: default}\nspec: {rules: ["+tc.rule+"]}"), &route); err != nil {
				b.Fatal(err)
			}
			rt, err := httproute.New(httproute.Config{
				HTTPRoutes: []*gatewayv1.HTTPRoute{&route},
				Services: httproute.Services{
					{Namespace: "default", Name: "a", Port: 80}: ok,
					{Namespace: "default", Name: "b", Port: 80}: ok,
					{Namespace: "default", Name: "c", Port: 80}: ok,
				},
				SessionKey: []byte("bench"),
				Strict:     true,
			})
			if err != nil {
				b.Fatal(err)
			}
			req := httptest.NewRequest("GET", "http://example.com/api/items", nil)
			rec := httptest.NewRecorder()
			rt.ServeHTTP(rec, req)
			if rec.Code != 200 {
				b.Fatalf("status %d", rec.Code)
			}
			b.ReportAllocs()
			for b.Loop() {
				w := benchserve.DiscardWriter{H: http.Header{}}
				rt.ServeHTTP(&w, req)
			}
		})
	}
}

// BenchmarkServeObserved is BenchmarkServe's plain rule with each of the
// root package's observers: none, one that does nothing (the cost of
// making the record), and the slog access log writing JSON or text to
// io.Discard; then what each adds, paired with no observer in the same
// run. promroute and otelroute have the same benchmarks with their
// observers.
func BenchmarkServeObserved(b *testing.B) {
	jsonLog, err := httproute.NewAccessLog(slog.New(slog.NewJSONHandler(io.Discard, nil)), httproute.AccessLogOptions{})
	if err != nil {
		b.Fatal(err)
	}
	textLog, err := httproute.NewAccessLog(slog.New(slog.NewTextHandler(io.Discard, nil)), httproute.AccessLogOptions{})
	if err != nil {
		b.Fatal(err)
	}
	cases := []struct {
		name string
		obs  httproute.Observer
	}{
		{"none", nil},
		{"no-op", httproute.ObserverFunc(func(*httproute.Record) {})},
		{"slog-json-discard", jsonLog},
		{"slog-text-discard", textLog},
	}
	for _, tc := range cases {
		rt := benchserve.Router(b, tc.obs)
		b.Run(tc.name, func(b *testing.B) { benchserve.Loop(b, rt) })
	}
	// What each observer adds, measured against no observer in the same
	// run (see benchserve.Overhead): the figure issue 13 bounds.
	base := benchserve.Router(b, nil)
	for _, tc := range cases[1:] {
		rt := benchserve.Router(b, tc.obs)
		b.Run("overhead/"+tc.name, func(b *testing.B) { benchserve.Overhead(b, base, rt) })
	}
}

// BenchmarkClockReading is the floor under what a record costs: a
// reading of the monotonic clock, of which a record takes two (its start
// and its duration). It depends on the machine (the vDSO's clock source
// and, in a VM, the hypervisor's), not on this package.
func BenchmarkClockReading(b *testing.B) {
	start := time.Now()
	var sum time.Duration
	for b.Loop() {
		sum += time.Since(start)
	}
	if sum < 0 {
		b.Fatal("the monotonic clock went back")
	}
}
