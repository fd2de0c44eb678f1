package httproute_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
	"sigs.k8s.io/yaml"

	"github.com/httproute/httproute"
)

// sleeps records the back-off waits a Router asks for and returns at once,
// so retry tests are exact and fast.
type sleeps struct {
	mu sync.Mutex
	d  []time.Duration
}

func (s *sleeps) sleep(ctx context.Context, d time.Duration) error {
	s.mu.Lock()
	s.d = append(s.d, d)
	s.mu.Unlock()
	return ctx.Err()
}

func (s *sleeps) list() []time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]time.Duration(nil), s.d...)
}

// backend is a loopback server counting its requests.
type backend struct {
	addr string
	hits atomic.Int64
	srv  *httptest.Server
}

func newBackend(t *testing.T, h func(n int64, w http.ResponseWriter, r *http.Request)) *backend {
	t.Helper()
	b := &backend{}
	b.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h(b.hits.Add(1), w, r)
	}))
	t.Cleanup(b.srv.Close)
	b.addr = b.srv.Listener.Addr().String()
	return b
}

// resilienceRouter builds a Router from one route's rules (YAML, the rules
// of spec.rules) whose backendRefs name Services a, b, ... port 80, each
// resolved to an Upstream over the given endpoints.
func resilienceRouter(t *testing.T, rulesYAML string, cfg httproute.Config, services map[string][]string) *httproute.Router {
	t.Helper()
	var route gatewayv1.HTTPRoute
	require.NoError(t, yaml.UnmarshalStrict([]byte("metadata: {name: r, namespace: default}\nspec:\n  rules:\n"+indent(rulesYAML, "  ")), &route))
	svcs := httproute.Services{}
	for name, eps := range services {
		up, err := httproute.NewUpstream(httproute.UpstreamConfig{Endpoints: eps, Balancer: httproute.RoundRobin})
		require.NoError(t, err)
		t.Cleanup(up.CloseIdleConnections)
		svcs[httproute.ServicePort{Namespace: "default", Name: name, Port: 80}] = up
	}
	cfg.HTTPRoutes = []*gatewayv1.HTTPRoute{&route}
	cfg.Services = svcs
	cfg.Strict = true
	rt, err := httproute.New(cfg)
	require.NoError(t, err)
	return rt
}

func indent(s, prefix string) string {
	lines := strings.Split(strings.Trim(s, "\n"), "\n")
	for i, l := range lines {
		lines[i] = prefix + l
	}
	return strings.Join(lines, "\n") + "\n"
}

func do(t *testing.T, h http.Handler, method, target, body string, header http.Header) *httptest.ResponseRecorder {
	t.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req := httptest.NewRequest(method, target, r)
	for k, v := range header {
		req.Header[k] = v
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func TestRetrySucceedsAfter503(t *testing.T) {
	be := newBackend(t, func(n int64, w http.ResponseWriter, r *http.Request) {
		if n == 1 {
			w.Header().Set("X-Attempt", "first")
			w.WriteHeader(503)
			io.WriteString(w, "first attempt body must not leak")
			return
		}
		io.WriteString(w, "ok")
	})
	var s sleeps
	rt := resilienceRouter(t, `
- backendRefs: [{name: a, port: 80}]
  retry: {codes: [503], attempts: 2, backoff: 10ms}
`, httproute.Config{Sleep: s.sleep}, map[string][]string{"a": {be.addr}})
	rec := do(t, rt, "GET", "/", "", nil)
	assert.Equal(t, 200, rec.Code)
	assert.Equal(t, "ok", rec.Body.String())
	assert.Empty(t, rec.Header().Get("X-Attempt"), "headers of a dropped attempt leaked")
	assert.EqualValues(t, 2, be.hits.Load())
	assert.Equal(t, []time.Duration{10 * time.Millisecond}, s.list(), "the first retry waits exactly the backoff")
}

func TestRetryBackoffFloorGrowthAndCap(t *testing.T) {
	be := newBackend(t, func(n int64, w http.ResponseWriter, r *http.Request) { w.WriteHeader(500) })
	var s sleeps
	rt := resilienceRouter(t, `
- backendRefs: [{name: a, port: 80}]
  retry: {codes: [500], attempts: 6, backoff: 100ms}
`, httproute.Config{Sleep: s.sleep}, map[string][]string{"a": {be.addr}})
	rec := do(t, rt, "GET", "/", "", nil)
	assert.Equal(t, 500, rec.Code, "when retries run out the last answer goes to the client")
	assert.EqualValues(t, 7, be.hits.Load(), "one request and 6 retries")
	waits := s.list()
	require.Len(t, waits, 6)
	for i, d := range waits {
		ceil := 100 * time.Millisecond << i
		if ceil > time.Second {
			ceil = time.Second
		}
		assert.GreaterOrEqual(t, d, 100*time.Millisecond, "wait %d below the backoff floor", i)
		assert.LessOrEqual(t, d, ceil, "wait %d above its exponential cap", i)
	}
}

func TestRetryNotForUnlistedCodes(t *testing.T) {
	be := newBackend(t, func(n int64, w http.ResponseWriter, r *http.Request) { w.WriteHeader(502) })
	rt := resilienceRouter(t, `
- backendRefs: [{name: a, port: 80}]
  retry: {codes: [500], attempts: 3}
`, httproute.Config{Sleep: (&sleeps{}).sleep}, map[string][]string{"a": {be.addr}})
	assert.Equal(t, 502, do(t, rt, "GET", "/", "", nil).Code)
	assert.EqualValues(t, 1, be.hits.Load())
}

func TestRetryOnConnectionErrorGoesToAnotherEndpoint(t *testing.T) {
	live := newBackend(t, func(n int64, w http.ResponseWriter, r *http.Request) { io.WriteString(w, "live") })
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	dead := ln.Addr().String()
	ln.Close()
	var s sleeps
	rt := resilienceRouter(t, `
- backendRefs: [{name: a, port: 80}]
  retry: {attempts: 1}
`, httproute.Config{Sleep: s.sleep}, map[string][]string{"a": {dead, live.addr}})
	for i := 0; i < 4; i++ {
		rec := do(t, rt, "GET", "/", "", nil)
		assert.Equal(t, 200, rec.Code, "request %d", i)
		assert.Equal(t, "live", rec.Body.String())
	}
}

func TestResetBeforeAnswerRetriedOnlyWhen502IsListed(t *testing.T) {
	// GEP-1731 (v1.7): a connection reset after the request was sent is not
	// retried by default (the backend may have processed it); it answers
	// 502, which is retried when the rule lists 502.
	for _, tc := range []struct {
		name, rule string
		code       int
		hits       int64
	}{
		{"connection errors only", `retry: {attempts: 1}`, 502, 1},
		{"502 listed", `retry: {codes: [502], attempts: 1}`, 200, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			be := newBackend(t, func(n int64, w http.ResponseWriter, r *http.Request) {
				if n == 1 {
					conn, _, _ := http.NewResponseController(w).Hijack()
					conn.Close() // reset before any answer
					return
				}
				io.WriteString(w, "second")
			})
			rt := resilienceRouter(t, `
- backendRefs: [{name: a, port: 80}]
  `+tc.rule+`
`, httproute.Config{Sleep: (&sleeps{}).sleep}, map[string][]string{"a": {be.addr}})
			rec := do(t, rt, "POST", "/", "payload", nil)
			assert.Equal(t, tc.code, rec.Code)
			assert.Equal(t, tc.hits, be.hits.Load())
		})
	}
}

func TestNoRetryAfterPartialResponse(t *testing.T) {
	be := newBackend(t, func(n int64, w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "100")
		w.WriteHeader(200)
		io.WriteString(w, "partial")
		w.(http.Flusher).Flush()
		conn, _, _ := http.NewResponseController(w).Hijack()
		conn.Close()
	})
	rt := resilienceRouter(t, `
- backendRefs: [{name: a, port: 80}]
  retry: {codes: [500, 502, 503, 504], attempts: 3}
`, httproute.Config{Sleep: (&sleeps{}).sleep}, map[string][]string{"a": {be.addr}})
	srv := httptest.NewServer(rt)
	defer srv.Close()
	res, err := http.Get(srv.URL)
	if err == nil {
		_, err = io.ReadAll(res.Body)
		res.Body.Close()
		assert.Error(t, err, "a truncated answer must not look complete")
	}
	assert.EqualValues(t, 1, be.hits.Load(), "bytes had reached the client: no retry")
}

func TestBackendRequestTimeoutRetriedWhen504IsListed(t *testing.T) {
	// An attempt that outlives timeouts.backendRequest answers 504: it is
	// retried when 504 is listed in codes, and only then.
	for _, tc := range []struct {
		name, retry string
		code        int
		body        string
		hits        int64
	}{
		{"504 listed", `{codes: [504], attempts: 1}`, 200, "fast", 2},
		{"connection errors only", `{attempts: 1}`, 504, "Gateway Timeout\n", 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			be := newBackend(t, func(n int64, w http.ResponseWriter, r *http.Request) {
				if n == 1 {
					<-r.Context().Done() // stall until the per-attempt timeout cancels
					return
				}
				io.WriteString(w, "fast")
			})
			rt := resilienceRouter(t, `
- backendRefs: [{name: a, port: 80}]
  timeouts: {request: 10s, backendRequest: 50ms}
  retry: `+tc.retry+`
`, httproute.Config{Sleep: (&sleeps{}).sleep}, map[string][]string{"a": {be.addr}})
			rec := do(t, rt, "GET", "/", "", nil)
			assert.Equal(t, tc.code, rec.Code)
			assert.Equal(t, tc.body, rec.Body.String())
			assert.Equal(t, tc.hits, be.hits.Load())
		})
	}
}

func TestRetriesBoundedByRequestTimeout(t *testing.T) {
	be := newBackend(t, func(n int64, w http.ResponseWriter, r *http.Request) { <-r.Context().Done() })
	rt := resilienceRouter(t, `
- backendRefs: [{name: a, port: 80}]
  timeouts: {request: 150ms, backendRequest: 40ms}
  retry: {codes: [504], attempts: 50, backoff: 1ms}
`, httproute.Config{}, map[string][]string{"a": {be.addr}})
	rec := do(t, rt, "GET", "/", "", nil)
	assert.Equal(t, 504, rec.Code)
	assert.Less(t, be.hits.Load(), int64(10), "attempts must stop when the request timeout expires")
}

func TestRetryAfterHonouredWithinBudget(t *testing.T) {
	mk := func() *backend {
		return newBackend(t, func(n int64, w http.ResponseWriter, r *http.Request) {
			if n == 1 {
				w.Header().Set("Retry-After", "2")
				w.WriteHeader(503)
				return
			}
			io.WriteString(w, "ok")
		})
	}
	var s sleeps
	be := mk()
	rt := resilienceRouter(t, `
- backendRefs: [{name: a, port: 80}]
  retry: {codes: [503], attempts: 1, backoff: 10ms}
`, httproute.Config{Sleep: s.sleep}, map[string][]string{"a": {be.addr}})
	assert.Equal(t, 200, do(t, rt, "GET", "/", "", nil).Code)
	assert.Equal(t, []time.Duration{2 * time.Second}, s.list(), "Retry-After longer than the backoff is waited for")

	be2 := mk()
	rt2 := resilienceRouter(t, `
- backendRefs: [{name: a, port: 80}]
  timeouts: {request: 1s}
  retry: {codes: [503], attempts: 1, backoff: 10ms}
`, httproute.Config{Sleep: s.sleep}, map[string][]string{"a": {be2.addr}})
	assert.Equal(t, 503, do(t, rt2, "GET", "/", "", nil).Code, "a Retry-After beyond the request budget is not waited for")
	assert.EqualValues(t, 1, be2.hits.Load())
}

func TestRetryReplaysBodyUpToLimit(t *testing.T) {
	be := newBackend(t, func(n int64, w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if n%2 == 1 {
			w.WriteHeader(503)
			return
		}
		fmt.Fprintf(w, "%d", len(body))
	})
	rt := resilienceRouter(t, `
- backendRefs: [{name: a, port: 80}]
  retry: {codes: [503], attempts: 1}
`, httproute.Config{Sleep: (&sleeps{}).sleep}, map[string][]string{"a": {be.addr}})
	small := strings.Repeat("x", 1000)
	rec := do(t, rt, "POST", "/", small, nil)
	assert.Equal(t, 200, rec.Code)
	assert.Equal(t, "1000", rec.Body.String(), "the retry must get the whole body again")

	big := strings.Repeat("y", httproute.RetryBodyLimit+1)
	rec = do(t, rt, "POST", "/", big, nil)
	assert.Equal(t, 503, rec.Code, "a body over RetryBodyLimit is sent once and not retried")
	assert.EqualValues(t, 3, be.hits.Load())
}

func TestRequestTimeoutWithDrippingBody(t *testing.T) {
	drip := newBackend(t, func(n int64, w http.ResponseWriter, r *http.Request) {
		for i := 0; i < 5; i++ {
			io.WriteString(w, "drop ")
			w.(http.Flusher).Flush()
			select {
			case <-time.After(20 * time.Millisecond):
			case <-r.Context().Done():
				return
			}
		}
	})
	rt := resilienceRouter(t, `
- matches: [{path: {value: /slow-ok}}]
  backendRefs: [{name: a, port: 80}]
  timeouts: {request: 10s}
- matches: [{path: {value: /cut}}]
  backendRefs: [{name: a, port: 80}]
  timeouts: {request: 50ms}
`, httproute.Config{}, map[string][]string{"a": {drip.addr}})
	srv := httptest.NewServer(rt)
	defer srv.Close()
	res, err := http.Get(srv.URL + "/slow-ok")
	require.NoError(t, err)
	body, err := io.ReadAll(res.Body)
	res.Body.Close()
	require.NoError(t, err)
	assert.Equal(t, strings.Repeat("drop ", 5), string(body))

	res, err = http.Get(srv.URL + "/cut")
	if err == nil {
		body, err = io.ReadAll(res.Body)
		res.Body.Close()
		assert.Error(t, err, "a stream cut by the request timeout must not look complete (got %q)", body)
	}
}

func TestRequestTimeoutAnswers504WhenHandlerIgnoresContext(t *testing.T) {
	release := make(chan struct{})
	stubborn := httproute.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-release // ignores r.Context()
		io.WriteString(w, "too late")
	}))
	var route gatewayv1.HTTPRoute
	require.NoError(t, yaml.Unmarshal([]byte(`
metadata: {name: r, namespace: default}
spec:
  rules:
  - backendRefs: [{name: s, port: 80}]
    timeouts: {request: 30ms}
`), &route))
	rt, err := httproute.New(httproute.Config{
		HTTPRoutes: []*gatewayv1.HTTPRoute{&route},
		Services:   httproute.Services{{Namespace: "default", Name: "s", Port: 80}: stubborn},
	})
	require.NoError(t, err)
	srv := httptest.NewServer(rt)
	defer srv.Close()
	defer close(release) // runs before srv.Close: the handler must return first
	client := &http.Client{Timeout: 10 * time.Second}
	res, err := client.Get(srv.URL)
	require.NoError(t, err)
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	assert.Equal(t, 504, res.StatusCode)
	assert.Equal(t, "Gateway Timeout\n", string(body))
}

// sessionRoute is a 50/50 split over two backendRefs of two endpoints
// each, with session persistence.
const sessionRoute = `
- backendRefs: [{name: a, port: 80}, {name: b, port: 80}]
  sessionPersistence: {type: Cookie, cookie: {name: sticky}}
`

func servedBy(rec *httptest.ResponseRecorder) string { return rec.Body.String() }

// sessionBackends starts backends a1, a2 (Service a) and b1, b2 (Service
// b), each answering with its name.
func sessionBackends(t *testing.T) map[string][]string {
	t.Helper()
	eps := map[string][]string{}
	for _, name := range []string{"a1", "a2", "b1", "b2"} {
		be := newBackend(t, func(n int64, w http.ResponseWriter, r *http.Request) { io.WriteString(w, name) })
		eps[name[:1]] = append(eps[name[:1]], be.addr)
	}
	return eps
}

// cookieJar keeps the last session cookie a Router issued.
type cookieJar struct{ c *http.Cookie }

func (j *cookieJar) do(t *testing.T, h http.Handler) *httptest.ResponseRecorder {
	t.Helper()
	var hdr http.Header
	if j.c != nil {
		hdr = http.Header{"Cookie": {j.c.Name + "=" + j.c.Value}}
	}
	rec := do(t, h, "GET", "/", "", hdr)
	if cs := rec.Result().Cookies(); len(cs) > 0 {
		j.c = cs[len(cs)-1]
	}
	return rec
}

func TestSessionPersistenceActsAfterTheSplit(t *testing.T) {
	// GEP-1619 (v1.7): the weights choose the backendRef of every request,
	// session or not; the session pins the endpoint inside the chosen one.
	rt := resilienceRouter(t, sessionRoute, httproute.Config{SessionKey: []byte("k")}, sessionBackends(t))
	var jar cookieJar
	first := jar.do(t, rt)
	require.NotNil(t, jar.c, "the first answer starts a session")
	assert.Equal(t, "sticky", jar.c.Name)
	assert.Equal(t, "/", jar.c.Path, "the cookie path defaults to /")
	assert.True(t, jar.c.HttpOnly)
	assert.Zero(t, jar.c.MaxAge, "a Session lifetime cookie has no Max-Age")
	assert.True(t, jar.c.Expires.IsZero(), "a Session lifetime cookie has no Expires")

	pinned := map[string]string{servedBy(first)[:1]: servedBy(first)}
	perBackend := map[string]int{}
	for i := 0; i < 200; i++ {
		got := servedBy(jar.do(t, rt))
		perBackend[got[:1]]++
		if p, ok := pinned[got[:1]]; ok {
			require.Equal(t, p, got, "request %d left its endpoint inside backendRef %s", i, got[:1])
		}
		pinned[got[:1]] = got
	}
	// The split still holds for a client with a session: both backendRefs
	// get a share (each has probability 2^-200 of getting none).
	assert.Greater(t, perBackend["a"], 50, "a session must not pin the backendRef")
	assert.Greater(t, perBackend["b"], 50, "a session must not pin the backendRef")
	assert.Len(t, pinned, 2, "one endpoint per backendRef")
}

func TestSessionPersistenceCookiePath(t *testing.T) {
	rt := resilienceRouter(t, `
- backendRefs: [{name: a, port: 80}]
  sessionPersistence: {cookie: {name: s, path: /shop}}
`, httproute.Config{}, sessionBackends(t))
	c := do(t, rt, "GET", "/", "", nil).Result().Cookies()
	require.Len(t, c, 1)
	assert.Equal(t, "/shop", c[0].Path)
}

func TestSessionCookieWithAbsoluteTimeoutHasNoMaxAge(t *testing.T) {
	rt := resilienceRouter(t, `
- backendRefs: [{name: a, port: 80}]
  sessionPersistence: {absoluteTimeout: 1h, cookie: {lifetimeType: Session}}
`, httproute.Config{}, sessionBackends(t))
	rec := do(t, rt, "GET", "/", "", nil)
	require.Len(t, rec.Result().Cookies(), 1)
	raw := rec.Header().Get("Set-Cookie")
	assert.NotContains(t, raw, "Max-Age")
	assert.NotContains(t, raw, "Expires")
}

func TestStickySessionRejectsTamperedOrForeignValues(t *testing.T) {
	eps := sessionBackends(t)
	rt := resilienceRouter(t, sessionRoute, httproute.Config{SessionKey: []byte("k1")}, eps)
	other := resilienceRouter(t, sessionRoute, httproute.Config{SessionKey: []byte("k2")}, eps)

	foreign := do(t, other, "GET", "/", "", nil).Result().Cookies()[0]
	for _, bad := range []string{"garbage", foreign.Value, foreign.Value + "x", strings.Replace(foreign.Value, ".", ".A", 1)} {
		rec := do(t, rt, "GET", "/", "", http.Header{"Cookie": {"sticky=" + bad}})
		assert.Equal(t, 200, rec.Code)
		assert.Len(t, rec.Result().Cookies(), 1, "an invalid session (%q) gets a new one", bad)
	}
}

func TestHeaderSessionAndAbsoluteTimeout(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	rt := resilienceRouter(t, `
- backendRefs: [{name: a, port: 80}]
  sessionPersistence: {type: Header, header: {name: X-Session}, absoluteTimeout: 1h}
`, httproute.Config{SessionKey: []byte("k"), Now: clock}, sessionBackends(t))
	first := do(t, rt, "GET", "/", "", nil)
	token := first.Header().Get("X-Session")
	require.NotEmpty(t, token, "a Header session is returned in the named header")
	h := http.Header{"X-Session": {token}}
	for i := 0; i < 20; i++ {
		require.Equal(t, servedBy(first), servedBy(do(t, rt, "GET", "/", "", h)))
	}
	mu.Lock()
	now = now.Add(time.Hour)
	mu.Unlock()
	rec := do(t, rt, "GET", "/", "", h)
	assert.NotEmpty(t, rec.Header().Get("X-Session"), "an expired session is replaced")
	assert.NotEqual(t, token, rec.Header().Get("X-Session"))
}

func TestPermanentCookieHasMaxAge(t *testing.T) {
	rt := resilienceRouter(t, `
- backendRefs: [{name: a, port: 80}]
  sessionPersistence: {absoluteTimeout: 30m, cookie: {lifetimeType: Permanent}}
`, httproute.Config{}, sessionBackends(t))
	c := do(t, rt, "GET", "/", "", nil).Result().Cookies()
	require.Len(t, c, 1)
	assert.Equal(t, httproute.DefaultSessionName, c[0].Name)
	assert.Equal(t, 1800, c[0].MaxAge)
}

func TestInProcessBackendsGetNoSession(t *testing.T) {
	// An in-process Handler has no endpoints to pin: no cookie is issued.
	var route gatewayv1.HTTPRoute
	require.NoError(t, yaml.UnmarshalStrict([]byte(`
metadata: {name: r, namespace: default}
spec: {rules: [{backendRefs: [{name: s, port: 80}], sessionPersistence: {cookie: {name: s}}}]}
`), &route))
	rt, err := httproute.New(httproute.Config{
		HTTPRoutes: []*gatewayv1.HTTPRoute{&route},
		Services: httproute.Services{{Namespace: "default", Name: "s", Port: 80}: httproute.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, "in process")
		}))},
	})
	require.NoError(t, err)
	rec := do(t, rt, "GET", "/", "", nil)
	assert.Equal(t, "in process", rec.Body.String())
	assert.Empty(t, rec.Result().Cookies())
}

func TestStickyEndpointEjectedRepins(t *testing.T) {
	e1 := newBackend(t, func(n int64, w http.ResponseWriter, r *http.Request) { io.WriteString(w, "e1") })
	e2 := newBackend(t, func(n int64, w http.ResponseWriter, r *http.Request) { io.WriteString(w, "e2") })
	rt := resilienceRouter(t, `
- backendRefs: [{name: a, port: 80}]
  sessionPersistence: {cookie: {name: sticky}}
  retry: {attempts: 1}
`, httproute.Config{SessionKey: []byte("k"), Sleep: (&sleeps{}).sleep}, map[string][]string{"a": {e1.addr, e2.addr}})
	first := do(t, rt, "GET", "/", "", nil)
	pinned := servedBy(first)
	h := http.Header{"Cookie": {first.Result().Cookies()[0].String()}}
	for i := 0; i < 10; i++ {
		require.Equal(t, pinned, servedBy(do(t, rt, "GET", "/", "", h)), "endpoint pinning across requests")
	}
	// The pinned endpoint goes away: the request is retried on the other
	// endpoint and the session re-pinned to it.
	if pinned == "e1" {
		e1.srv.Close()
	} else {
		e2.srv.Close()
	}
	rec := do(t, rt, "GET", "/", "", h)
	require.Equal(t, 200, rec.Code)
	require.NotEqual(t, pinned, servedBy(rec))
	repinned := rec.Result().Cookies()
	require.Len(t, repinned, 1, "the session is re-pinned to the new endpoint")
	h2 := http.Header{"Cookie": {repinned[0].String()}}
	for i := 0; i < 10; i++ {
		require.Equal(t, servedBy(rec), servedBy(do(t, rt, "GET", "/", "", h2)))
	}
}

func TestCircuitBreakerMaxRequests(t *testing.T) {
	release := make(chan struct{})
	entered := make(chan struct{}, 1)
	slow := newBackend(t, func(n int64, w http.ResponseWriter, r *http.Request) {
		entered <- struct{}{}
		<-release
	})
	up, err := httproute.NewUpstream(httproute.UpstreamConfig{Endpoints: []string{slow.addr}})
	require.NoError(t, err)
	var route gatewayv1.HTTPRoute
	require.NoError(t, yaml.Unmarshal([]byte(`
metadata: {name: r, namespace: default}
spec: {rules: [{backendRefs: [{name: s, port: 80}]}]}
`), &route))
	rt, err := httproute.New(httproute.Config{
		HTTPRoutes: []*gatewayv1.HTTPRoute{&route},
		Services:   httproute.Services{{Namespace: "default", Name: "s", Port: 80}: httproute.Limit(up, httproute.Limits{MaxRequests: 1})},
	})
	require.NoError(t, err)
	done := make(chan int)
	go func() { done <- do(t, rt, "GET", "/", "", nil).Code }()
	<-entered
	assert.Equal(t, 503, do(t, rt, "GET", "/", "", nil).Code, "over the limit the Router answers 503 at once")
	close(release)
	assert.Equal(t, 200, <-done)
	assert.Equal(t, 200, do(t, rt, "GET", "/", "", nil).Code, "the slot is released when the answer is done")
}

func TestCircuitBreakerMaxRetries(t *testing.T) {
	failing := newBackend(t, func(n int64, w http.ResponseWriter, r *http.Request) { w.WriteHeader(503) })
	up, err := httproute.NewUpstream(httproute.UpstreamConfig{Endpoints: []string{failing.addr}})
	require.NoError(t, err)
	limited := httproute.Limit(up, httproute.Limits{MaxRetries: 1})
	var route gatewayv1.HTTPRoute
	require.NoError(t, yaml.Unmarshal([]byte(`
metadata: {name: r, namespace: default}
spec: {rules: [{backendRefs: [{name: s, port: 80}], retry: {codes: [503], attempts: 1}}]}
`), &route))
	inBackoff, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	rt, err := httproute.New(httproute.Config{
		HTTPRoutes: []*gatewayv1.HTTPRoute{&route},
		Services:   httproute.Services{{Namespace: "default", Name: "s", Port: 80}: limited},
		Sleep: func(ctx context.Context, d time.Duration) error {
			once.Do(func() { close(inBackoff); <-release })
			return nil
		},
	})
	require.NoError(t, err)
	done := make(chan struct{})
	go func() { do(t, rt, "GET", "/", "", nil); close(done) }()
	<-inBackoff // one retry holds the only retry slot
	before := failing.hits.Load()
	assert.Equal(t, 503, do(t, rt, "GET", "/", "", nil).Code)
	assert.Equal(t, before+1, failing.hits.Load(), "no retry beyond MaxRetries")
	close(release)
	<-done
}

func TestNoGoroutineLeaksAfterTimeoutsAndCancels(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	stall := newBackend(t, func(n int64, w http.ResponseWriter, r *http.Request) { <-r.Context().Done() })
	rt := resilienceRouter(t, `
- matches: [{path: {value: /timeout}}]
  backendRefs: [{name: a, port: 80}]
  timeouts: {request: 30ms, backendRequest: 10ms}
  retry: {codes: [504], attempts: 2, backoff: 1ms}
- backendRefs: [{name: a, port: 80}]
`, httproute.Config{}, map[string][]string{"a": {stall.addr}})
	for i := 0; i < 5; i++ {
		assert.Equal(t, 504, do(t, rt, "GET", "/timeout", "", nil).Code)
	}
	// A client that goes away mid-request.
	srv := httptest.NewServer(rt)
	for i := 0; i < 5; i++ {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
		req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL+"/cancel", nil)
		if res, err := http.DefaultClient.Do(req); err == nil {
			res.Body.Close()
		}
		cancel()
	}
	http.DefaultClient.CloseIdleConnections()
	srv.Close()
	stall.srv.Close()
}

func TestRetryFailsOverToAnotherBackendRef(t *testing.T) {
	// The seed: "Combining timeouts and retries lets you identify
	// non-responsive backends so that you can gracefully failover to other
	// backends". A retry prefers a backendRef that has not failed in this
	// request, so a dead Service split 1:1 with a live one costs nothing.
	live := newBackend(t, func(n int64, w http.ResponseWriter, r *http.Request) { io.WriteString(w, "live") })
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	dead := ln.Addr().String()
	ln.Close()
	rt := resilienceRouter(t, `
- backendRefs: [{name: dead, port: 80}, {name: live, port: 80}]
  retry: {attempts: 2}
`, httproute.Config{Sleep: (&sleeps{}).sleep}, map[string][]string{"dead": {dead}, "live": {live.addr}})
	failed := 0
	for i := 0; i < 200; i++ {
		if rec := do(t, rt, "GET", "/", "", nil); rec.Code != 200 {
			failed++
		}
	}
	assert.Zero(t, failed, "requests that failed although a live backendRef was left")
}
