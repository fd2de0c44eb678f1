package httproute_test

import (
	"context"
	"io"
	"log/slog"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
	"sigs.k8s.io/yaml"

	"github.com/httproute/httproute"
	"github.com/httproute/httproute/internal/benchserve"
)

// recorder is an Observer that keeps a summary of every record.
type recorder struct {
	mu      sync.Mutex
	records []recordSummary
	// noFirstByte makes the recorder one that does not want the time to
	// first byte.
	noFirstByte bool
}

func (r *recorder) ObservesFirstByte() bool { return !r.noFirstByte }

func (r *recorder) ObserveRequest(rec *httproute.Record) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.records = append(r.records, summarize(rec))
}

// await waits (up to five seconds) for the record of a request served in
// another goroutine, and returns it.
func (r *recorder) await(t *testing.T) recordSummary {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		r.mu.Lock()
		n := len(r.records)
		r.mu.Unlock()
		if n > 0 {
			break
		}
	}
	return r.last(t)
}

func (r *recorder) last(t *testing.T) recordSummary {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.records) == 0 {
		t.Fatal("no record")
	}
	return r.records[len(r.records)-1]
}

// recordSummary is the comparable part of a Record.
type recordSummary struct {
	Route, Rule, Gateway, Listener string
	Port                           int32
	Backend, Endpoint              string
	Status                         int
	BytesIn, BytesOut              int64
	Flags                          string
	RequestTimeout                 bool
	Rejection                      string
	Retries                        int
	Attempts                       []attemptSummary
	Duration, UpstreamFirstByte    time.Duration
}

type attemptSummary struct {
	Backend, Endpoint string
	Status            int
	Class             string
	Retried           bool
	Start, Duration   time.Duration
	FirstByte         time.Duration
}

func summarize(rec *httproute.Record) recordSummary {
	s := recordSummary{
		Endpoint: rec.Endpoint, Status: rec.Status, BytesIn: rec.BytesIn, BytesOut: rec.BytesOut,
		Flags: rec.Flags.String(), RequestTimeout: rec.RequestTimeout, Rejection: rec.Rejection.String(),
		Retries: rec.Retries(), Duration: rec.Duration, UpstreamFirstByte: rec.UpstreamFirstByte,
	}
	if m := rec.Match; m != nil {
		s.Route, s.Rule, s.Port = m.Route.String(), string(m.RuleName), m.Port
		s.Gateway, s.Listener = m.Gateway.String(), string(m.Listener)
	}
	if rec.Backend != nil {
		s.Backend = rec.Backend.Ref.Name
	}
	for _, a := range rec.Attempts {
		s.Attempts = append(s.Attempts, attemptSummary{
			Backend: a.Backend.Ref.Name, Endpoint: a.Endpoint, Status: a.Status, Class: a.Class.String(),
			Retried: a.Retried, Start: a.Start, Duration: a.Duration, FirstByte: a.FirstByte,
		})
	}
	return s
}

// untimed drops the durations of a summary, for cases on the real clock.
func untimed(s recordSummary) recordSummary {
	s.Duration, s.UpstreamFirstByte = 0, 0
	for i := range s.Attempts {
		s.Attempts[i].Start, s.Attempts[i].Duration, s.Attempts[i].FirstByte = 0, 0, 0
	}
	return s
}

// onBackendA completes a summary of a request that route default/r (of
// the implicit listener) sent to backendRef a.
func onBackendA(want recordSummary) recordSummary {
	want.Route, want.Gateway, want.Backend = "default/r", "/", "a"
	want.Attempts = append([]attemptSummary(nil), want.Attempts...)
	for i := range want.Attempts {
		want.Attempts[i].Backend = "a"
	}
	return want
}

// steppingClock returns a clock that advances by one millisecond at each
// reading, and a function that sets it back to its start.
func steppingClock() (func() time.Time, func()) {
	var n atomic.Int64
	base := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	return func() time.Time { return base.Add(time.Duration(n.Add(1)-1) * time.Millisecond) },
		func() { n.Store(0) }
}

// TestRecordOfAnInProcessRequest: the record names the route, rule and
// backendRef, counts the body both ways and times the request and its
// attempt, every reading of the Router's clock being one millisecond
// apart: start, attempt start, status, end (which ends the last attempt).
// The attempt of a rule without filters starts with the request: its
// start is not read.
func TestRecordOfAnInProcessRequest(t *testing.T) {
	echo := httproute.InProcess(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		w.WriteHeader(201)
		w.Write(append(body, "!"...))
	}))
	ms := time.Millisecond
	filter := "  filters: [{type: RequestHeaderModifier, requestHeaderModifier: {set: [{name: x, value: y}]}}]\n"
	cases := []struct {
		name, filters string
		noFirstByte   bool
		attempt       attemptSummary
		duration, ufb time.Duration
	}{
		{"direct", "", false, attemptSummary{Backend: "a", Status: 201, Start: 0, Duration: 2 * ms, FirstByte: ms}, 2 * ms, ms},
		{"with a filter", filter, false, attemptSummary{Backend: "a", Status: 201, Start: ms, Duration: 2 * ms, FirstByte: ms}, 3 * ms, 2 * ms},
		// An Observer that does not want the time to first byte: the
		// status is not timed (one reading fewer), the first byte is 0.
		{"direct, no first byte", "", true, attemptSummary{Backend: "a", Status: 201, Start: 0, Duration: ms}, ms, 0},
		{"with a filter, no first byte", filter, true, attemptSummary{Backend: "a", Status: 201, Start: ms, Duration: ms}, 2 * ms, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			clock, reset := steppingClock()
			rec := &recorder{noFirstByte: tc.noFirstByte}
			rt := inProcessRouter(t, "- name: create\n  backendRefs: [{name: a, port: 80}]\n"+tc.filters,
				httproute.Config{Observer: rec, Now: clock}, map[string]httproute.Backend{"a": echo})
			reset()
			rt.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("POST", "/items", strings.NewReader("hello")))
			want := recordSummary{
				Route: "default/r", Rule: "create", Gateway: "/", Backend: "a", Status: 201, BytesIn: 5, BytesOut: 6, Flags: "-",
				Attempts: []attemptSummary{tc.attempt}, Duration: tc.duration, UpstreamFirstByte: tc.ufb,
			}
			if diff := cmp.Diff(want, rec.last(t)); diff != "" {
				t.Errorf("record (-want +got):\n%s", diff)
			}
		})
	}
}

// TestRecordOfProxiedRequests: requests proxied through an Upstream to
// real loopback servers record the endpoint's address, and each failure
// its error class and response flags.
func TestRecordOfProxiedRequests(t *testing.T) {
	ok := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }))
	defer ok.Close()
	closed, _ := net.Listen("tcp", "127.0.0.1:0")
	closedAddr := closed.Addr().String()
	closed.Close()
	upstream := func(eps ...string) httproute.Backend {
		u, err := httproute.NewUpstream(httproute.UpstreamConfig{Endpoints: eps})
		if err != nil {
			t.Fatal(err)
		}
		return u
	}
	okAddr := strings.TrimPrefix(ok.URL, "http://")
	cases := []struct {
		name    string
		backend httproute.Backend
		want    recordSummary
	}{
		{"answered", upstream(okAddr), recordSummary{Status: 200, BytesOut: 2, Flags: "-", Endpoint: okAddr,
			Attempts: []attemptSummary{{Status: 200, Endpoint: okAddr}}}},
		{"connection refused", upstream(closedAddr), recordSummary{Status: 503, BytesOut: 20, Flags: "UF", Endpoint: closedAddr,
			Attempts: []attemptSummary{{Class: "connect", Endpoint: closedAddr}}}},
		{"no endpoint", upstream(), recordSummary{Status: 503, BytesOut: 20, Flags: "UH",
			Attempts: []attemptSummary{{Class: "no_endpoint"}}}},
		{"behind Limit", httproute.Limit(upstream(okAddr), httproute.Limits{MaxRequests: 10}), recordSummary{Status: 200, BytesOut: 2, Flags: "-", Endpoint: okAddr,
			Attempts: []attemptSummary{{Status: 200, Endpoint: okAddr}}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rec := &recorder{}
			rt := inProcessRouter(t, "- backendRefs: [{name: a, port: 80}]\n", httproute.Config{Observer: rec},
				map[string]httproute.Backend{"a": tc.backend})
			rt.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil))
			if diff := cmp.Diff(onBackendA(tc.want), untimed(rec.last(t))); diff != "" {
				t.Errorf("record (-want +got):\n%s", diff)
			}
		})
	}
}

// TestRecordOfRetriesTimeoutsAndLimits: every attempt is recorded with its
// outcome, and the record says which timeout fired and which limit
// refused a retry.
func TestRecordOfRetriesTimeoutsAndLimits(t *testing.T) {
	var calls atomic.Int64
	flaky := httproute.InProcess(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1)%2 == 1 {
			w.WriteHeader(503)
			return
		}
		io.WriteString(w, "ok")
	}))
	failing := httproute.InProcess(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(503) }))
	slow := httproute.InProcess(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-time.After(5 * time.Second):
		}
	}))
	retry := "retry: {codes: [503], attempts: 1, backoff: 1ms}"
	cases := []struct {
		name, rule string
		backend    httproute.Backend
		budget     httproute.RetryBudget
		want       recordSummary
	}{
		{"retried", retry, flaky, httproute.RetryBudget{}, recordSummary{Status: 200, BytesOut: 2, Flags: "-", Retries: 1,
			Attempts: []attemptSummary{{Status: 503, Retried: true}, {Status: 200}}}},
		{"retry limit exceeded", retry, failing, httproute.RetryBudget{}, recordSummary{Status: 503, Flags: "URX", Retries: 1,
			Attempts: []attemptSummary{{Status: 503, Retried: true}, {Status: 503}}}},
		{"backend request timeout", "timeouts: {backendRequest: 20ms}", slow, httproute.RetryBudget{}, recordSummary{Status: 504, BytesOut: 16, Flags: "UT",
			Attempts: []attemptSummary{{Class: "timeout"}}}},
		{"request timeout", "timeouts: {request: 20ms}", slow, httproute.RetryBudget{}, recordSummary{Status: 504, BytesOut: 16, Flags: "UT", RequestTimeout: true,
			Attempts: []attemptSummary{{Class: "timeout"}}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			calls.Store(0)
			rec := &recorder{}
			rt := inProcessRouter(t, "- backendRefs: [{name: a, port: 80}]\n  "+tc.rule+"\n",
				httproute.Config{Observer: rec, RetryBudget: tc.budget}, map[string]httproute.Backend{"a": tc.backend})
			rt.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil))
			if diff := cmp.Diff(onBackendA(tc.want), untimed(rec.last(t))); diff != "" {
				t.Errorf("record (-want +got):\n%s", diff)
			}
		})
	}
}

// TestRecordOfRejections: a request that the backend's circuit breaker
// (Limits.MaxRequests) refuses, and a retry that Limits.MaxRetries or the
// retry budget refuses, are recorded as such (UO) with the limit.
func TestRecordOfRejections(t *testing.T) {
	waiting, release := make(chan struct{}), make(chan struct{})
	var first atomic.Bool
	// hold makes the first request wait (in its backend, or in the
	// back-off before its retry) while the second one is served.
	hold := func() {
		if first.CompareAndSwap(false, true) {
			close(waiting)
			<-release
		}
	}
	failing := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(503) })
	holding := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hold() })
	retry := "\n  retry: {codes: [503], attempts: 1}"
	cases := []struct {
		name, rule string
		backend    httproute.Backend
		budget     httproute.RetryBudget
		want       recordSummary
	}{
		{"circuit breaker", "", httproute.Limit(httproute.InProcess(holding), httproute.Limits{MaxRequests: 1}), httproute.RetryBudget{},
			recordSummary{Status: 503, BytesOut: 20, Flags: "UO", Rejection: "circuit_breaker", Attempts: []attemptSummary{{Class: "overflow"}}}},
		{"retry circuit breaker", retry, httproute.Limit(httproute.InProcess(failing), httproute.Limits{MaxRetries: 1}), httproute.RetryBudget{Percent: -1},
			recordSummary{Status: 503, Flags: "UO", Rejection: "retry_circuit_breaker", Attempts: []attemptSummary{{Status: 503}}}},
		{"retry budget", retry, httproute.InProcess(failing), httproute.RetryBudget{Percent: 1, MinConcurrency: 1},
			recordSummary{Status: 503, Flags: "UO", Rejection: "retry_budget", Attempts: []attemptSummary{{Status: 503}}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			waiting, release = make(chan struct{}), make(chan struct{})
			first.Store(false)
			sleep := func(ctx context.Context, d time.Duration) error { hold(); return nil }
			rec := &recorder{}
			rt := inProcessRouter(t, "- backendRefs: [{name: a, port: 80}]"+tc.rule+"\n",
				httproute.Config{Observer: rec, RetryBudget: tc.budget, Sleep: sleep}, map[string]httproute.Backend{"a": tc.backend})
			done := make(chan struct{})
			go func() {
				defer close(done)
				rt.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil))
			}()
			<-waiting
			rt.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil))
			second := untimed(rec.last(t))
			close(release)
			<-done
			if diff := cmp.Diff(onBackendA(tc.want), second); diff != "" {
				t.Errorf("record (-want +got):\n%s", diff)
			}
		})
	}
}

// TestRecordOfUnservedRequests: requests that match no rule, or whose
// path is refused, are recorded with their flags; Config.NotFound serves
// those that match no rule.
func TestRecordOfUnservedRequests(t *testing.T) {
	legacy := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "legacy "+r.URL.Path) })
	ok := httproute.InProcess(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	cases := []struct {
		name     string
		notFound http.Handler
		target   string
		wantBody string
		want     recordSummary
	}{
		{"no route", nil, "/other", "Not Found\n", recordSummary{Status: 404, BytesOut: 10, Flags: "NR"}},
		{"no route, NotFound", legacy, "/x/../other", "legacy /other", recordSummary{Status: 200, BytesOut: 13, Flags: "NR"}},
		{"path refused", legacy, "/api/" + strings.Repeat("a", 9000), "Request URI Too Long\n", recordSummary{Status: 414, BytesOut: 21, Flags: "DPE"}},
		{"served", legacy, "/api/items", "", recordSummary{Route: "default/r", Gateway: "/", Backend: "a", Status: 200, Flags: "-",
			Attempts: []attemptSummary{{Backend: "a", Status: 200}}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rec := &recorder{}
			rt := inProcessRouter(t, "- matches: [{path: {value: /api}}]\n  backendRefs: [{name: a, port: 80}]\n",
				httproute.Config{Observer: rec, NotFound: tc.notFound}, map[string]httproute.Backend{"a": ok})
			w := httptest.NewRecorder()
			rt.ServeHTTP(w, httptest.NewRequest("GET", tc.target, nil))
			if w.Body.String() != tc.wantBody {
				t.Errorf("body %q, want %q", w.Body, tc.wantBody)
			}
			if diff := cmp.Diff(tc.want, untimed(rec.last(t))); diff != "" {
				t.Errorf("record (-want +got):\n%s", diff)
			}
		})
	}
}

// TestNotFoundWithoutObserver: Config.NotFound serves unmatched requests
// of a Router without an Observer too, and not the misdirected ones.
func TestNotFoundWithoutObserver(t *testing.T) {
	legacy := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(299) })
	rt := inProcessRouter(t, "- matches: [{path: {value: /api}}]\n  backendRefs: [{name: a, port: 80}]\n",
		httproute.Config{NotFound: legacy}, map[string]httproute.Backend{"a": httproute.InProcess(legacy)})
	w := httptest.NewRecorder()
	rt.ServeHTTP(w, httptest.NewRequest("GET", "/elsewhere", nil))
	if w.Code != 299 {
		t.Errorf("status %d, want 299 from Config.NotFound", w.Code)
	}
}

// TestRecordWhenTheClientGoesAway: a client that goes away while a
// proxied backend is still answering is recorded as DC, with no status.
func TestRecordWhenTheClientGoesAway(t *testing.T) {
	arrived := make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(arrived)
		<-r.Context().Done()
	}))
	defer slow.Close()
	u, err := httproute.NewUpstream(httproute.UpstreamConfig{Endpoints: []string{strings.TrimPrefix(slow.URL, "http://")}})
	if err != nil {
		t.Fatal(err)
	}
	rec := &recorder{}
	rt := inProcessRouter(t, "- backendRefs: [{name: a, port: 80}]\n", httproute.Config{Observer: rec}, map[string]httproute.Backend{"a": u})
	ctx, cancel := context.WithCancel(context.Background())
	go func() { <-arrived; cancel() }()
	rt.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil).WithContext(ctx))
	got := rec.last(t)
	if got.Status != 0 || got.Flags != "DC" || len(got.Attempts) != 1 || got.Attempts[0].Class != "canceled" {
		t.Errorf("record %+v, want status 0, flags DC and one canceled attempt", got)
	}
}

// TestWithRecord: middleware around a Router without an Observer reads
// the record of the request it passed on, weighted choice included.
func TestWithRecord(t *testing.T) {
	ok := httproute.InProcess(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }))
	rt := inProcessRouter(t, "- name: split\n  backendRefs: [{name: a, port: 80, weight: 0}, {name: b, port: 80}]\n",
		httproute.Config{}, map[string]httproute.Backend{"a": ok, "b": ok})
	var rec httproute.Record
	req := httptest.NewRequest("GET", "/", nil)
	rt.ServeHTTP(httptest.NewRecorder(), req.WithContext(httproute.WithRecord(req.Context(), &rec)))
	want := recordSummary{Route: "default/r", Rule: "split", Gateway: "/", Backend: "b", Status: 200, BytesOut: 2, Flags: "-",
		Attempts: []attemptSummary{{Backend: "b", Status: 200}}}
	if diff := cmp.Diff(want, untimed(summarize(&rec))); diff != "" {
		t.Errorf("record (-want +got):\n%s", diff)
	}
}

// TestWhoWantsTheFirstByte: the time to first byte is measured for a
// FirstByteObserver that wants it, for Observers holding one, and for a
// WithRecord holder even when the Router's Observer does not want it;
// the access log wants it when it writes upstream_service_time.
func TestWhoWantsTheFirstByte(t *testing.T) {
	noop := httproute.ObserverFunc(func(*httproute.Record) {})
	withField, err := httproute.NewAccessLog(slog.New(slog.DiscardHandler), httproute.AccessLogOptions{})
	if err != nil {
		t.Fatal(err)
	}
	withoutField, err := httproute.NewAccessLog(slog.New(slog.DiscardHandler), httproute.AccessLogOptions{Fields: []string{"duration"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		obs  httproute.Observer
		want bool
	}{
		{"no-op", noop, false},
		{"access log with upstream_service_time", withField, true},
		{"access log without it", withoutField, false},
		{"Observers with one that wants it", httproute.Observers(noop, withField), true},
		{"Observers with none that wants it", httproute.Observers(noop, withoutField), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fb, _ := tc.obs.(httproute.FirstByteObserver)
			if got := fb != nil && fb.ObservesFirstByte(); got != tc.want {
				t.Errorf("wants the first byte: %v, want %v", got, tc.want)
			}
		})
	}
	// A handler that takes a millisecond before its first byte.
	slow := httproute.InProcess(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(time.Millisecond)
		io.WriteString(w, "ok")
	}))
	for _, tc := range []struct {
		name   string
		obs    httproute.Observer
		holder bool
		want   bool
	}{
		{"observer that does not want it", noop, false, false},
		{"observer that wants it", withField, false, true},
		{"holder, observer that does not want it", noop, true, true},
	} {
		t.Run("served/"+tc.name, func(t *testing.T) {
			var got httproute.Record
			obs := httproute.Observers(tc.obs, httproute.ObserverFunc(func(r *httproute.Record) {
				got = *r
				got.Attempts = slices.Clone(r.Attempts) // r's are the Router's to reuse
			}))
			rt := inProcessRouter(t, "- backendRefs: [{name: a, port: 80}]\n", httproute.Config{Observer: obs}, map[string]httproute.Backend{"a": slow})
			req := httptest.NewRequest("GET", "/", nil)
			var held httproute.Record
			if tc.holder {
				req = req.WithContext(httproute.WithRecord(req.Context(), &held))
			}
			rt.ServeHTTP(httptest.NewRecorder(), req)
			if timed := got.UpstreamFirstByte >= time.Millisecond && got.Attempts[0].FirstByte >= time.Millisecond; timed != tc.want {
				t.Errorf("first byte timed: %v (record %v, attempt %v), want %v", timed, got.UpstreamFirstByte, got.Attempts[0].FirstByte, tc.want)
			}
			if !tc.want && (got.UpstreamFirstByte != 0 || got.Attempts[0].FirstByte != 0) {
				t.Errorf("first byte %v, attempt %v: want 0 when nobody wants it", got.UpstreamFirstByte, got.Attempts[0].FirstByte)
			}
			if tc.holder && held.UpstreamFirstByte < time.Millisecond {
				t.Errorf("holder's first byte %v, want at least 1ms", held.UpstreamFirstByte)
			}
		})
	}
}

// tracer is a RequestStarter and AttemptStarter that marks contexts and
// records the calls it gets.
type tracer struct {
	recorder
	calls []string
}

type traceKey struct{}

func (tr *tracer) StartRequest(r *http.Request, rec *httproute.Record) *http.Request {
	tr.calls = append(tr.calls, "request "+rec.Match.Route.Name)
	return r.WithContext(context.WithValue(r.Context(), traceKey{}, "server"))
}

func (tr *tracer) StartAttempt(r *http.Request, rec *httproute.Record) (*http.Request, func(*httproute.Attempt)) {
	n := len(rec.Attempts)
	tr.calls = append(tr.calls, "attempt "+itoa(n))
	r2 := r.WithContext(context.WithValue(r.Context(), traceKey{}, "client "+itoa(n)))
	r2.Header = r.Header.Clone()
	r2.Header.Set("Traceparent", "attempt-"+itoa(n))
	return r2, func(a *httproute.Attempt) { tr.calls = append(tr.calls, "end "+itoa(n)+" "+itoa(a.Status)) }
}

// TestStartersSeeEachRequestAndAttempt: a RequestStarter's context reaches
// the rule's handlers, an AttemptStarter's request (headers included)
// reaches each attempt's backend, and each attempt's end is told with its
// outcome, before the record.
func TestStartersSeeEachRequestAndAttempt(t *testing.T) {
	var seen []string
	var calls atomic.Int64
	b := httproute.InProcess(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen = append(seen, r.Context().Value(traceKey{}).(string)+" "+r.Header.Get("Traceparent"))
		if calls.Add(1) == 1 {
			w.WriteHeader(503)
		}
	}))
	tr := &tracer{}
	rt := inProcessRouter(t, "- backendRefs: [{name: a, port: 80}]\n  retry: {codes: [503], attempts: 1, backoff: 1ms}\n",
		httproute.Config{Observer: httproute.Observers(tr, nil)}, map[string]httproute.Backend{"a": b})
	rt.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil))
	if diff := cmp.Diff([]string{"client 1 attempt-1", "client 2 attempt-2"}, seen); diff != "" {
		t.Errorf("backend saw (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"request r", "attempt 1", "attempt 2", "end 1 503", "end 2 200"}, tr.calls); diff != "" {
		t.Errorf("calls (-want +got):\n%s", diff)
	}
	if got := tr.last(t).Retries; got != 1 {
		t.Errorf("retries %d, want 1", got)
	}
}

// mirrorDrops is a MirrorObserver.
type mirrorDrops struct {
	recorder
	mu    sync.Mutex
	drops []httproute.MirrorDrop
}

func (m *mirrorDrops) ObserveMirrorDrop(d httproute.MirrorDrop) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.drops = append(m.drops, d)
}

// TestMirrorDropsAreObserved: a copy that a RequestMirror filter does not
// send is told to a MirrorObserver with the rule, backendRef and reason.
func TestMirrorDropsAreObserved(t *testing.T) {
	ok := httproute.InProcess(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.Copy(io.Discard, r.Body) }))
	obs := &mirrorDrops{}
	rt := inProcessRouter(t, `- backendRefs: [{name: a, port: 80}]
  filters: [{type: RequestMirror, requestMirror: {backendRef: {name: m, port: 80}}}]
`, httproute.Config{Observer: obs}, map[string]httproute.Backend{"a": ok, "m": ok})
	rt.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("POST", "/", strings.NewReader(strings.Repeat("x", 70<<10))))
	obs.mu.Lock()
	defer obs.mu.Unlock()
	want := []string{"default/r 0 default/m:80 BodyTooLarge"}
	var got []string
	for _, d := range obs.drops {
		got = append(got, d.Route.String()+" "+itoa(d.Rule)+" "+d.Backend.String()+" "+d.Reason)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("drops (-want +got):\n%s", diff)
	}
}

// updates is an UpdateObserver.
type updates struct {
	recorder
	got []httproute.ConfigUpdate
}

func (u *updates) ObserveUpdate(c httproute.ConfigUpdate) { u.got = append(u.got, c) }

// TestUpdatesAreObserved: New and every Update are told to an
// UpdateObserver with the problems found, or why the Config was refused.
func TestUpdatesAreObserved(t *testing.T) {
	obs := &updates{}
	var route gatewayv1.HTTPRoute
	if err := yaml.Unmarshal([]byte("metadata: {name: r, namespace: default}\nspec: {rules: [{backendRefs: [{name: missing, port: 80}]}]}"), &route); err != nil {
		t.Fatal(err)
	}
	cfg := httproute.Config{Observer: obs, HTTPRoutes: []*gatewayv1.HTTPRoute{&route}}
	rt, err := httproute.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Strict = true
	if err := rt.Update(cfg); err == nil {
		t.Fatal("strict Update of a route with a missing backend succeeded")
	}
	if len(obs.got) != 2 {
		t.Fatalf("%d updates observed, want 2", len(obs.got))
	}
	if u := obs.got[0]; u.Err != nil || len(u.Problems) != 1 || !strings.Contains(u.Problems[0].Error(), "missing") {
		t.Errorf("New: err %v, problems %v; want no error and the missing backend", u.Err, u.Problems)
	}
	if u := obs.got[1]; u.Err == nil || u.Problems != nil {
		t.Errorf("strict Update: err %v, problems %v; want the error alone", u.Err, u.Problems)
	}
}

// TestNoObserverAllocatesNoMore: with no Observer, serving a request
// allocates what it did before records existed; with a no-op Observer it
// allocates no more either, in number or in bytes: the observation comes
// from the Router's pool. A request body is counted by a wrapper of its
// own, allocated apart (the only allocation a record adds), since a
// transport may still read the body once the request is done.
func TestNoObserverAllocatesNoMore(t *testing.T) {
	ok := httproute.InProcess(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }))
	type cost struct{ Allocs, Bytes float64 }
	got := map[string]cost{}
	for name, obs := range map[string]httproute.Observer{"none": nil, "no-op": httproute.ObserverFunc(func(*httproute.Record) {})} {
		rt := inProcessRouter(t, "- backendRefs: [{name: a, port: 80}]\n", httproute.Config{Observer: obs}, map[string]httproute.Backend{"a": ok})
		get, post := httptest.NewRequest("GET", "/api/items", nil), httptest.NewRequest("POST", "/api/items", nil)
		body := strings.NewReader("")
		serve := func(req *http.Request) func() {
			return func() {
				if req.Method == "POST" {
					body.Reset("hello")
					req.Body = io.NopCloser(body)
				}
				w := benchserve.DiscardWriter{H: http.Header{}}
				rt.ServeHTTP(&w, req)
			}
		}
		got[name] = cost{Allocs: testing.AllocsPerRun(100, serve(get))}
		if !raceEnabled { // the race detector's sync.Pool drops some of what it is given
			got[name] = cost{got[name].Allocs, bytesPerRun(1000, serve(get))}
		}
		got[name+", with a body"] = cost{Allocs: testing.AllocsPerRun(100, serve(post))}
	}
	// 1 for the writer's header map, 1 for the request state, 1 for the
	// request's copy, 2 in io.WriteString's conversion and the header
	// (and 1 for the body's NopCloser).
	none := got["none"].Bytes
	want := map[string]cost{
		"none": {5, none}, "no-op": {5, none},
		"none, with a body": {Allocs: 6}, "no-op, with a body": {Allocs: 7},
	}
	// The pool may have to make an observation again after a collection,
	// and a background allocation of the runtime or of another test may
	// land in either run: a difference under 8 bytes per request is not
	// the observer's.
	if b := got["no-op"].Bytes; math.Abs(b-none) < 8 {
		got["no-op"] = cost{got["no-op"].Allocs, none}
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("allocations and bytes per request (-want +got):\n%s", diff)
	}
}

// bytesPerRun returns the bytes allocated per call of f, over runs calls
// after a first, on one P as testing.AllocsPerRun counts.
func bytesPerRun(runs int, f func()) float64 {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	f()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for range runs {
		f()
	}
	runtime.ReadMemStats(&after)
	return float64(after.TotalAlloc-before.TotalAlloc) / float64(runs)
}

// TestRecordsOfSuccessiveRequests: the observation of a request is
// recycled for the next once the Router is done with it, so nothing of
// one request may show in the record of the next (attempts, flags, body,
// endpoint, timeout), a WithRecord holder keeps its record whatever the
// Router serves next, and a request cut short by a panic leaves nothing
// behind either.
func TestRecordsOfSuccessiveRequests(t *testing.T) {
	ok := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }))
	defer ok.Close()
	okAddr := strings.TrimPrefix(ok.URL, "http://")
	proxied, err := httproute.NewUpstream(httproute.UpstreamConfig{Endpoints: []string{okAddr}})
	if err != nil {
		t.Fatal(err)
	}
	backends := map[string]httproute.Backend{
		"a": httproute.InProcess(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			switch r.URL.Path {
			case "/fail":
				w.WriteHeader(503)
			case "/slow":
				<-r.Context().Done()
			case "/panic":
				panic(http.ErrAbortHandler)
			default:
				body, _ := io.ReadAll(r.Body)
				w.Write(append(body, "!"...))
			}
		})),
		"b": proxied,
	}
	rec := &recorder{}
	rt := inProcessRouter(t, `- matches: [{path: {type: Exact, value: /fail}}]
  backendRefs: [{name: a, port: 80}]
  retry: {codes: [503], attempts: 1, backoff: 1ms}
- matches: [{path: {type: Exact, value: /slow}}]
  backendRefs: [{name: a, port: 80}]
  timeouts: {request: 10ms}
- matches: [{path: {type: Exact, value: /proxied}}]
  backendRefs: [{name: b, port: 80}]
- backendRefs: [{name: a, port: 80}]
`, httproute.Config{Observer: rec}, backends)
	onA := func(s recordSummary) recordSummary {
		s = onBackendA(s)
		s.Route, s.Gateway = "default/r", "/"
		return s
	}
	plain := onA(recordSummary{Status: 200, BytesOut: 1, Flags: "-", Attempts: []attemptSummary{{Status: 200}}})
	var held httproute.Record
	steps := []struct {
		method, target, body string
		hold                 bool
		want                 recordSummary
	}{
		{"GET", "/fail", "", true, onA(recordSummary{Status: 503, Flags: "URX", Retries: 1,
			Attempts: []attemptSummary{{Status: 503, Retried: true}, {Status: 503}}})},
		{"GET", "/plain", "", false, plain},
		{"POST", "/plain", "hello", false, onA(recordSummary{Status: 200, BytesIn: 5, BytesOut: 6, Flags: "-", Attempts: []attemptSummary{{Status: 200}}})},
		{"GET", "/plain", "", false, plain},
		{"GET", "/slow", "", false, onA(recordSummary{Status: 504, BytesOut: 16, Flags: "UT", RequestTimeout: true,
			Attempts: []attemptSummary{{Class: "timeout"}}})},
		{"GET", "/plain", "", false, plain},
		{"GET", "/proxied", "", false, recordSummary{Route: "default/r", Gateway: "/", Backend: "b", Endpoint: okAddr, Status: 200, BytesOut: 2, Flags: "-",
			Attempts: []attemptSummary{{Backend: "b", Endpoint: okAddr, Status: 200}}}},
		{"GET", "/plain", "", false, plain},
		{"GET", "/panic", "", false, onA(recordSummary{Flags: "UC", Attempts: []attemptSummary{{Class: "backend"}}})},
		{"GET", "/plain", "", false, plain},
	}
	for i, step := range steps {
		req := httptest.NewRequest(step.method, step.target, strings.NewReader(step.body))
		if step.hold {
			req = req.WithContext(httproute.WithRecord(req.Context(), &held))
		}
		func() {
			defer func() { _ = recover() }()
			rt.ServeHTTP(httptest.NewRecorder(), req)
		}()
		if diff := cmp.Diff(step.want, untimed(rec.last(t))); diff != "" {
			t.Errorf("step %d, %s %s: record (-want +got):\n%s", i, step.method, step.target, diff)
		}
	}
	if diff := cmp.Diff(steps[0].want, untimed(summarize(&held))); diff != "" {
		t.Errorf("record held by middleware after the requests that followed (-want +got):\n%s", diff)
	}
}

// TestRecordStartOnTheRealClock: without Config.Now, a record's start is
// read between the moments before and after ServeHTTP, on the monotonic
// clock and on the wall clock alike (whose reading the Router refreshes
// every second), for the first request of a Router and the ones after.
func TestRecordStartOnTheRealClock(t *testing.T) {
	ok := httproute.InProcess(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	var starts []time.Time
	rt := inProcessRouter(t, "- backendRefs: [{name: a, port: 80}]\n",
		httproute.Config{Observer: httproute.ObserverFunc(func(r *httproute.Record) { starts = append(starts, r.Start) })},
		map[string]httproute.Backend{"a": ok})
	for i := range 3 {
		before := time.Now()
		rt.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil))
		after := time.Now()
		start := starts[len(starts)-1]
		if start.Before(before) || start.After(after) {
			t.Errorf("request %d: start %v outside [%v, %v] on the monotonic clock", i, start, before, after)
		}
		if wall := start.Round(0); wall.Before(before.Round(0)) || wall.After(after.Round(0)) {
			t.Errorf("request %d: start %v outside [%v, %v] on the wall clock", i, wall, before.Round(0), after.Round(0))
		}
	}
}
