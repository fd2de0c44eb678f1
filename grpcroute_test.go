package httproute_test

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/httproute/httproute"
)

// grpcRoute returns a GRPCRoute created at second sec whose rules are
// the given ones, each sending to Service "svc".
func grpcRoute(name string, sec int64, hosts []string, rules ...gatewayv1.GRPCRouteRule) *gatewayv1.GRPCRoute {
	gr := &gatewayv1.GRPCRoute{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: name, Generation: 1,
		CreationTimestamp: metav1.NewTime(time.Unix(sec, 0))}}
	for _, h := range hosts {
		gr.Spec.Hostnames = append(gr.Spec.Hostnames, gatewayv1.Hostname(h))
	}
	for _, r := range rules {
		r.BackendRefs = grpcBackend("svc")
		gr.Spec.Rules = append(gr.Spec.Rules, r)
	}
	return gr
}

// grpcBackend returns the backendRefs of a rule sending to port 80 of
// Service svc.
func grpcBackend(svc string) []gatewayv1.GRPCBackendRef {
	return []gatewayv1.GRPCBackendRef{{BackendRef: gatewayv1.BackendRef{BackendObjectReference: gatewayv1.BackendObjectReference{
		Name: gatewayv1.ObjectName(svc), Port: ptr(gatewayv1.PortNumber(80))}}}}
}

// method returns a rule matching service and method ("" leaves one out)
// with match type typ ("" leaves the CRD default) and the given headers.
func method(typ gatewayv1.GRPCMethodMatchType, service, meth string, headers ...string) gatewayv1.GRPCRouteRule {
	m := gatewayv1.GRPCRouteMatch{}
	if service != "" || meth != "" {
		m.Method = &gatewayv1.GRPCMethodMatch{}
		if typ != "" {
			m.Method.Type = &typ
		}
		if service != "" {
			m.Method.Service = ptr(service)
		}
		if meth != "" {
			m.Method.Method = ptr(meth)
		}
	}
	for i := 0; i+1 < len(headers); i += 2 {
		m.Headers = append(m.Headers, gatewayv1.GRPCHeaderMatch{Name: gatewayv1.GRPCHeaderName(headers[i]), Value: headers[i+1]})
	}
	return gatewayv1.GRPCRouteRule{Matches: []gatewayv1.GRPCRouteMatch{m}}
}

func grpcRequest(host, path string, header ...string) *http.Request {
	r := httptest.NewRequest(http.MethodPost, "http://"+host+path, nil)
	r.Header.Set("Content-Type", "application/grpc")
	for i := 0; i+1 < len(header); i += 2 {
		r.Header.Set(header[i], header[i+1])
	}
	return r
}

var grpcServices = httproute.Services{{Namespace: "default", Name: "svc", Port: 80}: httproute.InProcess(http.NotFoundHandler())}

// TestGRPCRoutePrecedence pins each tier of GRPCRoute precedence
// (GRPCRouteRule.Matches) through Lookup: which route and rule serve a
// request when several match it.
func TestGRPCRoutePrecedence(t *testing.T) {
	const exact, regex = gatewayv1.GRPCMethodMatchExact, gatewayv1.GRPCMethodMatchRegularExpression
	tests := []struct {
		name   string
		routes []*gatewayv1.GRPCRoute
		req    *http.Request
		want   string // "route/rule", "" for no match
		reason string
	}{{
		name: "service and method before service alone",
		routes: []*gatewayv1.GRPCRoute{
			grpcRoute("svc-only", 1, nil, method(exact, "pkg.Echo", "")),
			grpcRoute("both", 2, nil, method(exact, "pkg.Echo", "Get")),
		},
		req: grpcRequest("a.test", "/pkg.Echo/Get"), want: "both/0",
	}, {
		name: "exact service alone before exact method alone",
		routes: []*gatewayv1.GRPCRoute{
			grpcRoute("method-only", 1, nil, method(exact, "", "Get")),
			grpcRoute("svc-only", 2, nil, method(exact, "pkg.Echo", "")),
		},
		req: grpcRequest("a.test", "/pkg.Echo/Get"), want: "svc-only/0",
		reason: "characters in a matching service come first: the older method-only route has none",
	}, {
		name: "exact service before a longer service pattern",
		routes: []*gatewayv1.GRPCRoute{
			grpcRoute("pattern", 1, nil, method(regex, "pkg\\.Ec.*|other", "")),
			grpcRoute("exact", 2, nil, method(exact, "pkg.Echo", "")),
		},
		req: grpcRequest("a.test", "/pkg.Echo/Get"), want: "exact/0",
	}, {
		name: "the longer service pattern first",
		routes: []*gatewayv1.GRPCRoute{
			grpcRoute("short", 1, nil, method(regex, "pkg.*", "")),
			grpcRoute("long", 2, nil, method(regex, "pkg\\.E.*", "")),
		},
		req: grpcRequest("a.test", "/pkg.Echo/Get"), want: "long/0",
	}, {
		name: "the longer exact method first",
		routes: []*gatewayv1.GRPCRoute{
			grpcRoute("any", 1, nil, method(regex, "", "Get.*")),
			grpcRoute("long", 2, nil, method(exact, "", "GetAll")),
		},
		req: grpcRequest("a.test", "/pkg.Echo/GetAll"), want: "long/0",
	}, {
		name: "more header matches first",
		routes: []*gatewayv1.GRPCRoute{
			grpcRoute("one", 1, nil, method(exact, "pkg.Echo", "Get", "version", "2")),
			grpcRoute("two", 2, nil, method(exact, "pkg.Echo", "Get", "version", "2", "color", "blue")),
		},
		req: grpcRequest("a.test", "/pkg.Echo/Get", "Version", "2", "Color", "blue"), want: "two/0",
	}, {
		name: "method matches before header matches",
		routes: []*gatewayv1.GRPCRoute{
			grpcRoute("headers", 1, nil, method(exact, "pkg.Echo", "", "version", "2", "color", "blue")),
			grpcRoute("method", 2, nil, method(exact, "pkg.Echo", "Get")),
		},
		req: grpcRequest("a.test", "/pkg.Echo/Get", "Version", "2", "Color", "blue"), want: "method/0",
	}, {
		name: "the oldest route on a tie",
		routes: []*gatewayv1.GRPCRoute{
			grpcRoute("b-new", 2, nil, method(exact, "pkg.Echo", "Get")),
			grpcRoute("z-old", 1, nil, method(exact, "pkg.Echo", "Get")),
		},
		req: grpcRequest("a.test", "/pkg.Echo/Get"), want: "z-old/0",
	}, {
		name: "the first rule on a tie within a route",
		routes: []*gatewayv1.GRPCRoute{
			grpcRoute("r", 1, nil, method(exact, "", "", "version", "one"), method(exact, "", "", "color", "blue")),
		},
		req: grpcRequest("a.test", "/pkg.Echo/Get", "Version", "one", "Color", "blue"), want: "r/0",
	}, {
		name: "an exact hostname before a wildcard",
		routes: []*gatewayv1.GRPCRoute{
			grpcRoute("wild", 1, []string{"*.example.com"}, method(exact, "pkg.Echo", "Get")),
			grpcRoute("exact", 2, []string{"a.example.com"}, method(exact, "pkg.Echo", "")),
		},
		req: grpcRequest("a.example.com", "/pkg.Echo/Get"), want: "exact/0",
	}, {
		name: "no matches matches every gRPC request",
		routes: []*gatewayv1.GRPCRoute{
			grpcRoute("all", 1, nil, gatewayv1.GRPCRouteRule{}),
		},
		req: grpcRequest("a.test", "/not/a/grpc/path"), want: "all/0",
	}, {
		name: "a method match needs a /service/method path",
		routes: []*gatewayv1.GRPCRoute{
			grpcRoute("svc", 1, nil, method(exact, "pkg.Echo", "")),
		},
		req: grpcRequest("a.test", "/pkg.Echo/Get/more"), want: "",
	}, {
		name: "the regular expression matches the whole service",
		routes: []*gatewayv1.GRPCRoute{
			grpcRoute("svc", 1, nil, method(regex, "pkg", "")),
		},
		req: grpcRequest("a.test", "/pkg.Echo/Get"), want: "",
	}, {
		name: "a request that is not gRPC matches no GRPCRoute",
		routes: []*gatewayv1.GRPCRoute{
			grpcRoute("all", 1, nil, gatewayv1.GRPCRouteRule{}),
		},
		req: httptest.NewRequest(http.MethodPost, "http://a.test/pkg.Echo/Get", nil), want: "",
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rt := newRouter(t, httproute.Config{GRPCRoutes: tc.routes, Services: grpcServices})
			got := ""
			if m, ok := rt.Lookup(tc.req); ok {
				got = fmt.Sprintf("%s/%d", m.Route.Name, m.Rule)
			}
			if got != tc.want {
				t.Errorf("Lookup = %q, want %q %s", got, tc.want, tc.reason)
			}
		})
	}
}

// TestGRPCAndHTTPRoutesOnMergedListeners checks how the two kinds share a
// path index when two Gateways declare the same port and hostname (the
// Router merges their listeners): gRPC requests go to the GRPCRoute, other
// requests to the HTTPRoute.
func TestGRPCAndHTTPRoutesOnMergedListeners(t *testing.T) {
	gw := func(name string) *gatewayv1.Gateway {
		return &gatewayv1.Gateway{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: name},
			Spec: gatewayv1.GatewaySpec{Listeners: []gatewayv1.Listener{{Name: "http", Port: 80, Protocol: gatewayv1.HTTPProtocolType}}}}
	}
	hr := &gatewayv1.HTTPRoute{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "web"},
		Spec: gatewayv1.HTTPRouteSpec{CommonRouteSpec: gatewayv1.CommonRouteSpec{ParentRefs: []gatewayv1.ParentReference{{Name: "a"}}},
			Rules: []gatewayv1.HTTPRouteRule{{Matches: []gatewayv1.HTTPRouteMatch{{Path: &gatewayv1.HTTPPathMatch{
				Type: ptr(gatewayv1.PathMatchExact), Value: ptr("/pkg.Echo/Get")}}}}}}}
	gr := grpcRoute("rpc", 0, nil, method(gatewayv1.GRPCMethodMatchExact, "pkg.Echo", ""))
	gr.Spec.ParentRefs = []gatewayv1.ParentReference{{Name: "b"}}
	rt := newRouter(t, httproute.Config{Gateways: []*gatewayv1.Gateway{gw("a"), gw("b")}, HTTPRoutes: []*gatewayv1.HTTPRoute{hr},
		GRPCRoutes: []*gatewayv1.GRPCRoute{gr}, Services: grpcServices})
	for _, tc := range []struct {
		req  *http.Request
		want string
	}{
		{grpcRequest("a.test", "/pkg.Echo/Get"), "rpc"},
		{httptest.NewRequest(http.MethodPost, "http://a.test/pkg.Echo/Get", nil), "web"},
	} {
		m, ok := rt.Port(80).Lookup(tc.req)
		if !ok || m.Route.Name != tc.want {
			t.Errorf("%s with Content-Type %q: Lookup = %v %v, want %s", tc.req.URL.Path, tc.req.Header.Get("Content-Type"), m.Route, ok, tc.want)
		}
	}
}

// TestGRPCRouteStatus checks attachment and the statuses of GRPCRoutes
// and of the listeners they attach to.
func TestGRPCRouteStatus(t *testing.T) {
	gw := &gatewayv1.Gateway{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "gw", Generation: 1},
		Spec: gatewayv1.GatewaySpec{Listeners: []gatewayv1.Listener{
			{Name: "any", Port: 80, Protocol: gatewayv1.HTTPProtocolType},
			{Name: "http-only", Port: 81, Protocol: gatewayv1.HTTPProtocolType,
				AllowedRoutes: &gatewayv1.AllowedRoutes{Kinds: []gatewayv1.RouteGroupKind{{Kind: "HTTPRoute"}}}},
			{Name: "grpc-only", Port: 82, Protocol: gatewayv1.HTTPProtocolType,
				AllowedRoutes: &gatewayv1.AllowedRoutes{Kinds: []gatewayv1.RouteGroupKind{{Kind: "GRPCRoute"}}}},
		}}}
	on := func(gr *gatewayv1.GRPCRoute, section string) *gatewayv1.GRPCRoute {
		gr.Spec.ParentRefs = []gatewayv1.ParentReference{{Name: "gw", SectionName: ptr(gatewayv1.SectionName(section))}}
		return gr
	}
	ok := on(grpcRoute("ok", 1, nil, method("", "pkg.Echo", "Get")), "any")
	grpcOnly := on(grpcRoute("grpc-only", 1, nil, method("", "pkg.Echo", "")), "grpc-only")
	refused := on(grpcRoute("refused", 1, nil, method("", "pkg.Echo", "")), "http-only")
	partly := on(grpcRoute("partly", 1, nil, method("", "pkg.Echo", ""), method("", "pkg..Bad", "")), "any")
	missing := on(grpcRoute("missing", 1, nil, method("", "pkg.Other", "")), "any")
	missing.Spec.Rules[0].BackendRefs[0].Name = "nope"
	rt := newRouter(t, httproute.Config{Gateways: []*gatewayv1.Gateway{gw}, Services: grpcServices,
		GRPCRoutes: []*gatewayv1.GRPCRoute{ok, grpcOnly, refused, partly, missing}})
	st := rt.Status()

	got := map[string]string{}
	for nn, s := range st.GRPCRoutes {
		got[nn.Name] = conditions(s.Parents)
	}
	c := func(typ, status, reason, msg string) string {
		if msg == "" {
			msg = reason
		}
		return fmt.Sprintf("%s=%s/%s/%q/g1", typ, status, reason, msg)
	}
	accepted, resolved := c("Accepted", "True", "Accepted", ""), c("ResolvedRefs", "True", "ResolvedRefs", "")
	want := map[string]string{
		"ok":        "{gw " + accepted + "," + resolved + "}",
		"grpc-only": "{gw " + accepted + "," + resolved + "}",
		"refused":   "{gw " + c("Accepted", "False", "NotAllowedByListeners", "no listener selected by the parentRef allows this route") + "," + resolved + "}",
		"partly": "{gw " + accepted + "," + resolved + "," + c("PartiallyInvalid", "True", "UnsupportedValue",
			`Dropped Rule: spec.rules[1].matches[0].method.service: Invalid value: "pkg..Bad": service must only contain valid characters (matching ^(?i)\.?[a-z_][a-z_0-9]*(\.[a-z_][a-z_0-9]*)*$)`) + "}",
		"missing": "{gw " + accepted + "," + c("ResolvedRefs", "False", "BackendNotFound",
			`spec.rules[0].backendRefs[0].name: Invalid value: "nope": service default/nope port 80: httproute: object not found`) + "}",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("GRPCRoute statuses (-want +got):\n%s", diff)
	}
	if len(st.HTTPRoutes) != 0 {
		t.Errorf("HTTPRoutes status %v, want none", st.HTTPRoutes)
	}

	type listener struct {
		kinds    string
		attached int32
	}
	gotL := map[gatewayv1.SectionName]listener{}
	for _, l := range st.Gateways[types.NamespacedName{Namespace: "default", Name: "gw"}].Listeners {
		var kinds []string
		for _, k := range l.SupportedKinds {
			kinds = append(kinds, string(k.Kind))
		}
		gotL[l.Name] = listener{strings.Join(kinds, ","), l.AttachedRoutes}
	}
	wantL := map[gatewayv1.SectionName]listener{
		"any":       {"HTTPRoute,GRPCRoute", 3},
		"http-only": {"HTTPRoute", 0},
		"grpc-only": {"GRPCRoute", 1},
	}
	if diff := cmp.Diff(wantL, gotL, cmp.AllowUnexported(listener{})); diff != "" {
		t.Errorf("listeners (-want +got):\n%s", diff)
	}
}

// TestGRPCRouteErrors checks the errors of invalid GRPCRoutes: named
// after the GRPCRoute and its field, as the API server names them.
func TestGRPCRouteErrors(t *testing.T) {
	tests := []struct {
		name string
		rule gatewayv1.GRPCRouteRule
		want string
	}{{
		name: "neither service nor method",
		rule: gatewayv1.GRPCRouteRule{Matches: []gatewayv1.GRPCRouteMatch{{Method: &gatewayv1.GRPCMethodMatch{Type: ptr(gatewayv1.GRPCMethodMatchExact)}}}},
		want: `grpcroute default/r: spec.rules[0].matches[0].method: Invalid value: "": One or both of 'service' or 'method' must be specified`,
	}, {
		name: "exact method with a slash",
		rule: method(gatewayv1.GRPCMethodMatchExact, "", "Get/All"),
		want: `grpcroute default/r: spec.rules[0].matches[0].method.method: Invalid value: "Get/All": method must only contain valid characters (matching ^[A-Za-z_][A-Za-z_0-9]*$)`,
	}, {
		name: "invalid regular expression",
		rule: method(gatewayv1.GRPCMethodMatchRegularExpression, "pkg(", ""),
		want: "grpcroute default/r: spec.rules[0].matches[0].method.service: Invalid value: \"pkg(\": invalid RE2 regular expression: error parsing regexp: missing closing ): `pkg(`",
	}, {
		name: "unknown match type",
		rule: method("Prefix", "pkg", ""),
		want: `grpcroute default/r: spec.rules[0].matches[0].method.type: Unsupported value: "Prefix": supported values: "Exact", "RegularExpression"`,
	}, {
		name: "filter type of HTTPRoutes only",
		rule: gatewayv1.GRPCRouteRule{Filters: []gatewayv1.GRPCRouteFilter{{Type: "URLRewrite"}}},
		want: `grpcroute default/r: spec.rules[0].filters[0].type: Unsupported value: "URLRewrite": supported values: "RequestHeaderModifier", "ResponseHeaderModifier", "RequestMirror", "ExtensionRef"`,
	}, {
		name: "invalid header value pattern",
		rule: gatewayv1.GRPCRouteRule{Matches: []gatewayv1.GRPCRouteMatch{{Headers: []gatewayv1.GRPCHeaderMatch{{
			Type: ptr(gatewayv1.GRPCHeaderMatchRegularExpression), Name: "version", Value: "("}}}}},
		want: "grpcroute default/r: spec.rules[0].matches[0].headers[0].value: Invalid value: \"(\": invalid RE2 regular expression: error parsing regexp: missing closing ): `(`",
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := httproute.New(httproute.Config{GRPCRoutes: []*gatewayv1.GRPCRoute{grpcRoute("r", 0, nil, tc.rule)},
				Services: grpcServices, Strict: true})
			var e *httproute.Error
			if !errors.As(err, &e) {
				t.Fatalf("New = %v, want an *httproute.Error", err)
			}
			if e.Kind != "GRPCRoute" || err.Error() != tc.want {
				t.Errorf("error (kind %s):\n got %s\nwant %s", e.Kind, err, tc.want)
			}
		})
	}
}
