package kube

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
	gatewayclient "sigs.k8s.io/gateway-api/pkg/client/clientset/versioned"

	"github.com/httproute/httproute"
	"github.com/httproute/httproute/endpointslice"
	"github.com/httproute/httproute/kube/internal/testenv"
)

// env is the control plane the package's tests share. Each test works in
// namespaces and a GatewayClass of its own. The controllers of the tests
// run as the ServiceAccount of deploy/rbac.yaml, with exactly the
// permissions it grants.
var env *testenv.Env

func TestMain(m *testing.M) { os.Exit(testenv.Main(m, &env, "deploy/rbac.yaml")) }

func applyYAML(ctx context.Context, cfg *rest.Config, data []byte) error {
	return testenv.Apply(ctx, cfg, data)
}

// clients are a test's administrator clients.
type clients struct {
	core    kubernetes.Interface
	gateway gatewayclient.Interface
}

func adminClients(t testing.TB) clients {
	t.Helper()
	cs, err := kubernetes.NewForConfig(env.Admin)
	if err != nil {
		t.Fatal(err)
	}
	gcs, err := gatewayclient.NewForConfig(env.Admin)
	if err != nil {
		t.Fatal(err)
	}
	return clients{core: cs, gateway: gcs}
}

// namespace creates a namespace for the test.
func (c clients) namespace(t testing.TB, name string) {
	t.Helper()
	_, err := c.core.CoreV1().Namespaces().Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
}

// class creates a GatewayClass of controller.
func (c clients) class(t testing.TB, name string, controller gatewayv1.GatewayController) {
	t.Helper()
	_, err := c.gateway.GatewayV1().GatewayClasses().Create(context.Background(), &gatewayv1.GatewayClass{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec:       gatewayv1.GatewayClassSpec{ControllerName: controller},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
}

func (c clients) gatewayObj(t testing.TB, ns, name, class string, port int32) *gatewayv1.Gateway {
	t.Helper()
	gw, err := c.gateway.GatewayV1().Gateways(ns).Create(context.Background(), &gatewayv1.Gateway{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: gatewayv1.GatewaySpec{
			GatewayClassName: gatewayv1.ObjectName(class),
			Listeners:        []gatewayv1.Listener{{Name: "http", Port: port, Protocol: gatewayv1.HTTPProtocolType}},
		},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return gw
}

// servedGateway creates a namespace and a GatewayClass of the default
// controller, both named after prefix, and a Gateway "gw" of that class
// with an HTTP listener on a free loopback port, for a test that serves
// it (startServing); it returns the namespace, the class and the port.
func (c clients) servedGateway(t *testing.T, prefix string) (ns, class string, port int32) {
	t.Helper()
	ns, class = unique(prefix), unique(prefix)
	port = int32(freePorts(t, 1)[0])
	c.namespace(t, ns)
	c.class(t, class, httproute.DefaultControllerName)
	c.gatewayObj(t, ns, "gw", class, port)
	return ns, class, port
}

// setup creates a namespace, a GatewayClass of the default controller, a
// Gateway "gw" of that class with an HTTP listener on port 80, and a
// backend Service "web".
func (c clients) setup(t testing.TB, ns, class string) {
	t.Helper()
	c.namespace(t, ns)
	c.class(t, class, httproute.DefaultControllerName)
	c.gatewayObj(t, ns, "gw", class, 80)
	c.backend(t, ns, "web")
}

// route creates an HTTPRoute attached to a Gateway, sending path prefix
// to a Service's port 80.
func (c clients) route(t testing.TB, ns, name, gateway, prefix, service string) *gatewayv1.HTTPRoute {
	t.Helper()
	r, err := c.gateway.GatewayV1().HTTPRoutes(ns).Create(context.Background(), routeObj(ns, name, gateway, prefix, service), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func routeObj(ns, name, gateway, prefix, service string) *gatewayv1.HTTPRoute {
	return &gatewayv1.HTTPRoute{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: gatewayv1.HTTPRouteSpec{
			CommonRouteSpec: gatewayv1.CommonRouteSpec{ParentRefs: []gatewayv1.ParentReference{{Name: gatewayv1.ObjectName(gateway)}}},
			Rules: []gatewayv1.HTTPRouteRule{{
				Matches: []gatewayv1.HTTPRouteMatch{{Path: &gatewayv1.HTTPPathMatch{
					Type: new(gatewayv1.PathMatchPathPrefix), Value: new(prefix),
				}}},
				BackendRefs: []gatewayv1.HTTPBackendRef{{BackendRef: gatewayv1.BackendRef{BackendObjectReference: gatewayv1.BackendObjectReference{
					Name: gatewayv1.ObjectName(service), Port: new(gatewayv1.PortNumber(80)),
				}}}},
			}},
		},
	}
}

// podNetwork maps the addresses of EndpointSlices to loopback servers:
// the API server refuses loopback addresses in EndpointSlices, so the
// tests' endpoints have addresses of the benchmarking range (RFC 2544)
// that are names only, never dialed.
type podNetwork struct {
	mu    sync.Mutex
	next  int
	addrs map[string]string
}

var pods = &podNetwork{addrs: map[string]string{}}

// add gives a loopback server an address, and returns its host and port.
func (n *podNetwork) add(target string) (string, int32) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.next++
	host := fmt.Sprintf("198.19.%d.%d", n.next/250, 1+n.next%250)
	n.addrs[net.JoinHostPort(host, "8080")] = target
	return host, 8080
}

func (n *podNetwork) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	n.mu.Lock()
	target := n.addrs[addr]
	n.mu.Unlock()
	if target == "" {
		return nil, fmt.Errorf("no test server at %s", addr)
	}
	var d net.Dialer
	return d.DialContext(ctx, network, target)
}

// backend starts a loopback server answering its name, and a Service and
// EndpointSlice in ns that send port 80 to it (service).
func (c clients) backend(t testing.TB, ns, name string) {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, name)
	}))
	t.Cleanup(srv.Close)
	c.service(t, ns, name, srv.Listener.Addr().String(), "")
}

// service creates a Service in ns and an EndpointSlice, as the
// endpoint-slice controller would write it, that send port 80 to the
// loopback server at target; appProtocol, when set, is the port's.
func (c clients) service(t testing.TB, ns, name, target, appProtocol string) {
	t.Helper()
	host, port := pods.add(target)
	sp := corev1.ServicePort{Name: "http", Port: 80}
	if appProtocol != "" {
		sp.AppProtocol = &appProtocol
	}
	ctx := context.Background()
	_, err := c.core.CoreV1().Services(ns).Create(ctx, &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec:       corev1.ServiceSpec{Ports: []corev1.ServicePort{sp}},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.core.DiscoveryV1().EndpointSlices(ns).Create(ctx, &discoveryv1.EndpointSlice{
		ObjectMeta:  metav1.ObjectMeta{Namespace: ns, Name: name + "-1", Labels: map[string]string{discoveryv1.LabelServiceName: name}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Ports:       []discoveryv1.EndpointPort{{Name: new("http"), Port: new(port)}},
		Endpoints:   []discoveryv1.Endpoint{{Addresses: []string{host}, Conditions: discoveryv1.EndpointConditions{Ready: new(true)}}},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
}

// testResolver resolves Services over the tests' pod network.
func testResolver() *endpointslice.Resolver {
	return &endpointslice.Resolver{DialContext: pods.DialContext}
}

// testOptions are Options for a test's controller: fast rebuilds and
// elections, logs into the test's log.
func testOptions(t testing.TB, class string) Options {
	return Options{
		GatewayClassName: gatewayv1.ObjectName(class),
		Resolver:         testResolver(),
		Debounce:         20 * time.Millisecond,
		MaxDelay:         200 * time.Millisecond,
		LeaderElection: LeaderElection{
			Namespace:     "httproute-system",
			LeaseDuration: 3 * time.Second, RenewDeadline: 2 * time.Second, RetryPeriod: 250 * time.Millisecond,
		},
		Logger: slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelInfo})),
	}
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(string(bytes.TrimSpace(p)))
	return len(p), nil
}

// startController runs a Controller as the ServiceAccount of
// deploy/rbac.yaml until the test ends, or until stop is called.
func startController(t testing.TB, opts Options) (c *Controller, stop func()) {
	t.Helper()
	c, err := New(env.Controller, opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	var stopped bool
	stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Controller.Run: %v", err)
		}
	}
	t.Cleanup(stop)
	return c, stop
}

// startServing runs a Controller of class, as startController, whose
// Listeners serve the Gateways' ports on 127.0.0.1 until the test ends.
func startServing(t *testing.T, class string) {
	t.Helper()
	listeners := &Listeners{Host: "127.0.0.1"}
	t.Cleanup(listeners.Close)
	opts := testOptions(t, class)
	opts.OnUpdate = func(rt *httproute.Router, gws []*gatewayv1.Gateway) {
		if err := listeners.Sync(rt, gws); err != nil {
			t.Errorf("Listeners.Sync: %v", err)
		}
	}
	startController(t, opts)
}

// eventually polls cond every 20ms for up to timeout and fails the test
// with the last message cond returned.
func eventually(t testing.TB, timeout time.Duration, cond func() (bool, string)) {
	t.Helper()
	var msg string
	err := wait.PollUntilContextTimeout(context.Background(), 20*time.Millisecond, timeout, true, func(context.Context) (bool, error) {
		var ok bool
		ok, msg = cond()
		return ok, nil
	})
	if err != nil {
		t.Fatalf("after %s: %s", timeout, msg)
	}
}

// fetch sends GET url over the network, with Host host (the URL's when
// empty), and returns the status and body; a request that fails has
// status 0 and the error as body.
func fetch(url, host string) (int, string) {
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		return 0, err.Error()
	}
	if host != "" {
		req.Host = host
	}
	res, err := (&http.Client{Timeout: 5 * time.Second}).Do(req)
	if err != nil {
		return 0, err.Error()
	}
	defer func() { _ = res.Body.Close() }()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		return 0, err.Error()
	}
	return res.StatusCode, string(body)
}

// get serves a request through h and returns the status and body.
func get(h http.Handler, host, path string) (int, string) {
	req := httptest.NewRequest(http.MethodGet, "http://"+host+path, nil)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Code, rec.Body.String()
}

var names atomic.Int64

// unique returns a name made of prefix and a number new in this test
// binary, so that tests run with -count keep to objects of their own.
func unique(prefix string) string { return fmt.Sprintf("%s-%d", prefix, names.Add(1)) }

func nn(ns, name string) types.NamespacedName { return types.NamespacedName{Namespace: ns, Name: name} }
