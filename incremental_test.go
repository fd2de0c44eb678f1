package httproute_test

import (
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	goruntime "runtime"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/httproute/httproute"
)

// world is a configuration that a random sequence of edits changes. Every
// Update hands the Router fresh copies of its objects, as a program that
// re-reads its YAML or relists its informers does.
type world struct {
	r        *rand.Rand
	gateways []*gatewayv1.Gateway
	sets     []*gatewayv1.ListenerSet
	routes   []*gatewayv1.HTTPRoute
	grpc     []*gatewayv1.GRPCRoute
	grants   []*gatewayv1.ReferenceGrant
	ns       []*corev1.Namespace
	notes    []*note
	backends map[string]httproute.Backend // by Service name
	seq      int
}

// note is the object of a test extension kind whose filter answers with
// the note's text: a change of the object must reach the answer.
type note struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata"`
	Text              string
}

func (n *note) DeepCopyObject() runtime.Object {
	c := *n
	c.ObjectMeta = *n.ObjectMeta.DeepCopy()
	return &c
}

var noteKind = schema.GroupVersionKind{Group: "example.com", Version: "v1", Kind: "Note"}

func noteExtension() httproute.Extension {
	return httproute.Extension{
		Kind: noteKind,
		New:  func() httproute.Object { return &note{} },
		Filter: func(ref httproute.ObjectRef) (httproute.Filter, error) {
			text := ref.Object.(*note).Text
			return httproute.FilterFunc(func(http.Handler) http.Handler {
				return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, text) })
			}), nil
		},
	}
}

var (
	worldHosts  = []string{"", "a.example.com", "*.example.com", "b.example.com", "*.b.example.com"}
	worldPaths  = []string{"/", "/api", "/api/v1", "/shop", "/api/v1/items"}
	worldNS     = []string{"default", "apps", "other"}
	worldSvcs   = []string{"s1", "s2", "s3"}
	worldListen = []string{"", "a.example.com", "*.example.com", "*.b.example.com"}
)

func newWorld(seed uint64) *world {
	w := &world{r: rand.New(rand.NewPCG(seed, seed^0x9e3779b9)), backends: map[string]httproute.Backend{}}
	for _, s := range worldSvcs {
		w.backends[s] = w.newBackend(s)
	}
	for _, n := range worldNS {
		w.ns = append(w.ns, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: n, Labels: map[string]string{"team": n}}})
	}
	for i := 0; i < 2+w.r.IntN(2); i++ {
		w.addGateway()
	}
	for i := 0; i < w.r.IntN(3); i++ {
		w.addListenerSet()
	}
	for i := 0; i < 20; i++ {
		w.addRoute()
	}
	for i := 0; i < 5; i++ {
		w.addGRPCRoute()
	}
	w.notes = append(w.notes, &note{TypeMeta: metav1.TypeMeta{APIVersion: "example.com/v1", Kind: "Note"},
		ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "n"}, Text: "first"})
	return w
}

func (w *world) pick(list []string) string { return list[w.r.IntN(len(list))] }

func (w *world) newBackend(name string) httproute.Backend {
	w.seq++
	id := fmt.Sprintf("%s#%d", name, w.seq)
	return httproute.Handler(http.HandlerFunc(func(rw http.ResponseWriter, _ *http.Request) { fmt.Fprint(rw, id) }))
}

func (w *world) addGateway() {
	w.seq++
	gw := &gatewayv1.Gateway{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: fmt.Sprintf("gw%d", w.seq)}}
	for i := 0; i < 1+w.r.IntN(3); i++ {
		l := gatewayv1.Listener{Name: gatewayv1.SectionName(fmt.Sprintf("l%d", i)), Port: gatewayv1.PortNumber(80 + 8000*w.r.IntN(2)), Protocol: gatewayv1.HTTPProtocolType}
		if h := w.pick(worldListen); h != "" {
			l.Hostname = ptr(gatewayv1.Hostname(h))
		}
		from := []gatewayv1.FromNamespaces{gatewayv1.NamespacesFromAll, gatewayv1.NamespacesFromSame, gatewayv1.NamespacesFromSelector}[w.r.IntN(3)]
		l.AllowedRoutes = &gatewayv1.AllowedRoutes{Namespaces: &gatewayv1.RouteNamespaces{From: &from}}
		if from == gatewayv1.NamespacesFromSelector {
			l.AllowedRoutes.Namespaces.Selector = &metav1.LabelSelector{MatchLabels: map[string]string{"team": w.pick(worldNS)}}
		}
		gw.Spec.Listeners = append(gw.Spec.Listeners, l)
	}
	w.allowListenerSets(gw)
	w.gateways = append(w.gateways, gw)
}

// allowListenerSets sets a random allowedListeners on gw (none at all
// included).
func (w *world) allowListenerSets(gw *gatewayv1.Gateway) {
	gw.Spec.AllowedListeners = nil
	switch w.r.IntN(4) {
	case 0:
	case 1:
		gw.Spec.AllowedListeners = &gatewayv1.AllowedListeners{Namespaces: &gatewayv1.ListenerNamespaces{From: ptr(gatewayv1.NamespacesFromAll)}}
	case 2:
		gw.Spec.AllowedListeners = &gatewayv1.AllowedListeners{Namespaces: &gatewayv1.ListenerNamespaces{From: ptr(gatewayv1.NamespacesFromSame)}}
	default:
		gw.Spec.AllowedListeners = &gatewayv1.AllowedListeners{Namespaces: &gatewayv1.ListenerNamespaces{From: ptr(gatewayv1.NamespacesFromSelector),
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"team": w.pick(worldNS)}}}}
	}
}

// addListenerSet adds a ListenerSet of a random Gateway, whose listeners
// may conflict with the Gateway's and other sets'.
// newMeta returns the metadata of a new object of the world: a fresh
// name after prefix, a random namespace, and a creation time among the
// first ages seconds (objects of one age tie on it).
func (w *world) newMeta(prefix string, ages int) metav1.ObjectMeta {
	w.seq++
	return metav1.ObjectMeta{
		Namespace: w.pick(worldNS), Name: fmt.Sprintf("%s%d", prefix, w.seq),
		CreationTimestamp: metav1.NewTime(time.Unix(int64(w.r.IntN(ages)), 0)),
	}
}

func (w *world) addListenerSet() {
	if len(w.gateways) == 0 {
		return
	}
	gw := w.gateways[w.r.IntN(len(w.gateways))]
	ls := &gatewayv1.ListenerSet{ObjectMeta: w.newMeta("ls", 3)}
	ls.Spec.ParentRef = gatewayv1.ParentGatewayReference{Name: gatewayv1.ObjectName(gw.Name), Namespace: ptr(gatewayv1.Namespace(gw.Namespace))}
	for i := 0; i < 1+w.r.IntN(2); i++ {
		e := gatewayv1.ListenerEntry{Name: gatewayv1.SectionName(fmt.Sprintf("l%d", i)), Port: gatewayv1.PortNumber(80 + 8000*w.r.IntN(2)), Protocol: gatewayv1.HTTPProtocolType}
		w.setEntryHostname(&e)
		from := []gatewayv1.FromNamespaces{gatewayv1.NamespacesFromAll, gatewayv1.NamespacesFromSame}[w.r.IntN(2)]
		e.AllowedRoutes = &gatewayv1.AllowedRoutes{Namespaces: &gatewayv1.RouteNamespaces{From: &from}}
		ls.Spec.Listeners = append(ls.Spec.Listeners, e)
	}
	w.sets = append(w.sets, ls)
}

func (w *world) setEntryHostname(e *gatewayv1.ListenerEntry) {
	e.Hostname = nil
	if h := w.pick(append([]string{"c.example.com", "*.c.example.com"}, worldListen...)); h != "" {
		e.Hostname = ptr(gatewayv1.Hostname(h))
	}
}

func (w *world) addRoute() {
	hr := &gatewayv1.HTTPRoute{ObjectMeta: w.newMeta("r", 5)}
	w.fillRoute(hr)
	w.routes = append(w.routes, hr)
}

func (w *world) fillRoute(hr *gatewayv1.HTTPRoute) {
	hr.Spec = gatewayv1.HTTPRouteSpec{}
	if h := w.pick(worldHosts); h != "" {
		hr.Spec.Hostnames = []gatewayv1.Hostname{gatewayv1.Hostname(h)}
	}
	if len(w.sets) > 0 && w.r.IntN(4) == 0 {
		ls := w.sets[w.r.IntN(len(w.sets))]
		pr := gatewayv1.ParentReference{Kind: ptr(gatewayv1.Kind("ListenerSet")), Name: gatewayv1.ObjectName(ls.Name), Namespace: ptr(gatewayv1.Namespace(ls.Namespace))}
		if w.r.IntN(3) == 0 {
			pr.SectionName = &ls.Spec.Listeners[0].Name
		}
		hr.Spec.ParentRefs = []gatewayv1.ParentReference{pr}
	} else if len(w.gateways) > 0 && w.r.IntN(4) > 0 {
		gw := w.gateways[w.r.IntN(len(w.gateways))]
		pr := gatewayv1.ParentReference{Name: gatewayv1.ObjectName(gw.Name), Namespace: ptr(gatewayv1.Namespace(gw.Namespace))}
		if w.r.IntN(3) == 0 {
			pr.SectionName = &gw.Spec.Listeners[0].Name
		}
		hr.Spec.ParentRefs = []gatewayv1.ParentReference{pr}
	}
	for i := 0; i < 1+w.r.IntN(3); i++ {
		typ := []gatewayv1.PathMatchType{gatewayv1.PathMatchExact, gatewayv1.PathMatchPathPrefix, gatewayv1.PathMatchRegularExpression}[w.r.IntN(3)]
		p := w.pick(worldPaths)
		if typ == gatewayv1.PathMatchRegularExpression {
			p += "/[0-9]+"
		}
		rule := gatewayv1.HTTPRouteRule{Matches: []gatewayv1.HTTPRouteMatch{{Path: &gatewayv1.HTTPPathMatch{Type: &typ, Value: ptr(p)}}}}
		if w.r.IntN(3) == 0 {
			rule.Matches[0].Headers = []gatewayv1.HTTPHeaderMatch{{Name: "X-Version", Value: "2"}}
		}
		switch w.r.IntN(6) {
		case 0:
			rule.Filters = []gatewayv1.HTTPRouteFilter{{Type: gatewayv1.HTTPRouteFilterExtensionRef,
				ExtensionRef: &gatewayv1.LocalObjectReference{Group: "example.com", Kind: "Note", Name: "n"}}}
		default:
			ref := gatewayv1.HTTPBackendRef{BackendRef: gatewayv1.BackendRef{BackendObjectReference: gatewayv1.BackendObjectReference{
				Name: gatewayv1.ObjectName(w.pick(worldSvcs)), Port: ptr(gatewayv1.PortNumber(80))}}}
			if w.r.IntN(5) == 0 {
				ref.Namespace = ptr(gatewayv1.Namespace("other")) // needs a grant unless the route is in "other"
			}
			rule.BackendRefs = []gatewayv1.HTTPBackendRef{ref}
		}
		hr.Spec.Rules = append(hr.Spec.Rules, rule)
	}
}

// tweakRoute changes one field of one rule of hr, as an edit of a single
// line of YAML does: an Update must notice a change in any field alone,
// whatever order it compares them in.
func (w *world) tweakRoute(hr *gatewayv1.HTTPRoute) string {
	ru := &hr.Spec.Rules[w.r.IntN(len(hr.Spec.Rules))]
	m := &ru.Matches[0]
	switch w.r.IntN(8) {
	case 0:
		if len(ru.BackendRefs) > 0 {
			b := &ru.BackendRefs[0]
			switch {
			case b.Weight == nil:
				b.Weight = ptr(int32(0))
			case *b.Weight == 0:
				b.Weight = ptr(int32(3))
			default:
				b.Weight = nil
			}
			return "change a backendRef's weight"
		}
	case 1:
		if len(ru.BackendRefs) > 0 {
			b := &ru.BackendRefs[0]
			b.Port = ptr(161 - *b.Port) // 80 and 81 in turn
			return "change a backendRef's port"
		}
	case 2:
		if *m.Path.Type != gatewayv1.PathMatchRegularExpression {
			typ := gatewayv1.PathMatchExact
			if *m.Path.Type == typ {
				typ = gatewayv1.PathMatchPathPrefix
			}
			m.Path.Type = &typ
			return "change a path match's type"
		}
	case 3:
		v := "2"
		if len(m.Headers) > 0 && m.Headers[0].Value == v {
			v = "3"
		}
		m.Headers = []gatewayv1.HTTPHeaderMatch{{Name: "X-Version", Value: v}}
		return "change a header match's value"
	case 4:
		if m.Method == nil {
			m.Method = ptr(gatewayv1.HTTPMethodPost)
		} else {
			m.Method = nil
		}
		return "change a match's method"
	case 5:
		if m.QueryParams == nil {
			m.QueryParams = []gatewayv1.HTTPQueryParamMatch{{Name: "v", Value: "1"}}
		} else {
			m.QueryParams = nil
		}
		return "change a query parameter match"
	case 6:
		if len(ru.BackendRefs) > 0 {
			b := &ru.BackendRefs[0]
			if b.Namespace == nil {
				b.Namespace = ptr(gatewayv1.Namespace("other"))
			} else {
				b.Namespace = nil
			}
			return "change a backendRef's namespace"
		}
	case 7:
		hr.Spec.Hostnames = nil
		if h := w.pick(worldHosts); h != "" {
			hr.Spec.Hostnames = []gatewayv1.Hostname{gatewayv1.Hostname(h)}
		}
		return "change a route's hostname"
	}
	return "no change"
}

// worldServices are the gRPC services of the world's GRPCRoutes.
var worldServices = []string{"pkg.Echo", "pkg.Other"}

func (w *world) addGRPCRoute() {
	gr := &gatewayv1.GRPCRoute{ObjectMeta: w.newMeta("g", 5)}
	w.fillGRPCRoute(gr)
	w.grpc = append(w.grpc, gr)
}

// fillGRPCRoute gives a GRPCRoute random hostnames, parent and rules:
// routes of both kinds then share listeners and hostnames, and conflict.
func (w *world) fillGRPCRoute(gr *gatewayv1.GRPCRoute) {
	hr := &gatewayv1.HTTPRoute{}
	w.fillRoute(hr)
	gr.Spec = gatewayv1.GRPCRouteSpec{CommonRouteSpec: hr.Spec.CommonRouteSpec, Hostnames: hr.Spec.Hostnames}
	for i := 0; i < 1+w.r.IntN(3); i++ {
		m := gatewayv1.GRPCRouteMatch{}
		switch w.r.IntN(4) {
		case 0:
		case 1:
			m.Method = &gatewayv1.GRPCMethodMatch{Service: ptr(w.pick(worldServices))}
		case 2:
			m.Method = &gatewayv1.GRPCMethodMatch{Service: ptr(w.pick(worldServices)), Method: ptr("Get")}
		default:
			m.Method = &gatewayv1.GRPCMethodMatch{Type: ptr(gatewayv1.GRPCMethodMatchRegularExpression), Method: ptr("G.*")}
		}
		if w.r.IntN(3) == 0 {
			m.Headers = []gatewayv1.GRPCHeaderMatch{{Name: "X-Version", Value: "2"}}
		}
		rule := gatewayv1.GRPCRouteRule{Matches: []gatewayv1.GRPCRouteMatch{m}}
		ref := gatewayv1.GRPCBackendRef{BackendRef: gatewayv1.BackendRef{BackendObjectReference: gatewayv1.BackendObjectReference{
			Name: gatewayv1.ObjectName(w.pick(worldSvcs)), Port: ptr(gatewayv1.PortNumber(80))}}}
		if w.r.IntN(5) == 0 {
			ref.Namespace = ptr(gatewayv1.Namespace("other"))
		}
		rule.BackendRefs = []gatewayv1.GRPCBackendRef{ref}
		gr.Spec.Rules = append(gr.Spec.Rules, rule)
	}
}

// edit makes one random change and says what it was.
func (w *world) edit() string {
	switch w.r.IntN(20) {
	case 15, 16, 17, 18, 19:
		return w.tweakRoute(w.routes[w.r.IntN(len(w.routes))])
	case 0:
		w.addRoute()
		return "add a route"
	case 1:
		if len(w.routes) > 1 {
			i := w.r.IntN(len(w.routes))
			w.routes = append(w.routes[:i], w.routes[i+1:]...)
			return "remove a route"
		}
	case 2, 3:
		w.fillRoute(w.routes[w.r.IntN(len(w.routes))])
		return "change a route"
	case 4:
		w.r.Shuffle(len(w.routes), func(i, j int) { w.routes[i], w.routes[j] = w.routes[j], w.routes[i] })
		return "reorder the routes"
	case 5:
		if len(w.gateways) > 0 {
			gw := w.gateways[w.r.IntN(len(w.gateways))]
			l := &gw.Spec.Listeners[w.r.IntN(len(gw.Spec.Listeners))]
			l.Hostname = nil
			if h := w.pick(worldListen); h != "" {
				l.Hostname = ptr(gatewayv1.Hostname(h))
			}
			return "change a listener hostname"
		}
	case 6:
		if len(w.grants) == 0 {
			w.grants = append(w.grants, &gatewayv1.ReferenceGrant{
				ObjectMeta: metav1.ObjectMeta{Namespace: "other", Name: "g"},
				Spec: gatewayv1.ReferenceGrantSpec{
					From: []gatewayv1.ReferenceGrantFrom{{Group: gatewayv1.GroupName, Kind: "HTTPRoute", Namespace: "default"}},
					To:   []gatewayv1.ReferenceGrantTo{{Kind: "Service"}},
				}})
			return "add a grant"
		}
		w.grants = nil
		return "remove the grant"
	case 7:
		s := w.pick(worldSvcs)
		w.backends[s] = w.newBackend(s)
		return "resolve a Service to a new backend"
	case 8:
		w.notes[0].Text = fmt.Sprintf("note %d", w.r.IntN(3))
		return "change the extension object"
	case 9:
		n := w.ns[w.r.IntN(len(w.ns))]
		n.Labels = map[string]string{"team": w.pick(worldNS)}
		return "relabel a namespace"
	case 14:
		switch {
		case w.r.IntN(3) == 0:
			w.addGRPCRoute()
			return "add a GRPCRoute"
		case len(w.grpc) > 1 && w.r.IntN(2) == 0:
			w.grpc = w.grpc[1:]
			return "remove a GRPCRoute"
		case len(w.grpc) > 0:
			w.fillGRPCRoute(w.grpc[w.r.IntN(len(w.grpc))])
			return "change a GRPCRoute"
		}
	case 10:
		if len(w.gateways) < 4 && w.r.IntN(2) == 0 {
			w.addGateway()
			return "add a Gateway"
		}
		if len(w.gateways) > 0 {
			w.gateways = w.gateways[1:]
			return "remove a Gateway"
		}
	case 11:
		if len(w.sets) < 4 && w.r.IntN(2) == 0 {
			w.addListenerSet()
			return "add a ListenerSet"
		}
		if len(w.sets) > 0 {
			w.sets = w.sets[1:]
			return "remove a ListenerSet"
		}
	case 12:
		if len(w.sets) > 0 {
			ls := w.sets[w.r.IntN(len(w.sets))]
			w.setEntryHostname(&ls.Spec.Listeners[w.r.IntN(len(ls.Spec.Listeners))])
			return "change a ListenerSet listener hostname"
		}
	case 13:
		if len(w.gateways) > 0 {
			w.allowListenerSets(w.gateways[w.r.IntN(len(w.gateways))])
			return "change a Gateway's allowedListeners"
		}
	}
	return "nothing"
}

// config returns fresh copies of the world's objects.
func (w *world) config() httproute.Config {
	cfg := httproute.Config{
		Services: httproute.ServiceResolverFunc(func(ref httproute.BackendRef) (httproute.Backend, error) {
			if b, ok := w.backends[ref.Name]; ok {
				return b, nil
			}
			return nil, fmt.Errorf("service %s: %w", ref.Name, httproute.ErrNotFound)
		}),
		Extensions: noteExtensions,
		Now:        fixedNow,
	}
	for _, g := range w.gateways {
		cfg.Gateways = append(cfg.Gateways, g.DeepCopy())
	}
	for _, r := range w.routes {
		cfg.HTTPRoutes = append(cfg.HTTPRoutes, r.DeepCopy())
	}
	for _, r := range w.grpc {
		cfg.GRPCRoutes = append(cfg.GRPCRoutes, r.DeepCopy())
	}
	for _, ls := range w.sets {
		cfg.ListenerSets = append(cfg.ListenerSets, ls.DeepCopy())
	}
	for _, g := range w.grants {
		cfg.ReferenceGrants = append(cfg.ReferenceGrants, g.DeepCopy())
	}
	for _, n := range w.ns {
		cfg.Namespaces = append(cfg.Namespaces, n.DeepCopy())
	}
	for _, n := range w.notes {
		cfg.Objects = append(cfg.Objects, n.DeepCopyObject().(*note))
	}
	return cfg
}

// noteExtensions is shared by every Config, as a host registers its
// extensions once.
var noteExtensions = []httproute.Extension{noteExtension()}

func fixedNow() time.Time { return time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC) }

// requests are the requests both Routers are asked about.
func (w *world) requests() []*http.Request {
	var out []*http.Request
	hosts := []string{"a.example.com", "x.example.com", "b.example.com", "y.b.example.com", "other.test", "c.example.com", "z.c.example.com"}
	for _, h := range hosts {
		for _, p := range append(append([]string{}, worldPaths...), "/api/v1/42", "/shop/1", "/nothing") {
			req := httptest.NewRequest("GET", "http://"+h+p, nil)
			out = append(out, req)
			v2 := req.Clone(req.Context())
			v2.Header.Set("X-Version", "2")
			out = append(out, v2)
		}
		for _, p := range []string{"/pkg.Echo/Get", "/pkg.Other/Get", "/pkg.Echo/Put"} {
			req := httptest.NewRequest("POST", "http://"+h+p, nil)
			req.Header.Set("Content-Type", "application/grpc")
			out = append(out, req)
			v2 := req.Clone(req.Context())
			v2.Header.Set("X-Version", "2")
			out = append(out, v2)
		}
	}
	return out
}

// observe is what a Router says about the world: every lookup, every
// answer, and its status without transition times.
func observe(t *testing.T, rt *httproute.Router, w *world) string {
	t.Helper()
	var b strings.Builder
	views := []func(*http.Request) (httproute.Match, bool){rt.Lookup}
	names := []string{"router"}
	for _, g := range w.gateways {
		views = append(views, rt.Gateway(g.Namespace, g.Name).Lookup)
		names = append(names, g.Name)
	}
	for _, req := range w.requests() {
		for i, lookup := range views {
			m, ok := lookup(req)
			fmt.Fprintf(&b, "%s %s%s v2=%v: ", names[i], req.Host, req.URL.Path, req.Header.Get("X-Version") != "")
			if !ok {
				b.WriteString("no match\n")
				continue
			}
			fmt.Fprintf(&b, "%s/%s rule %d match %d host %q listener %s/%s/%s %s %s %v;", m.Route.Namespace, m.Route.Name, m.Rule,
				m.MatchIndex, m.Hostname, m.Gateway, m.ListenerSet, m.Listener, m.PathType, m.PathValue, m.GRPC)
			for _, bc := range m.Backends {
				fmt.Fprintf(&b, " %s w%d err=%v", bc.Ref.String(), bc.Weight, bc.Err)
			}
			b.WriteString("\n")
		}
		rec := httptest.NewRecorder()
		rt.ServeHTTP(rec, req)
		fmt.Fprintf(&b, "  answer %d %q\n", rec.Code, rec.Body.String())
	}
	st := rt.Status()
	var keys []string
	for nn, s := range st.HTTPRoutes {
		keys = append(keys, fmt.Sprintf("route %s %s", nn, conditions(s.Parents)))
	}
	for nn, s := range st.GRPCRoutes {
		keys = append(keys, fmt.Sprintf("grpcroute %s %s", nn, conditions(s.Parents)))
	}
	for nn, s := range st.Gateways {
		line := fmt.Sprintf("gateway %s %s", nn, conds(s.Conditions))
		for _, l := range s.Listeners {
			line += fmt.Sprintf(" [%s attached=%d %s]", l.Name, l.AttachedRoutes, conds(l.Conditions))
		}
		if s.AttachedListenerSets != nil {
			line += fmt.Sprintf(" sets=%d", *s.AttachedListenerSets)
		}
		keys = append(keys, line)
	}
	for nn, s := range st.ListenerSets {
		line := fmt.Sprintf("listenerset %s %s", nn, conds(s.Conditions))
		for _, l := range s.Listeners {
			line += fmt.Sprintf(" [%s attached=%d %s]", l.Name, l.AttachedRoutes, conds(l.Conditions))
		}
		keys = append(keys, line)
	}
	sort.Strings(keys)
	b.WriteString(strings.Join(keys, "\n"))
	return b.String()
}

func conditions(ps []gatewayv1.RouteParentStatus) string {
	var parts []string
	for _, p := range ps {
		parts = append(parts, fmt.Sprintf("{%s %s}", p.ParentRef.Name, conds(p.Conditions)))
	}
	return strings.Join(parts, " ")
}

func conds(cs []metav1.Condition) string {
	var parts []string
	for _, c := range cs {
		parts = append(parts, fmt.Sprintf("%s=%s/%s/%q/g%d", c.Type, c.Status, c.Reason, c.Message, c.ObservedGeneration))
	}
	return strings.Join(parts, ",")
}

// TestIncrementalUpdateMatchesFullCompile applies random edit sequences
// to a Router through Update and compares it, after every edit, with a
// Router built from scratch: the same matches, answers and statuses.
func TestIncrementalUpdateMatchesFullCompile(t *testing.T) {
	steps := 0
	for seed := uint64(1); seed <= 25; seed++ {
		w := newWorld(seed)
		rt, err := httproute.New(w.config())
		if err != nil {
			t.Fatal(err)
		}
		var history []string
		for step := 0; step < 30; step++ {
			history = append(history, w.edit())
			if err := rt.Update(w.config()); err != nil {
				t.Fatalf("seed %d step %d: %v", seed, step, err)
			}
			fresh, err := httproute.New(w.config())
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(observe(t, fresh, w), observe(t, rt, w)); diff != "" {
				t.Fatalf("seed %d after %s: incremental Update differs from a full compile (-full +incremental):\n%s",
					seed, strings.Join(history, ", "), diff)
			}
			steps++
		}
	}
	t.Logf("%d edits compared", steps)
}

// TestUnchangedStatusKeepsTimesAcrossUpdates checks that an Update with
// equal objects leaves every condition as it was, times included.
func TestUnchangedStatusKeepsTimesAcrossUpdates(t *testing.T) {
	w := newWorld(99)
	cfg := w.config()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	cfg.Now = clock
	rt, err := httproute.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	before := rt.Status()
	now = now.Add(time.Hour)
	cfg = w.config()
	cfg.Now = clock
	if err := rt.Update(cfg); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(before, rt.Status()); diff != "" {
		t.Errorf("status changed by an Update with equal objects (-before +after):\n%s", diff)
	}
}

// TestIncrementalUpdateManyRoutes edits Configs large enough that Update
// compares their routes on two goroutines, at the edges of the parts each
// compares (with 5,000 routes: routes 0-2559 and 2560-4999) and across
// them (a route moved from one part to the other): lookups and statuses
// come out as a full compile's.
func TestIncrementalUpdateManyRoutes(t *testing.T) {
	defer goruntime.GOMAXPROCS(goruntime.GOMAXPROCS(2))
	const n = 5000
	paths := make([]string, n)
	routes := func() []*gatewayv1.HTTPRoute {
		prefix := gatewayv1.PathMatchPathPrefix
		out := make([]*gatewayv1.HTTPRoute, n)
		for i := range out {
			out[i] = &gatewayv1.HTTPRoute{
				ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: fmt.Sprintf("r%d", i)},
				Spec: gatewayv1.HTTPRouteSpec{
					Hostnames: []gatewayv1.Hostname{gatewayv1.Hostname(fmt.Sprintf("h%d.example.com", i%50))},
					Rules: []gatewayv1.HTTPRouteRule{{
						Matches: []gatewayv1.HTTPRouteMatch{{Path: &gatewayv1.HTTPPathMatch{Type: &prefix, Value: ptr(paths[i])}}},
						BackendRefs: []gatewayv1.HTTPBackendRef{{BackendRef: gatewayv1.BackendRef{BackendObjectReference: gatewayv1.BackendObjectReference{
							Name: "svc", Port: ptr(gatewayv1.PortNumber(80))}}}},
					}},
				},
			}
		}
		return out
	}
	backend := httproute.Handler(http.NotFoundHandler()) // one value: routes are reused
	cfg := func(rs []*gatewayv1.HTTPRoute) httproute.Config {
		return httproute.Config{HTTPRoutes: rs, Services: httproute.ServiceResolverFunc(func(httproute.BackendRef) (httproute.Backend, error) {
			return backend, nil
		})}
	}
	for i := range paths {
		paths[i] = fmt.Sprintf("/p%d", i)
	}
	rt, err := httproute.New(cfg(routes()))
	if err != nil {
		t.Fatal(err)
	}
	observeAll := func(rt *httproute.Router, rs []*gatewayv1.HTTPRoute) string {
		var b strings.Builder
		for i := range n {
			req := httptest.NewRequest("GET", fmt.Sprintf("http://h%d.example.com/p%d/x", i%50, i), nil)
			m, ok := rt.Lookup(req)
			fmt.Fprintf(&b, "%d %v %s %s\n", i, ok, m.Route.Name, m.PathValue)
		}
		st := rt.Status()
		for _, r := range rs {
			fmt.Fprintf(&b, "%s %s\n", r.Name, conditions(st.HTTPRoutes[types.NamespacedName{Namespace: r.Namespace, Name: r.Name}].Parents))
		}
		return b.String()
	}
	for _, edit := range []struct {
		name    string
		changed []int // the routes given a new path
		swap    [2]int
	}{
		{name: "change the routes at the edges of the parts", changed: []int{0, 63, 64, 2559, 2560, 2561, n - 1}},
		{name: "move a route from the second part to the first", swap: [2]int{10, 3000}},
		{name: "change nothing"},
	} {
		for _, i := range edit.changed {
			paths[i] = fmt.Sprintf("/edited%d", i)
		}
		rs := routes()
		rs[edit.swap[0]], rs[edit.swap[1]] = rs[edit.swap[1]], rs[edit.swap[0]]
		if err := rt.Update(cfg(rs)); err != nil {
			t.Fatal(err)
		}
		full, err := httproute.New(cfg(rs))
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(observeAll(full, rs), observeAll(rt, rs)); diff != "" {
			t.Fatalf("%s: incremental Update differs from a full compile (-full +incremental):\n%s", edit.name, diff)
		}
	}
}
