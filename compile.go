package httproute

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"math/rand/v2"
	"net/http"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/validation/field"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
	xv1alpha1 "sigs.k8s.io/gateway-api/apisx/v1alpha1"
)

// env is what compiled handlers share at run time: the Router's logger,
// random source and clock. It never changes after compile.
type env struct {
	logger  *slog.Logger
	rand    *rand.Rand
	now     func() time.Time
	sleeper func(context.Context, time.Duration) error
	buffers *bufferPool
	hooks
	// bg is the Router's background work (mirror copies); set before
	// the first table using the env serves.
	bg *background
}

// runtimeSource is the default random source: the runtime's generator,
// which is safe for concurrent use.
type runtimeSource struct{}

func (runtimeSource) Uint64() uint64 { return rand.Uint64() }

func newEnv(cfg *Config) *env {
	e := &env{logger: cfg.Logger, now: cfg.Now, sleeper: cfg.Sleep, buffers: newBufferPool()}
	e.hooks.set(cfg)
	if e.logger == nil {
		e.logger = slog.Default()
	}
	if e.now == nil {
		e.now = time.Now
	}
	src := cfg.Rand
	if src == nil {
		src = runtimeSource{}
	}
	e.rand = rand.New(src)
	return e
}

// compiler turns a Config into a table. It lives for one compile.
type compiler struct {
	cfg        *Config
	env        *env
	now        metav1.Time
	grants     grants
	secrets    map[types.NamespacedName]*corev1.Secret
	nsLabels   map[string]map[string]string
	objects    map[objectKey]Object
	extensions map[schema.GroupKind]*Extension
	controller gatewayv1.GatewayController
	sessionKey []byte
	problems   []error

	configMaps map[types.NamespacedName]*corev1.ConfigMap
	xbackends  map[types.NamespacedName]*xv1alpha1.XBackend
	// xresolved memoizes the XBackends resolved in this compile; xcache
	// holds the Upstreams of the previous table and xnext those this
	// compile uses (see xbackendCache).
	xresolved map[types.NamespacedName]*resolvedXBackend
	xcache    *xbackendCache
	xnext     map[types.NamespacedName]*xbackendEntry
	// tls is the compile's BackendTLSPolicies and Gateway backend client
	// certificates (backendtlspolicy.go).
	tls *backendTLS
	// frontend memoizes the client verification of each Gateway port
	// (frontendtls.go).
	frontend map[frontendKey]*frontendValidation
	// budgets are the retry budgets of the table, one per backend.
	budgets map[string]*retryBudget

	// prev is what the previous compile left, nil when nothing can be
	// reused; deps collects the lookups of the route being compiled;
	// secretsUnchanged reports whether the Secrets are what prev saw.
	prev             *routeCache
	deps             *[]dependency
	secretsUnchanged bool
	gatewayNames     map[types.NamespacedName]bool
	serviceMemo      map[serviceKey]serviceResult
	serviceDeps      map[serviceKey]*serviceDep
	epoch            uint64
	// outcomes is a buffer for the parent outcomes of one route.
	outcomes []parentOutcome
	// sets are the compile's ListenerSets (listenerset.go).
	sets *listenerSets
	// closers collects the io.Closers extensions build: the current
	// route's while one compiles (cachedRoute.closers), the listeners'
	// otherwise (table.closers).
	closers closers
}

// serviceKey and serviceResult memoize the ServiceResolver's answers in
// one compile.
type serviceKey struct {
	namespace, name string
	port            int32
}

type serviceResult struct {
	backend Backend
	err     error
}

// resolveService asks the ServiceResolver, once per Service port and
// compile.
func (c *compiler) resolveService(ref BackendRef) (Backend, error) {
	k := serviceKey{ref.Namespace, ref.Name, ref.Port}
	if r, ok := c.serviceMemo[k]; ok {
		return r.backend, r.err
	}
	var b Backend
	var err error
	if c.cfg.Services == nil {
		err = fmt.Errorf("no ServiceResolver configured: %w", ErrNotFound)
	} else {
		b, err = callResolver("the ServiceResolver", func() (Backend, error) { return c.cfg.Services.ResolveService(ref) })
	}
	if err == nil {
		b, err = c.withBackendTLS(ref, b)
	}
	c.serviceMemo[k] = serviceResult{b, err}
	return b, err
}

type objectKey struct {
	group, kind, namespace, name string
}

// compiledRoute is one HTTPRoute after compilation.
type compiledRoute struct {
	// The fields attaching the route reads come first, together: an
	// Update attaches every route again, and reads little else of those
	// it reuses.
	obj *gatewayv1.HTTPRoute
	// fatal, when set, keeps the whole route from attaching.
	fatal *Error
	// anyValidRule reports whether a rule of the route can be indexed.
	anyValidRule bool
	// hostsByListener caches hostsOn. It is written only while a table
	// is compiled (Update is serialized), never while requests are served.
	hostsByListener []listenerHosts
	hostsMap        map[string][]hostAttachment

	// owner is the kind of the object compiled when it is not a route: a
	// Gateway whose listeners' filters are compiled (listenerfilter.go).
	owner     string
	namespace string
	name      string
	key       string // "{namespace}/{name}", the precedence tie-break
	created   time.Time
	// grpc is the GRPCRoute the route was compiled from, nil for an
	// HTTPRoute; obj then holds its metadata, parentRefs and hostnames.
	grpc      *gatewayv1.GRPCRoute
	hostnames []string
	rules     []*rule
	// warnings are what the Router serves differently from what the
	// route asks (a capped retry count), told in the Accepted message.
	warnings []string
}

// rule is one compiled HTTPRouteRule.
type rule struct {
	route   *compiledRoute
	index   int
	name    gatewayv1.SectionName
	matches []*routeMatch
	// invalid, when set, keeps the rule out of the index.
	invalid *Error
	// refErrs are problems with references (backends, extension filters)
	// that degrade the rule to 500s without removing it.
	refErrs []*Error
	// handler serves requests that matched the rule: filters, then the
	// weighted choice of a backendRef and its filters and backend.
	handler  http.Handler
	backends []BackendChoice
}

// BackendChoice is one backendRef of a rule as Lookup reports it.
type BackendChoice struct {
	Ref BackendRef
	// Weight is the weight after defaulting (1 when unset).
	Weight int32
	// Err is why the backendRef cannot be served, nil when it resolved.
	// Requests that the weighted choice sends to it answer 500.
	Err error
}

// compile turns cfg into a table. prevTable and cache are what the
// previous compile of the same Router left (nil for the first): what did
// not change is reused from them (see reuse.go). It returns the new table,
// the XBackend Upstreams it uses and the cache for the next compile.
func compile(cfg *Config, sessionKey []byte, xcache *xbackendCache, prevTable *table, cache *routeCache, epoch uint64) (*table, map[types.NamespacedName]*xbackendEntry, *routeCache, error) {
	g := globalsOf(cfg, sessionKey)
	if cache != nil && cache.globals != g {
		cache = nil // hooks or limits changed: compile everything again
	}
	c := &compiler{
		prev:         cache,
		gatewayNames: map[types.NamespacedName]bool{},
		serviceMemo:  map[serviceKey]serviceResult{},
		serviceDeps:  map[serviceKey]*serviceDep{},
		closers:      closers{},
		epoch:        epoch,
		configMaps:   map[types.NamespacedName]*corev1.ConfigMap{},
		xbackends:    map[types.NamespacedName]*xv1alpha1.XBackend{},
		xresolved:    map[types.NamespacedName]*resolvedXBackend{},
		xcache:       xcache,
		xnext:        map[types.NamespacedName]*xbackendEntry{},
		budgets:      map[string]*retryBudget{},
		sessionKey:   sessionKey,
		cfg:          cfg,
		env:          newEnv(cfg),
		grants:       newGrants(cfg.ReferenceGrants),
		secrets:      map[types.NamespacedName]*corev1.Secret{},
		nsLabels:     map[string]map[string]string{},
		objects:      map[objectKey]Object{},
		extensions:   map[schema.GroupKind]*Extension{},
		controller:   cfg.ControllerName,
	}
	if cache != nil {
		c.env = cache.env
		c.budgets = maps.Clone(cache.budgets)
	}
	c.now = metav1.NewTime(c.env.now().Truncate(time.Second))
	if c.controller == "" {
		c.controller = DefaultControllerName
	}
	if err := errors.Join(c.index(), c.indexTelemetry()); err != nil {
		return nil, nil, nil, err
	}
	next := &routeCache{
		epoch:   epoch,
		globals: g,
		env:     c.env,
		budgets: c.budgets,
		secrets: secretsSnapshot(c.secrets),
	}
	c.secretsUnchanged = cache != nil && sameSecrets(cache.secrets, next.secrets)

	t := &table{env: c.env}
	var listeners []*listener
	gwListeners := map[types.NamespacedName][]*listener{}
	var gateways []*gatewayv1.Gateway
	for _, gw := range cfg.Gateways {
		if cfg.GatewayClassName != "" && gw.Spec.GatewayClassName != cfg.GatewayClassName {
			continue
		}
		gateways = append(gateways, gw)
		ls := c.compileListeners(gw)
		gwListeners[types.NamespacedName{Namespace: gw.Namespace, Name: gw.Name}] = ls
		listeners = append(listeners, ls...)
	}
	c.tls = c.compileBackendTLS(gateways)
	c.sets = c.compileListenerSets(gateways, gwListeners)
	listeners = append(listeners, c.sets.listeners()...)
	// Without Gateways, and unless the Router is a controller of a class
	// (a host feeding it from a cluster), routes attach to one implicit
	// listener.
	implicit := len(cfg.Gateways) == 0 && cfg.GatewayClassName == ""
	if implicit {
		l := &listener{implicit: true, from: gatewayv1.NamespacesFromAll, allowsHTTPRoute: true, allowsGRPCRoute: true, accepted: true, ready: true, protocol: gatewayv1.HTTPProtocolType}
		n := len(cfg.HTTPRoutes) + len(cfg.GRPCRoutes)
		if cache != nil && cap(cache.attachments) >= n {
			// The previous compile's, which no table reads any more.
			l.routes = cache.attachments[:0]
		} else {
			l.routes = make([]attachment, 0, n)
		}
		listeners = []*listener{l}
		t.implicit = l
	}

	// The routes, HTTPRoutes then GRPCRoutes: what did not change is taken
	// from the previous compile (its compiled route, and its status while
	// it attaches as before). The previous compile's route is found at the
	// same position in the Config first (hosts keep their order), by kind
	// and name otherwise.
	total := len(cfg.HTTPRoutes) + len(cfg.GRPCRoutes)
	next.list = make([]*cachedRoute, 0, total)
	inOrder := cache != nil && len(cache.list) == total
	// Without a usable cache, statuses still keep the transition times of
	// the table being replaced.
	var prevParents map[routeID][]gatewayv1.RouteParentStatus
	if cache == nil && prevTable != nil {
		prevParents = make(map[routeID][]gatewayv1.RouteParentStatus, len(prevTable.routes))
		for _, cr := range prevTable.routes {
			prevParents[cr.id()] = cr.parents
		}
	}
	// The previous compile's routes are found, and the HTTPRoutes
	// compared with them, in a pass of their own: comparing is most of
	// what an Update that changes little does, and a loop that does only
	// that walks the routes' memory in order, which the processor fetches
	// ahead, where attaching each route in between would evict it.
	// The previous routes are kept where the new ones go (next.list's
	// spare capacity), each overwritten by the second pass's append.
	var prevs []*cachedRoute
	var equal []uint64 // a bit per HTTPRoute equal to its prevs entry
	if cache != nil {
		prevs = next.list[:total]
		equal = make([]uint64, (len(cfg.HTTPRoutes)+63)/64)
		if !findPrevious(cfg, cache, prevs, equal) {
			inOrder = false
		}
	}
	for i := range total {
		var prev *cachedRoute
		if prevs != nil {
			prev = prevs[i] // before next.list's append overwrites it
		}
		var cr *cachedRoute
		if i < len(cfg.HTTPRoutes) {
			cr = c.routeFor(prev, equal != nil && equal[i/64]&(1<<(i%64)) != 0, cfg.HTTPRoutes[i])
		} else {
			cr = c.grpcRouteFor(prev, cfg.GRPCRoutes[i-len(cfg.HTTPRoutes)])
		}
		r := cr.route
		var outcomes []parentOutcome
		if implicit {
			outcomes = c.attachImplicit(r, t.implicit)
		} else {
			outcomes = c.attach(r, gwListeners)
		}
		c.outcomes = outcomes[:0] // the buffer, for the next route
		if cr != prev || !slices.Equal(cr.outcomes, outcomes) {
			outcomes = slices.Clone(outcomes)
			// New, or attached differently: a new status, whose conditions
			// keep their transition times where their status did not change.
			parents := c.parentStatuses(r, outcomes)
			if prev != nil {
				parents = mergeParents(prev.parents, parents, c.controller, true)
			} else if old, ok := prevParents[cfg.routeID(i)]; ok {
				parents = mergeParents(old, parents, c.controller, true)
			}
			cr = &cachedRoute{obj: cr.obj, grpc: cr.grpc, route: r, deps: cr.deps, problems: cr.problems, closers: cr.closers, outcomes: outcomes, parents: parents}
		}
		next.list = append(next.list, cr)
		// The table's closers: the listeners' (compiled with the
		// Gateways, above) and its routes'.
		maps.Copy(c.closers, cr.closers)
	}
	if len(cfg.GRPCRoutes) > 0 {
		c.rejectCrossKindConflicts(listeners, next.list, gwListeners, func(id routeID) []gatewayv1.RouteParentStatus {
			if cache == nil {
				return prevParents[id]
			}
			if k, ok := cache.index[id]; ok {
				return cache.list[k].parents
			}
			return nil
		})
	}
	if inOrder {
		// The same routes in the same order: names index the same
		// positions, and the previous compile found no route twice.
		next.index = cache.index
	} else {
		next.index = make(map[routeID]int, len(next.list))
		var dupErrs []error
		for i, cr := range next.list {
			id := cr.id()
			if _, dup := next.index[id]; dup {
				dupErrs = append(dupErrs, fmt.Errorf("httproute: %s %s appears twice in Config", id.kind(), id.NamespacedName))
				continue
			}
			next.index[id] = i
		}
		if len(dupErrs) > 0 {
			return nil, c.xnext, nil, errors.Join(dupErrs...)
		}
	}
	t.routes = next.list
	t.closers = c.closers

	t.status = Status{
		Gateways:           map[types.NamespacedName]gatewayv1.GatewayStatus{},
		XBackends:          c.xbackendStatus(next.list),
		BackendTLSPolicies: c.backendTLSPolicyStatus(next.list),
	}
	var attachedSets map[types.NamespacedName]int32
	t.status.ListenerSets, attachedSets = c.sets.status(c, gateways)
	for _, gw := range gateways {
		nn := types.NamespacedName{Namespace: gw.Namespace, Name: gw.Name}
		st := c.gatewayStatus(gw, gwListeners[nn])
		if n, ok := attachedSets[nn]; ok {
			st.AttachedListenerSets = &n
		}
		t.status.Gateways[nn] = st
	}
	t.telemetry, t.status.XTelemetryPolicies = c.compileTelemetry(gateways)
	t.build(listeners, prevTable)
	// The listeners' routes are indexed now, and read no more: the table
	// does not keep them, and the implicit listener's list (a route each)
	// is the next compile's to fill.
	for _, l := range listeners {
		if l.implicit {
			next.attachments = l.routes
			clear(next.attachments[:cap(next.attachments)]) // keeps no route alive
		}
		l.routes = nil
	}
	t.ports = gatewayPorts(listeners)
	t.problems = c.problems

	if cfg.Strict && len(c.problems) > 0 {
		return nil, c.xnext, nil, errors.Join(c.problems...)
	}
	return t, c.xnext, next, nil
}

// routeFor returns the compiled route for hr: the previous compile's,
// prev, when the route is equal to it (equal: routeEqual) and every
// lookup its compile made answers the same, a new compile otherwise. The
// route's problems are reported either way.
func (c *compiler) routeFor(prev *cachedRoute, equal bool, hr *gatewayv1.HTTPRoute) *cachedRoute {
	if equal && c.replay(prev.deps) {
		c.problems = append(c.problems, prev.problems...)
		return prev
	}
	return c.recompile(func() *compiledRoute { return c.compileRoute(hr) })
}

// recompile compiles a route with compile, recording the lookups it makes
// and the problems it finds for the next compile.
func (c *compiler) recompile(compile func() *compiledRoute) *cachedRoute {
	var deps []dependency
	c.deps = &deps
	outer := c.closers
	c.closers = closers{}
	start := len(c.problems)
	r := compile()
	cr := &cachedRoute{obj: r.obj, grpc: r.grpc, route: r, deps: deps, problems: slices.Clone(c.problems[start:])}
	if len(c.closers) > 0 {
		cr.closers = c.closers
	}
	c.deps, c.closers = nil, outer
	return cr
}

// index checks the Config for objects that make it unservable and indexes
// what references resolve against.
func (c *compiler) index() error {
	var errs []error
	seen := map[objectKey]bool{}
	dup := func(kind string, m metav1.Object) bool {
		if m == nil {
			errs = append(errs, fmt.Errorf("httproute: nil %s in Config", kind))
			return true
		}
		k := objectKey{kind: kind, namespace: m.GetNamespace(), name: m.GetName()}
		if m.GetName() == "" {
			errs = append(errs, fmt.Errorf("httproute: %s in namespace %q has no name", kind, m.GetNamespace()))
			return true
		}
		if seen[k] {
			errs = append(errs, fmt.Errorf("httproute: %s %s/%s appears twice in Config", kind, m.GetNamespace(), m.GetName()))
			return true
		}
		seen[k] = true
		return false
	}
	indexObjects(dup, "Gateway", c.cfg.Gateways, func(gw *gatewayv1.Gateway) {
		c.gatewayNames[types.NamespacedName{Namespace: gw.Namespace, Name: gw.Name}] = true
	})
	for _, hr := range c.cfg.HTTPRoutes {
		// Routes appearing twice are found while they are compiled.
		switch {
		case hr == nil:
			dup("HTTPRoute", nil)
		case hr.Name == "":
			dup("HTTPRoute", hr)
		}
	}
	for _, gr := range c.cfg.GRPCRoutes {
		switch {
		case gr == nil:
			dup("GRPCRoute", nil)
		case gr.Name == "":
			dup("GRPCRoute", gr)
		}
	}
	indexObjects(dup, "ListenerSet", c.cfg.ListenerSets, nil)
	indexObjects(dup, "ReferenceGrant", c.cfg.ReferenceGrants, nil)
	indexObjects(dup, "Namespace", c.cfg.Namespaces, func(ns *corev1.Namespace) { c.nsLabels[ns.Name] = ns.Labels })
	indexObjects(dup, "Secret", c.cfg.Secrets, func(s *corev1.Secret) {
		c.secrets[types.NamespacedName{Namespace: s.Namespace, Name: s.Name}] = s
	})
	indexObjects(dup, "ConfigMap", c.cfg.ConfigMaps, func(cm *corev1.ConfigMap) {
		c.configMaps[types.NamespacedName{Namespace: cm.Namespace, Name: cm.Name}] = cm
	})
	indexObjects(dup, "BackendTLSPolicy", c.cfg.BackendTLSPolicies, nil)
	indexObjects(dup, "XBackend", c.cfg.XBackends, func(x *xv1alpha1.XBackend) {
		c.xbackends[types.NamespacedName{Namespace: x.Namespace, Name: x.Name}] = x
	})
	for i := range c.cfg.Extensions {
		e := &c.cfg.Extensions[i]
		gk := e.Kind.GroupKind()
		if gk.Kind == "" {
			errs = append(errs, fmt.Errorf("httproute: Extensions[%d] has no kind", i))
			continue
		}
		if _, ok := c.extensions[gk]; ok {
			errs = append(errs, fmt.Errorf("httproute: extension kind %s registered twice", gk))
			continue
		}
		c.extensions[gk] = e
	}
	for i, o := range c.cfg.Objects {
		if o == nil {
			errs = append(errs, fmt.Errorf("httproute: nil Objects[%d] in Config", i))
			continue
		}
		gk := o.GetObjectKind().GroupVersionKind().GroupKind()
		if gk.Kind == "" {
			errs = append(errs, fmt.Errorf("httproute: Objects[%d] (%s/%s) has no kind in its TypeMeta", i, o.GetNamespace(), o.GetName()))
			continue
		}
		k := objectKey{group: gk.Group, kind: gk.Kind, namespace: o.GetNamespace(), name: o.GetName()}
		if _, ok := c.objects[k]; ok {
			errs = append(errs, fmt.Errorf("httproute: %s %s/%s appears twice in Config", gk, k.namespace, k.name))
			continue
		}
		c.objects[k] = o
	}
	return errors.Join(errs...)
}

// indexObjects checks each object of kind in list with dup (nil, nameless
// or twice in the Config) and passes those that pass to keep, when set.
func indexObjects[T any, P interface {
	*T
	metav1.Object
}](dup func(kind string, m metav1.Object) bool, kind string, list []P, keep func(P)) {
	for _, o := range list {
		if o == nil {
			dup(kind, nil) // not a typed nil in the interface
			continue
		}
		if !dup(kind, o) && keep != nil {
			keep(o)
		}
	}
}

// routeError records a problem with an HTTPRoute.
func (c *compiler) routeError(r *compiledRoute, reason string, fe *field.Error) *Error {
	e := &Error{Kind: r.kind(), Namespace: r.namespace, Name: r.name, Reason: reason, Field: fe}
	c.problems = append(c.problems, e)
	c.env.logger.Warn("route problem", "error", e.Error())
	return e
}

func (c *compiler) warn(kind, ns, name, msg string) {
	c.env.logger.Warn("config problem", "kind", kind, "namespace", ns, "name", name, "problem", msg)
	c.problems = append(c.problems, fmt.Errorf("%s %s/%s: %s", strings.ToLower(kind), ns, name, msg))
}

var defaultMatches = []gatewayv1.HTTPRouteMatch{{Path: &gatewayv1.HTTPPathMatch{
	Type:  ptr(gatewayv1.PathMatchPathPrefix),
	Value: ptr("/"),
}}}

func (c *compiler) compileRoute(hr *gatewayv1.HTTPRoute) *compiledRoute {
	r := &compiledRoute{
		namespace: hr.Namespace,
		name:      hr.Name,
		key:       hr.Namespace + "/" + hr.Name,
		created:   hr.CreationTimestamp.Time,
		obj:       hr,
	}
	if !c.compileHostnames(r, hr.Spec.Hostnames) {
		return r
	}
	rules := hr.Spec.Rules
	if len(rules) == 0 {
		// The CRD defaults rules to one rule matching every request.
		rules = []gatewayv1.HTTPRouteRule{{}}
	}
	names := map[gatewayv1.SectionName]bool{}
	for i := range rules {
		c.addRule(r, c.compileRule(r, i, &rules[i]), rules[i].Name, names)
	}
	return r
}

// compileHostnames checks and lower-cases the hostnames of a route; it
// reports whether they are valid, and otherwise makes the route fatal.
func (c *compiler) compileHostnames(r *compiledRoute, hostnames []gatewayv1.Hostname) bool {
	for i, h := range hostnames {
		hs := string(h)
		if msg := checkHostname(hs); msg != "" {
			r.fatal = c.routeError(r, reasonUnsupportedValue,
				field.Invalid(field.NewPath("spec", "hostnames").Index(i), hs, msg))
			return false
		}
		r.hostnames = append(r.hostnames, strings.ToLower(hs))
	}
	return true
}

// addRule appends a compiled rule to its route; names holds the rule
// names seen so far in the route.
func (c *compiler) addRule(r *compiledRoute, ru *rule, n *gatewayv1.SectionName, names map[gatewayv1.SectionName]bool) {
	if n != nil && *n != "" {
		if names[*n] && ru.invalid == nil {
			// The CRD rejects this in both channels since v1.7; a
			// Config built from structs gets the later rule dropped.
			ru.invalid = c.routeError(r, reasonUnsupportedValue,
				field.Duplicate(field.NewPath("spec", "rules").Index(ru.index).Child("name"), string(*n)))
		}
		names[*n] = true
	}
	r.rules = append(r.rules, ru)
	r.anyValidRule = r.anyValidRule || ru.invalid == nil
}

func (c *compiler) compileRule(r *compiledRoute, i int, rs *gatewayv1.HTTPRouteRule) *rule {
	ru := &rule{route: r, index: i}
	if rs.Name != nil {
		ru.name = *rs.Name
	}
	path := field.NewPath("spec", "rules").Index(i)
	matches := rs.Matches
	if len(matches) == 0 {
		matches = defaultMatches
	}
	for j := range matches {
		m, fe := compileMatch(&matches[j], path.Child("matches").Index(j))
		if fe != nil {
			ru.invalid = c.routeError(r, reasonUnsupportedValue, fe)
			return ru
		}
		ru.matches = append(ru.matches, m)
	}

	rc := &ruleCompiler{c: c, route: r, rule: ru, spec: rs, path: path}
	ruleFilters, err := rc.filters(rs.Filters, path.Child("filters"), len(rs.BackendRefs) > 0)
	if err != nil {
		ru.invalid = err
		return ru
	}
	res, err := rc.resilience()
	if err != nil {
		ru.invalid = err
		return ru
	}

	var choices []*backendEntry
	for k := range rs.BackendRefs {
		e, err := rc.backend(k, &rs.BackendRefs[k])
		if err != nil {
			ru.invalid = err
			return ru
		}
		choices = append(choices, e)
		ru.backends = append(ru.backends, e.choice)
	}

	var terminal http.Handler
	switch {
	case len(choices) > 0:
		d := &dispatcher{
			split:          newSplit(choices, c.env),
			entries:        choices,
			backendTimeout: res.backendRequest,
			retry:          res.retry,
			session:        res.session,
			env:            c.env,
		}
		for _, e := range choices {
			d.anySession = d.anySession || e.session != nil
		}
		d.anySession = d.anySession || d.session != nil
		terminal = d
	default:
		// No backendRefs: filters may answer (a redirect, a direct
		// response); whatever they pass on has nowhere to go.
		terminal = errorHandler{fmt.Errorf("%w: rule has no backendRefs", ErrInvalidRule)}
	}
	ru.handler = res.wrapRequest(chain(ruleFilters, terminal))
	if d, ok := terminal.(*dispatcher); ok && ru.handler == terminal {
		d.direct = true
	}
	return ru
}

// ruleCompiler carries what compiling the parts of one rule needs.
type ruleCompiler struct {
	c     *compiler
	route *compiledRoute
	rule  *rule
	spec  *gatewayv1.HTTPRouteRule
	path  *field.Path
}

// warn records something the Router serves differently from what the
// rule asks: it is logged and told in the route's Accepted message.
func (rc *ruleCompiler) warn(msg string) {
	rc.route.warnings = append(rc.route.warnings, msg)
	rc.c.env.logger.Warn("route served with a limit", "route", rc.route.key, "warning", msg)
}

// maxRetryAttempts is the cap on retries per request.
func (c *compiler) maxRetryAttempts() int {
	if c.cfg.MaxRetryAttempts > 0 {
		return c.cfg.MaxRetryAttempts
	}
	return DefaultMaxRetryAttempts
}

// retryBudget returns the retry budget of the backend a reference names,
// shared by every reference to it in the table.
func (c *compiler) retryBudget(ref BackendRef) *retryBudget {
	key := ref.String()
	b := c.budgets[key]
	if b == nil {
		b = newRetryBudget(c.cfg.RetryBudget)
		c.budgets[key] = b
	}
	return b
}

// refError degrades the rule: the reference answers 500 and the route's
// ResolvedRefs condition is False with the reason.
func (rc *ruleCompiler) refError(reason string, fe *field.Error) *Error {
	e := rc.c.routeError(rc.route, reason, fe)
	rc.rule.refErrs = append(rc.rule.refErrs, e)
	return e
}

// backend resolves one backendRef into a choice for the weighted split.
func (rc *ruleCompiler) backend(k int, br *gatewayv1.HTTPBackendRef) (*backendEntry, *Error) {
	path := rc.path.Child("backendRefs").Index(k)
	ref := rc.backendRef(&br.BackendObjectReference)
	for _, f := range br.Filters {
		if x := f.ExtensionRef; f.Type == gatewayv1.HTTPRouteFilterExtensionRef && x != nil {
			ref.Filters = append(ref.Filters, ObjectRef{Group: string(x.Group), Kind: string(x.Kind), Namespace: rc.route.namespace, Name: string(x.Name)})
		}
	}
	weight := int32(1)
	if br.Weight != nil {
		weight = *br.Weight
	}
	if weight < 0 || weight > 1000000 {
		return nil, rc.c.routeError(rc.route, reasonUnsupportedValue,
			field.Invalid(path.Child("weight"), weight, "must be between 0 and 1000000"))
	}
	e := &backendEntry{choice: BackendChoice{Ref: ref, Weight: weight}, index: k}
	b, rerr := rc.resolveBackend(ref, path)
	filters, err := rc.filters(br.Filters, path.Child("filters"), false)
	if err != nil {
		return nil, err
	}
	var h http.Handler
	if rerr != nil {
		e.choice.Err = rerr
		h = errorHandler{fmt.Errorf("%w: %v", ErrInvalidRule, rerr)}
	} else {
		e.backend = b
		e.budget = rc.c.retryBudget(ref)
		h = backendHandler(b, ref, rc.c.env)
		if ref.Group == XBackendGroup && ref.Kind == "XBackend" {
			e.session = rc.c.xbackend(types.NamespacedName{Namespace: ref.Namespace, Name: ref.Name}).session
		}
	}
	e.handler = chain(filters, setBackend(&e.choice, h))
	return e, nil
}

// backendRef applies the defaults of a BackendObjectReference.
func (rc *ruleCompiler) backendRef(o *gatewayv1.BackendObjectReference) BackendRef {
	ref := defaultBackendRef(o, rc.route.namespace)
	ref.Object = rc.c.objects[objectKey{ref.Group, ref.Kind, ref.Namespace, ref.Name}]
	if ref.Group != "" || ref.Kind != "Service" {
		ref.Secret = rc.c.secretLookup(ref.Group, ref.Kind, ref.Namespace)
	}
	return ref
}

// defaultBackendRef applies the defaults of a BackendObjectReference
// written in namespace ns: a Service of the core group in ns.
func defaultBackendRef(o *gatewayv1.BackendObjectReference, ns string) BackendRef {
	ref := BackendRef{ObjectRef: ObjectRef{Kind: "Service", Namespace: ns, Name: string(o.Name)}}
	if o.Group != nil {
		ref.Group = string(*o.Group)
	}
	if o.Kind != nil {
		ref.Kind = string(*o.Kind)
	}
	if o.Namespace != nil {
		ref.Namespace = string(*o.Namespace)
	}
	if o.Port != nil {
		ref.Port = *o.Port
	}
	return ref
}

// secretLookup returns the Secret accessor of an extension object of
// group/kind in namespace ns (see ObjectRef.Secret).
func (c *compiler) secretLookup(group, kind, ns string) func(namespace, name string) (*corev1.Secret, error) {
	return func(namespace, name string) (*corev1.Secret, error) {
		if namespace == "" {
			namespace = ns
		}
		if !c.grants.allows(group, kind, ns, "", "Secret", namespace, name) {
			return nil, fmt.Errorf("secret %s/%s is in another namespace than %s %s and no ReferenceGrant allows it: %w",
				namespace, name, kind, ns, ErrNotPermitted)
		}
		s := c.secrets[types.NamespacedName{Namespace: namespace, Name: name}]
		if s == nil {
			return nil, fmt.Errorf("secret %s/%s: %w", namespace, name, ErrNotFound)
		}
		return s, nil
	}
}

// resolveBackend turns a reference into a Backend, or reports why it
// cannot (and records the problem with its reason).
func (rc *ruleCompiler) resolveBackend(ref BackendRef, path *field.Path) (Backend, *Error) {
	gk := schema.GroupKind{Group: ref.Group, Kind: ref.Kind}
	isService := ref.Group == "" && ref.Kind == "Service"
	isXBackend := ref.Group == XBackendGroup && ref.Kind == "XBackend"
	ext := rc.c.extensions[gk]
	if !isService && !isXBackend && (ext == nil || ext.Backend == nil) {
		return nil, rc.refError(reasonInvalidKind,
			field.NotSupported(path.Child("kind"), ref.Kind, rc.c.backendKinds()))
	}
	allowed := rc.c.grants.allows(gatewayv1.GroupName, rc.route.kind(), rc.route.namespace, ref.Group, ref.Kind, ref.Namespace, ref.Name)
	if ref.Namespace != rc.route.namespace {
		// Within a namespace no grant is needed: nothing to look up again.
		rc.c.record(dependency{kind: depGrant, more: &depDetail{allowed: allowed,
			grant: [7]string{gatewayv1.GroupName, rc.route.kind(), rc.route.namespace, ref.Group, ref.Kind, ref.Namespace, ref.Name}}})
	}
	if !allowed {
		return nil, rc.refError(reasonRefNotPermitted, field.Forbidden(path.Child("namespace"),
			fmt.Sprintf("%s %s/%s is in another namespace and no ReferenceGrant allows it", ref.Kind, ref.Namespace, ref.Name)))
	}
	var b Backend
	var err error
	switch {
	case isXBackend:
		if ref.Port != 0 {
			return nil, rc.refError(reasonUnsupportedValue, field.Forbidden(path.Child("port"), "port must not be set when referencing an XBackend"))
		}
		nn := types.NamespacedName{Namespace: ref.Namespace, Name: ref.Name}
		x := rc.c.xbackend(nn)
		b, err = x.backend, x.err
		rc.c.record(dependency{kind: depXBackend, more: &depDetail{xb: nn, backend: x.backend, err: errString(x.err), session: x.session}})
	case isService:
		if ref.Port == 0 {
			return nil, rc.refError(reasonUnsupportedValue, field.Required(path.Child("port"), "port is required for a Service backendRef"))
		}
		b, err = rc.c.resolveService(ref)
		rc.c.recordService(ref, b, err)
	default:
		// An extension backend is a function of its object and the
		// Secrets it may read: it is built again only when they change.
		rc.c.recordObject(gk, ref.Namespace, ref.Name, ref.Object)
		if ext.New != nil && ref.Object == nil {
			err = fmt.Errorf("%s %s/%s: %w", ref.Kind, ref.Namespace, ref.Name, ErrNotFound)
		} else {
			b, err = callResolver("the "+gk.String()+" extension", func() (Backend, error) { return ext.Backend(ref) })
			rc.c.closers.add(b)
		}
	}
	if err != nil {
		reason := reasonBackendNotFound
		if errors.Is(err, ErrUnsupported) {
			reason = reasonUnsupportedProtocol
		}
		return nil, rc.refError(reason, field.Invalid(path.Child("name"), ref.Name, err.Error()))
	}
	return b, nil
}

// backendKinds lists the kinds a backendRef may name, for Unsupported
// value errors: Service, XBackend and every extension kind with a Backend.
func (c *compiler) backendKinds() []string {
	var ext []string
	for gk, e := range c.extensions {
		if e.Backend != nil {
			ext = append(ext, gk.String())
		}
	}
	slices.Sort(ext)
	return append([]string{"Service", "XBackend." + XBackendGroup}, ext...)
}

// checkHostname returns why h is not a valid route hostname, or "".
func checkHostname(h string) string {
	if h == "" || len(h) > 253 {
		return "must be a DNS name of 1 to 253 characters"
	}
	name := strings.TrimPrefix(h, "*.")
	if strings.Contains(name, "*") {
		return "a wildcard must be the whole first label"
	}
	for _, label := range strings.Split(name, ".") {
		if label == "" || len(label) > 63 {
			return "each label must have 1 to 63 characters"
		}
		for i := 0; i < len(label); i++ {
			ch := label[i]
			ok := ('a' <= ch && ch <= 'z') || ('0' <= ch && ch <= '9') || (ch == '-' && i > 0 && i < len(label)-1)
			if !ok {
				return "must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character"
			}
		}
	}
	if isIPv4(name) {
		return "must be a DNS name, not an IP address"
	}
	return ""
}

func isIPv4(s string) bool {
	parts := strings.Split(s, ".")
	if len(parts) != 4 {
		return false
	}
	for _, p := range parts {
		if p == "" || len(p) > 3 || strings.Trim(p, "0123456789") != "" {
			return false
		}
	}
	return true
}

// attachImplicit attaches a route to the implicit listener of a Config
// without Gateways: a route without parentRefs attaches (its parent status
// has an empty parentRef name: there is no Gateway to name); a route whose
// parentRefs name Gateways attaches only with Config.IgnoreParentRefs, and
// otherwise gets NoMatchingParent for each, as no such Gateway exists.
func (c *compiler) attachImplicit(r *compiledRoute, l *listener) []parentOutcome {
	refs := r.obj.Spec.ParentRefs
	servable := r.fatal == nil && r.servable()
	if len(refs) == 0 || c.cfg.IgnoreParentRefs {
		if servable {
			l.attach(r, r.hostsOn(""))
		}
		if len(refs) == 0 {
			return append(c.outcomes[:0], parentOutcome{ref: -1, attached: servable})
		}
		out := c.outcomes[:0]
		for i := range refs {
			out = append(out, parentOutcome{ref: i, attached: servable})
		}
		return out
	}
	out := c.outcomes[:0]
	for i, pr := range refs {
		if (pr.Group != nil && *pr.Group != gatewayv1.GroupName) || (pr.Kind != nil && *pr.Kind != "Gateway" && *pr.Kind != "ListenerSet") {
			continue // not a parent this Router serves
		}
		ns := r.namespace
		if pr.Namespace != nil {
			ns = string(*pr.Namespace)
		}
		what := fmt.Sprintf("gateway %s/%s not found", ns, pr.Name)
		if pr.Kind != nil && *pr.Kind == "ListenerSet" {
			what = fmt.Sprintf("listenerset %s/%s has no Gateway to attach to", ns, pr.Name)
		}
		out = append(out, parentOutcome{ref: i, reason: reasonNoMatchingParent,
			msg: what + " (a Config without Gateways serves routes without parentRefs; set IgnoreParentRefs to serve every route)"})
	}
	return out
}

// parentOutcome is what the status of one parentRef of a route says: ref
// is its index in spec.parentRefs (-1 for the implicit listener of a
// route without parentRefs); attached whether the route attached through
// it, and if not the reason and message.
type parentOutcome struct {
	ref         int
	attached    bool
	reason, msg string
}

// parentStatuses builds the parent statuses of a route from its outcomes.
func (c *compiler) parentStatuses(r *compiledRoute, outcomes []parentOutcome) []gatewayv1.RouteParentStatus {
	out := make([]gatewayv1.RouteParentStatus, 0, len(outcomes))
	for _, o := range outcomes {
		var pr gatewayv1.ParentReference
		if o.ref >= 0 {
			pr = r.obj.Spec.ParentRefs[o.ref]
		}
		out = append(out, c.parentStatus(r, pr, o.attached, o.reason, o.msg))
	}
	return out
}

// servable reports whether at least one rule of the route can be indexed.
func (r *compiledRoute) servable() bool { return r.anyValidRule }

// attach attaches a route to the listeners its parentRefs select and
// returns, per parentRef it reports on, the outcome its status says.
func (c *compiler) attach(r *compiledRoute, gws map[types.NamespacedName][]*listener) []parentOutcome {
	out := c.outcomes[:0]
	var done []*listener
	for i, pr := range r.obj.Spec.ParentRefs {
		group, kind := gatewayv1.GroupName, "Gateway"
		if pr.Group != nil {
			group = string(*pr.Group)
		}
		if pr.Kind != nil {
			kind = string(*pr.Kind)
		}
		if group != gatewayv1.GroupName || (kind != "Gateway" && kind != "ListenerSet") {
			continue // not a parent this Router serves
		}
		ns := r.namespace
		if pr.Namespace != nil {
			ns = string(*pr.Namespace)
		}
		var ls []*listener
		if kind == "ListenerSet" {
			// Only the set's listeners: a ListenerSet is a parent of its
			// own (listenerset.go).
			var o *parentOutcome
			var skip bool
			if ls, o, skip = c.listenerSetParent(i, types.NamespacedName{Namespace: ns, Name: string(pr.Name)}); skip {
				continue
			} else if o != nil {
				out = append(out, *o)
				continue
			}
		} else {
			var ok bool
			ls, ok = gws[types.NamespacedName{Namespace: ns, Name: string(pr.Name)}]
			if !ok {
				if c.gatewayNames[types.NamespacedName{Namespace: ns, Name: string(pr.Name)}] {
					continue // a Gateway of another class
				}
				out = append(out, parentOutcome{ref: i, attached: false, reason: reasonNoMatchingParent,
					msg: fmt.Sprintf("gateway %s/%s not found", ns, pr.Name)})
				continue
			}
		}
		if r.fatal != nil {
			out = append(out, parentOutcome{ref: i})
			continue
		}
		var selected []*listener
		for _, l := range ls {
			if pr.SectionName != nil && *pr.SectionName != l.name {
				continue
			}
			if pr.Port != nil && *pr.Port != l.port {
				continue
			}
			selected = append(selected, l)
		}
		if len(selected) == 0 {
			out = append(out, parentOutcome{ref: i, attached: false, reason: reasonNoMatchingParent,
				msg: "no listener matches the parentRef's sectionName and port"})
			continue
		}
		attached, hostnameOnly := false, false
		for _, l := range selected {
			if !l.accepted || !l.allows(r) || !l.admitsNamespace(r.namespace, c.nsLabels) {
				continue
			}
			hosts := r.hostsOn(l.hostname)
			if hosts == nil {
				hostnameOnly = true
				continue
			}
			if r.servable() && !slices.Contains(done, l) {
				// Once per listener, however many parentRefs select it.
				done = append(done, l)
				l.attach(r, hosts)
			}
			attached = true
		}
		switch {
		case attached:
			out = append(out, parentOutcome{ref: i, attached: true})
		case hostnameOnly:
			out = append(out, parentOutcome{ref: i, attached: false, reason: reasonNoMatchingListenerHostname,
				msg: "no route hostname intersects the hostname of a listener"})
		default:
			out = append(out, parentOutcome{ref: i, attached: false, reason: reasonNotAllowedByListeners,
				msg: "no listener selected by the parentRef allows this route"})
		}
	}
	return out
}

// hostAttachment is one hostname a route serves under on a listener: key
// is the route's own hostname ("" when it has none), which ranks it (the
// GatewayRouteHostnameIntersectionPrecedence feature: precedence follows
// the route's hostname, not the intersection), and host is the
// intersection with the listener's hostname, which Lookup reports.
type hostAttachment struct {
	key, host string
}

// hostsOn returns the hostnames the route serves under on a listener with
// the given hostname (effectiveHostnames), nil when none intersects. A
// route compiled once is attached on every Update: the answer is kept per
// listener hostname.
func (r *compiledRoute) hostsOn(listenerHost string) []hostAttachment {
	if r.hostsMap != nil {
		if hosts, ok := r.hostsMap[listenerHost]; ok {
			return hosts
		}
	} else {
		for _, h := range r.hostsByListener {
			if h.listener == listenerHost {
				return h.hosts
			}
		}
	}
	hosts, ok := effectiveHostnames(listenerHost, r.hostnames)
	if !ok {
		hosts = nil
	}
	switch {
	case r.hostsMap != nil:
		r.hostsMap[listenerHost] = hosts
	case len(r.hostsByListener) < 8:
		// A route usually attaches under a few listener hostnames: a
		// short list costs less memory than a map.
		r.hostsByListener = append(r.hostsByListener, listenerHosts{listenerHost, hosts})
	default:
		r.hostsMap = map[string][]hostAttachment{listenerHost: hosts}
		for _, h := range r.hostsByListener {
			r.hostsMap[h.listener] = h.hosts
		}
		r.hostsByListener = nil
	}
	return hosts
}

// listenerHosts is hostsOn's answer for one listener hostname.
type listenerHosts struct {
	listener string
	hosts    []hostAttachment
}

// effectiveHostnames returns the hostnames a route serves under on a
// listener: each route hostname that intersects the listener's, or none
// at all when the route has no hostnames.
func effectiveHostnames(listenerHost string, routeHosts []string) ([]hostAttachment, bool) {
	if len(routeHosts) == 0 {
		return []hostAttachment{{key: "", host: listenerHost}}, true
	}
	var out []hostAttachment
	for _, h := range routeHosts {
		eh, ok := intersectHostnames(listenerHost, h)
		if !ok || slices.ContainsFunc(out, func(a hostAttachment) bool { return a.key == h }) {
			continue
		}
		out = append(out, hostAttachment{key: h, host: eh})
	}
	return out, len(out) > 0
}

// parentStatus builds the RouteParentStatus of one parentRef. attached
// reports whether the parentRef attached the route somewhere; when it did
// not, reason and msg say why (a fatal route problem supplies its own).
func (c *compiler) parentStatus(r *compiledRoute, pr gatewayv1.ParentReference, attached bool, reason, msg string) gatewayv1.RouteParentStatus {
	gen := r.obj.Generation
	var invalid []*Error
	var refErrs []*Error
	for _, ru := range r.rules {
		if ru.invalid != nil {
			invalid = append(invalid, ru.invalid)
		} else {
			refErrs = append(refErrs, ru.refErrs...)
		}
	}
	var conds []metav1.Condition
	switch {
	case r.fatal != nil:
		conds = append(conds, condition(string(gatewayv1.RouteConditionAccepted), false, r.fatal.Reason, r.fatal.Field.Error(), gen, c.now))
	case len(invalid) == len(r.rules):
		conds = append(conds, condition(string(gatewayv1.RouteConditionAccepted), false, invalid[0].Reason, joinFieldErrors(invalid), gen, c.now))
	case attached:
		conds = append(conds, condition(string(gatewayv1.RouteConditionAccepted), true, reasonAccepted, strings.Join(r.warnings, "; "), gen, c.now))
	default:
		conds = append(conds, condition(string(gatewayv1.RouteConditionAccepted), false, reason, msg, gen, c.now))
	}
	if len(refErrs) > 0 {
		conds = append(conds, condition(string(gatewayv1.RouteConditionResolvedRefs), false, refErrs[0].Reason, joinFieldErrors(refErrs), gen, c.now))
	} else {
		conds = append(conds, condition(string(gatewayv1.RouteConditionResolvedRefs), true, reasonResolvedRefs, "", gen, c.now))
	}
	if len(invalid) > 0 && len(invalid) < len(r.rules) && r.fatal == nil {
		// RouteConditionPartiallyInvalid: with the Drop Rule(s) approach
		// "the message for this condition MUST start with the prefix
		// "Dropped Rule"".
		prefix := "Dropped Rule: "
		if len(invalid) > 1 {
			prefix = "Dropped Rules: "
		}
		conds = append(conds, condition(string(gatewayv1.RouteConditionPartiallyInvalid), true, invalid[0].Reason,
			prefix+joinFieldErrors(invalid), gen, c.now))
	}
	pr = *pr.DeepCopy()
	if pr.Group == nil {
		pr.Group = ptr(gatewayv1.Group(gatewayv1.GroupName))
	}
	if pr.Kind == nil && pr.Name != "" {
		pr.Kind = ptr(gatewayv1.Kind("Gateway"))
	}
	return gatewayv1.RouteParentStatus{
		ParentRef:      pr,
		ControllerName: c.controller,
		Conditions:     conds,
	}
}

func joinFieldErrors(errs []*Error) string {
	msgs := make([]string, 0, len(errs))
	for _, e := range errs {
		msgs = append(msgs, e.Field.Error())
	}
	return strings.Join(msgs, "; ")
}
