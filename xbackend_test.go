package httproute_test

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/net/http2"
	"golang.org/x/net/http2/h2c"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
	"sigs.k8s.io/yaml"

	"github.com/httproute/httproute"
	"github.com/httproute/httproute/internal/testcert"
)

// tlsBackend is a loopback HTTPS server that answers with its name and
// records the SNI and client certificate of each request.
type tlsBackend struct {
	port string
	sni  chan string
}

func newTLSBackend(t *testing.T, name string, leaf *testcert.Leaf, clientCAs *x509.CertPool) *tlsBackend {
	t.Helper()
	b := &tlsBackend{sni: make(chan string, 100)}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b.sni <- r.TLS.ServerName
		client := ""
		if len(r.TLS.PeerCertificates) > 0 {
			client = " client=" + r.TLS.PeerCertificates[0].Subject.CommonName
		}
		fmt.Fprintf(w, "%s%s", name, client)
	}))
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{leaf.TLS}}
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // failed handshakes are what some cases test
	if clientCAs != nil {
		srv.TLS.ClientCAs = clientCAs
		srv.TLS.ClientAuth = tls.RequireAndVerifyClientCert
	}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	_, b.port, _ = net.SplitHostPort(srv.Listener.Addr().String())
	return b
}

// xbackendConfig builds a Config with one route sending / to the XBackend
// named in routeYAML's backendRefs and the objects given as YAML.
func xbackendConfig(t *testing.T, rules string, objects ...string) httproute.Config {
	t.Helper()
	var route gatewayv1.HTTPRoute
	require.NoError(t, yaml.UnmarshalStrict([]byte("metadata: {name: r, namespace: default}\nspec:\n  rules:\n"+indent(rules, "  ")), &route))
	cfg := yamlConfig(t, objects...)
	cfg.HTTPRoutes = append(cfg.HTTPRoutes, &route)
	return cfg
}

func caConfigMap(name string, ca *testcert.CA) string {
	return fmt.Sprintf("kind: ConfigMap\nmetadata: {name: %s, namespace: default}\ndata:\n  ca.crt: %q\n", name, ca.PEM)
}

func tlsSecret(name string, l *testcert.Leaf) string {
	return fmt.Sprintf("kind: Secret\nmetadata: {name: %s, namespace: default}\ntype: kubernetes.io/tls\nstringData: {}\ndata:\n  tls.crt: %s\n  tls.key: %s\n",
		name, b64(l.CertPEM), b64(l.KeyPEM))
}

const xbackendRule = `
- backendRefs: [{group: gateway.networking.x-k8s.io, kind: XBackend, name: ext}]
`

func TestXBackendExternalHostnameOverTLS(t *testing.T) {
	ca, other := testcert.NewCA("backend CA"), testcert.NewCA("someone else")
	be := newTLSBackend(t, "external", ca.Issue("localhost"), nil)
	xb := func(tlsYAML string) string {
		return `kind: XBackend
metadata: {name: ext, namespace: default}
spec:
  type: ExternalHostname
  externalHostname: {hostname: localhost}
  port: {number: ` + be.port + `}
  tls: ` + tlsYAML + "\n"
	}
	for _, tc := range []struct {
		name, tls string
		objects   []string
		code      int
		body      string
	}{
		{"ServerOnly, CA from a ConfigMap", `{mode: ServerOnly, validation: {hostname: localhost, caCertificateRefs: [{group: "", kind: ConfigMap, name: ca}]}}`,
			[]string{caConfigMap("ca", ca)}, 200, "external"},
		{"ServerOnly, wrong CA", `{mode: ServerOnly, validation: {hostname: localhost, caCertificateRefs: [{group: "", kind: ConfigMap, name: ca}]}}`,
			[]string{caConfigMap("ca", other)}, 502, ""},
		{"ServerOnly, hostname not in the certificate", `{mode: ServerOnly, validation: {hostname: backend.example.com, caCertificateRefs: [{group: "", kind: ConfigMap, name: ca}]}}`,
			[]string{caConfigMap("ca", ca)}, 502, ""},
		{"ServerOnly, missing ConfigMap", `{mode: ServerOnly, validation: {hostname: localhost, caCertificateRefs: [{group: "", kind: ConfigMap, name: nope}]}}`,
			nil, 500, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rt, err := httproute.New(xbackendConfig(t, xbackendRule, append(tc.objects, xb(tc.tls))...))
			require.NoError(t, err)
			rec := do(t, rt, "GET", "/", "", nil)
			assert.Equal(t, tc.code, rec.Code, rec.Body.String())
			if tc.body != "" {
				assert.Equal(t, tc.body, rec.Body.String())
				select {
				case sni := <-be.sni:
					assert.Equal(t, "localhost", sni, "the validation hostname is the SNI")
				default:
					t.Error("the backend saw no request")
				}
			}
		})
	}
}

func TestXBackendMutualTLSAndSubjectAltNames(t *testing.T) {
	serverCA, clientCA := testcert.NewCA("server CA"), testcert.NewCA("client CA")
	be := newTLSBackend(t, "mtls", serverCA.Issue("localhost", "spiffe://cluster/ns/default/sa/api"), clientCA.Pool())
	objects := []string{caConfigMap("ca", serverCA), tlsSecret("client", clientCA.Issue("gateway"))}
	xb := func(mode, validation string) string {
		return `kind: XBackend
metadata: {name: ext, namespace: default}
spec:
  type: ExternalHostname
  externalHostname: {hostname: localhost}
  port: {number: ` + be.port + `}
  tls: {mode: ` + mode + `, validation: ` + validation + "}\n"
	}
	for _, tc := range []struct {
		name, mode, validation string
		code                   int
		body                   string
	}{
		{"client certificate presented", "ClientAndServer, clientCertificateRef: {name: client}",
			`{hostname: localhost, caCertificateRefs: [{group: "", kind: ConfigMap, name: ca}]}`, 200, "mtls client=gateway"},
		{"no client certificate", "ServerOnly",
			`{hostname: localhost, caCertificateRefs: [{group: "", kind: ConfigMap, name: ca}]}`, 502, ""},
		{"URI subjectAltName matches", "ClientAndServer, clientCertificateRef: {name: client}",
			`{hostname: localhost, caCertificateRefs: [{group: "", kind: ConfigMap, name: ca}], subjectAltNames: [{type: URI, uri: "spiffe://cluster/ns/default/sa/api"}]}`, 200, "mtls client=gateway"},
		{"no subjectAltName matches", "ClientAndServer, clientCertificateRef: {name: client}",
			`{hostname: localhost, caCertificateRefs: [{group: "", kind: ConfigMap, name: ca}], subjectAltNames: [{type: Hostname, hostname: other.example.com}]}`, 502, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rt, err := httproute.New(xbackendConfig(t, xbackendRule, append(objects, xb(tc.mode, tc.validation))...))
			require.NoError(t, err)
			rec := do(t, rt, "GET", "/", "", nil)
			assert.Equal(t, tc.code, rec.Code, rec.Body.String())
			if tc.body != "" {
				assert.Equal(t, tc.body, rec.Body.String())
			}
		})
	}
}

// selectorResolver resolves app=<name> to the addresses registered for it.
type selectorResolver map[string][]string

func (s selectorResolver) ResolveEndpoints(ns string, sel map[string]string, port int32) ([]string, error) {
	eps, ok := s[sel["app"]]
	if !ok {
		return nil, fmt.Errorf("no pods for %v: %w", sel, httproute.ErrNotFound)
	}
	return eps, nil
}

func TestXBackendEndpointSelectorWithSessionPersistence(t *testing.T) {
	// GEP-1619: session persistence on the backend pins an endpoint of it,
	// after the split has chosen the backend; a backendRef without
	// persistence is balanced normally.
	eps := sessionBackends(t) // a1, a2 and b1, b2
	cfg := xbackendConfig(t, `
- backendRefs:
  - {group: gateway.networking.x-k8s.io, kind: XBackend, name: sticky}
  - {group: gateway.networking.x-k8s.io, kind: XBackend, name: loose}
`, `kind: XBackend
metadata: {name: sticky, namespace: default}
spec:
  type: EndpointSelector
  endpointSelector: {matchLabels: {app: a}}
  port: {number: 80}
  sessionPersistence: {type: Cookie, cookie: {name: s}}
`, `kind: XBackend
metadata: {name: loose, namespace: default}
spec:
  type: EndpointSelector
  endpointSelector: {matchLabels: {app: b}}
  port: {number: 80}
`)
	cfg.Endpoints = selectorResolver{"a": eps["a"], "b": eps["b"]}
	cfg.SessionKey = []byte("k")
	rt, err := httproute.New(cfg)
	require.NoError(t, err)
	var jar cookieJar
	served := map[string]int{}
	for i := 0; i < 200; i++ {
		served[servedBy(jar.do(t, rt))]++
	}
	require.NotNil(t, jar.c, "the sticky XBackend issues a session")
	assert.Equal(t, "s", jar.c.Name)
	aCount := served["a1"] + served["a2"]
	assert.Greater(t, aCount, 50, "the split holds with a session")
	assert.Greater(t, served["b1"]+served["b2"], 50, "the split holds with a session")
	assert.True(t, served["a1"] == 0 || served["a2"] == 0, "one endpoint of the sticky backend: %v", served)
	assert.True(t, served["b1"] > 0 && served["b2"] > 0, "the loose backend is balanced: %v", served)
}

func TestXBackendH2C(t *testing.T) {
	srv := httptest.NewServer(h2c.NewHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, r.Proto)
	}), &http2.Server{}))
	t.Cleanup(srv.Close)
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	cfg := xbackendConfig(t, xbackendRule, `kind: XBackend
metadata: {name: ext, namespace: default}
spec:
  type: EndpointSelector
  endpointSelector: {matchLabels: {app: h2c}}
  port: {number: `+port+`}
  protocol: H2C
`)
	cfg.Endpoints = selectorResolver{"h2c": {srv.Listener.Addr().String()}}
	rt, err := httproute.New(cfg)
	require.NoError(t, err)
	rec := do(t, rt, "GET", "/", "", nil)
	assert.Equal(t, 200, rec.Code)
	assert.Equal(t, "HTTP/2.0", rec.Body.String())
}

func TestXBackendProblemsAreReported(t *testing.T) {
	for _, tc := range []struct {
		name, rule, xbackend string
		resolver             httproute.EndpointResolver
		want                 string
	}{
		{"not found", xbackendRule, "", nil,
			`httproute default/r: spec.rules[0].backendRefs[0].name: Invalid value: "ext": XBackend default/ext: httproute: object not found`},
		{"port on the backendRef", `
- backendRefs: [{group: gateway.networking.x-k8s.io, kind: XBackend, name: ext, port: 80}]
`, "", nil,
			`httproute default/r: spec.rules[0].backendRefs[0].port: Forbidden: port must not be set when referencing an XBackend`},
		{"no resolver for a selector", xbackendRule, `kind: XBackend
metadata: {name: ext, namespace: default}
spec: {type: EndpointSelector, endpointSelector: {matchLabels: {app: x}}, port: {number: 80}}
`, nil, `httproute default/r: spec.rules[0].backendRefs[0].name: Invalid value: "ext": XBackend default/ext: no EndpointResolver configured for endpointSelector: httproute: object not found`},
		{"a resolver that panics", xbackendRule, `kind: XBackend
metadata: {name: ext, namespace: default}
spec: {type: EndpointSelector, endpointSelector: {matchLabels: {app: x}}, port: {number: 80}}
`, httproute.EndpointResolverFunc(func(string, map[string]string, int32) ([]string, error) { panic("boom") }),
			`httproute default/r: spec.rules[0].backendRefs[0].name: Invalid value: "ext": XBackend default/ext: EndpointResolver panicked: boom: httproute: object not found`},
		{"a protocol an HTTP gateway cannot serve", xbackendRule, `kind: XBackend
metadata: {name: ext, namespace: default}
spec: {type: ExternalHostname, externalHostname: {hostname: example.com}, port: {number: 443}, protocol: MCP}
`, nil, `httproute default/r: spec.rules[0].backendRefs[0].name: Invalid value: "ext": XBackend default/ext: spec.protocol MCP is not served by an HTTP gateway: httproute: unsupported value`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var objs []string
			if tc.xbackend != "" {
				objs = append(objs, tc.xbackend)
			}
			cfg := xbackendConfig(t, tc.rule, objs...)
			cfg.Endpoints = tc.resolver
			rt, err := httproute.New(cfg)
			require.NoError(t, err)
			assert.Equal(t, 500, do(t, rt, "GET", "/", "", nil).Code, "the backendRef's share answers 500")
			cfg.Strict = true
			_, err = httproute.New(cfg)
			require.Error(t, err)
			assert.Equal(t, tc.want, err.Error())
		})
	}
}

func TestXBackendStatusNamesItsGateways(t *testing.T) {
	ca := testcert.NewCA("ca")
	cfg := xbackendConfig(t, xbackendRule, `kind: XBackend
metadata: {name: ext, namespace: default, generation: 3}
spec: {type: ExternalHostname, externalHostname: {hostname: localhost}, port: {number: 443},
  tls: {mode: ServerOnly, validation: {hostname: localhost, caCertificateRefs: [{group: "", kind: ConfigMap, name: ca}]}}}
`, caConfigMap("ca", ca))
	cfg.HTTPRoutes[0].Spec.ParentRefs = []gatewayv1.ParentReference{{Name: "gw"}}
	cfg.Gateways = []*gatewayv1.Gateway{{
		ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "gw"},
		Spec:       gatewayv1.GatewaySpec{Listeners: []gatewayv1.Listener{{Name: "http", Port: 80, Protocol: gatewayv1.HTTPProtocolType}}},
	}}
	rt, err := httproute.New(cfg)
	require.NoError(t, err)
	st := rt.Status().XBackends[types.NamespacedName{Namespace: "default", Name: "ext"}]
	require.Len(t, st.Ancestors, 1)
	a := st.Ancestors[0]
	assert.Equal(t, gatewayv1.ObjectName("gw"), a.AncestorRef.Name)
	assert.Equal(t, httproute.DefaultControllerName, a.ControllerName)
	require.Len(t, a.Conditions, 1)
	assert.Equal(t, "Accepted", a.Conditions[0].Type)
	assert.Equal(t, metav1.ConditionTrue, a.Conditions[0].Status)
	assert.EqualValues(t, 3, a.Conditions[0].ObservedGeneration)
}

func TestUnknownBackendKindListsEveryKind(t *testing.T) {
	// Issue 11: the error named only Service, even with extension kinds.
	cfg := xbackendConfig(t, `
- backendRefs: [{group: example.com, kind: Nope, name: other}]
`)
	cfg.Extensions = []httproute.Extension{{
		Kind:    schemaGVK("example.com", "v1", "Static"),
		Backend: func(httproute.BackendRef) (httproute.Backend, error) { return named("static"), nil },
	}}
	cfg.Strict = true
	_, err := httproute.New(cfg)
	require.Error(t, err)
	assert.True(t, strings.HasSuffix(err.Error(),
		`spec.rules[0].backendRefs[0].kind: Unsupported value: "Nope": supported values: "Service", "XBackend.gateway.networking.x-k8s.io", "Static.example.com"`), err.Error())
}

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

func schemaGVK(group, version, kind string) schema.GroupVersionKind {
	return schema.GroupVersionKind{Group: group, Version: version, Kind: kind}
}
