package lambda_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/httproute/httproute/extension/lambda"
)

// TestLocalSerializesInvokes sends parallel requests to the seed's lambda
// route in local mode, straight at the AWS Lambda Runtime Interface
// Emulator, which takes one invoke at a time: every request must reach the
// function, and the emulator must still serve afterwards.
func TestLocalSerializesInvokes(t *testing.T) {
	rie, function := buildBinaries(t)
	emulator := startEmulator(t, rie, function)
	rt := newRouter(t, lambda.Options{Local: true, Endpoint: emulator, FunctionName: "function"}, seedManifests)

	const parallel = 6
	var wg sync.WaitGroup
	results := make([]string, parallel)
	for i := range parallel {
		wg.Go(func() {
			rec := httptest.NewRecorder()
			rt.ServeHTTP(rec, httptest.NewRequest("GET", fmt.Sprintf("http://example.com/echo/%d", i), nil))
			results[i] = fmt.Sprintf("%d", rec.Code)
			if rec.Code == http.StatusOK {
				if ev := eventOf(t, rec.Body.String()); ev.RawPath != fmt.Sprintf("/echo/%d", i) {
					results[i] = "raw_path " + ev.RawPath
				}
			} else {
				results[i] += " " + rec.Body.String()
			}
		})
	}
	wg.Wait()
	for i, r := range results {
		if r != "200" {
			t.Errorf("request %d: %s", i, r)
		}
	}
	// The emulator is still up.
	rec := httptest.NewRecorder()
	rt.ServeHTTP(rec, httptest.NewRequest("GET", "http://example.com/echo/after", nil))
	if rec.Code != http.StatusOK {
		t.Errorf("after the parallel requests: %d %s", rec.Code, rec.Body)
	}
}

// TestLocalWaitsWithinDeadline checks the local-mode queue without the
// emulator: a loopback Lambda API that records how many invokes overlap
// sees one at a time, and a request queued behind a stuck invoke gives up
// at its own deadline without being sent.
func TestLocalWaitsWithinDeadline(t *testing.T) {
	var inFlight, most, invokes atomic.Int32
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		invokes.Add(1)
		n := inFlight.Add(1)
		defer inFlight.Add(-1)
		for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
		}
		if strings.Contains(r.URL.Path, "stuck") {
			<-release
		}
		time.Sleep(time.Millisecond)
		io.WriteString(w, `{"statusCode":200,"body":"ok"}`)
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(release) }) // before srv.Close, which waits for handlers
	p := lambda.New(lambda.Options{Local: true, Endpoint: srv.URL})
	cfg, _ := manifests(t, seedManifests)
	b, err := p.NewBackend(cfg.Objects[0].(*lambda.Backend))
	if err != nil {
		t.Fatal(err)
	}

	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			res, err := b.RoundTrip(httptest.NewRequest("GET", "http://example.com/echo", nil))
			if err != nil || res.StatusCode != 200 {
				t.Errorf("%v %v", res, err)
			}
		})
	}
	wg.Wait()
	if most.Load() != 1 || invokes.Load() != 8 {
		t.Fatalf("%d invokes, at most %d at once; want 8, one at a time", invokes.Load(), most.Load())
	}

	// A second Backend of the same Provider and endpoint shares the queue.
	stuck, err := p.NewBackend(&lambda.Backend{
		ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "stuck"},
		Spec:       lambda.BackendSpec{AWS: &lambda.AWSBackend{Lambda: &lambda.AWSLambda{FunctionName: "stuck"}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	go stuck.RoundTrip(httptest.NewRequest("GET", "http://example.com/", nil))
	for inFlight.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err = b.RoundTrip(httptest.NewRequestWithContext(ctx, "GET", "http://example.com/echo", nil))
	if !errors.Is(err, context.DeadlineExceeded) || invokes.Load() != 9 {
		t.Errorf("queued request: error %v after %d invokes; want DeadlineExceeded and no invoke of its own", err, invokes.Load())
	}
}
