package httproute_test

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/httproute/httproute"
)

// The gRPC wire format, enough for unary calls: each message is a
// compression flag, a 4-byte big-endian length and the bytes; the status
// is the grpc-status trailer (or header, in a Trailers-Only answer).

func grpcFrame(msg string) []byte {
	b := make([]byte, 5+len(msg))
	binary.BigEndian.PutUint32(b[1:5], uint32(len(msg)))
	copy(b[5:], msg)
	return b
}

func grpcUnframe(b []byte) (string, bool) {
	if len(b) < 5 || int(binary.BigEndian.Uint32(b[1:5])) != len(b)-5 {
		return "", false
	}
	return string(b[5:]), true
}

// grpcEchoHandler is a unary gRPC server over HTTP/2 that answers
// "{name} {path} {message} {x-added}" with grpc-status 0 in the trailers.
func grpcEchoHandler(name string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		msg, ok := grpcUnframe(body)
		if r.ProtoMajor != 2 || r.Header.Get("Content-Type") != "application/grpc" || !ok {
			http.Error(w, "not a gRPC request", http.StatusUnsupportedMediaType)
			return
		}
		w.Header().Set("Content-Type", "application/grpc")
		w.Header().Set("Trailer", "Grpc-Status")
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(grpcFrame(fmt.Sprintf("%s %s %s %s", name, r.URL.Path, msg, r.Header.Get("X-Added"))))
		w.Header().Set("Grpc-Status", "0")
	})
}

// startH2C serves h over HTTP/1.1 and h2c on a loopback port.
func startH2C(t *testing.T, h http.Handler) *httptest.Server {
	t.Helper()
	srv := httptest.NewUnstartedServer(h)
	srv.Config.Protocols = new(http.Protocols)
	srv.Config.Protocols.SetHTTP1(true)
	srv.Config.Protocols.SetUnencryptedHTTP2(true)
	srv.Start()
	t.Cleanup(srv.Close)
	return srv
}

// grpcAnswer is what a gRPC client sees of a unary call.
type grpcAnswer struct {
	HTTPStatus  int
	ContentType string
	GRPCStatus  string
	Message     string
	Header      string // X-Reply, set by a ResponseHeaderModifier
}

// callGRPC makes a unary call over h2c with prior knowledge.
func callGRPC(t *testing.T, client *http.Client, url, msg, contentType string) grpcAnswer {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(grpcFrame(msg)))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", contentType)
	req.Header.Set("TE", "trailers")
	res, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	a := grpcAnswer{HTTPStatus: res.StatusCode, ContentType: res.Header.Get("Content-Type"), Header: res.Header.Get("X-Reply")}
	a.GRPCStatus = res.Trailer.Get("Grpc-Status")
	if a.GRPCStatus == "" {
		a.GRPCStatus = res.Header.Get("Grpc-Status") // Trailers-Only
		a.Message = res.Header.Get("Grpc-Message")
	}
	if m, ok := grpcUnframe(body); ok {
		a.Message = m
	} else if len(body) > 0 {
		a.Message = string(body)
	}
	return a
}

// TestGRPCRouteServe serves GRPCRoutes over h2c on a real loopback
// server: to a gRPC backend proxied over h2c, to one served in process,
// through filters and a mirror, and the Router's own errors as gRPC
// statuses.
func TestGRPCRouteServe(t *testing.T) {
	proxied := startH2C(t, grpcEchoHandler("proxied"))
	up, err := httproute.NewUpstream(httproute.UpstreamConfig{Endpoints: []string{proxied.Listener.Addr().String()}, AppProtocol: httproute.AppProtocolH2C})
	if err != nil {
		t.Fatal(err)
	}
	defer up.CloseIdleConnections()
	mirrored := make(chan string, 4)
	mirror := httproute.InProcess(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		msg, _ := grpcUnframe(body)
		mirrored <- r.URL.Path + " " + msg
	}))
	services := httproute.Services{
		{Namespace: "default", Name: "proxied", Port: 80}: up,
		{Namespace: "default", Name: "inproc", Port: 80}:  httproute.InProcess(grpcEchoHandler("inproc")),
		{Namespace: "default", Name: "mirror", Port: 80}:  mirror,
	}
	to := func(svc string, rule gatewayv1.GRPCRouteRule) gatewayv1.GRPCRouteRule {
		rule.BackendRefs = grpcBackend(svc)
		return rule
	}
	filtered := to("proxied", method("", "pkg.Echo", ""))
	filtered.Filters = []gatewayv1.GRPCRouteFilter{{
		Type:                  gatewayv1.GRPCRouteFilterRequestHeaderModifier,
		RequestHeaderModifier: &gatewayv1.HTTPHeaderFilter{Add: []gatewayv1.HTTPHeader{{Name: "X-Added", Value: "yes"}}},
	}, {
		Type:                   gatewayv1.GRPCRouteFilterResponseHeaderModifier,
		ResponseHeaderModifier: &gatewayv1.HTTPHeaderFilter{Set: []gatewayv1.HTTPHeader{{Name: "X-Reply", Value: "set"}}},
	}, {
		Type:          gatewayv1.GRPCRouteFilterRequestMirror,
		RequestMirror: &gatewayv1.HTTPRequestMirrorFilter{BackendRef: gatewayv1.BackendObjectReference{Name: "mirror", Port: ptr(gatewayv1.PortNumber(80))}},
	}}
	gr := &gatewayv1.GRPCRoute{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "rpc"},
		Spec: gatewayv1.GRPCRouteSpec{Rules: []gatewayv1.GRPCRouteRule{
			filtered,
			to("inproc", method("", "pkg.InProcess", "")),
			to("missing", method("", "pkg.Missing", "")),
		}}}
	rt := newRouter(t, httproute.Config{GRPCRoutes: []*gatewayv1.GRPCRoute{gr}, Services: services})
	srv := startH2C(t, rt)
	tr := &http.Transport{Protocols: new(http.Protocols)}
	tr.Protocols.SetUnencryptedHTTP2(true)
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 10 * time.Second}

	ok := func(msg, reply string) grpcAnswer {
		return grpcAnswer{HTTPStatus: 200, ContentType: "application/grpc", GRPCStatus: "0", Message: msg, Header: reply}
	}
	status := func(code, msg string) grpcAnswer {
		return grpcAnswer{HTTPStatus: 200, ContentType: "application/grpc", GRPCStatus: code, Message: msg}
	}
	tests := []struct {
		name        string
		path        string
		contentType string
		want        grpcAnswer
	}{
		{"proxied over h2c through the filters", "/pkg.Echo/Get", "application/grpc", ok("proxied /pkg.Echo/Get hello yes", "set")},
		{"served in process", "/pkg.InProcess/Get", "application/grpc", ok("inproc /pkg.InProcess/Get hello ", "")},
		{"no route: UNIMPLEMENTED", "/pkg.None/Get", "application/grpc", status("12", "Not Found")},
		{"invalid backendRef: UNAVAILABLE", "/pkg.Missing/Get", "application/grpc", status("14", "Internal Server Error")},
		{"gRPC with a message format", "/pkg.None/Get", "application/grpc+proto", status("12", "Not Found")},
		{"not gRPC: a plain 404", "/pkg.Echo/Get", "application/octet-stream",
			grpcAnswer{HTTPStatus: 404, ContentType: "text/plain; charset=utf-8", Message: "Not Found\n"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := callGRPC(t, client, srv.URL+tc.path, "hello", tc.contentType)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("answer (-want +got):\n%s", diff)
			}
		})
	}
	select {
	case got := <-mirrored:
		if want := "/pkg.Echo/Get hello"; got != want {
			t.Errorf("mirror received %q, want %q", got, want)
		}
	case <-time.After(5 * time.Second):
		t.Error("the mirror received nothing")
	}
}

// TestGRPCAndHTTPRouteConflict checks GEP-1016's rule: on a listener, an
// HTTPRoute and a GRPCRoute whose hostnames intersect are not both
// served; the older one is, and the other reports Accepted False there.
func TestGRPCAndHTTPRouteConflict(t *testing.T) {
	gw := &gatewayv1.Gateway{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "gw"},
		Spec: gatewayv1.GatewaySpec{Listeners: []gatewayv1.Listener{{Name: "http", Port: 80, Protocol: gatewayv1.HTTPProtocolType}}}}
	parent := gatewayv1.CommonRouteSpec{ParentRefs: []gatewayv1.ParentReference{{Name: "gw"}}}
	httpRoute := func(name string, sec int64, host string) *gatewayv1.HTTPRoute {
		return &gatewayv1.HTTPRoute{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: name, CreationTimestamp: metav1.NewTime(time.Unix(sec, 0))},
			Spec: gatewayv1.HTTPRouteSpec{CommonRouteSpec: parent, Hostnames: []gatewayv1.Hostname{gatewayv1.Hostname(host)},
				Rules: []gatewayv1.HTTPRouteRule{{BackendRefs: []gatewayv1.HTTPBackendRef{{BackendRef: gatewayv1.BackendRef{
					BackendObjectReference: gatewayv1.BackendObjectReference{Name: "svc", Port: ptr(gatewayv1.PortNumber(80))}}}}}}}}
	}
	grpc := func(name string, sec int64, host string) *gatewayv1.GRPCRoute {
		gr := grpcRoute(name, sec, []string{host}, gatewayv1.GRPCRouteRule{})
		gr.Spec.CommonRouteSpec = parent
		return gr
	}
	tests := []struct {
		name   string
		http   []*gatewayv1.HTTPRoute
		grpc   []*gatewayv1.GRPCRoute
		want   map[string]string // route -> Accepted reason
		served map[string]string // host -> route serving gRPC requests there
	}{{
		name:   "the older HTTPRoute wins",
		http:   []*gatewayv1.HTTPRoute{httpRoute("web", 1, "*.example.com")},
		grpc:   []*gatewayv1.GRPCRoute{grpc("rpc", 2, "a.example.com"), grpc("other", 2, "a.example.net")},
		want:   map[string]string{"HTTPRoute web": "Accepted", "GRPCRoute rpc": "NotAllowedByListeners", "GRPCRoute other": "Accepted"},
		served: map[string]string{"a.example.com": "web", "a.example.net": "other"},
	}, {
		name:   "the older GRPCRoute wins",
		http:   []*gatewayv1.HTTPRoute{httpRoute("web", 2, "*.example.com")},
		grpc:   []*gatewayv1.GRPCRoute{grpc("rpc", 1, "a.example.com")},
		want:   map[string]string{"HTTPRoute web": "NotAllowedByListeners", "GRPCRoute rpc": "Accepted"},
		served: map[string]string{"a.example.com": "rpc", "b.example.com": ""},
	}, {
		name:   "a rejected route does not reject others",
		http:   []*gatewayv1.HTTPRoute{httpRoute("old", 1, "a.example.com"), httpRoute("new", 3, "b.example.com")},
		grpc:   []*gatewayv1.GRPCRoute{grpc("rpc", 2, "*.example.com")},
		want:   map[string]string{"HTTPRoute old": "Accepted", "HTTPRoute new": "Accepted", "GRPCRoute rpc": "NotAllowedByListeners"},
		served: map[string]string{"a.example.com": "old", "b.example.com": "new"},
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rt := newRouter(t, httproute.Config{Gateways: []*gatewayv1.Gateway{gw}, HTTPRoutes: tc.http, GRPCRoutes: tc.grpc, Services: grpcServices})
			st := rt.Status()
			got := map[string]string{}
			for nn, s := range st.HTTPRoutes {
				got["HTTPRoute "+nn.Name] = s.Parents[0].Conditions[0].Reason
			}
			for nn, s := range st.GRPCRoutes {
				got["GRPCRoute "+nn.Name] = s.Parents[0].Conditions[0].Reason
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("Accepted reasons (-want +got):\n%s", diff)
			}
			served := map[string]string{}
			for host := range tc.served {
				m, _ := rt.Lookup(grpcRequest(host, "/pkg.Echo/Get"))
				served[host] = m.Route.Name
			}
			if diff := cmp.Diff(tc.served, served); diff != "" {
				t.Errorf("routes serving gRPC requests (-want +got):\n%s", diff)
			}
			if n := st.Gateways[types.NamespacedName{Namespace: "default", Name: "gw"}].Listeners[0].AttachedRoutes; n != int32(len(tc.http)+len(tc.grpc)-1) {
				t.Errorf("attachedRoutes = %d, want the routes less the rejected one", n)
			}
		})
	}
}
