package httproute

import (
	"cmp"
	"fmt"
	"slices"

	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/validation/field"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/httproute/httproute/internal/deepequal"
)

// GRPCRoutes are compiled into the same routes, rules and candidates as
// HTTPRoutes: a compiledRoute whose grpc field is set, rules whose
// filters and backendRefs are compiled as an HTTPRoute rule's (the
// GRPCRoute filter types are a subset of HTTPRoute's, with the same
// fields), and matches that carry a grpcMatch, which gRPC requests are
// matched against by service and method (grpcmatch.go). They attach to
// listeners, are reused by incremental Updates and report their status as
// HTTPRoutes do.

var grpcRouteKind = gatewayv1.RouteGroupKind{Group: ptr(gatewayv1.Group(gatewayv1.GroupName)), Kind: "GRPCRoute"}

// routeID names a route of either kind.
type routeID struct {
	grpc bool
	types.NamespacedName
}

func (id routeID) kind() string {
	if id.grpc {
		return "GRPCRoute"
	}
	return "HTTPRoute"
}

// routeID returns the name of the i-th route of the Config, counting its
// HTTPRoutes and then its GRPCRoutes.
func (cfg *Config) routeID(i int) routeID {
	if i < len(cfg.HTTPRoutes) {
		hr := cfg.HTTPRoutes[i]
		return routeID{NamespacedName: types.NamespacedName{Namespace: hr.Namespace, Name: hr.Name}}
	}
	gr := cfg.GRPCRoutes[i-len(cfg.HTTPRoutes)]
	return routeID{grpc: true, NamespacedName: types.NamespacedName{Namespace: gr.Namespace, Name: gr.Name}}
}

func (cr *cachedRoute) id() routeID {
	return routeID{grpc: cr.grpc != nil, NamespacedName: types.NamespacedName{Namespace: cr.obj.Namespace, Name: cr.obj.Name}}
}

// kind returns the kind of the route: "HTTPRoute" or "GRPCRoute".
func (r *compiledRoute) kind() string {
	if r.owner != "" {
		return r.owner
	}
	return routeID{grpc: r.grpc != nil}.kind()
}

// allows reports whether the listener's allowedRoutes.kinds admit the
// route's kind.
func (l *listener) allows(r *compiledRoute) bool {
	if r.grpc != nil {
		return l.allowsGRPCRoute
	}
	return l.allowsHTTPRoute
}

var grpcRouteSpecEqual = deepequal.For[gatewayv1.GRPCRouteSpec]()

// grpcRouteEqual reports whether two GRPCRoutes compile to the same thing.
func grpcRouteEqual(a, b *gatewayv1.GRPCRoute) bool {
	return a == b || (sameMeta(&a.ObjectMeta, &b.ObjectMeta) && grpcRouteSpecEqual(&a.Spec, &b.Spec))
}

// grpcRouteFor is routeFor for a GRPCRoute.
func (c *compiler) grpcRouteFor(prev *cachedRoute, gr *gatewayv1.GRPCRoute) *cachedRoute {
	if prev != nil && prev.grpc != nil && grpcRouteEqual(prev.grpc, gr) && c.replay(prev.deps) {
		c.problems = append(c.problems, prev.problems...)
		return prev
	}
	return c.recompile(func() *compiledRoute { return c.compileGRPCRoute(gr) })
}

// compileGRPCRoute compiles a GRPCRoute. Its obj is an HTTPRoute with the
// GRPCRoute's metadata, parentRefs and hostnames: what attachment and
// status read.
func (c *compiler) compileGRPCRoute(gr *gatewayv1.GRPCRoute) *compiledRoute {
	r := &compiledRoute{
		namespace: gr.Namespace,
		name:      gr.Name,
		key:       gr.Namespace + "/" + gr.Name,
		created:   gr.CreationTimestamp.Time,
		grpc:      gr,
		obj: &gatewayv1.HTTPRoute{ObjectMeta: gr.ObjectMeta, Spec: gatewayv1.HTTPRouteSpec{
			CommonRouteSpec: gr.Spec.CommonRouteSpec, Hostnames: gr.Spec.Hostnames}},
	}
	if !c.compileHostnames(r, gr.Spec.Hostnames) {
		return r
	}
	rules := gr.Spec.Rules
	if len(rules) == 0 {
		// As for HTTPRoutes: one rule matching every gRPC request.
		rules = []gatewayv1.GRPCRouteRule{{}}
	}
	names := map[gatewayv1.SectionName]bool{}
	for i := range rules {
		c.addRule(r, c.compileGRPCRule(r, i, &rules[i]), rules[i].Name, names)
	}
	return r
}

// compileGRPCRule compiles one GRPCRouteRule: its matches, then its
// filters and backendRefs as those of the equivalent HTTPRouteRule.
func (c *compiler) compileGRPCRule(r *compiledRoute, i int, gs *gatewayv1.GRPCRouteRule) *rule {
	path := field.NewPath("spec", "rules").Index(i)
	invalid := func(fe *field.Error) *rule {
		ru := &rule{route: r, index: i, invalid: c.routeError(r, reasonUnsupportedValue, fe)}
		if gs.Name != nil {
			ru.name = *gs.Name
		}
		return ru
	}
	var matches []*routeMatch
	for j := range gs.Matches {
		m, fe := compileGRPCMatch(&gs.Matches[j], path.Child("matches").Index(j))
		if fe != nil {
			return invalid(fe)
		}
		matches = append(matches, m)
	}
	if len(matches) == 0 {
		// No matches: every gRPC request.
		matches = []*routeMatch{{kind: pathPrefix, pathLen: 1, grpc: &grpcMatch{service: nameMatch{kind: nameAny}, method: nameMatch{kind: nameAny}}}}
	}
	hs := &gatewayv1.HTTPRouteRule{Name: gs.Name, SessionPersistence: gs.SessionPersistence}
	var fe *field.Error
	if hs.Filters, fe = grpcFilters(gs.Filters, path.Child("filters")); fe == nil {
		for k := range gs.BackendRefs {
			br := &gs.BackendRefs[k]
			hb := gatewayv1.HTTPBackendRef{BackendRef: br.BackendRef}
			if hb.Filters, fe = grpcFilters(br.Filters, path.Child("backendRefs").Index(k).Child("filters")); fe != nil {
				break
			}
			hs.BackendRefs = append(hs.BackendRefs, hb)
		}
	}
	if fe != nil {
		return invalid(fe)
	}
	ru := c.compileRule(r, i, hs)
	ru.matches = matches
	return ru
}

// supportedGRPCFilterTypes are the GRPCRoute filter types, in the order
// Unsupported value errors list them.
var supportedGRPCFilterTypes = []gatewayv1.GRPCRouteFilterType{
	gatewayv1.GRPCRouteFilterRequestHeaderModifier,
	gatewayv1.GRPCRouteFilterResponseHeaderModifier,
	gatewayv1.GRPCRouteFilterRequestMirror,
	gatewayv1.GRPCRouteFilterExtensionRef,
}

// grpcFilters returns GRPCRoute filters as the HTTPRoute filters of the
// same type and fields, or the error of a type GRPCRoutes do not have.
func grpcFilters(fs []gatewayv1.GRPCRouteFilter, path *field.Path) ([]gatewayv1.HTTPRouteFilter, *field.Error) {
	if len(fs) == 0 {
		return nil, nil
	}
	out := make([]gatewayv1.HTTPRouteFilter, len(fs))
	for i, f := range fs {
		if !slices.Contains(supportedGRPCFilterTypes, f.Type) {
			return nil, field.NotSupported(path.Index(i).Child("type"), f.Type, supportedGRPCFilterTypes)
		}
		out[i] = gatewayv1.HTTPRouteFilter{
			Type:                   gatewayv1.HTTPRouteFilterType(f.Type),
			RequestHeaderModifier:  f.RequestHeaderModifier,
			ResponseHeaderModifier: f.ResponseHeaderModifier,
			RequestMirror:          f.RequestMirror,
			ExtensionRef:           f.ExtensionRef,
		}
	}
	return out, nil
}

// rejectCrossKindConflicts applies GEP-1016's rule on HTTPRoutes and
// GRPCRoutes sharing a listener: when routes of the two kinds attached to
// one listener have intersecting hostnames, only the older one (by
// creation timestamp, then "{namespace}/{name}") stays attached there, and
// the other's parentRefs that attached it nowhere else report Accepted
// False (reason NotAllowedByListeners). list is the compile's routes,
// whose entries it replaces for the routes it detaches; old returns a
// route's parent statuses in the table being replaced, whose transition
// times the new ones keep.
func (c *compiler) rejectCrossKindConflicts(listeners []*listener, list []*cachedRoute, gws map[types.NamespacedName][]*listener,
	old func(routeID) []gatewayv1.RouteParentStatus) {
	lost := map[*compiledRoute]string{} // route -> why, for its status
	for _, l := range listeners {
		if !slices.ContainsFunc(l.routes, func(a attachment) bool { return a.route.grpc != nil }) ||
			!slices.ContainsFunc(l.routes, func(a attachment) bool { return a.route.grpc == nil }) {
			continue
		}
		byAge := slices.Clone(l.routes)
		slices.SortStableFunc(byAge, func(a, b attachment) int {
			if c := a.route.created.Compare(b.route.created); c != 0 {
				return c
			}
			return cmp.Compare(a.route.key, b.route.key)
		})
		var kept []attachment
		rejected := map[*compiledRoute]bool{}
		for _, a := range byAge {
			i := slices.IndexFunc(kept, func(k attachment) bool {
				return (k.route.grpc == nil) != (a.route.grpc == nil) && hostsIntersect(k.hosts, a.hosts)
			})
			if i < 0 {
				kept = append(kept, a)
				continue
			}
			rejected[a.route] = true
			if _, ok := lost[a.route]; !ok {
				lost[a.route] = fmt.Sprintf("the listener serves %s %s, older, under a hostname of this route; a listener serves HTTPRoutes and GRPCRoutes under distinct hostnames",
					kept[i].route.kind(), kept[i].route.key)
			}
		}
		if len(rejected) == 0 {
			continue
		}
		l.routes = slices.DeleteFunc(l.routes, func(a attachment) bool { return rejected[a.route] })
		l.attached -= int32(len(rejected))
	}
	for i, cr := range list {
		why, ok := lost[cr.route]
		if !ok {
			continue
		}
		outcomes := slices.Clone(cr.outcomes)
		for j := range outcomes {
			if o := &outcomes[j]; o.attached && !c.stillAttached(cr.route, o.ref, listeners, gws) {
				*o = parentOutcome{ref: o.ref, reason: reasonNotAllowedByListeners, msg: why}
			}
		}
		parents := mergeParents(old(cr.id()), c.parentStatuses(cr.route, outcomes), c.controller, true)
		// The outcomes kept are those the status says: attach never gives
		// a conflict's, so the next compile builds this status again,
		// whether or not the conflict is still there.
		list[i] = &cachedRoute{obj: cr.obj, grpc: cr.grpc, route: cr.route, deps: cr.deps, problems: cr.problems, closers: cr.closers, outcomes: outcomes, parents: parents}
	}
}

// hostsIntersect reports whether two routes' hostnames on one listener
// have a hostname in common.
func hostsIntersect(a, b []hostAttachment) bool {
	for _, x := range a {
		for _, y := range b {
			if _, ok := intersectHostnames(x.host, y.host); ok {
				return true
			}
		}
	}
	return false
}

// stillAttached reports whether route r is attached to a listener that
// its parentRef ref selects (ref -1: the implicit listener), of a Gateway
// or of a ListenerSet.
func (c *compiler) stillAttached(r *compiledRoute, ref int, listeners []*listener, gws map[types.NamespacedName][]*listener) bool {
	has := func(l *listener) bool {
		return slices.ContainsFunc(l.routes, func(a attachment) bool { return a.route == r })
	}
	if ref < 0 || len(gws) == 0 {
		return slices.ContainsFunc(listeners, has)
	}
	pr := r.obj.Spec.ParentRefs[ref]
	ns := r.namespace
	if pr.Namespace != nil {
		ns = string(*pr.Namespace)
	}
	nn := types.NamespacedName{Namespace: ns, Name: string(pr.Name)}
	parent := gws[nn]
	if pr.Kind != nil && *pr.Kind == "ListenerSet" {
		parent, _, _ = c.listenerSetParent(ref, nn)
	}
	return slices.ContainsFunc(parent, func(l *listener) bool {
		return (pr.SectionName == nil || *pr.SectionName == l.name) && (pr.Port == nil || *pr.Port == l.port) && has(l)
	})
}
