package httproute

import (
	"cmp"
	"slices"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
)

// GatewayClassStatus returns the status a controller serving gwc with a
// Router writes into it: the Accepted condition, true at gwc's generation
// with now as its transition time, and the features SupportedFeatures
// lists, sorted by name as the API requires. Merge the conditions into
// the class's current ones with MergeConditions so that transition times
// stay stable.
func GatewayClassStatus(gwc *gatewayv1.GatewayClass, now time.Time) gatewayv1.GatewayClassStatus {
	features := SupportedFeatures()
	supported := make([]gatewayv1.SupportedFeature, 0, len(features))
	for _, f := range features {
		supported = append(supported, gatewayv1.SupportedFeature{Name: gatewayv1.FeatureName(f)})
	}
	slices.SortFunc(supported, func(a, b gatewayv1.SupportedFeature) int {
		return cmp.Compare(a.Name, b.Name)
	})
	accepted := condition(string(gatewayv1.GatewayClassConditionStatusAccepted), true,
		string(gatewayv1.GatewayClassReasonAccepted), "handled by "+string(gwc.Spec.ControllerName),
		gwc.Generation, metav1.NewTime(now.Truncate(time.Second)))
	return gatewayv1.GatewayClassStatus{
		Conditions:        []metav1.Condition{accepted},
		SupportedFeatures: supported,
	}
}
