package echo

import (
	"bytes"
	"crypto/tls"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// lineLog collects log lines, safe for concurrent use.
type lineLog struct {
	mu    sync.Mutex
	lines []string
}

func (l *lineLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, string(p))
	return len(p), nil
}

func (l *lineLog) all() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.lines...)
}

var testInfo = Info{Namespace: "ns", Ingress: "ing", Service: "svc", Pod: "svc-6b8f7c9d4f-x2k4p", HTTPPort: "3000"}

func TestEchoDocument(t *testing.T) {
	log := &lineLog{}
	info := testInfo
	info.Log = log
	srv := httptest.NewServer(New(info))
	defer srv.Close()

	req, _ := http.NewRequest(http.MethodPost, srv.URL+"/some/path?a=1&b=2", strings.NewReader("body"))
	req.Host = "example.com"
	req.Header.Set("X-Custom", "v1")
	res, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()

	if got := res.Header.Get("Content-Type"); got != "application/json" {
		t.Errorf("Content-Type = %q, want application/json", got)
	}
	if got := res.Header.Get("X-Content-Type-Options"); got != "nosniff" {
		t.Errorf("X-Content-Type-Options = %q, want nosniff", got)
	}
	// The document is indented with one space, in echo-basic's field order.
	want := `{
 "path": "/some/path?a=1\u0026b=2",
 "host": "example.com",
 "method": "POST",
 "proto": "HTTP/1.1",
 "headers": {
  "Accept-Encoding": [
   "gzip"
  ],
  "Content-Length": [
   "4"
  ],
  "User-Agent": [
   "Go-http-client/1.1"
  ],
  "X-Custom": [
   "v1"
  ]
 },
 "httpPort": "3000",
 "namespace": "ns",
 "ingress": "ing",
 "service": "svc",
 "pod": "svc-6b8f7c9d4f-x2k4p"
}`
	if diff := cmp.Diff(want, string(body)); diff != "" {
		t.Errorf("echo document (-want +got):\n%s", diff)
	}
	lines := log.all()
	if len(lines) != 1 || !strings.HasPrefix(lines[0], "Echoing back request made to /some/path?a=1&b=2 to client (127.0.0.1:") || !strings.HasSuffix(lines[0], ")\n") {
		t.Errorf("log lines = %q, want one echo line", lines)
	}
}

func get(t *testing.T, c *http.Client, url string, hdr http.Header) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header[k] = v
	}
	res, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res, string(b)
}

func TestEchoSetHeader(t *testing.T) {
	srv := httptest.NewServer(New(testInfo))
	defer srv.Close()
	res, _ := get(t, srv.Client(), srv.URL+"/", http.Header{
		"X-Echo-Set-Header": {"X-One:1, x-two: 2", "X-One: 3"},
	})
	if got := res.Header["X-One"]; !cmp.Equal(got, []string{"1,3"}) {
		t.Errorf("X-One = %q, want [1,3]", got)
	}
	if got := res.Header["X-Two"]; !cmp.Equal(got, []string{"2"}) {
		t.Errorf("X-Two = %q, want [2]", got)
	}

	// The name keeps the case it was given in, and the value its spaces.
	rec := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	req.Header.Set("X-Echo-Set-Header", "x-two: 2")
	New(testInfo).ServeHTTP(rec, req)
	if got := rec.Header()["x-two"]; !cmp.Equal(got, []string{" 2"}) {
		t.Errorf("x-two = %q, want [\" 2\"]", got)
	}
}

func TestPages(t *testing.T) {
	srv := httptest.NewServer(New(testInfo))
	defer srv.Close()
	tests := []struct {
		name     string
		path     string
		wantCode int
		wantBody string
		reason   string
	}{
		{name: "health", path: "/health", wantCode: 200, wantBody: "OK"},
		{name: "status", path: "/status/503", wantCode: 503},
		{name: "status with query", path: "/status/503?x=1", wantCode: 400, reason: "the raw request URI must be exactly /status/NNN"},
		{name: "status not a code", path: "/status/abc", wantCode: 400},
		{name: "status below 100", path: "/status/099", wantCode: 400, reason: "not a status code; WriteHeader would panic"},
		{name: "status informational", path: "/status/150", wantCode: 400, reason: "not a final status"},
		{name: "doubled slashes", path: "//health", wantCode: 200, wantBody: "OK", reason: "doubled slashes are collapsed before routing, instead of a redirect to the clean path"},
		{name: "doubled slashes in status", path: "//status/201", wantCode: 400, reason: "routing sees /status/201, but the status page reads the raw request URI"},
		{name: "bad delay", path: "/?delay=soon", wantCode: 500, wantBody: `{"message":"time: invalid duration \"soon\""}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res, body := get(t, srv.Client(), srv.URL+tc.path, nil)
			if res.StatusCode != tc.wantCode {
				t.Errorf("status = %d, want %d (%s)", res.StatusCode, tc.wantCode, tc.reason)
			}
			if tc.wantBody != "" && body != tc.wantBody {
				t.Errorf("body = %q, want %q", body, tc.wantBody)
			}
		})
	}
}

func TestDelay(t *testing.T) {
	srv := httptest.NewServer(New(testInfo))
	defer srv.Close()
	start := time.Now()
	res, _ := get(t, srv.Client(), srv.URL+"/x?delay=150ms", nil)
	if res.StatusCode != 200 {
		t.Fatalf("status = %d, want 200", res.StatusCode)
	}
	if d := time.Since(start); d < 150*time.Millisecond {
		t.Errorf("answered after %v, want at least 150ms", d)
	}
}

func TestRetryResponseCode(t *testing.T) {
	srv := httptest.NewServer(New(testInfo))
	defer srv.Close()
	url := srv.URL + "/retry/x?uuid=a&succeedAfter=2&responseCode=503"
	for i, want := range []int{503, 503, 200, 200} {
		res, _ := get(t, srv.Client(), url, nil)
		if res.StatusCode != want {
			t.Errorf("attempt %d: status = %d, want %d", i+1, res.StatusCode, want)
		}
	}
	// Attempts are counted per uuid.
	if res, _ := get(t, srv.Client(), srv.URL+"/retry/x?uuid=b&succeedAfter=1&responseCode=500", nil); res.StatusCode != 500 {
		t.Errorf("other uuid: status = %d, want 500", res.StatusCode)
	}
	for _, q := range []string{"succeedAfter=1", "uuid=c"} {
		if res, _ := get(t, srv.Client(), srv.URL+"/retry/x?"+q, nil); res.StatusCode != 400 {
			t.Errorf("%s: status = %d, want 400", q, res.StatusCode)
		}
	}
}

func TestRetryReset(t *testing.T) {
	srv := httptest.NewServer(New(testInfo))
	defer srv.Close()
	c := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	url := srv.URL + "/retry/x?uuid=r&succeedAfter=1"
	if res, err := c.Get(url); err == nil {
		res.Body.Close()
		t.Fatalf("first attempt answered %d, want a reset connection", res.StatusCode)
	}
	res, err := c.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 200 {
		t.Errorf("second attempt: status = %d, want 200", res.StatusCode)
	}
}

func TestH2C(t *testing.T) {
	srv := httptest.NewUnstartedServer(NewH2C(testInfo))
	srv.Config.Protocols = new(http.Protocols)
	srv.Config.Protocols.SetHTTP1(true)
	srv.Config.Protocols.SetUnencryptedHTTP2(true)
	srv.Start()
	defer srv.Close()

	res, body := get(t, srv.Client(), srv.URL+"/", nil)
	if res.StatusCode != 400 || body != "Expected h2c request" {
		t.Errorf("HTTP/1.1: got %d %q, want 400 \"Expected h2c request\"", res.StatusCode, body)
	}

	tr := &http.Transport{Protocols: new(http.Protocols)}
	tr.Protocols.SetUnencryptedHTTP2(true)
	res, body = get(t, &http.Client{Transport: tr}, srv.URL+"/h2", nil)
	if res.StatusCode != 200 {
		t.Fatalf("h2c: status = %d, want 200", res.StatusCode)
	}
	var doc Request
	if err := json.Unmarshal([]byte(body), &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Proto != "HTTP/2.0" || doc.Path != "/h2" {
		t.Errorf("h2c echo: proto %q path %q, want HTTP/2.0 /h2", doc.Proto, doc.Path)
	}
}

func TestTLS(t *testing.T) {
	srv := httptest.NewUnstartedServer(New(testInfo))
	srv.EnableHTTP2 = true
	srv.StartTLS()
	defer srv.Close()
	c := srv.Client()
	c.Transport.(*http.Transport).TLSClientConfig.ServerName = "example.com"
	res, body := get(t, c, srv.URL+"/", nil)
	var doc Request
	if err := json.Unmarshal([]byte(body), &doc); err != nil {
		t.Fatal(err)
	}
	want := &TLS{Version: "TLSv1.3", ServerName: "example.com", NegotiatedProtocol: "h2", CipherSuite: tls.CipherSuiteName(res.TLS.CipherSuite)}
	if diff := cmp.Diff(want, doc.TLS); diff != "" {
		t.Errorf("tls (-want +got):\n%s", diff)
	}
	// A plain connection has no tls field at all.
	plain := httptest.NewServer(New(testInfo))
	defer plain.Close()
	_, body = get(t, plain.Client(), plain.URL+"/", nil)
	if bytes.Contains([]byte(body), []byte(`"tls"`)) {
		t.Errorf("plain HTTP echo has a tls field: %s", body)
	}
}
