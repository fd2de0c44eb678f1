// Command peerbench serves a Router as a target of the side-by-side proxy
// benchmark (/work/shared/bench/peers, EXTRA_TARGETS): n HTTPRoutes with
// one PathPrefix rule each, /api/v1/tenants/t-0000 to t-<n-1>, all sending
// to one backend.
//
//	-mode proxy      to an Upstream over -backend (the default)
//	-mode inprocess  to a Handler backend answering -size bytes in process
//	-mode bare       no Router: the in-process handler alone
//
// -transport nethttp gives the Upstream net/http's transport
// (httproute.NewTransport) instead of its own.
package main

import (
	"flag"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"runtime/pprof"
	"strconv"
	"syscall"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/httproute/httproute"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:18090", "listen address")
	backend := flag.String("backend", "http://127.0.0.1:18080", "backend URL (mode proxy)")
	rules := flag.Int("rules", 1000, "number of PathPrefix routes")
	mode := flag.String("mode", "proxy", "proxy, inprocess or bare")
	transport := flag.String("transport", "lean", "lean or nethttp (mode proxy)")
	size := flag.Int("size", 32, "answer size in bytes (modes inprocess and bare)")
	cpuprofile := flag.String("cpuprofile", "", "write a CPU profile here until SIGTERM")
	flag.Parse()

	h, err := handler(*mode, *backend, *transport, *rules, *size)
	if err != nil {
		log.Fatal(err)
	}
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err != nil {
			log.Fatal(err)
		}
		pprof.StartCPUProfile(f)
		sig := make(chan os.Signal, 1)
		signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
		go func() {
			<-sig
			pprof.StopCPUProfile()
			f.Close()
			os.Exit(0)
		}()
	}
	srv := &http.Server{
		Addr:              *listen,
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       120 * time.Second,
		ErrorLog:          log.New(io.Discard, "", 0),
	}
	log.Fatal(srv.ListenAndServe())
}

func handler(mode, backend, transport string, n, size int) (http.Handler, error) {
	answer := make([]byte, size)
	for i := range answer {
		answer[i] = 'a' + byte(i%26)
	}
	if size > 0 {
		answer[size-1] = '\n'
	}
	length := strconv.Itoa(size)
	bare := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h["Content-Type"] = []string{"text/plain; charset=utf-8"}
		h["Content-Length"] = []string{length}
		w.WriteHeader(http.StatusOK)
		w.Write(answer)
	})
	var b httproute.Backend
	switch mode {
	case "bare":
		return bare, nil
	case "inprocess":
		b = httproute.InProcess(bare)
	case "proxy":
		u, err := url.Parse(backend)
		if err != nil {
			return nil, err
		}
		cfg := httproute.UpstreamConfig{Endpoints: []string{u.Host}}
		switch transport {
		case "lean":
		case "nethttp":
			cfg.Transport = httproute.NewTransport(false)
		default:
			return nil, fmt.Errorf("-transport %q: want lean or nethttp", transport)
		}
		up, err := httproute.NewUpstream(cfg)
		if err != nil {
			return nil, err
		}
		b = up
	default:
		return nil, fmt.Errorf("-mode %q: want proxy, inprocess or bare", mode)
	}
	port := gatewayv1.PortNumber(80)
	routes := make([]*gatewayv1.HTTPRoute, n)
	for i := range routes {
		prefix := fmt.Sprintf("/api/v1/tenants/t-%04d", i)
		routes[i] = &gatewayv1.HTTPRoute{
			ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: fmt.Sprintf("tenant-%04d", i)},
			Spec: gatewayv1.HTTPRouteSpec{Rules: []gatewayv1.HTTPRouteRule{{
				Matches: []gatewayv1.HTTPRouteMatch{{Path: &gatewayv1.HTTPPathMatch{Value: &prefix}}},
				BackendRefs: []gatewayv1.HTTPBackendRef{{BackendRef: gatewayv1.BackendRef{
					BackendObjectReference: gatewayv1.BackendObjectReference{Name: "bench", Port: &port}}}},
			}}},
		}
	}
	return httproute.New(httproute.Config{
		HTTPRoutes: routes,
		Services:   httproute.Services{{Namespace: "default", Name: "bench", Port: 80}: b},
		Strict:     true,
	})
}
