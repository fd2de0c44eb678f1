package httproute_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"

	"github.com/httproute/httproute"
	"github.com/httproute/httproute/httproutetest"
	"github.com/httproute/httproute/validation"
)

// setHeader is the object of a test extension kind, as GEP-5224's
// conformance tests use one: its filter sets a request header (or, with
// Header "Host", tries to move the request to another host; with Path,
// rewrites the path) and counts the requests it saw.
type setHeader struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata"`
	Spec              struct {
		Header string `json:"header"`
		Value  string `json:"value"`
		Path   string `json:"path,omitempty"`
	} `json:"spec"`
}

func (s *setHeader) DeepCopyObject() runtime.Object {
	c := *s
	c.ObjectMeta = *s.ObjectMeta.DeepCopy()
	return &c
}

// setHeaderExtension registers SetHeader; seen counts the requests its
// filters saw.
func setHeaderExtension(seen *atomic.Int64) httproute.Extension {
	return httproute.Extension{
		Kind: schemaGVK("test.example.com", "v1", "SetHeader"),
		New:  func() httproute.Object { return &setHeader{} },
		Filter: func(ref httproute.ObjectRef) (httproute.Filter, error) {
			spec := ref.Object.(*setHeader).Spec
			return httproute.FilterFunc(func(next http.Handler) http.Handler {
				return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					seen.Add(1)
					r2 := r.Clone(r.Context())
					if spec.Header == "Host" {
						r2.Host = spec.Value
					} else if spec.Header != "" {
						r2.Header.Set(spec.Header, spec.Value)
					}
					if spec.Path != "" {
						r2.URL.Path, r2.URL.RawPath = spec.Path, ""
					}
					next.ServeHTTP(w, r2)
				})
			}), nil
		},
	}
}

func setHeaderDoc(name, header, value string) string {
	return fmt.Sprintf(`apiVersion: test.example.com/v1
kind: SetHeader
metadata: {name: %s, namespace: default}
spec: {header: %s, value: %q}
`, name, header, value)
}

// filteredGateway is a Gateway whose HTTP listener on port 80 has the
// given filters.requests (YAML list items, indented for the listener).
func filteredGateway(name, requests string) string {
	return `apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: ` + name + `, namespace: default}
spec:
  gatewayClassName: test
  listeners:
  - name: http
    port: 80
    protocol: HTTP
    allowedRoutes: {namespaces: {from: All}}
    filters:
      requests:
` + requests
}

// tierRoutes route requests by the X-Tier header a pre-routing filter
// sets: gold to Service gold, silver to silver, anything else to basic.
func tierRoutes(parents ...string) string {
	var refs strings.Builder
	for _, p := range parents {
		fmt.Fprintf(&refs, "  - {name: %s}\n", p)
	}
	return `apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: tiers, namespace: default}
spec:
  parentRefs:
` + refs.String() + `  rules:
  - matches: [{headers: [{name: X-Tier, value: gold}]}]
    backendRefs: [{name: gold, port: 80}]
  - matches: [{headers: [{name: X-Tier, value: silver}]}]
    backendRefs: [{name: silver, port: 80}]
  - backendRefs: [{name: basic, port: 80}]
`
}

func extRef(name string) string {
	return fmt.Sprintf("      - {type: ExtensionRef, extensionRef: {group: test.example.com, kind: SetHeader, name: %s}}\n", name)
}

func listenerFilterEnv(t *testing.T, seen *atomic.Int64, docs ...string) *httproutetest.Env {
	t.Helper()
	return httproutetest.New(t, httproutetest.Options{
		Channel:    validation.Experimental,
		Extensions: []httproute.Extension{setHeaderExtension(seen)},
	}, docs...)
}

// TestListenerFiltersRunInOrderBeforeMatching is GEP-5224's ordering and
// single-pass tests: the second of two filters setting one header wins,
// and route matching sees the header as the filters left it.
func TestListenerFiltersRunInOrderBeforeMatching(t *testing.T) {
	var seen atomic.Int64
	for _, tc := range []struct {
		order   string
		backend string
	}{
		{extRef("to-silver") + extRef("to-gold"), "default/gold:80"},
		{extRef("to-gold") + extRef("to-silver"), "default/silver:80"},
	} {
		env := listenerFilterEnv(t, &seen,
			setHeaderDoc("to-gold", "X-Tier", "gold"), setHeaderDoc("to-silver", "X-Tier", "silver"),
			filteredGateway("gw", tc.order), tierRoutes("gw"))
		env.Run(t, []httproutetest.Case{{
			Name:    "the last filter's value is matched",
			Request: httproutetest.Request{Path: "/", Header: http.Header{"X-Tier": {"basic"}}},
			Want:    httproutetest.Want{Status: 200, Backend: tc.backend},
		}})
	}
}

// TestListenerFilterCannotMoveTheRequest: a filter that sets the Host is
// ignored (GEP-5224's Host immutability); a path it sets is matched in
// its normal form.
func TestListenerFilterCannotMoveTheRequest(t *testing.T) {
	var seen atomic.Int64
	hosts := `apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: hosts, namespace: default}
spec:
  parentRefs: [{name: gw}]
  hostnames: [a.example.com]
  rules:
  - matches: [{path: {type: PathPrefix, value: /moved}}]
    backendRefs: [{name: moved, port: 80}]
  - backendRefs: [{name: a, port: 80}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: other, namespace: default}
spec:
  parentRefs: [{name: gw}]
  hostnames: [b.example.com]
  rules:
  - backendRefs: [{name: b, port: 80}]
`
	mover := `apiVersion: test.example.com/v1
kind: SetHeader
metadata: {name: mover, namespace: default}
spec: {header: Host, value: b.example.com, path: "/./moved//here/."}
`
	env := listenerFilterEnv(t, &seen, mover, filteredGateway("gw", extRef("mover")), hosts)
	env.Run(t, []httproutetest.Case{{
		Name:    "Host kept, path rewritten and normalized",
		Request: httproutetest.Request{Host: "a.example.com", Path: "/x"},
		Want:    httproutetest.Want{Status: 200, Backend: "default/moved:80", BackendPath: "/moved/here/"},
	}})
}

// TestListenerExternalAuth: a pre-routing ExternalAuth check that denies
// ends the request (no later filter, no route matching: even a path no
// route serves answers with the check's denial), and one that allows
// lets routes match on the identity it sets.
func TestListenerExternalAuth(t *testing.T) {
	var seen atomic.Int64
	gw := filteredGateway("gw", `      - type: ExternalAuth
        externalAuth:
          protocol: HTTP
          backendRef: {name: auth, port: 9000}
          http: {allowedResponseHeaders: [X-Tier]}
`+extRef("counter"))
	env := listenerFilterEnv(t, &seen, setHeaderDoc("counter", "X-Counted", "1"), gw, tierRoutes("gw"))
	env.Backend("default", "auth", 9000).SetHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.Header.Get("Authorization") {
		case "gold":
			w.Header().Set("X-Tier", "gold")
		case "basic":
		default:
			w.WriteHeader(http.StatusForbidden)
			io.WriteString(w, "denied")
		}
	}))
	env.Run(t, []httproutetest.Case{
		{Name: "allowed with an identity routes match on",
			Request: httproutetest.Request{Path: "/", Header: http.Header{"Authorization": {"gold"}, "X-Tier": {"silver"}}},
			Want:    httproutetest.Want{Status: 200, Backend: "default/gold:80", BackendHeader: map[string]string{"X-Counted": "1"}}},
		{Name: "allowed: a client's own X-Tier is not trusted",
			Request: httproutetest.Request{Path: "/", Header: http.Header{"Authorization": {"basic"}, "X-Tier": {"gold"}}},
			Want:    httproutetest.Want{Status: 200, Backend: "default/basic:80"}},
	})
	before := seen.Load()
	rec := httptest.NewRecorder()
	env.Router.ServeHTTP(rec, httptest.NewRequest("GET", "http://x/any/path", nil))
	assert.Equal(t, 403, rec.Code)
	assert.Equal(t, "denied", rec.Body.String())
	assert.Equal(t, before, seen.Load(), "no filter after a denial runs")
}

// TestListenerFilterStatus: the listener conditions GEP-5224 asks for.
func TestListenerFilterStatus(t *testing.T) {
	var seen atomic.Int64
	for _, tc := range []struct {
		name, requests, extra     string
		condition, status, reason string
		msg                       string
		code                      int
	}{
		{"auth backend of an unknown kind", `      - type: ExternalAuth
        externalAuth: {protocol: HTTP, backendRef: {group: example.com, kind: Nope, name: x}, http: {}}
`, "", "ResolvedRefs", "False", "InvalidListenerFilterRef", "spec.listeners[0].filters.requests[0].externalAuth.backendRef.kind", 500},
		{"auth backend in another namespace without a grant", `      - type: ExternalAuth
        externalAuth: {protocol: HTTP, backendRef: {name: auth, namespace: other, port: 9000}, http: {}}
`, "", "ResolvedRefs", "False", "RefNotPermitted", "spec.listeners[0].filters.requests[0].externalAuth.backendRef.namespace", 500},
		{"missing extension object", extRef("nope"), "", "ResolvedRefs", "False", "InvalidListenerFilterRef",
			"spec.listeners[0].filters.requests[0].extensionRef.name", 500},
		{"resolved", extRef("to-gold"), setHeaderDoc("to-gold", "X-Tier", "gold"), "ResolvedRefs", "True", "ResolvedRefs", "", 200},
	} {
		t.Run(tc.name, func(t *testing.T) {
			docs := []string{filteredGateway("gw", tc.requests), tierRoutes("gw")}
			if tc.extra != "" {
				docs = append(docs, tc.extra)
			}
			env := listenerFilterEnv(t, &seen, docs...)
			st := env.Router.Status().Gateways[types.NamespacedName{Namespace: "default", Name: "gw"}]
			require.Len(t, st.Listeners, 1)
			var found bool
			for _, c := range st.Listeners[0].Conditions {
				if c.Type == tc.condition {
					found = true
					assert.Equal(t, tc.status, string(c.Status))
					assert.Equal(t, tc.reason, c.Reason)
					assert.Contains(t, c.Message, tc.msg)
				}
			}
			assert.True(t, found, "no %s condition", tc.condition)
			rec := httptest.NewRecorder()
			env.Router.ServeHTTP(rec, httptest.NewRequest("GET", "http://x/", nil))
			assert.Equal(t, tc.code, rec.Code, "a listener whose filters do not resolve fails closed")
		})
	}
}

// TestMergedListenersRunEveryFilterList: two Gateways' listeners on one
// port and hostname are served together by the Router, which runs both
// filter lists; each Gateway's own view runs its own.
func TestMergedListenersRunEveryFilterList(t *testing.T) {
	var seen atomic.Int64
	env := listenerFilterEnv(t, &seen,
		setHeaderDoc("to-gold", "X-Tier", "gold"), setHeaderDoc("to-silver", "X-Tier", "silver"),
		filteredGateway("first", extRef("to-gold")), filteredGateway("second", extRef("to-silver")),
		tierRoutes("first", "second"))
	for _, tc := range []struct {
		name    string
		h       http.Handler
		backend string
	}{
		{"merged: both lists, in Gateway order", env.Router, "silver"},
		{"first alone", env.Router.Gateway("default", "first"), "gold"},
		{"second alone", env.Router.Gateway("default", "second"), "silver"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			tc.h.ServeHTTP(rec, httptest.NewRequest("GET", "http://x/", nil))
			require.Equal(t, 200, rec.Code, rec.Body.String())
			assert.Contains(t, rec.Body.String(), tc.backend)
		})
	}
}
