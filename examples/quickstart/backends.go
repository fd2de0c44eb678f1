package main

import (
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/httproute/httproute"
	"github.com/httproute/httproute/internal/echo"
)

// echoServices are the Services of the seed's routes and of most tour
// routes; each resolves, in any namespace, to an in-process echo backend
// (httpbin's /status/NNN and a JSON echo of the request everywhere else).
var echoServices = []string{
	"httpbin", "httpbin-v1", "httpbin-v2", "httpbin-v3", "productpage",
	"helloworld-v1", "helloworld-v2", "helloworld-v3",
}

// Every demo answer says who answered in these headers, even where the
// echo has no body (/status/NNN).
const (
	// headerBackend is the namespace/name of the Service.
	headerBackend = "X-Demo-Backend"
	// headerEndpoint is the endpoint (pod) of a Service with several.
	headerEndpoint = "X-Demo-Endpoint"
	// headerRoute is the route and rule that matched, for in-process
	// backends (which see the Router's match in the request context).
	headerRoute = "X-Demo-Route"
	// headerFlaky is the flaky backend's account of its alternation.
	headerFlaky = "X-Demo-Flaky"
)

// demo holds the demo backends that have state or run on loopback TCP
// ports, shared by every Router of the quick start.
type demo struct {
	shadow    *recorder
	flaky     *flaky
	upstreams map[string]*httproute.Upstream // by Service name, namespace default
	servers   []*http.Server
}

// cartEndpoints is the number of endpoints of the cart Service, which
// session persistence pins a client to.
const cartEndpoints = 3

// startDemo starts the demo backends: the in-process ones with state, and
// the loopback servers behind the Services that are proxied (slow,
// unresponsive, and cart with several endpoints).
func startDemo() (*demo, error) {
	d := &demo{
		shadow:    &recorder{},
		flaky:     &flaky{next: tag("default/flaky", echo.New(echo.Info{Namespace: "default", Service: "flaky", Pod: "flaky-0"}))},
		upstreams: map[string]*httproute.Upstream{},
	}
	endpoints := map[string][]http.Handler{
		"slow":         {echo.New(echo.Info{Namespace: "default", Service: "slow", Pod: "slow-0"})},
		"unresponsive": {http.HandlerFunc(unresponsive)},
	}
	for i := range cartEndpoints {
		pod := fmt.Sprintf("cart-%d", i)
		endpoints["cart"] = append(endpoints["cart"], withHeader(headerEndpoint, pod,
			echo.New(echo.Info{Namespace: "default", Service: "cart", Pod: pod})))
	}
	for _, name := range slices.Sorted(maps.Keys(endpoints)) {
		var addrs []string
		for _, h := range endpoints[name] {
			addr, err := d.serve(tag("default/"+name, h))
			if err != nil {
				d.close()
				return nil, err
			}
			addrs = append(addrs, addr)
		}
		// Round robin, so that a client without a session visibly goes
		// from one cart endpoint to the next.
		u, err := httproute.NewUpstream(httproute.UpstreamConfig{Endpoints: addrs, Balancer: httproute.RoundRobin})
		if err != nil {
			d.close()
			return nil, err
		}
		d.upstreams[name] = u
	}
	return d, nil
}

// serve runs h on a loopback port and returns its address.
func (d *demo) serve(h http.Handler) (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	d.servers = append(d.servers, srv)
	go func() { _ = srv.Serve(ln) }()
	return ln.Addr().String(), nil
}

func (d *demo) close() {
	for _, s := range d.servers {
		_ = s.Close()
	}
	for _, u := range d.upstreams {
		u.CloseIdleConnections()
	}
}

// ResolveService resolves the demo Services: the echo Services in every
// namespace, the others in namespace default.
func (d *demo) ResolveService(ref httproute.BackendRef) (httproute.Backend, error) {
	if slices.Contains(echoServices, ref.Name) {
		name := ref.Namespace + "/" + ref.Name
		return httproute.Handler(tag(name, echo.New(echo.Info{
			Namespace: ref.Namespace,
			Service:   ref.Name,
			Pod:       ref.Name + "-demo",
			HTTPPort:  fmt.Sprint(ref.Port),
		}))), nil
	}
	if ref.Namespace == "default" {
		switch ref.Name {
		case "httpbin-shadow":
			return httproute.Handler(tag("default/httpbin-shadow", d.shadow)), nil
		case "flaky":
			return httproute.Handler(d.flaky), nil
		}
		if u := d.upstreams[ref.Name]; u != nil {
			return u, nil
		}
	}
	return nil, fmt.Errorf("no demo backend named %s/%s: %w", ref.Namespace, ref.Name, httproute.ErrNotFound)
}

// tag makes h say who answered: the Service, the route and rule that
// matched (when the Router's match is in the request context), and an
// X-Powered-By header, which the tour's ResponseHeaderModifier removes.
func tag(service string, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set(headerBackend, service)
		w.Header().Set("X-Powered-By", "demo-echo")
		if m := httproute.MatchFromContext(r.Context()); m != nil {
			w.Header().Set(headerRoute, fmt.Sprintf("%s rule %d", m.Route, m.Rule))
		}
		// The echo reports the RequestURI, which is what the client sent;
		// an in-process backend gets the request as the route's filters
		// left it (a URLRewrite changes r.URL), so report that.
		if uri := r.URL.RequestURI(); uri != r.RequestURI {
			r = r.Clone(r.Context())
			r.RequestURI = uri
		}
		h.ServeHTTP(w, r)
	})
}

// withHeader sets a response header before h answers.
func withHeader(name, value string, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set(name, value)
		h.ServeHTTP(w, r)
	})
}

// unresponsive never answers: it holds each request until the client
// gives up (at most a minute).
func unresponsive(w http.ResponseWriter, r *http.Request) {
	t := time.NewTimer(time.Minute)
	defer t.Stop()
	select {
	case <-r.Context().Done():
	case <-t.C:
		w.WriteHeader(http.StatusServiceUnavailable)
	}
}

// flaky answers 503 to every other request it receives, starting with the
// first, and passes the others to next.
type flaky struct {
	n    atomic.Uint64
	next http.Handler
}

func (f *flaky) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if f.n.Add(1)%2 == 1 {
		w.Header().Set(headerBackend, "default/flaky")
		w.Header().Set(headerFlaky, "503 to this request")
		http.Error(w, "flaky: this request fails, the next one will not", http.StatusServiceUnavailable)
		return
	}
	w.Header().Set(headerFlaky, "the request before this one got 503")
	f.next.ServeHTTP(w, r)
}

// recorder is the mirror's target: it keeps the last requests it
// receives (method, target and host, cut to a few hundred bytes), and
// answers GET /mirror-log with them, one a line.
type recorder struct {
	mu   sync.Mutex
	seen []string
}

// recorderKeeps bounds what a recorder remembers.
const recorderKeeps = 20

func (rc *recorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	_, _ = io.Copy(io.Discard, io.LimitReader(r.Body, 1<<20))
	if r.Method == http.MethodGet && r.URL.Path == "/mirror-log" {
		rc.mu.Lock()
		log := strings.Join(rc.seen, "")
		rc.mu.Unlock()
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = io.WriteString(w, log)
		return
	}
	line := fmt.Sprintf("%.16s %.200s (Host: %.100s)\n", r.Method, r.URL.RequestURI(), r.Host)
	rc.mu.Lock()
	rc.seen = append(rc.seen, line)
	if len(rc.seen) > recorderKeeps {
		rc.seen = slices.Delete(rc.seen, 0, len(rc.seen)-recorderKeeps)
	}
	rc.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}
