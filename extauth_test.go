package httproute_test

import (
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/httproute/httproute"
	"github.com/httproute/httproute/httproutetest"
	"github.com/httproute/httproute/validation"
)

func extAuthRoute(config string) string {
	return route("r", `  - filters:
    - type: ExternalAuth
      externalAuth:
        protocol: HTTP
        backendRef: {name: auth, port: 9000}
`+config+`    backendRefs:
    - {name: web, port: 80}
`)
}

// authServer allows requests whose Authorization is "Bearer good", with
// X-User and X-Extra headers for the backend; it answers 401 with a
// WWW-Authenticate challenge and a body otherwise.
func authServer(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("Authorization") != "Bearer good" {
		w.Header().Set("WWW-Authenticate", `Bearer realm="test"`)
		w.WriteHeader(http.StatusUnauthorized)
		io.WriteString(w, "who are you?")
		return
	}
	w.Header().Set("X-User", "alice")
	w.Header().Set("X-Extra", "extra")
	w.Header().Set("Content-Type", "text/plain")
	io.WriteString(w, "ok")
}

func TestExtAuthHTTP(t *testing.T) {
	env := httproutetest.New(t, httproutetest.Options{Channel: validation.Experimental}, extAuthRoute(`        http:
          path: /check/
          allowedHeaders: [x-tenant]
          allowedResponseHeaders: [X-User]
`))
	auth := env.Backend("default", "auth", 9000)
	auth.SetHandler(http.HandlerFunc(authServer))
	env.Run(t, []httproutetest.Case{
		{Name: "allowed, allowed response headers copied",
			Request: httproutetest.Request{Method: "POST", Path: "/a/b?x=1", Body: "data",
				Header: http.Header{"Authorization": {"Bearer good"}, "Content-Type": {"application/json"}, "X-User": {"mallory"}}},
			Want: httproutetest.Want{Status: 200, Backend: "default/web:80", BackendPath: "/a/b?x=1", BackendBody: "data",
				BackendHeader:       map[string]string{"X-User": "alice", "Content-Type": "application/json", "Authorization": "Bearer good"},
				BackendAbsentHeader: []string{"X-Extra"}}},
		{Name: "denied: the auth answer reaches the client",
			Request: httproutetest.Request{Path: "/a", Header: http.Header{"Authorization": {"Bearer bad"}}},
			Want: httproutetest.Want{Status: 401, Backend: "default/auth:9000", Body: "who are you?",
				Header: map[string]string{"Www-Authenticate": `Bearer realm="test"`}}},
	})
	got := auth.Received()
	if len(got) != 2 {
		t.Fatalf("auth asked %d times, want 2", len(got))
	}
	a := got[0]
	if a.Method != "POST" || a.Path != "/check/a/b?x=1" || a.Host != "example.com" || a.Body != "" {
		t.Errorf("auth request = %s %s host %s body %q", a.Method, a.Path, a.Host, a.Body)
	}
	for name, want := range map[string]string{"Authorization": "Bearer good", "Content-Type": "", "X-User": "", "Content-Length": ""} {
		if v := a.Header.Get(name); v != want {
			t.Errorf("auth request header %s = %q, want %q", name, v, want)
		}
	}
}

func TestExtAuthAllResponseHeadersAndBody(t *testing.T) {
	env := httproutetest.New(t, httproutetest.Options{Network: true, Channel: validation.Experimental}, extAuthRoute(`        forwardBody: {maxSize: 8}
        http: {}
`))
	auth := env.Backend("default", "auth", 9000)
	auth.SetHandler(http.HandlerFunc(authServer))
	env.Run(t, []httproutetest.Case{
		{Name: "every answer header but framing ones",
			Request: httproutetest.Request{Method: "PUT", Path: "/", Body: "12345678", Header: http.Header{"Authorization": {"Bearer good"}, "Content-Type": {"application/json"}}},
			Want: httproutetest.Want{Status: 200, Backend: "default/web:80", BackendBody: "12345678",
				BackendHeader: map[string]string{"X-User": "alice", "X-Extra": "extra", "Content-Type": "application/json"}}},
		{Name: "a body over maxSize is refused with 413",
			Request: httproutetest.Request{Method: "PUT", Path: "/", Body: "123456789", Header: http.Header{"Authorization": {"Bearer good"}}},
			Want:    httproutetest.Want{Status: 413, Backend: "-"}},
	})
	if got := auth.Received(); len(got) != 1 || got[0].Body != "12345678" || got[0].Header.Get("Content-Length") != "8" {
		t.Errorf("auth requests = %+v, want one with the 8-byte body", got)
	}
}

// TestExtAuthHopByHop checks that the hop-by-hop fields of the auth
// answer (RFC 9110 section 7.6.1) reach neither the backend, when the
// request is allowed and every answer header is copied, nor the client,
// when it is denied; the other fields do.
func TestExtAuthHopByHop(t *testing.T) {
	env := httproutetest.New(t, httproutetest.Options{Channel: validation.Experimental}, extAuthRoute(`        http: {}
`))
	auth := env.Backend("default", "auth", 9000)
	hop := []string{"Keep-Alive", "Proxy-Authenticate", "Proxy-Authorization", "Proxy-Connection", "Te", "Trailer", "Upgrade"}
	auth.SetHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for _, k := range hop {
			w.Header()[k] = []string{"from-auth"}
		}
		w.Header().Set("X-User", "alice")
		if r.Header.Get("Authorization") != "Bearer good" {
			w.WriteHeader(http.StatusForbidden)
		}
	}))
	env.Run(t, []httproutetest.Case{
		{Name: "allowed: hop-by-hop answer fields not set on the request",
			Request: httproutetest.Request{Path: "/", Header: http.Header{"Authorization": {"Bearer good"}}},
			Want: httproutetest.Want{Status: 200, Backend: "default/web:80",
				BackendHeader: map[string]string{"X-User": "alice"}, BackendAbsentHeader: hop}},
		{Name: "denied: hop-by-hop answer fields not sent to the client",
			Request: httproutetest.Request{Path: "/"},
			Want: httproutetest.Want{Status: 403, Backend: "default/auth:9000",
				Header: map[string]string{"X-User": "alice"}, AbsentHeader: hop}},
	})
}

func TestExtAuthFailsClosed(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	down, err := httproute.NewUpstream(httproute.UpstreamConfig{Endpoints: []string{addr}})
	if err != nil {
		t.Fatal(err)
	}
	var logs syncBuffer
	env := httproutetest.New(t, httproutetest.Options{
		Channel:  validation.Experimental,
		Logger:   slog.New(slog.NewTextHandler(&logs, nil)),
		Backends: httproute.Services{{Namespace: "default", Name: "auth", Port: 9000}: down},
	}, extAuthRoute("        http: {}\n"))
	env.Run(t, []httproutetest.Case{{Name: "unreachable auth backend", Request: httproutetest.Request{Header: http.Header{"Authorization": {"Bearer good"}}},
		Want: httproutetest.Want{Status: http.StatusServiceUnavailable, Backend: "-"}}})
	if !strings.Contains(logs.String(), `msg="external auth failed" backend=default/auth:9000`) {
		t.Errorf("no failure logged:\n%s", logs.String())
	}

	// An auth backend that does not resolve: the filter answers 500.
	env = httproutetest.New(t, httproutetest.Options{Channel: validation.Experimental}, route("r", `  - filters:
    - type: ExternalAuth
      externalAuth:
        protocol: HTTP
        backendRef: {name: auth, namespace: other, port: 9000}
        http: {}
    backendRefs:
    - {name: web, port: 80}
`))
	env.Run(t, []httproutetest.Case{{Name: "unresolved auth backend", Want: httproutetest.Want{Status: 500, Backend: "-"}}})
}

func TestExtAuthInvalid(t *testing.T) {
	tests := []struct{ name, filter, want string }{
		{"gRPC", `        protocol: GRPC
        backendRef: {name: auth, port: 9000}
        grpc: {}
`, `httproute default/web: spec.rules[0].filters[0].externalAuth.protocol: Unsupported value: "GRPC": supported values: "HTTP"`},
		{"grpc config with HTTP", `        protocol: HTTP
        backendRef: {name: auth, port: 9000}
        grpc: {}
`, `httproute default/web: spec.rules[0].filters[0].externalAuth.grpc: Invalid value: "": protocol must be 'GRPC' when grpc is set`},
		{"dot segment in path", `        protocol: HTTP
        backendRef: {name: auth, port: 9000}
        http: {path: /a/../b}
`, `httproute default/web: spec.rules[0].filters[0].externalAuth.http.path: Invalid value: "/a/../b": must not contain '.' or '..' segments`},
		{"query in path", `        protocol: HTTP
        backendRef: {name: auth, port: 9000}
        http: {path: "/a?b"}
`, `httproute default/web: spec.rules[0].filters[0].externalAuth.http.path: Invalid value: "/a?b": must consist of path characters or %-escapes`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := strictErr(t, nil, route("web", `  - filters:
    - type: ExternalAuth
      externalAuth:
`+tc.filter+`    backendRefs:
    - {name: web, port: 80}
`))
			if err == nil || err.Error() != tc.want {
				t.Errorf("err = %v\nwant %s", err, tc.want)
			}
		})
	}
}
