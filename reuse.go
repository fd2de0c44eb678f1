package httproute

import (
	"maps"
	"reflect"
	"runtime"
	"slices"
	"sync"
	"unsafe"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/httproute/httproute/internal/deepequal"
)

// Incremental Update.
//
// Update reuses what the previous compile built when its inputs have not
// changed, judged by content: a host that re-reads its YAML or relists
// its informers hands over fresh objects, equal to the old ones.
//
// A compiled route is reused when the route is equal (spec, name,
// namespace, creation time and generation) and every lookup its compile
// made gives the same answer again: each ServiceResolver call returns the
// same Backend (the same value: an Upstream reused across Updates is), each
// ReferenceGrant check the same verdict, each extension object and XBackend
// is unchanged. Extension constructors (Extension.Filter, Extension.Backend)
// are therefore not called again for unchanged objects, so state they keep
// (a rate limiter's buckets) survives an Update. Everything else of a
// Config (its hooks, limits, session key, extensions list, class and
// controller names) must be the same for anything to be reused; a Config
// that changes them is compiled from scratch. Hooks are compared as values
// (functions by their code), so a host that swaps a hook for a closure of
// the same code with other captured state must build a new Router.
//
// The index is shared the same way: a path index (the routes of one
// hostname on one listener group) whose routes and listeners are the same
// compiled objects is shared with the previous table, so changing one
// route rebuilds the path indexes of its hostnames only. Parent statuses
// of a reused route whose attachment did not change are reused with their
// transition times.

// routeCache is what one compile leaves for the next.
type routeCache struct {
	globals globals
	env     *env
	// list is the compiled routes in Config order, index their positions
	// by name; epoch numbers the compile (unique per Router, failed
	// compiles included).
	list    []*cachedRoute
	index   map[routeID]int
	epoch   uint64
	budgets map[string]*retryBudget
	// secrets and objects are the ones the compile saw, to tell whether
	// extension objects and the Secrets they may read changed.
	secrets map[types.NamespacedName]*corevSecret
	// attachments is the implicit listener's list of attached routes, for
	// the next compile to fill (empty, its capacity kept).
	attachments []attachment
}

// corevSecret keeps the parts of a Secret that extensions read.
type corevSecret struct {
	secretType string
	data       map[string][]byte
}

// cachedRoute is a compiled route with what its compile depended on.
type cachedRoute struct {
	obj *gatewayv1.HTTPRoute
	// grpc is the GRPCRoute of a compiled GRPCRoute (obj then holds its
	// metadata and parentRefs), nil for an HTTPRoute.
	grpc     *gatewayv1.GRPCRoute
	route    *compiledRoute
	deps     []dependency
	problems []error
	// outcomes and parents are the route's attachment and the parent
	// statuses built for it.
	outcomes []parentOutcome
	parents  []gatewayv1.RouteParentStatus
	// closers are what extensions built for the route that need closing
	// when it is dropped (lifecycle.go).
	closers closers
}

// globals are the parts of a Config every compiled route depends on.
type globals struct {
	sessionKey       string
	extensions       uintptr // the backing array of Config.Extensions
	extensionsLen    int
	rand, now, sleep uintptr
	logger           uintptr
	maxRetryAttempts int
	retryBudget      RetryBudget
	controller       gatewayv1.GatewayController
	class            gatewayv1.ObjectName
	strict           bool
	ignoreParentRefs bool
	endpoints        uintptr
	observer         uintptr
	notFound         uintptr
}

func globalsOf(cfg *Config, sessionKey []byte) globals {
	g := globals{
		sessionKey:       string(sessionKey),
		extensionsLen:    len(cfg.Extensions),
		rand:             identity(cfg.Rand),
		now:              identity(cfg.Now),
		sleep:            identity(cfg.Sleep),
		logger:           identity(cfg.Logger),
		maxRetryAttempts: cfg.MaxRetryAttempts,
		retryBudget:      cfg.RetryBudget,
		controller:       cfg.ControllerName,
		class:            cfg.GatewayClassName,
		strict:           cfg.Strict,
		ignoreParentRefs: cfg.IgnoreParentRefs,
		endpoints:        identity(cfg.Endpoints),
		observer:         identity(cfg.Observer),
		notFound:         identity(cfg.NotFound),
	}
	if len(cfg.Extensions) > 0 {
		g.extensions = reflect.ValueOf(&cfg.Extensions[0]).Pointer()
	}
	return g
}

// identity returns a value that is equal for the same hook: the pointer of
// a pointer, map or function (its code), 0 for nil and for values that
// have none, which then never match a changed hook of another kind.
func identity(v any) uintptr {
	if v == nil {
		return 0
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Pointer, reflect.Map, reflect.Func, reflect.Chan, reflect.Slice, reflect.UnsafePointer:
		return rv.Pointer()
	default:
		// A value type (a struct source): identified by its type alone.
		return reflect.ValueOf(rv.Type()).Pointer()
	}
}

// findPrevious sets prevs[i] to the previous compile's route of the
// Config's route i (the one at the same position, else the one of the same
// kind and name), nil for a new route, and bit i of equal when route i is
// an HTTPRoute equal to it (routeEqual). It reports whether every route
// was found at its position.
//
// Comparing is most of what an Update that changes little does. It reads
// only objects no one writes while a table compiles, so the routes of a
// large Config are compared in parts, on up to GOMAXPROCS goroutines (as
// a full compile's garbage is collected on the processors it leaves
// idle): each part a multiple of 64 routes, so that no two goroutines
// write one word of equal.
func findPrevious(cfg *Config, cache *routeCache, prevs []*cachedRoute, equal []uint64) bool {
	find := func(from, to int) bool {
		inOrder := true
		for i := from; i < to; i++ {
			id := cfg.routeID(i)
			var prev *cachedRoute
			if i < len(cache.list) && cache.list[i].id() == id {
				prev = cache.list[i]
			} else {
				inOrder = false
				if k, ok := cache.index[id]; ok {
					prev = cache.list[k]
				}
			}
			prevs[i] = prev
			if i < len(cfg.HTTPRoutes) && prev != nil && prev.grpc == nil && routeEqual(prev.obj, cfg.HTTPRoutes[i]) {
				equal[i/64] |= 1 << (i % 64)
			}
		}
		return inOrder
	}
	total := len(prevs)
	parts := min(runtime.GOMAXPROCS(0), total/minRoutesPerPart)
	if parts <= 1 {
		return find(0, total)
	}
	size := (total/parts + 63) &^ 63
	inOrder := make([]bool, parts)
	var wg sync.WaitGroup
	for p := range parts {
		from, to := min(p*size, total), min((p+1)*size, total)
		wg.Go(func() { inOrder[p] = find(from, to) })
	}
	wg.Wait()
	return !slices.Contains(inOrder, false)
}

// minRoutesPerPart is the fewest routes findPrevious gives a goroutine:
// comparing a few thousand routes takes about a millisecond, worth a
// goroutine; fewer are compared on the caller's.
const minRoutesPerPart = 2048

// routeEqual reports whether two routes compile to the same thing.
func routeEqual(a, b *gatewayv1.HTTPRoute) bool {
	return a == b || (sameMeta(&a.ObjectMeta, &b.ObjectMeta) && deepequal.HTTPRouteSpec(&a.Spec, &b.Spec))
}

// sameMeta reports whether two routes' metadata compile to the same thing:
// name, namespace, generation and creation time.
func sameMeta(a, b *metav1.ObjectMeta) bool {
	return a.Namespace == b.Namespace && a.Name == b.Name && a.Generation == b.Generation &&
		a.CreationTimestamp.Equal(&b.CreationTimestamp)
}

// depKind is what a compile looked up.
type depKind uint8

const (
	depGrant depKind = iota
	depService
	depObject
	depXBackend
	depSecrets
)

// dependency is one lookup a route's compile made, with its answer. It is
// kept small: a route has a few and a Router keeps them for every route.
type dependency struct {
	kind depKind
	// svc, for depService: the Service port and what the resolver
	// returned, shared by every route of a compile that resolved it and
	// checked once per compile.
	svc *serviceDep
	// more holds what the other kinds looked up.
	more *depDetail
}

// depDetail is what a grant, object or XBackend lookup found.
type depDetail struct {
	// depGrant
	grant   [7]string
	allowed bool
	// depObject
	key    objectKey
	object Object
	// depXBackend
	xb      types.NamespacedName
	backend Backend
	err     string
	session *sessionPolicy
}

// recordObject notes that the route being compiled uses the extension
// object group/kind ns/name (obj, nil when absent), and so the Secrets it
// may read.
func (c *compiler) recordObject(gk schema.GroupKind, ns, name string, obj Object) {
	c.record(dependency{kind: depObject, more: &depDetail{key: objectKey{gk.Group, gk.Kind, ns, name}, object: obj}})
	c.record(dependency{kind: depSecrets})
}

// serviceDep is one ServiceResolver answer routes depend on.
type serviceDep struct {
	ref     BackendRef
	backend Backend
	err     string
	// checked is the compile that last asked again; same what it found.
	checked uint64
	same    bool
}

// recordService notes that the route being compiled resolved the Service
// port of ref to b, err.
func (c *compiler) recordService(ref BackendRef, b Backend, err error) {
	if c.deps == nil {
		return
	}
	k := serviceKey{ref.Namespace, ref.Name, ref.Port}
	sd := c.serviceDeps[k]
	if sd == nil {
		sd = &serviceDep{ref: BackendRef{ObjectRef: ObjectRef{Kind: ref.Kind, Namespace: ref.Namespace, Name: ref.Name}, Port: ref.Port},
			backend: b, err: errString(err), checked: c.epoch, same: true}
		c.serviceDeps[k] = sd
	}
	c.record(dependency{kind: depService, svc: sd})
}

// record notes a lookup of the route being compiled.
func (c *compiler) record(d dependency) {
	if c.deps != nil {
		*c.deps = append(*c.deps, d)
	}
}

// replay reports whether every lookup of a cached route gives the same
// answer in this compile.
func (c *compiler) replay(deps []dependency) bool {
	for i := range deps {
		d := &deps[i]
		switch d.kind {
		case depGrant:
			g := d.more.grant
			if c.grants.allows(g[0], g[1], g[2], g[3], g[4], g[5], g[6]) != d.more.allowed {
				return false
			}
		case depService:
			sd := d.svc
			if sd.checked != c.epoch {
				b, err := c.resolveService(sd.ref)
				sd.checked, sd.same = c.epoch, errString(err) == sd.err && sameBackend(b, sd.backend)
			}
			if !sd.same {
				return false
			}
		case depObject:
			cur := c.objects[d.more.key]
			if !sameObject(cur, d.more.object) {
				return false
			}
		case depXBackend:
			x := c.xbackend(d.more.xb)
			if errString(x.err) != d.more.err || !sameBackend(x.backend, d.more.backend) || !sameSession(x.session, d.more.session) {
				return false
			}
		case depSecrets:
			if !c.secretsUnchanged {
				return false
			}
		default:
			return false
		}
	}
	return true
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// sameBackend reports whether two Backends are the same value. Values
// that cannot be compared (a Handler of a func) are never the same.
func sameBackend(a, b Backend) (same bool) {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	ta := reflect.TypeOf(a)
	if ta != reflect.TypeOf(b) {
		return false
	}
	if ta.Kind() == reflect.Pointer {
		return a == b // the usual case (an *Upstream): cannot panic
	}
	if (*[2]unsafe.Pointer)(unsafe.Pointer(&a))[1] == (*[2]unsafe.Pointer)(unsafe.Pointer(&b))[1] {
		// The same boxed value handed over again (a Handler of a func
		// made once): identical, though == would panic on it.
		return true
	}
	defer func() {
		if recover() != nil {
			same = false // an incomparable dynamic value
		}
	}()
	return a == b
}

func sameObject(a, b Object) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	if any(a) == any(b) {
		return true
	}
	return reflect.DeepEqual(a, b)
}

func sameSession(a, b *sessionPolicy) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return a.header == b.header && a.name == b.name && a.path == b.path && a.permanent == b.permanent &&
		a.absolute == b.absolute && a.rule == b.rule && string(a.key) == string(b.key)
}

// secretsSnapshot keeps what extensions may read of the Secrets.
func secretsSnapshot(m map[types.NamespacedName]*corev1.Secret) map[types.NamespacedName]*corevSecret {
	out := make(map[types.NamespacedName]*corevSecret, len(m))
	for nn, s := range m {
		out[nn] = &corevSecret{secretType: string(s.Type), data: s.Data}
	}
	return out
}

func sameSecrets(a, b map[types.NamespacedName]*corevSecret) bool {
	return maps.EqualFunc(a, b, func(x, y *corevSecret) bool {
		return x.secretType == y.secretType && maps.EqualFunc(x.data, y.data, func(p, q []byte) bool { return string(p) == string(q) })
	})
}
