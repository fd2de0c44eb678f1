package httproute

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
)

// Status is what a Router reports about its Config, in the shape a Gateway
// API controller writes into the objects' status: per Gateway, its
// conditions and per-listener conditions and attached-route counts; per
// HTTPRoute, one RouteParentStatus per parentRef (Accepted, ResolvedRefs,
// PartiallyInvalid). Objects the Router does not serve (Gateways of another
// class, parentRefs to other kinds) have no entry.
type Status struct {
	Gateways   map[types.NamespacedName]gatewayv1.GatewayStatus
	HTTPRoutes map[types.NamespacedName]gatewayv1.HTTPRouteStatus
}

func (s Status) clone() Status {
	out := Status{
		Gateways:   make(map[types.NamespacedName]gatewayv1.GatewayStatus, len(s.Gateways)),
		HTTPRoutes: make(map[types.NamespacedName]gatewayv1.HTTPRouteStatus, len(s.HTTPRoutes)),
	}
	for k, v := range s.Gateways {
		out.Gateways[k] = *v.DeepCopy()
	}
	for k, v := range s.HTTPRoutes {
		out.HTTPRoutes[k] = *v.DeepCopy()
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
