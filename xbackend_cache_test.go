package httproute

import (
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
	xv1alpha1 "sigs.k8s.io/gateway-api/apisx/v1alpha1"
)

// TestXBackendUpstreamSurvivesUpdate checks that an XBackend's Upstream,
// and so its passive-health state and connection pool, is kept across
// Updates that hand over fresh but equal objects, keeps it when only the
// endpoints change, and is replaced when what its transport is built from
// changes.
func TestXBackendUpstreamSurvivesUpdate(t *testing.T) {
	nn := types.NamespacedName{Namespace: "default", Name: "x"}
	eps := []string{"127.0.0.1:1"}
	cfg := func(proto xv1alpha1.BackendProtocol) Config {
		ref := gatewayv1.HTTPBackendRef{BackendRef: gatewayv1.BackendRef{BackendObjectReference: gatewayv1.BackendObjectReference{
			Group: ptr(gatewayv1.Group(XBackendGroup)), Kind: ptr(gatewayv1.Kind("XBackend")), Name: "x"}}}
		return Config{
			HTTPRoutes: []*gatewayv1.HTTPRoute{{
				ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "r"},
				Spec:       gatewayv1.HTTPRouteSpec{Rules: []gatewayv1.HTTPRouteRule{{BackendRefs: []gatewayv1.HTTPBackendRef{ref}}}},
			}},
			XBackends: []*xv1alpha1.XBackend{{
				ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "x"},
				Spec: xv1alpha1.BackendSpec{Type: xv1alpha1.BackendTypeEndpointSelector, Port: xv1alpha1.BackendPort{Number: 80},
					EndpointSelector: &xv1alpha1.EndpointSelectorBackend{LabelSelector: xv1alpha1.LabelSelector{
						MatchLabels: map[gatewayv1.LabelKey]gatewayv1.LabelValue{"app": "x"}}},
					Protocol: ptr(proto)},
			}},
			Endpoints: EndpointResolverFunc(func(string, map[string]string, int32) ([]string, error) { return eps, nil }),
			Strict:    true,
		}
	}
	rt, err := New(cfg(xv1alpha1.BackendProtocolHTTP))
	if err != nil {
		t.Fatal(err)
	}
	first := rt.xcache.get(nn).upstream

	if err := rt.Update(cfg(xv1alpha1.BackendProtocolHTTP)); err != nil {
		t.Fatal(err)
	}
	if got := rt.xcache.get(nn).upstream; got != first {
		t.Error("an equal XBackend got a new Upstream")
	}

	eps = []string{"127.0.0.1:1", "127.0.0.1:2"}
	if err := rt.Update(cfg(xv1alpha1.BackendProtocolHTTP)); err != nil {
		t.Fatal(err)
	}
	if got := rt.xcache.get(nn).upstream; got != first {
		t.Error("new endpoints replaced the Upstream instead of updating it")
	}
	if n := len(first.Endpoints()); n != 2 {
		t.Errorf("the kept Upstream has %d endpoints, want 2", n)
	}

	if err := rt.Update(cfg(xv1alpha1.BackendProtocolH2C)); err != nil {
		t.Fatal(err)
	}
	if got := rt.xcache.get(nn).upstream; got == first {
		t.Error("a new protocol kept the old Upstream")
	}

	if err := rt.Update(Config{}); err != nil {
		t.Fatal(err)
	}
	if rt.xcache.get(nn) != nil {
		t.Error("a dropped XBackend is still cached")
	}
}
