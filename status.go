package httproute

import (
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
	xv1alpha1 "sigs.k8s.io/gateway-api/apisx/v1alpha1"
)

// Status is what a Router reports about its Config, in the shape a Gateway
// API controller writes into the objects' status: per Gateway, its
// conditions and per-listener conditions and attached-route counts; per
// HTTPRoute and GRPCRoute, one RouteParentStatus per parentRef (Accepted, ResolvedRefs,
// PartiallyInvalid). Objects the Router does not serve (Gateways of another
// class, parentRefs to other kinds) have no entry.
type Status struct {
	Gateways   map[types.NamespacedName]gatewayv1.GatewayStatus
	HTTPRoutes map[types.NamespacedName]gatewayv1.HTTPRouteStatus
	// GRPCRoutes has one entry per GRPCRoute of the Config, like
	// HTTPRoutes; nil when the Config has none.
	GRPCRoutes map[types.NamespacedName]gatewayv1.GRPCRouteStatus
	// XBackends has one entry per XBackend of the Config: an ancestor per
	// Gateway whose routes reference it, with its Accepted condition.
	XBackends map[types.NamespacedName]xv1alpha1.BackendStatus
	// BackendTLSPolicies has one entry per BackendTLSPolicy of the
	// Config: an ancestor per Gateway whose routes reference a Service it
	// targets, with its Accepted and ResolvedRefs conditions.
	BackendTLSPolicies map[types.NamespacedName]gatewayv1.PolicyStatus
	// XTelemetryPolicies has one entry per XTelemetryPolicy of the
	// Config: an ancestor per Gateway it targets, with its Accepted and
	// ResolvedRefs conditions.
	XTelemetryPolicies map[types.NamespacedName]xv1alpha1.TelemetryPolicyStatus
	// ListenerSets has one entry per ListenerSet of the Config whose
	// parent Gateway the Router serves or cannot find: its Accepted and
	// Programmed conditions and its listeners' (see listenerset.go).
	ListenerSets map[types.NamespacedName]gatewayv1.ListenerSetStatus
}

func (s Status) clone() Status {
	out := Status{
		Gateways:           cloneStatuses(s.Gateways),
		HTTPRoutes:         cloneStatuses(s.HTTPRoutes),
		GRPCRoutes:         cloneStatuses(s.GRPCRoutes),
		XBackends:          cloneStatuses(s.XBackends),
		BackendTLSPolicies: cloneStatuses(s.BackendTLSPolicies),
		ListenerSets:       cloneStatuses(s.ListenerSets),
		XTelemetryPolicies: cloneStatuses(s.XTelemetryPolicies),
	}
	// The Gateways and HTTPRoutes of a clone are never nil.
	if out.Gateways == nil {
		out.Gateways = map[types.NamespacedName]gatewayv1.GatewayStatus{}
	}
	if out.HTTPRoutes == nil {
		out.HTTPRoutes = map[types.NamespacedName]gatewayv1.HTTPRouteStatus{}
	}
	return out
}

// cloneStatuses deep-copies a map of statuses; nil stays nil.
func cloneStatuses[V any, P interface {
	*V
	DeepCopy() *V
}](m map[types.NamespacedName]V) map[types.NamespacedName]V {
	if m == nil {
		return nil
	}
	out := make(map[types.NamespacedName]V, len(m))
	for k, v := range m {
		out[k] = *P(&v).DeepCopy()
	}
	return out
}

// Condition reasons used by the Router, as strings.
const (
	reasonAccepted                   = string(gatewayv1.RouteReasonAccepted)
	reasonResolvedRefs               = string(gatewayv1.RouteReasonResolvedRefs)
	reasonNoMatchingParent           = string(gatewayv1.RouteReasonNoMatchingParent)
	reasonNotAllowedByListeners      = string(gatewayv1.RouteReasonNotAllowedByListeners)
	reasonNoMatchingListenerHostname = string(gatewayv1.RouteReasonNoMatchingListenerHostname)
	reasonUnsupportedValue           = string(gatewayv1.RouteReasonUnsupportedValue)
	reasonIncompatibleFilters        = string(gatewayv1.RouteReasonIncompatibleFilters)
	reasonBackendNotFound            = string(gatewayv1.RouteReasonBackendNotFound)
	reasonInvalidKind                = string(gatewayv1.RouteReasonInvalidKind)
	reasonRefNotPermitted            = string(gatewayv1.RouteReasonRefNotPermitted)
	reasonUnsupportedProtocol        = string(gatewayv1.RouteReasonUnsupportedProtocol)
)

// condition builds a metav1.Condition.
func condition(typ string, ok bool, reason, msg string, gen int64, now metav1.Time) metav1.Condition {
	st := metav1.ConditionFalse
	if ok {
		st = metav1.ConditionTrue
	}
	if msg == "" {
		msg = reason
	}
	return metav1.Condition{
		Type:               typ,
		Status:             st,
		Reason:             reason,
		Message:            msg,
		ObservedGeneration: gen,
		LastTransitionTime: now,
	}
}

// ownedConditionTypes are the condition types the Gateway API defines for
// Gateways, listeners and routes: the types a Gateway API controller is
// responsible for. Conditions of other types on an object belong to
// someone else and are kept as they are when status is written back.
var ownedConditionTypes = map[string]bool{
	"Accepted": true, "Programmed": true, "Ready": true, "ResolvedRefs": true,
	"AddressesAssigned": true, "Scheduled": true, "InsecureFrontendValidationMode": true,
	"Conflicted": true, "Detached": true, "OverlappingTLSConfig": true,
	"PartiallyInvalid": true, "SupportedVersion": true, "AttachedListenerSets": true,
}

// MergeConditions returns the conditions to write into an object's status
// that has cur and for which the Router computed next: next, in order,
// each keeping the LastTransitionTime it has in cur when its status did
// not change (as meta.SetStatusCondition does, so an unchanged status is
// not rewritten), followed by the conditions of cur whose type is not a
// Gateway API condition type (foreign conditions, kept unmodified).
func MergeConditions(cur, next []metav1.Condition) []metav1.Condition {
	out := make([]metav1.Condition, 0, len(next)+len(cur))
	for _, c := range next {
		for _, o := range cur {
			if o.Type == c.Type && o.Status == c.Status {
				c.LastTransitionTime = o.LastTransitionTime
			}
		}
		out = append(out, c)
	}
	for _, o := range cur {
		if !ownedConditionTypes[o.Type] && !hasCondition(next, o.Type) {
			out = append(out, o)
		}
	}
	return out
}

func hasCondition(cs []metav1.Condition, typ string) bool {
	for _, c := range cs {
		if c.Type == typ {
			return true
		}
	}
	return false
}

// MergeGatewayStatus returns the status to write into a Gateway whose
// status is cur, from the status the Router computed: conditions merged
// by MergeConditions at the Gateway and at each listener, so transition
// times are stable and foreign conditions survive.
func MergeGatewayStatus(cur, next gatewayv1.GatewayStatus) gatewayv1.GatewayStatus {
	out := *next.DeepCopy()
	out.Conditions = MergeConditions(cur.Conditions, out.Conditions)
	mergeListenerConditions(cur.Listeners, out.Listeners, func(l *gatewayv1.ListenerStatus) (gatewayv1.SectionName, *[]metav1.Condition) {
		return l.Name, &l.Conditions
	})
	return out
}

// MergeListenerSetStatus is MergeGatewayStatus for a ListenerSet: the
// status to write into a ListenerSet whose status is cur, from the one
// the Router computed, with conditions merged at the ListenerSet and at
// each of its listeners.
func MergeListenerSetStatus(cur, next gatewayv1.ListenerSetStatus) gatewayv1.ListenerSetStatus {
	out := *next.DeepCopy()
	out.Conditions = MergeConditions(cur.Conditions, out.Conditions)
	mergeListenerConditions(cur.Listeners, out.Listeners, func(l *gatewayv1.ListenerEntryStatus) (gatewayv1.SectionName, *[]metav1.Condition) {
		return l.Name, &l.Conditions
	})
	return out
}

// mergeListenerConditions merges the conditions of each listener of next
// with those of the listener of the same name in cur (MergeConditions);
// fields returns a listener's name and conditions.
func mergeListenerConditions[L any](cur, next []L, fields func(*L) (gatewayv1.SectionName, *[]metav1.Condition)) {
	for i := range next {
		name, conds := fields(&next[i])
		var old []metav1.Condition
		for j := range cur {
			if n, c := fields(&cur[j]); n == name {
				old = *c
			}
		}
		*conds = MergeConditions(old, *conds)
	}
}

// MergeRouteParents returns the parent statuses to write into a route
// whose status lists cur, from the ones the Router computed for
// controller: the entries of other controllers are kept unmodified, the
// Router's own are replaced by next, with stable transition times.
// Entries for the implicit listener of a Config without Gateways (an empty
// parentRef name) are left out: they name no object a cluster has.
func MergeRouteParents(cur, next []gatewayv1.RouteParentStatus, controller gatewayv1.GatewayController) []gatewayv1.RouteParentStatus {
	return mergeParents(cur, next, controller, false)
}

func mergeParents(cur, next []gatewayv1.RouteParentStatus, controller gatewayv1.GatewayController, keepImplicit bool) []gatewayv1.RouteParentStatus {
	return mergeEntries(cur, next, controller, func(ref gatewayv1.ParentReference) bool { return keepImplicit || ref.Name != "" },
		func(p *gatewayv1.RouteParentStatus) (gatewayv1.GatewayController, gatewayv1.ParentReference, *[]metav1.Condition) {
			return p.ControllerName, p.ParentRef, &p.Conditions
		})
}

// MergePolicyAncestors is MergeRouteParents for the ancestor entries of a
// policy (a BackendTLSPolicy): the entries to write into a policy whose
// status lists cur, from the ones the Router computed for controller.
// The result is never nil: the API requires the list.
func MergePolicyAncestors(cur, next []gatewayv1.PolicyAncestorStatus, controller gatewayv1.GatewayController) []gatewayv1.PolicyAncestorStatus {
	return mergeEntries(cur, next, controller, func(gatewayv1.ParentReference) bool { return true },
		func(a *gatewayv1.PolicyAncestorStatus) (gatewayv1.GatewayController, gatewayv1.ParentReference, *[]metav1.Condition) {
			return a.ControllerName, a.AncestorRef, &a.Conditions
		})
}

// statusEntry is a route parent or policy ancestor status entry.
type statusEntry[E any] interface {
	*E
	DeepCopy() *E
}

// mergeEntries returns the entries of one object's status, one a
// controller and parent or ancestor, to write where cur stands: next's
// that keep accepts, replacing controller's, each with the transition
// times of the cur entry of its controller and reference
// (MergeConditions), then cur's entries of other controllers, unmodified.
// fields returns an entry's controller, reference and conditions.
func mergeEntries[E any, P statusEntry[E]](cur, next []E, controller gatewayv1.GatewayController, keep func(gatewayv1.ParentReference) bool,
	fields func(P) (gatewayv1.GatewayController, gatewayv1.ParentReference, *[]metav1.Condition)) []E {
	out := make([]E, 0, len(cur)+len(next))
	for i := range next {
		if _, ref, _ := fields(&next[i]); !keep(ref) {
			continue
		}
		n := P(&next[i]).DeepCopy()
		nc, nref, nconds := fields(n)
		for j := range cur {
			if oc, oref, oconds := fields(&cur[j]); oc == nc && equality.Semantic.DeepEqual(oref, nref) {
				*nconds = MergeConditions(*oconds, *nconds)
			}
		}
		out = append(out, *n)
	}
	for j := range cur {
		if oc, _, _ := fields(&cur[j]); oc != controller {
			out = append(out, *P(&cur[j]).DeepCopy())
		}
	}
	return out
}

// keepTransitionTimes gives every condition of s whose type and status are
// the same in prev (the Router's previous status) the LastTransitionTime
// it had there, as meta.SetStatusCondition does, so that a status writer
// sees no change where nothing changed.
func (s *Status) keepTransitionTimes(prev Status, controller gatewayv1.GatewayController) {
	for nn, st := range s.Gateways {
		if old, ok := prev.Gateways[nn]; ok {
			s.Gateways[nn] = MergeGatewayStatus(old, st)
		}
	}
	for nn, st := range s.ListenerSets {
		if old, ok := prev.ListenerSets[nn]; ok {
			s.ListenerSets[nn] = MergeListenerSetStatus(old, st)
		}
	}
	// Route statuses keep their times when they are compiled (compile).
	for nn, st := range s.XTelemetryPolicies {
		keepAncestorTimes(st.Ancestors, prev.XTelemetryPolicies[nn].Ancestors,
			func(a *gatewayv1.PolicyAncestorStatus) (gatewayv1.ParentReference, *[]metav1.Condition) {
				return a.AncestorRef, &a.Conditions
			})
	}
	for nn, st := range s.BackendTLSPolicies {
		keepAncestorTimes(st.Ancestors, prev.BackendTLSPolicies[nn].Ancestors,
			func(a *gatewayv1.PolicyAncestorStatus) (gatewayv1.ParentReference, *[]metav1.Condition) {
				return a.AncestorRef, &a.Conditions
			})
	}
	for nn, st := range s.XBackends {
		keepAncestorTimes(st.Ancestors, prev.XBackends[nn].Ancestors,
			func(a *xv1alpha1.BackendAncestorStatus) (gatewayv1.ParentReference, *[]metav1.Condition) {
				return a.AncestorRef, &a.Conditions
			})
	}
}

// keepAncestorTimes merges the conditions of each ancestor of a policy's
// status with those the same ancestor had in prev (see MergeConditions);
// fields returns an ancestor's reference and conditions.
func keepAncestorTimes[A any](cur, prev []A, fields func(*A) (gatewayv1.ParentReference, *[]metav1.Condition)) {
	for i := range cur {
		ref, conds := fields(&cur[i])
		for j := range prev {
			if pref, pconds := fields(&prev[j]); equality.Semantic.DeepEqual(pref, ref) {
				*conds = MergeConditions(*pconds, *conds)
			}
		}
	}
}
