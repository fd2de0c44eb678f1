package promroute_test

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/httproute/httproute/internal/benchserve"
	"github.com/httproute/httproute/promroute"
)

// BenchmarkServe is the root package's BenchmarkServeObserved with
// Metrics as the Observer.
func BenchmarkServe(b *testing.B) {
	metrics, err := promroute.New(prometheus.NewRegistry(), promroute.Options{})
	if err != nil {
		b.Fatal(err)
	}
	rt := benchserve.Router(b, metrics)
	b.Run("prometheus", func(b *testing.B) { benchserve.Loop(b, rt) })
}
