package httproute_test

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/httproute/httproute"
)

// implicitConfig has a route without parentRefs (/free) and one that
// names a Gateway the Config does not have (/bound).
func implicitConfig() httproute.Config {
	free := simpleRoute("free", "/free", "svc")
	bound := simpleRoute("bound", "/bound", "svc")
	bound.Spec.ParentRefs = []gatewayv1.ParentReference{{Name: "my-gateway"}}
	return httproute.Config{
		HTTPRoutes: []*gatewayv1.HTTPRoute{free, bound},
		Services:   httproute.Services{{Namespace: "default", Name: "svc", Port: 80}: named("svc")},
	}
}

func TestImplicitListenerServesRoutesWithoutParentRefs(t *testing.T) {
	// Issue 11: with no Gateway every route was served whatever its
	// parentRefs said, so a host whose cache had no Gateways yet exposed
	// every route.
	for _, tc := range []struct {
		name        string
		edit        func(*httproute.Config)
		free, bound int
	}{
		{"default", func(*httproute.Config) {}, 200, 404},
		{"IgnoreParentRefs", func(c *httproute.Config) { c.IgnoreParentRefs = true }, 200, 200},
		{"a controller of a class without Gateways serves nothing", func(c *httproute.Config) { c.GatewayClassName = "mine" }, 404, 404},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := implicitConfig()
			tc.edit(&cfg)
			rt, err := httproute.New(cfg)
			require.NoError(t, err)
			for _, h := range []http.Handler{rt, rt.Port(80), rt.Port(8080)} {
				code, _ := serve(h, "/free")
				assert.Equal(t, tc.free, code, "/free")
				code, _ = serve(h, "/bound")
				assert.Equal(t, tc.bound, code, "/bound")
			}
		})
	}

	rt, err := httproute.New(implicitConfig())
	require.NoError(t, err)
	parents := rt.Status().HTTPRoutes[types.NamespacedName{Namespace: "default", Name: "bound"}].Parents
	require.Len(t, parents, 1)
	assert.Equal(t, gatewayv1.ObjectName("my-gateway"), parents[0].ParentRef.Name, "the parent status names the absent Gateway")
	accepted := parents[0].Conditions[0]
	assert.Equal(t, metav1.ConditionFalse, accepted.Status)
	assert.Equal(t, string(gatewayv1.RouteReasonNoMatchingParent), accepted.Reason)
	free := rt.Status().HTTPRoutes[types.NamespacedName{Namespace: "default", Name: "free"}].Parents
	assert.Empty(t, httproute.MergeRouteParents(nil, free, httproute.DefaultControllerName),
		"the implicit listener's entries are not written to a cluster")
}

func TestPortServesTheImplicitListener(t *testing.T) {
	// Issue 18: router.Port(80) answered 404 to everything with no Gateway
	// while ServeHTTP served the route.
	rt, err := httproute.New(implicitConfig())
	require.NoError(t, err)
	srv := httptest.NewServer(rt.Port(80))
	defer srv.Close()
	res, err := http.Get(srv.URL + "/free")
	require.NoError(t, err)
	res.Body.Close()
	assert.Equal(t, 200, res.StatusCode)
}

func TestStatusKeepsTransitionTimes(t *testing.T) {
	// Issue 11: every compile stamped every condition with the current
	// time, so a status writer rewrote unchanged status.
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	cfg := implicitConfig()
	cfg.Now = func() time.Time { return now }
	rt, err := httproute.New(cfg)
	require.NoError(t, err)
	nn := types.NamespacedName{Namespace: "default", Name: "bound"}
	first := rt.Status().HTTPRoutes[nn].Parents[0].Conditions

	now = now.Add(time.Hour)
	cfg = implicitConfig()
	cfg.Now = func() time.Time { return now }
	require.NoError(t, rt.Update(cfg))
	again := rt.Status().HTTPRoutes[nn].Parents[0].Conditions
	for i := range again {
		assert.Equal(t, first[i].LastTransitionTime, again[i].LastTransitionTime, "unchanged %s kept its time", again[i].Type)
	}

	cfg.IgnoreParentRefs = true // Accepted turns True
	require.NoError(t, rt.Update(cfg))
	changed := rt.Status().HTTPRoutes[nn].Parents[0].Conditions
	assert.Equal(t, metav1.ConditionTrue, changed[0].Status)
	assert.Equal(t, metav1.NewTime(now), changed[0].LastTransitionTime, "a condition that changed gets the new time")
	assert.Equal(t, first[1].LastTransitionTime, changed[1].LastTransitionTime, "ResolvedRefs did not change")
}
