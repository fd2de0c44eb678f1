package httproute_test

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
	"sigs.k8s.io/yaml"

	"github.com/httproute/httproute"
)

// These tests pin defects found in review; each would fail on the code
// before its fix.

func TestHandlerRoundTripPanicIsAnError(t *testing.T) {
	for _, p := range []any{"boom", http.ErrAbortHandler} {
		b := httproute.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { panic(p) }))
		req := httptest.NewRequest("GET", "http://x/", nil)
		res, err := b.RoundTrip(req)
		if err == nil {
			res.Body.Close()
			t.Fatalf("panic(%v) before answering gave %d, want an error (never an implicit 200)", p, res.StatusCode)
		}
		assert.ErrorIs(t, err, httproute.ErrBackend)
	}
}

func TestExternalAuthInProcessPanicFailsClosed(t *testing.T) {
	var route gatewayv1.HTTPRoute
	require.NoError(t, yaml.UnmarshalStrict([]byte(`
metadata: {name: r, namespace: default}
spec:
  rules:
  - backendRefs: [{name: app, port: 80}]
    filters:
    - type: ExternalAuth
      externalAuth: {protocol: HTTP, backendRef: {name: auth, port: 80}}
`), &route))
	rt, err := httproute.New(httproute.Config{
		HTTPRoutes: []*gatewayv1.HTTPRoute{&route},
		Services: httproute.Services{
			{Namespace: "default", Name: "app", Port: 80}: named("secret"),
			{Namespace: "default", Name: "auth", Port: 80}: httproute.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				panic("auth service bug")
			})),
		},
		Strict: true,
	})
	require.NoError(t, err)
	code, body := serve(rt, "http://x/")
	assert.NotEqual(t, 200, code, "an auth backend that panicked let the request through: %q", body)
	assert.NotEqual(t, "secret", body)
}

func TestRetryOfAnswerBrokenMidBodyReleasesItsSlot(t *testing.T) {
	be := newBackend(t, func(n int64, w http.ResponseWriter, r *http.Request) {
		if n%2 == 1 {
			w.Header().Set("Content-Length", "100")
			w.WriteHeader(503)
			io.WriteString(w, "12345")
			w.(http.Flusher).Flush()
			conn, _, _ := http.NewResponseController(w).Hijack()
			conn.Close()
			return
		}
		io.WriteString(w, "ok")
	})
	up, err := httproute.NewUpstream(httproute.UpstreamConfig{Endpoints: []string{be.addr}})
	require.NoError(t, err)
	var route gatewayv1.HTTPRoute
	require.NoError(t, yaml.Unmarshal([]byte(`
metadata: {name: r, namespace: default}
spec: {rules: [{backendRefs: [{name: s, port: 80}], retry: {codes: [503], attempts: 1, backoff: 1ms}}]}
`), &route))
	rt, err := httproute.New(httproute.Config{
		HTTPRoutes: []*gatewayv1.HTTPRoute{&route},
		Services:   httproute.Services{{Namespace: "default", Name: "s", Port: 80}: httproute.Limit(up, httproute.Limits{MaxRetries: 1})},
	})
	require.NoError(t, err)
	srv := httptest.NewServer(rt)
	defer srv.Close()
	for i := 0; i < 3; i++ {
		res, err := http.Get(srv.URL)
		require.NoError(t, err, "request %d: the dropped answer's broken body must not abort the client's", i)
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		assert.Equal(t, 200, res.StatusCode, "request %d: the retry (and its released slot) must serve it", i)
		assert.Equal(t, "ok", string(body))
	}
}

func TestRequestTimeoutKeepsHeadersOfAnEmptyAnswer(t *testing.T) {
	h := httproute.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Id", "42") // and no body, no WriteHeader
	}))
	var route gatewayv1.HTTPRoute
	require.NoError(t, yaml.Unmarshal([]byte(`
metadata: {name: r, namespace: default}
spec: {rules: [{backendRefs: [{name: s, port: 80}], timeouts: {request: 5s}}]}
`), &route))
	rt, err := httproute.New(httproute.Config{HTTPRoutes: []*gatewayv1.HTTPRoute{&route},
		Services: httproute.Services{{Namespace: "default", Name: "s", Port: 80}: h}})
	require.NoError(t, err)
	rec := httptest.NewRecorder()
	rt.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	assert.Equal(t, 200, rec.Code)
	assert.Equal(t, "42", rec.Header().Get("X-Id"))
}

func TestRequestTimeoutAnswers504WhenHandlerReturnsAtDeadline(t *testing.T) {
	h := httproute.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-r.Context().Done() // and return without writing
	}))
	var route gatewayv1.HTTPRoute
	require.NoError(t, yaml.Unmarshal([]byte(`
metadata: {name: r, namespace: default}
spec: {rules: [{backendRefs: [{name: s, port: 80}], timeouts: {request: 5ms}}]}
`), &route))
	rt, err := httproute.New(httproute.Config{HTTPRoutes: []*gatewayv1.HTTPRoute{&route},
		Services: httproute.Services{{Namespace: "default", Name: "s", Port: 80}: h}})
	require.NoError(t, err)
	for i := 0; i < 20; i++ {
		rec := httptest.NewRecorder()
		rt.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
		require.Equal(t, 504, rec.Code, "run %d", i)
	}
}

func TestTrailersSurviveRetryAndTimeoutPolicies(t *testing.T) {
	be := newBackend(t, func(n int64, w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Trailer", "Grpc-Status")
		io.WriteString(w, "body")
		w.Header().Set("Grpc-Status", "0")
	})
	for _, rule := range []string{
		`{backendRefs: [{name: a, port: 80}], retry: {codes: [503], attempts: 1}}`,
		`{backendRefs: [{name: a, port: 80}], timeouts: {request: 5s}}`,
		`{backendRefs: [{name: a, port: 80}], sessionPersistence: {cookie: {name: s}}}`,
	} {
		rt := resilienceRouter(t, "- "+rule, httproute.Config{}, map[string][]string{"a": {be.addr}})
		srv := httptest.NewServer(rt)
		res, err := http.Get(srv.URL)
		require.NoError(t, err)
		io.ReadAll(res.Body)
		res.Body.Close()
		srv.Close()
		assert.Equal(t, "0", res.Trailer.Get("Grpc-Status"), "trailer lost under %s", rule)
	}
}

func TestRetryAfterBeyondTheCapIsNotWaitedFor(t *testing.T) {
	be := newBackend(t, func(n int64, w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", "86400")
		w.WriteHeader(503)
	})
	var s sleeps
	rt := resilienceRouter(t, `
- backendRefs: [{name: a, port: 80}]
  retry: {codes: [503], attempts: 1}
`, httproute.Config{Sleep: s.sleep}, map[string][]string{"a": {be.addr}})
	assert.Equal(t, 503, do(t, rt, "GET", "/", "", nil).Code)
	assert.Empty(t, s.list(), "a day-long Retry-After must not be waited for")
	assert.EqualValues(t, 1, be.hits.Load())
}

func TestSessionKeepsItsExpiryAcrossRetries(t *testing.T) {
	fail := newBackend(t, func(n int64, w http.ResponseWriter, r *http.Request) {
		if n > 1 {
			w.WriteHeader(503)
			return
		}
		io.WriteString(w, "first")
	})
	other := newBackend(t, func(n int64, w http.ResponseWriter, r *http.Request) { io.WriteString(w, "other") })
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	rt := resilienceRouter(t, `
- backendRefs: [{name: a, port: 80}]
  sessionPersistence: {absoluteTimeout: 1h, cookie: {name: s, lifetimeType: Permanent}}
  retry: {codes: [503], attempts: 1}
`, httproute.Config{SessionKey: []byte("k"), Now: clock, Sleep: (&sleeps{}).sleep}, map[string][]string{"a": {fail.addr, other.addr}})
	var first *httptest.ResponseRecorder
	for { // start a session pinned to the endpoint that will fail
		first = do(t, rt, "GET", "/", "", nil)
		if first.Body.String() == "first" {
			break
		}
	}
	c := first.Result().Cookies()
	require.Len(t, c, 1)
	require.Equal(t, 3600, c[0].MaxAge)
	mu.Lock()
	now = now.Add(50 * time.Minute)
	mu.Unlock()
	rec := do(t, rt, "GET", "/", "", http.Header{"Cookie": {c[0].String()}})
	require.Equal(t, "other", rec.Body.String(), "the retry goes to the other endpoint")
	re := rec.Result().Cookies()
	require.Len(t, re, 1, "the session is re-pinned")
	assert.Equal(t, 600, re[0].MaxAge, "a re-pinned session keeps its absolute expiry (10 minutes left)")
}

func TestBackendRefMirrorCopiesOncePerRequest(t *testing.T) {
	var mu sync.Mutex
	copies := 0
	got := make(chan struct{}, 10)
	mirror := newBackend(t, func(n int64, w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		copies++
		mu.Unlock()
		got <- struct{}{}
	})
	failing := newBackend(t, func(n int64, w http.ResponseWriter, r *http.Request) { w.WriteHeader(503) })
	rt := resilienceRouter(t, `
- backendRefs:
  - name: a
    port: 80
    filters: [{type: RequestMirror, requestMirror: {backendRef: {name: m, port: 80}}}]
  retry: {codes: [503], attempts: 2}
`, httproute.Config{Sleep: (&sleeps{}).sleep}, map[string][]string{"a": {failing.addr}, "m": {mirror.addr}})
	assert.Equal(t, 503, do(t, rt, "GET", "/", "", nil).Code)
	assert.EqualValues(t, 3, failing.hits.Load())
	select {
	case <-got:
	case <-time.After(10 * time.Second):
		t.Fatal("no mirror copy")
	}
	time.Sleep(50 * time.Millisecond) // let any further copy arrive
	mu.Lock()
	defer mu.Unlock()
	assert.Equal(t, 1, copies, "one request, one mirror copy, whatever its retries")
}

func TestEncodedDotSegmentsCannotEscapeAPrefix(t *testing.T) {
	var got string
	h := httproute.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { got = r.URL.Path }))
	rt, err := httproute.New(httproute.Config{
		HTTPRoutes: []*gatewayv1.HTTPRoute{simpleRoute("public", "/public", "svc")},
		Services:   httproute.Services{{Namespace: "default", Name: "svc", Port: 80}: h},
	})
	require.NoError(t, err)
	for _, p := range []string{"/public/%2e%2e/admin", "/public/%2E%2E/admin", "/public/.%2e/admin"} {
		req := httptest.NewRequest("GET", "http://x"+p, nil)
		rec := httptest.NewRecorder()
		rt.ServeHTTP(rec, req)
		assert.Equal(t, 404, rec.Code, "%s reached the backend as %q", p, got)
	}
}

func TestUpstreamDoesNotModifyTheCallersRequest(t *testing.T) {
	be := newBackend(t, func(n int64, w http.ResponseWriter, r *http.Request) {})
	up, err := httproute.NewUpstream(httproute.UpstreamConfig{Endpoints: []string{be.addr}})
	require.NoError(t, err)
	req, _ := http.NewRequest("GET", "http://service.example/x", nil)
	res, err := up.RoundTrip(req)
	require.NoError(t, err)
	res.Body.Close()
	assert.Equal(t, "service.example", req.URL.Host, "RoundTrip changed the caller's URL")
	assert.False(t, errors.Is(err, httproute.ErrNoEndpoint))
}

func TestDuplicateRuleNameDropsTheLaterRule(t *testing.T) {
	// Gateway API v1.7 rejects duplicate rule names in both channels; a
	// Config built from structs (no API server in front) gets the later
	// rule dropped and reported, the first one keeps serving.
	route := simpleRoute("web", "/a", "svc")
	route.Spec.Rules = append(route.Spec.Rules, *route.Spec.Rules[0].DeepCopy())
	route.Spec.Rules[1].Matches[0].Path.Value = ptr("/b")
	route.Spec.Rules[0].Name = ptr(gatewayv1.SectionName("same"))
	route.Spec.Rules[1].Name = ptr(gatewayv1.SectionName("same"))
	cfg := httproute.Config{
		HTTPRoutes: []*gatewayv1.HTTPRoute{route},
		Services:   httproute.Services{{Namespace: "default", Name: "svc", Port: 80}: named("svc")},
	}
	rt, err := httproute.New(cfg)
	require.NoError(t, err)
	code, _ := serve(rt, "/a")
	assert.Equal(t, 200, code)
	code, _ = serve(rt, "/b")
	assert.Equal(t, 404, code, "the rule with the duplicate name is not served")

	cfg.Strict = true
	_, err = httproute.New(cfg)
	assert.EqualError(t, err, `httproute default/web: spec.rules[1].name: Duplicate value: "same"`)
}
