package lambda_test

import (
	"net/http/httptest"
	"testing"

	"github.com/httproute/httproute"
	"github.com/httproute/httproute/extension/lambda"
)

// BenchmarkInvoke measures one request through a Lambda Backend, in the
// Envoy transform mode (event encoding, invoke, answer decoding):
//
//   - emulator: Backend.RoundTrip, unsigned, straight to the Runtime
//     Interface Emulator running the aws-lambda-go test function;
//   - emulator-signed: the same with SigV4, through the fake Lambda API,
//     which checks the signature before passing the invoke on;
//   - router: Router.ServeHTTP of the seed's route (matching, the
//     Parameter filter, the proxy), unsigned, to the emulator.
//
// Allocations are those of this process: the Router, the Backend, the AWS
// SDK and the HTTP client (and, for emulator-signed, the in-process fake
// Lambda API too), not the emulator's or the function's.
func BenchmarkInvoke(b *testing.B) {
	rie, function := buildBinaries(b)
	emulator := startEmulator(b, rie, function)
	_, frontURL := newFakeLambda(b, emulator)
	cfg, _ := manifests(b, seedManifests)
	seed := cfg.Objects[0].(*lambda.Backend)

	roundTrips := func(b *testing.B, be httproute.Backend) {
		req := httptest.NewRequest("GET", "http://example.com/echo?q=1", nil)
		req = req.WithContext(lambda.WithLogicalName(req.Context(), "echo"))
		b.ReportAllocs()
		for b.Loop() {
			res, err := be.RoundTrip(req)
			if err != nil {
				b.Fatal(err)
			}
			if res.StatusCode != 200 {
				b.Fatalf("status %d", res.StatusCode)
			}
			res.Body.Close()
		}
	}
	b.Run("emulator", func(b *testing.B) {
		be, err := lambda.New(lambda.Options{Local: true, Endpoint: emulator, FunctionName: "function"}).NewBackend(seed)
		if err != nil {
			b.Fatal(err)
		}
		roundTrips(b, be)
	})
	b.Run("emulator-signed", func(b *testing.B) {
		be, err := lambda.New(lambda.Options{
			Endpoint:    frontURL,
			Credentials: lambda.StaticCredentials(testAccessKey, testSecretKey, ""),
		}).NewBackend(seed)
		if err != nil {
			b.Fatal(err)
		}
		roundTrips(b, be)
	})
	b.Run("router", func(b *testing.B) {
		rt := newRouter(b, lambda.Options{Local: true, Endpoint: emulator, FunctionName: "function"}, seedManifests)
		req := httptest.NewRequest("GET", "http://example.com/echo?q=1", nil)
		b.ReportAllocs()
		for b.Loop() {
			rec := httptest.NewRecorder()
			rt.ServeHTTP(rec, req)
			if rec.Code != 200 {
				b.Fatalf("status %d: %s", rec.Code, rec.Body)
			}
		}
	})
}
