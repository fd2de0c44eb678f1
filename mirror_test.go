package httproute_test

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/httproute/httproute"
	"github.com/httproute/httproute/httproutetest"
)

// mirrorLog counts the Router's log records by message, so that tests
// can wait for every mirror sent to be done.
type mirrorLog struct {
	mu     sync.Mutex
	counts map[string]int
	recs   []string
	change chan struct{}
}

func newMirrorLog() *mirrorLog {
	return &mirrorLog{counts: map[string]int{}, change: make(chan struct{})}
}

func (l *mirrorLog) Enabled(context.Context, slog.Level) bool { return true }
func (l *mirrorLog) WithAttrs([]slog.Attr) slog.Handler       { return l }
func (l *mirrorLog) WithGroup(string) slog.Handler            { return l }

func (l *mirrorLog) Handle(_ context.Context, r slog.Record) error {
	var b strings.Builder
	b.WriteString(r.Message)
	r.Attrs(func(a slog.Attr) bool {
		fmt.Fprintf(&b, " %s=%v", a.Key, a.Value)
		return true
	})
	l.mu.Lock()
	defer l.mu.Unlock()
	l.counts[r.Message]++
	l.recs = append(l.recs, b.String())
	close(l.change)
	l.change = make(chan struct{})
	return nil
}

func (l *mirrorLog) count(msg string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.counts[msg]
}

func (l *mirrorLog) records() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.recs, "\n")
}

// settle waits until every mirror sent is done or failed, and fails the
// test after 10 seconds.
func (l *mirrorLog) settle(t *testing.T) {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		l.mu.Lock()
		sent, finished := l.counts["request mirror sent"], l.counts["request mirror done"]+l.counts["request mirror failed"]
		ch := l.change
		l.mu.Unlock()
		if finished >= sent {
			return
		}
		select {
		case <-ch:
		case <-deadline:
			t.Fatalf("%d mirrors sent, %d finished after 10s", sent, finished)
		}
	}
}

func mirrorRule(path, filters string) string {
	return fmt.Sprintf(`  - matches:
    - path: {type: PathPrefix, value: %s}
    filters:
%s    backendRefs:
    - {name: web, port: 80}
`, path, filters)
}

func mirrorFilter(service, sample string) string {
	return fmt.Sprintf(`    - type: RequestMirror
      requestMirror:
        backendRef: {name: %s, port: 8080}
%s`, service, sample)
}

func TestMirrorToLoopbackBackends(t *testing.T) {
	log := newMirrorLog()
	env := httproutetest.New(t, httproutetest.Options{Network: true, Logger: slog.New(log),
		Extensions: []httproute.Extension{markerExtension()}}, marker("after", "after"), route("r",
		mirrorRule("/one", `    - type: RequestHeaderModifier
      requestHeaderModifier:
        set:
        - {name: X-Before, value: before}
`+mirrorFilter("mirror-a", "")+`    - type: ExtensionRef
      extensionRef: {group: test.example.com, kind: Marker, name: after}
`)+
			mirrorRule("/two", mirrorFilter("mirror-a", "")+mirrorFilter("mirror-b", ""))))
	a := env.Backend("default", "mirror-a", 8080)
	b := env.Backend("default", "mirror-b", 8080)

	ex := env.Do(httproutetest.Request{Method: "POST", Path: "/one/x?q=1", Body: "hello", Header: http.Header{"X-Client": {"c"}}})
	for _, msg := range httproutetest.Check(ex, httproutetest.Want{Status: 200, Backend: "default/web:80", BackendPath: "/one/x?q=1",
		BackendBody: "hello", BackendHeader: map[string]string{"X-Before": "before", "X-Order": "after"}}) {
		t.Error(msg)
	}
	got := a.WaitReceived(1, 10*time.Second)
	if len(got) != 1 {
		t.Fatalf("mirror-a received %d requests, want 1", len(got))
	}
	m := got[0]
	if m.Method != "POST" || m.Path != "/one/x?q=1" || m.Body != "hello" || m.Host != "example.com" {
		t.Errorf("mirrored request = %s %s host %s body %q", m.Method, m.Path, m.Host, m.Body)
	}
	if m.Header.Get("X-Before") != "before" || m.Header.Get("X-Order") != "" || m.Header.Get("X-Client") != "c" {
		t.Errorf("mirrored headers = %v: want the filters listed before the mirror only", m.Header)
	}
	if m.Header.Get(httproutetest.IDHeader) != ex.ID {
		t.Errorf("mirrored the wrong request")
	}

	env.Do(httproutetest.Request{Path: "/two"})
	if len(a.WaitReceived(2, 10*time.Second)) != 2 || len(b.WaitReceived(1, 10*time.Second)) != 1 {
		t.Errorf("multiple mirrors: a got %d, b got %d; want 2 and 1", len(a.Received()), len(b.Received()))
	}
	log.settle(t)
	if n := log.count("request mirror failed") + log.count("request mirror dropped: too many mirrored requests in flight"); n != 0 {
		t.Errorf("failures logged:\n%s", log.records())
	}
}

func TestMirrorPercentages(t *testing.T) {
	const n = 1000
	log := newMirrorLog()
	env := httproutetest.New(t, httproutetest.Options{Network: true, Logger: slog.New(log), Rand: rand.NewPCG(1, 2)}, route("r",
		mirrorRule("/percent", mirrorFilter("m20", "        percent: 20\n"))+
			mirrorRule("/fraction", mirrorFilter("m50", "        fraction: {numerator: 25, denominator: 50}\n"))+
			mirrorRule("/fraction-default", mirrorFilter("m3", "        fraction: {numerator: 3}\n"))+
			mirrorRule("/zero", mirrorFilter("m0", "        percent: 0\n"))+
			mirrorRule("/all", mirrorFilter("m100", "        percent: 100\n"))))
	tests := []struct {
		path, service string
		p             float64
	}{
		{"/percent", "m20", 0.20},
		{"/fraction", "m50", 0.50},
		{"/fraction-default", "m3", 0.03},
		{"/zero", "m0", 0},
		{"/all", "m100", 1},
	}
	const dropped = "request mirror dropped: too many mirrored requests in flight"
	for _, tc := range tests {
		t.Run(tc.path, func(t *testing.T) {
			for i := range n {
				if i%32 == 31 {
					// Let the copies catch up: sequential primaries can
					// outrun their mirrors on a loaded machine, and the
					// in-flight bound (64) would then drop copies.
					log.settle(t)
				}
				if ex := env.Do(httproutetest.Request{Path: tc.path}); ex.Response.StatusCode != 200 {
					t.Fatalf("primary answered %d", ex.Response.StatusCode)
				}
			}
			log.settle(t)
			got := len(env.Backend("default", tc.service, 8080).Received())
			// Four binomial standard deviations around the mean: with the
			// fixed seed the count is the same on every run, and a wrong
			// sampling rate is still caught.
			mean := tc.p * n
			sd := 4 * sqrtf(n*tc.p*(1-tc.p))
			if float64(got) < mean-sd || float64(got) > mean+sd {
				t.Errorf("mirrored %d of %d requests, want %.0f±%.0f", got, n, mean, sd)
			}
		})
	}
	if n := log.count(dropped); n != 0 {
		t.Errorf("mirrors dropped although paced below the in-flight bound")
	}
}

func sqrtf(x float64) float64 {
	z := x
	for range 50 {
		if z == 0 {
			return 0
		}
		z -= (z*z - x) / (2 * z)
	}
	return z
}

func TestMirrorSlowBackendDoesNotDelayPrimary(t *testing.T) {
	log := newMirrorLog()
	env := httproutetest.New(t, httproutetest.Options{Network: true, Logger: slog.New(log)},
		route("r", mirrorRule("/", mirrorFilter("slow", ""))))
	release := make(chan struct{})
	var finished atomic.Bool
	env.Backend("default", "slow", 8080).SetHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-release
		finished.Store(true)
	}))
	ex := env.Do(httproutetest.Request{Method: "PUT", Path: "/a", Body: "payload"})
	// The primary has its whole answer while the mirror backend has the
	// request and is still blocked on release.
	if ex.Response.StatusCode != 200 || ex.Received == nil || ex.Received.Body != "payload" {
		t.Fatalf("primary: %d %+v", ex.Response.StatusCode, ex.Received)
	}
	if got := env.Backend("default", "slow", 8080).WaitReceived(1, 10*time.Second); len(got) != 1 || got[0].Body != "payload" {
		t.Fatalf("the mirror backend did not get the request: %+v", got)
	}
	if finished.Load() {
		t.Fatal("the mirror finished before it was released")
	}
	close(release)
	log.settle(t)
	if !finished.Load() {
		t.Error("the mirror did not finish after release")
	}
	if n := countGoroutines("httproute.(*mirror).send"); n != 0 {
		t.Errorf("%d mirror goroutines left", n)
	}
}

// countGoroutines counts the goroutines whose stack mentions fn.
func countGoroutines(fn string) int {
	deadline := time.Now().Add(5 * time.Second)
	for {
		buf := make([]byte, 1<<20)
		buf = buf[:runtime.Stack(buf, true)]
		n := 0
		for _, g := range strings.Split(string(buf), "\n\n") {
			if strings.Contains(g, fn) {
				n++
			}
		}
		// A goroutine that logged "done" may still be returning.
		if n == 0 || time.Now().After(deadline) {
			return n
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestMirrorFailuresAreLoggedNotSurfaced(t *testing.T) {
	// A port that was listening and is closed: connections are refused.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	down, err := httproute.NewUpstream(httproute.UpstreamConfig{Endpoints: []string{addr}})
	if err != nil {
		t.Fatal(err)
	}
	log := newMirrorLog()
	env := httproutetest.New(t, httproutetest.Options{
		Network:  true,
		Logger:   slog.New(log),
		Backends: httproute.Services{{Namespace: "default", Name: "down", Port: 8080}: down},
	}, route("r", mirrorRule("/", mirrorFilter("down", "")+mirrorFilter("panics", ""))))
	env.Backend("default", "panics", 8080) // created, then replaced below
	panicky := httproute.Handler(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic("mirror backend bug") }))
	env2 := httproutetest.New(t, httproutetest.Options{
		Logger: slog.New(log),
		Backends: httproute.Services{
			{Namespace: "default", Name: "down", Port: 8080}:   down,
			{Namespace: "default", Name: "panics", Port: 8080}: panicky,
		},
	}, route("r", mirrorRule("/", mirrorFilter("down", "")+mirrorFilter("panics", ""))))
	for _, e := range []*httproutetest.Env{env, env2} {
		ex := e.Do(httproutetest.Request{Path: "/x"})
		if ex.Response.StatusCode != 200 || ex.Backend != "default/web:80" {
			t.Errorf("primary answered %d from %q", ex.Response.StatusCode, ex.Backend)
		}
	}
	log.settle(t)
	recs := log.records()
	if !strings.Contains(recs, "request mirror failed backend=default/down:8080") {
		t.Errorf("no failure logged for the unreachable mirror:\n%s", recs)
	}
	if !strings.Contains(recs, "mirror backend panicked: mirror backend bug") {
		t.Errorf("no failure logged for the panicking mirror:\n%s", recs)
	}
}

func TestMirrorBodyBound(t *testing.T) {
	log := newMirrorLog()
	env := httproutetest.New(t, httproutetest.Options{Network: true, Logger: slog.New(log)},
		route("r", mirrorRule("/", mirrorFilter("mirror", ""))))
	mirror := env.Backend("default", "mirror", 8080)
	limit := 64 << 10
	tests := []struct {
		name     string
		body     string
		chunked  bool
		mirrored bool
	}{
		{"at the bound", strings.Repeat("a", limit), false, true},
		{"at the bound, chunked", strings.Repeat("b", limit), true, true},
		{"over the bound", strings.Repeat("c", limit+1), false, false},
		{"over the bound, chunked", strings.Repeat("d", limit+1), true, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := len(mirror.Received())
			ex := env.Do(httproutetest.Request{Method: "POST", Path: "/", Body: tc.body, Chunked: tc.chunked})
			if ex.Received == nil || ex.Received.Body != tc.body {
				t.Fatalf("the primary backend did not receive the whole body")
			}
			log.settle(t)
			got := mirror.Received()[before:]
			switch {
			case tc.mirrored && (len(got) != 1 || got[0].Body != tc.body):
				t.Errorf("mirrored %d requests, want 1 with the whole body", len(got))
			case !tc.mirrored && len(got) != 0:
				t.Errorf("mirrored %d requests, want none", len(got))
			}
		})
	}
	if n := log.count("request not mirrored"); n != 2 {
		t.Errorf("%d skips logged, want 2:\n%s", n, log.records())
	}
}

func TestMirrorInFlightBound(t *testing.T) {
	log := newMirrorLog()
	env := httproutetest.New(t, httproutetest.Options{Network: true, Logger: slog.New(log)},
		route("r", mirrorRule("/", mirrorFilter("slow", ""))))
	release := make(chan struct{})
	slow := env.Backend("default", "slow", 8080)
	slow.SetHandler(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { <-release }))
	const limit, extra = 64, 9
	for range limit {
		env.Do(httproutetest.Request{Path: "/"})
	}
	// The bound is reached once every copy has reached the backend.
	if got := slow.WaitReceived(limit, 10*time.Second); len(got) != limit {
		t.Fatalf("%d mirrors in flight, want %d", len(got), limit)
	}
	for range extra {
		if ex := env.Do(httproutetest.Request{Path: "/"}); ex.Response.StatusCode != 200 {
			t.Fatalf("primary answered %d while mirrors were blocked", ex.Response.StatusCode)
		}
	}
	close(release)
	log.settle(t)
	if got := len(slow.Received()); got != limit {
		t.Errorf("the mirror backend received %d requests, want %d", got, limit)
	}
	// Drops are logged when their count is a power of two: 1, 2, 4, 8.
	if n := log.count("request mirror dropped: too many mirrored requests in flight"); n != 4 {
		t.Errorf("%d drop records, want 4:\n%s", n, log.records())
	}
	if !strings.Contains(log.records(), "limit=64 dropped=8") {
		t.Errorf("no record of the 8th drop")
	}
}

func TestMirrorNoGoroutineLeak(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		log := newMirrorLog()
		env := httproutetest.New(t, httproutetest.Options{Logger: slog.New(log)},
			route("r", mirrorRule("/", mirrorFilter("slow", "")+mirrorFilter("fast", ""))))
		release := make(chan struct{})
		var finished atomic.Bool
		env.Backend("default", "slow", 8080).SetHandler(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
			<-release
			finished.Store(true)
		}))
		for range 3 {
			if ex := env.Do(httproutetest.Request{Method: "POST", Path: "/", Body: "x"}); ex.Response.StatusCode != 200 {
				t.Fatalf("primary answered %d", ex.Response.StatusCode)
			}
		}
		synctest.Wait() // every mirror goroutine is done or blocked on release
		if finished.Load() || len(env.Backend("default", "slow", 8080).Received()) != 3 {
			t.Fatalf("slow mirror: finished %v, received %d", finished.Load(), len(env.Backend("default", "slow", 8080).Received()))
		}
		close(release)
		synctest.Wait()
		if !finished.Load() || log.count("request mirror done") != 6 {
			t.Errorf("after release: finished %v, %d mirrors done, want 6", finished.Load(), log.count("request mirror done"))
		}
		// synctest.Test fails if any goroutine of the bubble is left.
	})
}

func TestMirrorTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		log := newMirrorLog()
		env := httproutetest.New(t, httproutetest.Options{Logger: slog.New(log)}, route("r", `  - timeouts: {request: 2s}
    filters:
    - type: RequestMirror
      requestMirror:
        backendRef: {name: stuck, port: 8080}
    backendRefs:
    - {name: web, port: 80}
`))
		env.Backend("default", "stuck", 8080).SetHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			<-r.Context().Done()
		}))
		start := time.Now()
		env.Do(httproutetest.Request{Path: "/"})
		synctest.Wait()
		if log.count("request mirror done") != 0 {
			t.Fatal("the stuck mirror finished early")
		}
		time.Sleep(2 * time.Second)
		synctest.Wait()
		if log.count("request mirror done") != 1 || time.Since(start) != 2*time.Second {
			t.Errorf("the mirror was not ended by the rule's 2s request timeout:\n%s", log.records())
		}
	})
}

func TestMirrorUnresolvedBackendIsDropped(t *testing.T) {
	env := httproutetest.New(t, httproutetest.Options{}, route("r", `  - filters:
    - type: RequestMirror
      requestMirror:
        backendRef: {name: other, namespace: elsewhere, port: 80}
    backendRefs:
    - {name: web, port: 80}
`))
	env.Run(t, []httproutetest.Case{{Name: "primary serves", Want: httproutetest.Want{Status: 200, Backend: "default/web:80"}}})
	if got := len(env.Backend("elsewhere", "other", 80).Received()); got != 0 {
		t.Errorf("the refused mirror received %d requests", got)
	}
	st := env.Router.Status().HTTPRoutes[nn("default", "r")]
	rr := findCondition(st.Parents[0].Conditions, "ResolvedRefs")
	if rr == nil || rr.Status != "False" || rr.Reason != "RefNotPermitted" ||
		rr.Message != "spec.rules[0].filters[0].requestMirror.backendRef.namespace: Forbidden: Service elsewhere/other is in another namespace and no ReferenceGrant allows it" {
		t.Errorf("ResolvedRefs = %+v", rr)
	}

	// With a ReferenceGrant the mirror resolves.
	env = httproutetest.New(t, httproutetest.Options{}, route("r", `  - filters:
    - type: RequestMirror
      requestMirror:
        backendRef: {name: other, namespace: elsewhere, port: 80}
    backendRefs:
    - {name: web, port: 80}
`), `apiVersion: gateway.networking.k8s.io/v1
kind: ReferenceGrant
metadata: {name: g, namespace: elsewhere}
spec:
  from: [{group: gateway.networking.k8s.io, kind: HTTPRoute, namespace: default}]
  to: [{group: "", kind: Service}]
`)
	env.Do(httproutetest.Request{})
	if got := env.Backend("elsewhere", "other", 80).WaitReceived(1, 10*time.Second); len(got) != 1 {
		t.Errorf("the granted mirror received %d requests", len(got))
	}
}

func TestMirrorInvalid(t *testing.T) {
	tests := []struct{ name, sample, want string }{
		{"percent and fraction", "        percent: 10\n        fraction: {numerator: 1}\n",
			`httproute default/web: spec.rules[0].filters[0].requestMirror: Invalid value: "percent, fraction": Only one of percent or fraction may be specified in HTTPRequestMirrorFilter`},
		{"percent over 100", "        percent: 101\n",
			`httproute default/web: spec.rules[0].filters[0].requestMirror.percent: Invalid value: 101: must be between 0 and 100`},
		{"numerator over denominator", "        fraction: {numerator: 3, denominator: 2}\n",
			`httproute default/web: spec.rules[0].filters[0].requestMirror.fraction.numerator: Invalid value: 3: numerator must be between 0 and the denominator`},
		{"zero denominator", "        fraction: {numerator: 0, denominator: 0}\n",
			`httproute default/web: spec.rules[0].filters[0].requestMirror.fraction.denominator: Invalid value: 0: should be greater than or equal to 1`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := strictErr(t, nil, route("web", mirrorRule("/", mirrorFilter("m", tc.sample))))
			if err == nil || err.Error() != tc.want {
				t.Errorf("err = %v\nwant %s", err, tc.want)
			}
		})
	}
}
