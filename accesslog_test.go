package httproute_test

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/httproute/httproute"
)

// TestAccessLogJSON: one JSON line per request with Envoy's default fields,
// those without a value left out, timed on the Router's clock.
func TestAccessLogJSON(t *testing.T) {
	clock, reset := steppingClock()
	var buf bytes.Buffer
	log, err := httproute.NewAccessLog(slog.New(slog.NewJSONHandler(&buf, nil)), httproute.AccessLogOptions{})
	if err != nil {
		t.Fatal(err)
	}
	echo := httproute.InProcess(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		w.Write(body)
	}))
	rt := inProcessRouter(t, "- name: echo\n  matches: [{path: {value: /api}}]\n  backendRefs: [{name: a, port: 80}]\n",
		httproute.Config{Observer: log, Now: clock}, map[string]httproute.Backend{"a": echo})
	reset()
	req := httptest.NewRequest("POST", "http://shop.example/api/items?x=1", strings.NewReader("hello"))
	req.Header.Set("User-Agent", "curl/8")
	req.Header.Set("X-Request-Id", "r-1")
	rt.ServeHTTP(httptest.NewRecorder(), req)
	reset()
	rt.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "http://shop.example/nothing", nil))

	var got []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("%q: %v", line, err)
		}
		got = append(got, m)
	}
	want := []map[string]any{{
		"time": "2026-01-02T03:04:05Z", "level": "INFO", "msg": "request",
		"method": "POST", "authority": "shop.example", "path": "/api/items?x=1", "protocol": "HTTP/1.1",
		"response_code": 200.0, "response_flags": "-", "bytes_received": 5.0, "bytes_sent": 5.0,
		"duration": 2e6, "upstream_service_time": 1e6, "user_agent": "curl/8", "x_request_id": "r-1",
		"downstream_remote_address": "192.0.2.1:1234", "route": "default/r", "rule": "echo", "backend": "default/a:80", "attempts": 1.0,
	}, {
		"time": "2026-01-02T03:04:05Z", "level": "INFO", "msg": "request",
		"method": "GET", "authority": "shop.example", "path": "/nothing", "protocol": "HTTP/1.1",
		"response_code": 404.0, "response_flags": "NR", "bytes_received": 0.0, "bytes_sent": 10.0,
		"duration": 2e6, "downstream_remote_address": "192.0.2.1:1234",
	}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("log lines (-want +got):\n%s", diff)
	}
}

// TestAccessLogFields: the fields are configurable (request headers
// included), the format is the handler's, and an unknown field is an
// error.
func TestAccessLogFields(t *testing.T) {
	var buf bytes.Buffer
	h := slog.NewTextHandler(&buf, &slog.HandlerOptions{ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
		if a.Key == slog.TimeKey {
			return slog.Attr{}
		}
		return a
	}})
	log, err := httproute.NewAccessLog(slog.New(h), httproute.AccessLogOptions{
		Level: slog.LevelWarn, Message: "access",
		Fields: []string{"response_code", "route", "request_header:X-Tenant", "upstream_failure"},
	})
	if err != nil {
		t.Fatal(err)
	}
	empty, err := httproute.NewUpstream(httproute.UpstreamConfig{})
	if err != nil {
		t.Fatal(err)
	}
	rt := inProcessRouter(t, "- backendRefs: [{name: a, port: 80}]\n", httproute.Config{Observer: log}, map[string]httproute.Backend{"a": empty})
	req := httptest.NewRequest("GET", "/", nil)
	req.Header.Set("X-Tenant", "acme")
	rt.ServeHTTP(httptest.NewRecorder(), req)
	want := `level=WARN msg=access response_code=503 route=default/r x-tenant=acme upstream_failure="httproute: no healthy endpoint"` + "\n"
	if got := buf.String(); got != want {
		t.Errorf("log line:\n got: %s\nwant: %s", got, want)
	}
	_, err = httproute.NewAccessLog(nil, httproute.AccessLogOptions{Fields: []string{"status"}})
	if err == nil || !strings.HasPrefix(err.Error(), `httproute: access log field "status": Unsupported value`) {
		t.Errorf("unknown field: %v", err)
	}
}
