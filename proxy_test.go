package httproute_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"net/textproto"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
	"sigs.k8s.io/yaml"

	"github.com/httproute/httproute"
	"github.com/httproute/httproute/internal/benchserve"
)

// proxyRouter returns a Router serving every request through one Upstream
// to the given endpoints, and a loopback server in front of it.
func proxyRouter(t *testing.T, appProtocol string, endpoints ...string) *httptest.Server {
	t.Helper()
	return observedProxyRouter(t, nil, appProtocol, endpoints...)
}

// observedProxyRouter is proxyRouter with an Observer.
func observedProxyRouter(t *testing.T, obs httproute.Observer, appProtocol string, endpoints ...string) *httptest.Server {
	t.Helper()
	up, err := httproute.NewUpstream(httproute.UpstreamConfig{Endpoints: endpoints, AppProtocol: appProtocol})
	if err != nil {
		t.Fatal(err)
	}
	rt, err := httproute.New(httproute.Config{
		HTTPRoutes: []*gatewayv1.HTTPRoute{{
			ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "proxy"},
			Spec: gatewayv1.HTTPRouteSpec{Rules: []gatewayv1.HTTPRouteRule{{
				BackendRefs: []gatewayv1.HTTPBackendRef{{BackendRef: gatewayv1.BackendRef{
					BackendObjectReference: gatewayv1.BackendObjectReference{Name: "backend", Port: ptr(gatewayv1.PortNumber(80))}}}},
			}}},
		}},
		Services: httproute.Services{{Namespace: "default", Name: "backend", Port: 80}: up},
		Observer: obs,
	})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(rt)
	t.Cleanup(srv.Close)
	return srv
}

func backendAddr(t *testing.T, h http.Handler) string {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv.Listener.Addr().String()
}

func TestProxyForwardsRequestAndResponse(t *testing.T) {
	var got *http.Request
	addr := backendAddr(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = r.Clone(r.Context())
		body, _ := io.ReadAll(r.Body)
		w.Header().Set("X-Backend", "yes")
		w.Header().Set("Proxy-Authenticate", "must not reach the client")
		w.WriteHeader(201)
		fmt.Fprintf(w, "got %s", body)
	}))
	srv := proxyRouter(t, "", addr)
	req, _ := http.NewRequest("POST", srv.URL+"/a/b?x=1", strings.NewReader("hello"))
	req.Host = "app.example.com"
	req.Header.Set("X-Forwarded-For", "203.0.113.9")
	req.Header.Set("Connection", "X-Secret")
	req.Header.Set("X-Secret", "hop-by-hop")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	if res.StatusCode != 201 || string(body) != "got hello" {
		t.Fatalf("answer = %d %q", res.StatusCode, body)
	}
	if res.Header.Get("X-Backend") != "yes" || res.Header.Get("Proxy-Authenticate") != "" {
		t.Errorf("response headers = %v", res.Header)
	}
	if got.Host != "app.example.com" {
		t.Errorf("backend saw Host %q, want the client's", got.Host)
	}
	if got.URL.RequestURI() != "/a/b?x=1" {
		t.Errorf("backend saw %q", got.URL.RequestURI())
	}
	if xff := got.Header.Get("X-Forwarded-For"); xff != "203.0.113.9, 127.0.0.1" {
		t.Errorf("X-Forwarded-For = %q, want the client's list with the peer appended", xff)
	}
	if got.Header.Get("X-Forwarded-Proto") != "http" || got.Header.Get("X-Forwarded-Host") != "app.example.com" {
		t.Errorf("X-Forwarded-Proto/-Host = %q/%q", got.Header.Get("X-Forwarded-Proto"), got.Header.Get("X-Forwarded-Host"))
	}
	if got.Header.Get("X-Secret") != "" {
		t.Errorf("hop-by-hop header named in Connection reached the backend")
	}
}

func TestProxyStreamsFlushedResponses(t *testing.T) {
	release := make(chan struct{})
	addr := backendAddr(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		fmt.Fprint(w, "data: first\n\n")
		w.(http.Flusher).Flush()
		<-release
		fmt.Fprint(w, "data: second\n\n")
	}))
	srv := proxyRouter(t, "", addr)
	res, err := http.Get(srv.URL + "/events")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	br := bufio.NewReader(res.Body)
	line, err := br.ReadString('\n')
	if err != nil || line != "data: first\n" {
		t.Fatalf("first event = %q, %v: it must arrive before the backend finishes", line, err)
	}
	close(release)
	rest, _ := io.ReadAll(br)
	if string(rest) != "\ndata: second\n\n" {
		t.Errorf("rest = %q", rest)
	}
}

// TestProxyWebSocketUpgrade: an upgrade is proxied, with or without an
// Observer (whose writer must pass the Hijacker on), and recorded as 101.
func TestProxyWebSocketUpgrade(t *testing.T) {
	for _, rec := range []*recorder{nil, {}} {
		var obs httproute.Observer
		if rec != nil {
			obs = rec
		}
		testProxyWebSocketUpgrade(t, obs)
		if rec != nil {
			if got := rec.await(t); got.Status != 101 || got.Flags != "-" || len(got.Attempts) != 1 || got.Attempts[0].Status != 101 {
				t.Errorf("record %+v, want status 101 from one attempt", got)
			}
		}
	}
}

func testProxyWebSocketUpgrade(t *testing.T, obs httproute.Observer) {
	addr := backendAddr(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Upgrade") != "websocket" {
			http.Error(w, "not an upgrade", 400)
			return
		}
		conn, brw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			return
		}
		defer conn.Close()
		fmt.Fprint(brw, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n")
		brw.Flush()
		// Echo one line back, upper-cased, over the upgraded connection.
		line, _ := brw.ReadString('\n')
		fmt.Fprint(brw, strings.ToUpper(line))
		brw.Flush()
	}))
	srv := observedProxyRouter(t, obs, httproute.AppProtocolWS, addr)
	conn, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprint(conn, "GET /ws HTTP/1.1\r\nHost: ws.example.com\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n")
	br := bufio.NewReader(conn)
	res, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.StatusCode != 101 {
		t.Fatalf("status = %d, want 101", res.StatusCode)
	}
	fmt.Fprint(conn, "hello over the tunnel\n")
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	line, err := br.ReadString('\n')
	if err != nil || line != "HELLO OVER THE TUNNEL\n" {
		t.Fatalf("echo = %q, %v", line, err)
	}
}

func TestProxyH2C(t *testing.T) {
	backend := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "%s", r.Proto)
	}))
	backend.Config.Protocols = new(http.Protocols)
	backend.Config.Protocols.SetUnencryptedHTTP2(true)
	backend.Start()
	t.Cleanup(backend.Close)
	srv := proxyRouter(t, httproute.AppProtocolH2C, backend.Listener.Addr().String())
	res, err := http.Get(srv.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if string(body) != "HTTP/2.0" {
		t.Fatalf("backend saw %q, want HTTP/2.0 (h2c prior knowledge)", body)
	}
}

func TestProxyConnectionRefusedAnswers503(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there any more
	srv := proxyRouter(t, "", addr)
	res, err := http.Get(srv.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("status = %d, want 503 for a refused connection", res.StatusCode)
	}
}

func TestProxyBackendHangsUpBeforeAnswer502(t *testing.T) {
	addr := backendAddr(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		conn, _, err := http.NewResponseController(w).Hijack()
		if err == nil {
			conn.Close()
		}
	}))
	srv := proxyRouter(t, "", addr)
	res, err := http.Get(srv.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusBadGateway {
		t.Fatalf("status = %d, want 502 when the backend hangs up before answering", res.StatusCode)
	}
}

func TestProxyBackendHangsUpMidResponse(t *testing.T) {
	addr := backendAddr(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "100")
		w.WriteHeader(200)
		io.WriteString(w, "partial")
		w.(http.Flusher).Flush()
		conn, _, err := http.NewResponseController(w).Hijack()
		if err == nil {
			conn.Close()
		}
	}))
	srv := proxyRouter(t, "", addr)
	res, err := http.Get(srv.URL + "/")
	if err != nil {
		return // the client saw the connection fail: nothing looks complete
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err == nil {
		t.Fatalf("read %d %q without error: a truncated answer must not look complete", res.StatusCode, body)
	}
}

func TestUpstreamRoundRobinAndSetEndpoints(t *testing.T) {
	var mu sync.Mutex
	hits := map[string]int{}
	mk := func(name string) string {
		return backendAddr(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			hits[name]++
			mu.Unlock()
		}))
	}
	a, b, c := mk("a"), mk("b"), mk("c")
	up, err := httproute.NewUpstream(httproute.UpstreamConfig{Endpoints: []string{a, "http://" + b}, Balancer: httproute.RoundRobin})
	if err != nil {
		t.Fatal(err)
	}
	send := func(n int) {
		for i := 0; i < n; i++ {
			roundTripAndDrain(t, up, httptest.NewRequest("GET", "http://x/", nil).WithContext(t.Context()))
		}
	}
	send(10)
	if hits["a"] != 5 || hits["b"] != 5 {
		t.Fatalf("hits = %v, want 5/5 round robin", hits)
	}
	if err := up.SetEndpoints([]string{c}); err != nil {
		t.Fatal(err)
	}
	send(3)
	if hits["c"] != 3 {
		t.Fatalf("after SetEndpoints hits = %v", hits)
	}
	if err := up.SetEndpoints(nil); err != nil {
		t.Fatal(err)
	}
	req := httptest.NewRequest("GET", "http://x/", nil)
	req.RequestURI = ""
	if _, err := up.RoundTrip(req); err == nil {
		t.Fatal("an Upstream without endpoints must fail")
	}
	for _, bad := range []string{"ftp://x:1", "no-port", "http://x:1/path", "https://x:1/path", "::"} {
		if err := up.SetEndpoints([]string{bad}); err == nil {
			t.Errorf("SetEndpoints(%q) accepted", bad)
		}
	}
	if _, err := httproute.NewUpstream(httproute.UpstreamConfig{AppProtocol: "kubernetes.io/wss"}); err == nil {
		t.Error("an unsupported appProtocol must be rejected")
	}
}

// rawBackend answers every request with the given bytes and closes the
// connection.
func rawBackend(t *testing.T, raw string) string {
	t.Helper()
	return loopbackServer(t, func(c net.Conn) {
		defer c.Close()
		req, err := http.ReadRequest(bufio.NewReader(c))
		if err != nil {
			return
		}
		io.Copy(io.Discard, req.Body)
		io.WriteString(c, raw)
	})
}

// loopbackServer serves each connection to a loopback listener with
// serve, in a goroutine of its own, and returns the listener's address.
// roundTripAndDrain sends req (a server-side request made with httptest,
// whose RequestURI a client must not set) through rt and reads the whole
// answer.
func roundTripAndDrain(t *testing.T, rt http.RoundTripper, req *http.Request) {
	t.Helper()
	req.RequestURI = ""
	res, err := rt.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, res.Body)
	res.Body.Close()
}

func loopbackServer(t *testing.T, serve func(net.Conn)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go serve(c)
		}
	}()
	return ln.Addr().String()
}

func TestProxyMalformedAnswersAre502(t *testing.T) {
	cases := []struct{ name, raw string }{
		{"duplicate Content-Length", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\nhello"},
		{"Transfer-Encoding with Content-Length", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n5\r\nhello\r\n0\r\n\r\n"},
		{"bare LF", "HTTP/1.1 200 OK\nContent-Length: 5\n\nhello"},
		{"obs-fold", "HTTP/1.1 200 OK\r\nX-Folded: a\r\n b\r\nContent-Length: 5\r\n\r\nhello"},
		{"oversize header", "HTTP/1.1 200 OK\r\nX-Big: " + strings.Repeat("x", 70<<10) + "\r\nContent-Length: 5\r\n\r\nhello"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv := proxyRouter(t, "", rawBackend(t, tc.raw))
			res, err := http.Get(srv.URL + "/")
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(res.Body)
			res.Body.Close()
			if res.StatusCode != http.StatusBadGateway {
				t.Fatalf("status = %d (%q), want 502 for a malformed answer", res.StatusCode, body)
			}
		})
	}
}

// TestProxyReplaysRequestsOnConnectionsTheBackendClosed sends POST and PUT
// requests with bodies to a backend that closes keep-alive connections
// idle for one second, each request after one second of quiet, so that
// many meet a connection the backend is closing or has closed. None may
// fail (issue 11, item 4).
func TestProxyReplaysRequestsOnConnectionsTheBackendClosed(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	backend := &http.Server{
		IdleTimeout: time.Second,
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			body, _ := io.ReadAll(r.Body)
			fmt.Fprintf(w, "%s %s", r.Method, body)
		}),
	}
	go backend.Serve(ln)
	t.Cleanup(func() { backend.Close() })
	for _, rule := range []string{
		"{backendRefs: [{name: backend, port: 80}]}",
		"{backendRefs: [{name: backend, port: 80}], retry: {codes: [503], attempts: 1, backoff: 1ms}}",
	} {
		up, err := httproute.NewUpstream(httproute.UpstreamConfig{Endpoints: []string{ln.Addr().String()}})
		if err != nil {
			t.Fatal(err)
		}
		var route gatewayv1.HTTPRoute
		if err := yaml.UnmarshalStrict([]byte("metadata: {name: r, namespace: default}\nspec: {rules: ["+rule+"]}"), &route); err != nil {
			t.Fatal(err)
		}
		rt, err := httproute.New(httproute.Config{
			HTTPRoutes: []*gatewayv1.HTTPRoute{&route},
			Services:   httproute.Services{{Namespace: "default", Name: "backend", Port: 80}: up},
		})
		if err != nil {
			t.Fatal(err)
		}
		const clients, rounds = 16, 3
		var wg sync.WaitGroup
		var mu sync.Mutex
		var failures []string
		for c := 0; c < clients; c++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; i < rounds; i++ {
					method := []string{"POST", "PUT"}[(c+i)%2]
					payload := fmt.Sprintf("client %d round %d", c, i)
					rec := httptest.NewRecorder()
					rt.ServeHTTP(rec, httptest.NewRequest(method, "http://app.example/", strings.NewReader(payload)))
					if want := method + " " + payload; rec.Code != 200 || rec.Body.String() != want {
						mu.Lock()
						failures = append(failures, fmt.Sprintf("%s: %d %q", method, rec.Code, rec.Body))
						mu.Unlock()
					}
					// Sleep through the backend's idle timeout, give or take
					// a little, so that requests cross its closes.
					time.Sleep(time.Second + time.Duration(c-clients/2)*50*time.Microsecond)
				}
			}()
		}
		wg.Wait()
		up.CloseIdleConnections()
		if len(failures) > 0 {
			t.Errorf("rule %s: %d of %d requests failed on connections the backend closed: %v", rule, len(failures), clients*rounds, failures)
		}
	}
}

// TestProxyAllocations pins the allocations of a request proxied by a
// Router (100 routes, as BenchmarkProxy/router) through an Upstream's
// lean transport to a loopback backend: the Router's request state and
// origin-form target, the proxy's outgoing request copy and trace
// context (its exchange, 1xx callback and header map are reused), the
// transport's Response, head string, header map and its first field,
// the first field added to the writer's header, and three of the
// test's own (writer, its header map, the backend's write). It was 29
// per request with httputil.ReverseProxy and 17 before the exchanges
// were reused.
func TestProxyAllocations(t *testing.T) {
	addr := loopbackServer(t, func(c net.Conn) {
		fixedAnswers(c, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 29\r\n\r\n"+`{"ok":true,"service":"bench"}`)
	})
	up, err := httproute.NewUpstream(httproute.UpstreamConfig{Endpoints: []string{addr}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(up.CloseIdleConnections)
	rt, err := httproute.New(httproute.Config{
		HTTPRoutes: benchRouteSet(100),
		Services:   httproute.Services{{Namespace: "default", Name: "bench", Port: 80}: up},
	})
	if err != nil {
		t.Fatal(err)
	}
	req := httptest.NewRequest("GET", "http://api-50.example.com/api/v1/items/7?x=1", nil)
	req.Header.Set("X-Version", "2")
	var code int
	allocs := testing.AllocsPerRun(200, func() {
		w := benchserve.DiscardWriter{H: http.Header{}}
		rt.ServeHTTP(&w, req)
		code = w.Code
	})
	if code != 200 {
		t.Fatalf("status %d", code)
	}
	switch {
	case raceEnabled && allocs >= 29:
		t.Errorf("%v allocations per proxied request, want fewer than ReverseProxy's 29", allocs)
	case !raceEnabled && allocs != 12:
		t.Errorf("%v allocations per proxied request, want 12", allocs)
	}
}

// fixedAnswers answers every GET request read from c with answer, reusing
// one buffer, until c closes.
func fixedAnswers(c net.Conn, answer string) {
	defer c.Close()
	buf := make([]byte, 64<<10)
	n := 0
	for {
		m, err := c.Read(buf[n:])
		if err != nil {
			return
		}
		n += m
		for {
			end := bytes.Index(buf[:n], []byte("\r\n\r\n"))
			if end < 0 {
				break
			}
			if _, err := io.WriteString(c, answer); err != nil {
				return
			}
			n = copy(buf, buf[end+4:n])
		}
		if n == len(buf) {
			return // a head larger than the buffer
		}
	}
}

// TestProxyReusedExchangeCarriesNothingOver sends requests with
// different fields in turn through one proxy, whose exchanges (outgoing
// request and header map) are reused between them: each request reaches
// the backend with its own fields only, and an early 103 answer to one
// reaches only its own client.
func TestProxyReusedExchangeCarriesNothingOver(t *testing.T) {
	type seen struct {
		Fields http.Header
		Hints  []string
	}
	var mu sync.Mutex
	var got []http.Header
	addr := backendAddr(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		got = append(got, r.Header.Clone())
		mu.Unlock()
		if r.URL.Path == "/hint" {
			w.Header().Set("Link", "</style.css>; rel=preload")
			w.WriteHeader(http.StatusEarlyHints)
			w.Header().Del("Link")
		}
		io.WriteString(w, "ok")
	}))
	srv := proxyRouter(t, "", addr)
	tests := []struct {
		path   string
		fields map[string]string
		want   seen
	}{
		{"/hint", map[string]string{"X-First": "1", "Accept": "a"}, seen{http.Header{"X-First": {"1"}, "Accept": {"a"}}, []string{"</style.css>; rel=preload"}}},
		{"/plain", map[string]string{"X-Second": "2"}, seen{http.Header{"X-Second": {"2"}}, nil}},
		{"/plain", nil, seen{http.Header{}, nil}},
		{"/hint", map[string]string{"X-Third": "3"}, seen{http.Header{"X-Third": {"3"}}, []string{"</style.css>; rel=preload"}}},
	}
	for i, tt := range tests {
		var hints []string
		ctx := httptrace.WithClientTrace(context.Background(), &httptrace.ClientTrace{
			Got1xxResponse: func(code int, h textproto.MIMEHeader) error {
				hints = append(hints, h["Link"]...)
				return nil
			},
		})
		req, err := http.NewRequestWithContext(ctx, "GET", srv.URL+tt.path, nil)
		if err != nil {
			t.Fatal(err)
		}
		for k, v := range tt.fields {
			req.Header.Set(k, v)
		}
		req.Header.Set("User-Agent", "reuse-test")
		res, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
		mu.Lock()
		fields := got[len(got)-1]
		mu.Unlock()
		for k := range fields {
			switch k {
			case "User-Agent", "Accept-Encoding", "X-Forwarded-For", "X-Forwarded-Host", "X-Forwarded-Proto":
				delete(fields, k) // set by the client and the proxy every time
			}
		}
		if diff := cmp.Diff(tt.want, seen{fields, hints}); diff != "" {
			t.Errorf("request %d (%s): fields at the backend and 1xx hints (-want +got):\n%s", i, tt.path, diff)
		}
	}
}

// TestProxyTrailersAfterSlowEmptyBody proxies a chunked answer whose
// empty body ends, with a trailer, only after a pause: the header is
// flushed from the proxy's timer during the pause, and the trailer must
// still reach the client. Under -race it failed while the timer's flush
// and the one before the trailers were not ordered.
func TestProxyTrailersAfterSlowEmptyBody(t *testing.T) {
	addr := loopbackServer(t, func(c net.Conn) {
		defer c.Close()
		if _, err := http.ReadRequest(bufio.NewReader(c)); err != nil {
			return
		}
		io.WriteString(c, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: X-T\r\n\r\n")
		time.Sleep(50 * time.Millisecond) // the header flush happens now
		io.WriteString(c, "0\r\nX-T: v\r\n\r\n")
	})
	srv := proxyRouter(t, "", addr)
	res, err := srv.Client().Get(srv.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	want := http.Header{"X-T": {"v"}}
	if diff := cmp.Diff(want, res.Trailer); diff != "" || len(body) != 0 {
		t.Errorf("body %q, trailer (-want +got):\n%s", body, diff)
	}
}

// TestUpstreamSuccessResetsFailureCounts sends answers of the given
// statuses in turn through an Upstream that ejects its endpoint after two
// 5xx in a row: a success between two 5xx starts the count again.
func TestUpstreamSuccessResetsFailureCounts(t *testing.T) {
	tests := []struct {
		name     string
		statuses []int
		healthy  bool
	}{
		{"two 5xx in a row", []int{500, 503}, false},
		{"a success between", []int{500, 200, 503}, true},
		{"a success between, then two more", []int{500, 200, 503, 500}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var mu sync.Mutex
			next := 0
			addr := backendAddr(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				mu.Lock()
				code := tt.statuses[next]
				next++
				mu.Unlock()
				w.WriteHeader(code)
			}))
			up, err := httproute.NewUpstream(httproute.UpstreamConfig{
				Endpoints: []string{addr},
				Health:    httproute.HealthConfig{Consecutive5xx: 2},
			})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(up.CloseIdleConnections)
			for range tt.statuses {
				roundTripAndDrain(t, up, httptest.NewRequest("GET", "http://svc/", nil))
			}
			if got := up.Endpoints()[addr]; got != tt.healthy {
				t.Errorf("healthy = %v after %v, want %v", got, tt.statuses, tt.healthy)
			}
		})
	}
}
