package httproute

import "sigs.k8s.io/gateway-api/pkg/features"

// SupportedFeatures returns the Gateway API conformance features this
// version of the Router implements. The in-process conformance run
// (conformance/) selects the upstream tests to run from this list, and the
// README's feature table is checked against the report it produces: a
// feature is listed here only when its conformance tests pass.
func SupportedFeatures() []features.FeatureName {
	return []features.FeatureName{
		features.SupportGateway,
		features.SupportGatewayPort8080,
		features.SupportGatewayHTTPListenerIsolation,
		features.SupportGatewayHTTPSListenerDetectMisdirectedRequests,
		features.SupportReferenceGrant,
		features.SupportHTTPRoute,
		features.SupportHTTPRouteQueryParamMatching,
		features.SupportHTTPRouteMethodMatching,
		features.SupportHTTPRouteResponseHeaderModification,
		features.SupportHTTPRouteBackendRequestHeaderModification,
		features.SupportHTTPRoutePortRedirect,
		features.SupportHTTPRouteSchemeRedirect,
		features.SupportHTTPRoutePathRedirect,
		features.SupportHTTPRouteHostRewrite,
		features.SupportHTTPRoutePathRewrite,
		features.SupportHTTPRoute303RedirectStatusCode,
		features.SupportHTTPRoute307RedirectStatusCode,
		features.SupportHTTPRoute308RedirectStatusCode,
		features.SupportHTTPRouteRequestTimeout,
		features.SupportHTTPRouteBackendTimeout,
		features.SupportHTTPRouteParentRefPort,
		features.SupportHTTPRouteDestinationPortMatching,
		features.SupportHTTPRouteBackendProtocolH2C,
		features.SupportHTTPRouteBackendProtocolWebSocket,
		features.SupportHTTPRouteNamedRouteRule,
		features.SupportHTTPRouteRequestMirror,
		features.SupportHTTPRouteRequestMultipleMirrors,
		features.SupportHTTPRouteCORS,
		features.SupportHTTPRouteRequestPercentageMirror,
		features.SupportHTTPRouteRetryCodes,
		features.SupportHTTPRouteBackendURLRewrite,
		features.SupportGatewayRouteHostnameIntersectionPrecedence,
		features.SupportGatewayListenerFilters,
		features.SupportHTTPRouteRetryConnectionError,
		features.SupportGRPCRoute,
		features.SupportGRPCRouteNamedRouteRule,
		features.SupportGRPCRouteRequestHeaderModifier,
		features.SupportListenerSet,
	}
}
