package kube

import (
	"context"
	"crypto/tls"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/httproute/httproute"
	"github.com/httproute/httproute/internal/testcert"
)

// foreignAncestor is another controller's ancestor entry in a policy's
// status, for a Gateway of namespace ns: foreignParent's entry, as an
// ancestor.
func foreignAncestor(ns, gateway string) gatewayv1.PolicyAncestorStatus {
	p := foreignParent(gateway)
	p.ParentRef.Namespace = new(gatewayv1.Namespace(ns))
	return gatewayv1.PolicyAncestorStatus{AncestorRef: p.ParentRef, ControllerName: p.ControllerName, Conditions: p.Conditions}
}

// TestBackendTLSPolicy: the Controller watches BackendTLSPolicies and the
// ConfigMaps holding their CA certificates, dials the Service the policy
// targets over TLS (verifying the backend's certificate for the policy's
// hostname against the ConfigMap's CA, sending it as SNI), and writes the
// policy's ancestor entry for the Gateway with server-side apply next to
// another controller's, which it keeps.
func TestBackendTLSPolicy(t *testing.T) {
	ctx := context.Background()
	c := adminClients(t)
	ns, class, port := c.servedGateway(t, "btls")

	const hostname = "web.backend.example"
	ca := testcert.NewCA("btls")
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = fmt.Fprintf(w, "tls-web sni=%s", r.TLS.ServerName)
	}))
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{ca.Issue(hostname).TLS}, MinVersion: tls.VersionTLS12}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	c.service(t, ns, "web", srv.Listener.Addr().String(), "")
	_, err := c.core.CoreV1().ConfigMaps(ns).Create(ctx, &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "ca"},
		Data:       map[string]string{httproute.CACertKey: string(ca.PEM)},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	p, err := c.gateway.GatewayV1().BackendTLSPolicies(ns).Create(ctx, &gatewayv1.BackendTLSPolicy{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "web-tls"},
		Spec: gatewayv1.BackendTLSPolicySpec{
			TargetRefs: []gatewayv1.LocalPolicyTargetReferenceWithSectionName{{
				LocalPolicyTargetReference: gatewayv1.LocalPolicyTargetReference{Kind: "Service", Name: "web"},
			}},
			Validation: gatewayv1.BackendTLSPolicyValidation{
				CACertificateRefs: []gatewayv1.LocalObjectReference{{Kind: "ConfigMap", Name: "ca"}},
				Hostname:          hostname,
			},
		},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	p.Status.Ancestors = []gatewayv1.PolicyAncestorStatus{foreignAncestor(ns, "elsewhere")}
	if _, err := c.gateway.GatewayV1().BackendTLSPolicies(ns).UpdateStatus(ctx, p, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	c.route(t, ns, "r", "gw", "/", "web")

	startServing(t, class)

	want := "tls-web sni=" + hostname
	eventually(t, 30*time.Second, func() (bool, string) {
		code, body := fetch(fmt.Sprintf("http://127.0.0.1:%d/", port), "")
		return code == http.StatusOK && body == want, fmt.Sprintf("got %d %q, want 200 %q", code, body, want)
	})

	ours := gatewayRef("gw")
	ours.Namespace = new(gatewayv1.Namespace(ns))
	eventually(t, 30*time.Second, func() (bool, string) {
		p, err := c.gateway.GatewayV1().BackendTLSPolicies(ns).Get(ctx, "web-tls", metav1.GetOptions{})
		if err != nil {
			return false, err.Error()
		}
		a := p.Status.Ancestors
		mine := slices.IndexFunc(a, func(a gatewayv1.PolicyAncestorStatus) bool {
			return a.ControllerName == httproute.DefaultControllerName && cmp.Equal(a.AncestorRef, ours) &&
				meta.IsStatusConditionTrue(a.Conditions, "Accepted") && meta.IsStatusConditionTrue(a.Conditions, "ResolvedRefs")
		})
		theirs := slices.IndexFunc(a, func(a gatewayv1.PolicyAncestorStatus) bool {
			return cmp.Equal(a, foreignAncestor(ns, "elsewhere"))
		})
		ok := mine >= 0 && theirs >= 0 && len(a) == 2 && managedBy(p.ManagedFields, FieldManager, "status")
		return ok, fmt.Sprintf("BackendTLSPolicy ancestors %+v", a)
	})
}
