package httproute_test

import (
	"crypto/tls"
	"io"
	"log"
	"net"
	"net/http"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"

	"github.com/httproute/httproute"
	"github.com/httproute/httproute/internal/testcert"
)

// handshakeRouter serves port 443 of two Gateways: a.example.com, whose
// Gateway verifies client certificates of clientCA, and b.example.com,
// whose Gateway does not; each with a certificate of its own.
func handshakeRouter(t testing.TB, serverCA, clientCA *testcert.CA) (*httproute.Router, map[string]*testcert.Leaf) {
	t.Helper()
	gateway := func(name, host, frontend string) string {
		return "kind: Gateway\nmetadata: {name: " + name + ", namespace: default}\nspec:\n  gatewayClassName: c\n" + frontend +
			"  listeners: [{name: https, port: 443, protocol: HTTPS, hostname: " + host + ", tls: {certificateRefs: [{name: " + name + "}]}}]\n"
	}
	const route = "kind: HTTPRoute\nmetadata: {name: r, namespace: default}\nspec:\n  parentRefs: [{name: a}, {name: b}]\n  rules: [{backendRefs: [{name: app, port: 80}]}]\n"
	leaves := map[string]*testcert.Leaf{"a.example.com": serverCA.Issue("a.example.com"), "b.example.com": serverCA.Issue("b.example.com")}
	cfg := yamlConfig(t,
		gateway("a", "a.example.com", `  tls: {frontend: {default: {validation: {caCertificateRefs: [{group: "", kind: ConfigMap, name: ca}]}}}}`+"\n"),
		gateway("b", "b.example.com", ""),
		route, caConfigMap("ca", clientCA), tlsSecret("a", leaves["a.example.com"]), tlsSecret("b", leaves["b.example.com"]))
	cfg.Services = httproute.Services{{Namespace: "default", Name: "app", Port: 80}: httproute.InProcess(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "app")
	}))}
	rt, err := httproute.New(cfg)
	require.NoError(t, err)
	return rt, leaves
}

// serveHTTPS serves h over TLS with cfg on a loopback port until the test
// ends, and returns the port's address.
func serveHTTPS(t testing.TB, cfg *tls.Config, h http.Handler) string {
	t.Helper()
	ln, err := tls.Listen("tcp", "127.0.0.1:0", cfg)
	require.NoError(t, err)
	srv := &http.Server{Handler: h, ErrorLog: log.New(io.Discard, "", 0)}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().String()
}

// TestTLSHandshakeListener checks over loopback that the server name of a
// ClientHello selects one listener of the port, whose certificate and
// client-certificate requirement the handshake uses together, across two
// Gateways of the port with different frontend validation.
func TestTLSHandshakeListener(t *testing.T) {
	serverCA, clientCA := testcert.NewCA("server CA"), testcert.NewCA("client CA")
	rt, leaves := handshakeRouter(t, serverCA, clientCA)
	client := clientCA.Issue("client")
	addr := serveHTTPS(t, rt.TLSConfig(443), rt.Port(443))

	// hostOf names the listener of a certificate by its hostname.
	hostOf := func(der []byte) string {
		for h, l := range leaves {
			if string(l.TLS.Certificate[0]) == string(der) {
				return h
			}
		}
		return "an unknown certificate"
	}
	type outcome struct {
		// Cert is the hostname of the listener whose certificate was
		// served, "" when the handshake failed.
		Cert string
		// Requested reports whether the server asked for a client
		// certificate.
		Requested bool
		// Status is the answer to a request for the server name, 0 when
		// none came.
		Status int
	}
	for _, tc := range []struct {
		name, sni  string
		clientCert bool
		want       outcome
	}{
		{name: "listener verifying client certificates, with one", sni: "a.example.com", clientCert: true,
			want: outcome{Cert: "a.example.com", Requested: true, Status: 200}},
		{name: "listener verifying client certificates, without one", sni: "a.example.com",
			want: outcome{Cert: "a.example.com", Requested: true}},
		{name: "listener without client certificates", sni: "b.example.com",
			want: outcome{Cert: "b.example.com", Status: 200}},
		{name: "listener without client certificates, offered one", sni: "b.example.com", clientCert: true,
			want: outcome{Cert: "b.example.com", Status: 200}},
		{name: "server name in upper case", sni: "B.EXAMPLE.COM",
			want: outcome{Cert: "b.example.com", Status: 200}},
		{name: "no listener for the name", sni: "c.example.com"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got outcome
			ccfg := &tls.Config{
				RootCAs: serverCA.Pool(), ServerName: tc.sni,
				GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
					got.Requested = true
					if tc.clientCert {
						return &client.TLS, nil
					}
					return &tls.Certificate{}, nil
				},
				VerifyConnection: func(cs tls.ConnectionState) error {
					got.Cert = hostOf(cs.PeerCertificates[0].Raw)
					return nil
				},
			}
			tr := &http.Transport{TLSClientConfig: ccfg}
			t.Cleanup(tr.CloseIdleConnections)
			req, err := http.NewRequest("GET", "https://"+addr+"/", nil)
			require.NoError(t, err)
			req.Host = tc.sni
			if res, err := tr.RoundTrip(req); err == nil {
				got.Status = res.StatusCode
				res.Body.Close()
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("handshake for %q (-want +got):\n%s", tc.sni, diff)
			}
		})
	}
}

// BenchmarkTLSHandshake measures a full handshake over loopback with
// Router.TLSConfig, for a listener without client certificates.
func BenchmarkTLSHandshake(b *testing.B) {
	serverCA, clientCA := testcert.NewCA("server CA"), testcert.NewCA("client CA")
	rt, _ := handshakeRouter(b, serverCA, clientCA)
	addr := serveHTTPS(b, rt.TLSConfig(443), rt.Port(443))
	ccfg := &tls.Config{RootCAs: serverCA.Pool(), ServerName: "b.example.com"}
	b.ReportAllocs()
	for b.Loop() {
		c, err := tls.Dial("tcp", addr, ccfg)
		if err != nil {
			b.Fatal(err)
		}
		c.Close()
	}
}

// TestTLSHandshakeProtocols checks that a listener verifying client
// certificates offers the application protocols of the Config TLSConfig
// returned, as the others do: an http.Server that speaks HTTP/1 only,
// with NextProtos set to http/1.1 as TLSConfig's documentation says,
// serves a client that offers h2 on both kinds of listener, and one that
// speaks HTTP/2 serves it over h2 on both.
func TestTLSHandshakeProtocols(t *testing.T) {
	serverCA, clientCA := testcert.NewCA("server CA"), testcert.NewCA("client CA")
	rt, _ := handshakeRouter(t, serverCA, clientCA)
	client := clientCA.Issue("client")
	for _, tc := range []struct {
		name      string
		http1Only bool
		wantProto string
	}{
		{name: "server speaking HTTP/1 only", http1Only: true, wantProto: "HTTP/1.1"},
		{name: "server speaking HTTP/1 and HTTP/2", wantProto: "HTTP/2.0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := rt.TLSConfig(443)
			srv := &http.Server{Handler: rt.Port(443), TLSConfig: cfg, ErrorLog: log.New(io.Discard, "", 0)}
			if tc.http1Only {
				cfg.NextProtos = []string{"http/1.1"}
				srv.Protocols = new(http.Protocols)
				srv.Protocols.SetHTTP1(true)
			}
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			require.NoError(t, err)
			go srv.ServeTLS(ln, "", "")
			t.Cleanup(func() { srv.Close() })
			for _, host := range []string{"a.example.com", "b.example.com"} {
				tr := &http.Transport{ForceAttemptHTTP2: true, TLSClientConfig: &tls.Config{
					RootCAs: serverCA.Pool(), ServerName: host, Certificates: []tls.Certificate{client.TLS},
				}}
				t.Cleanup(tr.CloseIdleConnections)
				req, err := http.NewRequest("GET", "https://"+ln.Addr().String()+"/", nil)
				require.NoError(t, err)
				req.Host = host
				res, err := tr.RoundTrip(req)
				if err != nil {
					t.Errorf("%s: %v", host, err)
					continue
				}
				res.Body.Close()
				if res.StatusCode != 200 || res.Proto != tc.wantProto {
					t.Errorf("%s: %d over %s, want 200 over %s", host, res.StatusCode, res.Proto, tc.wantProto)
				}
			}
		})
	}
}
