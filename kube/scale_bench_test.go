package kube

import (
	"context"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"os"
	"slices"
	"sync"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
	gatewayv1client "sigs.k8s.io/gateway-api/pkg/client/clientset/versioned/typed/apis/v1"

	"github.com/httproute/httproute"
)

// scaleRoutes is how many HTTPRoutes the scale benchmarks create.
const scaleRoutes = 5000

const scaleNS, scaleClass = "scale", "scale"

var scaleOnce sync.Once

// scaleSetup creates, once per test binary, a Gateway, a Service and
// scaleRoutes HTTPRoutes attached to the Gateway, route i matching the
// path prefix /r<i>.
func scaleSetup(b *testing.B) {
	b.Helper()
	var err error
	scaleOnce.Do(func() {
		c := adminClients(b)
		ctx := context.Background()
		start := time.Now()
		c.setup(b, scaleNS, scaleClass)
		jobs := make(chan int)
		var wg sync.WaitGroup
		var mu sync.Mutex
		for range 32 {
			wg.Go(func() {
				for i := range jobs {
					r := routeObj(scaleNS, fmt.Sprintf("r%d", i), "gw", fmt.Sprintf("/r%d", i), "web")
					if _, e := c.gateway.GatewayV1().HTTPRoutes(scaleNS).Create(ctx, r, metav1.CreateOptions{}); e != nil {
						mu.Lock()
						err = e
						mu.Unlock()
					}
				}
			})
		}
		for i := range scaleRoutes {
			jobs <- i
		}
		close(jobs)
		wg.Wait()
		b.Logf("created %d HTTPRoutes in %s", scaleRoutes, time.Since(start).Round(time.Millisecond))
	})
	if err != nil {
		b.Fatal(err)
	}
}

// BenchmarkStart5000Routes starts a Controller against a cluster that has
// 5,000 HTTPRoutes and measures the time until it serves all of them
// (s/serving: its caches synced and the first Config compiled, so the
// last route answers) and until, as leader, it has written the status of
// every route (s/status).
func BenchmarkStart5000Routes(b *testing.B) {
	scaleSetup(b)
	b.ResetTimer()
	var serving, status time.Duration
	for range b.N {
		b.StopTimer()
		clearStatus(b)
		b.StartTimer()
		opts := scaleOptions()
		start := time.Now()
		c, stop := startController(b, opts)
		last := fmt.Sprintf("/r%d", scaleRoutes-1)
		for !servesPath(c, last) {
			time.Sleep(time.Millisecond)
		}
		serving += time.Since(start)
		waitAllStatus(b)
		status += time.Since(start)
		stop()
	}
	b.ReportMetric(serving.Seconds()/float64(b.N), "s/serving")
	b.ReportMetric(status.Seconds()/float64(b.N), "s/status")
}

// BenchmarkEditOneOf5000Routes measures, with a Controller serving 5,000
// HTTPRoutes, the time from an update of one route's path to the Router
// serving the new path (ms/edit): the API call, the informer's event, the
// debounce (100ms by default) and a rebuild (an incremental
// Router.Update).
func BenchmarkEditOneOf5000Routes(b *testing.B) {
	scaleSetup(b)
	c, _ := startController(b, scaleOptions())
	// Edits are measured once the status of every route is written, so
	// that no status pass of 5,000 routes runs beside them.
	waitAllStatus(b)
	for !servesPath(c, fmt.Sprintf("/r%d", scaleRoutes-1)) {
		time.Sleep(time.Millisecond)
	}
	routes := scaleRoutesClient(b)
	b.ResetTimer()
	var total time.Duration
	for i := range b.N {
		b.StopTimer()
		name := fmt.Sprintf("r%d", i%scaleRoutes)
		// A path new in this test binary: with -count, a path of the
		// previous run would already be served.
		path := "/" + unique(name+"-edit")
		b.StartTimer()
		start := time.Now()
		editPath(b, routes, name, path)
		for !servesPath(c, path) {
			time.Sleep(time.Millisecond)
		}
		total += time.Since(start)
	}
	b.ReportMetric(float64(total.Milliseconds())/float64(b.N), "ms/edit")
}

// BenchmarkFailover5000Routes measures, with two replicas serving 5,000
// HTTPRoutes, the time from the leader's crash (its Lease left held, as
// when its Pod dies) to the other replica leading (s/takeover), and to
// that replica having written the status of a route edited just after
// the crash (s/status): its first status pass compares all 5,000 routes
// and writes the one that changed. The Lease is scaleOptions' (3s).
func BenchmarkFailover5000Routes(b *testing.B) {
	scaleSetup(b)
	ctx := context.Background()
	replica := func() (*Controller, func()) {
		opts := scaleOptions()
		opts.LeaderElection.KeepOnStop = true
		return startController(b, opts)
	}
	last := fmt.Sprintf("/r%d", scaleRoutes-1)
	leader, stopLeader := replica()
	for !leader.Leader() {
		time.Sleep(10 * time.Millisecond)
	}
	waitAllStatus(b)
	routes := scaleRoutesClient(b)
	b.ResetTimer()
	var takeover, status time.Duration
	for i := range b.N {
		b.StopTimer()
		standby, stopStandby := replica()
		for !servesPath(standby, last) {
			time.Sleep(time.Millisecond)
		}
		name := fmt.Sprintf("r%d", i%scaleRoutes)
		b.StartTimer()
		crash := time.Now()
		stopLeader()
		gen := editPath(b, routes, name, "/"+unique(name+"-failover"))
		for !standby.Leader() {
			time.Sleep(10 * time.Millisecond)
		}
		takeover += time.Since(crash)
		for !hasStatus(b, routes, name, gen) {
			time.Sleep(10 * time.Millisecond)
		}
		status += time.Since(crash)
		leader, stopLeader = standby, stopStandby
	}
	b.StopTimer()
	stopLeader()
	// The last leader kept the Lease: free it for the next benchmark.
	lease := "httproute-" + scaleClass
	if err := adminClients(b).core.CoordinationV1().Leases(scaleOptions().LeaderElection.Namespace).Delete(ctx, lease, metav1.DeleteOptions{}); err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(takeover.Seconds()/float64(b.N), "s/takeover")
	b.ReportMetric(status.Seconds()/float64(b.N), "s/status")
}

// BenchmarkRebuild5000Routes measures one rebuild of a Controller's
// table with 5,000 HTTPRoutes, the Config built from the caches: compiled
// from scratch (full), handed to Router.Update unchanged (incremental,
// the rebuild after a change that touches no route, a Secret's say), and
// with one route changed (one-route).
func BenchmarkRebuild5000Routes(b *testing.B) {
	scaleSetup(b)
	c, _ := startController(b, scaleOptions())
	for !servesPath(c, fmt.Sprintf("/r%d", scaleRoutes-1)) {
		time.Sleep(time.Millisecond)
	}
	b.Run("full", func(b *testing.B) {
		b.ReportAllocs()
		for range b.N {
			cfg, _ := c.buildConfig()
			if _, err := httproute.New(cfg); err != nil {
				b.Fatal(err)
			}
		}
	})
	for _, bc := range []struct {
		name    string
		changed bool
	}{{"incremental", false}, {"one-route", true}} {
		b.Run(bc.name, func(b *testing.B) {
			cfg, _ := c.buildConfig()
			rt, err := httproute.New(cfg)
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				cfg, _ := c.buildConfig()
				if bc.changed {
					k := i % len(cfg.HTTPRoutes)
					r := cfg.HTTPRoutes[k].DeepCopy()
					r.Spec.Rules[0].Matches[0].Path.Value = new(fmt.Sprintf("/rebuilt%d", i))
					cfg.HTTPRoutes[k] = r
				}
				if err := rt.Update(cfg); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// scaleRoutesClient returns the client of the scale namespace's
// HTTPRoutes, made once per benchmark: outside the timed edits and polls.
func scaleRoutesClient(b *testing.B) gatewayv1client.HTTPRouteInterface {
	return adminClients(b).gateway.GatewayV1().HTTPRoutes(scaleNS)
}

// editPath sets the path of a scale route's rule through routes and
// returns the route's new generation.
func editPath(b *testing.B, routes gatewayv1client.HTTPRouteInterface, name, path string) int64 {
	b.Helper()
	ctx := context.Background()
	var gen int64
	err := retry.RetryOnConflict(retry.DefaultBackoff, func() error {
		r, err := routes.Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		r.Spec.Rules[0].Matches[0].Path.Value = &path
		r, err = routes.Update(ctx, r, metav1.UpdateOptions{})
		if err == nil {
			gen = r.Generation
		}
		return err
	})
	if err != nil {
		b.Fatal(err)
	}
	return gen
}

// hasStatus reports whether a scale route has the Controller's Accepted
// parent entry of generation gen.
func hasStatus(b *testing.B, routes gatewayv1client.HTTPRouteInterface, name string, gen int64) bool {
	r, err := routes.Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		b.Fatal(err)
	}
	return slices.ContainsFunc(r.Status.Parents, func(p gatewayv1.RouteParentStatus) bool {
		a := meta.FindStatusCondition(p.Conditions, "Accepted")
		return p.ControllerName == httproute.DefaultControllerName && a != nil && a.Status == metav1.ConditionTrue && a.ObservedGeneration == gen
	})
}

// waitAllStatus waits until every route of the scale namespace has the
// Controller's Accepted parent entry.
func waitAllStatus(b *testing.B) {
	ctx := context.Background()
	gcs := adminClients(b).gateway
	for {
		list, err := gcs.GatewayV1().HTTPRoutes(scaleNS).List(ctx, metav1.ListOptions{})
		if err != nil {
			b.Fatal(err)
		}
		done := 0
		for _, r := range list.Items {
			for _, p := range r.Status.Parents {
				if p.ControllerName == httproute.DefaultControllerName && meta.IsStatusConditionTrue(p.Conditions, "Accepted") {
					done++
				}
			}
		}
		if done == len(list.Items) {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// servesPath reports whether the Controller routes path to a rule.
func servesPath(c *Controller, path string) bool {
	if !c.Ready() {
		return false
	}
	_, ok := c.Router().Lookup(httptest.NewRequest("GET", "http://example.com"+path, nil))
	return ok
}

// scaleOptions are the Controller's defaults, but for a quick election;
// -test.v logs the Controller's records.
func scaleOptions() Options {
	logger := slog.New(slog.DiscardHandler)
	if testing.Verbose() {
		logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return Options{
		Logger:           logger,
		GatewayClassName: scaleClass,
		Resolver:         testResolver(),
		LeaderElection: LeaderElection{
			Namespace:     "httproute-system",
			LeaseDuration: 3 * time.Second, RenewDeadline: 2 * time.Second, RetryPeriod: 250 * time.Millisecond,
		},
	}
}

// clearStatus removes the Controller's parent entries from the routes.
func clearStatus(b *testing.B) {
	ctx := context.Background()
	gcs := adminClients(b).gateway
	list, err := gcs.GatewayV1().HTTPRoutes(scaleNS).List(ctx, metav1.ListOptions{})
	if err != nil {
		b.Fatal(err)
	}
	for i := range list.Items {
		r := &list.Items[i]
		if len(r.Status.Parents) == 0 {
			continue
		}
		r.Status.Parents = []gatewayv1.RouteParentStatus{}
		if _, err := gcs.GatewayV1().HTTPRoutes(scaleNS).UpdateStatus(ctx, r, metav1.UpdateOptions{}); err != nil {
			b.Fatal(err)
		}
	}
}
