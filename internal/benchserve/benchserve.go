// Package benchserve is the request the Observer benchmarks measure, in
// the root module and in promroute and otelroute alike: BenchmarkServe's
// plain rule (one backendRef to an in-process handler), served with a
// ResponseWriter that costs nothing.
package benchserve

import (
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
	"sigs.k8s.io/yaml"

	"github.com/httproute/httproute"
)

// Router returns a Router serving the plain rule with obs.
func Router(tb testing.TB, obs httproute.Observer) *httproute.Router {
	tb.Helper()
	var route gatewayv1.HTTPRoute
	if err := yaml.UnmarshalStrict([]byte("metadata: {name: r, namespace: default}\nspec: {rules: [{backendRefs: [{name: a, port: 80}]}]}"), &route); err != nil {
		tb.Fatal(err)
	}
	rt, err := httproute.New(httproute.Config{
		HTTPRoutes: []*gatewayv1.HTTPRoute{&route},
		Services: httproute.Services{{Namespace: "default", Name: "a", Port: 80}: httproute.InProcess(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, "ok")
		}))},
		Observer: obs,
		Strict:   true,
	})
	if err != nil {
		tb.Fatal(err)
	}
	return rt
}

// Loop serves the benchmark's request with h until the benchmark is done.
// Besides ns/op it reports cpu-ns/op, the CPU time the process used per
// request (the garbage collector's included): on a machine whose cores
// are shared, the wall time also counts the time other processes held
// the CPU, the CPU time does not.
func Loop(b *testing.B, h http.Handler) {
	req := httptest.NewRequest("GET", "http://example.com/api/items", nil)
	b.ReportAllocs()
	cpu0, ok := processCPU()
	for b.Loop() {
		w := DiscardWriter{H: http.Header{}}
		h.ServeHTTP(&w, req)
	}
	if cpu1, ok1 := processCPU(); ok && ok1 && b.N > 0 {
		b.ReportMetric(float64(cpu1-cpu0)/float64(b.N), "cpu-ns/op")
	}
}

// Overhead measures what observed adds to each request over base (the
// same Router without its Observer): it serves blocks of requests with
// one and the other in turn, alternating which goes first, and reports the
// median over the blocks of the difference per request as overhead-ns/op.
// A difference taken a few milliseconds apart cancels most of what other
// processes do to a shared machine, which a comparison of separate runs
// does not. ns/op is that of a pair of requests, one with each.
func Overhead(b *testing.B, base, observed http.Handler) {
	const block = 256
	req := httptest.NewRequest("GET", "http://example.com/api/items", nil)
	serve := func(h http.Handler, n int) time.Duration {
		start := time.Now()
		for range n {
			w := DiscardWriter{H: http.Header{}}
			h.ServeHTTP(&w, req)
		}
		return time.Since(start)
	}
	var diffs []float64
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i += block {
		n := min(block, b.N-i)
		var with, without time.Duration
		if len(diffs)%2 == 0 {
			without = serve(base, n)
			with = serve(observed, n)
		} else {
			with = serve(observed, n)
			without = serve(base, n)
		}
		diffs = append(diffs, float64(with-without)/float64(n))
	}
	slices.Sort(diffs)
	b.ReportMetric(diffs[len(diffs)/2], "overhead-ns/op")
}

// DiscardWriter is a ResponseWriter that keeps nothing but its header map
// and status.
type DiscardWriter struct {
	H    http.Header
	Code int
}

func (w *DiscardWriter) Header() http.Header         { return w.H }
func (w *DiscardWriter) WriteHeader(code int)        { w.Code = code }
func (w *DiscardWriter) Write(p []byte) (int, error) { return len(p), nil }
