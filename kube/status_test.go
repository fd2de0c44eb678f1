package kube

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/httproute/httproute"
)

// foreignParent is a parent entry of another controller.
func foreignParent(gateway string) gatewayv1.RouteParentStatus {
	return gatewayv1.RouteParentStatus{
		ParentRef:      gatewayRef(gateway),
		ControllerName: "example.com/other",
		Conditions: []metav1.Condition{{
			Type: "Accepted", Status: metav1.ConditionTrue, Reason: "Accepted", Message: "theirs",
			LastTransitionTime: metav1.NewTime(time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)),
		}},
	}
}

// gatewayRef is a parentRef to a Gateway as the API server defaults it.
func gatewayRef(name string) gatewayv1.ParentReference {
	return gatewayv1.ParentReference{
		Group: new(gatewayv1.Group(gatewayv1.GroupName)), Kind: new(gatewayv1.Kind("Gateway")), Name: gatewayv1.ObjectName(name),
	}
}

// foreignCondition is a condition of a type the Gateway API does not
// define, written by someone else.
var foreignCondition = metav1.Condition{
	Type: "example.com/Audited", Status: metav1.ConditionTrue, Reason: "Audited", Message: "theirs",
	LastTransitionTime: metav1.NewTime(time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)),
}

// TestStatus checks the status the Controller writes: the GatewayClass
// accepted with its features; the Gateway's conditions, listeners and
// attached routes at its generation; the route's own parent entry; all
// under the field manager "httproute", keeping what others wrote, and
// with transition times that do not move when a status does not change.
func TestStatus(t *testing.T) {
	ctx := context.Background()
	c := adminClients(t)
	ns, class := unique("status"), unique("status")
	c.setup(t, ns, class)
	gw, err := c.gateway.GatewayV1().Gateways(ns).Get(ctx, "gw", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	r := c.route(t, ns, "r", "gw", "/", "web")

	gw.Status.Conditions = []metav1.Condition{foreignCondition}
	if _, err := c.gateway.GatewayV1().Gateways(ns).UpdateStatus(ctx, gw, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	r.Status.Parents = []gatewayv1.RouteParentStatus{foreignParent("elsewhere")}
	if _, err := c.gateway.GatewayV1().HTTPRoutes(ns).UpdateStatus(ctx, r, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}

	ctrl, _ := startController(t, testOptions(t, class))
	eventually(t, 30*time.Second, func() (bool, string) {
		gwc, err := c.gateway.GatewayV1().GatewayClasses().Get(ctx, class, metav1.GetOptions{})
		if err != nil {
			return false, err.Error()
		}
		return meta.IsStatusConditionTrue(gwc.Status.Conditions, "Accepted") && len(gwc.Status.SupportedFeatures) == len(httproute.SupportedFeatures()),
			fmt.Sprintf("GatewayClass status %+v", gwc.Status)
	})
	var accepted metav1.Condition
	eventually(t, 30*time.Second, func() (bool, string) {
		gw, err := c.gateway.GatewayV1().Gateways(ns).Get(ctx, "gw", metav1.GetOptions{})
		if err != nil {
			return false, err.Error()
		}
		st := gw.Status
		a := meta.FindStatusCondition(st.Conditions, "Accepted")
		p := meta.FindStatusCondition(st.Conditions, "Programmed")
		ok := a != nil && a.Status == metav1.ConditionTrue && a.ObservedGeneration == 1 &&
			p != nil && p.Status == metav1.ConditionTrue &&
			len(st.Listeners) == 1 && st.Listeners[0].AttachedRoutes == 1 &&
			meta.IsStatusConditionTrue(st.Listeners[0].Conditions, "Programmed")
		if a != nil {
			accepted = *a
		}
		return ok, fmt.Sprintf("Gateway status %+v", st)
	})
	gw, err = c.gateway.GatewayV1().Gateways(ns).Get(ctx, "gw", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := meta.FindStatusCondition(gw.Status.Conditions, foreignCondition.Type); got == nil || got.Message != "theirs" {
		t.Errorf("the foreign condition was not kept: %+v", gw.Status.Conditions)
	}
	if !managedBy(gw.ManagedFields, FieldManager, "status") {
		t.Errorf("no status fields managed by %q: %+v", FieldManager, gw.ManagedFields)
	}

	eventually(t, 30*time.Second, func() (bool, string) {
		r, err := c.gateway.GatewayV1().HTTPRoutes(ns).Get(ctx, "r", metav1.GetOptions{})
		if err != nil {
			return false, err.Error()
		}
		ours := slices.IndexFunc(r.Status.Parents, func(p gatewayv1.RouteParentStatus) bool {
			return p.ControllerName == httproute.DefaultControllerName && meta.IsStatusConditionTrue(p.Conditions, "Accepted")
		})
		theirs := slices.IndexFunc(r.Status.Parents, func(p gatewayv1.RouteParentStatus) bool {
			return cmp.Equal(p, foreignParent("elsewhere"))
		})
		return ours >= 0 && theirs >= 0 && len(r.Status.Parents) == 2, fmt.Sprintf("route parents %+v", r.Status.Parents)
	})

	// A new generation whose status does not change keeps the transition
	// time; a second passes first, so that a rewritten time would differ.
	time.Sleep(1100 * time.Millisecond)
	err = retry.RetryOnConflict(retry.DefaultBackoff, func() error {
		gw, err := c.gateway.GatewayV1().Gateways(ns).Get(ctx, "gw", metav1.GetOptions{})
		if err != nil {
			return err
		}
		gw.Spec.Listeners = append(gw.Spec.Listeners, gatewayv1.Listener{Name: "other", Port: 8080, Protocol: gatewayv1.HTTPProtocolType})
		_, err = c.gateway.GatewayV1().Gateways(ns).Update(ctx, gw, metav1.UpdateOptions{})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, func() (bool, string) {
		gw, err := c.gateway.GatewayV1().Gateways(ns).Get(ctx, "gw", metav1.GetOptions{})
		if err != nil {
			return false, err.Error()
		}
		a := meta.FindStatusCondition(gw.Status.Conditions, "Accepted")
		return a != nil && a.ObservedGeneration == 2 && len(gw.Status.Listeners) == 2, fmt.Sprintf("Gateway status %+v", gw.Status)
	})
	gw, err = c.gateway.GatewayV1().Gateways(ns).Get(ctx, "gw", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if a := meta.FindStatusCondition(gw.Status.Conditions, "Accepted"); !a.LastTransitionTime.Equal(&accepted.LastTransitionTime) {
		t.Errorf("Accepted stayed true but its lastTransitionTime moved from %s to %s", accepted.LastTransitionTime, a.LastTransitionTime)
	}

	// Nothing changes any more: the resourceVersions stay.
	before := resourceVersions(t, c, ns)
	ctrl.changed()
	time.Sleep(time.Second)
	if diff := cmp.Diff(before, resourceVersions(t, c, ns)); diff != "" {
		t.Errorf("a rebuild without changes rewrote status (-before +after):\n%s", diff)
	}
}

// resourceVersions returns the resourceVersions of a namespace's Gateways
// and HTTPRoutes, and of the GatewayClasses.
func resourceVersions(t *testing.T, c clients, ns string) map[string]string {
	t.Helper()
	ctx := context.Background()
	out := map[string]string{}
	gws, err := c.gateway.GatewayV1().Gateways(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range gws.Items {
		out["Gateway "+o.Name] = o.ResourceVersion
	}
	rs, err := c.gateway.GatewayV1().HTTPRoutes(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range rs.Items {
		out["HTTPRoute "+o.Name] = o.ResourceVersion
	}
	cls, err := c.gateway.GatewayV1().GatewayClasses().List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range cls.Items {
		out["GatewayClass "+o.Name] = o.ResourceVersion
	}
	return out
}

func managedBy(fields []metav1.ManagedFieldsEntry, manager, subresource string) bool {
	return slices.ContainsFunc(fields, func(f metav1.ManagedFieldsEntry) bool {
		return f.Manager == manager && f.Subresource == subresource && f.Operation == metav1.ManagedFieldsOperationApply
	})
}

// TestStatusRetriesOnConflict writes a route's status from a copy read
// before another writer added a parent entry: the apply conflicts, is
// retried on the route read again, and keeps that entry.
func TestStatusRetriesOnConflict(t *testing.T) {
	ctx := context.Background()
	c := adminClients(t)
	ns := unique("conflict")
	c.namespace(t, ns)
	stale := c.route(t, ns, "r", "gw", "/", "web")

	cur := stale.DeepCopy()
	cur.Status.Parents = []gatewayv1.RouteParentStatus{foreignParent("theirs")}
	if _, err := c.gateway.GatewayV1().HTTPRoutes(ns).UpdateStatus(ctx, cur, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}

	ctrl, err := New(env.Controller, testOptions(t, unique("conflict")))
	if err != nil {
		t.Fatal(err)
	}
	ours := []gatewayv1.RouteParentStatus{{
		ParentRef:      gatewayRef("gw"),
		ControllerName: httproute.DefaultControllerName,
		Conditions: []metav1.Condition{{
			Type: "Accepted", Status: metav1.ConditionTrue, Reason: "Accepted", Message: "ours", ObservedGeneration: 1,
			LastTransitionTime: metav1.NewTime(time.Now().Truncate(time.Second)),
		}},
	}}
	if err := applyRoute(ctx, ctrl.status, httpRoutes(ctrl.status.client), stale, ours); err != nil {
		t.Fatalf("applyRoute from a stale copy: %v", err)
	}
	got, err := c.gateway.GatewayV1().HTTPRoutes(ns).Get(ctx, "r", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	want := append(ours, foreignParent("theirs"))
	if diff := cmp.Diff(want, got.Status.Parents); diff != "" {
		t.Errorf("parents (-want +got):\n%s", diff)
	}
}

// TestSameControllerOtherClass runs two Controllers of one controllerName
// for two classes, with a route attached to a Gateway of each: each
// writes its own parent entry and keeps the other's, and neither rewrites
// the route for ever after.
func TestSameControllerOtherClass(t *testing.T) {
	ctx := context.Background()
	c := adminClients(t)
	ns := unique("twoclasses")
	c.namespace(t, ns)
	blueClass, greenClass := unique("blue"), unique("green")
	c.class(t, blueClass, httproute.DefaultControllerName)
	c.class(t, greenClass, httproute.DefaultControllerName)
	c.gatewayObj(t, ns, "blue", blueClass, 80)
	c.gatewayObj(t, ns, "green", greenClass, 80)
	c.backend(t, ns, "web")
	r := routeObj(ns, "r", "blue", "/", "web")
	r.Spec.ParentRefs = append(r.Spec.ParentRefs, gatewayv1.ParentReference{Name: "green"})
	if _, err := c.gateway.GatewayV1().HTTPRoutes(ns).Create(ctx, r, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	blue := testOptions(t, blueClass)
	green := testOptions(t, greenClass)
	startController(t, blue)
	startController(t, green)
	eventually(t, 30*time.Second, func() (bool, string) {
		r, err := c.gateway.GatewayV1().HTTPRoutes(ns).Get(ctx, "r", metav1.GetOptions{})
		if err != nil {
			return false, err.Error()
		}
		var names []string
		for _, p := range r.Status.Parents {
			if p.ControllerName == httproute.DefaultControllerName && meta.IsStatusConditionTrue(p.Conditions, "Accepted") {
				names = append(names, string(p.ParentRef.Name))
			}
		}
		slices.Sort(names)
		return slices.Equal(names, []string{"blue", "green"}), fmt.Sprintf("accepted parents %v", names)
	})
	// Writes still in flight (a Gateway's attachedRoutes) may land after
	// the route's: the objects must come to rest within the timeout, two
	// readings a second apart being equal, and stay so.
	var before map[string]string
	eventually(t, 30*time.Second, func() (bool, string) {
		cur := resourceVersions(t, c, ns)
		diff := cmp.Diff(before, cur)
		before = cur
		time.Sleep(time.Second)
		return diff == "" && len(cur) > 0, "the two controllers keep rewriting status (-before +after):\n" + diff
	})
	time.Sleep(time.Second)
	if diff := cmp.Diff(before, resourceVersions(t, c, ns)); diff != "" {
		t.Errorf("the two controllers keep rewriting status (-before +after):\n%s", diff)
	}
}
