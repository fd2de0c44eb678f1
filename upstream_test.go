package httproute

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"net/textproto"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
	"sigs.k8s.io/yaml"
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

// transportCase is one exchange that TestLeanAndNetHTTPTransportsServeAlike
// makes through a Router to a loopback backend.
type transportCase struct {
	name string
	// backend returns the backend's handler; it is called once per
	// transport, so that state the handler keeps starts afresh. nil
	// means an address where nothing listens.
	backend func() http.HandlerFunc
	// rule is the HTTPRoute rule, in YAML, without its backendRefs.
	rule    string
	health  HealthConfig
	method  string
	body    string
	header  http.Header
	repeats int
	// received is how many requests the backend gets in all (mirrored
	// copies arrive in the background); 0 means the exchanges' own.
	received int
	// want sums up each outcome (transportOutcome.summary).
	want []string
}

// transportOutcome is what a client and the Router's observer saw of one
// exchange.
type transportOutcome struct {
	Status     int
	Body       string
	Trailer    http.Header
	Early      []int
	Endpoint   string
	Attempts   []string // "status/class@endpoint"
	Ejections  []Ejection
	BackendSaw string
	// Received are the requests the backend got in all ("METHOD body",
	// sorted), in the last outcome of a case that counts them.
	Received []string
}

// transportObserver collects the Records and ejections of a Router.
type transportObserver struct {
	records    chan *Record
	mu         sync.Mutex
	ejections  []Ejection
	backendSaw string
}

func (o *transportObserver) ObserveRequest(rec *Record) {
	c := *rec
	c.Attempts = append([]Attempt(nil), rec.Attempts...)
	o.records <- &c
}

func (o *transportObserver) ObserveEjection(e Ejection) {
	o.mu.Lock()
	o.ejections = append(o.ejections, e)
	o.mu.Unlock()
}

// TestLeanAndNetHTTPTransportsServeAlike serves the same exchanges through
// a Router whose Upstream carries every request on the lean HTTP/1.1
// transport (reaching net/http's fails the test), and through one whose
// Upstream has net/http's transport only, and compares what the client
// got, what the backend received, the Records (endpoint address, attempt
// classes) and the ejections reported to the EndpointObserver: error
// classes, retries, timeouts, passive health, 1xx, trailers and
// "Expect: 100-continue" must not depend on the transport.
func TestLeanAndNetHTTPTransportsServeAlike(t *testing.T) {
	echo := func() http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			body, _ := io.ReadAll(r.Body)
			w.Header().Set("X-Saw", strings.Join([]string{r.Method, r.Host, string(body), r.Header.Get("X-Forwarded-For"), r.Header.Get("Expect")}, "|"))
			io.WriteString(w, "hello")
		}
	}
	hangUp := func() http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			if c, _, err := http.NewResponseController(w).Hijack(); err == nil {
				c.Close()
			}
		}
	}
	cases := []transportCase{
		{name: "answer", backend: echo, method: "GET", want: []string{
			`200 "hello" saw="GET|front||127.0.0.1|" endpoint=backend attempts=[200/@backend]`,
		}},
		{name: "POST with a body", backend: echo, method: "POST", body: "payload", want: []string{
			`200 "hello" saw="POST|front|payload|127.0.0.1|" endpoint=backend attempts=[200/@backend]`,
		}},
		{
			name: "Expect: 100-continue", backend: echo, method: "PUT", body: "after the 100",
			header: http.Header{"Expect": {"100-continue"}},
			want: []string{
				`200 "hello" saw="PUT|front|after the 100|127.0.0.1|100-continue" endpoint=backend attempts=[200/@backend]`,
			},
		},
		{
			name: "mirrored copies carry the body", backend: echo, method: "POST", body: "twice",
			rule: "filters: [{type: RequestMirror, requestMirror: {backendRef: {name: b, port: 80}}}]", received: 2,
			want: []string{
				`200 "hello" saw="POST|front|twice|127.0.0.1|" endpoint=backend attempts=[200/@backend] received=["POST twice" "POST twice"]`,
			},
		},
		{name: "1xx answers reach the client", method: "GET", backend: func() http.HandlerFunc {
			return func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Link", "</style.css>; rel=preload")
				w.WriteHeader(http.StatusEarlyHints)
				w.Header().Del("Link")
				io.WriteString(w, "final")
			}
		}, want: []string{`200 "final" early=[103] endpoint=backend attempts=[200/@backend]`}},
		{name: "trailers", method: "GET", backend: func() http.HandlerFunc {
			return func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Trailer", "X-Checksum")
				io.WriteString(w, "body")
				w.Header().Set("X-Checksum", "42")
			}
		}, want: []string{`200 "body" trailer=map[X-Checksum:[42]] endpoint=backend attempts=[200/@backend]`}},
		{name: "refused: 503, ejected after 5", method: "GET", repeats: 6, want: ejectedAfter(5,
			`503 "Service Unavailable\n" endpoint=backend attempts=[0/connect@backend]`, "ConsecutiveConnectFailures")},
		{name: "hang-up before the answer: 502, ejected after 5", method: "GET", backend: hangUp, repeats: 6, want: ejectedAfter(5,
			`502 "Bad Gateway\n" endpoint=backend attempts=[0/backend@backend]`, "ConsecutiveConnectFailures")},
		{
			name: "5xx ejection", method: "GET", health: HealthConfig{Consecutive5xx: 2}, repeats: 3,
			backend: func() http.HandlerFunc {
				return func(w http.ResponseWriter, r *http.Request) { http.Error(w, "down", 500) }
			},
			want: ejectedAfter(2, `500 "down\n" endpoint=backend attempts=[500/@backend]`, "Consecutive5xx"),
		},
		{
			name: "backend request timeout: 504", method: "GET", rule: "timeouts: {backendRequest: 50ms}",
			backend: func() http.HandlerFunc {
				return func(w http.ResponseWriter, r *http.Request) {
					select {
					case <-r.Context().Done():
					case <-time.After(5 * time.Second):
					}
				}
			},
			want: []string{`504 "Gateway Timeout\n" endpoint=backend attempts=[0/timeout@backend]`},
		},
		{
			name: "retry of a 503 replays the body", method: "POST", body: "again",
			rule: "retry: {codes: [503], attempts: 1, backoff: 1ms}",
			backend: func() http.HandlerFunc {
				var n atomic.Int32
				return func(w http.ResponseWriter, r *http.Request) {
					body, _ := io.ReadAll(r.Body)
					if n.Add(1) == 1 {
						http.Error(w, "busy", 503)
						return
					}
					w.Header().Set("X-Saw", string(body))
				}
			},
			want: []string{`200 "" saw="again" endpoint=backend attempts=[503/@backend 200/@backend]`},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			lean := serveThrough(t, tc, true)
			std := serveThrough(t, tc, false)
			if diff := cmp.Diff(std, lean); diff != "" {
				t.Errorf("outcomes (-net/http +lean):\n%s", diff)
			}
			var got []string
			for _, o := range lean {
				got = append(got, o.summary())
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("outcomes (-want +got):\n%s", diff)
			}
		})
	}
}

// ejectedAfter returns the summaries of n failures, the last of which
// ejects the endpoint for the reason, and of the 503 that follows.
func ejectedAfter(n int, failure, reason string) []string {
	want := slices.Repeat([]string{failure}, n)
	want[n-1] += " ejected=backend/30s/" + reason
	return append(want, `503 "Service Unavailable\n" endpoint= attempts=[0/no_endpoint@]`)
}

// serveThrough makes the exchanges of tc through a Router to a fresh
// backend, with the lean transport only or net/http's only.
func serveThrough(t *testing.T, tc transportCase, lean bool) []transportOutcome {
	t.Helper()
	var addr string
	var mu sync.Mutex
	var received []string
	if tc.backend == nil {
		addr = deadAddr(t)
	} else {
		h := tc.backend()
		addr = loopback(t, func(w http.ResponseWriter, r *http.Request) {
			body, _ := io.ReadAll(r.Body)
			mu.Lock()
			received = append(received, r.Method+" "+string(body))
			mu.Unlock()
			r.Body = io.NopCloser(strings.NewReader(string(body)))
			h(w, r)
		})
	}
	u, err := NewUpstream(UpstreamConfig{Endpoints: []string{addr}, Health: tc.health})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(u.CloseIdleConnections)
	if lean {
		u.transport = roundTripFunc(func(r *http.Request) (*http.Response, error) {
			t.Errorf("%s %s left the lean transport", r.Method, r.URL)
			return nil, errors.New("not the lean transport")
		})
	} else {
		u.lean = nil
	}
	var route gatewayv1.HTTPRoute
	doc := "metadata: {name: r, namespace: default}\nspec: {rules: [{backendRefs: [{name: b, port: 80}], " + tc.rule + "}]}"
	if err := yaml.UnmarshalStrict([]byte(doc), &route); err != nil {
		t.Fatal(err)
	}
	obs := &transportObserver{records: make(chan *Record, 1)}
	rt, err := New(Config{
		HTTPRoutes: []*gatewayv1.HTTPRoute{&route},
		Services:   Services{{Namespace: "default", Name: "b", Port: 80}: u},
		Observer:   obs,
	})
	if err != nil {
		t.Fatal(err)
	}
	front := httptest.NewServer(rt)
	t.Cleanup(front.Close)
	client := &http.Client{Transport: &http.Transport{ExpectContinueTimeout: 5 * time.Second}}
	t.Cleanup(client.CloseIdleConnections)
	var outs []transportOutcome
	for range max(tc.repeats, 1) {
		var out transportOutcome
		var body io.Reader
		if tc.body != "" {
			body = strings.NewReader(tc.body)
		}
		req, err := http.NewRequest(tc.method, front.URL+"/", body)
		if err != nil {
			t.Fatal(err)
		}
		maps.Copy(req.Header, tc.header)
		trace := &httptrace.ClientTrace{Got1xxResponse: func(code int, _ textproto.MIMEHeader) error {
			if code != http.StatusContinue { // the front's own 100, not the backend's
				out.Early = append(out.Early, code)
			}
			return nil
		}}
		req = req.WithContext(httptrace.WithClientTrace(req.Context(), trace))
		res, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(res.Body)
		res.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		out.Status, out.Body, out.Trailer = res.StatusCode, string(b), res.Trailer
		out.BackendSaw = strings.ReplaceAll(res.Header.Get("X-Saw"), front.Listener.Addr().String(), "front")
		var rec *Record
		select {
		case rec = <-obs.records:
		case <-time.After(10 * time.Second):
			t.Fatal("no Record")
		}
		named := func(ep string) string { return strings.ReplaceAll(ep, addr, "backend") }
		out.Endpoint = named(rec.Endpoint)
		for _, a := range rec.Attempts {
			out.Attempts = append(out.Attempts, fmt.Sprintf("%d/%s@%s", a.Status, a.Class, named(a.Endpoint)))
		}
		obs.mu.Lock()
		for _, e := range obs.ejections {
			e.Endpoint = named(e.Endpoint)
			out.Ejections = append(out.Ejections, e)
		}
		obs.ejections = nil
		obs.mu.Unlock()
		outs = append(outs, out)
	}
	if tc.received > 0 {
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(time.Millisecond) {
			mu.Lock()
			n := len(received)
			mu.Unlock()
			if n >= tc.received || time.Now().After(deadline) {
				break
			}
		}
		mu.Lock()
		outs[len(outs)-1].Received = slices.Sorted(slices.Values(received))
		mu.Unlock()
	}
	return outs
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// summary sums an outcome up in one line.
func (o transportOutcome) summary() string {
	s := fmt.Sprintf("%d %q", o.Status, o.Body)
	if o.BackendSaw != "" {
		s += fmt.Sprintf(" saw=%q", o.BackendSaw)
	}
	if len(o.Early) > 0 {
		s += fmt.Sprintf(" early=%v", o.Early)
	}
	if len(o.Trailer) > 0 {
		s += fmt.Sprintf(" trailer=%v", o.Trailer)
	}
	s += fmt.Sprintf(" endpoint=%s attempts=%v", o.Endpoint, o.Attempts)
	for _, e := range o.Ejections {
		s += fmt.Sprintf(" ejected=%s/%s/%s", e.Endpoint, e.Duration, e.Reason)
	}
	if len(o.Received) > 0 {
		s += fmt.Sprintf(" received=%q", o.Received)
	}
	return s
}

// TestEjectionTimeSaturates: ejection times double up to the cap and
// never overflow, whatever durations the host configures, and the end of
// an ejection never wraps into the past.
func TestEjectionTimeSaturates(t *testing.T) {
	const maxD = time.Duration(math.MaxInt64)
	tests := []struct {
		name      string
		base, cap time.Duration
		n         int32
		want      time.Duration
	}{
		{"first", 30 * time.Second, 300 * time.Second, 1, 30 * time.Second},
		{"doubled", 30 * time.Second, 300 * time.Second, 3, 120 * time.Second},
		{"capped", 30 * time.Second, 300 * time.Second, 5, 300 * time.Second},
		{"many", 30 * time.Second, 300 * time.Second, math.MaxInt32, 300 * time.Second},
		{"base over cap", time.Hour, time.Minute, 1, time.Minute},
		{"huge base and cap", maxD / 3 * 2, maxD, 2, maxD},
		{"huge cap", time.Second, maxD, math.MaxInt32, maxD},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := ejectionTime(tc.base, tc.cap, tc.n); got != tc.want {
				t.Errorf("ejectionTime(%v, %v, %d) = %v, want %v", tc.base, tc.cap, tc.n, got, tc.want)
			}
		})
	}
	now := time.Unix(1_800_000_000, 0)
	if got := satAddUnixNano(now, maxD); got != math.MaxInt64 {
		t.Errorf("satAddUnixNano(now, max) = %d, want MaxInt64", got)
	}
	if got := satAddUnixNano(now, time.Second); got != now.UnixNano()+int64(time.Second) {
		t.Errorf("satAddUnixNano(now, 1s) = %d", got)
	}
}
