package lambda_test

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/httproute/httproute"
	"github.com/httproute/httproute/extension/lambda"
)

// staticBackend is a static Backend named static over hosts, with the
// appProtocol line appended when not empty, and a route to it.
func staticBackend(appProtocol string, hosts ...string) string {
	var b strings.Builder
	b.WriteString("apiVersion: gateway.kgateway.dev/v1alpha1\nkind: Backend\nmetadata: {name: static, namespace: default}\nspec:\n  static:\n    hosts:\n")
	for _, h := range hosts {
		host, port, _ := net.SplitHostPort(h)
		fmt.Fprintf(&b, "    - {host: %q, port: %s}\n", host, port)
	}
	if appProtocol != "" {
		fmt.Fprintf(&b, "    appProtocol: %s\n", appProtocol)
	}
	return b.String() + "---\n" + routeTo("static")
}

func TestStaticBalancing(t *testing.T) {
	var hosts []string
	for _, name := range []string{"one", "two"} {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, name)
		}))
		t.Cleanup(srv.Close)
		hosts = append(hosts, srv.Listener.Addr().String())
	}
	answers := func(opts lambda.Options) map[string]int {
		cfg, _ := manifests(t, staticBackend("", hosts...))
		cfg.Extensions = lambda.Extensions(opts)
		cfg.IgnoreParentRefs = true // the seed's routes name a Gateway the tests do not load
		cfg.Rand = rand.NewPCG(1, 2)
		rt, err := httproute.New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]int{}
		var order []string
		for range 20 {
			body := readAll(t, serve(t, rt, "GET", "http://example.com/p", nil, nil))
			got[body]++
			order = append(order, body)
		}
		if opts.Balancer == httproute.RoundRobin {
			for i := 1; i < len(order); i++ {
				if order[i] == order[i-1] {
					t.Errorf("round robin answered %q twice in a row: %q", order[i], order)
					break
				}
			}
		}
		return got
	}
	if got := answers(lambda.Options{Balancer: httproute.RoundRobin}); got["one"] != 10 || got["two"] != 10 {
		t.Errorf("round robin: %v, want 10 each", got)
	}
	if got := answers(lambda.Options{}); got["one"] == 0 || got["two"] == 0 || got["one"]+got["two"] != 20 {
		t.Errorf("least request (seeded): %v, want both hosts used", got)
	}
}

func TestStaticHTTP2(t *testing.T) {
	for _, proto := range []string{"http2", "grpc", "kubernetes.io/h2c"} {
		t.Run(proto, func(t *testing.T) {
			srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				io.WriteString(w, r.Proto)
			}))
			srv.Config.Protocols = new(http.Protocols)
			srv.Config.Protocols.SetUnencryptedHTTP2(true)
			srv.Start()
			t.Cleanup(srv.Close)
			rt := newRouter(t, lambda.Options{}, staticBackend(proto, srv.Listener.Addr().String()))
			res := serve(t, rt, "GET", "http://example.com/", nil, nil)
			if body := readAll(t, res); body != "HTTP/2.0" {
				t.Errorf("the host saw %q, want HTTP/2.0", body)
			}
		})
	}
}

// TestStaticWebSocket upgrades a connection through a Router to a static
// host with appProtocol kubernetes.io/ws and echoes a line over it.
func TestStaticWebSocket(t *testing.T) {
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Upgrade") != "websocket" {
			http.Error(w, "not an upgrade", http.StatusBadRequest)
			return
		}
		conn, brw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			return
		}
		defer conn.Close()
		brw.WriteString("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n")
		brw.Flush()
		line, _ := brw.ReadString('\n')
		brw.WriteString("echo " + line)
		brw.Flush()
	}))
	t.Cleanup(upstream.Close)
	rt := newRouter(t, lambda.Options{}, staticBackend("kubernetes.io/ws", upstream.Listener.Addr().String()))
	front := httptest.NewServer(rt)
	t.Cleanup(front.Close)

	conn, err := net.DialTimeout("tcp", front.Listener.Addr().String(), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(5 * time.Second))
	io.WriteString(conn, "GET /ws HTTP/1.1\r\nHost: example.com\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n")
	br := bufio.NewReader(conn)
	res, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("status %d, want 101", res.StatusCode)
	}
	io.WriteString(conn, "hello\n")
	line, err := br.ReadString('\n')
	if err != nil || line != "echo hello\n" {
		t.Errorf("read %q, %v; want the echo", line, err)
	}
}

func TestStaticUnsupportedProtocol(t *testing.T) {
	cfg, _ := manifests(t, staticBackend("spdy", "127.0.0.1:1"))
	_, err := lambda.New(lambda.Options{}).NewBackend(cfg.Objects[0].(*lambda.Backend))
	if !errors.Is(err, httproute.ErrUnsupported) {
		t.Fatalf("error %v, want one wrapping httproute.ErrUnsupported", err)
	}
	want := `backend default/static: spec.static.appProtocol: Unsupported value: "spdy": httproute: unsupported value`
	if err.Error() != want {
		t.Errorf("error %q, want %q", err, want)
	}
}

// TestStaticNoEndpoint checks that a host nobody listens on answers 503.
func TestStaticNoEndpoint(t *testing.T) {
	addr := freeAddr(t)
	rt := newRouter(t, lambda.Options{}, staticBackend("", addr))
	res := serve(t, rt, "GET", "http://example.com/", nil, nil)
	if res.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("status %d, want 503 (%s)", res.StatusCode, strconv.Quote(readAll(t, res)))
	}
}
