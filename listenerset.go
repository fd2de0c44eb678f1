package httproute

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
)

// ListenerSets (GEP-1713, Gateway API v1.7).
//
// A ListenerSet contributes listeners to its parent Gateway when the
// Gateway's spec.allowedListeners admits the ListenerSet's namespace
// (Same, All, Selector; the default, None, admits none) and the Gateway
// is Accepted. The Gateway then has one merged list of listeners, in the
// GEP's precedence: its own first, then its ListenerSets' from the oldest
// ListenerSet (creationTimestamp), then by "{namespace}/{name}", each
// ListenerSet's in spec order. A listener that conflicts with one before
// it in that list loses: a different protocol on the same port
// (ProtocolConflict), or the same protocol, port and hostname
// (HostnameConflict). The loser reports Accepted, Programmed False and
// Conflicted True with that reason and serves nothing; the message names
// no other object, so that a ListenerSet learns nothing of its siblings.
// Conflicts among a Gateway's own listeners are reported as before, on
// both of them.
//
// Listener names need only be unique within their object: the Router
// keeps each listener's Gateway, ListenerSet and name, and Match reports
// all three (Match.ListenerSet is zero for the Gateway's own). A route
// attaches to a ListenerSet's listeners only through a parentRef of kind
// ListenerSet, whose sectionName and port select among them; a parentRef
// to the Gateway attaches to the Gateway's own listeners only. Within a
// ListenerSet, allowedRoutes' Same is the ListenerSet's namespace, and
// certificateRefs and listener filters are resolved as the ListenerSet's
// references: a ReferenceGrant from the Gateway does not cover them, nor
// one from ListenerSets the Gateway's.
//
// Status: a ListenerSet whose Gateway does not admit it is Accepted and
// Programmed False with reason NotAllowed; one whose Gateway is not
// Accepted (or not found) with ParentNotAccepted; otherwise each listener
// has its conditions and attached-route count, and the ListenerSet is
// Accepted and Programmed when at least one of them serves, False with
// ListenersNotValid when none does. The Gateway's status counts its
// Accepted ListenerSets in attachedListenerSets (written when a
// ListenerSet names the Gateway or the Gateway sets allowedListeners);
// its own conditions reflect its own listeners only. A ListenerSet whose
// parent is a Gateway of another class, or not a Gateway, is not the
// Router's and has no status.

// compiledListenerSet is one ListenerSet whose parent the Router serves
// (or cannot find).
type compiledListenerSet struct {
	obj     *gatewayv1.ListenerSet
	nn      types.NamespacedName
	gateway types.NamespacedName
	// refused is why the Gateway does not take the set's listeners
	// (reason NotAllowed or ParentNotAccepted); the zero value when it
	// does.
	refused listenerProblem
	// listeners are the set's listeners in spec order, compiled when the
	// Gateway takes them.
	listeners []*listener
}

// accepted reports whether the set is Accepted: its Gateway takes its
// listeners and at least one of them serves.
func (s *compiledListenerSet) accepted() bool {
	return s.refused.reason == "" && slices.ContainsFunc(s.listeners, func(l *listener) bool { return l.ready })
}

// listenerSets are the ListenerSets of a compile.
type listenerSets struct {
	// byName holds the sets the Router reports on; list holds them in
	// precedence order.
	byName map[types.NamespacedName]*compiledListenerSet
	list   []*compiledListenerSet
	// others are the sets whose parent is not the Router's (a Gateway
	// of another class, another kind): parentRefs to them are ignored.
	others map[types.NamespacedName]bool
}

// compileListenerSets compiles the Config's ListenerSets against the
// served Gateways, whose own listeners are own: each set's listeners
// join their Gateway's merged list, where the conflicts are marked.
func (c *compiler) compileListenerSets(gateways []*gatewayv1.Gateway, own map[types.NamespacedName][]*listener) *listenerSets {
	out := &listenerSets{byName: map[types.NamespacedName]*compiledListenerSet{}, others: map[types.NamespacedName]bool{}}
	if len(c.cfg.ListenerSets) == 0 {
		return out
	}
	served := make(map[types.NamespacedName]*gatewayv1.Gateway, len(gateways))
	for _, gw := range gateways {
		served[types.NamespacedName{Namespace: gw.Namespace, Name: gw.Name}] = gw
	}
	for _, obj := range c.cfg.ListenerSets {
		nn := types.NamespacedName{Namespace: obj.Namespace, Name: obj.Name}
		pr := obj.Spec.ParentRef
		if (pr.Group != nil && *pr.Group != gatewayv1.GroupName) || (pr.Kind != nil && *pr.Kind != "Gateway") {
			out.others[nn] = true
			continue
		}
		parent := types.NamespacedName{Namespace: obj.Namespace, Name: string(pr.Name)}
		if pr.Namespace != nil {
			parent.Namespace = string(*pr.Namespace)
		}
		s := &compiledListenerSet{obj: obj, nn: nn, gateway: parent}
		if served[parent] == nil {
			if c.gatewayNames[parent] {
				out.others[nn] = true // a Gateway of another class
				continue
			}
			s.refused = listenerProblem{reason: string(gatewayv1.ListenerSetReasonParentNotAccepted),
				msg: fmt.Sprintf("gateway %s not found", parent)}
		}
		out.byName[nn] = s
		out.list = append(out.list, s)
	}
	slices.SortFunc(out.list, func(a, b *compiledListenerSet) int {
		return cmp.Or(a.obj.CreationTimestamp.Time.Compare(b.obj.CreationTimestamp.Time),
			cmp.Compare(a.nn.Namespace, b.nn.Namespace), cmp.Compare(a.nn.Name, b.nn.Name))
	})

	// merged is each Gateway's merged list so far.
	merged := make(map[types.NamespacedName][]*listener, len(own))
	for _, s := range out.list {
		gw := served[s.gateway]
		if gw != nil && s.refused.reason == "" {
			if ok, msg := c.allowsListenerSet(gw, s.nn.Namespace); !ok {
				s.refused = listenerProblem{reason: string(gatewayv1.ListenerSetReasonNotAllowed), msg: msg}
			} else if !gatewayAccepted(own[s.gateway]) {
				s.refused = listenerProblem{reason: string(gatewayv1.ListenerSetReasonParentNotAccepted),
					msg: fmt.Sprintf("gateway %s is not accepted", s.gateway)}
			}
		}
		if s.refused.reason != "" {
			c.warn("ListenerSet", s.nn.Namespace, s.nn.Name, s.refused.msg)
			continue
		}
		o := listenerOwner{kind: "ListenerSet", namespace: s.nn.Namespace, name: s.nn.Name, generation: s.obj.Generation, gateway: gw}
		entries := make([]gatewayv1.Listener, len(s.obj.Spec.Listeners))
		for i, e := range s.obj.Spec.Listeners {
			entries[i] = gatewayv1.Listener(e)
		}
		s.listeners = c.compileListenerList(o, entries)
		list, ok := merged[s.gateway]
		if !ok {
			list = own[s.gateway]
		}
		for _, l := range s.listeners {
			c.markMergedConflict(list, l)
			list = append(list, l)
		}
		merged[s.gateway] = list
	}
	return out
}

// allowsListenerSet reports whether gw's allowedListeners admits
// ListenerSets of namespace ns, and if not why.
func (c *compiler) allowsListenerSet(gw *gatewayv1.Gateway, ns string) (bool, string) {
	from := gatewayv1.NamespacesFromNone
	var sel *metav1.LabelSelector
	if al := gw.Spec.AllowedListeners; al != nil && al.Namespaces != nil {
		if al.Namespaces.From != nil {
			from = *al.Namespaces.From
		}
		sel = al.Namespaces.Selector
	}
	refuse := fmt.Sprintf("gateway %s/%s does not allow ListenerSets from namespace %s (allowedListeners.namespaces.from: %s)", gw.Namespace, gw.Name, ns, from)
	switch from {
	case gatewayv1.NamespacesFromAll:
		return true, ""
	case gatewayv1.NamespacesFromSame:
		return ns == gw.Namespace, refuse
	case gatewayv1.NamespacesFromSelector:
		if sel == nil {
			return false, refuse + ": allowedListeners.namespaces.selector is not set"
		}
		s, err := metav1.LabelSelectorAsSelector(sel)
		if err != nil {
			return false, refuse + ": allowedListeners.namespaces.selector: " + err.Error()
		}
		return s.Matches(labels.Set(c.nsLabels[ns])), refuse
	case gatewayv1.NamespacesFromNone:
		return false, refuse
	default:
		return false, refuse + ": unsupported value"
	}
}

// markMergedConflict marks l, a ListenerSet's listener, Conflicted when
// a listener before it in its Gateway's merged list (before) holds its
// port with another protocol, or its port, protocol and hostname.
// Listeners that lost a conflict themselves hold nothing.
func (c *compiler) markMergedConflict(before []*listener, l *listener) {
	for _, w := range before {
		if w.conflicted || w.port != l.port {
			continue
		}
		var reason, msg string
		switch {
		case w.protocol != l.protocol:
			reason = string(gatewayv1.ListenerReasonProtocolConflict)
			msg = fmt.Sprintf("port %d is taken with protocol %s by a listener of higher precedence (the Gateway's, or an older ListenerSet's)", l.port, w.protocol)
		case w.hostname == l.hostname:
			reason = string(gatewayv1.ListenerReasonHostnameConflict)
			host := l.hostname
			if host == "" {
				host = "(any)"
			}
			msg = fmt.Sprintf("hostname %s on port %d is taken by a listener of higher precedence (the Gateway's, or an older ListenerSet's)", host, l.port)
		default:
			continue
		}
		l.accepted, l.ready, l.conflicted = false, false, true
		for i := range l.conditions {
			cond := &l.conditions[i]
			switch cond.Type {
			case string(gatewayv1.ListenerConditionAccepted), string(gatewayv1.ListenerConditionProgrammed):
				cond.Status, cond.Reason, cond.Message = metav1.ConditionFalse, reason, msg
			case string(gatewayv1.ListenerConditionConflicted):
				cond.Status, cond.Reason, cond.Message = metav1.ConditionTrue, reason, msg
			}
		}
		c.warn("ListenerSet", l.set.Namespace, l.set.Name, fmt.Sprintf("listener %q: %s", l.name, msg))
		return
	}
}

// listeners returns the listeners of the sets the Gateways take, for
// the index.
func (s *listenerSets) listeners() []*listener {
	var out []*listener
	for _, set := range s.list {
		if set.refused.reason == "" {
			out = append(out, set.listeners...)
		}
	}
	return out
}

// status assembles the status of the sets once routes are attached, and
// counts the Accepted ones of each Gateway that has sets or declares
// allowedListeners (attachedListenerSets).
func (s *listenerSets) status(c *compiler, gateways []*gatewayv1.Gateway) (map[types.NamespacedName]gatewayv1.ListenerSetStatus, map[types.NamespacedName]int32) {
	attached := map[types.NamespacedName]int32{}
	for _, gw := range gateways {
		if gw.Spec.AllowedListeners != nil {
			attached[types.NamespacedName{Namespace: gw.Namespace, Name: gw.Name}] = 0
		}
	}
	if len(s.list) == 0 {
		return nil, attached
	}
	out := make(map[types.NamespacedName]gatewayv1.ListenerSetStatus, len(s.list))
	for _, set := range s.list {
		out[set.nn] = set.status(c)
		n := attached[set.gateway]
		if set.accepted() {
			n++
		}
		attached[set.gateway] = n
	}
	return out, attached
}

// status is the set's status.
func (s *compiledListenerSet) status(c *compiler) gatewayv1.ListenerSetStatus {
	gen := s.obj.Generation
	accepted := string(gatewayv1.ListenerSetConditionAccepted)
	programmed := string(gatewayv1.ListenerSetConditionProgrammed)
	if s.refused.reason != "" {
		return gatewayv1.ListenerSetStatus{Conditions: []metav1.Condition{
			condition(accepted, false, s.refused.reason, s.refused.msg, gen, c.now),
			condition(programmed, false, s.refused.reason, s.refused.msg, gen, c.now),
		}}
	}
	st := gatewayv1.ListenerSetStatus{Listeners: make([]gatewayv1.ListenerEntryStatus, 0, len(s.listeners))}
	var invalid []string
	for _, l := range s.listeners {
		st.Listeners = append(st.Listeners, gatewayv1.ListenerEntryStatus(l.status()))
		if !l.ready {
			invalid = append(invalid, string(l.name))
		}
	}
	msg := ""
	if len(invalid) > 0 {
		msg = fmt.Sprintf("listeners not valid: %s", strings.Join(invalid, ", "))
	}
	if s.accepted() {
		st.Conditions = []metav1.Condition{
			condition(accepted, true, string(gatewayv1.ListenerSetReasonAccepted), msg, gen, c.now),
			condition(programmed, true, string(gatewayv1.ListenerSetReasonProgrammed), msg, gen, c.now),
		}
		return st
	}
	notValid := string(gatewayv1.ListenerSetReasonListenersNotValid)
	st.Conditions = []metav1.Condition{
		condition(accepted, false, notValid, msg, gen, c.now),
		condition(programmed, false, notValid, msg, gen, c.now),
	}
	return st
}

// listenerSetParent returns the listeners a route's parentRef i to the
// ListenerSet nn selects from; skip when the set is not the Router's,
// or else an outcome when the route cannot attach to it at all.
func (c *compiler) listenerSetParent(i int, nn types.NamespacedName) (ls []*listener, o *parentOutcome, skip bool) {
	s := c.sets.byName[nn]
	switch {
	case s == nil && c.sets.others[nn]:
		return nil, nil, true
	case s == nil:
		return nil, &parentOutcome{ref: i, reason: reasonNoMatchingParent, msg: fmt.Sprintf("listenerset %s not found", nn)}, false
	case s.refused.reason != "":
		return nil, &parentOutcome{ref: i, reason: reasonNotAllowedByListeners,
			msg: fmt.Sprintf("listenerset %s is not accepted: %s", nn, s.refused.msg)}, false
	default:
		return s.listeners, nil, false
	}
}

// gatewayPorts returns the ports each Gateway serves, from its listeners
// in the index (see GatewayRouter.Ports).
func gatewayPorts(listeners []*listener) map[types.NamespacedName][]ListenerPort {
	tlsByPort := map[types.NamespacedName]map[int32]bool{}
	for _, l := range listeners {
		switch {
		case l.implicit, l.set != (types.NamespacedName{}) && l.conflicted:
			continue
		case l.protocol == gatewayv1.HTTPProtocolType, l.protocol == gatewayv1.HTTPSProtocolType:
		default:
			continue // not served by the Router
		}
		ports := tlsByPort[l.gateway]
		if ports == nil {
			ports = map[int32]bool{}
			tlsByPort[l.gateway] = ports
		}
		ports[l.port] = ports[l.port] || l.protocol == gatewayv1.HTTPSProtocolType
	}
	out := make(map[types.NamespacedName][]ListenerPort, len(tlsByPort))
	for gw, ports := range tlsByPort {
		list := make([]ListenerPort, 0, len(ports))
		for p, tls := range ports {
			list = append(list, ListenerPort{Port: p, TLS: tls})
		}
		slices.SortFunc(list, func(a, b ListenerPort) int { return cmp.Compare(a.Port, b.Port) })
		out[gw] = list
	}
	return out
}
