package otelroute_test

import (
	"testing"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/httproute/httproute/internal/benchserve"
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
	rt := benchserve.Router(b, obs)
	b.Run("opentelemetry", func(b *testing.B) { benchserve.Loop(b, rt) })
}
