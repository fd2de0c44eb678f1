package kube

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"testing"
	"time"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apiextensions "k8s.io/apiextensions-apiserver/pkg/client/clientset/clientset"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/httproute/httproute"
	"github.com/httproute/httproute/extension/directresponse"
	"github.com/httproute/httproute/kube/internal/testenv"
)

// directResponseCRD is a minimal CRD for kgateway's DirectResponse kind.
func directResponseCRD() *apiextensionsv1.CustomResourceDefinition {
	return &apiextensionsv1.CustomResourceDefinition{
		ObjectMeta: metav1.ObjectMeta{Name: "directresponses.gateway.kgateway.dev"},
		Spec: apiextensionsv1.CustomResourceDefinitionSpec{
			Group: directresponse.GroupVersionKind.Group,
			Names: apiextensionsv1.CustomResourceDefinitionNames{Plural: "directresponses", Singular: "directresponse", Kind: "DirectResponse", ListKind: "DirectResponseList"},
			Scope: apiextensionsv1.NamespaceScoped,
			Versions: []apiextensionsv1.CustomResourceDefinitionVersion{{
				Name: directresponse.GroupVersionKind.Version, Served: true, Storage: true,
				Schema: &apiextensionsv1.CustomResourceValidation{OpenAPIV3Schema: &apiextensionsv1.JSONSchemaProps{
					Type: "object", XPreserveUnknownFields: new(true),
				}},
			}},
		},
	}
}

const directResponseRBAC = `
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: httproute-directresponses
rules:
- apiGroups: ["gateway.kgateway.dev"]
  resources: ["directresponses"]
  verbs: ["get", "list", "watch"]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata:
  name: httproute-directresponses
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: ClusterRole
  name: httproute-directresponses
subjects:
- kind: ServiceAccount
  name: httproute
  namespace: httproute-system
`

// TestNoPartialView runs a Controller that cannot list the objects of an
// extension kind: that one informer never syncs, so the Controller stays
// not ready and answers 503, although it could already serve the routes
// of every other informer. Once it may list them, it serves the routes,
// the Service backend and the extension filter alike.
func TestNoPartialView(t *testing.T) {
	ctx := context.Background()
	c := adminClients(t)
	ax, err := apiextensions.NewForConfig(env.Admin)
	if err != nil {
		t.Fatal(err)
	}
	crd := directResponseCRD()
	if err := testenv.CreateCRD(ctx, ax, crd); err != nil {
		t.Fatal(err)
	}
	if err := testenv.WaitEstablished(ctx, ax, crd.Name); err != nil {
		t.Fatal(err)
	}
	ns, class := unique("partial"), unique("partial")
	c.setup(t, ns, class)
	c.route(t, ns, "web", "gw", "/", "web")
	teapot := routeObj(ns, "teapot", "gw", "/teapot", "web")
	teapot.Spec.Rules[0].BackendRefs = nil
	teapot.Spec.Rules[0].Filters = []gatewayv1.HTTPRouteFilter{{
		Type:         gatewayv1.HTTPRouteFilterExtensionRef,
		ExtensionRef: &gatewayv1.LocalObjectReference{Group: "gateway.kgateway.dev", Kind: "DirectResponse", Name: "teapot"},
	}}
	if _, err := c.gateway.GatewayV1().HTTPRoutes(ns).Create(ctx, teapot, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	err = applyYAML(ctx, env.Admin, []byte(fmt.Sprintf(`
apiVersion: gateway.kgateway.dev/v1alpha1
kind: DirectResponse
metadata: {namespace: %s, name: teapot}
spec: {status: 418, body: "short and stout"}
`, ns)))
	if err != nil {
		t.Fatal(err)
	}

	opts := testOptions(t, class)
	opts.Base.Extensions = []httproute.Extension{directresponse.Extension()}
	ctrl, _ := startController(t, opts)

	// The other informers sync within a second; give them three.
	deadline := time.Now().Add(3 * time.Second)
	for time.Now().Before(deadline) {
		if code, body := get(ctrl, "example.com", "/"); code != http.StatusServiceUnavailable || ctrl.Ready() {
			t.Fatalf("before every informer synced: ready %v, answer %d %q; want not ready and 503", ctrl.Ready(), code, body)
		}
		time.Sleep(50 * time.Millisecond)
	}

	if err := applyYAML(ctx, env.Admin, []byte(directResponseRBAC)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { // a repeat of the test starts without the grant
		err := c.core.RbacV1().ClusterRoleBindings().Delete(context.Background(), "httproute-directresponses", metav1.DeleteOptions{})
		if err != nil {
			t.Error(err)
		}
	})
	eventually(t, 30*time.Second, func() (bool, string) {
		code, body := get(ctrl, "example.com", "/")
		return ctrl.Ready() && code == http.StatusOK && body == "web", fmt.Sprintf("ready %v, GET / answered %d %q", ctrl.Ready(), code, body)
	})
	if code, body := get(ctrl, "example.com", "/teapot"); code != http.StatusTeapot || body != "short and stout" {
		t.Errorf("GET /teapot: %d %q; want 418 from the DirectResponse", code, body)
	}
}

// TestRebuildsOnChange pins that edits of routes and EndpointSlices reach
// the served table, and that a GatewayClass of another controller is not
// served.
func TestRebuildsOnChange(t *testing.T) {
	ctx := context.Background()
	c := adminClients(t)
	ns, class := unique("changes"), unique("changes")
	c.namespace(t, ns)
	c.class(t, class, httproute.DefaultControllerName)
	foreign := unique("foreign")
	c.class(t, foreign, "example.com/another-controller")
	c.gatewayObj(t, ns, "gw", class, 80)
	c.gatewayObj(t, ns, "foreign", foreign, 80)
	c.backend(t, ns, "one")
	c.backend(t, ns, "two")
	r := c.route(t, ns, "r", "gw", "/", "one")
	c.route(t, ns, "f", "foreign", "/foreign", "two")

	ctrl, _ := startController(t, testOptions(t, class))
	eventually(t, 30*time.Second, func() (bool, string) {
		code, body := get(ctrl, "example.com", "/")
		return code == http.StatusOK && body == "one", fmt.Sprintf("GET / answered %d %q", code, body)
	})
	if code, body := get(ctrl, "example.com", "/foreign"); code != http.StatusOK || body != "one" {
		t.Errorf("GET /foreign: %d %q; want 200 \"one\" from route r: the route of the foreign class must not be served", code, body)
	}
	if _, ok := ctrl.Router().Status().Gateways[nn(ns, "foreign")]; ok {
		t.Error("the Gateway of another class has a status in the Router")
	}

	// The controller writes the route's status meanwhile: retry on
	// conflict, as any client would.
	err := retry.RetryOnConflict(retry.DefaultBackoff, func() error {
		cur, err := c.gateway.GatewayV1().HTTPRoutes(ns).Get(ctx, r.Name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		cur.Spec.Rules[0].BackendRefs[0].Name = "two"
		_, err = c.gateway.GatewayV1().HTTPRoutes(ns).Update(ctx, cur, metav1.UpdateOptions{})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, func() (bool, string) {
		code, body := get(ctrl, "example.com", "/")
		return code == http.StatusOK && body == "two", fmt.Sprintf("after the edit, GET / answered %d %q", code, body)
	})

	// The endpoint goes not-ready: the Service has no endpoint left.
	es, err := c.core.DiscoveryV1().EndpointSlices(ns).Get(ctx, "two-1", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	es.Endpoints[0].Conditions.Ready = new(false)
	if _, err := c.core.DiscoveryV1().EndpointSlices(ns).Update(ctx, es, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, func() (bool, string) {
		code, body := get(ctrl, "example.com", "/")
		return code == http.StatusServiceUnavailable, fmt.Sprintf("after the endpoint went not-ready, GET / answered %d %q", code, body)
	})
}

// TestDeployManifests applies kube/deploy's Deployment example to the API
// server (rbac.yaml is applied for every test): the objects are valid as
// written.
func TestDeployManifests(t *testing.T) {
	data, err := os.ReadFile("deploy/deployment.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if err := applyYAML(context.Background(), env.Admin, data); err != nil {
		t.Fatal(err)
	}
}
