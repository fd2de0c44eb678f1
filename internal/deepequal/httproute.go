package deepequal

import (
	"slices"

	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
)

// HTTPRouteSpec reports whether two HTTPRoute specs are deeply equal, as
// reflect.DeepEqual would (a nil slice differs from an empty one). It is
// written out for the fields most routes use (parentRefs, hostnames,
// matches, backendRefs), which the compiler turns into direct loads and
// compares, and leaves the rarer parts (filters, timeouts, retry, session
// persistence) to the planned equality of For. It costs a fraction of
// For[gatewayv1.HTTPRouteSpec] on the routes an Update compares by the
// thousand.
//
// Every field of the spec types must be compared here: a field added to
// them by a Gateway API release fails TestHTTPRouteSpecEveryLeaf until
// it is.
func HTTPRouteSpec(a, b *gatewayv1.HTTPRouteSpec) bool {
	if a == b {
		return true
	}
	if a == nil || b == nil {
		return false
	}
	if a.UseDefaultGateways != b.UseDefaultGateways || !sameLen(a.ParentRefs, b.ParentRefs) ||
		!sameLen(a.Hostnames, b.Hostnames) || !sameLen(a.Rules, b.Rules) {
		return false
	}
	return slices.Equal(a.Hostnames, b.Hostnames) && each(a.ParentRefs, b.ParentRefs, parentRef) &&
		each(a.Rules, b.Rules, httpRouteRule)
}

// The rarer parts of a rule, planned once.
var (
	httpFilters        = For[[]gatewayv1.HTTPRouteFilter]()
	httpTimeouts       = For[gatewayv1.HTTPRouteTimeouts]()
	httpRetry          = For[gatewayv1.HTTPRouteRetry]()
	sessionPersistence = For[gatewayv1.SessionPersistence]()
)

func httpRouteRule(a, b *gatewayv1.HTTPRouteRule) bool {
	if !sameLen(a.Matches, b.Matches) || !sameLen(a.BackendRefs, b.BackendRefs) || !sameLen(a.Filters, b.Filters) ||
		!ptr(a.Name, b.Name) {
		return false
	}
	if !each(a.Matches, b.Matches, httpRouteMatch) || !each(a.BackendRefs, b.BackendRefs, httpBackendRef) {
		return false
	}
	// Most rules have none of these: both nil, told without a call.
	return (len(a.Filters) == 0 || httpFilters(&a.Filters, &b.Filters)) &&
		(a.Timeouts == b.Timeouts || httpTimeouts(a.Timeouts, b.Timeouts)) &&
		(a.Retry == b.Retry || httpRetry(a.Retry, b.Retry)) &&
		(a.SessionPersistence == b.SessionPersistence || sessionPersistence(a.SessionPersistence, b.SessionPersistence))
}

func httpRouteMatch(a, b *gatewayv1.HTTPRouteMatch) bool {
	if !sameLen(a.Headers, b.Headers) || !sameLen(a.QueryParams, b.QueryParams) || !ptr(a.Method, b.Method) {
		return false
	}
	if a.Path != b.Path {
		if a.Path == nil || b.Path == nil || !ptr(a.Path.Type, b.Path.Type) || !ptr(a.Path.Value, b.Path.Value) {
			return false
		}
	}
	for i := range a.Headers {
		x, y := &a.Headers[i], &b.Headers[i]
		if x.Name != y.Name || x.Value != y.Value || !ptr(x.Type, y.Type) {
			return false
		}
	}
	for i := range a.QueryParams {
		x, y := &a.QueryParams[i], &b.QueryParams[i]
		if x.Name != y.Name || x.Value != y.Value || !ptr(x.Type, y.Type) {
			return false
		}
	}
	return true
}

func httpBackendRef(a, b *gatewayv1.HTTPBackendRef) bool {
	return backendObjectReference(&a.BackendObjectReference, &b.BackendObjectReference) &&
		ptr(a.Weight, b.Weight) && sameLen(a.Filters, b.Filters) &&
		(len(a.Filters) == 0 || httpFilters(&a.Filters, &b.Filters))
}

func backendObjectReference(a, b *gatewayv1.BackendObjectReference) bool {
	return a.Name == b.Name && ptr(a.Port, b.Port) && ptr(a.Namespace, b.Namespace) &&
		ptr(a.Kind, b.Kind) && ptr(a.Group, b.Group)
}

func parentRef(a, b *gatewayv1.ParentReference) bool {
	return a.Name == b.Name && ptr(a.Namespace, b.Namespace) && ptr(a.SectionName, b.SectionName) &&
		ptr(a.Port, b.Port) && ptr(a.Kind, b.Kind) && ptr(a.Group, b.Group)
}

// each reports whether eq holds for the elements of a and b, pair by
// pair; the caller has checked that they have the same length.
func each[T any](a, b []T, eq func(x, y *T) bool) bool {
	for i := range a {
		if !eq(&a[i], &b[i]) {
			return false
		}
	}
	return true
}

// ptr reports whether two optional values are both absent or both
// present and equal.
func ptr[T comparable](a, b *T) bool {
	return a == b || (a != nil && b != nil && *a == *b)
}

// sameLen reports whether two slices have the same length and are both
// nil or both not, as reflect.DeepEqual tells them apart.
func sameLen[T any](a, b []T) bool {
	return len(a) == len(b) && (a == nil) == (b == nil)
}
