package endpointslice

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/httproute/httproute"
)

func service(name string, ports ...corev1.ServicePort) *corev1.Service {
	return &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: name},
		Spec:       corev1.ServiceSpec{Ports: ports},
	}
}

type ep struct {
	addrs []string
	ready *bool
}

func slice(name, svc string, typ discoveryv1.AddressType, ports []discoveryv1.EndpointPort, eps ...ep) *discoveryv1.EndpointSlice {
	s := &discoveryv1.EndpointSlice{
		ObjectMeta:  metav1.ObjectMeta{Namespace: "default", Name: name, Labels: map[string]string{discoveryv1.LabelServiceName: svc}},
		AddressType: typ,
		Ports:       ports,
	}
	for _, e := range eps {
		s.Endpoints = append(s.Endpoints, discoveryv1.Endpoint{Addresses: e.addrs, Conditions: discoveryv1.EndpointConditions{Ready: e.ready}})
	}
	return s
}

func port(name string, n int32) discoveryv1.EndpointPort {
	p := discoveryv1.EndpointPort{Port: &n}
	if name != "" {
		p.Name = &name
	}
	return p
}

func TestEndpoints(t *testing.T) {
	yes, no := new(true), new(false)
	web := corev1.ServicePort{Name: "http", Port: 80, TargetPort: intstr.FromString("web")}
	unnamed := corev1.ServicePort{Port: 80, TargetPort: intstr.FromInt32(8080)}
	tests := []struct {
		name   string
		sp     corev1.ServicePort
		slices []*discoveryv1.EndpointSlice
		want   []string
		reason string
	}{{
		name: "ready and unset conditions count, not-ready does not",
		sp:   web,
		slices: []*discoveryv1.EndpointSlice{slice("a", "s", discoveryv1.AddressTypeIPv4,
			[]discoveryv1.EndpointPort{port("http", 3000)},
			ep{[]string{"10.0.0.1"}, yes}, ep{[]string{"10.0.0.2"}, nil}, ep{[]string{"10.0.0.3"}, no})},
		want:   []string{"10.0.0.1:3000", "10.0.0.2:3000"},
		reason: "the EndpointSlice API says an unset ready condition means ready",
	}, {
		name: "port chosen by the Service port's name",
		sp:   web,
		slices: []*discoveryv1.EndpointSlice{slice("a", "s", discoveryv1.AddressTypeIPv4,
			[]discoveryv1.EndpointPort{port("metrics", 9090), port("http", 3000)},
			ep{[]string{"10.0.0.1"}, yes})},
		want: []string{"10.0.0.1:3000"},
	}, {
		name: "an unnamed Service port matches the unnamed slice port",
		sp:   unnamed,
		slices: []*discoveryv1.EndpointSlice{slice("a", "s", discoveryv1.AddressTypeIPv4,
			[]discoveryv1.EndpointPort{port("", 8080)}, ep{[]string{"10.0.0.1"}, yes})},
		want: []string{"10.0.0.1:8080"},
	}, {
		name: "slices with their own port numbers, repeats dropped",
		sp:   web,
		slices: []*discoveryv1.EndpointSlice{
			slice("a", "s", discoveryv1.AddressTypeIPv4, []discoveryv1.EndpointPort{port("http", 3000)}, ep{[]string{"10.0.0.2"}, yes}, ep{[]string{"10.0.0.1"}, yes}),
			slice("b", "s", discoveryv1.AddressTypeIPv4, []discoveryv1.EndpointPort{port("http", 3001)}, ep{[]string{"10.0.0.3"}, yes}),
			slice("c", "s", discoveryv1.AddressTypeIPv4, []discoveryv1.EndpointPort{port("http", 3000)}, ep{[]string{"10.0.0.1"}, yes}),
		},
		want:   []string{"10.0.0.1:3000", "10.0.0.2:3000", "10.0.0.3:3001"},
		reason: "an endpoint moving between slices is listed by both for a while",
	}, {
		name: "IPv6 and FQDN addresses",
		sp:   web,
		slices: []*discoveryv1.EndpointSlice{
			slice("a", "s", discoveryv1.AddressTypeIPv6, []discoveryv1.EndpointPort{port("http", 3000)}, ep{[]string{"fd00::1"}, yes}),
			slice("b", "s", discoveryv1.AddressTypeFQDN, []discoveryv1.EndpointPort{port("http", 3000)}, ep{[]string{"web.example.com"}, yes}),
		},
		want: []string{"[fd00::1]:3000", "web.example.com:3000"},
	}, {
		name: "addresses invalid for their type are left out",
		sp:   web,
		slices: []*discoveryv1.EndpointSlice{
			slice("a", "s", discoveryv1.AddressTypeIPv4, []discoveryv1.EndpointPort{port("http", 3000)},
				ep{[]string{"fd00::1", "10.0.0.1:99", "10.0.0.1/32", "", "10.0.0.1"}, yes}),
			slice("b", "s", discoveryv1.AddressTypeFQDN, []discoveryv1.EndpointPort{port("http", 3000)},
				ep{[]string{"a/b", "user@host", "Web.example.com"}, yes}),
			slice("c", "s", "Other", []discoveryv1.EndpointPort{port("http", 3000)}, ep{[]string{"10.0.0.9"}, yes}),
		},
		want:   []string{"10.0.0.1:3000"},
		reason: "slice contents are user input: one bad address must not fail the whole Service",
	}, {
		name: "ports out of range or unset are skipped",
		sp:   web,
		slices: []*discoveryv1.EndpointSlice{
			slice("a", "s", discoveryv1.AddressTypeIPv4, []discoveryv1.EndpointPort{port("http", 70000)}, ep{[]string{"10.0.0.1"}, yes}),
			slice("b", "s", discoveryv1.AddressTypeIPv4, []discoveryv1.EndpointPort{{Name: new("http")}}, ep{[]string{"10.0.0.2"}, yes}),
		},
		want: nil,
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := Endpoints(&tc.sp, tc.slices)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("Endpoints (-want +got):\n%s\n%s", diff, tc.reason)
			}
		})
	}
}

func TestResolveServiceErrors(t *testing.T) {
	var r Resolver
	ext := service("ext")
	ext.Spec.Type = corev1.ServiceTypeExternalName
	grpc := service("grpc", corev1.ServicePort{Port: 80, AppProtocol: new("kubernetes.io/grpc")})
	s := r.For([]*corev1.Service{service("web", corev1.ServicePort{Port: 80}), ext, grpc}, nil)
	tests := []struct {
		name    string
		ref     httproute.BackendRef
		wantErr error
		wantMsg string
	}{
		{"missing service", ref("nope", 80), httproute.ErrNotFound, "service default/nope: httproute: object not found"},
		{"missing port", ref("web", 81), httproute.ErrNotFound, "service default/web has no port 81: httproute: object not found"},
		{"ExternalName", ref("ext", 80), httproute.ErrUnsupported, "service default/ext: type ExternalName: httproute: unsupported value"},
		{"unsupported appProtocol", ref("grpc", 80), httproute.ErrUnsupported, `service default/grpc port 80: appProtocol "kubernetes.io/grpc": httproute: unsupported value`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := s.ResolveService(tc.ref)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("ResolveService: got %v, want an error wrapping %v", err, tc.wantErr)
			}
			if diff := cmp.Diff(tc.wantMsg, err.Error()); diff != "" {
				t.Errorf("message (-want +got):\n%s", diff)
			}
		})
	}
}

func ref(name string, p int32) httproute.BackendRef {
	return httproute.BackendRef{ObjectRef: httproute.ObjectRef{Kind: "Service", Namespace: "default", Name: name}, Port: p}
}

// TestUpstreamReused pins that a Service port keeps its Upstream, and so
// the passive-health state of its endpoints, across snapshots, and that a
// Service that goes away takes its Upstream with it.
func TestUpstreamReused(t *testing.T) {
	var r Resolver
	svc := service("web", corev1.ServicePort{Name: "http", Port: 80})
	eps := func(addrs ...string) *discoveryv1.EndpointSlice {
		return slice("web-1", "web", discoveryv1.AddressTypeIPv4, []discoveryv1.EndpointPort{port("http", 3000)}, ep{addrs, nil})
	}
	resolve := func(s *Snapshot) *httproute.Upstream {
		t.Helper()
		b, err := s.ResolveService(ref("web", 80))
		if err != nil {
			t.Fatal(err)
		}
		return b.(*httproute.Upstream)
	}
	first := resolve(r.For([]*corev1.Service{svc}, []*discoveryv1.EndpointSlice{eps("10.0.0.1")}))
	second := resolve(r.For([]*corev1.Service{svc}, []*discoveryv1.EndpointSlice{eps("10.0.0.1", "10.0.0.2")}))
	if first != second {
		t.Fatal("the Upstream of an unchanged Service port was replaced")
	}
	if diff := cmp.Diff([]string{"10.0.0.1:3000", "10.0.0.2:3000"}, slices.Sorted(maps.Keys(second.Endpoints()))); diff != "" {
		t.Errorf("endpoints after the second snapshot (-want +got):\n%s", diff)
	}

	r.For(nil, nil) // the Service is deleted
	third := resolve(r.For([]*corev1.Service{svc}, []*discoveryv1.EndpointSlice{eps("10.0.0.1")}))
	if third == first {
		t.Error("the Upstream of a deleted Service was kept")
	}

	h2c := service("web", corev1.ServicePort{Name: "http", Port: 80, AppProtocol: new(httproute.AppProtocolH2C)})
	fourth := resolve(r.For([]*corev1.Service{h2c}, []*discoveryv1.EndpointSlice{eps("10.0.0.1")}))
	if fourth == third {
		t.Error("an appProtocol change kept the Upstream and its HTTP/1.1 transport")
	}
}

// TestPassiveHealthSurvives serves through a Router rebuilt between
// requests: an endpoint ejected for refusing connections stays ejected
// after a rebuild, because the rebuilt Router gets the same Upstream.
func TestPassiveHealthSurvives(t *testing.T) {
	ok := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {}))
	defer ok.Close()
	down := httptest.NewServer(http.NotFoundHandler())
	downAddr := down.Listener.Addr().String()
	down.Close() // refuses connections from now on

	r := Resolver{Upstream: httproute.UpstreamConfig{
		Balancer: httproute.RoundRobin,
		Health:   httproute.HealthConfig{ConsecutiveConnectFailures: 1},
	}}
	svc := service("web", corev1.ServicePort{Port: 80})
	es := &discoveryv1.EndpointSlice{
		ObjectMeta:  metav1.ObjectMeta{Namespace: "default", Name: "web-1", Labels: map[string]string{discoveryv1.LabelServiceName: "web"}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Ports:       []discoveryv1.EndpointPort{port("", 1)},
	}
	// Two endpoints with different ports cannot share a slice: one slice each.
	okSlice, downSlice := es.DeepCopy(), es.DeepCopy()
	okSlice.Name, downSlice.Name = "web-ok", "web-down"
	setAddr(t, okSlice, ok.Listener.Addr().String())
	setAddr(t, downSlice, downAddr)

	b, err := r.For([]*corev1.Service{svc}, []*discoveryv1.EndpointSlice{okSlice, downSlice}).ResolveService(ref("web", 80))
	if err != nil {
		t.Fatal(err)
	}
	u := b.(*httproute.Upstream)
	for range 4 { // round robin reaches the refusing endpoint
		req := httptest.NewRequest(http.MethodGet, "http://web/", nil)
		if resp, err := u.RoundTrip(req); err == nil {
			resp.Body.Close()
		}
	}
	if healthy := u.Endpoints()[downAddr]; healthy {
		t.Fatalf("endpoint %s refusing connections was not ejected", downAddr)
	}
	b, err = r.For([]*corev1.Service{svc}, []*discoveryv1.EndpointSlice{okSlice, downSlice}).ResolveService(ref("web", 80))
	if err != nil {
		t.Fatal(err)
	}
	if healthy := b.(*httproute.Upstream).Endpoints()[downAddr]; healthy {
		t.Errorf("endpoint %s is healthy again after a rebuild: health state was lost", downAddr)
	}
}

func setAddr(t *testing.T, es *discoveryv1.EndpointSlice, hostport string) {
	t.Helper()
	host, p, err := netSplit(hostport)
	if err != nil {
		t.Fatal(err)
	}
	es.Ports = []discoveryv1.EndpointPort{port("", p)}
	es.Endpoints = []discoveryv1.Endpoint{{Addresses: []string{host}}}
}

func netSplit(hostport string) (string, int32, error) {
	host, p, err := net.SplitHostPort(hostport)
	if err != nil {
		return "", 0, err
	}
	n, err := strconv.ParseInt(p, 10, 32)
	return host, int32(n), err
}

// TestDialContext pins that Upstreams dial through DialContext, for
// HTTP/1.1 and h2c alike, and that an appProtocol the library does not
// speak is still refused.
func TestDialContext(t *testing.T) {
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(r.Proto))
	}))
	srv.Config.Protocols = new(http.Protocols)
	srv.Config.Protocols.SetHTTP1(true)
	srv.Config.Protocols.SetUnencryptedHTTP2(true)
	srv.Start()
	defer srv.Close()
	var dialed []string
	r := Resolver{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		dialed = append(dialed, addr)
		var d net.Dialer
		return d.DialContext(ctx, network, srv.Listener.Addr().String())
	}}
	svcs := []*corev1.Service{
		service("h1", corev1.ServicePort{Name: "http", Port: 80}),
		service("h2c", corev1.ServicePort{Name: "http", Port: 80, AppProtocol: new(httproute.AppProtocolH2C)}),
		service("grpc", corev1.ServicePort{Name: "http", Port: 80, AppProtocol: new("kubernetes.io/grpc")}),
	}
	var eps []*discoveryv1.EndpointSlice
	for _, s := range svcs {
		eps = append(eps, slice(s.Name+"-1", s.Name, discoveryv1.AddressTypeIPv4, []discoveryv1.EndpointPort{port("http", 3000)}, ep{[]string{"192.0.2.1"}, nil}))
	}
	snap := r.For(svcs, eps)
	for name, wantProto := range map[string]string{"h1": "HTTP/1.1", "h2c": "HTTP/2.0"} {
		b, err := snap.ResolveService(ref(name, 80))
		if err != nil {
			t.Fatal(err)
		}
		resp, err := b.RoundTrip(httptest.NewRequest(http.MethodGet, "http://"+name+"/", nil))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(body) != wantProto {
			t.Errorf("%s: the backend saw %s, want %s", name, body, wantProto)
		}
	}
	if diff := cmp.Diff([]string{"192.0.2.1:3000", "192.0.2.1:3000"}, dialed); diff != "" {
		t.Errorf("dialed (-want +got):\n%s", diff)
	}
	if _, err := snap.ResolveService(ref("grpc", 80)); !errors.Is(err, httproute.ErrUnsupported) {
		t.Errorf("grpc: got %v, want an error wrapping ErrUnsupported", err)
	}
}

// TestServicePortName: a Snapshot names Service ports, so that a
// BackendTLSPolicy's sectionName selects a port in a cluster configuration.
func TestServicePortName(t *testing.T) {
	var r Resolver
	s := r.For([]*corev1.Service{service("web", corev1.ServicePort{Name: "https", Port: 443}, corev1.ServicePort{Port: 80})}, nil)
	tests := []struct {
		name, service string
		port          int32
		want          string
		wantErr       error
	}{
		{"named port", "web", 443, "https", nil},
		{"unnamed port", "web", 80, "", nil},
		{"missing port", "web", 81, "", httproute.ErrNotFound},
		{"missing service", "nope", 443, "", httproute.ErrNotFound},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := s.ServicePortName("default", tc.service, tc.port)
			if !errors.Is(err, tc.wantErr) || (err == nil) != (tc.wantErr == nil) {
				t.Fatalf("ServicePortName: error %v, want %v", err, tc.wantErr)
			}
			if got != tc.want {
				t.Errorf("ServicePortName = %q, want %q", got, tc.want)
			}
		})
	}
}

// TestHTTPSAppProtocol: a Service port of appProtocol https (in any case)
// is HTTP/1.1 over TLS to its endpoints, with the template's transport or
// with one dialing through DialContext (which verifies the backend with
// the system roots, so a test server's certificate fails verification).
func TestHTTPSAppProtocol(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(strconv.FormatBool(r.TLS != nil)))
	}))
	defer srv.Close()
	_, p, err := net.SplitHostPort(srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	n, err := strconv.Atoi(p)
	if err != nil {
		t.Fatal(err)
	}
	svc := service("tls", corev1.ServicePort{Name: "https", Port: 443, AppProtocol: new("HTTPS")})
	eps := []*discoveryv1.EndpointSlice{slice("tls-1", "tls", discoveryv1.AddressTypeIPv4, []discoveryv1.EndpointPort{port("https", int32(n))}, ep{[]string{"127.0.0.1"}, nil})}

	r := Resolver{Upstream: httproute.UpstreamConfig{Transport: srv.Client().Transport}}
	b, err := r.For([]*corev1.Service{svc}, eps).ResolveService(ref("tls", 443))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := b.RoundTrip(httptest.NewRequest(http.MethodGet, "http://tls/", nil))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || string(body) != "true" {
		t.Errorf("with the template's transport: got %d %q, want 200 \"true\" (served over TLS)", resp.StatusCode, body)
	}

	svc.Spec.Ports[0].AppProtocol = new("https")
	dialer := Resolver{DialContext: (&net.Dialer{}).DialContext}
	b, err = dialer.For([]*corev1.Service{svc}, eps).ResolveService(ref("tls", 443))
	if err != nil {
		t.Fatal(err)
	}
	resp, err = b.RoundTrip(httptest.NewRequest(http.MethodGet, "http://tls/", nil))
	var verr *tls.CertificateVerificationError
	if err == nil {
		resp.Body.Close()
	}
	if !errors.As(err, &verr) {
		t.Errorf("through DialContext: got %v, want a certificate verification error (TLS with the system roots)", err)
	}
}
