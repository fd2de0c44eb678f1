package httproute_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/goleak"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
	"sigs.k8s.io/yaml"

	"github.com/httproute/httproute"
)

// inProcessRouter builds a Router from one route's rules (YAML, the rules
// of spec.rules) whose backendRefs name the Services of backends, port 80.
func inProcessRouter(t *testing.T, rulesYAML string, cfg httproute.Config, backends map[string]httproute.Backend) *httproute.Router {
	t.Helper()
	var route gatewayv1.HTTPRoute
	if err := yaml.UnmarshalStrict([]byte("metadata: {name: r, namespace: default}\nspec:\n  rules:\n"+indent(rulesYAML, "  ")), &route); err != nil {
		t.Fatal(err)
	}
	svcs := httproute.Services{}
	for name, b := range backends {
		svcs[httproute.ServicePort{Namespace: "default", Name: name, Port: 80}] = b
	}
	cfg.HTTPRoutes = []*gatewayv1.HTTPRoute{&route}
	cfg.Services = svcs
	cfg.Strict = true
	rt, err := httproute.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return rt
}

// TestBackendRequestTimeoutForInProcessBackends: timeouts.backendRequest
// bounds an in-process attempt as it bounds a proxied one: 504, or a retry
// when the retry stanza lists 504, whether the handler honours its context
// or ignores it.
func TestBackendRequestTimeoutForInProcessBackends(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	type result struct {
		Status int
		Body   string
		Hits   int64
	}
	tests := []struct {
		name, timeouts, retry string
		want                  result
	}{
		{"no retry", `{request: 0s, backendRequest: 50ms}`, "", result{504, "Gateway Timeout\n", 1}},
		{"within a request timeout", `{request: 5s, backendRequest: 50ms}`, "", result{504, "Gateway Timeout\n", 1}},
		{"retry without 504 listed", `{backendRequest: 50ms}`, `{attempts: 1}`, result{504, "Gateway Timeout\n", 1}},
		{"retry with 504 listed", `{request: 5s, backendRequest: 50ms}`, `{codes: [504], attempts: 1}`, result{200, "fast", 2}},
	}
	for _, honours := range []bool{true, false} {
		for _, tt := range tests {
			name := tt.name + ", handler ignores its context"
			if honours {
				name = tt.name + ", handler honours its context"
			}
			t.Run(name, func(t *testing.T) {
				release := make(chan struct{})
				var hits atomic.Int64
				h := httproute.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					if hits.Add(1) > 1 {
						io.WriteString(w, "fast")
						return
					}
					if honours {
						<-r.Context().Done() // stops when the attempt times out
					} else {
						<-release // ignores its context
					}
					io.WriteString(w, "too late")
				}))
				rules := "- backendRefs: [{name: a, port: 80}]\n  timeouts: " + tt.timeouts + "\n"
				if tt.retry != "" {
					rules += "  retry: " + tt.retry + "\n"
				}
				rt := inProcessRouter(t, rules, httproute.Config{Sleep: (&sleeps{}).sleep}, map[string]httproute.Backend{"a": h})
				// A handler that ignores its context is released late: on
				// the code before the fix, its late 200 was the answer.
				timer := time.AfterFunc(time.Second, func() { close(release) })
				rec := httptest.NewRecorder()
				rt.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
				got := result{rec.Code, rec.Body.String(), hits.Load()}
				if timer.Stop() {
					close(release)
				}
				if diff := cmp.Diff(tt.want, got); diff != "" {
					t.Errorf("(-want +got):\n%s", diff)
				}
			})
		}
	}
}

// TestBackendRequestTimeoutCutsAStartedInProcessAnswer: an in-process
// answer still streaming when the attempt's deadline passes is cut off,
// as a proxied one is, so that the client sees it incomplete.
func TestBackendRequestTimeoutCutsAStartedInProcessAnswer(t *testing.T) {
	release := make(chan struct{})
	h := httproute.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "10")
		io.WriteString(w, "12345")
		http.NewResponseController(w).Flush()
		<-release // ignores its context
		io.WriteString(w, "67890")
	}))
	rt := inProcessRouter(t, "- backendRefs: [{name: a, port: 80}]\n  timeouts: {backendRequest: 50ms}\n", httproute.Config{}, map[string]httproute.Backend{"a": h})
	srv := httptest.NewServer(rt)
	defer srv.Close()
	timer := time.AfterFunc(time.Second, func() { close(release) })
	defer func() {
		if timer.Stop() {
			close(release)
		}
	}()
	res, err := (&http.Client{Timeout: 10 * time.Second}).Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(res.Body)
	res.Body.Close()
	if err == nil {
		t.Fatalf("the answer looks complete (%d %q); it must be cut off at the deadline", res.StatusCode, body)
	}
	if string(body) != "12345" {
		t.Errorf("body = %q, want what was sent before the deadline", body)
	}
}

// TestBoundedInProcessAttemptCanHijack: a handler under a backendRequest
// timeout can still take the connection (a WebSocket upgrade).
func TestBoundedInProcessAttemptCanHijack(t *testing.T) {
	h := httproute.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		conn, rw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		defer conn.Close()
		rw.WriteString("HTTP/1.1 200 OK\r\nContent-Length: 8\r\nConnection: close\r\n\r\nhijacked")
		rw.Flush()
	}))
	rt := inProcessRouter(t, "- backendRefs: [{name: a, port: 80}]\n  timeouts: {backendRequest: 5s}\n", httproute.Config{}, map[string]httproute.Backend{"a": h})
	srv := httptest.NewServer(rt)
	defer srv.Close()
	res, err := (&http.Client{Timeout: 10 * time.Second}).Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || string(body) != "hijacked" {
		t.Fatalf("got %d %q", res.StatusCode, body)
	}
}
