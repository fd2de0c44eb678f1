package kube

import (
	"context"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"os"
	"sync"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

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
// serving the new path (ms/edit): the informer's event, the debounce
// (100ms by default) and a rebuild of the whole table.
func BenchmarkEditOneOf5000Routes(b *testing.B) {
	scaleSetup(b)
	ctx := context.Background()
	c, _ := startController(b, scaleOptions())
	// Edits are measured once the status of every route is written, so
	// that no status pass of 5,000 routes runs beside them.
	waitAllStatus(b)
	for !servesPath(c, fmt.Sprintf("/r%d", scaleRoutes-1)) {
		time.Sleep(time.Millisecond)
	}
	gcs := adminClients(b).gateway
	routes := gcs.GatewayV1().HTTPRoutes(scaleNS)
	b.ResetTimer()
	var total time.Duration
	for i := range b.N {
		b.StopTimer()
		name := fmt.Sprintf("r%d", i%scaleRoutes)
		path := fmt.Sprintf("/%s-edit%d", name, i)
		b.StartTimer()
		start := time.Now()
		err := retry.RetryOnConflict(retry.DefaultBackoff, func() error {
			r, err := routes.Get(ctx, name, metav1.GetOptions{})
			if err != nil {
				return err
			}
			r.Spec.Rules[0].Matches[0].Path.Value = &path
			_, err = routes.Update(ctx, r, metav1.UpdateOptions{})
			return err
		})
		if err != nil {
			b.Fatal(err)
		}
		for !servesPath(c, path) {
			time.Sleep(time.Millisecond)
		}
		total += time.Since(start)
	}
	b.ReportMetric(float64(total.Milliseconds())/float64(b.N), "ms/edit")
}

// BenchmarkRebuild5000Routes measures one rebuild of a Controller's
// table with 5,000 HTTPRoutes: the Config built from the caches and
// compiled into a new Router (a full compile: Router.Update is not
// incremental yet).
func BenchmarkRebuild5000Routes(b *testing.B) {
	scaleSetup(b)
	c, _ := startController(b, scaleOptions())
	for !servesPath(c, fmt.Sprintf("/r%d", scaleRoutes-1)) {
		time.Sleep(time.Millisecond)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		cfg, _ := c.buildConfig()
		if _, err := httproute.New(cfg); err != nil {
			b.Fatal(err)
		}
	}
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
