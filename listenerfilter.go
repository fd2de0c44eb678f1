package httproute

import (
	"fmt"
	"net/http"
	"reflect"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation/field"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
)

// Pre-routing filters (GEP-5224, Gateway API v1.7, experimental).
//
// A listener's filters.requests run on every request the listener
// accepts, in list order, before route matching: ExternalAuth (an
// identity check whose allowed response headers routes can match on) and
// ExtensionRef (any Filter of a registered extension kind). A filter that
// answers (a denied check) ends the request: no later filter runs and no
// route is matched. Route matching then runs once, on the request as the
// filters left it, except its Host: a filter cannot change which listener
// serves a request, so a Host it sets is ignored. A filter whose reference
// does not resolve makes the listener fail closed: its requests answer
// 500 and the listener reports ResolvedRefs False with reason
// InvalidListenerFilterRef (RefNotPermitted for a reference to another
// namespace that no ReferenceGrant allows).
//
// When listeners of several Gateways share a port and hostname, the
// Router's combined view (Router.ServeHTTP, Router.Port) serves them as
// one: every distinct filter list among them runs, in Gateway order, so
// that no Gateway's checks are skipped. Router.Gateway serves each
// Gateway's listeners with their own filters only.

// Listener condition reasons of GEP-5224.
const (
	reasonInvalidListenerFilter    = "InvalidListenerFilter"
	reasonInvalidListenerFilterRef = "InvalidListenerFilterRef"
)

// compileListenerFilters compiles the pre-routing filters of listener i
// of o (a Gateway or a ListenerSet). It returns the filters and, when they
// cannot be served as written, the Accepted or ResolvedRefs problem to
// report (a non-zero listenerProblem).
func (c *compiler) compileListenerFilters(o listenerOwner, i int, ls *gatewayv1.Listener) (mws []middleware, accepted, resolved listenerProblem) {
	if ls.Filters == nil || len(ls.Filters.Requests) == 0 {
		return nil, listenerProblem{}, listenerProblem{}
	}
	path := field.NewPath("spec", "listeners").Index(i).Child("filters", "requests")
	switch ls.Protocol {
	case gatewayv1.HTTPProtocolType, gatewayv1.HTTPSProtocolType:
	default:
		return nil, listenerProblem{reason: reasonInvalidListenerFilter,
			msg: fmt.Sprintf("filters are only valid on HTTP and HTTPS listeners, not %s", ls.Protocol)}, listenerProblem{}
	}
	// The filters compile as a rule's would, with the Gateway (or the
	// ListenerSet) as the object that references (its namespace, its
	// ReferenceGrants).
	owner := &compiledRoute{owner: o.kind, namespace: o.namespace, name: o.name, key: o.namespace + "/" + o.name}
	ru := &rule{route: owner}
	rc := &ruleCompiler{c: c, route: owner, rule: ru, spec: &gatewayv1.HTTPRouteRule{}, path: path}
	for j := range ls.Filters.Requests {
		f := &ls.Filters.Requests[j]
		fp := path.Index(j)
		var mw middleware
		var err *Error
		switch f.Type {
		case gatewayv1.ListenerFilterExternalAuth:
			if f.ExternalAuth == nil || f.ExtensionRef != nil {
				return nil, listenerProblem{reason: reasonInvalidListenerFilter,
					msg: fmt.Sprintf("filters.requests[%d]: externalAuth must be set, and only it, for type ExternalAuth", j)}, listenerProblem{}
			}
			mw, err = rc.compileExtAuth(f.ExternalAuth, fp.Child("externalAuth"))
		case gatewayv1.ListenerFilterExtensionRef:
			if f.ExtensionRef == nil || f.ExternalAuth != nil {
				return nil, listenerProblem{reason: reasonInvalidListenerFilter,
					msg: fmt.Sprintf("filters.requests[%d]: extensionRef must be set, and only it, for type ExtensionRef", j)}, listenerProblem{}
			}
			mw = rc.extensionFilter(f.ExtensionRef, fp.Child("extensionRef"))
		default:
			return nil, listenerProblem{reason: string(gatewayv1.ListenerReasonUnsupportedValue),
				msg: fmt.Sprintf("filters.requests[%d]: unsupported filter type %q: supported values: %q, %q", j, f.Type,
					gatewayv1.ListenerFilterExternalAuth, gatewayv1.ListenerFilterExtensionRef)}, listenerProblem{}
		}
		if err != nil {
			return nil, listenerProblem{reason: reasonInvalidListenerFilter,
				msg: fmt.Sprintf("filters.requests[%d]: %s", j, err.Field.Error())}, listenerProblem{}
		}
		mws = append(mws, mw)
	}
	if len(ru.refErrs) > 0 {
		// The filters fail closed (their middleware answers 500); the
		// listener says which reference did not resolve.
		e := ru.refErrs[0]
		reason := reasonInvalidListenerFilterRef
		if e.Reason == reasonRefNotPermitted {
			reason = reasonRefNotPermitted
		}
		var msgs []string
		for _, e := range ru.refErrs {
			msgs = append(msgs, strings.TrimPrefix(e.Field.Error(), "spec.listeners["))
		}
		return mws, listenerProblem{}, listenerProblem{reason: reason, msg: "spec.listeners[" + strings.Join(msgs, "; spec.listeners[")}
	}
	return mws, listenerProblem{}, listenerProblem{}
}

// listenerProblem is a reason and message for a listener condition that
// is False; the zero value is no problem.
type listenerProblem struct {
	reason, msg string
}

// preRouting builds the pre-routing chain of a listener group, ending in
// the routing of the request within the group: every distinct filter list
// of the group's listeners (see the package comment above), nil when none
// has filters.
func (g *listenerGroup) preRouting(t *table) {
	var all []middleware
	var specs []*gatewayv1.ListenerFilters
	for _, l := range g.listeners {
		if len(l.pre) == 0 || slices.ContainsFunc(specs, func(s *gatewayv1.ListenerFilters) bool { return reflect.DeepEqual(s, l.filters) }) {
			continue
		}
		specs = append(specs, l.filters)
		all = append(all, l.pre...)
	}
	if len(all) == 0 {
		return
	}
	g.pre = chain(all, &groupRouter{t: t, g: g})
}

// groupRouter ends a pre-routing chain: it matches the request, as the
// filters left it, against the routes of the group.
type groupRouter struct {
	t *table
	g *listenerGroup
}

func (gr *groupRouter) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	st := stateFrom(r.Context())
	if st == nil || st.pre == nil {
		writeError(w, fmt.Errorf("%w: pre-routing filters lost the request's state", ErrInvalidRule))
		return
	}
	pre := st.pre
	if r.Host != pre.host {
		// Filters cannot move a request to another listener: the Host
		// the client sent stays.
		r2 := *r
		r2.Host = pre.host
		r = &r2
	}
	path := pre.path
	if ep := r.URL.EscapedPath(); ep != path {
		// A filter changed the path: it is matched (and forwarded) in its
		// normal form, as a client's would be.
		_, np, v := gr.t.paths.check(r.URL)
		if v != pathServe {
			v.answer(w, r, np)
			return
		}
		path = np
	}
	gr.t.matchIn(st, gr.g, w, r, false, pre.raw, pre.matchHost, path)
}

// preState is what the end of a pre-routing chain needs of the request
// as it arrived: its Host, that Host as matching sees it (requestHost),
// and its path.
type preState struct {
	host, matchHost string
	raw, path       string
}
