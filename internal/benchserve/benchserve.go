// Package benchserve is the request the Observer benchmarks measure, in
// the root module and in promroute and otelroute alike: BenchmarkServe's
// plain rule (one backendRef to an in-process handler), served with a
// ResponseWriter that costs nothing.
package benchserve

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

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
func Loop(b *testing.B, h http.Handler) {
	req := httptest.NewRequest("GET", "http://example.com/api/items", nil)
	b.ReportAllocs()
	for b.Loop() {
		w := DiscardWriter{H: http.Header{}}
		h.ServeHTTP(&w, req)
	}
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
