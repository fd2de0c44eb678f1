package httproute_test

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/elliptic"
	cryptorand "crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/httproute/httproute"
	"github.com/httproute/httproute/extension/directresponse"
	"github.com/httproute/httproute/httproutetest"
	"github.com/httproute/httproute/validation"
)

// These tests pin issue 10, "request-path security": each failed on the
// code before its fix.

// parseRequest reads a raw HTTP/1 request as net/http's server parses it.
func parseRequest(t *testing.T, raw string) *http.Request {
	t.Helper()
	req, err := http.ReadRequest(bufio.NewReader(strings.NewReader(raw)))
	if err != nil {
		t.Fatalf("parsing %q: %v", raw, err)
	}
	return req
}

// received is what a backend saw of a request, sent back to the test in
// the answer's body.
type received struct {
	Backend    string
	RequestURI string
	Path       string
	RawPath    string
	Header     http.Header `json:",omitempty"`
}

// recordingBackend answers with what it received as JSON.
func recordingBackend(name string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(received{Backend: name, RequestURI: r.RequestURI, Path: r.URL.Path, RawPath: r.URL.RawPath, Header: r.Header})
	}
}

// backendKinds serve a Service in process or through an Upstream to a
// loopback server.
var backendKinds = []string{"in-process", "proxied"}

func serviceBackend(t *testing.T, kind string, h http.Handler) httproute.Backend {
	t.Helper()
	if kind == "in-process" {
		return httproute.Handler(h)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	up, err := httproute.NewUpstream(httproute.UpstreamConfig{Endpoints: []string{srv.Listener.Addr().String()}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(up.CloseIdleConnections)
	return up
}

func decodeConfig(t *testing.T, manifests ...string) httproute.Config {
	t.Helper()
	exts := []httproute.Extension{directresponse.Extension()}
	// ExternalAuth is in the experimental channel.
	cfg, err := httproutetest.Options{Extensions: exts, Channel: validation.Experimental}.Decode(manifests...)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Extensions = exts
	cfg.Strict = true
	return cfg
}

func newRouter(t *testing.T, cfg httproute.Config) *httproute.Router {
	t.Helper()
	rt, err := httproute.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return rt
}

// exchange sends a raw request through h and returns what the recording
// backend that answered received.
func exchange(t *testing.T, h http.Handler, raw string) received {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, parseRequest(t, raw))
	var got received
	if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
		t.Fatalf("no backend answered: %d %q", rec.Code, rec.Body)
	}
	return got
}

// checkFields compares the values of the fields named in want (joined by
// ",", "" when absent) with those of h.
func checkFields(t *testing.T, want map[string]string, h http.Header) {
	t.Helper()
	got := map[string]string{}
	for name := range want {
		got[name] = strings.Join(h[name], ",")
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("backend headers (-want +got):\n%s", diff)
	}
}

const guardedRoutes = `apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: guarded, namespace: default}
spec:
  rules:
  - matches: [{path: {type: PathPrefix, value: /admin}}]
    filters:
    - type: ExternalAuth
      externalAuth: {protocol: HTTP, backendRef: {name: auth, port: 9000}, http: {}}
    backendRefs: [{name: admin, port: 80}]
  - matches: [{path: {type: PathPrefix, value: /secret}}]
    filters:
    - type: ExtensionRef
      extensionRef: {group: gateway.kgateway.dev, kind: DirectResponse, name: forbidden}
  - matches: [{path: {type: RegularExpression, value: "/api/v[0-9]+/internal/.*"}}]
    backendRefs: [{name: internal, port: 80}]
  - backendRefs: [{name: public, port: 80}]
---
apiVersion: gateway.kgateway.dev/v1alpha1
kind: DirectResponse
metadata: {name: forbidden, namespace: default}
spec: {status: 403, body: "direct: forbidden"}
`

// TestEncodedPathsCannotBypassMatches: percent-encoded unreserved
// characters, dot segments and repeated slashes reach the rule their
// normal form selects, guarded rules included, and every backend receives
// the normal form, in its request-target and in r.URL alike.
func TestEncodedPathsCannotBypassMatches(t *testing.T) {
	type want struct {
		Status int
		// Backend and Target: which backend answered and the
		// request-target it received; AuthTarget: what the auth service
		// was asked, "" when it was not.
		Backend, Target, AuthTarget string
		Location                    string
	}
	denied := func(authTarget string) want { return want{Status: 403, AuthTarget: authTarget} }
	direct := want{Status: 403, Backend: "direct"}
	served := func(backend, target string) want { return want{Status: 200, Backend: backend, Target: target} }
	tests := []struct {
		name, target string
		slashes      httproute.EscapedSlashAction
		want         want
	}{
		{"escaped letter", "/%61dmin", 0, denied("/admin")},
		{"escaped letter mid-path", "/adm%69n/users", 0, denied("/admin/users")},
		{"upper-case hex", "/%41dmin", 0, served("public", "/Admin")},
		{"DirectResponse route", "/secre%74", 0, direct},
		{"DirectResponse subtree", "/%73ecret/x", 0, direct},
		{"regex route", "/api/v1/%69nternal/keys", 0, served("internal", "/api/v1/internal/keys")},
		{"regex route, query untouched", "/api/v2/%69nternal/k?x=%61&y", 0, served("internal", "/api/v2/internal/k?x=%61&y")},
		{"absolute form", "http://example.com/%61dmin", 0, denied("/admin")},
		{"absolute form to public", "http://example.com/pub/%7euser", 0, served("public", "/pub/~user")},
		{"dot segments and slashes", "//pub//a/./b/../c", 0, served("public", "/pub/a/c")},
		{"escaped dot segments into a guarded prefix", "/pub/%2e%2e/%61dmin/x", 0, denied("/admin/x")},
		{"dot segment into a regex", "/api/v1/x/../%69nternal/k", 0, served("internal", "/api/v1/internal/k")},
		{"every unreserved class, lower hex", "/pub/%41%5a%61%7a%30%39%2d%2e%5f%7e", 0, served("public", "/pub/AZaz09-._~")},
		{"every unreserved class, upper hex", "/pub/%41%5A%61%7A%30%39%2D%2E%5F%7E", 0, served("public", "/pub/AZaz09-._~")},
		{"reserved escapes upper-cased", "/pub/a%3bb%2c%20", 0, served("public", "/pub/a%3Bb%2C%20")},
		{"sub-delims kept raw", "/pub/a(b)!*", 0, served("public", "/pub/a(b)!*")},
		{"escaped slash: redirect (default)", "/pub/a%2fb?q=1", httproute.EscapedSlashUnescapeAndRedirect,
			want{Status: 307, Location: "/pub/a/b?q=1"}},
		{"escaped slash: keep", "/pub/a%2fb", httproute.EscapedSlashKeepUnchanged, served("public", "/pub/a%2Fb")},
		{"escaped slash kept is no separator", "/admin%2F..%2Fx", httproute.EscapedSlashKeepUnchanged, served("public", "/admin%2F..%2Fx")},
		{"escaped backslash: reject", "/pub/a%5Cb", httproute.EscapedSlashReject, want{Status: 400}},
		{"escaped slash: forward", "/pub%2F..%2F%61dmin", httproute.EscapedSlashUnescapeAndForward, denied("/admin")},
	}
	for _, kind := range backendKinds {
		t.Run(kind, func(t *testing.T) {
			var mu sync.Mutex
			var authTarget string
			auth := httproute.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				mu.Lock()
				authTarget = r.URL.RequestURI()
				mu.Unlock()
				w.WriteHeader(http.StatusForbidden)
			}))
			services := httproute.Services{{Namespace: "default", Name: "auth", Port: 9000}: auth}
			for _, name := range []string{"admin", "internal", "public"} {
				services[httproute.ServicePort{Namespace: "default", Name: name, Port: 80}] = serviceBackend(t, kind, recordingBackend(name))
			}
			routers := map[httproute.EscapedSlashAction]*httproute.Router{}
			for _, tt := range tests {
				if routers[tt.slashes] != nil {
					continue
				}
				cfg := decodeConfig(t, guardedRoutes)
				cfg.Services = services
				cfg.EscapedSlashes = tt.slashes
				rt, err := httproute.New(cfg)
				if err != nil {
					t.Fatal(err)
				}
				routers[tt.slashes] = rt
			}
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					mu.Lock()
					authTarget = ""
					mu.Unlock()
					req := parseRequest(t, "GET "+tt.target+" HTTP/1.1\r\nHost: example.com\r\n\r\n")
					rec := httptest.NewRecorder()
					routers[tt.slashes].ServeHTTP(rec, req)
					got := want{Status: rec.Code, Location: rec.Header().Get("Location")}
					mu.Lock()
					got.AuthTarget = authTarget
					mu.Unlock()
					switch body := rec.Body.String(); {
					case body == "direct: forbidden":
						got.Backend = "direct"
					case strings.HasPrefix(rec.Header().Get("Content-Type"), "application/json"):
						var rcv received
						if err := json.Unmarshal([]byte(body), &rcv); err != nil {
							t.Fatal(err)
						}
						got.Backend, got.Target = rcv.Backend, rcv.RequestURI
						// What an in-process handler sees of the target
						// agrees with the target itself.
						u, err := url.ParseRequestURI(rcv.RequestURI)
						if err != nil {
							t.Fatal(err)
						}
						if rcv.Path != u.Path || rcv.RawPath != u.RawPath {
							t.Errorf("backend saw Path %q RawPath %q with RequestURI %q (parsed: %q %q)", rcv.Path, rcv.RawPath, rcv.RequestURI, u.Path, u.RawPath)
						}
					}
					if diff := cmp.Diff(tt.want, got); diff != "" {
						t.Errorf("GET %s (-want +got):\n%s", tt.target, diff)
					}
				})
			}
		})
	}
}

// TestInProcessHandlersSeeTheRequestURITheyAreServed: after a rewrite, an
// in-process handler's RequestURI is the rewritten target, not the
// client's.
func TestInProcessHandlersSeeTheRequestURITheyAreServed(t *testing.T) {
	cfg := decodeConfig(t, route("r", `  - matches: [{path: {value: /a}}]
    filters:
    - type: URLRewrite
      urlRewrite: {path: {type: ReplacePrefixMatch, replacePrefixMatch: /v2/a}}
    backendRefs: [{name: web, port: 80}]
  - matches: [{path: {value: /full}}]
    filters:
    - type: URLRewrite
      urlRewrite: {path: {type: ReplaceFullPath, replaceFullPath: "/%7eone//x/../two%3b"}}
    backendRefs: [{name: web, port: 80}]
  - backendRefs: [{name: web, port: 80}]
`))
	cfg.Services = httproute.Services{{Namespace: "default", Name: "web", Port: 80}: httproute.Handler(recordingBackend("web"))}
	rt := newRouter(t, cfg)
	for target, want := range map[string]received{
		"/a/b?x=1":       {Backend: "web", RequestURI: "/v2/a/b?x=1", Path: "/v2/a/b"},
		"/full/x":        {Backend: "web", RequestURI: "/~one/two%3B", Path: "/~one/two;", RawPath: "/~one/two%3B"},
		"//api//x":       {Backend: "web", RequestURI: "/api/x", Path: "/api/x"},
		"http://h/p%3bq": {Backend: "web", RequestURI: "/p%3Bq", Path: "/p;q", RawPath: "/p%3Bq"},
		"/plain?q":       {Backend: "web", RequestURI: "/plain?q", Path: "/plain"},
		"http://h/x?":    {Backend: "web", RequestURI: "/x?", Path: "/x"},
	} {
		got := exchange(t, rt, "GET "+target+" HTTP/1.1\r\nHost: h\r\n\r\n")
		got.Header = nil
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("GET %s (-want +got):\n%s", target, diff)
		}
	}
}

// TestConnectionHeaderCannotRemoveGatewayHeaders: the fields a client's
// Connection header names are removed when the request arrives, so that
// what RequestHeaderModifier and ExternalAuth set reaches the backend.
func TestConnectionHeaderCannotRemoveGatewayHeaders(t *testing.T) {
	for _, kind := range backendKinds {
		t.Run(kind, func(t *testing.T) {
			cfg := decodeConfig(t, route("r", `  - filters:
    - type: RequestHeaderModifier
      requestHeaderModifier:
        set: [{name: X-Tenant, value: acme}, {name: X-Gateway-Verified, value: "yes"}]
    - type: ExternalAuth
      externalAuth:
        protocol: HTTP
        backendRef: {name: auth, port: 9000}
        http: {allowedResponseHeaders: [X-Auth-User]}
    backendRefs: [{name: web, port: 80}]
`))
			cfg.Services = httproute.Services{
				{Namespace: "default", Name: "auth", Port: 9000}: httproute.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					w.Header().Set("X-Auth-User", "alice")
				})),
				{Namespace: "default", Name: "web", Port: 80}: serviceBackend(t, kind, recordingBackend("web")),
			}
			rt := newRouter(t, cfg)
			got := exchange(t, rt, "GET / HTTP/1.1\r\nHost: h\r\n"+
				"Connection: close, X-Tenant, X-Gateway-Verified\r\nConnection: X-Auth-User, x-client-hop\r\n"+
				"X-Tenant: evil\r\nX-Client-Hop: 1\r\nX-Kept: 1\r\n\r\n")
			checkFields(t, map[string]string{"X-Tenant": "acme", "X-Gateway-Verified": "yes", "X-Auth-User": "alice", "X-Kept": "1", "X-Client-Hop": ""}, got.Header)
		})
	}
}

// TestExternalAuthIdentityHeadersCannotBeForged: the names listed in
// allowedResponseHeaders are removed from the client's request before the
// check, so that an answer without them lets no forged value through.
func TestExternalAuthIdentityHeadersCannotBeForged(t *testing.T) {
	cfg := decodeConfig(t, route("r", `  - filters:
    - type: ExternalAuth
      externalAuth:
        protocol: HTTP
        backendRef: {name: auth, port: 9000}
        http: {allowedHeaders: [X-Auth-User], allowedResponseHeaders: [X-Auth-User, X-Auth-Roles]}
    backendRefs: [{name: web, port: 80}]
`))
	var authSaw http.Header
	cfg.Services = httproute.Services{
		{Namespace: "default", Name: "auth", Port: 9000}: httproute.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			authSaw = r.Header.Clone()
			w.Header().Set("X-Auth-Roles", "reader") // 200 without X-Auth-User
		})),
		{Namespace: "default", Name: "web", Port: 80}: httproute.Handler(recordingBackend("web")),
	}
	rt := newRouter(t, cfg)
	got := exchange(t, rt, "GET / HTTP/1.1\r\nHost: h\r\nX-Auth-User: admin\r\nX_Auth_User: admin\r\nX-Auth-Roles: admin\r\nX-Other: 1\r\n\r\n")
	checkFields(t, map[string]string{"X-Auth-User": "", "X_auth_user": "", "X-Auth-Roles": "reader", "X-Other": "1"}, got.Header)
	if v := authSaw.Get("X-Auth-User"); v != "" {
		t.Errorf("the auth service was sent the client's X-Auth-User %q", v)
	}
}

// TestRedirectNeverEmitsAnEmptyHost: a redirect built from an empty or
// missing Host answers 400 instead of "https:///evil.com/x".
func TestRedirectNeverEmitsAnEmptyHost(t *testing.T) {
	cfg := decodeConfig(t, route("r", `  - filters:
    - type: RequestRedirect
      requestRedirect: {scheme: https, statusCode: 301}
`))
	rt := newRouter(t, cfg)
	type result struct {
		Status   int
		Location string
	}
	for raw, want := range map[string]result{
		"GET //evil.com/x HTTP/1.0\r\n\r\n":                              {400, ""},
		"GET //evil.com/x HTTP/1.1\r\nHost: \r\n\r\n":                    {400, ""},
		"GET //evil.com/x HTTP/1.1\r\nHost: :8080\r\n\r\n":               {400, ""},
		"GET //evil.com/x HTTP/1.1\r\nHost: example.com\r\n\r\n":         {301, "https://example.com/evil.com/x"},
		"GET http://example.com//evil.com/x HTTP/1.1\r\nHost: x\r\n\r\n": {301, "https://example.com/evil.com/x"},
	} {
		rec := httptest.NewRecorder()
		rt.ServeHTTP(rec, parseRequest(t, raw))
		if diff := cmp.Diff(want, result{rec.Code, rec.Header().Get("Location")}); diff != "" {
			t.Errorf("%q (-want +got):\n%s", raw, diff)
		}
	}
}

// TestRequestPathLimit: paths longer than Config.MaxPathLength (8 KiB by
// default) get 414 before anything else.
func TestRequestPathLimit(t *testing.T) {
	cfg := decodeConfig(t, route("r", `  - matches: [{path: {type: RegularExpression, value: "/.*/v0/.*"}}]
    backendRefs: [{name: web, port: 80}]
`))
	cfg.Services = httproute.Services{{Namespace: "default", Name: "web", Port: 80}: named("web")}
	path := func(n int) string { return "/x/v0/" + strings.Repeat("a", n-len("/x/v0/")) }
	for _, tc := range []struct {
		limit, length, want int
	}{
		{0, httproute.DefaultMaxPathLength, 200},
		{0, httproute.DefaultMaxPathLength + 1, 414},
		{0, 900 << 10, 414},
		{100, 100, 200},
		{100, 101, 414},
		{-1, httproute.DefaultMaxPathLength + 1, 414},
	} {
		cfg.MaxPathLength = tc.limit
		rt, err := httproute.New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		req := httptest.NewRequest("GET", "http://h"+path(tc.length), nil)
		if code, _ := serveRequest(rt, req); code != tc.want {
			t.Errorf("limit %d, path of %d bytes: %d, want %d", tc.limit, tc.length, code, tc.want)
		}
		if _, ok := rt.Lookup(req); ok != (tc.want == 200) {
			t.Errorf("limit %d, path of %d bytes: Lookup matched = %v", tc.limit, tc.length, ok)
		}
	}
}

func serveRequest(h http.Handler, req *http.Request) (int, string) {
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Code, rec.Body.String()
}

func TestInvalidEscapedSlashActionIsRefused(t *testing.T) {
	_, err := httproute.New(httproute.Config{EscapedSlashes: 9})
	if err == nil || err.Error() != "httproute: Config.EscapedSlashes: Unsupported value: EscapedSlashAction(9)" {
		t.Fatalf("New = %v", err)
	}
}

// selfSigned returns a certificate for name as a kubernetes.io/tls Secret.
func selfSigned(t *testing.T, secret, name string) *corev1.Secret {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), cryptorand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: name},
		DNSNames:     []string{name},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
	}
	der, err := x509.CreateCertificate(cryptorand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: secret},
		Type:       corev1.SecretTypeTLS,
		Data: map[string][]byte{
			corev1.TLSCertKey:       pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
			corev1.TLSPrivateKeyKey: pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}),
		},
	}
}

// TestMisdirectedWithoutSNI: on a TLS port, a request whose Host selects
// another listener than the one whose certificate the handshake used gets
// 421, whether the client sent SNI or not.
func TestMisdirectedWithoutSNI(t *testing.T) {
	addr := serveListenerNames(t, `  - name: default
    port: 443
    protocol: HTTPS
    tls: {certificateRefs: [{name: default-cert}]}
  - name: secure
    port: 443
    protocol: HTTPS
    hostname: secure.example.com
    tls: {certificateRefs: [{name: secure-cert}]}
`, selfSigned(t, "default-cert", "default.example.com"), selfSigned(t, "secure-cert", "secure.example.com"))

	type result struct {
		Cert   string // the certificate the handshake used
		Status int
		Body   string
	}
	for _, tc := range []struct {
		sni, host string
		want      result
	}{
		{"", "secure.example.com", result{"default.example.com", 421, "Misdirected Request\n"}},
		{"", "other.example.com", result{"default.example.com", 200, "default"}},
		{"secure.example.com", "secure.example.com", result{"secure.example.com", 200, "secure"}},
		{"other.example.com", "secure.example.com", result{"default.example.com", 421, "Misdirected Request\n"}},
		{"secure.example.com", "other.example.com", result{"secure.example.com", 421, "Misdirected Request\n"}},
	} {
		res, body := getTLS(t, addr, tc.sni, tc.host)
		got := result{res.TLS.PeerCertificates[0].Subject.CommonName, res.StatusCode, body}
		if diff := cmp.Diff(tc.want, got); diff != "" {
			t.Errorf("SNI %q Host %q (-want +got):\n%s", tc.sni, tc.host, diff)
		}
	}
}

// serveListenerNames serves, over TLS on 127.0.0.1 as port 443, a Gateway
// with the given listeners (YAML list items) and the certificate Secrets,
// and one route on all of them to a backend that answers with the name of
// the listener that served the request. It returns the address.
func serveListenerNames(t *testing.T, listeners string, secrets ...*corev1.Secret) string {
	t.Helper()
	cfg := decodeConfig(t, `apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: gw, namespace: default}
spec:
  gatewayClassName: any
  listeners:
`+listeners+`---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: r, namespace: default}
spec:
  parentRefs: [{name: gw}]
  rules:
  - backendRefs: [{name: web, port: 80}]
`)
	cfg.Secrets = secrets
	cfg.Services = httproute.Services{{Namespace: "default", Name: "web", Port: 80}: httproute.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, string(httproute.MatchFromContext(r.Context()).Listener))
	}))}
	return serveTLS(t, newRouter(t, cfg), 443)
}

// serveTLS serves rt's listeners of port p over TLS on 127.0.0.1 until
// the test ends, and returns the address.
func serveTLS(t *testing.T, rt *httproute.Router, p int32) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: rt.Port(p), ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(tls.NewListener(ln, rt.TLSConfig(p)))
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().String()
}

// getTLS sends GET / with Host host to addr over TLS with SNI sni ("" for
// none) and returns the answer with its body, read whole.
func getTLS(t *testing.T, addr, sni, host string) (*http.Response, string) {
	t.Helper()
	tr := &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true, ServerName: sni}}
	defer tr.CloseIdleConnections()
	req, _ := http.NewRequest("GET", "https://"+addr+"/", nil)
	req.Host = host
	res, err := (&http.Client{Transport: tr, Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		t.Fatalf("SNI %q Host %q: %v", sni, host, err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	return res, string(body)
}
