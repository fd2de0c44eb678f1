package kube

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/httproute/httproute"
)

// TestFailover runs replicas of one class. Every replica serves; only the
// leader writes status. When the leader crashes (its Lease left held),
// another replica takes over within the lease duration and writes the
// status of a route created meanwhile; when that one stops cleanly, it
// hands the Lease over at once.
func TestFailover(t *testing.T) {
	c := adminClients(t)
	ns, class := unique("failover"), unique("failover")
	c.setup(t, ns, class)
	c.route(t, ns, "first", "gw", "/first", "web")

	replica := func(id string, keep bool) (*Controller, func()) {
		opts := testOptions(t, class)
		opts.LeaderElection.Identity = id
		opts.LeaderElection.KeepOnStop = keep
		return startController(t, opts)
	}
	lease := testOptions(t, class).LeaderElection
	a, stopA := replica("a", true)
	eventually(t, 30*time.Second, func() (bool, string) { return a.Leader(), "replica a does not lead" })
	waitAccepted(t, c, ns, "first")
	b, stopB := replica("b", false)
	eventually(t, 30*time.Second, func() (bool, string) {
		code, _ := get(b, "example.com", "/first")
		return code == http.StatusOK, fmt.Sprintf("replica b answers %d", code)
	})
	if b.Leader() {
		t.Fatal("replica b leads while a holds the Lease")
	}

	crash := time.Now()
	stopA()
	c.route(t, ns, "second", "gw", "/second", "web")
	eventually(t, lease.LeaseDuration+2*lease.RetryPeriod+time.Second, func() (bool, string) {
		return b.Leader(), "replica b did not take the Lease over"
	})
	takeover := time.Since(crash)
	waitAccepted(t, c, ns, "second")
	written := time.Since(crash)
	t.Logf("leader crashed: replica b leads after %s and has written the new route's status after %s (lease duration %s, retry period %s)",
		takeover.Round(time.Millisecond), written.Round(time.Millisecond), lease.LeaseDuration, lease.RetryPeriod)

	cr, _ := replica("c", false)
	eventually(t, 30*time.Second, func() (bool, string) { return cr.Ready(), "replica c is not ready" })
	handover := time.Now()
	stopB()
	eventually(t, 3*lease.RetryPeriod+time.Second, func() (bool, string) {
		return cr.Leader(), "replica c did not take over the Lease replica b released"
	})
	t.Logf("leader stopped cleanly: replica c leads after %s", time.Since(handover).Round(time.Millisecond))
	c.route(t, ns, "third", "gw", "/third", "web")
	waitAccepted(t, c, ns, "third")
}

// waitAccepted waits until a route has the Controller's Accepted parent
// entry.
func waitAccepted(t *testing.T, c clients, ns, name string) {
	t.Helper()
	eventually(t, 30*time.Second, func() (bool, string) {
		r, err := c.gateway.GatewayV1().HTTPRoutes(ns).Get(context.Background(), name, metav1.GetOptions{})
		if err != nil {
			return false, err.Error()
		}
		return slices.ContainsFunc(r.Status.Parents, func(p gatewayv1.RouteParentStatus) bool {
			return p.ControllerName == httproute.DefaultControllerName && meta.IsStatusConditionTrue(p.Conditions, "Accepted")
		}), fmt.Sprintf("route %s/%s parents %+v", ns, name, r.Status.Parents)
	})
}
