package httproute_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"sync"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/httproute/httproute"
)

// BenchmarkProxy compares the Router's proxy path with a plain
// httputil.ReverseProxy, and with one that pools its copy buffers as the
// Router does, in front of the same loopback backend. The ReverseProxies
// use NewTransport (net/http's transport, tuned); the Router's Upstream
// uses its own lean HTTP/1.1 transport ("router"), or NewTransport
// ("router-nethttp"). The handlers are called directly so that the
// client side of the front hop does not drown the difference.
func BenchmarkProxy(b *testing.B) {
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"ok":true,"service":"bench"}`)
	}))
	defer backend.Close()
	u, _ := url.Parse(backend.URL)

	plain := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(u)
			pr.Out.Host = pr.In.Host
			pr.SetXForwarded()
		},
		Transport: httproute.NewTransport(false),
	}

	pooled := &httputil.ReverseProxy{
		Rewrite:    plain.Rewrite,
		Transport:  httproute.NewTransport(false),
		BufferPool: &benchPool{p: sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}},
	}

	up, err := httproute.NewUpstream(httproute.UpstreamConfig{Endpoints: []string{u.Host}})
	if err != nil {
		b.Fatal(err)
	}
	routes := []*gatewayv1.HTTPRoute{}
	for _, r := range benchRouteSet(100) {
		routes = append(routes, r)
	}
	router := func(up *httproute.Upstream) http.Handler {
		rt, err := httproute.New(httproute.Config{
			HTTPRoutes: routes,
			Services:   httproute.Services{{Namespace: "default", Name: "bench", Port: 80}: up},
		})
		if err != nil {
			b.Fatal(err)
		}
		return rt
	}
	upStd, err := httproute.NewUpstream(httproute.UpstreamConfig{Endpoints: []string{u.Host}, Transport: httproute.NewTransport(false)})
	if err != nil {
		b.Fatal(err)
	}

	for _, tc := range []struct {
		name string
		h    http.Handler
	}{{"reverseproxy", plain}, {"reverseproxy-pooled", pooled}, {"router", router(up)}, {"router-nethttp", router(upStd)}} {
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					req := httptest.NewRequest("GET", "http://api-50.example.com/api/v1/items/7?x=1", nil)
					req.Header.Set("X-Version", "2")
					rec := httptest.NewRecorder()
					tc.h.ServeHTTP(rec, req)
					if rec.Code != 200 {
						b.Fatalf("status %d: %s", rec.Code, rec.Body)
					}
				}
			})
		})
	}
}

// benchPool is a sync.Pool of 32 KiB buffers for the pooled ReverseProxy.
type benchPool struct{ p sync.Pool }

func (bp *benchPool) Get() []byte  { return *bp.p.Get().(*[]byte) }
func (bp *benchPool) Put(b []byte) { bp.p.Put(&b) }

// benchRouteSet returns n routes on distinct hostnames, all sending to the
// Service "bench".
func benchRouteSet(n int) []*gatewayv1.HTTPRoute {
	var out []*gatewayv1.HTTPRoute
	for i := 0; i < n; i++ {
		out = append(out, &gatewayv1.HTTPRoute{
			ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "api-" + itoa(i)},
			Spec: gatewayv1.HTTPRouteSpec{
				Hostnames: []gatewayv1.Hostname{gatewayv1.Hostname("api-" + itoa(i) + ".example.com")},
				Rules: []gatewayv1.HTTPRouteRule{{
					Matches: []gatewayv1.HTTPRouteMatch{{
						Path:    &gatewayv1.HTTPPathMatch{Value: ptr("/api/v1")},
						Headers: []gatewayv1.HTTPHeaderMatch{{Name: "x-version", Value: "2"}},
					}},
					BackendRefs: []gatewayv1.HTTPBackendRef{{BackendRef: gatewayv1.BackendRef{
						BackendObjectReference: gatewayv1.BackendObjectReference{Name: "bench", Port: ptr(gatewayv1.PortNumber(80))}}}},
				}},
			},
		})
	}
	return out
}

func itoa(i int) string {
	if i == 0 {
		return "0"
	}
	var b [20]byte
	n := len(b)
	for i > 0 {
		n--
		b[n] = byte('0' + i%10)
		i /= 10
	}
	return string(b[n:])
}

// BenchmarkInProcess compares a Router serving an in-process Handler
// backend with the same handler served bare, each behind a loopback
// net/http server and driven by a keep-alive client, so that the Router's
// share of a whole request is what differs.
func BenchmarkInProcess(b *testing.B) {
	answer := []byte(`{"ok":true,"service":"bench"}`)
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write(answer)
	})
	rt, err := httproute.New(httproute.Config{
		HTTPRoutes: benchRouteSet(100),
		Services:   httproute.Services{{Namespace: "default", Name: "bench", Port: 80}: httproute.Handler(handler)},
	})
	if err != nil {
		b.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		h    http.Handler
	}{{"bare", handler}, {"router", rt}} {
		b.Run(tc.name, func(b *testing.B) {
			srv := httptest.NewServer(tc.h)
			defer srv.Close()
			client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
			defer client.CloseIdleConnections()
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					req, _ := http.NewRequest("GET", srv.URL+"/api/v1/items/7?x=1", nil)
					req.Host = "api-50.example.com"
					req.Header.Set("X-Version", "2")
					res, err := client.Do(req)
					if err != nil {
						b.Fatal(err)
					}
					io.Copy(io.Discard, res.Body)
					res.Body.Close()
					if res.StatusCode != 200 {
						b.Fatalf("status %d", res.StatusCode)
					}
				}
			})
		})
	}
}
