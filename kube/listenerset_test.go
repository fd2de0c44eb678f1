package kube

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/httproute/httproute"
)

// TestListenerSet: the Controller watches ListenerSets, serves the ports
// of those its Gateways accept (Listeners), and writes their status and
// the Gateway's attachedListenerSets; a ListenerSet of a Gateway of
// another class is not its to write.
func TestListenerSet(t *testing.T) {
	ctx := context.Background()
	c := adminClients(t)
	ns, class, other := unique("ls"), unique("ls"), unique("ls-other")
	c.namespace(t, ns)
	c.class(t, class, httproute.DefaultControllerName)
	c.class(t, other, "example.com/other")
	c.backend(t, ns, "web")
	port := int32(freePorts(t, 1)[0])
	for _, gw := range []*gatewayv1.Gateway{
		{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "gw"}, Spec: gatewayv1.GatewaySpec{
			GatewayClassName: gatewayv1.ObjectName(class),
			AllowedListeners: &gatewayv1.AllowedListeners{Namespaces: &gatewayv1.ListenerNamespaces{From: new(gatewayv1.NamespacesFromSame)}},
			Listeners:        []gatewayv1.Listener{{Name: "http", Port: 80, Protocol: gatewayv1.HTTPProtocolType, Hostname: new(gatewayv1.Hostname("gw.example.com"))}},
		}},
		{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "theirs"}, Spec: gatewayv1.GatewaySpec{
			GatewayClassName: gatewayv1.ObjectName(other),
			AllowedListeners: &gatewayv1.AllowedListeners{Namespaces: &gatewayv1.ListenerNamespaces{From: new(gatewayv1.NamespacesFromSame)}},
			Listeners:        []gatewayv1.Listener{{Name: "http", Port: 80, Protocol: gatewayv1.HTTPProtocolType}},
		}},
	} {
		if _, err := c.gateway.GatewayV1().Gateways(ns).Create(ctx, gw, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	for _, ls := range []*gatewayv1.ListenerSet{
		{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "ls"}, Spec: gatewayv1.ListenerSetSpec{
			ParentRef: gatewayv1.ParentGatewayReference{Name: "gw"},
			Listeners: []gatewayv1.ListenerEntry{{Name: "extra", Port: gatewayv1.PortNumber(port), Protocol: gatewayv1.HTTPProtocolType,
				Hostname: new(gatewayv1.Hostname("ls.example.com"))}},
		}},
		{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "theirs"}, Spec: gatewayv1.ListenerSetSpec{
			ParentRef: gatewayv1.ParentGatewayReference{Name: "theirs"},
			Listeners: []gatewayv1.ListenerEntry{{Name: "extra", Port: 8080, Protocol: gatewayv1.HTTPProtocolType}},
		}},
	} {
		if _, err := c.gateway.GatewayV1().ListenerSets(ns).Create(ctx, ls, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	r := routeObj(ns, "r", "ls", "/", "web")
	r.Spec.ParentRefs[0].Kind = new(gatewayv1.Kind("ListenerSet"))
	if _, err := c.gateway.GatewayV1().HTTPRoutes(ns).Create(ctx, r, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}

	startServing(t, class)

	eventually(t, 30*time.Second, func() (bool, string) {
		ls, err := c.gateway.GatewayV1().ListenerSets(ns).Get(ctx, "ls", metav1.GetOptions{})
		if err != nil {
			return false, err.Error()
		}
		st := ls.Status
		a := meta.FindStatusCondition(st.Conditions, "Accepted")
		ok := a != nil && a.Status == metav1.ConditionTrue && a.ObservedGeneration == 1 &&
			meta.IsStatusConditionTrue(st.Conditions, "Programmed") &&
			len(st.Listeners) == 1 && st.Listeners[0].AttachedRoutes == 1 &&
			managedBy(ls.ManagedFields, FieldManager, "status")
		return ok, fmt.Sprintf("ListenerSet status %+v", st)
	})
	eventually(t, 30*time.Second, func() (bool, string) {
		gw, err := c.gateway.GatewayV1().Gateways(ns).Get(ctx, "gw", metav1.GetOptions{})
		if err != nil {
			return false, err.Error()
		}
		n := gw.Status.AttachedListenerSets
		return n != nil && *n == 1, fmt.Sprintf("Gateway status %+v", gw.Status)
	})

	eventually(t, 30*time.Second, func() (bool, string) {
		code, body := fetch(fmt.Sprintf("http://127.0.0.1:%d/", port), "ls.example.com")
		return code == http.StatusOK && body == "web", fmt.Sprintf("%d %s", code, body)
	})

	theirs, err := c.gateway.GatewayV1().ListenerSets(ns).Get(ctx, "theirs", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if a := meta.FindStatusCondition(theirs.Status.Conditions, "Accepted"); a != nil && a.Reason != "Pending" || managedBy(theirs.ManagedFields, FieldManager, "status") {
		t.Errorf("the ListenerSet of another class's Gateway got status %+v", theirs.Status)
	}
}
