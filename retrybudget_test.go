package httproute_test

import (
	"context"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"k8s.io/apimachinery/pkg/types"

	"github.com/httproute/httproute"
)

func TestRetryDurationsSaturate(t *testing.T) {
	// Issue 11: a backoff of 99999h99999h99999h passed validation and the
	// first retry panicked in the delay computation.
	be := newBackend(t, func(n int64, w http.ResponseWriter, r *http.Request) { w.WriteHeader(503) })
	var s sleeps
	rt := resilienceRouter(t, `
- backendRefs: [{name: a, port: 80}]
  retry: {codes: [503], attempts: 3, backoff: 99999h99999h99999h}
`, httproute.Config{Sleep: s.sleep}, map[string][]string{"a": {be.addr}})
	assert.Equal(t, 503, do(t, rt, "GET", "/", "", nil).Code)
	assert.EqualValues(t, 4, be.hits.Load())
	for i, d := range s.list() {
		assert.Equal(t, httproute.MaxRetryBackoff, d, "wait %d is capped", i)
	}
}

func TestRetryAfterTooLargeToRepresent(t *testing.T) {
	// Issue 11: Retry-After values whose duration overflows made the wait
	// negative, so the request was retried at once instead of the 503
	// reaching the client.
	for _, ra := range []string{"18446744074", "9223372037", "99999999999999999999999"} {
		t.Run(ra, func(t *testing.T) {
			be := newBackend(t, func(n int64, w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Retry-After", ra)
				w.WriteHeader(503)
			})
			var s sleeps
			rt := resilienceRouter(t, `
- backendRefs: [{name: a, port: 80}]
  retry: {codes: [503], attempts: 1}
`, httproute.Config{Sleep: s.sleep}, map[string][]string{"a": {be.addr}})
			assert.Equal(t, 503, do(t, rt, "GET", "/", "", nil).Code)
			assert.EqualValues(t, 1, be.hits.Load(), "no retry")
			assert.Empty(t, s.list())
		})
	}
}

func TestRetryAttemptsCapped(t *testing.T) {
	// Issue 11: attempts: 100000 made 100,001 backend requests for one
	// client request.
	be := newBackend(t, func(n int64, w http.ResponseWriter, r *http.Request) { w.WriteHeader(503) })
	rt := resilienceRouter(t, `
- backendRefs: [{name: a, port: 80}]
  retry: {codes: [503], attempts: 100000, backoff: 0s}
`, httproute.Config{}, map[string][]string{"a": {be.addr}})
	assert.Equal(t, 503, do(t, rt, "GET", "/", "", nil).Code)
	assert.EqualValues(t, 1+httproute.DefaultMaxRetryAttempts, be.hits.Load())
	parents := rt.Status().HTTPRoutes[types.NamespacedName{Namespace: "default", Name: "r"}].Parents
	require.Len(t, parents, 1)
	accepted := parents[0].Conditions[0]
	assert.Equal(t, "Accepted", accepted.Type)
	assert.Equal(t, "True", string(accepted.Status))
	assert.Equal(t, "spec.rules[0].retry.attempts: 100000 retries asked for, 10 made (the Router's cap per request)", accepted.Message)

	limited := resilienceRouter(t, `
- backendRefs: [{name: a, port: 80}]
  retry: {codes: [503], attempts: 100000, backoff: 0s}
`, httproute.Config{MaxRetryAttempts: 2}, map[string][]string{"a": {be.addr}})
	before := be.hits.Load()
	do(t, limited, "GET", "/", "", nil)
	assert.EqualValues(t, 3, be.hits.Load()-before, "Config.MaxRetryAttempts sets the cap")
}

func TestRetryBudgetBoundsConcurrentRetries(t *testing.T) {
	// With a budget of 10% and a minimum of 2, twenty requests failing at
	// once get two retries between them; the others get their 503 at once.
	be := newBackend(t, func(n int64, w http.ResponseWriter, r *http.Request) { w.WriteHeader(503) })
	release := make(chan struct{})
	var inBackoff sync.WaitGroup
	inBackoff.Add(2)
	rt := resilienceRouter(t, `
- backendRefs: [{name: a, port: 80}]
  retry: {codes: [503], attempts: 1}
`, httproute.Config{
		RetryBudget: httproute.RetryBudget{Percent: 10, MinConcurrency: 2},
		Sleep: func(ctx context.Context, d time.Duration) error {
			inBackoff.Done()
			<-release
			return nil
		},
	}, map[string][]string{"a": {be.addr}})
	const n = 20
	done := make(chan int, n)
	for i := 0; i < n; i++ {
		go func() { done <- do(t, rt, "GET", "/", "", nil).Code }()
	}
	inBackoff.Wait()
	for i := 0; i < n-2; i++ {
		select {
		case code := <-done:
			assert.Equal(t, 503, code)
		case <-time.After(10 * time.Second):
			t.Fatalf("only %d of %d requests without a retry slot answered", i, n-2)
		}
	}
	close(release)
	for i := 0; i < 2; i++ {
		<-done
	}
	assert.EqualValues(t, n+2, be.hits.Load(), "twenty attempts and two retries")

	// A negative Percent disables the budget.
	var all sync.WaitGroup
	all.Add(n)
	free := resilienceRouter(t, `
- backendRefs: [{name: a, port: 80}]
  retry: {codes: [503], attempts: 1}
`, httproute.Config{
		RetryBudget: httproute.RetryBudget{Percent: -1},
		Sleep:       func(ctx context.Context, d time.Duration) error { all.Done(); all.Wait(); return nil },
	}, map[string][]string{"a": {be.addr}})
	before := be.hits.Load()
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() { defer wg.Done(); do(t, free, "GET", "/", "", nil) }()
	}
	wg.Wait()
	assert.EqualValues(t, 2*n, be.hits.Load()-before, "every request retried once")
}
