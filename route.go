package httproute

import (
	"context"
	cryptorand "crypto/rand"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
	xv1alpha1 "sigs.k8s.io/gateway-api/apisx/v1alpha1"
)

// Config is everything a Router is built from: the Gateway API objects, the
// objects they reference, and the host program's hooks. A zero Config is
// valid and builds a Router that answers 404 to everything.
//
// The Router never modifies the objects of a Config and keeps no reference
// to the Config after New or Update return, except to the objects it
// reports in Status.
type Config struct {
	// Gateways and their listeners. When there are none and
	// GatewayClassName is empty, HTTPRoutes without parentRefs attach to
	// one implicit listener that accepts any port, any host and any
	// namespace; routes whose parentRefs name Gateways attach to it only
	// with IgnoreParentRefs, and otherwise report NoMatchingParent.
	Gateways []*gatewayv1.Gateway
	// HTTPRoutes to serve.
	HTTPRoutes []*gatewayv1.HTTPRoute
	// GRPCRoutes to serve: gRPC requests (Content-Type application/grpc)
	// matched by service, method and headers, proxied over HTTP/2. The
	// server must accept HTTP/2, with prior knowledge (h2c) on plain
	// listeners; see the package documentation's # gRPC.
	GRPCRoutes []*gatewayv1.GRPCRoute
	// ListenerSets contribute listeners to the Gateways whose
	// spec.allowedListeners admits them (GEP-1713; none by default):
	// see listenerset.go for precedence, conflicts and status.
	ListenerSets []*gatewayv1.ListenerSet
	// ReferenceGrants permit cross-namespace references from HTTPRoutes to
	// backends and from Gateways to Secrets.
	ReferenceGrants []*gatewayv1.ReferenceGrant
	// Namespaces provide the labels that allowedRoutes selectors match. A
	// namespace that is not listed has no labels.
	Namespaces []*corev1.Namespace
	// Secrets hold the certificates of HTTPS listeners (type
	// kubernetes.io/tls, keys tls.crt and tls.key).
	Secrets []*corev1.Secret
	// ConfigMaps hold CA certificate bundles (key ca.crt) that backend TLS
	// validation references (XBackend spec.tls.validation).
	ConfigMaps []*corev1.ConfigMap
	// XTelemetryPolicies configure tracing for the Gateways they target
	// (Gateway API's TelemetryPolicy, GEP-4768, experimental in v1.7):
	// the Router compiles them, reports their status, and gives each
	// request's policy to its Observer (Record.Telemetry) and the
	// policies to the host (Router.TelemetryPolicies).
	XTelemetryPolicies []*xv1alpha1.XTelemetryPolicy
	// XBackends are Gateway API's backend objects (group
	// gateway.networking.x-k8s.io, experimental in v1.7) that backendRefs
	// can name: ExternalHostname or EndpointSelector, with protocol, TLS
	// and session persistence of their own.
	XBackends []*xv1alpha1.XBackend
	// Objects are objects of extension kinds, such as kgateway's
	// DirectResponse or Backend, that ExtensionRef filters and backendRefs
	// reference. Their TypeMeta must be set.
	Objects []Object

	// Services resolves backendRefs to core Services (group "", kind
	// "Service"). Nil resolves none: every Service backendRef is reported
	// with reason BackendNotFound and its share of traffic answers 500.
	Services ServiceResolver
	// Endpoints resolves the endpointSelector of XBackends to endpoint
	// addresses. Nil resolves none: such XBackends are reported with
	// reason BackendNotFound and their share of traffic answers 500.
	Endpoints EndpointResolver
	// Extensions add filter and backend kinds, keyed by group and kind.
	Extensions []Extension

	// IgnoreParentRefs makes the implicit listener of a Config without
	// Gateways serve every HTTPRoute, whatever its parentRefs name: for
	// serving manifests written for a cluster without their Gateway.
	IgnoreParentRefs bool

	// GatewayClassName, when set, restricts the Router to Gateways of that
	// class; other Gateways are ignored as a controller ignores Gateways of
	// other classes. Empty serves every Gateway. A Router with a class is
	// a controller: with no Gateway of its class it serves nothing (no
	// implicit listener), as a host feeding it from a cluster expects.
	GatewayClassName gatewayv1.ObjectName
	// ControllerName is written in route parent statuses. Empty means
	// DefaultControllerName.
	ControllerName gatewayv1.GatewayController
	// Strict makes New and Update fail on any problem with any object,
	// instead of degrading the rule, backendRef or listener concerned and
	// reporting it in Status.
	Strict bool

	// Rand is the random source for weighted backend choice, mirrors,
	// retries' jitter and load balancing. It must be safe for concurrent
	// use when the Router serves concurrent requests. Nil uses the runtime's
	// random generator.
	Rand rand.Source
	// Now is the clock for timeouts' bookkeeping, condition timestamps,
	// session expiry and back-off. Nil uses time.Now.
	Now func() time.Time
	// Sleep waits between retry attempts; it returns early with the
	// context's error when ctx is done. Nil uses a real timer. Tests pass
	// one that records the waits and returns at once.
	Sleep func(ctx context.Context, d time.Duration) error
	// Logger receives problems found while compiling and runtime failures
	// that are not surfaced to clients (mirror errors, recovered panics).
	// Nil logs to slog.Default(); slog.New(slog.DiscardHandler) discards.
	Logger *slog.Logger
	// MaxRetryAttempts caps the retries of one request, whatever a rule's
	// retry.attempts asks for; a rule that asks for more is served with
	// the cap and says so in its Accepted condition's message. 0 means
	// DefaultMaxRetryAttempts (10).
	MaxRetryAttempts int
	// RetryBudget bounds the retries in flight to each backend relative
	// to its load (Envoy's retry budget); the zero value is 20% of the
	// requests in flight with a minimum of 3.
	RetryBudget RetryBudget
	// SessionKey signs session persistence values (HMAC-SHA256). Nil gives
	// the Router a random key of its own, kept across Update: sessions
	// then do not survive a restart or move between processes. Set the
	// same key in every replica that should honour each other's sessions.
	SessionKey []byte

	// EscapedSlashes is what requests whose path holds "%2F" or "%5C" (an
	// escaped slash or backslash) get; the zero value is
	// EscapedSlashUnescapeAndRedirect, Envoy Gateway's default.
	EscapedSlashes EscapedSlashAction
	// MaxPathLength is the longest request path served, in bytes as the
	// client sent it; longer ones get 414 URI Too Long. Zero (or a
	// negative value) means DefaultMaxPathLength, 8 KiB.
	MaxPathLength int

	// Observer receives a Record of every request (access logs, metrics,
	// traces; see Observers to have several) and, when it implements the
	// optional interfaces, spans and events. Nil records nothing and costs
	// nothing.
	Observer Observer
	// NotFound serves the requests that no rule matches, instead of the
	// Router's 404: a legacy mux the routes are migrated from, or a custom
	// page. It sees the request with its path in normal form. Requests
	// refused before matching (400, 414, 421) are not passed to it. Nil
	// answers 404.
	NotFound http.Handler
}

// DefaultControllerName is the controller name a Router reports in route
// parent statuses when Config.ControllerName is empty.
const DefaultControllerName gatewayv1.GatewayController = "github.com/httproute/httproute"

// Object is a Kubernetes-style object of an extension kind.
type Object interface {
	metav1.Object
	runtime.Object
}

// Router is an http.Handler that serves Gateway API routes. It is safe for
// concurrent use. The zero Router answers 404 to every request.
type Router struct {
	table atomic.Pointer[table]
	// mu serializes Update: compiles reuse what the previous one built.
	mu     sync.Mutex
	xcache xbackendCache
	// cache is what the last compile left for the next (reuse.go);
	// epoch counts compiles, failed ones included.
	cache *routeCache
	epoch uint64
	// closed is set by Close; background tracks mirror copies
	// (lifecycle.go).
	closed     atomic.Bool
	bgOnce     sync.Once
	background *background
	// keyOnce makes the random session key of a Router without
	// Config.SessionKey, kept for its lifetime.
	keyOnce sync.Once
	key     []byte
}

var _ http.Handler = (*Router)(nil)

// New compiles cfg into a Router. It fails only when cfg cannot be served
// at all (a nil object, two objects with the same kind, namespace and name)
// or, with cfg.Strict, when any object has a problem; otherwise problems
// degrade what they concern and are reported by Status.
func New(cfg Config) (*Router, error) {
	rt := &Router{}
	if err := rt.Update(cfg); err != nil {
		return nil, err
	}
	return rt, nil
}

// Update compiles cfg into a new routing table and swaps it in atomically.
// Requests already being served finish on the table they started with. If
// compiling fails, the Router keeps serving its current table and Update
// returns the error.
func (rt *Router) Update(cfg Config) error {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	uo, _ := cfg.Observer.(UpdateObserver)
	if uo == nil {
		return rt.update(&cfg)
	}
	clock := cfg.Now
	if clock == nil {
		clock = time.Now
	}
	start := clock()
	err := rt.update(&cfg)
	u := ConfigUpdate{Start: start, Duration: clock().Sub(start), Err: err}
	if t := rt.table.Load(); err == nil && t != nil {
		u.Problems = t.problems
	}
	uo.ObserveUpdate(u)
	return err
}

func (rt *Router) update(cfg *Config) error {
	if rt.closed.Load() {
		return errClosed
	}
	key := cfg.SessionKey
	if len(key) == 0 {
		rt.keyOnce.Do(func() {
			rt.key = make([]byte, 32)
			_, _ = cryptorand.Read(rt.key)
		})
		key = rt.key
	}
	paths, err := newPathPolicy(cfg)
	if err != nil {
		return err
	}
	rt.epoch++
	t, xnext, cache, err := compile(cfg, key, &rt.xcache, rt.table.Load(), rt.cache, rt.epoch)
	if err != nil {
		rt.xcache.discard(xnext)
		return err
	}
	if rt.closed.Load() {
		rt.xcache.discard(xnext)
		return errClosed
	}
	rt.cache = cache
	t.paths = paths
	t.env.bg = rt.bg()
	if prev := rt.table.Load(); prev != nil {
		controller := cfg.ControllerName
		if controller == "" {
			controller = DefaultControllerName
		}
		t.status.keepTransitionTimes(prev.status, controller)
	}
	prev := rt.table.Swap(t)
	rt.xcache.swap(xnext)
	if prev != nil {
		// What the old table built and the new one does not use.
		if err := prev.closers.closeExcept(t.closers); err != nil {
			t.env.logger.Warn("closing what an Update dropped", "error", err)
		}
	}
	return nil
}

// Status returns the conditions the Router reports for the Gateways and
// HTTPRoutes of its current Config, as a Gateway API controller would write
// them. The returned value is a copy the caller may modify.
func (rt *Router) Status() Status {
	t := rt.table.Load()
	if t == nil {
		return Status{}
	}
	st := t.status.clone()
	st.HTTPRoutes = make(map[types.NamespacedName]gatewayv1.HTTPRouteStatus, len(t.routes))
	for _, cr := range t.routes {
		parents := make([]gatewayv1.RouteParentStatus, len(cr.parents))
		for i := range cr.parents {
			cr.parents[i].DeepCopyInto(&parents[i])
		}
		rs := gatewayv1.RouteStatus{Parents: parents}
		nn := types.NamespacedName{Namespace: cr.obj.Namespace, Name: cr.obj.Name}
		if cr.grpc != nil {
			if st.GRPCRoutes == nil {
				st.GRPCRoutes = map[types.NamespacedName]gatewayv1.GRPCRouteStatus{}
			}
			st.GRPCRoutes[nn] = gatewayv1.GRPCRouteStatus{RouteStatus: rs}
			continue
		}
		st.HTTPRoutes[nn] = gatewayv1.HTTPRouteStatus{RouteStatus: rs}
	}
	return st
}

// ServeHTTP routes the request to the rule that matches it with the highest
// precedence and serves it through that rule's filters and backends. The
// listener is chosen by the local port the request arrived on and its Host;
// when no listener declares that port (a test server on a random port, a
// request built with httptest), every listener is considered. Use Port to
// serve a listener port from a server on another port. Requests that match
// no rule get 404.
func (rt *Router) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rt.serve(w, r, -localPort(r), nil)
}

// Port returns a handler that serves requests as if they had arrived on the
// listener port p, whatever port the server listens on. It lets a host run
// one http.Server per Gateway listener port on other local ports:
//
//	srv := &http.Server{Addr: "127.0.0.1:8080", Handler: router.Port(80)}
func (rt *Router) Port(p int32) *PortRouter { return &PortRouter{rt: rt, port: p} }

// PortRouter is a Router serving as if on one listener port; see
// Router.Port.
type PortRouter struct {
	rt   *Router
	port int32
	gw   *types.NamespacedName
}

// ServeHTTP serves the request with the listeners of the port.
func (p *PortRouter) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p.rt.serve(w, r, p.port, p.gw)
}

// Lookup is Router.Lookup as if r had arrived on the port.
func (p *PortRouter) Lookup(r *http.Request) (Match, bool) { return p.rt.lookup(r, p.port, p.gw) }

func (rt *Router) serve(w http.ResponseWriter, r *http.Request, port int32, gw *types.NamespacedName) {
	if isGRPCRequest(r) {
		// The Router's own answers to gRPC requests are gRPC statuses.
		w = &grpcWriter{ResponseWriter: w}
	}
	t := rt.table.Load()
	if t == nil {
		if rt.closed.Load() {
			writeError(w, errClosed)
			return
		}
		writeError(w, ErrNoRoute)
		return
	}
	t.serve(w, r, port, gw)
}

// errClosed answers the requests of a closed Router.
var errClosed = fmt.Errorf("%w: the router is closed", ErrNoEndpoint)

// Gateway returns a view of the Router restricted to one Gateway, as if
// that Gateway had an address of its own: its handlers and TLS
// configuration consider only that Gateway's listeners. Use it to serve
// several Gateways that declare the same port (on different local
// addresses); the Router itself merges listeners of the same port and
// hostname across Gateways. The view follows Update.
func (rt *Router) Gateway(namespace, name string) *GatewayRouter {
	return &GatewayRouter{rt: rt, gw: types.NamespacedName{Namespace: namespace, Name: name}}
}

// GatewayRouter is a Router restricted to one Gateway; see Router.Gateway.
type GatewayRouter struct {
	rt *Router
	gw types.NamespacedName
}

// ServeHTTP serves the request with the Gateway's listener on the local
// port the request arrived on (every listener of the Gateway when that
// port is unknown or undeclared).
func (g *GatewayRouter) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	g.rt.serve(w, r, -localPort(r), &g.gw)
}

// Port returns a handler serving requests as if they arrived on the
// Gateway's listener port p.
func (g *GatewayRouter) Port(p int32) *PortRouter { return &PortRouter{rt: g.rt, port: p, gw: &g.gw} }

// TLSConfig is Router.TLSConfig restricted to the Gateway's listeners.
func (g *GatewayRouter) TLSConfig(p int32) *tls.Config { return g.rt.tlsConfig(p, &g.gw) }

// Lookup is Router.Lookup restricted to the Gateway's listeners.
func (g *GatewayRouter) Lookup(r *http.Request) (Match, bool) {
	return g.rt.lookup(r, -localPort(r), &g.gw)
}

// ListenerPort is a port a Gateway's HTTP or HTTPS listeners declare.
type ListenerPort struct {
	Port int32
	// TLS reports whether an HTTPS listener declares the port: serve it
	// with TLSConfig(Port).
	TLS bool
}

// Ports returns the ports the Gateway's listeners declare in the
// Router's current table, in increasing order: those of its own HTTP and
// HTTPS listeners and those of the listeners its ListenerSets contribute
// and it accepts (not a listener that lost a conflict). They are the
// ports a host serves the Gateway on (Port(p), TLSConfig(p)). A port
// with both HTTP and HTTPS listeners is TLS.
func (g *GatewayRouter) Ports() []ListenerPort {
	t := g.rt.table.Load()
	if t == nil {
		return nil
	}
	return slices.Clone(t.ports[g.gw])
}

// Lookup reports how the Router would serve r: the Gateway, listener and
// its port, route, rule, match and backends chosen by matching and
// precedence. The listener port is the local port r arrived on, as for
// ServeHTTP; Port(p).Lookup asks as if it had arrived on port p. Lookup
// has no side effects: no filter runs and no backend is called. The path
// is matched in its normal form, as ServeHTTP matches it. ok is false
// when no rule matches (the Router would answer 404 or 421) and when the
// path is not served as sent (the Router would answer 307, 400 or 414).
// The Match is the caller's: changing it changes nothing in the Router.
func (rt *Router) Lookup(r *http.Request) (m Match, ok bool) { return rt.lookup(r, -localPort(r), nil) }

func (rt *Router) lookup(r *http.Request, port int32, gw *types.NamespacedName) (Match, bool) {
	t := rt.table.Load()
	if t == nil {
		return Match{}, false
	}
	_, path, v := t.paths.check(r.URL)
	if v != pathServe {
		return Match{}, false
	}
	if h := withoutConnectionFields(r.Header); len(h) != len(r.Header) {
		r2 := *r
		r2.Header = h
		r = &r2
	}
	c, err := t.find(r, path, port, gw)
	if err != nil {
		return Match{}, false
	}
	m := *c.info
	m.Backends = slices.Clone(m.Backends)
	if m.GRPC != nil {
		g := *m.GRPC
		m.GRPC = &g
	}
	return m, true
}

// localPort returns the port of the local address the request arrived on,
// or 0 when it is unknown (a request built in a test, a Unix socket).
func localPort(r *http.Request) int32 {
	addr, _ := r.Context().Value(http.LocalAddrContextKey).(net.Addr)
	if tcp, ok := addr.(*net.TCPAddr); ok {
		return int32(tcp.Port)
	}
	return 0
}

// writeError answers a request the Router could not route or serve, with
// the status code of the error's class and a short plain-text body.
func writeError(w http.ResponseWriter, err error) { writeStatus(w, statusFor(err)) }

// writeStatus answers with code and its status text as a plain-text body.
func writeStatus(w http.ResponseWriter, code int) {
	if answersGRPC(w) {
		writeGRPCStatus(w, code)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(code)
	_, _ = w.Write([]byte(http.StatusText(code) + "\n"))
}

// isCanceled reports whether err comes from the client going away.
func isCanceled(err error) bool { return errors.Is(err, context.Canceled) }
