package otelroute_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
	"sigs.k8s.io/yaml"

	"github.com/httproute/httproute"
	"github.com/httproute/httproute/otelroute"
)

// BenchmarkServe is the root package's BenchmarkServeObserved with the
// OpenTelemetry Observer: the SDK's tracer provider sampling every
// request (spans made and ended, exported nowhere) and a meter provider
// aggregating the metrics.
func BenchmarkServe(b *testing.B) {
	obs, err := otelroute.New(otelroute.Options{
		TracerProvider: sdktrace.NewTracerProvider(),
		MeterProvider:  sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader())),
	})
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
		Observer: obs,
		Strict:   true,
	})
	if err != nil {
		b.Fatal(err)
	}
	req := httptest.NewRequest("GET", "http://example.com/api/items", nil)
	b.Run("opentelemetry", func(b *testing.B) {
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
