package httproute_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/httproute/httproute"
)

// limiter is a stateful extension Filter, like a rate limiter: it counts
// the requests it let through, and the times it was built and closed.
type limiter struct {
	id     string
	served atomic.Int64
	closed atomic.Int64
}

func (l *limiter) Wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := l.served.Add(1)
		w.Header().Set("X-Served", l.id+"#"+string(rune('0'+n)))
		next.ServeHTTP(w, r)
	})
}

func (l *limiter) Close() error { l.closed.Add(1); return nil }

// limiterConfig routes / through a limiter filter built from the note
// object (incremental_test.go's test kind).
func limiterConfig(text string, built *[]*limiter, mu *sync.Mutex, svc httproute.Backend) httproute.Config {
	route := simpleRoute("r", "/", "svc")
	route.Spec.Rules[0].Filters = []gatewayv1.HTTPRouteFilter{{Type: gatewayv1.HTTPRouteFilterExtensionRef,
		ExtensionRef: &gatewayv1.LocalObjectReference{Group: "example.com", Kind: "Note", Name: "n"}}}
	return httproute.Config{
		HTTPRoutes: []*gatewayv1.HTTPRoute{route},
		Services:   httproute.Services{{Namespace: "default", Name: "svc", Port: 80}: svc},
		Objects: []httproute.Object{&note{TypeMeta: metav1.TypeMeta{APIVersion: "example.com/v1", Kind: "Note"},
			ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "n"}, Text: text}},
		Extensions: []httproute.Extension{{
			Kind: noteKind,
			New:  func() httproute.Object { return &note{} },
			Filter: func(ref httproute.ObjectRef) (httproute.Filter, error) {
				l := &limiter{id: ref.Object.(*note).Text}
				mu.Lock()
				*built = append(*built, l)
				mu.Unlock()
				return l, nil
			},
		}},
	}
}

func TestExtensionStateSurvivesUpdateAndIsReleased(t *testing.T) {
	var built []*limiter
	var mu sync.Mutex
	svc := named("svc") // the host's backend, kept across Updates
	cfg := limiterConfig("a", &built, &mu, svc)
	exts := cfg.Extensions // registered once, as a host does
	rt, err := httproute.New(cfg)
	require.NoError(t, err)
	serve(rt, "/")

	same := limiterConfig("a", &built, &mu, svc)
	same.Extensions = exts
	require.NoError(t, rt.Update(same))
	rec := httptest.NewRecorder()
	rt.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	assert.Equal(t, "a#2", rec.Header().Get("X-Served"), "an Update with an equal object keeps the filter and its state")
	require.Len(t, built, 1, "the constructor is not called again for an unchanged object")

	changed := limiterConfig("b", &built, &mu, svc)
	changed.Extensions = exts
	require.NoError(t, rt.Update(changed))
	require.Len(t, built, 2)
	assert.EqualValues(t, 1, built[0].closed.Load(), "the filter the Update dropped is closed")
	assert.EqualValues(t, 0, built[1].closed.Load())

	require.NoError(t, rt.Close())
	assert.EqualValues(t, 1, built[1].closed.Load(), "Close closes what the Router serves")
	assert.EqualValues(t, 1, built[0].closed.Load(), "closed once")
	require.NoError(t, rt.Close(), "Close twice")
}

// closingObserver counts requests and its Close.
type closingObserver struct{ closed atomic.Int64 }

func (o *closingObserver) ObserveRequest(*httproute.Record) {}
func (o *closingObserver) Close() error                     { o.closed.Add(1); return nil }

func TestCloseWaitsForMirrorsAndAnswers503(t *testing.T) {
	started, canceled := make(chan struct{}, 1), make(chan struct{})
	mirror := newBackend(t, func(n int64, w http.ResponseWriter, r *http.Request) {
		started <- struct{}{}
		select {
		case <-r.Context().Done():
			close(canceled)
		case <-time.After(10 * time.Second):
		}
	})
	obs := &closingObserver{}
	rt := resilienceRouter(t, `
- backendRefs: [{name: a, port: 80}]
  filters: [{type: RequestMirror, requestMirror: {backendRef: {name: m, port: 80}}}]
`, httproute.Config{Observer: obs}, map[string][]string{"a": {newBackend(t, func(int64, http.ResponseWriter, *http.Request) {}).addr}, "m": {mirror.addr}})
	assert.Equal(t, 200, do(t, rt, "GET", "/", "", nil).Code)
	<-started
	closed := make(chan error)
	go func() { closed <- rt.Close() }()
	select {
	case err := <-closed:
		require.NoError(t, err)
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not return: the mirror copy in flight was not canceled")
	}
	select {
	case <-canceled: // the copy was canceled, not left to run its course
	case <-time.After(5 * time.Second):
		t.Error("the mirror copy in flight was not canceled by Close")
	}
	assert.EqualValues(t, 1, obs.closed.Load(), "the Observer is closed")
	rec := do(t, rt, "GET", "/", "", nil)
	assert.Equal(t, 503, rec.Code, "requests after Close")
	_, ok := rt.Lookup(httptest.NewRequest("GET", "/", nil))
	assert.False(t, ok)
	err := rt.Update(httproute.Config{})
	assert.True(t, errors.Is(err, httproute.ErrNoEndpoint), "Update after Close: %v", err)
}
