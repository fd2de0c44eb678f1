package httproute_test

import (
	"crypto/tls"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/httproute/httproute"
	"github.com/httproute/httproute/httproutetest"
	"github.com/httproute/httproute/internal/testcert"
	"github.com/httproute/httproute/validation"
)

// lsGateway is Gateway infra/gw with one HTTP listener "http" on port 80
// for gw.example.com, and allowedListeners as given (YAML, "" for none).
func lsGateway(allowed string) string {
	doc := `apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: gw, namespace: infra}
spec:
  gatewayClassName: test
  listeners:
  - {name: http, port: 80, protocol: HTTP, hostname: gw.example.com, allowedRoutes: {namespaces: {from: All}}}
`
	if allowed != "" {
		doc += "  allowedListeners: " + allowed + "\n"
	}
	return doc
}

// listenerSet is ListenerSet ns/name of Gateway infra/gw, created at
// second created of 2026-01-01 (its precedence), with the listeners given
// as YAML list items.
func listenerSet(ns, name string, created int, listeners ...string) string {
	return fmt.Sprintf(`apiVersion: gateway.networking.k8s.io/v1
kind: ListenerSet
metadata: {name: %s, namespace: %s, creationTimestamp: "2026-01-01T00:00:%02dZ"}
spec:
  parentRef: {name: gw, namespace: infra}
  listeners:
  - %s
`, name, ns, created, strings.Join(listeners, "\n  - "))
}

// lsRoute is HTTPRoute ns/name serving every request with Service
// ns/name:80, attached through the parentRefs given as YAML flow maps.
func lsRoute(ns, name string, parentRefs ...string) string {
	return fmt.Sprintf(`apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: %s, namespace: %s}
spec:
  parentRefs: [%s]
  rules:
  - backendRefs: [{name: %s, port: 80}]
`, name, ns, strings.Join(parentRefs, ", "), name)
}

func namespaceDoc(name string, labels string) string {
	return fmt.Sprintf("apiVersion: v1\nkind: Namespace\nmetadata: {name: %s, labels: {%s}}\n", name, labels)
}

// lsRouter builds a Router from the manifests, read as production reads
// them (CRD-validated, experimental channel); every Service answers with
// its "namespace/name:port".
func lsRouter(t *testing.T, edit func(*httproute.Config), docs ...string) *httproute.Router {
	t.Helper()
	cfg, err := httproutetest.Options{Channel: validation.Experimental}.Decode(docs...)
	require.NoError(t, err)
	cfg.Services = demoServices(nil)
	cfg.Now = fixedNow
	cfg.Logger = slog.New(slog.DiscardHandler)
	if edit != nil {
		edit(&cfg)
	}
	rt, err := httproute.New(cfg)
	require.NoError(t, err)
	return rt
}

// condReasons summarizes conditions as "Type=Status/Reason".
func condReasons(cs []metav1.Condition) []string {
	out := make([]string, 0, len(cs))
	for _, c := range cs {
		out = append(out, fmt.Sprintf("%s=%s/%s", c.Type, c.Status, c.Reason))
	}
	return out
}

// answer returns what the Router answers on port 80 for host: the
// Service that served it, or the status code.
func answer(h interface {
	Port(int32) *httproute.PortRouter
}, port int32, host string) string {
	code, body := serve(h.Port(port), "http://"+host+"/")
	if code != 200 {
		return fmt.Sprint(code)
	}
	return body
}

// TestListenerSetAllowedListeners: a Gateway takes a ListenerSet's
// listeners only when spec.allowedListeners admits its namespace (none by
// default), and reports how many it took.
func TestListenerSetAllowedListeners(t *testing.T) {
	ls := listenerSet("apps", "ls", 0, "{name: web, port: 80, protocol: HTTP, hostname: ls.example.com}")
	lsSame := strings.ReplaceAll(ls, "namespace: apps,", "namespace: infra,")
	for _, tc := range []struct {
		name, allowed, set string
		wantCond           []string
		wantServed         string
	}{
		{"default is None", "", ls, []string{"Accepted=False/NotAllowed", "Programmed=False/NotAllowed"}, "404"},
		{"None", "{namespaces: {from: None}}", lsSame, []string{"Accepted=False/NotAllowed", "Programmed=False/NotAllowed"}, "404"},
		{"Same admits the Gateway's namespace", "{namespaces: {from: Same}}", lsSame, []string{"Accepted=True/Accepted", "Programmed=True/Programmed"}, "infra/r:80"},
		{"Same refuses another namespace", "{namespaces: {from: Same}}", ls, []string{"Accepted=False/NotAllowed", "Programmed=False/NotAllowed"}, "404"},
		{"All", "{namespaces: {from: All}}", ls, []string{"Accepted=True/Accepted", "Programmed=True/Programmed"}, "apps/r:80"},
		{"Selector matching", "{namespaces: {from: Selector, selector: {matchLabels: {team: apps}}}}", ls,
			[]string{"Accepted=True/Accepted", "Programmed=True/Programmed"}, "apps/r:80"},
		{"Selector not matching", "{namespaces: {from: Selector, selector: {matchLabels: {team: web}}}}", ls,
			[]string{"Accepted=False/NotAllowed", "Programmed=False/NotAllowed"}, "404"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			setNS := "apps"
			if tc.set == lsSame {
				setNS = "infra"
			}
			rt := lsRouter(t, nil, namespaceDoc("apps", "team: apps"), lsGateway(tc.allowed), tc.set,
				lsRoute(setNS, "r", "{kind: ListenerSet, name: ls}"))
			st := rt.Status()
			lss := st.ListenerSets[nn(setNS, "ls")]
			assert.Equal(t, tc.wantCond, condReasons(lss.Conditions))
			var wantAttached int32
			if tc.wantServed != "404" {
				wantAttached = 1
			}
			gw := st.Gateways[nn("infra", "gw")]
			require.NotNil(t, gw.AttachedListenerSets, "attachedListenerSets is written when a ListenerSet names the Gateway")
			assert.Equal(t, wantAttached, *gw.AttachedListenerSets)
			assert.Equal(t, tc.wantServed, answer(rt, 80, "ls.example.com"))
			assert.Equal(t, tc.wantServed, answer(rt.Gateway("infra", "gw"), 80, "ls.example.com"), "the Gateway's own view merges the ListenerSet")
		})
	}
}

// TestListenerSetPrecedenceAndConflicts: the merged list is the
// Gateway's listeners, then ListenerSets from the oldest, then by
// namespace/name; a listener conflicting with one before it loses.
func TestListenerSetPrecedenceAndConflicts(t *testing.T) {
	http80 := func(name, host string) string {
		return fmt.Sprintf("{name: %s, port: 80, protocol: HTTP, hostname: %s, allowedRoutes: {namespaces: {from: All}}}", name, host)
	}
	docs := []string{
		lsGateway("{namespaces: {from: All}}"),
		// a is newer than b: b wins shared.example.com although "a" < "b".
		listenerSet("apps", "a", 2, http80("x", "gw.example.com"), http80("yy", "shared.example.com"), http80("own", "a.example.com")),
		listenerSet("apps", "b", 1, http80("s", "shared.example.com")),
		// c, as old as b but after it by name, only has a TCP listener on
		// the HTTP port.
		listenerSet("apps", "c", 1, "{name: tcp, port: 80, protocol: TCP}"),
		// As old as each other: apps/e before other/e.
		listenerSet("apps", "e", 3, http80("t", "tie.example.com")),
		listenerSet("other", "e", 3, http80("t", "tie.example.com")),
		// An unserved protocol still holds its port: a later HTTP
		// listener on it conflicts.
		listenerSet("apps", "f", 4, "{name: tcp, port: 9000, protocol: TCP}"),
		listenerSet("apps", "g", 5, "{name: web, port: 9000, protocol: HTTP}", http80("ok", "g.example.com")),
		lsRoute("apps", "ra", "{kind: ListenerSet, name: a}"),
		lsRoute("apps", "rb", "{kind: ListenerSet, name: b}"),
		lsRoute("apps", "re", "{kind: ListenerSet, name: e}"),
		lsRoute("other", "re", "{kind: ListenerSet, name: e}"),
		lsRoute("apps", "rg", "{kind: ListenerSet, name: g}"),
		lsRoute("infra", "rgw", "{name: gw}"),
	}
	rt := lsRouter(t, nil, docs...)
	st := rt.Status()

	accepted := []string{"Accepted=True/Accepted", "ResolvedRefs=True/ResolvedRefs", "Programmed=True/Programmed", "Conflicted=False/NoConflicts"}
	hostConflict := []string{"Accepted=False/HostnameConflict", "ResolvedRefs=True/ResolvedRefs", "Programmed=False/HostnameConflict", "Conflicted=True/HostnameConflict"}
	protoConflict := []string{"Accepted=False/ProtocolConflict", "ResolvedRefs=True/ResolvedRefs", "Programmed=False/ProtocolConflict", "Conflicted=True/ProtocolConflict"}
	unsupported := []string{"Accepted=False/UnsupportedProtocol", "ResolvedRefs=True/ResolvedRefs", "Programmed=False/Invalid", "Conflicted=False/NoConflicts"}
	setOK := []string{"Accepted=True/Accepted", "Programmed=True/Programmed"}
	setInvalid := []string{"Accepted=False/ListenersNotValid", "Programmed=False/ListenersNotValid"}
	type set struct {
		Conditions []string
		Listeners  map[string][]string
	}
	want := map[string]set{
		"apps/a":  {setOK, map[string][]string{"x": hostConflict, "yy": hostConflict, "own": accepted}},
		"apps/b":  {setOK, map[string][]string{"s": accepted}},
		"apps/c":  {setInvalid, map[string][]string{"tcp": protoConflict}},
		"apps/e":  {setOK, map[string][]string{"t": accepted}},
		"other/e": {setInvalid, map[string][]string{"t": hostConflict}},
		"apps/f":  {setInvalid, map[string][]string{"tcp": unsupported}},
		"apps/g":  {setOK, map[string][]string{"web": protoConflict, "ok": accepted}},
	}
	got := map[string]set{}
	for k, s := range st.ListenerSets {
		g := set{Conditions: condReasons(s.Conditions), Listeners: map[string][]string{}}
		for _, l := range s.Listeners {
			g.Listeners[string(l.Name)] = condReasons(l.Conditions)
		}
		got[k.String()] = g
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("ListenerSet status (-want +got):\n%s", diff)
	}
	gw := st.Gateways[nn("infra", "gw")]
	assert.Equal(t, accepted, condReasons(gw.Listeners[0].Conditions), "the Gateway's own listener never loses")
	require.NotNil(t, gw.AttachedListenerSets)
	assert.Equal(t, int32(4), *gw.AttachedListenerSets, "a, b, apps/e and g are Accepted")

	for host, want := range map[string]string{
		"gw.example.com":     "infra/rgw:80",
		"shared.example.com": "apps/rb:80",
		"a.example.com":      "apps/ra:80",
		"tie.example.com":    "apps/re:80",
		"g.example.com":      "apps/rg:80",
	} {
		assert.Equal(t, want, answer(rt, 80, host), host)
	}
	msg := st.ListenerSets[nn("apps", "a")].Listeners[0].Conditions[0].Message
	assert.NotContains(t, msg, "infra/gw", "a conflict message names no other object")
	assert.Contains(t, msg, "hostname gw.example.com on port 80 is taken")
}

// TestListenerSetRouteParentRefs: a parentRef to a ListenerSet attaches
// to its listeners only (selected by sectionName and port, names that
// may repeat the Gateway's), a parentRef to the Gateway to the Gateway's
// own only; allowedRoutes' Same is the ListenerSet's namespace.
func TestListenerSetRouteParentRefs(t *testing.T) {
	docs := []string{
		lsGateway("{namespaces: {from: All}}"),
		listenerSet("apps", "ls", 0,
			"{name: one, port: 80, protocol: HTTP, hostname: one.example.com}", // allowedRoutes defaults to Same
			"{name: two, port: 8080, protocol: HTTP, hostname: two.example.com, allowedRoutes: {namespaces: {from: All}}}",
			"{name: http, port: 80, protocol: HTTP, hostname: dup.example.com}"),
		`apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: closed, namespace: infra}
spec:
  gatewayClassName: test
  listeners: [{name: http, port: 81, protocol: HTTP}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: ListenerSet
metadata: {name: refused, namespace: apps}
spec:
  parentRef: {name: closed, namespace: infra}
  listeners: [{name: http, port: 81, protocol: HTTP}]
`,
		lsRoute("infra", "to-gateway", "{name: gw}"),
		lsRoute("infra", "gateway-section", "{name: gw, sectionName: one}"),
		lsRoute("apps", "to-set", "{kind: ListenerSet, name: ls}"),
		lsRoute("apps", "set-section", "{kind: ListenerSet, name: ls, sectionName: http}"),
		lsRoute("apps", "set-port", "{kind: ListenerSet, name: ls, port: 8080}"),
		lsRoute("other", "other-ns", "{kind: ListenerSet, name: ls, namespace: apps, sectionName: one}",
			"{kind: ListenerSet, name: ls, namespace: apps, sectionName: two}"),
		lsRoute("apps", "missing", "{kind: ListenerSet, name: nope}", "{kind: ListenerSet, name: ls, sectionName: nope}"),
		lsRoute("apps", "to-refused", "{kind: ListenerSet, name: refused}"),
	}
	rt := lsRouter(t, nil, docs...)
	st := rt.Status()
	parents := map[string][]string{}
	for k, rs := range st.HTTPRoutes {
		for _, p := range rs.Parents {
			c := findCondition(p.Conditions, "Accepted")
			parents[k.String()] = append(parents[k.String()], fmt.Sprintf("%s %s=%s/%s %s", *p.ParentRef.Kind, p.ParentRef.Name, c.Status, c.Reason, c.Message))
		}
	}
	want := map[string][]string{
		"infra/to-gateway":      {"Gateway gw=True/Accepted Accepted"},
		"infra/gateway-section": {"Gateway gw=False/NoMatchingParent no listener matches the parentRef's sectionName and port"},
		"apps/to-set":           {"ListenerSet ls=True/Accepted Accepted"},
		"apps/set-section":      {"ListenerSet ls=True/Accepted Accepted"},
		"apps/set-port":         {"ListenerSet ls=True/Accepted Accepted"},
		"other/other-ns": {"ListenerSet ls=False/NotAllowedByListeners no listener selected by the parentRef allows this route",
			"ListenerSet ls=True/Accepted Accepted"},
		"apps/missing": {"ListenerSet nope=False/NoMatchingParent listenerset apps/nope not found",
			"ListenerSet ls=False/NoMatchingParent no listener matches the parentRef's sectionName and port"},
		"apps/to-refused": {"ListenerSet refused=False/NotAllowedByListeners listenerset apps/refused is not accepted: " +
			"gateway infra/closed does not allow ListenerSets from namespace apps (allowedListeners.namespaces.from: None)"},
	}
	if diff := cmp.Diff(want, parents); diff != "" {
		t.Errorf("route parents (-want +got):\n%s", diff)
	}

	attached := map[string]int32{}
	for _, l := range st.ListenerSets[nn("apps", "ls")].Listeners {
		attached[string(l.Name)] = l.AttachedRoutes
	}
	assert.Equal(t, map[string]int32{"one": 1, "two": 3, "http": 2}, attached)
	assert.Equal(t, int32(1), st.Gateways[nn("infra", "gw")].Listeners[0].AttachedRoutes, "the Gateway's http counts to-gateway only")

	for _, tc := range []struct {
		port     int32
		host     string
		want     string
		listener string
	}{
		{80, "gw.example.com", "infra/to-gateway:80", "infra/gw http"},
		{80, "one.example.com", "apps/to-set:80", "apps/ls one"},
		{80, "dup.example.com", "apps/set-section:80", "apps/ls http"},
		{8080, "two.example.com", "apps/set-port:80", "apps/ls two"},
	} {
		req := httptest.NewRequest("GET", "http://"+tc.host+"/", nil)
		m, ok := rt.Port(tc.port).Lookup(req)
		require.True(t, ok, tc.host)
		assert.Equal(t, tc.want, m.Route.String()+":80", tc.host)
		listener := m.ListenerSet.String() + " " + string(m.Listener)
		if m.ListenerSet == (types.NamespacedName{}) {
			listener = m.Gateway.String() + " " + string(m.Listener)
		}
		assert.Equal(t, tc.listener, listener, tc.host)
		assert.Equal(t, nn("infra", "gw"), m.Gateway, "a ListenerSet's listener belongs to its Gateway")
		assert.Equal(t, tc.port, m.Port)
	}
}

// TestListenerSetParentNotAccepted: a ListenerSet whose Gateway is
// missing or not Accepted is not accepted either; one whose parent is not
// the Router's (a Gateway of another class, another kind) has no status,
// and routes' parentRefs to it are ignored.
func TestListenerSetParentNotAccepted(t *testing.T) {
	docs := []string{
		`apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: broken, namespace: infra}
spec:
  gatewayClassName: test
  allowedListeners: {namespaces: {from: All}}
  listeners: [{name: udp, port: 53, protocol: UDP}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: foreign, namespace: infra}
spec:
  gatewayClassName: other
  allowedListeners: {namespaces: {from: All}}
  listeners: [{name: http, port: 80, protocol: HTTP}]
`,
		lsOf("to-broken", "{name: broken, namespace: infra}"),
		lsOf("to-missing", "{name: gone, namespace: infra}"),
		lsOf("to-foreign", "{name: foreign, namespace: infra}"),
		lsOf("to-other-kind", "{group: example.com, kind: Mesh, name: m}"),
		lsRoute("apps", "r", "{kind: ListenerSet, name: to-foreign}", "{kind: ListenerSet, name: to-other-kind}", "{kind: ListenerSet, name: to-broken}"),
	}
	rt := lsRouter(t, func(c *httproute.Config) { c.GatewayClassName = "test" }, docs...)
	st := rt.Status()
	got := map[string][]string{}
	for k, s := range st.ListenerSets {
		got[k.Name] = condReasons(s.Conditions)
		got[k.Name] = append(got[k.Name], s.Conditions[0].Message)
	}
	assert.Equal(t, map[string][]string{
		"to-broken":  {"Accepted=False/ParentNotAccepted", "Programmed=False/ParentNotAccepted", "gateway infra/broken is not accepted"},
		"to-missing": {"Accepted=False/ParentNotAccepted", "Programmed=False/ParentNotAccepted", "gateway infra/gone not found"},
	}, got)
	parents := st.HTTPRoutes[nn("apps", "r")].Parents
	require.Len(t, parents, 1, "only the parentRef to the Router's ListenerSet has an entry")
	assert.Equal(t, gatewayv1.ObjectName("to-broken"), parents[0].ParentRef.Name)
	assert.Equal(t, "NotAllowedByListeners", findCondition(parents[0].Conditions, "Accepted").Reason)
}

func lsOf(name, parentRef string) string {
	return fmt.Sprintf(`apiVersion: gateway.networking.k8s.io/v1
kind: ListenerSet
metadata: {name: %s, namespace: apps}
spec:
  parentRef: %s
  listeners: [{name: http, port: 80, protocol: HTTP, hostname: %s.example.com}]
`, name, parentRef, name)
}

func secretDoc(ns, name string, l *testcert.Leaf) string {
	return fmt.Sprintf("apiVersion: v1\nkind: Secret\nmetadata: {name: %s, namespace: %s}\ntype: kubernetes.io/tls\ndata:\n  tls.crt: %s\n  tls.key: %s\n",
		name, ns, b64(l.CertPEM), b64(l.KeyPEM))
}

func grantDoc(fromKind, fromNS string) string {
	return fmt.Sprintf(`apiVersion: gateway.networking.k8s.io/v1
kind: ReferenceGrant
metadata: {name: from-%s-%s, namespace: certs}
spec:
  from: [{group: gateway.networking.k8s.io, kind: %s, namespace: %s}]
  to: [{group: "", kind: Secret}]
`, strings.ToLower(fromKind), fromNS, fromKind, fromNS)
}

// TestListenerSetReferenceGrants: a ListenerSet's certificateRefs to
// another namespace need a ReferenceGrant from ListenerSets of its
// namespace; the Gateway's grant does not cover them, nor theirs the
// Gateway (GEP-1713). A Secret of its own namespace needs none.
func TestListenerSetReferenceGrants(t *testing.T) {
	ca := testcert.NewCA("listenerset CA")
	gwLeaf, lsLeaf := ca.Issue("gw.example.com"), ca.Issue("ls.example.com")
	https := `apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: gw, namespace: infra}
spec:
  gatewayClassName: test
  allowedListeners: {namespaces: {from: All}}
  listeners:
  - {name: http, port: 80, protocol: HTTP}
  - name: https
    port: 443
    protocol: HTTPS
    hostname: gw.example.com
    tls: {certificateRefs: [{name: gw-cert, namespace: certs}]}
`
	set := listenerSet("apps", "ls", 0,
		"{name: https, port: 443, protocol: HTTPS, hostname: ls.example.com, tls: {certificateRefs: [{name: ls-cert, namespace: certs}]}}",
		"{name: local, port: 8443, protocol: HTTPS, hostname: ls.example.com, tls: {certificateRefs: [{name: local-cert}]}}")
	base := []string{https, set, secretDoc("certs", "gw-cert", gwLeaf), secretDoc("certs", "ls-cert", lsLeaf), secretDoc("apps", "local-cert", lsLeaf)}
	resolved, refused := "ResolvedRefs=True/ResolvedRefs", "ResolvedRefs=False/RefNotPermitted"
	for _, tc := range []struct {
		name          string
		grants        []string
		gateway, ls   string
		lsServesOn443 bool
	}{
		{"no grant", nil, refused, refused, false},
		{"the Gateway's grant is not the ListenerSet's", []string{grantDoc("Gateway", "infra")}, resolved, refused, false},
		{"the ListenerSet's grant is not the Gateway's", []string{grantDoc("ListenerSet", "apps")}, refused, resolved, true},
		{"a grant to ListenerSets of another namespace", []string{grantDoc("ListenerSet", "infra")}, refused, refused, false},
		{"both", []string{grantDoc("Gateway", "infra"), grantDoc("ListenerSet", "apps")}, resolved, resolved, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rt := lsRouter(t, nil, append(append([]string{}, base...), tc.grants...)...)
			st := rt.Status()
			assert.Equal(t, tc.gateway, condReasons(st.Gateways[nn("infra", "gw")].Listeners[1].Conditions)[1])
			lss := st.ListenerSets[nn("apps", "ls")]
			require.Len(t, lss.Listeners, 2)
			assert.Equal(t, tc.ls, condReasons(lss.Listeners[0].Conditions)[1])
			assert.Equal(t, resolved, condReasons(lss.Listeners[1].Conditions)[1], "a Secret of the ListenerSet's own namespace needs no grant")

			for _, cfg := range []*tls.Config{rt.TLSConfig(443), rt.Gateway("infra", "gw").TLSConfig(443)} {
				cert, err := cfg.GetCertificate(&tls.ClientHelloInfo{ServerName: "ls.example.com"})
				if !tc.lsServesOn443 {
					assert.Error(t, err)
					continue
				}
				require.NoError(t, err)
				assert.Equal(t, lsLeaf.TLS.Certificate[0], cert.Certificate[0], "the ListenerSet's certificate")
			}
			cert, err := rt.TLSConfig(8443).GetCertificate(&tls.ClientHelloInfo{ServerName: "ls.example.com"})
			require.NoError(t, err)
			assert.Equal(t, lsLeaf.TLS.Certificate[0], cert.Certificate[0])
		})
	}
}

// TestListenerSetServesHTTPS serves a ListenerSet's HTTPS listener over a
// real TLS connection on 127.0.0.1, with the Gateway's TLSConfig.
func TestListenerSetServesHTTPS(t *testing.T) {
	ca := testcert.NewCA("listenerset CA")
	leaf := ca.Issue("ls.example.com")
	rt := lsRouter(t, nil, lsGateway("{namespaces: {from: All}}"), secretDoc("apps", "cert", leaf),
		listenerSet("apps", "ls", 0, "{name: https, port: 443, protocol: HTTPS, hostname: ls.example.com, tls: {certificateRefs: [{name: cert}]}}"),
		lsRoute("apps", "web", "{kind: ListenerSet, name: ls}"))
	gw := rt.Gateway("infra", "gw")
	srv := httptest.NewUnstartedServer(gw.Port(443))
	srv.TLS = gw.TLSConfig(443)
	srv.StartTLS()
	defer srv.Close()
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: ca.Pool(), ServerName: "ls.example.com"}}}
	req, err := http.NewRequest("GET", srv.URL+"/", nil)
	require.NoError(t, err)
	req.Host = "ls.example.com"
	res, err := client.Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	assert.Equal(t, 200, res.StatusCode)
	assert.Equal(t, []string{"ls.example.com"}, res.TLS.PeerCertificates[0].DNSNames)
}

// TestGatewayPorts: the ports a host serves a Gateway on are its own
// listeners' and those of the ListenerSets it takes, without a listener
// that lost a conflict.
func TestGatewayPorts(t *testing.T) {
	rt := lsRouter(t, nil, lsGateway("{namespaces: {from: Same}}"),
		strings.ReplaceAll(listenerSet("apps", "ls", 0,
			"{name: tls, port: 8443, protocol: HTTPS, hostname: ls.example.com, tls: {certificateRefs: [{name: missing}]}}",
			"{name: alt, port: 8080, protocol: HTTP}",
			"{name: conflicted, port: 80, protocol: HTTPS, tls: {certificateRefs: [{name: missing}]}}"), "namespace: apps,", "namespace: infra,"),
		listenerSet("apps", "refused", 0, "{name: other, port: 9090, protocol: HTTP}"))
	assert.Equal(t, []httproute.ListenerPort{{Port: 80}, {Port: 8080}, {Port: 8443, TLS: true}}, rt.Gateway("infra", "gw").Ports())
	assert.Empty(t, rt.Gateway("infra", "nope").Ports())
	var zero httproute.Router
	assert.Empty(t, zero.Gateway("infra", "gw").Ports())
}

// TestListenerSetListenerFilters: a ListenerSet's listener runs its own
// pre-routing filters, compiled as the ListenerSet's references.
func TestListenerSetListenerFilters(t *testing.T) {
	var seen atomic.Int64
	setHeader := strings.ReplaceAll(setHeaderDoc("to-gold", "X-Tier", "gold"), "namespace: default", "namespace: apps")
	set := listenerSet("apps", "ls", 0,
		`name: filtered
    port: 80
    protocol: HTTP
    hostname: ls.example.com
    allowedRoutes: {namespaces: {from: All}}
    filters:
      requests:
      - {type: ExtensionRef, extensionRef: {group: test.example.com, kind: SetHeader, name: to-gold}}`,
		`name: broken
    port: 80
    protocol: HTTP
    hostname: broken.example.com
    filters:
      requests:
      - {type: ExtensionRef, extensionRef: {group: test.example.com, kind: SetHeader, name: nope}}`)
	routes := strings.ReplaceAll(tierRoutes("gw"), "parentRefs:\n  - {name: gw}", `parentRefs:
  - {name: gw, namespace: infra}
  - {kind: ListenerSet, name: ls, namespace: apps}`)
	cfg, err := httproutetest.Options{Channel: validation.Experimental, Extensions: []httproute.Extension{setHeaderExtension(&seen)}}.
		Decode(lsGateway("{namespaces: {from: All}}"), setHeader, set, routes)
	require.NoError(t, err)
	cfg.Services = demoServices(nil)
	rt, err := httproute.New(cfg)
	require.NoError(t, err)
	assert.Equal(t, "default/gold:80", answer(rt, 80, "ls.example.com"), "the ListenerSet listener's filter ran")
	assert.Equal(t, "default/basic:80", answer(rt, 80, "gw.example.com"), "the Gateway's listener has no filter")
	assert.Equal(t, "500", answer(rt, 80, "broken.example.com"), "a filter that does not resolve fails closed")
	c := findCondition(rt.Status().ListenerSets[nn("apps", "ls")].Listeners[1].Conditions, "ResolvedRefs")
	assert.Equal(t, "InvalidListenerFilterRef", c.Reason)
	assert.Contains(t, c.Message, "spec.listeners[1].filters.requests[0].extensionRef.name")

	cfg.Strict = true
	_, err = httproute.New(cfg)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "listenerset apps/ls: spec.listeners[1].filters.requests[0].extensionRef.name")
}

// TestListenerSetWithoutGateways: without Gateways there is no parent: a
// route's parentRef to a ListenerSet is not accepted, and the ListenerSet
// reports its missing Gateway.
func TestListenerSetWithoutGateways(t *testing.T) {
	rt := lsRouter(t, nil, lsOf("ls", "{name: gw, namespace: infra}"), lsRoute("apps", "r", "{kind: ListenerSet, name: ls}"))
	st := rt.Status()
	c := findCondition(st.HTTPRoutes[nn("apps", "r")].Parents[0].Conditions, "Accepted")
	assert.Equal(t, "NoMatchingParent", c.Reason)
	assert.Equal(t, "listenerset apps/ls has no Gateway to attach to (a Config without Gateways serves routes without parentRefs; set IgnoreParentRefs to serve every route)", c.Message)
	assert.Equal(t, []string{"Accepted=False/ParentNotAccepted", "Programmed=False/ParentNotAccepted"}, condReasons(st.ListenerSets[nn("apps", "ls")].Conditions))
}

// TestListenerSetConfigErrors: a nil or repeated ListenerSet makes the
// Config unservable; a refused one is a problem in Strict mode.
func TestListenerSetConfigErrors(t *testing.T) {
	ls := &gatewayv1.ListenerSet{ObjectMeta: metav1.ObjectMeta{Namespace: "apps", Name: "ls"},
		Spec: gatewayv1.ListenerSetSpec{ParentRef: gatewayv1.ParentGatewayReference{Name: "gw"},
			Listeners: []gatewayv1.ListenerEntry{{Name: "http", Port: 80, Protocol: gatewayv1.HTTPProtocolType}}}}
	_, err := httproute.New(httproute.Config{ListenerSets: []*gatewayv1.ListenerSet{ls, nil, ls}})
	require.Error(t, err)
	assert.Equal(t, "httproute: nil ListenerSet in Config\nhttproute: ListenerSet apps/ls appears twice in Config", err.Error())

	_, err = httproute.New(httproute.Config{ListenerSets: []*gatewayv1.ListenerSet{ls}, Strict: true,
		Gateways: []*gatewayv1.Gateway{{ObjectMeta: metav1.ObjectMeta{Namespace: "apps", Name: "gw"},
			Spec: gatewayv1.GatewaySpec{Listeners: []gatewayv1.Listener{{Name: "http", Port: 80, Protocol: gatewayv1.HTTPProtocolType}}}}}})
	require.Error(t, err)
	assert.Equal(t, "listenerset apps/ls: gateway apps/gw does not allow ListenerSets from namespace apps (allowedListeners.namespaces.from: None)", err.Error())
}

// TestMergeListenerSetStatus: conditions keep their transition times
// where their status did not change, and foreign conditions survive.
func TestMergeListenerSetStatus(t *testing.T) {
	old, now := metav1.NewTime(time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)), metav1.NewTime(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	cur := gatewayv1.ListenerSetStatus{
		Conditions: []metav1.Condition{
			{Type: "Accepted", Status: "True", Reason: "Accepted", LastTransitionTime: old},
			{Type: "Programmed", Status: "False", Reason: "Pending", LastTransitionTime: old},
			{Type: "example.com/Audited", Status: "True", Reason: "Done", LastTransitionTime: old},
		},
		Listeners: []gatewayv1.ListenerEntryStatus{{Name: "web", Conditions: []metav1.Condition{
			{Type: "Accepted", Status: "True", Reason: "Accepted", LastTransitionTime: old},
		}}},
	}
	next := gatewayv1.ListenerSetStatus{
		Conditions: []metav1.Condition{
			{Type: "Accepted", Status: "True", Reason: "Accepted", LastTransitionTime: now},
			{Type: "Programmed", Status: "True", Reason: "Programmed", LastTransitionTime: now},
		},
		Listeners: []gatewayv1.ListenerEntryStatus{{Name: "web", Conditions: []metav1.Condition{
			{Type: "Accepted", Status: "True", Reason: "Accepted", LastTransitionTime: now},
			{Type: "Conflicted", Status: "False", Reason: "NoConflicts", LastTransitionTime: now},
		}}},
	}
	want := gatewayv1.ListenerSetStatus{
		Conditions: []metav1.Condition{
			{Type: "Accepted", Status: "True", Reason: "Accepted", LastTransitionTime: old},
			{Type: "Programmed", Status: "True", Reason: "Programmed", LastTransitionTime: now},
			{Type: "example.com/Audited", Status: "True", Reason: "Done", LastTransitionTime: old},
		},
		Listeners: []gatewayv1.ListenerEntryStatus{{Name: "web", Conditions: []metav1.Condition{
			{Type: "Accepted", Status: "True", Reason: "Accepted", LastTransitionTime: old},
			{Type: "Conflicted", Status: "False", Reason: "NoConflicts", LastTransitionTime: now},
		}}},
	}
	if diff := cmp.Diff(want, httproute.MergeListenerSetStatus(cur, next)); diff != "" {
		t.Errorf("MergeListenerSetStatus (-want +got):\n%s", diff)
	}
}

// TestListenerSetRouteKindsFollowTheProtocol is upstream's
// ListenerSetAllowedRoutesSupportedKinds, which the conformance run
// cannot select (it needs TLSRoute): HTTPRoute is not a kind a TLS
// listener supports, so allowedRoutes.kinds naming it there is
// InvalidRouteKinds.
func TestListenerSetRouteKindsFollowTheProtocol(t *testing.T) {
	rt := lsRouter(t, nil, lsGateway("{namespaces: {from: All}}"),
		listenerSet("apps", "ls", 0, `name: tls-only
    port: 443
    protocol: TLS
    hostname: tls.example.com
    allowedRoutes: {namespaces: {from: All}, kinds: [{kind: HTTPRoute}]}
    tls: {mode: Passthrough}`))
	l := rt.Status().ListenerSets[nn("apps", "ls")].Listeners[0]
	c := findCondition(l.Conditions, "ResolvedRefs")
	assert.Equal(t, "False/InvalidRouteKinds", string(c.Status)+"/"+c.Reason)
	assert.Empty(t, l.SupportedKinds)
}

// TestListenerSetGRPCRouteConflict: GRPCRoutes attach to a ListenerSet's
// listeners as HTTPRoutes do, and GEP-1016's cross-kind rule applies per
// listener: the newer HTTPRoute loses the listener the older GRPCRoute
// holds for its hostname, and stays Accepted through the set's other one.
func TestListenerSetGRPCRouteConflict(t *testing.T) {
	grpc := `apiVersion: gateway.networking.k8s.io/v1
kind: GRPCRoute
metadata: {name: g, namespace: apps, creationTimestamp: "2026-01-01T00:00:00Z"}
spec:
  parentRefs: [{kind: ListenerSet, name: ls, sectionName: a}]
  rules:
  - backendRefs: [{name: g, port: 80}]
`
	http := `apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: h, namespace: apps, creationTimestamp: "2026-01-01T00:00:05Z"}
spec:
  parentRefs: [{kind: ListenerSet, name: ls}]
  rules:
  - backendRefs: [{name: h, port: 80}]
`
	rt := lsRouter(t, nil, lsGateway("{namespaces: {from: All}}"),
		listenerSet("apps", "ls", 0,
			"{name: a, port: 80, protocol: HTTP, hostname: a.example.com}",
			"{name: b, port: 8080, protocol: HTTP, hostname: a.example.com}"),
		grpc, http)
	st := rt.Status()
	g := st.GRPCRoutes[nn("apps", "g")].Parents
	require.Len(t, g, 1)
	assert.Equal(t, []string{"Accepted=True/Accepted", "ResolvedRefs=True/ResolvedRefs"}, condReasons(g[0].Conditions))
	h := st.HTTPRoutes[nn("apps", "h")].Parents
	require.Len(t, h, 1)
	assert.Equal(t, []string{"Accepted=True/Accepted", "ResolvedRefs=True/ResolvedRefs"}, condReasons(h[0].Conditions),
		"the HTTPRoute still holds listener b")
	assert.Equal(t, "apps/h:80", answer(rt, 8080, "a.example.com"))
	assert.Equal(t, "404", answer(rt, 80, "a.example.com"), "listener a serves the GRPCRoute only")
}
