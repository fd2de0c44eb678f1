package httproute_test

import (
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
	"sigs.k8s.io/yaml"

	"github.com/httproute/httproute"
	"github.com/httproute/httproute/internal/testcert"
)

// namedServices resolves Service default/web port 443, named "https", to
// an Upstream of addr.
type namedServices struct{ addr string }

func (s namedServices) ResolveService(ref httproute.BackendRef) (httproute.Backend, error) {
	if ref.Name != "web" || ref.Port != 443 {
		return nil, fmt.Errorf("service %s: %w", ref, httproute.ErrNotFound)
	}
	return httproute.NewUpstream(httproute.UpstreamConfig{Endpoints: []string{s.addr}})
}

func (s namedServices) ServicePortName(namespace, name string, port int32) (string, error) {
	if name != "web" || port != 443 {
		return "", fmt.Errorf("service %s/%s port %d: %w", namespace, name, port, httproute.ErrNotFound)
	}
	return "https", nil
}

// yamlConfig builds a Config of YAML documents: Gateways, HTTPRoutes,
// BackendTLSPolicies, XBackends, ConfigMaps and Secrets.
func yamlConfig(t testing.TB, docs ...string) httproute.Config {
	t.Helper()
	var cfg httproute.Config
	for _, d := range docs {
		var meta metav1.TypeMeta
		require.NoError(t, yaml.Unmarshal([]byte(d), &meta))
		switch meta.Kind {
		case "Gateway":
			decodeInto(t, d, &cfg.Gateways)
		case "HTTPRoute":
			decodeInto(t, d, &cfg.HTTPRoutes)
		case "BackendTLSPolicy":
			decodeInto(t, d, &cfg.BackendTLSPolicies)
		case "XBackend":
			decodeInto(t, d, &cfg.XBackends)
		case "ConfigMap":
			decodeInto(t, d, &cfg.ConfigMaps)
		case "Secret":
			decodeInto(t, d, &cfg.Secrets)
		default:
			t.Fatalf("unexpected kind %q", meta.Kind)
		}
	}
	return cfg
}

// decodeInto decodes the YAML document d into a new T appended to list.
func decodeInto[T any](t testing.TB, d string, list *[]*T) {
	t.Helper()
	o := new(T)
	require.NoError(t, yaml.UnmarshalStrict([]byte(d), o))
	*list = append(*list, o)
}

const webRoute = `kind: HTTPRoute
metadata: {name: r, namespace: default}
spec:
  parentRefs: [{name: gw}]
  rules: [{backendRefs: [{name: web, port: 443}]}]
`

func httpGateway(extra string) string {
	return `kind: Gateway
metadata: {name: gw, namespace: default}
spec:
  gatewayClassName: c
  listeners: [{name: http, port: 80, protocol: HTTP}]
` + extra
}

func policy(name, created, target, validation string) string {
	return fmt.Sprintf("kind: BackendTLSPolicy\nmetadata: {name: %s, namespace: default, creationTimestamp: %q}\nspec:\n  targetRefs: [%s]\n  validation: %s\n",
		name, created, target, validation)
}

// TestBackendTLSPolicy sends requests through a Router to a loopback HTTPS
// backend whose Service port a BackendTLSPolicy covers, and checks the
// answer, the SNI the backend saw and the policy's conditions.
func TestBackendTLSPolicy(t *testing.T) {
	ca, other := testcert.NewCA("backend CA"), testcert.NewCA("someone else")
	be := newTLSBackend(t, "web", ca.Issue("abc.example.com", "spiffe://abc.example.com/web"), nil)
	const svc = `{group: "", kind: Service, name: web}`
	const byName = `{group: "", kind: Service, name: web, sectionName: https}`
	const caRef = `caCertificateRefs: [{group: "", kind: ConfigMap, name: ca}]`
	ok := []string{"Accepted=True/Accepted", "ResolvedRefs=True/ResolvedRefs"}
	for _, tc := range []struct {
		name     string
		policies []string
		code     int
		sni      string
		// conds are the conditions of policy p (and q when given) on
		// its ancestor, Gateway gw; empty when it has no ancestor.
		conds, qconds []string
	}{
		{name: "CA from a ConfigMap, hostname as SNI",
			policies: []string{policy("p", "2026-01-01T00:00:00Z", svc, "{hostname: abc.example.com, "+caRef+"}")},
			code:     200, sni: "abc.example.com", conds: ok},
		{name: "port selected by name",
			policies: []string{policy("p", "2026-01-01T00:00:00Z", byName, "{hostname: abc.example.com, "+caRef+"}")},
			code:     200, sni: "abc.example.com", conds: ok},
		{name: "section name of another port",
			policies: []string{policy("p", "2026-01-01T00:00:00Z", `{group: "", kind: Service, name: web, sectionName: grpc}`, "{hostname: abc.example.com, caCertificateRefs: [{group: \"\", kind: ConfigMap, name: other}]}")},
			code:     400, conds: []string{}}, // plain HTTP to the TLS port: the backend's 400; no route uses port grpc, so no ancestor
		{name: "wrong CA",
			policies: []string{policy("p", "2026-01-01T00:00:00Z", svc, "{hostname: abc.example.com, caCertificateRefs: [{group: \"\", kind: ConfigMap, name: other}]}")},
			code:     502, conds: ok},
		{name: "hostname not in the certificate",
			policies: []string{policy("p", "2026-01-01T00:00:00Z", svc, "{hostname: mismatch.example.com, "+caRef+"}")},
			code:     502, conds: ok},
		{name: "subjectAltName Hostname other than the SNI",
			policies: []string{policy("p", "2026-01-01T00:00:00Z", svc, "{hostname: other.example.com, "+caRef+", subjectAltNames: [{type: Hostname, hostname: abc.example.com}]}")},
			code:     200, sni: "other.example.com", conds: ok},
		{name: "subjectAltName URI",
			policies: []string{policy("p", "2026-01-01T00:00:00Z", svc, "{hostname: abc.example.com, "+caRef+", subjectAltNames: [{type: URI, uri: \"spiffe://abc.example.com/web\"}]}")},
			code:     200, sni: "abc.example.com", conds: ok},
		{name: "subjectAltName mismatch",
			policies: []string{policy("p", "2026-01-01T00:00:00Z", svc, "{hostname: abc.example.com, "+caRef+", subjectAltNames: [{type: URI, uri: \"spiffe://abc.example.com/other\"}]}")},
			code:     502, conds: ok},
		{name: "missing ConfigMap",
			policies: []string{policy("p", "2026-01-01T00:00:00Z", svc, "{hostname: abc.example.com, caCertificateRefs: [{group: \"\", kind: ConfigMap, name: nope}]}")},
			code:     500, conds: []string{"Accepted=False/NoValidCACertificate", "ResolvedRefs=False/InvalidCACertificateRef"}},
		{name: "ConfigMap without a certificate",
			policies: []string{policy("p", "2026-01-01T00:00:00Z", svc, "{hostname: abc.example.com, caCertificateRefs: [{group: \"\", kind: ConfigMap, name: empty}]}")},
			code:     500, conds: []string{"Accepted=False/NoValidCACertificate", "ResolvedRefs=False/InvalidCACertificateRef"}},
		{name: "invalid kind",
			policies: []string{policy("p", "2026-01-01T00:00:00Z", svc, "{hostname: abc.example.com, caCertificateRefs: [{group: \"\", kind: Service, name: ca}]}")},
			code:     500, conds: []string{"Accepted=False/NoValidCACertificate", "ResolvedRefs=False/InvalidKind"}},
		{name: "one valid reference of two",
			policies: []string{policy("p", "2026-01-01T00:00:00Z", svc, "{hostname: abc.example.com, caCertificateRefs: [{group: \"\", kind: ConfigMap, name: nope}, {group: \"\", kind: ConfigMap, name: ca}]}")},
			code:     200, sni: "abc.example.com", conds: []string{"Accepted=True/Accepted", "ResolvedRefs=False/InvalidCACertificateRef"}},
		{name: "the older of two conflicting policies wins",
			policies: []string{
				policy("q", "2026-01-02T00:00:00Z", svc, "{hostname: abc.example.com, caCertificateRefs: [{group: \"\", kind: ConfigMap, name: other}]}"),
				policy("p", "2026-01-01T00:00:00Z", svc, "{hostname: abc.example.com, "+caRef+"}"),
			},
			code: 200, sni: "abc.example.com", conds: ok, qconds: []string{"Accepted=False/Conflicted", "ResolvedRefs=True/ResolvedRefs"}},
		{name: "a policy on the port takes precedence over one on the Service",
			policies: []string{
				policy("p", "2026-01-02T00:00:00Z", byName, "{hostname: abc.example.com, "+caRef+"}"),
				policy("q", "2026-01-01T00:00:00Z", svc, "{hostname: abc.example.com, caCertificateRefs: [{group: \"\", kind: ConfigMap, name: other}]}"),
			},
			code: 200, sni: "abc.example.com", conds: ok, qconds: ok},
	} {
		t.Run(tc.name, func(t *testing.T) {
			docs := append([]string{httpGateway(""), webRoute, caConfigMap("ca", ca), caConfigMap("other", other),
				"kind: ConfigMap\nmetadata: {name: empty, namespace: default}\ndata: {ca.crt: \"\"}\n"}, tc.policies...)
			cfg := yamlConfig(t, docs...)
			cfg.Services = namedServices{"127.0.0.1:" + be.port}
			rt, err := httproute.New(cfg)
			require.NoError(t, err)
			rec := do(t, rt, "GET", "/", "", nil)
			if rec.Code != tc.code {
				t.Errorf("status %d (%s), want %d", rec.Code, rec.Body, tc.code)
			}
			if tc.sni != "" {
				select {
				case sni := <-be.sni:
					if sni != tc.sni {
						t.Errorf("backend saw SNI %q, want %q", sni, tc.sni)
					}
				default:
					t.Error("the backend saw no request")
				}
			}
			for name, want := range map[string][]string{"p": tc.conds, "q": tc.qconds} {
				if want == nil {
					continue
				}
				st := rt.Status().BackendTLSPolicies[types.NamespacedName{Namespace: "default", Name: name}]
				if len(want) == 0 {
					if len(st.Ancestors) != 0 {
						t.Errorf("policy %s: ancestors %+v, want none", name, st.Ancestors)
					}
					continue
				}
				if len(st.Ancestors) != 1 || st.Ancestors[0].AncestorRef.Name != "gw" {
					t.Fatalf("policy %s: ancestors %+v, want the Gateway gw", name, st.Ancestors)
				}
				if diff := cmp.Diff(want, condReasons(st.Ancestors[0].Conditions)); diff != "" {
					t.Errorf("policy %s conditions (-want +got):\n%s", name, diff)
				}
			}
		})
	}
}

// TestGatewayBackendClientCertificate checks that a Gateway's backend
// client certificate is presented to a backend that requires one, and the
// Gateway's ResolvedRefs condition for references that do not resolve.
func TestGatewayBackendClientCertificate(t *testing.T) {
	serverCA, clientCA := testcert.NewCA("server CA"), testcert.NewCA("client CA")
	be := newTLSBackend(t, "mtls", serverCA.Issue("abc.example.com"), clientCA.Pool())
	p := policy("p", "2026-01-01T00:00:00Z", `{group: "", kind: Service, name: web}`, `{hostname: abc.example.com, caCertificateRefs: [{group: "", kind: ConfigMap, name: ca}]}`)
	for _, tc := range []struct {
		name, ref string
		code      int
		body      string
		resolved  string
	}{
		{"client certificate presented", "{name: client}", 200, "mtls client=gateway", "ResolvedRefs=True/ResolvedRefs"},
		{"missing Secret", "{name: nope}", 502, "", "ResolvedRefs=False/InvalidClientCertificateRef"},
		{"unsupported kind", "{kind: ConfigMap, name: client}", 502, "", "ResolvedRefs=False/InvalidClientCertificateRef"},
		{"Secret without a key pair", "{name: empty}", 502, "", "ResolvedRefs=False/InvalidClientCertificateRef"},
		{"another namespace without a ReferenceGrant", "{name: client, namespace: other}", 502, "", "ResolvedRefs=False/RefNotPermitted"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			gw := httpGateway("  tls: {backend: {clientCertificateRef: " + tc.ref + "}}\n")
			cfg := yamlConfig(t, gw, webRoute, p, caConfigMap("ca", serverCA), tlsSecret("client", clientCA.Issue("gateway")),
				"kind: Secret\nmetadata: {name: empty, namespace: default}\ntype: Opaque\n")
			cfg.Services = namedServices{"127.0.0.1:" + be.port}
			rt, err := httproute.New(cfg)
			require.NoError(t, err)
			rec := do(t, rt, "GET", "/", "", nil)
			if rec.Code != tc.code || (tc.body != "" && rec.Body.String() != tc.body) {
				t.Errorf("got %d %q, want %d %q", rec.Code, rec.Body, tc.code, tc.body)
			}
			st := rt.Status().Gateways[types.NamespacedName{Namespace: "default", Name: "gw"}]
			got := condReasons(st.Conditions)
			if diff := cmp.Diff([]string{"Accepted=True/Accepted", "Programmed=True/Programmed", tc.resolved}, got); diff != "" {
				t.Errorf("Gateway conditions (-want +got):\n%s", diff)
			}
		})
	}
}

// TestFrontendClientCertificates serves an HTTPS listener with the
// Router's TLSConfig on a loopback port and connects with and without
// client certificates.
func TestFrontendClientCertificates(t *testing.T) {
	serverCA, clientCA, other := testcert.NewCA("server CA"), testcert.NewCA("client CA"), testcert.NewCA("someone else")
	good, bad := clientCA.Issue("client"), other.Issue("client")
	gateway := func(validation string) string {
		return `kind: Gateway
metadata: {name: gw, namespace: default}
spec:
  gatewayClassName: c
  tls: {frontend: {default: {validation: ` + validation + `}}}
  listeners: [{name: https, port: 443, protocol: HTTPS, tls: {certificateRefs: [{name: server}]}}]
`
	}
	const route = `kind: HTTPRoute
metadata: {name: r, namespace: default}
spec:
  parentRefs: [{name: gw}]
  rules: [{backendRefs: [{name: app, port: 80}]}]
`
	const caRef = `caCertificateRefs: [{group: "", kind: ConfigMap, name: ca}]`
	for _, tc := range []struct {
		name, validation string
		client           *testcert.Leaf
		ok               bool
		listener         []string // conditions of the listener, Accepted and ResolvedRefs
		insecure         bool     // InsecureFrontendValidationMode on the Gateway
	}{
		{"valid certificate", "{" + caRef + "}", good, true, []string{"Accepted=True/Accepted", "ResolvedRefs=True/ResolvedRefs"}, false},
		{"no certificate", "{" + caRef + "}", nil, false, []string{"Accepted=True/Accepted", "ResolvedRefs=True/ResolvedRefs"}, false},
		{"certificate of another CA", "{" + caRef + "}", bad, false, []string{"Accepted=True/Accepted", "ResolvedRefs=True/ResolvedRefs"}, false},
		{"insecure fallback without a certificate", "{mode: AllowInsecureFallback, " + caRef + "}", nil, true, []string{"Accepted=True/Accepted", "ResolvedRefs=True/ResolvedRefs"}, true},
		{"insecure fallback with another CA's certificate", "{mode: AllowInsecureFallback, " + caRef + "}", bad, true, []string{"Accepted=True/Accepted", "ResolvedRefs=True/ResolvedRefs"}, true},
		{"missing ConfigMap", `{caCertificateRefs: [{group: "", kind: ConfigMap, name: nope}]}`, good, false,
			[]string{"Accepted=False/NoValidCACertificate", "ResolvedRefs=False/InvalidCACertificateRef"}, false},
		{"unsupported kind", `{caCertificateRefs: [{group: "", kind: Service, name: ca}]}`, good, false,
			[]string{"Accepted=False/NoValidCACertificate", "ResolvedRefs=False/InvalidCACertificateKind"}, false},
		{"another namespace without a ReferenceGrant", `{caCertificateRefs: [{group: "", kind: ConfigMap, name: ca, namespace: other}]}`, good, false,
			[]string{"Accepted=False/NoValidCACertificate", "ResolvedRefs=False/RefNotPermitted"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := yamlConfig(t, gateway(tc.validation), route, caConfigMap("ca", clientCA), tlsSecret("server", serverCA.Issue("www.example.com")))
			cfg.Services = httproute.Services{{Namespace: "default", Name: "app", Port: 80}: httproute.InProcess(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				io.WriteString(w, "app")
			}))}
			rt, err := httproute.New(cfg)
			require.NoError(t, err)
			gr := rt.Gateway("default", "gw")
			addr := serveHTTPS(t, gr.TLSConfig(443), gr.Port(443))

			ccfg := &tls.Config{RootCAs: serverCA.Pool(), ServerName: "www.example.com"}
			if tc.client != nil {
				ccfg.Certificates = []tls.Certificate{tc.client.TLS}
			}
			client := &http.Client{Transport: &http.Transport{TLSClientConfig: ccfg, DialContext: (&net.Dialer{}).DialContext}}
			t.Cleanup(client.CloseIdleConnections)
			res, err := client.Get("https://" + addr + "/")
			if tc.ok {
				require.NoError(t, err)
				body, _ := io.ReadAll(res.Body)
				res.Body.Close()
				if res.StatusCode != 200 || string(body) != "app" {
					t.Errorf("got %d %q, want 200 app", res.StatusCode, body)
				}
			} else if err == nil {
				res.Body.Close()
				t.Errorf("the request succeeded with status %d, want a failed handshake", res.StatusCode)
			}
			st := rt.Status().Gateways[types.NamespacedName{Namespace: "default", Name: "gw"}]
			got := condReasons(st.Listeners[0].Conditions)[:2]
			if diff := cmp.Diff(tc.listener, got); diff != "" {
				t.Errorf("listener conditions (-want +got):\n%s", diff)
			}
			insecure := false
			for _, c := range st.Conditions {
				if c.Type == string(gatewayv1.GatewayConditionInsecureFrontendValidationMode) {
					insecure = c.Status == metav1.ConditionTrue && c.Reason == string(gatewayv1.GatewayReasonConfigurationChanged)
				}
			}
			if insecure != tc.insecure {
				t.Errorf("InsecureFrontendValidationMode %v, want %v", insecure, tc.insecure)
			}
		})
	}
}

// TestBackendTLSPolicyOptions checks that a policy with spec.options,
// none of which is implemented, is refused with a message naming the
// first option in key order, the same on every compile (a status message
// that changed from one compile to the next would be rewritten each time).
func TestBackendTLSPolicyOptions(t *testing.T) {
	p := policy("p", "2026-01-01T00:00:00Z", `{group: "", kind: Service, name: web}`, "{hostname: abc.example.com, wellKnownCACertificates: System}") +
		"  options: {example.com/b: \"2\", example.com/a: \"1\", example.com/c: \"3\"}\n"
	cfg := yamlConfig(t, httpGateway(""), webRoute, p)
	cfg.Services = namedServices{"127.0.0.1:1"}
	want := `Accepted=False/Invalid: spec.options: unsupported option "example.com/a"`
	for range 20 {
		rt, err := httproute.New(cfg)
		require.NoError(t, err)
		st := rt.Status().BackendTLSPolicies[types.NamespacedName{Namespace: "default", Name: "p"}]
		if len(st.Ancestors) != 1 {
			t.Fatalf("ancestors %+v, want the Gateway gw", st.Ancestors)
		}
		c := st.Ancestors[0].Conditions[0]
		if got := fmt.Sprintf("%s=%s/%s: %s", c.Type, c.Status, c.Reason, c.Message); got != want {
			t.Fatalf("condition %s, want %s", got, want)
		}
	}
}

// portServices resolves every port of Service default/web named in ports
// to an Upstream of a closed loopback port; its ServicePortName names them.
type portServices struct{ ports map[int32]string }

func (s portServices) ResolveService(ref httproute.BackendRef) (httproute.Backend, error) {
	if _, ok := s.ports[ref.Port]; ref.Name != "web" || !ok {
		return nil, fmt.Errorf("service %s: %w", ref, httproute.ErrNotFound)
	}
	return httproute.NewUpstream(httproute.UpstreamConfig{Endpoints: []string{"127.0.0.1:1"}})
}

func (s portServices) ServicePortName(namespace, name string, port int32) (string, error) {
	if p, ok := s.ports[port]; name == "web" && ok {
		return p, nil
	}
	return "", fmt.Errorf("service %s/%s port %d: %w", namespace, name, port, httproute.ErrNotFound)
}

// unnamedServices is portServices without ServicePortName.
type unnamedServices struct{ s portServices }

func (u unnamedServices) ResolveService(ref httproute.BackendRef) (httproute.Backend, error) {
	return u.s.ResolveService(ref)
}

// TestBackendTLSPolicyAncestors checks which Gateways a BackendTLSPolicy
// lists as ancestors: those whose routes reference a Service port the
// policy targets, the port chosen by targetRefs[].sectionName when it has
// one (GEP-1897, GEP-713). Gateway a routes to port 443 ("https") of
// Service web, Gateway b to port 8443 ("grpc").
func TestBackendTLSPolicyAncestors(t *testing.T) {
	gateway := func(name string) string {
		return "kind: Gateway\nmetadata: {name: " + name + ", namespace: default}\nspec:\n  gatewayClassName: c\n  listeners: [{name: http, port: 80, protocol: HTTP}]\n"
	}
	route := func(name, gw string, port int) string {
		return fmt.Sprintf("kind: HTTPRoute\nmetadata: {name: %s, namespace: default}\nspec:\n  parentRefs: [{name: %s}]\n  rules: [{backendRefs: [{name: web, port: %d}]}]\n", name, gw, port)
	}
	const valid = "{hostname: abc.example.com, wellKnownCACertificates: System}"
	const svc = `{group: "", kind: Service, name: web}`
	section := func(s string) string { return `{group: "", kind: Service, name: web, sectionName: ` + s + `}` }
	ports := portServices{map[int32]string{443: "https", 8443: "grpc", 9000: "admin"}}
	for _, tc := range []struct {
		name     string
		policies []string
		unnamed  bool
		// want are the ancestors of each policy, as Gateway names.
		want   map[string][]string
		reason string
	}{
		{name: "the whole Service",
			policies: []string{policy("p", "2026-01-01T00:00:00Z", svc, valid)},
			want:     map[string][]string{"p": {"a", "b"}}},
		{name: "port https",
			policies: []string{policy("p", "2026-01-01T00:00:00Z", section("https"), valid)},
			want:     map[string][]string{"p": {"a"}}},
		{name: "port grpc",
			policies: []string{policy("p", "2026-01-01T00:00:00Z", section("grpc"), valid)},
			want:     map[string][]string{"p": {"b"}}},
		{name: "a port no route references",
			policies: []string{policy("p", "2026-01-01T00:00:00Z", section("admin"), valid)},
			want:     map[string][]string{"p": {}}},
		{name: "two ports of the Service",
			policies: []string{policy("p", "2026-01-01T00:00:00Z", section("https")+", "+section("grpc"), valid)},
			want:     map[string][]string{"p": {"a", "b"}}},
		{name: "a conflicted policy on a port",
			policies: []string{
				policy("p", "2026-01-01T00:00:00Z", section("grpc"), valid),
				policy("q", "2026-01-02T00:00:00Z", section("grpc"), valid),
			},
			want:   map[string][]string{"p": {"b"}, "q": {"b"}},
			reason: "the loser is reported Conflicted on the Gateways where the port is used"},
		{name: "a policy on the port beside one on the Service",
			policies: []string{
				policy("p", "2026-01-01T00:00:00Z", section("https"), valid),
				policy("q", "2026-01-01T00:00:00Z", svc, valid),
			},
			want:   map[string][]string{"p": {"a"}, "q": {"a", "b"}},
			reason: "a policy without a sectionName is attached to the Service, all its ports"},
		{name: "ports cannot be named",
			policies: []string{
				policy("p", "2026-01-01T00:00:00Z", section("https"), valid),
				policy("q", "2026-01-01T00:00:00Z", `{group: "", kind: Service, name: web}`, valid),
			},
			unnamed: true,
			want:    map[string][]string{"p": {}, "q": {"a", "b"}},
			reason:  "without a ServicePortNamer no referenced port is known to be the policy's; the routes report the error"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			docs := append([]string{gateway("a"), gateway("b"), route("ra", "a", 443), route("rb", "b", 8443)}, tc.policies...)
			cfg := yamlConfig(t, docs...)
			cfg.Services = ports
			if tc.unnamed {
				cfg.Services = unnamedServices{ports}
			}
			rt, err := httproute.New(cfg)
			require.NoError(t, err)
			got := map[string][]string{}
			for nn, st := range rt.Status().BackendTLSPolicies {
				got[nn.Name] = []string{}
				for _, a := range st.Ancestors {
					got[nn.Name] = append(got[nn.Name], string(a.AncestorRef.Name))
				}
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("ancestors (-want +got):\n%s\n%s", diff, tc.reason)
			}
		})
	}
}

// TestMergePolicyAncestors checks the ancestor entries a status writer
// puts into a policy: the Router's replace its controller's, keeping a
// condition's transition time while its status is unchanged, and other
// controllers' entries stay as they are.
func TestMergePolicyAncestors(t *testing.T) {
	const ours, theirs = httproute.DefaultControllerName, gatewayv1.GatewayController("example.com/other")
	t0, t1 := metav1.Unix(1000, 0), metav1.Unix(2000, 0)
	entry := func(c gatewayv1.GatewayController, gw string, status metav1.ConditionStatus, at metav1.Time) gatewayv1.PolicyAncestorStatus {
		return gatewayv1.PolicyAncestorStatus{
			AncestorRef:    gatewayv1.ParentReference{Name: gatewayv1.ObjectName(gw)},
			ControllerName: c,
			Conditions:     []metav1.Condition{{Type: "Accepted", Status: status, Reason: "R", LastTransitionTime: at}},
		}
	}
	for _, tc := range []struct {
		name            string
		cur, next, want []gatewayv1.PolicyAncestorStatus
	}{
		{name: "nothing yet, nothing computed", want: []gatewayv1.PolicyAncestorStatus{}},
		{name: "first write", next: []gatewayv1.PolicyAncestorStatus{entry(ours, "a", "True", t1)},
			want: []gatewayv1.PolicyAncestorStatus{entry(ours, "a", "True", t1)}},
		{name: "unchanged status keeps its transition time",
			cur:  []gatewayv1.PolicyAncestorStatus{entry(ours, "a", "True", t0)},
			next: []gatewayv1.PolicyAncestorStatus{entry(ours, "a", "True", t1)},
			want: []gatewayv1.PolicyAncestorStatus{entry(ours, "a", "True", t0)}},
		{name: "changed status takes the new time",
			cur:  []gatewayv1.PolicyAncestorStatus{entry(ours, "a", "True", t0)},
			next: []gatewayv1.PolicyAncestorStatus{entry(ours, "a", "False", t1)},
			want: []gatewayv1.PolicyAncestorStatus{entry(ours, "a", "False", t1)}},
		{name: "an ancestor no longer computed is dropped",
			cur:  []gatewayv1.PolicyAncestorStatus{entry(ours, "a", "True", t0), entry(ours, "b", "True", t0)},
			next: []gatewayv1.PolicyAncestorStatus{entry(ours, "b", "True", t1)},
			want: []gatewayv1.PolicyAncestorStatus{entry(ours, "b", "True", t0)}},
		{name: "another controller's entries are kept, its times not borrowed",
			cur:  []gatewayv1.PolicyAncestorStatus{entry(theirs, "a", "True", t0)},
			next: []gatewayv1.PolicyAncestorStatus{entry(ours, "a", "True", t1)},
			want: []gatewayv1.PolicyAncestorStatus{entry(ours, "a", "True", t1), entry(theirs, "a", "True", t0)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := httproute.MergePolicyAncestors(tc.cur, tc.next, ours)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("MergePolicyAncestors (-want +got):\n%s", diff)
			}
			for i := range got {
				got[i].Conditions[0].Reason = "changed"
			}
			for _, l := range [][]gatewayv1.PolicyAncestorStatus{tc.cur, tc.next} {
				for _, a := range l {
					if a.Conditions[0].Reason != "R" {
						t.Fatal("the result shares conditions with an argument")
					}
				}
			}
		})
	}
}
