package httproute

import (
	"context"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"testing"
	"time"
)

// fakeClock is a settable clock for passive-health and back-off tests.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// upstreamRequest sends one request through u as a Router would, with the
// given clock, and returns the endpoint it went to and its status (0 on a
// transport error).
func upstreamRequest(t *testing.T, u *Upstream, clock *fakeClock) (string, int) {
	t.Helper()
	ctx := &stateContext{Context: context.Background()}
	ctx.st.env = &env{now: clock.Now, rand: rand.New(rand.NewPCG(1, 1))}
	req := httptest.NewRequest("GET", "http://svc/", nil).WithContext(ctx)
	req.RequestURI = ""
	res, err := u.RoundTrip(req)
	addr := ""
	for _, ep := range *u.endpoints.Load() {
		if ep.id == ctx.st.endpoint {
			addr = ep.url.Host
		}
	}
	if err != nil {
		return addr, 0
	}
	io.Copy(io.Discard, res.Body)
	res.Body.Close()
	return addr, res.StatusCode
}

func loopback(t *testing.T, h http.HandlerFunc) string {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv.Listener.Addr().String()
}

func deadAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

func TestUpstreamEjectsAndRecovers(t *testing.T) {
	clock := &fakeClock{now: time.Unix(1000, 0)}
	live := loopback(t, func(w http.ResponseWriter, r *http.Request) {})
	dead := deadAddr(t)
	u, err := NewUpstream(UpstreamConfig{Endpoints: []string{live, dead}, Balancer: RoundRobin})
	if err != nil {
		t.Fatal(err)
	}
	// Round robin alternates; the dead endpoint fails 5 times in a row.
	deadHits := 0
	for i := 0; i < 10; i++ {
		ep, code := upstreamRequest(t, u, clock)
		if ep == dead {
			deadHits++
			if code != 0 {
				t.Fatalf("dead endpoint answered %d", code)
			}
		}
	}
	if deadHits != 5 {
		t.Fatalf("dead endpoint got %d requests before ejection, want 5", deadHits)
	}
	if h := u.endpointHealth(clock); h[dead] || !h[live] {
		t.Fatalf("health = %v, want %s ejected", h, dead)
	}
	for i := 0; i < 6; i++ {
		if ep, code := upstreamRequest(t, u, clock); ep != live || code != 200 {
			t.Fatalf("while ejected: %s %d", ep, code)
		}
	}
	// The first ejection lasts 30s; after it the endpoint gets traffic
	// again, and failing again ejects it for twice as long.
	clock.Advance(30 * time.Second)
	if h := u.endpointHealth(clock); !h[dead] {
		t.Fatal("endpoint not back after the base ejection time")
	}
	for deadHits = 0; deadHits < 5; {
		if ep, _ := upstreamRequest(t, u, clock); ep == dead {
			deadHits++
		}
	}
	clock.Advance(59 * time.Second)
	if h := u.endpointHealth(clock); h[dead] {
		t.Fatal("second ejection must last 60s")
	}
	clock.Advance(time.Second)
	if h := u.endpointHealth(clock); !h[dead] {
		t.Fatal("endpoint not back after the second ejection")
	}
}

func (u *Upstream) endpointHealth(c *fakeClock) map[string]bool {
	out := map[string]bool{}
	for _, ep := range *u.endpoints.Load() {
		out[ep.url.Host] = ep.healthy(c.Now().UnixNano())
	}
	return out
}

func TestUpstreamNoHealthyEndpoint(t *testing.T) {
	clock := &fakeClock{now: time.Unix(1000, 0)}
	u, err := NewUpstream(UpstreamConfig{Endpoints: []string{deadAddr(t)}, Health: HealthConfig{ConsecutiveConnectFailures: 1}})
	if err != nil {
		t.Fatal(err)
	}
	upstreamRequest(t, u, clock)
	ctx := &stateContext{Context: context.Background()}
	ctx.st.env = &env{now: clock.Now, rand: rand.New(rand.NewPCG(1, 1))}
	req := httptest.NewRequest("GET", "http://svc/", nil).WithContext(ctx)
	if _, err := u.RoundTrip(req); err != ErrNoEndpoint {
		t.Fatalf("err = %v, want ErrNoEndpoint when every endpoint is ejected", err)
	}
	if statusFor(ErrNoEndpoint) != 503 {
		t.Fatal("ErrNoEndpoint must map to 503")
	}
}

func TestUpstream5xxEjectionIsOptIn(t *testing.T) {
	clock := &fakeClock{now: time.Unix(1000, 0)}
	failing := loopback(t, func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(503) })
	def, _ := NewUpstream(UpstreamConfig{Endpoints: []string{failing}})
	for i := 0; i < 20; i++ {
		if _, code := upstreamRequest(t, def, clock); code != 503 {
			t.Fatalf("default health ejected an endpoint for 5xx answers (got %d)", code)
		}
	}
	optIn, _ := NewUpstream(UpstreamConfig{Endpoints: []string{failing}, Health: HealthConfig{Consecutive5xx: 3}})
	for i := 0; i < 3; i++ {
		upstreamRequest(t, optIn, clock)
	}
	if _, code := upstreamRequest(t, optIn, clock); code != 0 {
		t.Fatalf("after 3 consecutive 5xx the endpoint must be ejected, got %d", code)
	}
}

func TestUpstreamSetEndpointsKeepsHealth(t *testing.T) {
	clock := &fakeClock{now: time.Unix(1000, 0)}
	dead, live := deadAddr(t), loopback(t, func(w http.ResponseWriter, r *http.Request) {})
	u, _ := NewUpstream(UpstreamConfig{Endpoints: []string{dead}, Health: HealthConfig{ConsecutiveConnectFailures: 1}})
	upstreamRequest(t, u, clock)
	if err := u.SetEndpoints([]string{dead, live}); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 10; i++ {
		if ep, _ := upstreamRequest(t, u, clock); ep != live {
			t.Fatalf("request %d went to %s: the ejection must survive SetEndpoints", i, ep)
		}
	}
}

func TestLeastRequestAvoidsBusyEndpoint(t *testing.T) {
	clock := &fakeClock{now: time.Unix(1000, 0)}
	release := make(chan struct{})
	var releaseOnce sync.Once
	entered := make(chan struct{}, 16)
	busy := loopback(t, func(w http.ResponseWriter, r *http.Request) {
		entered <- struct{}{}
		<-release
	})
	// Registered after the server, so it runs before the server's Close.
	t.Cleanup(func() { releaseOnce.Do(func() { close(release) }) })
	idle := loopback(t, func(w http.ResponseWriter, r *http.Request) {})
	u, _ := NewUpstream(UpstreamConfig{Endpoints: []string{busy, idle}})
	// Occupy the busy endpoint with one request in flight.
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			ep, _ := upstreamRequest(t, u, clock)
			if ep == busy {
				return
			}
		}
	}()
	<-entered
	for i := 0; i < 20; i++ {
		if ep, _ := upstreamRequest(t, u, clock); ep != idle {
			t.Fatalf("request %d went to the endpoint with a request in flight", i)
		}
	}
	releaseOnce.Do(func() { close(release) })
	wg.Wait()
}

// TestWritersHideTheClientUntilForwarded checks that a handler cannot reach
// the client's writer (to hijack it) before a retry decision or a timeout
// answer is settled.
func TestWritersHideTheClientUntilForwarded(t *testing.T) {
	rec := httptest.NewRecorder()
	aw := &attemptWriter{w: rec, header: make(http.Header), decide: func(int) bool { return false }}
	if aw.Unwrap() != nil {
		t.Fatal("attemptWriter unwrapped before its decision")
	}
	aw.WriteHeader(200)
	if aw.Unwrap() != rec {
		t.Fatal("attemptWriter hides the client after forwarding")
	}
	dropped := &attemptWriter{w: rec, header: make(http.Header), decide: func(int) bool { return true }}
	dropped.WriteHeader(503)
	if dropped.Unwrap() != nil {
		t.Fatal("a dropped attempt unwrapped to the client")
	}
	if _, err := dropped.Write([]byte("x")); err == nil {
		t.Fatal("writing a dropped answer must fail so that its copy stops")
	}
	tw := &timeoutWriter{w: rec, h: make(http.Header)}
	if tw.Unwrap() != nil {
		t.Fatal("timeoutWriter unwrapped before the answer started")
	}
}

// TestLeanTransportCarriesCleartextOnly checks that an endpoint reached
// over TLS never goes through the cleartext HTTP/1.1 transport.
func TestLeanTransportCarriesCleartextOnly(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "over TLS")
	}))
	t.Cleanup(srv.Close)
	u, err := NewUpstream(UpstreamConfig{Endpoints: []string{srv.Listener.Addr().String()}})
	if err != nil {
		t.Fatal(err)
	}
	if u.lean == nil {
		t.Fatal("an HTTP/1.1 Upstream without its own lean transport")
	}
	u.transport = srv.Client().Transport // trusts the test certificate
	eps := []*endpoint{{url: &url.URL{Scheme: "https", Host: srv.Listener.Addr().String()}, id: "tls"}}
	u.endpoints.Store(&eps)
	req := httptest.NewRequest("GET", "http://svc/", nil)
	req.RequestURI = ""
	res, err := u.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || string(body) != "over TLS" {
		t.Fatalf("answer = %d %q, want the TLS server's", res.StatusCode, body)
	}
}
