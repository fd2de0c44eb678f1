package promroute_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
	"sigs.k8s.io/yaml"

	"github.com/httproute/httproute"
	"github.com/httproute/httproute/promroute"
)

// BenchmarkServe is the root package's BenchmarkServeObserved with
// Metrics as the Observer: the plain rule to an in-process backend.
func BenchmarkServe(b *testing.B) {
	metrics, err := promroute.New(prometheus.NewRegistry(), promroute.Options{})
	if err != nil {
		b.Fatal(err)
	}
	var route gatewayv1.HTTPRoute
	if err := yaml.UnmarshalStrict([]byte("metadata: {name: r, namespace: default}\nspec: {rules: [{backendRefs: [{name: a, port: 80}]}]}"), &route); err != nil {
		b.Fatal(err)
	}
	rt, err := httproute.New(httproute.Config{
		HTTPRoutes: []*gatewayv1.HTTPRoute{&route},
		Services: httproute.Services{{Namespace: "default", Name: "a", Port: 80}: httproute.InProcess(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, "ok")
		}))},
		Observer: metrics,
		Strict:   true,
	})
	if err != nil {
		b.Fatal(err)
	}
	req := httptest.NewRequest("GET", "http://example.com/api/items", nil)
	b.Run("prometheus", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			w := discardWriter{h: http.Header{}}
			rt.ServeHTTP(&w, req)
		}
	})
}

// discardWriter is a cheap ResponseWriter for benchmarks.
type discardWriter struct {
	h    http.Header
	code int
}

func (w *discardWriter) Header() http.Header         { return w.h }
func (w *discardWriter) WriteHeader(code int)        { w.code = code }
func (w *discardWriter) Write(p []byte) (int, error) { return len(p), nil }
