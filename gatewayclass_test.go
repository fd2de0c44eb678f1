package httproute

import (
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
)

func TestGatewayClassStatus(t *testing.T) {
	gwc := &gatewayv1.GatewayClass{
		ObjectMeta: metav1.ObjectMeta{Name: "c", Generation: 3},
		Spec:       gatewayv1.GatewayClassSpec{ControllerName: DefaultControllerName},
	}
	now := time.Date(2026, 1, 2, 3, 4, 5, 600, time.UTC)
	st := GatewayClassStatus(gwc, now)
	want := []metav1.Condition{{
		Type: "Accepted", Status: metav1.ConditionTrue, Reason: "Accepted",
		Message: "handled by github.com/httproute/httproute", ObservedGeneration: 3,
		LastTransitionTime: metav1.NewTime(now.Truncate(time.Second)),
	}}
	if diff := cmp.Diff(want, st.Conditions); diff != "" {
		t.Errorf("conditions (-want +got):\n%s", diff)
	}
	var names []string
	for _, f := range st.SupportedFeatures {
		names = append(names, string(f.Name))
	}
	if !slices.IsSorted(names) || len(names) != len(SupportedFeatures()) {
		t.Errorf("supported features %v: want the %d of SupportedFeatures, sorted", names, len(SupportedFeatures()))
	}
}
