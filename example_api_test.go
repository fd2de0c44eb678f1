package httproute_test

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
	"sigs.k8s.io/yaml"

	"github.com/httproute/httproute"
	"github.com/httproute/httproute/httproutetest"
)

func mustRoute(doc string) *gatewayv1.HTTPRoute {
	var route gatewayv1.HTTPRoute
	if err := yaml.UnmarshalStrict([]byte(doc), &route); err != nil {
		panic(err)
	}
	return &route
}

func text(s string) httproute.Backend {
	return httproute.InProcess(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, s) }))
}

func get(h http.Handler, target string) string {
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest("GET", target, nil))
	return fmt.Sprintf("%d %s", w.Code, w.Body)
}

// Update swaps in a new configuration atomically: requests in flight
// finish on the old one, and a configuration that fails to compile
// leaves the current one serving.
func ExampleRouter_Update() {
	route := mustRoute("metadata: {name: r, namespace: default}\nspec: {rules: [{backendRefs: [{name: v1, port: 80}]}]}")
	cfg := httproute.Config{
		HTTPRoutes: []*gatewayv1.HTTPRoute{route},
		Services: httproute.Services{
			{Namespace: "default", Name: "v1", Port: 80}: text("v1"),
			{Namespace: "default", Name: "v2", Port: 80}: text("v2"),
		},
	}
	router, err := httproute.New(cfg)
	if err != nil {
		panic(err)
	}
	fmt.Println(get(router, "/"))

	cfg.HTTPRoutes = []*gatewayv1.HTTPRoute{mustRoute("metadata: {name: r, namespace: default}\nspec: {rules: [{backendRefs: [{name: v2, port: 80}]}]}")}
	if err := router.Update(cfg); err != nil {
		panic(err)
	}
	fmt.Println(get(router, "/"))

	cfg.HTTPRoutes = append(cfg.HTTPRoutes, cfg.HTTPRoutes[0]) // the same route twice: refused
	fmt.Println(router.Update(cfg))
	fmt.Println(get(router, "/"))
	// Output:
	// 200 v1
	// 200 v2
	// httproute: HTTPRoute default/r appears twice in Config
	// 200 v2
}

// Status reports the conditions a Gateway API controller would write:
// here a route whose backendRef names a Service that does not exist.
func ExampleRouter_Status() {
	route := mustRoute(`metadata: {name: r, namespace: default, generation: 3}
spec:
  rules:
  - matches: [{path: {value: /ok}}]
    backendRefs: [{name: ok, port: 80}]
  - backendRefs: [{name: missing, port: 80}]`)
	router, err := httproute.New(httproute.Config{
		HTTPRoutes: []*gatewayv1.HTTPRoute{route},
		Services:   httproute.Services{{Namespace: "default", Name: "ok", Port: 80}: text("ok")},
		Logger:     slog.New(slog.DiscardHandler),
	})
	if err != nil {
		panic(err)
	}
	st := router.Status().HTTPRoutes[types.NamespacedName{Namespace: "default", Name: "r"}]
	for _, c := range st.Parents[0].Conditions {
		fmt.Printf("%s=%s %s (generation %d): %s\n", c.Type, c.Status, c.Reason, c.ObservedGeneration, c.Message)
	}
	fmt.Println(get(router, "/ok"), "|", strings.TrimSpace(get(router, "/other")))
	// Output:
	// Accepted=True Accepted (generation 3): Accepted
	// ResolvedRefs=False BackendNotFound (generation 3): spec.rules[1].backendRefs[0].name: Invalid value: "missing": service default/missing port 80: httproute: object not found
	// 200 ok | 500 Internal Server Error
}

// An Upstream proxies to network endpoints, balancing over the healthy
// ones; here one HTTP server on loopback.
func ExampleNewUpstream() {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "upstream saw %s %s (forwarded for %s)", r.Host, r.URL.Path, r.Header.Get("X-Forwarded-Host"))
	}))
	defer srv.Close()
	up, err := httproute.NewUpstream(httproute.UpstreamConfig{
		Endpoints: []string{srv.Listener.Addr().String()},
		Balancer:  httproute.RoundRobin,
	})
	if err != nil {
		panic(err)
	}
	router, err := httproute.New(httproute.Config{
		HTTPRoutes: []*gatewayv1.HTTPRoute{mustRoute("metadata: {name: r, namespace: default}\nspec: {rules: [{backendRefs: [{name: api, port: 80}]}]}")},
		Services:   httproute.Services{{Namespace: "default", Name: "api", Port: 80}: up},
	})
	if err != nil {
		panic(err)
	}
	fmt.Println(get(router, "http://shop.example/orders"))
	// Output:
	// 200 upstream saw shop.example /orders (forwarded for shop.example)
}

// Limit puts a circuit breaker in front of a backend: beyond
// MaxRequests in flight, requests are answered 503 at once.
func ExampleLimit() {
	started, release := make(chan struct{}), make(chan struct{})
	slow := httproute.InProcess(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(started)
		<-release
		io.WriteString(w, "done")
	}))
	router, err := httproute.New(httproute.Config{
		HTTPRoutes: []*gatewayv1.HTTPRoute{mustRoute("metadata: {name: r, namespace: default}\nspec: {rules: [{backendRefs: [{name: slow, port: 80}]}]}")},
		Services: httproute.Services{
			{Namespace: "default", Name: "slow", Port: 80}: httproute.Limit(slow, httproute.Limits{MaxRequests: 1}),
		},
	})
	if err != nil {
		panic(err)
	}
	first := make(chan string)
	go func() { first <- get(router, "/") }()
	<-started
	fmt.Print("while one is in flight: ", get(router, "/"))
	close(release)
	fmt.Println("the first:", <-first)
	// Output:
	// while one is in flight: 503 Service Unavailable
	// the first: 200 done
}

// TLSConfig serves a Gateway's HTTPS listeners with the certificates of
// their Secrets, chosen by SNI.
func ExampleRouter_TLSConfig() {
	certPEM, keyPEM := testCertificate()
	var gw gatewayv1.Gateway
	_ = yaml.Unmarshal([]byte(`
metadata: {name: gw, namespace: default}
spec:
  gatewayClassName: example
  listeners:
  - name: https
    port: 443
    protocol: HTTPS
    hostname: example.com
    tls: {certificateRefs: [{name: shop-cert}]}`), &gw)
	route := mustRoute("metadata: {name: r, namespace: default}\nspec: {parentRefs: [{name: gw}], rules: [{backendRefs: [{name: web, port: 80}]}]}")
	router, err := httproute.New(httproute.Config{
		Gateways:   []*gatewayv1.Gateway{&gw},
		HTTPRoutes: []*gatewayv1.HTTPRoute{route},
		Secrets: []*corev1.Secret{{
			ObjectMeta: metav1.ObjectMeta{Name: "shop-cert", Namespace: "default"},
			Type:       corev1.SecretTypeTLS,
			Data:       map[string][]byte{corev1.TLSCertKey: certPEM, corev1.TLSPrivateKeyKey: keyPEM},
		}},
		Services: httproute.Services{{Namespace: "default", Name: "web", Port: 80}: text("secure hello")},
	})
	if err != nil {
		panic(err)
	}
	srv := httptest.NewUnstartedServer(router.Port(443))
	srv.TLS = router.TLSConfig(443)
	srv.StartTLS()
	defer srv.Close()

	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(certPEM)
	client := &http.Client{Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: roots, ServerName: "example.com"},
	}}
	req, _ := http.NewRequest("GET", srv.URL+"/", nil)
	req.Host = "example.com"
	res, err := client.Do(req)
	if err != nil {
		panic(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	fmt.Println(res.StatusCode, string(body), res.TLS.PeerCertificates[0].DNSNames[0])
	// Output:
	// 200 secure hello example.com
}

// testCertificate returns the certificate net/http/httptest serves (for
// example.com) and its key, PEM-encoded.
func testCertificate() (certPEM, keyPEM []byte) {
	tmp := httptest.NewUnstartedServer(nil)
	tmp.StartTLS()
	defer tmp.Close()
	cert := tmp.TLS.Certificates[0]
	key, err := x509.MarshalPKCS8PrivateKey(cert.PrivateKey)
	if err != nil {
		panic(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Certificate[0]}), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: key})
}

// httproutetest decodes manifests into a Config and checks what a request
// gave against what a table test wants.
func Example_httproutetest() {
	cfg, err := httproutetest.Decode(nil, `
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: shop, namespace: default}
spec:
  rules:
  - matches: [{path: {value: /api}}]
    filters: [{type: ResponseHeaderModifier, responseHeaderModifier: {set: [{name: Cache-Control, value: no-store}]}}]
    backendRefs: [{name: api, port: 8080}]`)
	if err != nil {
		panic(err)
	}
	cfg.Services = httproute.Services{{Namespace: "default", Name: "api", Port: 8080}: text("orders")}
	router, err := httproute.New(cfg)
	if err != nil {
		panic(err)
	}
	w := httptest.NewRecorder()
	router.ServeHTTP(w, httptest.NewRequest("GET", "/api/orders", nil))
	ex := &httproutetest.Exchange{Response: w.Result(), Body: w.Body.String()}
	fmt.Println(httproutetest.Check(ex, httproutetest.Want{Status: 200, Body: "orders", Header: map[string]string{"Cache-Control": "no-store"}}))
	fmt.Println(httproutetest.Check(ex, httproutetest.Want{Status: 404}))
	// Output:
	// []
	// [status = 200, want 404 (body "orders")]
}
