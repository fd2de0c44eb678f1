package httproute_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/httproute/httproute"
)

// badBackends are Backends a host might pass in by mistake; each panicked
// on the first request before they were refused when compiling.
func badBackends() map[string]httproute.Backend {
	var nilUpstream *httproute.Upstream
	var nilMux *http.ServeMux
	return map[string]httproute.Backend{
		"zero Upstream":         &httproute.Upstream{},
		"typed nil Upstream":    nilUpstream,
		"Limit of a zero one":   httproute.Limit(&httproute.Upstream{}, httproute.Limits{MaxRequests: 1}),
		"Handler(nil)":          httproute.Handler(nil),
		"Handler of a nil mux":  httproute.Handler(nilMux),
		"nil Backend interface": nil,
	}
}

func TestInvalidBackendsAreRefused(t *testing.T) {
	for name, b := range badBackends() {
		t.Run(name, func(t *testing.T) {
			cfg := httproute.Config{
				HTTPRoutes: []*gatewayv1.HTTPRoute{simpleRoute("web", "/", "svc")},
				Services: httproute.ServiceResolverFunc(func(httproute.BackendRef) (httproute.Backend, error) {
					return b, nil
				}),
			}
			rt, err := httproute.New(cfg)
			require.NoError(t, err)
			code, _ := serve(rt, "/")
			assert.Equal(t, 500, code)
			resolved := rt.Status().HTTPRoutes[types.NamespacedName{Namespace: "default", Name: "web"}].Parents[0].Conditions[1]
			assert.Equal(t, "ResolvedRefs", resolved.Type)
			assert.Equal(t, metav1.ConditionFalse, resolved.Status)
			assert.Equal(t, string(gatewayv1.RouteReasonBackendNotFound), resolved.Reason)
		})
	}
}

func TestPanickingResolversAreRecovered(t *testing.T) {
	// Issue 11: a ServiceResolver or an Extension's Backend constructor
	// that panicked (a type assertion on a nil object, as in the
	// documented example) panicked out of New.
	route := simpleRoute("web", "/", "svc")
	ext := simpleRoute("ext", "/ext", "x")
	ext.Spec.Rules[0].BackendRefs[0].Group = ptr(gatewayv1.Group("example.com"))
	ext.Spec.Rules[0].BackendRefs[0].Kind = ptr(gatewayv1.Kind("Static"))
	cfg := httproute.Config{
		HTTPRoutes: []*gatewayv1.HTTPRoute{route, ext},
		Services: httproute.ServiceResolverFunc(func(httproute.BackendRef) (httproute.Backend, error) {
			panic("resolver bug")
		}),
		Extensions: []httproute.Extension{{
			Kind: schemaGVK("example.com", "v1", "Static"),
			Backend: func(ref httproute.BackendRef) (httproute.Backend, error) {
				_ = ref.Object.(interface{ Spec() string }) // nil Object: panics
				return nil, nil
			},
		}},
	}
	rt, err := httproute.New(cfg)
	require.NoError(t, err)
	code, _ := serve(rt, "/")
	assert.Equal(t, 500, code)
	code, _ = serve(rt, "/ext")
	assert.Equal(t, 500, code)
	cfg.Strict = true
	_, err = httproute.New(cfg)
	require.Error(t, err)
	msg := err.Error()
	assert.True(t, strings.Contains(msg, `spec.rules[0].backendRefs[0].name: Invalid value: "svc": the ServiceResolver panicked: resolver bug`), msg)
	assert.True(t, strings.Contains(msg, `the Static.example.com extension panicked: interface conversion`), msg)
}
