package testenv

import (
	"context"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	gatewayclient "sigs.k8s.io/gateway-api/pkg/client/clientset/versioned"
)

// TestStart starts the control plane, checks that the admin token is a
// cluster administrator, that the controller token has no permissions of
// its own (RBAC is enforced), and that the Gateway API kinds are served.
func TestStart(t *testing.T) {
	crds, err := CRDDir()
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	env, err := Start(ctx, t.TempDir(), crds, t)
	if err != nil {
		t.Fatal(err)
	}
	defer env.Close()
	if env.APIServerVersion != "v1.37.2" || env.EtcdVersion != "v3.6.16" {
		t.Errorf("versions: kube-apiserver %q, etcd %q; want v1.37.2 and v3.6.16", env.APIServerVersion, env.EtcdVersion)
	}
	admin, err := gatewayclient.NewForConfig(env.Admin)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := admin.GatewayV1().HTTPRoutes("default").List(ctx, metav1.ListOptions{}); err != nil {
		t.Errorf("admin lists HTTPRoutes: %v", err)
	}
	if _, err := admin.GatewayV1().ListenerSets("default").List(ctx, metav1.ListOptions{}); err != nil {
		t.Errorf("admin lists ListenerSets (experimental channel): %v", err)
	}
	ctrl, err := gatewayclient.NewForConfig(env.Controller)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ctrl.GatewayV1().HTTPRoutes("default").List(ctx, metav1.ListOptions{}); err == nil {
		t.Error("the controller token lists HTTPRoutes without any role: RBAC is not enforced")
	}
}
