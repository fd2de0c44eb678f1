package httproute

import (
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
)

func TestGrantsAllows(t *testing.T) {
	name := gatewayv1.ObjectName("svc-a")
	g := newGrants([]*gatewayv1.ReferenceGrant{{
		ObjectMeta: metav1.ObjectMeta{Namespace: "backends", Name: "allow-routes"},
		Spec: gatewayv1.ReferenceGrantSpec{
			From: []gatewayv1.ReferenceGrantFrom{{Group: gatewayv1.GroupName, Kind: "HTTPRoute", Namespace: "web"}},
			To:   []gatewayv1.ReferenceGrantTo{{Group: "", Kind: "Service", Name: &name}},
		},
	}, {
		ObjectMeta: metav1.ObjectMeta{Namespace: "backends", Name: "allow-all-services"},
		Spec: gatewayv1.ReferenceGrantSpec{
			From: []gatewayv1.ReferenceGrantFrom{{Group: gatewayv1.GroupName, Kind: "HTTPRoute", Namespace: "other"}},
			To:   []gatewayv1.ReferenceGrantTo{{Group: "", Kind: "Service"}},
		},
	}})
	tests := []struct {
		name                   string
		fromNS, toKind, toName string
		toNS                   string
		want                   bool
	}{
		{"same namespace needs no grant", "web", "Service", "x", "web", true},
		{"named grant", "web", "Service", "svc-a", "backends", true},
		{"named grant, other name", "web", "Service", "svc-b", "backends", false},
		{"grant without name covers all", "other", "Service", "svc-b", "backends", true},
		{"wrong kind", "other", "Secret", "svc-b", "backends", false},
		{"no grant from namespace", "third", "Service", "svc-a", "backends", false},
		{"no grant in namespace", "web", "Service", "svc-a", "elsewhere", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := g.allows(gatewayv1.GroupName, "HTTPRoute", tt.fromNS, "", tt.toKind, tt.toNS, tt.toName)
			if got != tt.want {
				t.Errorf("allows = %v, want %v", got, tt.want)
			}
		})
	}
}
