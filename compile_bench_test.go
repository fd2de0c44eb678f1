package httproute

import (
	"fmt"
	"net/http"
	"runtime"
	"syscall"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
)

// controlPlaneRoutes returns n routes over 100 hostnames with three rules
// each (an Exact rule, a PathPrefix rule with a header match, a plain
// PathPrefix rule), each rule with one backendRef to a Service: the shape
// the control-plane figures in BENCHMARKS.md are measured on.
func controlPlaneRoutes(n int) []*gatewayv1.HTTPRoute {
	exact, prefix := gatewayv1.PathMatchExact, gatewayv1.PathMatchPathPrefix
	routes := make([]*gatewayv1.HTTPRoute, 0, n)
	backend := func(i int) []gatewayv1.HTTPBackendRef {
		return []gatewayv1.HTTPBackendRef{{BackendRef: gatewayv1.BackendRef{BackendObjectReference: gatewayv1.BackendObjectReference{
			Name: gatewayv1.ObjectName(fmt.Sprintf("svc-%d", i%50)), Port: ptr(gatewayv1.PortNumber(80))}}}}
	}
	for i := 0; i < n; i++ {
		p := fmt.Sprintf("/api/v1/svc%d", i)
		routes = append(routes, &gatewayv1.HTTPRoute{
			ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: fmt.Sprintf("route-%d", i)},
			Spec: gatewayv1.HTTPRouteSpec{
				Hostnames: []gatewayv1.Hostname{gatewayv1.Hostname(fmt.Sprintf("host-%d.example.com", i%100))},
				Rules: []gatewayv1.HTTPRouteRule{
					{Matches: []gatewayv1.HTTPRouteMatch{{Path: &gatewayv1.HTTPPathMatch{Type: &exact, Value: ptr(p + "/status")}}}, BackendRefs: backend(i)},
					{Matches: []gatewayv1.HTTPRouteMatch{{
						Path:    &gatewayv1.HTTPPathMatch{Type: &prefix, Value: ptr(p)},
						Headers: []gatewayv1.HTTPHeaderMatch{{Name: "x-version", Value: "2"}},
					}}, BackendRefs: backend(i + 1)},
					{Matches: []gatewayv1.HTTPRouteMatch{{Path: &gatewayv1.HTTPPathMatch{Type: &prefix, Value: ptr(p)}}}, BackendRefs: backend(i + 2)},
				},
			},
		})
	}
	return routes
}

func controlPlaneConfig(routes []*gatewayv1.HTTPRoute) Config {
	return Config{HTTPRoutes: routes, Services: ServiceResolverFunc(func(ref BackendRef) (Backend, error) {
		return inertBackend{}, nil
	})}
}

// inertBackend is a backend for compile benchmarks, which serve nothing.
type inertBackend struct{}

func (inertBackend) RoundTrip(*http.Request) (*http.Response, error) { return nil, ErrNoEndpoint }

// BenchmarkNew measures compiling a Config from scratch.
func BenchmarkNew(b *testing.B) {
	for _, n := range []int{1000, 10000, 50000} {
		b.Run(fmt.Sprintf("routes=%d", n), func(b *testing.B) {
			cfg := controlPlaneConfig(controlPlaneRoutes(n))
			b.ReportAllocs()
			cpu := startCPU()
			for b.Loop() {
				if _, err := New(cfg); err != nil {
					b.Fatal(err)
				}
			}
			cpu.report(b)
		})
	}
}

// BenchmarkUpdateOneRoute measures an Update that changes one route of
// 10,000, handed over as fresh objects (as a program that re-reads its
// YAML or an informer relist does).
func BenchmarkUpdateOneRoute(b *testing.B) {
	const n = 10000
	rt, err := New(controlPlaneConfig(controlPlaneRoutes(n)))
	if err != nil {
		b.Fatal(err)
	}
	fresh := make([][]*gatewayv1.HTTPRoute, 2)
	for i := range fresh {
		fresh[i] = controlPlaneRoutes(n)
		fresh[i][n/2].Spec.Rules[2].Matches[0].Path.Value = ptr(fmt.Sprintf("/edited/%d", i))
	}
	// The collection the setup's allocations (a compile, 20,000 routes)
	// call for is not the Updates' to pay.
	runtime.GC()
	b.ReportAllocs()
	cpu := startCPU()
	i := 0
	for b.Loop() {
		if err := rt.Update(controlPlaneConfig(fresh[i%2])); err != nil {
			b.Fatal(err)
		}
		i++
	}
	cpu.report(b)
}

// cpuClock measures the CPU time the process spends (all threads, the
// garbage collector's included), which a machine shared with other work
// disturbs far less than wall-clock time.
type cpuClock time.Duration

func startCPU() cpuClock { return cpuClock(processCPU()) }

func (c cpuClock) report(b *testing.B) {
	b.ReportMetric(float64(processCPU()-time.Duration(c))/float64(b.N), "cpu-ns/op")
}

func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkServeUnderReload serves requests from parallel clients to a
// Router of 10,000 routes, with no Update and with an Update handing over
// fresh objects every 100 ms, one route changed each time: the table a
// reload builds must not starve the requests.
func BenchmarkServeUnderReload(b *testing.B) {
	const n = 10000
	for _, every := range []time.Duration{0, 100 * time.Millisecond} {
		name := "reload=none"
		if every > 0 {
			name = "reload=" + every.String()
		}
		b.Run(name, func(b *testing.B) {
			ok := Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(204) }))
			cfgFor := func(routes []*gatewayv1.HTTPRoute) Config {
				return Config{HTTPRoutes: routes, Services: ServiceResolverFunc(func(BackendRef) (Backend, error) { return ok, nil })}
			}
			rt, err := New(cfgFor(controlPlaneRoutes(n)))
			if err != nil {
				b.Fatal(err)
			}
			// Two sets of fresh objects, one route apart, handed over in
			// turn: the reload's cost is the Router's, not the host's.
			sets := [2][]*gatewayv1.HTTPRoute{controlPlaneRoutes(n), controlPlaneRoutes(n)}
			sets[1][n/3].Spec.Rules[2].Matches[0].Path.Value = ptr("/edited")
			stop := make(chan struct{})
			done := make(chan int)
			go func() {
				reloads := 0
				defer func() { done <- reloads }()
				if every == 0 {
					<-stop
					return
				}
				tick := time.NewTicker(every)
				defer tick.Stop()
				for {
					select {
					case <-stop:
						return
					case <-tick.C:
						if err := rt.Update(cfgFor(sets[reloads%2])); err != nil {
							b.Error(err)
							return
						}
						reloads++
					}
				}
			}()
			req := benchRequest(n)
			req.Host = "host-50.example.com"
			req.URL.Path = "/api/v1/svc50/items"
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				w := &discardWriter{h: http.Header{}}
				for pb.Next() {
					clear(w.h)
					rt.ServeHTTP(w, req)
				}
			})
			b.StopTimer()
			close(stop)
			b.ReportMetric(float64(<-done), "reloads")
		})
	}
}

// discardWriter is a ResponseWriter that keeps nothing.
type discardWriter struct {
	h    http.Header
	code int
}

func (w *discardWriter) Header() http.Header         { return w.h }
func (w *discardWriter) Write(p []byte) (int, error) { return len(p), nil }
func (w *discardWriter) WriteHeader(code int)        { w.code = code }

// BenchmarkRetainedPerRoute reports the heap a Router keeps per simple
// route (one rule, one PathPrefix match, one backendRef), objects of the
// Config excluded.
func BenchmarkRetainedPerRoute(b *testing.B) {
	const n = 10000
	prefix := gatewayv1.PathMatchPathPrefix
	routes := make([]*gatewayv1.HTTPRoute, n)
	for i := range routes {
		routes[i] = &gatewayv1.HTTPRoute{
			ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: fmt.Sprintf("r%d", i)},
			Spec: gatewayv1.HTTPRouteSpec{Rules: []gatewayv1.HTTPRouteRule{{
				Matches: []gatewayv1.HTTPRouteMatch{{Path: &gatewayv1.HTTPPathMatch{Type: &prefix, Value: ptr(fmt.Sprintf("/svc%d", i))}}},
				BackendRefs: []gatewayv1.HTTPBackendRef{{BackendRef: gatewayv1.BackendRef{BackendObjectReference: gatewayv1.BackendObjectReference{
					Name: "svc", Port: ptr(gatewayv1.PortNumber(80))}}}},
			}}},
		}
	}
	cfg := Config{HTTPRoutes: routes, Services: ServiceResolverFunc(func(BackendRef) (Backend, error) { return inertBackend{}, nil })}
	var perRoute float64
	for b.Loop() {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		rt, err := New(cfg)
		if err != nil {
			b.Fatal(err)
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		perRoute = float64(after.HeapAlloc-before.HeapAlloc) / n
		runtime.KeepAlive(rt)
	}
	b.ReportMetric(perRoute, "B/route")
}
