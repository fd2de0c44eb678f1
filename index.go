package httproute

import (
	"net/http"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/types"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/httproute/httproute/internal/pathtrie"
	"github.com/httproute/httproute/internal/prefixtrie"
)

// table is one compiled, immutable routing table. Routers swap whole tables.
type table struct {
	env    *env
	status Status
	// routes are the table's routes in Config order, with their parent
	// statuses (Status builds its HTTPRoutes from them).
	routes []*cachedRoute
	// closers are the io.Closers extensions built for the table.
	closers closers
	// listenerSet holds the listeners of every Gateway; gateways holds
	// each Gateway's own, for hosts that serve Gateways at separate
	// addresses (Router.Gateway).
	listenerSet
	gateways map[types.NamespacedName]*listenerSet
	// ports are the ports each Gateway serves (GatewayRouter.Ports).
	ports map[types.NamespacedName][]ListenerPort
	// implicit is the catch-all listener of a Config without Gateways.
	implicit *listener
	// paths is how request paths are normalized and bounded.
	paths pathPolicy
	// problems are those found in the Config (see ConfigUpdate).
	problems []error
	// telemetry is the XTelemetryPolicy of each Gateway that has one.
	telemetry map[types.NamespacedName]*TelemetryPolicy
}

// listenerSet indexes listeners by port; all holds every listener of the
// set, for requests whose local port is unknown or has no listener.
type listenerSet struct {
	ports map[int32]*portIndex
	all   *portIndex
}

func newListenerSet() *listenerSet {
	return &listenerSet{ports: map[int32]*portIndex{}, all: &portIndex{}}
}

// add indexes a listener in the set; prev is the set of the table being
// replaced (nil for none), whose path indexes the new groups may share.
func (s *listenerSet) add(l *listener, prev *listenerSet) {
	if s.ports[l.port] == nil {
		// Every declared port gets an index, even when none of its
		// listeners is ready: its requests must not fall through to other
		// ports' listeners.
		s.ports[l.port] = &portIndex{}
	}
	if !l.ready {
		return
	}
	p := s.ports[l.port]
	var pp, pall *portIndex
	if prev != nil {
		pp, pall = prev.ports[l.port], prev.all
	}
	p.group(l.hostname, pp).add(l)
	if l.protocol == gatewayv1.HTTPSProtocolType {
		p.tls = true
	}
	s.all.group(l.hostname, pall).add(l)
}

// portIndex selects, among the listeners of one port, the one a request
// belongs to: the listener whose hostname matches the request host most
// specifically (exact, then the longest wildcard, then no hostname). This is
// listener isolation: a request is only matched against the routes of that
// listener.
type portIndex struct {
	exact    map[string]*listenerGroup
	wildcard map[string]*listenerGroup // keyed by suffix: ".example.com"
	any      *listenerGroup
	tls      bool
}

// listenerGroup is the listeners that share a port (or all ports) and a
// hostname, possibly across Gateways, with the routes attached to them.
type listenerGroup struct {
	hostname  string
	listeners []*listener
	hosts     hostIndex
	// paths are the path indexes by route hostname with what they were
	// built from, for the next table to share; contrib and seen collect
	// that while the table is built, against the group of the same
	// hostname in the table being replaced (prev).
	paths   map[string]*builtPaths
	contrib map[string]*pending
	seen    map[routeHost]bool
	prev    *listenerGroup
	// pre runs the pre-routing filters of the group's listeners, then
	// routes within the group; nil when they have none.
	pre http.Handler
}

// hostIndex selects routes by the hostname they attached under: exact
// hostnames first, then wildcards from the longest suffix, then routes that
// have no hostname at all. A request falls through to the next tier when no
// rule of a tier matches it.
type hostIndex struct {
	exact    map[string]*pathIndex
	wildcard map[string]*pathIndex // keyed by suffix: ".example.com"
	any      *pathIndex
}

// pathIndex holds the candidates of one hostname: Exact paths in a map,
// regular expressions indexed by their literal prefixes, prefixes in a
// segment trie. Every list is sorted by compareCandidates.
type pathIndex struct {
	exact  map[string][]*candidate
	regex  regexIndex
	prefix pathtrie.Tree[[]*candidate]
	// grpc holds the GRPCRoute candidates, nil when there are none.
	grpc *grpcIndex
}

// regexIndex holds the RegularExpression candidates of one hostname in
// precedence order, and indexes them by the literal prefix of their
// pattern (routeMatch.literal): a request runs only the expressions whose
// literal prefix its path starts with, which are the only ones that can
// match it. Thousands of patterns with distinct prefixes then cost a
// request about what a few do.
type regexIndex struct {
	list []*candidate
	// byLiteral maps each literal prefix to the positions in list of the
	// candidates that have it, ascending.
	byLiteral prefixtrie.Tree[[]int]
}

func (ri *regexIndex) sort() {
	slices.SortStableFunc(ri.list, compareCandidates)
	ri.byLiteral = prefixtrie.Tree[[]int]{}
	for i, c := range ri.list {
		slot := ri.byLiteral.Insert(c.match.literal)
		*slot = append(*slot, i)
	}
}

// each calls fn, in precedence order, with the candidates whose literal
// prefix path starts with, until fn returns true. It does not allocate
// unless more than 8 literal prefixes of the hostname nest in path.
func (ri *regexIndex) each(path string, fn func(*candidate) bool) {
	if len(ri.list) == 0 {
		return
	}
	var buf [8]*[]int
	lists := ri.byLiteral.Match(path, buf[:0])
	if len(lists) == 1 {
		for _, i := range *lists[0] {
			if fn(ri.list[i]) {
				return
			}
		}
		return
	}
	// Merge the ascending lists: the smallest position first.
	var posBuf [8]int
	pos := posBuf[:0]
	for range lists {
		pos = append(pos, 0)
	}
	for {
		best, bestAt := -1, 0
		for j, l := range lists {
			if pos[j] < len(*l) && (best < 0 || (*l)[pos[j]] < best) {
				best, bestAt = (*l)[pos[j]], j
			}
		}
		if best < 0 {
			return
		}
		pos[bestAt]++
		if fn(ri.list[best]) {
			return
		}
	}
}

// find returns the first candidate in precedence order that matches r.
func (ri *regexIndex) find(path string, r *http.Request) *candidate {
	var found *candidate
	ri.each(path, func(c *candidate) bool {
		if c.match.matches(r, path) {
			found = c
			return true
		}
		return false
	})
	return found
}

// attachment is a route attached to a listener under some hostnames.
type attachment struct {
	route *compiledRoute
	hosts []hostAttachment
}

// attach records that route r serves on listener l under hosts. The
// caller attaches a route to a listener once, however many of its
// parentRefs select the listener.
func (l *listener) attach(r *compiledRoute, hosts []hostAttachment) {
	l.routes = append(l.routes, attachment{route: r, hosts: hosts})
	l.attached++
}

// build indexes the routes attached to the listeners. Where prev (the
// table being replaced, or nil) indexed exactly the same routes under a
// hostname of a listener group, its path index is shared instead of
// built again: an Update that changes a few routes rebuilds only the path
// indexes of their hostnames.
func (t *table) build(listeners []*listener, prev *table) {
	t.listenerSet = *newListenerSet()
	t.gateways = map[types.NamespacedName]*listenerSet{}
	var prevSet *listenerSet
	if prev != nil {
		prevSet = &prev.listenerSet
	}
	for _, l := range listeners {
		if l.implicit {
			var pall *portIndex
			if prevSet != nil {
				pall = prevSet.all
			}
			t.all.group(l.hostname, pall).add(l)
			continue
		}
		t.listenerSet.add(l, prevSet)
		gs := t.gateways[l.gateway]
		if gs == nil {
			gs = newListenerSet()
			t.gateways[l.gateway] = gs
		}
		var p *listenerSet
		if prev != nil {
			p = prev.gateways[l.gateway]
		}
		gs.add(l, p)
	}
	t.listenerSet.finish(t)
	for _, gs := range t.gateways {
		gs.finish(t)
	}
}

// finish completes every listener group of the set: it builds the group's
// path indexes, sharing those of the previous table's group that were
// built from the same contributions, and its pre-routing chain.
func (s *listenerSet) finish(t *table) {
	s.all.finish(t)
	for _, p := range s.ports {
		p.finish(t)
	}
}

func (p *portIndex) finish(t *table) {
	for _, g := range p.exact {
		g.finish(t)
	}
	for _, g := range p.wildcard {
		g.finish(t)
	}
	if p.any != nil {
		p.any.finish(t)
	}
}

// lookup returns the group of a listener hostname, nil when there is none
// (or p is nil).
func (p *portIndex) lookup(hostname string) *listenerGroup {
	switch {
	case p == nil:
		return nil
	case hostname == "":
		return p.any
	case strings.HasPrefix(hostname, "*."):
		return p.wildcard[hostname[1:]]
	default:
		return p.exact[hostname]
	}
}

// contribution is one route attached under one hostname to one listener
// of a group: what a path index is built from. The listener is kept by
// its identity, not its object, so that a shared path index does not keep
// the previous table's listeners alive; the hostname points into the
// route's own cache of them (compiledRoute.hostsOn).
type contribution struct {
	listener *listenerID
	route    *compiledRoute
	host     *hostAttachment
}

// listenerID is what candidates carry of their listener; set is the
// ListenerSet that declares it, zero for a Gateway's own listener.
type listenerID struct {
	gateway types.NamespacedName
	set     types.NamespacedName
	name    gatewayv1.SectionName
	port    int32
}

// same reports whether two contributions give the same candidates: the
// same compiled route under the same hostnames, on a listener of the same
// Gateway, name and port.
func (c contribution) same(o contribution) bool {
	return c.route == o.route && (c.host == o.host || *c.host == *o.host) &&
		(c.listener == o.listener || *c.listener == *o.listener)
}

// builtPaths is a path index with the contributions it was built from.
type builtPaths struct {
	from []contribution
	pi   *pathIndex
}

// group returns the group of a listener hostname, made when there is none
// yet; a group made is built against the group of the same hostname in
// prev, the previous table's port index (nil for none).
func (p *portIndex) group(hostname string, prev *portIndex) *listenerGroup {
	var m *map[string]*listenerGroup
	key := hostname
	switch {
	case hostname == "":
		if p.any == nil {
			p.any = &listenerGroup{prev: prev.lookup("")}
		}
		return p.any
	case strings.HasPrefix(hostname, "*."):
		m, key = &p.wildcard, hostname[1:]
	default:
		m = &p.exact
	}
	if *m == nil {
		*m = map[string]*listenerGroup{}
	}
	g := (*m)[key]
	if g == nil {
		g = &listenerGroup{hostname: hostname, prev: prev.lookup(hostname)}
		(*m)[key] = g
	}
	return g
}

// add records the routes attached to l for the group's path indexes,
// once per route and route hostname however many of the group's listeners
// they attached to.
func (g *listenerGroup) add(l *listener) {
	g.listeners = append(g.listeners, l)
	if g.contrib == nil {
		g.contrib = map[string]*pending{}
	}
	// A listener's routes are distinct; a route is seen twice only when
	// it attached to two listeners of the group (merged across Gateways
	// or ports), which the set catches once a second listener joins.
	dedupe := len(g.listeners) > 1
	if dedupe && g.seen == nil {
		g.seen = map[routeHost]bool{}
		for _, prev := range g.listeners[:len(g.listeners)-1] {
			for _, a := range prev.routes {
				for _, h := range a.hosts {
					g.seen[routeHost{a.route, h.key}] = true
				}
			}
		}
	}
	id := &listenerID{gateway: l.gateway, set: l.set, name: l.name, port: l.port}
	for _, a := range l.routes {
		for k := range a.hosts {
			h := &a.hosts[k]
			if dedupe {
				rh := routeHost{a.route, h.key}
				if g.seen[rh] {
					continue
				}
				g.seen[rh] = true
			}
			g.contribute(h.key, contribution{listener: id, route: a.route, host: h})
		}
	}
}

// pending is what one route hostname of a group has received while the
// table is built. As long as its contributions are those the previous
// table's path index (prev) was built from, in the same order, they are
// only counted (n): an Update that leaves the hostname's routes alone
// allocates nothing for it. From the first that differs they are listed
// (from, listed).
type pending struct {
	prev   *builtPaths
	n      int
	from   []contribution
	listed bool
}

// contribute adds c to the contributions of the route hostname key.
func (g *listenerGroup) contribute(key string, c contribution) {
	p := g.contrib[key]
	if p == nil {
		p = &pending{}
		if g.prev != nil {
			p.prev = g.prev.paths[key]
		}
		g.contrib[key] = p
	}
	if !p.listed {
		if p.prev != nil && p.n < len(p.prev.from) && p.prev.from[p.n].same(c) {
			p.n++
			return
		}
		p.listed = true
		if p.n > 0 {
			p.from = append(make([]contribution, 0, 2*p.n), p.prev.from[:p.n]...)
		}
	}
	p.from = append(p.from, c)
}

// routeHost is a route under one of its hostnames.
type routeHost struct {
	route *compiledRoute
	key   string
}

// finish builds the group's path indexes, one per route hostname, sharing
// the previous table's where it was built from the same contributions,
// then its pre-routing chain, which serves requests from table t.
func (g *listenerGroup) finish(t *table) {
	g.paths = make(map[string]*builtPaths, len(g.contrib))
	for key, p := range g.contrib {
		cs := p.from
		if !p.listed {
			if p.n == len(p.prev.from) {
				g.paths[key] = p.prev
				g.hosts.set(key, p.prev.pi)
				continue
			}
			cs = slices.Clone(p.prev.from[:p.n]) // fewer routes than before
		}
		pi := &pathIndex{}
		for _, c := range cs {
			// Routes are indexed and ranked by their own hostname: within
			// the listener the request was matched to, an exact route
			// hostname comes before a wildcard one, and a longer wildcard
			// before a shorter one, whatever the intersections are.
			rank := rankHost(c.host.key)
			for _, ru := range c.route.rules {
				if ru.invalid != nil {
					continue
				}
				for mi, m := range ru.matches {
					cand := &candidate{host: rank, match: m, rule: ru, matchIndex: mi, port: c.listener.port}
					cand.info = newMatchInfo(*c.listener, c.host.host, ru, mi, m)
					pi.add(cand)
				}
			}
		}
		pi.sort()
		g.paths[key] = &builtPaths{from: cs, pi: pi}
		g.hosts.set(key, pi)
	}
	g.contrib, g.seen, g.prev = nil, nil, nil
	g.preRouting(t)
}

// set installs the path index of a route hostname.
func (h *hostIndex) set(host string, pi *pathIndex) {
	switch {
	case host == "":
		h.any = pi
	case strings.HasPrefix(host, "*."):
		if h.wildcard == nil {
			h.wildcard = map[string]*pathIndex{}
		}
		h.wildcard[host[1:]] = pi
	default:
		if h.exact == nil {
			h.exact = map[string]*pathIndex{}
		}
		h.exact[host] = pi
	}
}

func (pi *pathIndex) add(c *candidate) {
	if c.match.grpc != nil {
		if pi.grpc == nil {
			pi.grpc = &grpcIndex{}
		}
		pi.grpc.add(c)
		return
	}
	switch c.match.kind {
	case pathExact:
		if pi.exact == nil {
			pi.exact = map[string][]*candidate{}
		}
		pi.exact[c.match.path] = append(pi.exact[c.match.path], c)
	case pathRegex:
		pi.regex.list = append(pi.regex.list, c)
	default:
		slot := pi.prefix.Insert(c.match.path + "/")
		*slot = append(*slot, c)
	}
}

func (pi *pathIndex) sort() {
	for _, l := range pi.exact {
		slices.SortStableFunc(l, compareCandidates)
	}
	pi.regex.sort()
	pi.prefix.Walk(func(_ string, l *[]*candidate) { slices.SortStableFunc(*l, compareCandidates) })
	if pi.grpc != nil {
		pi.grpc.sort()
	}
}

// find returns the candidate of highest precedence matching r, or an error
// wrapping ErrNoRoute or ErrMisdirected. port is the listener port the
// request arrived on: 0 when unknown, negative when it is the local port of
// the connection rather than a port the host named with Router.Port. A
// local port that no listener declares falls back to every listener, so
// that a test server on a random port serves the whole Config; a port named
// with Router.Port never falls back.
//
// gw, when not nil, restricts the search to one Gateway's listeners.
//
// path is the normalized escaped path of r (normalizePath).
func (t *table) find(r *http.Request, path string, port int32, gw *types.NamespacedName) (*candidate, error) {
	g, host, err := t.group(r, port, gw)
	if err != nil {
		return nil, err
	}
	if c := g.findIn(r, host, path); c != nil {
		return c, nil
	}
	return nil, ErrNoRoute
}

// group returns the listener group that serves r: the listener of the
// port (see find) whose hostname matches the request's Host most
// specifically, with the request's host as matching sees it
// (requestHost), or an error wrapping ErrNoRoute or ErrMisdirected.
func (t *table) group(r *http.Request, port int32, gw *types.NamespacedName) (*listenerGroup, string, error) {
	set := &t.listenerSet
	if gw != nil && t.implicit == nil {
		if set = t.gateways[*gw]; set == nil {
			return nil, "", ErrNoRoute
		}
	}
	p := set.all
	switch {
	case t.implicit != nil:
		// The implicit listener of a Config without Gateways takes every
		// port, the ones named with Router.Port included.
	case port > 0:
		if p = set.ports[port]; p == nil {
			return nil, "", ErrNoRoute
		}
	case port < 0:
		if pp := set.ports[-port]; pp != nil {
			p = pp
		}
	}
	host := requestHost(r.Host)
	g := p.listenerFor(host)
	if g == nil {
		// Listener.Hostname: when no Listener matches the Host, "the
		// Gateway MUST return a 404", whatever listener SNI chose.
		return nil, "", ErrNoRoute
	}
	if r.TLS != nil && p.tls {
		// On TLS listeners the connection's SNI chose the listener whose
		// certificate the handshake used (no SNI: the listener without
		// hostname, see TLSConfig); a Host that selects another listener
		// of the port is misdirected (421).
		if p.listenerFor(requestHost(r.TLS.ServerName)) != g {
			return nil, "", ErrMisdirected
		}
	}
	return g, host, nil
}

// findIn returns the candidate of highest precedence of group g matching
// r, whose host (requestHost) and normalized path are given, or nil.
func (g *listenerGroup) findIn(r *http.Request, host, path string) *candidate {
	return g.hosts.find(host, path, r)
}

func (p *portIndex) listenerFor(host string) *listenerGroup {
	if g := p.exact[host]; g != nil {
		return g
	}
	if p.wildcard != nil {
		for i := 0; i < len(host); i++ {
			if host[i] == '.' && i > 0 {
				if g := p.wildcard[host[i:]]; g != nil {
					return g
				}
			}
		}
	}
	return p.any
}

func (h *hostIndex) find(host, path string, r *http.Request) *candidate {
	if pi := h.exact[host]; pi != nil {
		if c := pi.find(path, r); c != nil {
			return c
		}
	}
	if h.wildcard != nil {
		for i := 1; i < len(host); i++ {
			if host[i] == '.' {
				if pi := h.wildcard[host[i:]]; pi != nil {
					if c := pi.find(path, r); c != nil {
						return c
					}
				}
			}
		}
	}
	if h.any != nil {
		return h.any.find(path, r)
	}
	return nil
}

// find walks the candidates of one hostname in precedence order: for a
// gRPC request the GRPCRoute ones, then Exact, regular expressions, then
// prefixes from the deepest trie node up.
func (pi *pathIndex) find(path string, r *http.Request) *candidate {
	if pi.grpc != nil && isGRPCRequest(r) {
		if c := pi.grpc.find(path, r); c != nil {
			return c
		}
	}
	for _, c := range pi.exact[path] {
		if c.match.matches(r, path) {
			return c
		}
	}
	if c := pi.regex.find(path, r); c != nil {
		return c
	}
	var buf [16]*[]*candidate
	nodes := pi.prefix.Match(path, buf[:0])
	for i := len(nodes) - 1; i >= 0; i-- {
		for _, c := range *nodes[i] {
			if c.match.matches(r, path) {
				return c
			}
		}
	}
	return nil
}

// Match describes the rule that serves a request, as Lookup and
// MatchFromContext report it.
type Match struct {
	// Gateway and Listener name the listener the route attached to, Port
	// is its port; all are zero for the implicit listener of a Config
	// without Gateways.
	Gateway  types.NamespacedName
	Listener gatewayv1.SectionName
	Port     int32
	// ListenerSet names the ListenerSet that declares the listener
	// (Listener is then one of its spec.listeners), zero for the
	// Gateway's own listeners.
	ListenerSet types.NamespacedName
	// Hostname is the hostname the route serves under on that listener:
	// the intersection of a route hostname with the listener's, "" when
	// neither has one.
	Hostname string
	Route    types.NamespacedName
	// Rule is the index of the rule in spec.rules, RuleName its name.
	Rule     int
	RuleName gatewayv1.SectionName
	// MatchIndex is the index of the match within the rule's matches; the
	// rule's default match (PathPrefix "/") has index 0.
	MatchIndex int
	// PathType and PathValue are the path match after defaulting.
	PathType  gatewayv1.PathMatchType
	PathValue string
	// Backends are the rule's backendRefs with their weights; the weighted
	// choice picks one per request.
	Backends []BackendChoice
	// GRPC is the method match of a GRPCRoute rule after defaulting, nil
	// for an HTTPRoute; PathType and PathValue are then empty.
	GRPC *GRPCMatch
}

func newMatchInfo(l listenerID, host string, ru *rule, mi int, m *routeMatch) *Match {
	info := &Match{
		Gateway:    l.gateway,
		Listener:   l.name,
		Hostname:   host,
		Route:      types.NamespacedName{Namespace: ru.route.namespace, Name: ru.route.name},
		Rule:       ru.index,
		RuleName:   ru.name,
		MatchIndex: mi,
		PathType:   gatewayv1.PathMatchType(m.kind.String()),
		PathValue:  m.path,
		Backends:   ru.backends,
		Port:       l.port,
	}
	info.ListenerSet = l.set
	if m.kind == pathPrefix {
		info.PathValue = m.path
		if info.PathValue == "" {
			info.PathValue = "/"
		}
	}
	if m.grpc != nil {
		info.PathType, info.PathValue, info.GRPC = "", "", &m.grpc.info
	}
	return info
}
